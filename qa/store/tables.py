"""The rows a store holds, as arrays: chunks and sentences as stretches of documents (``owner``, ``start``,
``end``), and which sentences lie in which chunk. The folder and the PostgreSQL store keep them alike."""

from __future__ import annotations

import functools
import io
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np
import numpy.typing as npt

from ..types import Chunk, Document, Rows, Span
from . import Store


@dataclass(frozen=True, eq=False)  # compared by identity: compare ``list(a) == list(b)``
class Stretches:
    """Stretches of documents kept as arrays, not objects: row ``i`` is
    ``documents[owner[i]].text[starts[i]:ends[i]]`` (800,000 sentences as objects with their texts would
    take about 400 MB and seconds to read)."""

    documents: tuple[Document, ...]
    owner: Rows
    starts: Rows
    ends: Rows

    def __len__(self) -> int:
        return len(self.owner)

    def doc_id(self, row: int) -> str:
        return self.documents[int(self.owner[row])].doc_id

    def text(self, row: int) -> str:
        return self.documents[int(self.owner[row])].text[int(self.starts[row]) : int(self.ends[row])]

    def rows_of(self, doc_ids: Collection[str]) -> Rows:
        """The rows of the documents ``doc_ids`` (each document's rows are consecutive)."""
        owners = np.array([i for d in doc_ids for i in self._owners.get(d, ())], np.int64)
        if not len(owners):
            return np.zeros(0, np.int64)
        low = np.searchsorted(self.owner, owners, "left")
        high = np.searchsorted(self.owner, owners, "right")
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in zip(low, high, strict=True)])

    @functools.cached_property
    def _owners(self) -> dict[str, list[int]]:
        """Document id -> its rows in ``documents`` (two, when a segment holds a changed article)."""
        owners: dict[str, list[int]] = {}
        for i, doc in enumerate(self.documents):
            owners.setdefault(doc.doc_id, []).append(i)
        return owners

    def matrix(self) -> bytes:
        """The arrays as one ``.npy`` file: a row ``(owner, start, end)`` per stretch."""
        buffer = io.BytesIO()
        np.save(buffer, np.stack([self.owner, self.starts, self.ends], axis=1), allow_pickle=False)
        return buffer.getvalue()

    @classmethod
    def of(cls, stretches: Sequence[Chunk | Span], documents: Sequence[Document]) -> Self:
        """The table of ``stretches``, each a stretch of one of ``documents``."""
        row_of = {d.doc_id: i for i, d in enumerate(documents)}
        return cls.table([(row_of[s.doc_id], s.start, s.end) for s in stretches], documents)

    @classmethod
    def table(cls, rows: Sequence[tuple[int, int, int]], documents: Sequence[Document]) -> Self:
        """The table of the stretches ``(document row, start, end)`` of ``documents``."""
        table = np.array(rows, np.int64).reshape(-1, 3)
        return cls(tuple(documents), table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())

    @classmethod
    def read(cls, data: bytes, documents: Sequence[Document]) -> Self:
        """The table a :meth:`matrix` file holds, over ``documents``."""
        table = np.load(io.BytesIO(data), allow_pickle=False)
        if table.ndim != 2 or table.shape[1] != 3 or (len(table) and table[:, 0].max() >= len(documents)):
            raise ValueError("a table of stretches that does not fit its documents")
        owner, starts, ends = (np.ascontiguousarray(table[:, i], np.int64) for i in range(3))
        return cls(tuple(documents), owner, starts, ends)

    def joined(self, other: Self) -> Self:
        """These rows, then ``other``'s."""
        return type(self)(
            self.documents + other.documents,
            np.concatenate([self.owner, other.owner + len(self.documents)]),
            np.concatenate([self.starts, other.starts]),
            np.concatenate([self.ends, other.ends]),
        )

    def __iter__(self) -> Iterator[Any]:
        return (self[row] for row in range(len(self)))

    def __getitem__(self, row: int) -> Any:
        raise NotImplementedError


class Chunks(Stretches):
    """The index's chunks: row ``i`` is chunk ``i`` (see :class:`Stretches`)."""

    def __getitem__(self, row: int) -> Chunk:
        doc = self.documents[self.owner[row]]
        start, end = int(self.starts[row]), int(self.ends[row])
        return Chunk(row, doc.doc_id, start, end, doc.text[start:end])

    def __iter__(self) -> Iterator[Chunk]:
        return super().__iter__()


class Spans(Stretches):
    """The index's sentences: row ``i`` is sentence ``i`` (see :class:`Stretches`)."""

    def __getitem__(self, row: int) -> Span:
        doc = self.documents[self.owner[row]]
        start, end = int(self.starts[row]), int(self.ends[row])
        return Span(doc.doc_id, start, end, doc.text[start:end])

    def __iter__(self) -> Iterator[Span]:
        return super().__iter__()


@dataclass(frozen=True)
class SentenceRanges:
    """The sentence rows of every chunk, as arrays: to gather the sentences of some chunks, take each
    one's best sentence in one pass, and find the chunks holding a sentence."""

    starts: Rows  # per chunk
    stops: Rows
    first_chunk: Rows  # per sentence: the first and last chunk holding it (-1: none)
    last_chunk: Rows

    @classmethod
    def of(cls, chunks: Stretches, sentences: Stretches) -> SentenceRanges:
        """Sentences lie inside a chunk when they overlap it in its document; each document's sentences
        are consecutive rows in reading order, so each chunk's are one run, found by binary search."""
        owner_keys = sentences.owner << 32
        low = np.searchsorted(owner_keys + sentences.ends, (chunks.owner << 32) + chunks.starts, "right")
        high = np.searchsorted(owner_keys + sentences.starts, (chunks.owner << 32) + chunks.ends, "left")
        starts = np.where(high > low, low, 0).astype(np.int64)
        stops = np.where(high > low, high, 0).astype(np.int64)
        first = np.full(len(sentences), -1, np.int64)
        last = np.full(len(sentences), -1, np.int64)
        lengths = stops - starts
        rows = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        rows += np.arange(int(lengths.sum()), dtype=np.int64)
        holders = np.repeat(np.arange(len(chunks), dtype=np.int64), lengths)
        np.maximum.at(last, rows, holders)
        first[rows] = len(chunks)
        np.minimum.at(first, rows, holders)
        return cls(starts, stops, first, last)

    def __getitem__(self, chunk: int) -> range:
        """The sentence rows of ``chunk``."""
        return range(int(self.starts[chunk]), int(self.stops[chunk]))

    def __len__(self) -> int:
        return len(self.starts)

    def rows_of(self, chunks: Rows) -> tuple[Rows, Rows]:
        """The sentence rows of ``chunks``, chunk after chunk, and where each chunk's run starts."""
        lengths = self.stops[chunks] - self.starts[chunks]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        total = int(lengths.sum())
        rows = np.arange(total, dtype=np.int64) - np.repeat(starts - self.starts[chunks], lengths)
        return rows, starts

    def best_local(self, scores: npt.NDArray[np.float32], starts: Rows, n: int) -> npt.NDArray[np.float32]:
        """Per chunk of :meth:`rows_of`, the highest of ``scores`` over its run (0 for an empty run)."""
        out = np.zeros(n, np.float32)
        if not len(scores):
            return out
        stops = np.append(starts[1:], len(scores))
        filled = stops > starts
        out[filled] = np.maximum.reduceat(scores, starts[filled])
        return out

    def chunks_of(self, sentences: Rows) -> Rows:
        """The chunks holding any of ``sentences``."""
        held = np.concatenate([self.first_chunk[sentences], self.last_chunk[sentences]])
        return held[held >= 0]


@dataclass(frozen=True)
class Stored:
    """A build as a store holds it: documents by id, chunk and sentence tables, the store searching them,
    and the off-topic reference texts with their vectors. An :class:`~qa.index.Index` is made of one (and
    is one, so any index can be published to another store)."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: Chunks
    sentences: Spans
    store: Store
    background: list[str]
    background_vectors: faiss.Index
    chunk_sentences: SentenceRanges
