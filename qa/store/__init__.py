"""Where a built index lives, behind the one protocol retrieval needs: :class:`Store`.

Implementations:

* :class:`qa.store.folder.FolderStore` - the default: FAISS (flat, or HNSW from ``ann_from`` vectors on)
  and bm25s's numpy/JSON files in the index folder, memory-mapped.
* :class:`qa.store.postgres.PostgresStore` - PostgreSQL with pgvector: vectors in HNSW-indexed tables,
  BM25 postings over the same Vietnamese tokens in a table, every search run by the database.

Rows are numbered as in the index's ``chunks`` and ``sentences`` lists. Retrieval asks each retriever for
its own candidates (``nearest``, ``lexical_top``) and then scores only their union (``cosines``,
``lexical_scores``), so no call touches every row.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Literal, Protocol

from ..types import Rows, Scores, Vectors

Grain = Literal["chunks", "sentences"]
# the BM25 models of an index: folded syllables, pairs of them, pyvi word segments
LEXICAL_MODELS = ("syllables", "bigrams", "words")


class Store(Protocol):
    """Search over one published build of an index."""

    @property
    def name(self) -> str:
        """``folder`` or ``postgres``."""

    @property
    def concurrent(self) -> bool:
        """Whether its searches run elsewhere (a database server), so a question's independent searches
        are best issued side by side."""

    def nearest(self, kind: Grain, query: Vectors, k: int) -> Rows:
        """Rows of the (about, for an ANN index) ``k`` vectors nearest ``query``, shape ``(dim,)``."""

    def cosines(self, kind: Grain, rows: Rows, query: Vectors) -> Scores:
        """Inner product of ``query`` with the vectors of ``rows``, in that order."""

    def vectors_of(self, kind: Grain, rows: Rows) -> Vectors:
        """The stored vectors of ``rows``, in that order (an update reuses a changed article's)."""

    def lexical_top(self, model: str, tokens: list[str], k: int) -> Rows:
        """Chunk rows of the ``k`` best BM25 scores above zero for the query ``tokens`` (unordered)."""

    def lexical_scores(self, model: str, tokens: list[str], rows: Rows) -> Scores:
        """BM25 scores of ``rows`` for the query ``tokens`` (a repeated token counts again)."""

    def frequencies(self, model: str, tokens: list[str]) -> dict[str, int]:
        """How many chunks hold each of ``tokens`` (absent ones are left out)."""

    @property
    def size(self) -> int:
        """Chunk rows."""

    def check(self) -> None:
        """Raise :class:`qa.errors.StoreError` if searches cannot be answered right now (for health)."""


def idf(size: int, df: int) -> float:
    """BM25's inverse document frequency (Lucene's form, as bm25s computes it)."""
    return math.log(1 + (size - df + 0.5) / (df + 0.5))


def idf_share(size: int, tokens: list[str], df: Mapping[str, int], present: Collection[str]) -> float:
    """Share of the IDF mass of ``tokens`` that lies in ``present`` (0 when there are no tokens), given
    their document frequencies ``df`` among ``size`` chunks; a token no chunk holds weighs as a token held
    by none."""
    if not tokens:
        return 0.0
    weights = [idf(size, df.get(t, 0)) for t in tokens]
    total = sum(weights)
    return sum(w for t, w in zip(tokens, weights, strict=True) if t in present) / total if total else 0.0


def coverage(size: int, tokens: list[str], df: Mapping[str, int]) -> float:
    """Share of the question's IDF mass that occurs in the corpus (0 = nothing matches, 1 = all), given
    the document frequencies ``df`` of (at least) its ``tokens``."""
    return idf_share(size, tokens, df, {t for t in tokens if df.get(t, 0)})
