"""The index as arrays: documents, chunk and sentence tables, and the store that searches them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ingest.corpus import Skipped
from ..store.tables import Stored
from ..types import Chunk, Document, Rows, Span, Vectors

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Segment:
    """The changes since build ``base``: articles with their chunks, sentences, vectors and tokens, and the
    ids of the build's articles it hides."""

    name: str
    base: str
    built_at: str
    files: dict[str, str]  # relative path -> SHA-256 of each article it holds
    hidden: frozenset[str]  # ids of the build's articles deleted or changed since
    documents: list[Document]
    chunks: list[Chunk]  # ids continue the build's
    sentences: list[Span]
    chunk_vectors: Vectors
    sentence_vectors: Vectors
    tokens: dict[str, list[list[str]]]  # per BM25 model, per chunk
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True)
class Index(Stored):
    """A loaded index: documents by id, chunks and sentences, and the store that searches them (the
    fields of :class:`~qa.store.tables.Stored`), with the segment of changes laid over it if any."""

    # with a segment of changes laid over a build (qa/index/segments.py): that build, the segment, and the
    # build's chunk rows the segment hides (articles deleted or changed since)
    base: Index | None = None
    segment: Segment | None = None
    hidden: Rows = field(default_factory=lambda: np.zeros(0, np.int64))  # ascending
    # what readers derive from this index once and keep with it (see qa.server.pages.loaded)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, stored: Stored) -> Index:
        """The index a store holds (see :class:`~qa.store.tables.Stored`)."""
        return cls(**vars(stored))

    @property
    def version(self) -> str:
        """Names what is served: the build, and the segment of changes over it if there is one."""
        return self.path.name + (f"+{self.segment.name}" if self.segment is not None else "")

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    @property
    def built_at(self) -> str:
        return str(self.manifest["built_at"])

    def counts(self) -> dict[str, int]:
        counts = self.manifest["counts"]
        return {k: int(counts[k]) for k in ("documents", "chunks", "sentences")}
