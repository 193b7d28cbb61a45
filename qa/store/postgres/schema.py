"""The tables of the PostgreSQL store: a build published in one transaction, and loaded back."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np
import numpy.typing as npt

from ...errors import IndexCorruptError, IndexNotBuiltError, StoreError
from ..folder import FolderStore, stored_vectors
from ..tables import Chunks, SentenceRanges, Spans, Stored
from .search import TERM_SPACE, PostgresStore
from .server import connect, prewarm, shown

if TYPE_CHECKING:
    import psycopg


# Rows kept per token for top-k searches (all of them for a token in fewer chunks). On xquad-vi-dev with
# 2,000 news articles (7,538 chunks), heads of 40, 75 and 150 rows gave every metric of the folder store
# (`qa eval ... --store postgres`); 1,000 keeps a larger share of 35,440 articles' 130,607 chunks (0.77%)
# than 40 did there (0.53%), and sums half the rows 2,000 did (a syllable top-k's mean 8.1 -> 4.7 ms)
HEAD = 1000


HNSW_BUILD_MEMORY = "2GB"  # building the graphs in memory: 774,066 sentence vectors alone are 1.2 GB


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


def publish(url: str, index: Stored) -> str:
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


def _copy(connection: psycopg.Connection[Any], build: str, index: Stored, store: FolderStore) -> None:
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


def load(url: str, path: Path | None = None) -> Stored:
    """The current build of the database, searched by the database (an :class:`~qa.index.Index` is made
    of it); ``path`` is the folder build it was published from, when known (its ``path``)."""
    from ...types import Document

    build = published(url)
    if build is None:
        raise IndexNotBuiltError(
            f"no index published in the PostgreSQL store at {shown(url)}: run `qa index --store postgres`"
        )
    with connect(url) as connection:
        found = connection.execute("select manifest from vnqa_builds where build = %s", (build,)).fetchone()
        if found is None:
            raise IndexCorruptError(
                f"the PostgreSQL store at {shown(url)} names build {build}, which it lacks"
            )
        manifest: dict[str, Any] = found[0]
    # side by side, each on a connection of its own: the server reads the documents while this process
    # parses them
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="vnqa-load") as pool:
        document_rows = pool.submit(
            rows_of_build, url, "select data from vnqa_documents where build = %s order by row", build
        )
        stretch_rows = pool.submit(
            rows_of_build, url, "select kind, matrix from vnqa_stretches where build = %s", build
        )
        background_rows = pool.submit(
            rows_of_build,
            url,
            "select text, embedding from vnqa_background where build = %s order by row",
            build,
        )
        documents = [Document(**data) for (data,) in document_rows.result()]
    stretches = dict(stretch_rows.result())
    chunk_table = Chunks.read(stretches["chunks"], documents)
    sentence_table = Spans.read(stretches["sentences"], documents)
    background = background_rows.result()
    threading.Thread(target=prewarm, args=(url,), name="vnqa-prewarm", daemon=True).start()
    dim = int(manifest["embedder"]["dim"])
    background_vectors = faiss.IndexFlatIP(dim)
    if background:
        background_vectors.add(np.stack([np.asarray(v.to_numpy(), np.float32) for _, v in background]))
    return Stored(
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


def rows_of_build(url: str, query: str, build: str) -> list[Any]:
    """Every row ``query`` (with the parameter ``build``) returns, read on a connection of its own."""
    with connect(url) as connection:
        return connection.execute(query, (build,), binary=True).fetchall()


_TABLES_ANALYSED = ("vnqa_chunks", "vnqa_sentences", "vnqa_tokens", "vnqa_chunk_terms", "vnqa_documents")
