"""BM25 over token lists, built once at index time and saved as bm25s's numpy/JSON files (never pickle).

An index holds three of them: over diacritic-folded syllables, pairs of them, and pyvi word segments.
Loading one is reading its arrays, so starting a server never re-tokenises the articles.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from ..types import Scores

# bm25s sets its own logger to DEBUG, which floods any handler the application installs.
logging.getLogger("bm25s").setLevel(logging.WARNING)

FILES = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
    "vocab.index.json",
    "params.index.json",
)


class Bm25:
    """One BM25 model (rows are chunks, in index order) with document frequencies for coverage."""

    def __init__(self, model: bm25s.BM25) -> None:
        self._model = model
        self._vocab: dict[str, int] = model.vocab_dict
        self.size = int(model.scores["num_docs"])
        indptr = np.asarray(model.scores["indptr"])
        self._df = np.diff(indptr)  # column t of the score matrix lists the rows containing token t

    @classmethod
    def build(cls, corpus_tokens: list[list[str]]) -> Bm25:
        model = bm25s.BM25()
        model.index(corpus_tokens, show_progress=False)
        return cls(model)

    def files(self) -> dict[str, bytes]:
        """The saved model: file name -> content (bm25s's own format)."""
        with tempfile.TemporaryDirectory(prefix="vnqa-bm25-") as tmp:
            self._model.save(tmp, show_progress=False)
            return {name: (Path(tmp) / name).read_bytes() for name in FILES}

    @classmethod
    def load(cls, folder: Path) -> Bm25:
        """A model saved by :meth:`files` into ``folder``, its arrays memory-mapped."""
        return cls(bm25s.BM25.load(folder, mmap=True, show_progress=False))

    def scores(self, tokens: list[str]) -> Scores:
        """BM25 score of every row for the query ``tokens`` (unknown tokens are ignored)."""
        known = [t for t in tokens if t and t in self._vocab]
        if not known:
            return np.zeros(self.size, np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def frequencies(self, tokens: list[str]) -> dict[str, int]:
        """How many rows hold each of ``tokens`` (absent ones are left out)."""
        columns = {t: self._column(t) for t in set(tokens)}
        return {t: int(self._df[c]) for t, c in columns.items() if c is not None and self._df[c] > 0}

    def postings(self) -> tuple[dict[str, int], Scores, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The score matrix by token: vocabulary (token -> column), and the CSC arrays ``data`` (each
        posting's score contribution), ``indices`` (its row) and ``indptr`` (where each column starts)."""
        scores = self._model.scores
        return (
            dict(self._vocab),
            np.asarray(scores["data"], np.float32),
            np.asarray(scores["indices"], np.int64),
            np.asarray(scores["indptr"], np.int64),
        )

    def _column(self, token: str) -> int | None:
        """The token's column in the score matrix (bm25s's vocabulary may hold one without a column)."""
        column = self._vocab.get(token)
        return column if column is not None and column < len(self._df) else None
