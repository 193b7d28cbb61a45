"""A store with a segment of changed articles laid over it: what a live folder serves between builds.

The build beneath keeps its rows; the rows of articles deleted or changed since are hidden, and the
segment's own rows follow the build's (chunk ``base.size + i`` is the segment's chunk ``i``). Vectors of
the segment are searched exactly (it is small); its BM25 uses the build's statistics (document count,
document frequencies, mean length), so its scores and the build's are on one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ..types import Rows, Scores, Vectors
from . import Grain, Store, idf
from .folder import top

# bm25s's defaults, with which every build's BM25 is made
K1 = 1.5
B = 0.75

Mask = npt.NDArray[np.bool_]


class SegmentLexicon:
    """BM25 over a segment's chunks (``tokens``: each chunk's tokens), scored with a build's statistics."""

    def __init__(self, tokens: Sequence[Sequence[str]], mean_length: float) -> None:
        self.size = len(tokens)
        self._lengths = np.array([len(t) for t in tokens], np.float32)
        self._mean = mean_length if mean_length > 0 else float(self._lengths.mean() or 1.0)
        counts: dict[str, dict[int, int]] = {}
        for row, chunk in enumerate(tokens):
            for token in chunk:
                held = counts.setdefault(token, {})
                held[row] = held.get(row, 0) + 1
        self._postings = {
            token: (np.fromiter(held, np.int64), np.fromiter(held.values(), np.float32))
            for token, held in counts.items()
        }

    def frequencies(self, tokens: Sequence[str]) -> dict[str, int]:
        """How many of the segment's chunks hold each of ``tokens`` (absent ones are left out)."""
        return {t: len(self._postings[t][0]) for t in set(tokens) if t in self._postings}

    def scores(self, tokens: Sequence[str], size: int, df: dict[str, int]) -> Scores:
        """BM25 of each chunk for the query ``tokens`` (a repeated token counts again), as bm25s's Lucene
        variant computes it for a corpus of ``size`` chunks where token ``t`` is in ``df[t]`` of them."""
        out = np.zeros(self.size, np.float32)
        for token in tokens:
            posting = self._postings.get(token)
            if posting is None:
                continue
            rows, tf = posting
            norm = K1 * (1 - B + B * self._lengths[rows] / self._mean)
            out[rows] += idf(size, df.get(token, 0)) * tf / (tf + norm)
        return out


@dataclass(frozen=True, eq=False)
class LayeredStore:
    """``base`` with its ``hidden`` rows left out and a segment's vectors and lexicons after its rows."""

    base: Store
    vectors: dict[Grain, Vectors]  # the segment's rows
    lexicons: dict[str, SegmentLexicon]
    hidden: dict[Grain, Mask]  # over the base's rows

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def concurrent(self) -> bool:
        return self.base.concurrent

    @property
    def size(self) -> int:
        return self.base.size - int(self.hidden["chunks"].sum()) + len(self.vectors["chunks"])

    def check(self) -> None:
        self.base.check()

    def nearest(self, kind: Grain, query: Vectors, k: int) -> Rows:
        base = self._live(lambda depth: self.base.nearest(kind, query, depth), kind, k)
        own = top(self.vectors[kind] @ query.reshape(-1), k)
        rows = np.concatenate([base, own + len(self.hidden[kind])])
        return rows[top(self.cosines(kind, rows, query), k)]

    def cosines(self, kind: Grain, rows: Rows, query: Vectors) -> Scores:
        split = len(self.hidden[kind])
        out = np.empty(len(rows), np.float32)
        below = rows < split
        out[below] = self.base.cosines(kind, rows[below], query)
        out[~below] = self.vectors[kind][rows[~below] - split] @ query.reshape(-1)
        return out

    def vectors_of(self, kind: Grain, rows: Rows) -> Vectors:
        split = len(self.hidden[kind])
        below = rows < split
        out = np.empty((len(rows), self.vectors[kind].shape[1]), np.float32)
        out[below] = self.base.vectors_of(kind, rows[below])
        out[~below] = self.vectors[kind][rows[~below] - split]
        return out

    def lexical_top(self, model: str, tokens: list[str], k: int) -> Rows:
        base = self._live(lambda depth: self.base.lexical_top(model, tokens, depth), "chunks", k)
        own = self._own_scores(model, tokens)
        best = top(own, k)
        rows = np.concatenate([base, best[own[best] > 0] + self.base.size])
        return rows[top(self.lexical_scores(model, tokens, rows), k)]

    def lexical_scores(self, model: str, tokens: list[str], rows: Rows) -> Scores:
        split = self.base.size
        out = np.zeros(len(rows), np.float32)
        below = rows < split
        out[below] = self.base.lexical_scores(model, tokens, rows[below])
        out[below & self.hidden["chunks"][np.minimum(rows, split - 1)]] = 0.0
        out[~below] = self._own_scores(model, tokens)[rows[~below] - split]
        return out

    def frequencies(self, model: str, tokens: list[str]) -> dict[str, int]:
        df = self.base.frequencies(model, tokens)
        for token, n in self.lexicons[model].frequencies(tokens).items():
            df[token] = df.get(token, 0) + n
        return df

    def _own_scores(self, model: str, tokens: list[str]) -> Scores:
        # the build's document frequencies count its hidden rows too: so does the document count
        rows = self.base.size + len(self.vectors["chunks"])
        return self.lexicons[model].scores(tokens, rows, self.frequencies(model, tokens))

    def _live(self, search: _Search, kind: Grain, k: int) -> Rows:
        """The base's top ``k`` rows by ``search(depth)`` that are not hidden: searched deeper while hidden
        rows crowd the top (they are rare there unless the question is about a changed article)."""
        hidden = self.hidden[kind]
        total = len(hidden)
        depth = k + min(int(hidden.sum()), k)
        while True:
            asked = min(depth, total)
            rows = search(asked)
            live = rows[~hidden[rows]]
            if len(live) >= k or len(rows) < asked or asked == total:  # enough, or nothing more to find
                return live
            depth *= 2


class _Search(Protocol):
    def __call__(self, depth: int) -> Rows: ...
