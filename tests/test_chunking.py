from __future__ import annotations

import pytest

from qa.ingest.chunking import chunk_document
from qa.ingest.corpus import load_documents
from qa.types import Document

from .conftest import SEEDS


@pytest.mark.parametrize(("size", "overlap"), [(200, 0), (400, 1), (1000, 1), (1000, 2)])
def test_chunks_point_at_exact_text_and_cover_every_sentence(size: int, overlap: int) -> None:
    for doc in load_documents(SEEDS):
        chunks = chunk_document(doc, size, overlap, first_id=10)
        assert [c.chunk_id for c in chunks] == list(range(10, 10 + len(chunks)))
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= size
        covered = "".join(doc.text[c.start : c.end] for c in chunks)
        for word in doc.text.split():
            assert word in covered


def test_overlap_repeats_the_last_sentence() -> None:
    text = "Câu một dài vừa phải. Câu hai dài vừa phải. Câu ba dài vừa phải. Câu bốn dài vừa phải."
    doc = Document("d", "t", text)
    no_overlap = chunk_document(doc, 45, 0)
    with_overlap = chunk_document(doc, 45, 1)
    assert [c.text for c in no_overlap] == [
        "Câu một dài vừa phải. Câu hai dài vừa phải.",
        "Câu ba dài vừa phải. Câu bốn dài vừa phải.",
    ]
    assert with_overlap[1].text.startswith("Câu hai")


def test_overlong_sentence_is_cut_at_spaces() -> None:
    text = " ".join(["từ"] * 200)
    chunks = chunk_document(Document("d", "t", text), 100, 0)
    assert len(chunks) > 1
    assert all(len(c.text) <= 100 and not c.text.startswith(" ") for c in chunks)
    assert " ".join(c.text for c in chunks) == text
