"""The default store: the index folder's FAISS indexes and BM25 files, memory-mapped (see qa/index.py)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from ..config import Settings
from ..types import Rows, Scores, Vectors
from . import Grain
from .bm25 import Bm25
from .tables import Stored


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (its scores are cached)
class FolderStore:
    """Vectors in FAISS (flat, or an HNSW graph over flat storage) and three bm25s models."""

    chunk_vectors: faiss.Index
    sentence_vectors: faiss.Index
    lexical: dict[str, Bm25]
    _matrices: dict[str, Vectors] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        matrices = {
            "chunks": stored_vectors(self.chunk_vectors),
            "sentences": stored_vectors(self.sentence_vectors),
        }
        object.__setattr__(self, "_matrices", matrices)  # views of the FAISS storage, made once

    @property
    def name(self) -> str:
        return "folder"

    @property
    def concurrent(self) -> bool:
        return False

    @property
    def size(self) -> int:
        return int(self.chunk_vectors.ntotal)

    def check(self) -> None:
        """In memory: nothing can go away."""

    def _index(self, kind: Grain) -> faiss.Index:
        return self.chunk_vectors if kind == "chunks" else self.sentence_vectors

    def matrix(self, kind: Grain) -> Vectors:
        """Every stored vector of ``kind`` as a read-only view (no copy)."""
        return self._matrices[kind]

    def nearest(self, kind: Grain, query: Vectors, k: int) -> Rows:
        return nearest(self._index(kind), self.matrix(kind), query.reshape(1, -1), k)

    def cosines(self, kind: Grain, rows: Rows, query: Vectors) -> Scores:
        return np.asarray(self.matrix(kind)[rows] @ query.reshape(-1), dtype=np.float32)

    def vectors_of(self, kind: Grain, rows: Rows) -> Vectors:
        return np.array(self.matrix(kind)[rows], np.float32)

    def lexical_top(self, model: str, tokens: list[str], k: int) -> Rows:
        scores = self._scores(model, tuple(tokens))
        rows = top(scores, k)
        return rows[scores[rows] > 0]

    def lexical_scores(self, model: str, tokens: list[str], rows: Rows) -> Scores:
        return self._scores(model, tuple(tokens))[rows]

    @functools.lru_cache(maxsize=16)  # noqa: B019 - the store lives as long as its index
    def _scores(self, model: str, tokens: tuple[str, ...]) -> Scores:
        """Every row's BM25 score, computed once for the top-k and the candidates' scores."""
        scores = self.lexical[model].scores(list(tokens))
        scores.flags.writeable = False
        return scores

    def frequencies(self, model: str, tokens: list[str]) -> dict[str, int]:
        return self.lexical[model].frequencies(tokens)


def stored_vectors(vectors: faiss.Index) -> Vectors:
    """The rows of a flat (or HNSW over flat) FAISS index as a read-only matrix: a view of FAISS's own
    storage, no copy."""
    flat = faiss.downcast_index(vectors.storage) if isinstance(vectors, faiss.IndexHNSW) else vectors
    if not isinstance(flat, faiss.IndexFlat):
        raise TypeError(
            f"vectors are kept in flat or HNSW-over-flat FAISS indexes, not {type(flat).__name__}"
        )
    n = flat.ntotal
    if not n:
        return np.zeros((0, vectors.d), np.float32)
    matrix = faiss.rev_swig_ptr(flat.get_xb(), n * flat.d).reshape(n, flat.d)
    matrix.flags.writeable = False
    return matrix


def nearest(vectors: faiss.Index, matrix: Vectors, query: Vectors, k: int) -> Rows:
    """Rows of the ``k`` stored vectors nearest to ``query`` (shape ``(1, dim)``): searched in the HNSW
    graph when the index has one, else one matrix-vector product."""
    n = len(matrix)
    if not n:
        return np.zeros(0, np.int64)
    if isinstance(vectors, faiss.IndexHNSW):
        _, found = vectors.search(query, min(k, n))
        rows: Rows = found[0][found[0] >= 0].astype(np.int64)
        return rows
    return top((matrix @ query[0]).astype(np.float32), k)


def top(scores: Scores, k: int) -> Rows:
    """Rows of the ``k`` highest ``scores``, unordered."""
    if k >= len(scores):
        return np.arange(len(scores), dtype=np.int64)
    return np.argpartition(-scores, k - 1)[:k].astype(np.int64)


class FolderBackend:
    """The index folder is the store: its build is searched where it lies."""

    title = "the index folder"
    local = True

    def current(self, settings: Settings) -> str | None:
        return None

    def publish(self, settings: Settings, build: Stored) -> None:
        return None

    def load(self, settings: Settings, path: Path | None) -> Stored:
        raise NotImplementedError("the folder store is loaded from the index folder (qa.index.load_index)")

    def release(self, settings: Settings) -> None:
        return None


BACKEND = FolderBackend()
