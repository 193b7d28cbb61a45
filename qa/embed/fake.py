"""A deterministic, model-free embedder for fast tests."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import numpy as np

from ..lang.text import syllables
from ..types import Vectors


class FakeEmbedder:
    """Deterministic, model-free embedder for tests: hashed folded syllables and syllable bigrams.

    Texts sharing words get similar vectors, so retrieval behaves sensibly on tiny corpora.
    """

    def __init__(self, dim: int = 256) -> None:
        self._dim = dim

    @property
    def id(self) -> str:
        return f"fake-hash@{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def describe(self) -> dict[str, str | int]:
        return {"backend": "fake", "model": "fake-hash", "source": "qa.embedding", "dim": self._dim}

    def _one(self, text: str) -> Vectors:
        vec = np.zeros(self._dim, np.float32)
        tokens = syllables(text)
        for feature in [*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self._dim
            vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return vec / norm

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self._dim), np.float32)

    def embed_query(self, text: str) -> Vectors:
        return self._one(text)
