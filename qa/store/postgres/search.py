"""Searching one build in PostgreSQL: HNSW over the vectors, BM25 postings for the lexical side."""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import IndexCorruptError, StoreError
from ...types import Rows, Scores, Vectors
from .. import Grain
from .server import connect, revive, shown

# HNSW candidates examined per search; iterative scans go on past it until k rows are found. 128 instead
# of 256: the same doc hit@1 on xquad-vi-dev + 2,000 news (evidence@5 within .002), a few ms less a
# question at 35,440 articles (README)
EF_SEARCH = 128
# the dimension of the chunks' sparse term vectors (pgvector's largest): any model's token ids fit in it
TERM_SPACE = 1_000_000_000

# tokens whose document frequency a store keeps (a build's never change; a question asks for a few
# dozen, and coverage and the confidence ask again)
DF_KEPT = 100_000

if TYPE_CHECKING:
    import psycopg


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

    def _execute(self, query: str, params: Any, binary: bool = False) -> psycopg.Cursor[Any]:
        """``query`` on this thread's connection. A connection the server dropped (it restarted, or
        died) is opened again, once, after restarting the embedded server if this process owns it and
        it is gone; if that fails too, :class:`StoreError`."""
        import psycopg

        try:
            return self._connection().execute(query, params, binary=binary)
        except (psycopg.OperationalError, StoreError):  # the connection broke, or a new one failed
            self._drop()
        revived = revive(self._url)
        try:
            return self._connection().execute(query, params, binary=binary)
        except psycopg.OperationalError as exc:
            self._drop()
            reason = " ".join(str(exc).split())
            again = " after restarting it" if revived else ""
            raise StoreError(f"PostgreSQL at {shown(self._url)} is not answering{again}: {reason}") from None

    def _drop(self) -> None:
        """Forget this thread's connection (closed: the next query opens another)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()
            self._opened.remove(connection)

    def check(self) -> None:
        self._execute("select 1", ())

    def nearest(self, kind: Grain, query: Vectors, k: int) -> Rows:
        from pgvector import Vector

        table = _TABLES[kind]
        found = self._execute(
            f"select row from {table} where build = %s order by embedding <#> %s limit %s",
            (self._build, Vector(np.asarray(query, np.float32)), k),
        )
        return np.asarray([r for (r,) in found.fetchall()], np.int64)

    def cosines(self, kind: Grain, rows: Rows, query: Vectors) -> Scores:
        from pgvector import Vector

        if not len(rows):
            return np.zeros(0, np.float32)
        found = self._execute(
            f"select array_agg(row), array_agg(-(embedding <#> %s)) from {_TABLES[kind]} "
            "where build = %s and row = any(%s::integer[])",
            (Vector(np.asarray(query, np.float32)), self._build, _integers(rows)),
            binary=True,
        )
        return self._aligned(found.fetchone(), rows, None, kind)

    def vectors_of(self, kind: Grain, rows: Rows) -> Vectors:
        if not len(rows):
            return np.zeros((0, self._dim), np.float32)
        found = self._execute(
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
        found = self._execute(
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
        found = self._execute(
            _SCORED, (*self._query(model, counts), self._build, model, _integers(rows)), binary=True
        )
        return self._aligned(found.fetchone(), rows, 0.0, "chunks")

    def _aligned(self, found: Any, rows: Rows, fill: float | None, kind: Grain) -> Scores:
        """The scores of ``rows``, in that order, from a query's row of two arrays, the rows it found
        and their scores (both None when it found none); a row not found scores ``fill`` (None: the
        build lacks it)."""
        got, scores = (found[0] or [], found[1] or []) if found is not None else ([], [])
        by_row = dict(zip(got, scores, strict=True))
        if fill is None:
            self._check_all_found(by_row, rows, kind)
        return np.asarray([by_row.get(r, fill) for r in rows.tolist()], np.float32)

    def _check_all_found(self, found: Collection[int], rows: Rows, kind: Grain) -> None:
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
                self._execute(
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


_TABLES: dict[Grain, str] = {"chunks": "vnqa_chunks", "sentences": "vnqa_sentences"}

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
