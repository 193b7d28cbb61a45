from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from qa.errors import EmptyCorpusError, UnreadableFileError
from qa.ingest.corpus import load_documents, read_corpus, read_document

from .conftest import SEEDS


def test_reads_title_url_date_and_drops_furniture(corpus: Path) -> None:
    docs = {d.doc_id: d for d in load_documents(corpus)}
    assert sorted(docs) == ["a_conference", "b_visit", "c_weather"]
    conf = docs["a_conference"]
    assert conf.title == "Hội nghị trực tuyến toàn quốc về công tác tổ chức"
    assert conf.url == "http://example.vn/hoi-nghi.html"
    assert conf.date == "2018-02-09"
    assert "You are here" not in conf.text
    assert "Bình luận" not in conf.text and "Nổi bật" not in conf.text
    assert "Trương Thị Mai chủ trì" in conf.text
    visit = docs["b_visit"]
    assert visit.url is None and visit.date is None
    assert "nhận xét" not in visit.text
    assert visit.text.endswith("1.549 biên chế trong năm qua.")
    weather = docs["c_weather"]
    assert weather.title == "Bản tin nông nghiệp"  # the "Thời tiết" widget line is not a title


def test_seed_articles_keep_their_text() -> None:
    docs = {d.doc_id: d for d in load_documents(SEEDS)}
    assert len(docs) == 5
    assert docs["001_76149756d6973ddd"].date == "2018-02-09"
    assert docs["000_6567be2efba4ea88"].url.startswith("http://kinhtedothi.vn/")  # type: ignore[union-attr]
    assert docs["002_88b7908893ec28a4"].text.endswith("Mai Hiếu")  # author kept, "Ý KIẾN BẠN ĐỌC" dropped
    assert "Thời tiết" not in docs["002_88b7908893ec28a4"].text
    assert docs["001_76149756d6973ddd"].title.startswith("Thành ủy Hà Nội và Ban Tổ chức")
    for doc in docs.values():
        assert unicodedata.is_normalized("NFC", doc.text)


def test_nfd_file_with_bom_and_crlf_becomes_nfc(tmp_path: Path) -> None:
    path = tmp_path / "nfd.txt"
    path.write_bytes(b"\xef\xbb\xbf" + unicodedata.normalize("NFD", "Tiêu đề\r\n\r\nNội dung bài.").encode())
    doc = read_document(path)
    assert doc.title == "Tiêu đề"
    assert doc.text == "Tiêu đề\n\nNội dung bài."


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyCorpusError, match="no articles"):
        read_corpus(tmp_path / "empty")
    with pytest.raises(EmptyCorpusError, match="not found"):
        read_corpus(tmp_path / "missing")


def test_undecodable_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Tiêu đề".encode("cp1258", errors="replace") + b"\xff\xfe bad")
    with pytest.raises(UnreadableFileError, match=r"latin1\.txt: not UTF-8"):
        read_document(path)
    with pytest.raises(EmptyCorpusError, match=r"skipped latin1\.txt: not UTF-8 text"):
        read_corpus(tmp_path)  # nothing usable left: a clear error, not an empty index


def test_unusable_files_are_skipped_saying_which_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "articles"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    (folder / "sub" / "inner.md").write_text("Bài phụ\n\nNội dung phụ.", encoding="utf-8")
    (folder / "blank.txt").write_text("  \n", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00\xfe")
    (folder / "notes.pdf").write_bytes(b"%PDF")  # a PDF type, but no PDF inside
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # not an article type
    (folder / ".hidden.txt").write_text("ẩn", encoding="utf-8")  # hidden files are not articles
    outside = tmp_path / "secret.txt"
    outside.write_text("bí mật", encoding="utf-8")
    (folder / "link.txt").symlink_to(outside)
    (folder / "inside.txt").symlink_to(folder / "good.txt")  # a link within the folder is fine
    corpus = read_corpus(folder)
    assert [f.path.name for f in corpus.files] == ["good.txt", "inside.txt", "inner.md"]
    assert [d.doc_id for d in corpus.documents] == ["good", "inside", "sub/inner"]
    assert {s.path.name: s.reason.split(" (")[0] for s in corpus.skipped} == {
        "binary.txt": "not UTF-8 text",
        "blank.txt": "the file is empty",
        "link.txt": f"it links outside {folder}",
        "notes.pdf": "not a readable PDF",
        "photo.jpg": "unsupported type",
    }
    assert [s.path.name for s in corpus.skipped if s.unsupported] == ["photo.jpg"]


def test_skip_reason_survives_a_colon_in_the_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    (folder / "note: draft.txt").write_bytes(b"\xff\xfe not utf-8")
    [skipped] = read_corpus(folder).skipped
    assert skipped.reason == "not UTF-8 text (bad byte at offset 0)"
