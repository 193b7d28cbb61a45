"""Frozen records shared by every module."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# the arrays every stage passes: row numbers of a table, scores of rows, embedding vectors (one per row)
Rows = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Document:
    """One article: NFC text plus metadata found in it."""

    doc_id: str
    title: str
    text: str
    url: str | None = None
    date: str | None = None
    path: str = ""
    author: str | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch ``text == document.text[start:end]`` of one document."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit: ``text == document.text[start:end]``; ``chunk_id`` is its row in the index."""

    chunk_id: int
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved chunk with its fused score (higher is better) and the parts of that score."""

    chunk: Chunk
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True, slots=True)
class Source:
    """A cited passage, as shown to users."""

    doc_id: str
    title: str
    url: str | None
    date: str | None
    text: str
    score: float
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question.

    ``answer`` is the evidence sentence(s) with the answer span wrapped in ``**`` (for display only);
    ``evidence`` is the sentence span it was taken from and ``short_answer`` the answer span itself, both
    with offsets into the document (None when not answerable, or when no span fits the question);
    ``sources`` are best first; ``confidence`` is the probability that the articles answer the question;
    ``lead`` is the short answer in English form for an English question ("On 7 August 2023").
    """

    question: str
    answer: str
    answerable: bool
    sources: tuple[Source, ...]
    evidence: Span | None = None
    confidence: float = 0.0
    short_answer: Span | None = None
    lead: str | None = None
