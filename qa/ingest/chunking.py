"""Pure chunking: Document -> list[Chunk] with character offsets into ``document.text``.

Chunks are runs of whole sentences up to ``size`` characters; a paragraph break ends a chunk that is
already half full; ``overlap`` trailing sentences of one chunk open the next, so an answer that straddles
a boundary is still whole in one chunk. A sentence longer than ``size`` is cut at whitespace.
"""

from __future__ import annotations

from ..lang.text import sentence_spans
from ..types import Chunk, Document


def chunk_document(doc: Document, size: int, overlap: int, first_id: int = 0) -> list[Chunk]:
    """Chunks of ``doc`` in reading order, numbered from ``first_id``; ``text == doc.text[start:end]``."""
    text = doc.text
    sentences = [piece for span in sentence_spans(text) for piece in _fit(text, span, size)]
    chunks: list[Chunk] = []
    current: list[tuple[int, int]] = []
    for sent in sentences:
        if current:
            length = sent[1] - current[0][0]
            paragraph_break = "\n\n" in text[current[-1][1] : sent[0]]
            half_full = current[-1][1] - current[0][0] >= size // 2
            if length > size or (paragraph_break and half_full):
                chunks.append(_make(doc, current, first_id + len(chunks)))
                current = current[len(current) - overlap :] if 0 < overlap < len(current) else []
                if current and sent[1] - current[0][0] > size:
                    current = []
        current.append(sent)
    if current:
        chunks.append(_make(doc, current, first_id + len(chunks)))
    return chunks


def _make(doc: Document, sentences: list[tuple[int, int]], chunk_id: int) -> Chunk:
    start, end = sentences[0][0], sentences[-1][1]
    return Chunk(chunk_id=chunk_id, doc_id=doc.doc_id, start=start, end=end, text=doc.text[start:end])


def _fit(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """Split one over-long sentence at whitespace into pieces of at most ``size`` characters."""
    start, end = span
    pieces: list[tuple[int, int]] = []
    while end - start > size:
        cut = text.rfind(" ", start + 1, start + size)
        if cut <= start:
            cut = start + size
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    pieces.append((start, end))
    return pieces
