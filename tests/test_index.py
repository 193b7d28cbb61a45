from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError
from qa.index.build import build_index
from qa.index.files import CURRENT, DATA_FILES, MANIFEST
from qa.index.load import load_index

from .store_contract import StoreContract


def test_build_then_load_round_trips(settings: Settings) -> None:
    report = build_index(settings, FakeEmbedder())
    assert report.rebuilt and report.documents == 3 and report.chunks >= 3
    index = load_index(settings.index_dir, FakeEmbedder())
    assert index.counts() == {"documents": 3, "chunks": report.chunks, "sentences": report.sentences}
    assert index.store.size == len(index.chunks) == report.chunks
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text
    manifest = json.loads((settings.index_dir / CURRENT / MANIFEST).read_text())
    assert manifest["embedder"]["id"] == "fake-hash@256" and manifest["embedder"]["dim"] == 256
    assert manifest["chunking"]["size"] == 200
    assert set(manifest["files"]) == set(DATA_FILES)
    assert not list(settings.index_dir.glob("**/*.pkl"))


def test_unchanged_inputs_skip_the_rebuild(settings: Settings) -> None:
    first = build_index(settings, FakeEmbedder())
    second = build_index(settings, FakeEmbedder())
    assert not second.rebuilt and second.path == first.path


def test_changed_article_rebuilds_and_reuses_unchanged_vectors(settings: Settings) -> None:
    first = build_index(settings, FakeEmbedder())
    with open(settings.seeds_dir / "c_weather.md", "a", encoding="utf-8") as fh:
        fh.write("\nMột câu mới được thêm vào.\n")
    second = build_index(settings, FakeEmbedder())
    assert second.rebuilt and second.path != first.path
    assert second.reused > 0 and 0 < second.embedded < second.reused
    assert not first.path.exists()  # the superseded build is cleaned up


def test_missing_index_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexNotBuiltError, match="run `qa index`"):
        load_index(tmp_path / "nowhere")


def test_index_of_another_embedder_is_refused(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    with pytest.raises(IndexMismatchError, match=r"built with fake-hash@256.*fake-hash@64"):
        load_index(settings.index_dir, FakeEmbedder(dim=64))


@pytest.mark.parametrize("name", DATA_FILES)
def test_tampered_or_truncated_files_fail_verification(settings: Settings, name: str) -> None:
    report = build_index(settings, FakeEmbedder())
    target = report.path / name
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match=name):
        load_index(settings.index_dir, FakeEmbedder())


def test_crash_before_publishing_keeps_the_previous_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = build_index(settings, FakeEmbedder())
    (settings.seeds_dir / "c_weather.md").write_text(
        "Tiêu đề mới\n\nNội dung mới hoàn toàn.", encoding="utf-8"
    )

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # as if the process died right before the swap

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, FakeEmbedder())
    monkeypatch.undo()
    index = load_index(settings.index_dir, FakeEmbedder())
    assert index.path == before.path
    assert "Bản tin nông nghiệp" in index.documents["c_weather"].text
    # the next build cleans up the half-finished one and publishes the new text
    after = build_index(settings, FakeEmbedder())
    assert "Nội dung mới" in load_index(settings.index_dir).documents["c_weather"].text
    assert sorted(p.name for p in settings.index_dir.iterdir() if not p.name.startswith(".")) == sorted(
        [CURRENT, after.path.name]
    )


def test_an_index_of_an_older_format_is_rebuilt_reusing_its_vectors(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    first = build_index(settings, FakeEmbedder())
    manifest = first.path / MANIFEST
    data = json.loads(manifest.read_text())
    data["format_version"] = 3
    manifest.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING):
        engine = Engine.open(settings, FakeEmbedder())
    assert "has format v3, older than v6 (since then: document ids are paths relative" in caplog.text
    assert engine.index.path != first.path and engine.index.manifest["format_version"] > 1
    again = build_index(settings, FakeEmbedder(), force=True)
    assert again.embedded == 0  # every vector came from the previous build


def test_a_format_4_index_with_texts_in_jsonl_gives_its_vectors_to_the_rebuild(settings: Settings) -> None:
    import hashlib
    from dataclasses import asdict

    from tests.gated import CountingEmbedder

    first = build_index(settings, FakeEmbedder())
    index = load_index(settings.index_dir)
    manifest = json.loads((first.path / MANIFEST).read_text())
    for name, rows in (("chunks", index.chunks), ("sentences", index.sentences)):
        data = "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows).encode()
        (first.path / f"{name}.jsonl").write_bytes(data)
        (first.path / f"{name}.npy").unlink()
        del manifest["files"][f"{name}.npy"]
        manifest["files"][f"{name}.jsonl"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest["format_version"] = 4
    (first.path / MANIFEST).write_text(json.dumps(manifest))
    counting = CountingEmbedder()
    engine = Engine.open(settings, counting)
    assert engine.index.manifest["format_version"] == 6 and counting.embedded == 0
    assert engine.search("Ai chủ trì hội nghị?", 1)[0].chunk.doc_id == "a_conference"


def test_sentence_ranges_hold_the_sentences_inside_each_chunk(engine: Engine) -> None:
    index = engine.index
    for chunk in index.chunks:
        inside = [
            row
            for row, s in enumerate(index.sentences)
            if s.doc_id == chunk.doc_id and s.start < chunk.end and s.end > chunk.start
        ]
        assert list(index.chunk_sentences[chunk.chunk_id]) == inside
        for row in inside:
            assert (
                index.chunk_sentences.first_chunk[row]
                <= chunk.chunk_id
                <= index.chunk_sentences.last_chunk[row]
            )


def test_a_torn_journal_record_is_dropped_and_cut_off_before_the_next(tmp_path: Path) -> None:
    from qa.index.journal import Journal, text_key

    journal = Journal(tmp_path, "fake-hash@4", 4)
    first = np.eye(4, dtype=np.float32)[:2]
    journal.append(["một", "hai"], first)
    with open(journal.path, "ab") as fh:
        fh.write(text_key("ba") + b"\x00\x01")  # a crash in the middle of a record
    assert set(journal.read()) == {text_key("một"), text_key("hai")}
    journal.append(["bốn"], np.eye(4, dtype=np.float32)[3:])
    read = journal.read()
    assert set(read) == {text_key("một"), text_key("hai"), text_key("bốn")}
    assert read[text_key("bốn")].tolist() == [0.0, 0.0, 0.0, 1.0]
    journal.clear()
    assert journal.read() == {}


class _Recording(FakeEmbedder):
    """Remembers every article text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.texts.extend(texts)
        return super().embed_passages(texts)


def test_add_change_and_delete_embed_only_the_document_that_changed(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    added = "Tin mới về hồ Gươm\n\nHồ Gươm được thả thêm 200 con cá chép đỏ vào sáng nay.\n"
    (settings.seeds_dir / "d_lake.txt").write_text(added, encoding="utf-8")
    recording = _Recording()
    report = build_index(settings, recording)
    assert report.embedded == len(recording.texts) > 0
    assert all("Hồ Gươm" in t or "hồ Gươm" in t or "cá chép" in t for t in recording.texts), recording.texts

    visit = settings.seeds_dir / "b_visit.txt"
    text = visit.read_text(encoding="utf-8")
    visit.write_text(text.replace("Chiều 23/4,", "Thành ủy giao chỉ tiêu mới. Chiều 23/4,"), encoding="utf-8")
    recording = _Recording()
    build_index(settings, recording)
    index = load_index(settings.index_dir)
    changed = {c.text for c in index.chunks if c.doc_id == "b_visit"} | {
        s.text for s in index.sentences if s.doc_id == "b_visit"
    }
    assert recording.texts and all(any(t.endswith(c) or t == c for c in changed) for t in recording.texts)

    (settings.seeds_dir / "d_lake.txt").unlink()
    recording = _Recording()
    report = build_index(settings, recording)
    assert report.rebuilt and recording.texts == []
    assert "d_lake" not in load_index(settings.index_dir).documents


class TestFolderStore(StoreContract):
    """The folder store (FAISS and bm25s files) keeps the store contract."""

    @pytest.fixture
    def engine(self, seeds_copy: Path, tmp_path: Path) -> Engine:
        settings = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake")
        return Engine.open(settings, FakeEmbedder())
