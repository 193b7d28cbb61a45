"""Every supported file type, on real files written with the libraries made for each format."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.errors import UnreadableFileError
from qa.ingest.corpus import MAX_TITLE_CHARS, parse_document, read_corpus, type_counts
from qa.ingest.loaders import load_docx, load_html, load_markdown, load_pdf

from . import formats


def test_web_page_keeps_the_article_and_drops_navigation_ads_scripts_and_comments() -> None:
    article = load_html(Path("page.html"), formats.PAGE.encode())
    assert article.title == formats.PAGE_TITLE
    assert article.date == "2018-02-09"
    assert article.url == "https://baothudo.example.vn/ha-noi-tinh-gian-bien-che.html"
    assert article.author == "Nguyễn Minh Anh"
    assert "tinh giản 1.549 biên chế trong các cơ quan" in article.text
    assert article.text.startswith(formats.PAGE_TITLE + "\n\n")
    assert article.text.count(formats.PAGE_TITLE) == 1  # the <h1> is not repeated under the title
    for furniture in (
        "Trang chủ",
        "Đăng nhập",
        "Quảng cáo",
        "giảm giá",
        "alert",
        "hacked",
        "font-family",
        "Bình luận",
        "cảm ơn tác giả",
        "Liên hệ",
    ):
        assert furniture not in article.text, furniture


def test_markdown_front_matter_is_read_and_syntax_removed() -> None:
    article = load_markdown(Path("notes.md"), formats.MARKDOWN.encode())
    assert article.title == "Hội nghị trực tuyến toàn quốc về công tác tổ chức"
    assert (article.date, article.url, article.author) == (
        "2023-08-07",
        "https://example.vn/hoi-nghi-truc-tuyen",
        "T. Hương",
    )
    assert article.text.split("\n\n") == [
        "Hội nghị trực tuyến toàn quốc về công tác tổ chức",
        "Đồng chí Trương Thị Mai chủ trì hội nghị trực tuyến toàn quốc, tổ chức tại Hà Nội.",
        "Các đại biểu nghe quán triệt 5 văn bản mới của Trung ương.",
        "Hội nghị kéo dài một ngày.",
    ]


def test_markdown_without_front_matter_takes_its_first_heading() -> None:
    article = load_markdown(Path("x.md"), "Lời dẫn.\n\n## Tiêu đề phụ\n\nThân bài **đậm**.\n".encode())
    assert article.title == "Tiêu đề phụ"
    assert article.text == "Lời dẫn.\n\nTiêu đề phụ\n\nThân bài đậm."


def test_broken_front_matter_is_a_reason_not_a_crash() -> None:
    with pytest.raises(UnreadableFileError, match="front matter"):
        load_markdown(Path("x.md"), b"---\ntitle: [unclosed\n---\nText\n")


def test_pdf_text_layer_in_reading_order() -> None:
    article = load_pdf(Path("report.pdf"), formats.pdf_bytes())
    assert article.title == formats.PDF_TITLE
    assert article.author == "Văn phòng Thành ủy"
    assert article.text.split("\n\n") == [formats.PDF_TITLE, *formats.PDF_LINES]


def test_a_pdf_heading_wrapped_over_two_lines_is_one_title_line_not_two_plus_the_title() -> None:
    title = "Hà Nội tinh giản 1.549 biên chế trong một năm"
    wrapped = ["Hà Nội tinh giản 1.549 biên chế", "trong một năm"]  # each line short of the body's width
    lines = [
        "Theo báo cáo của Ban Tổ chức Thành ủy tại hội nghị sơ kết, thành phố đã giảm 59 phòng và tương",
        "đương trong các cơ quan hành chính.",
    ]
    article = load_pdf(Path("bao-cao.pdf"), formats.pdf_bytes(title, lines, heading=wrapped))
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == title and article.text.count("tinh giản 1.549") == 1, paragraphs
    assert paragraphs[1].startswith("Theo báo cáo")


def test_pdf_with_javascript_gives_its_text_only() -> None:
    data = formats.pdf_bytes(javascript=True)
    assert b"/JavaScript" in data
    article = load_pdf(Path("js.pdf"), data)
    assert "app.alert" not in article.text and "pwned" not in article.text
    assert formats.PDF_LINES[1] in article.text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (formats.scanned_pdf_bytes(), "no text layer"),
        (b"%PDF-1.4 not really", "not a readable PDF"),
    ],
)
def test_unusable_pdf_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFileError, match=reason):
        load_pdf(Path("x.pdf"), data)


def test_docx_headings_and_paragraphs_in_order() -> None:
    article = load_docx(Path("summary.docx"), formats.docx_bytes())
    assert article.title == formats.DOCX_TITLE
    assert article.author == "Văn phòng Thành ủy"
    assert article.text.split("\n\n") == [formats.DOCX_TITLE, *formats.DOCX_PARAGRAPHS]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (formats.zip_bomb_docx(), "would expand to 200 MB"),
        (b"PK\x03\x04 truncated", "not a Word document"),
    ],
)
def test_unusable_docx_says_why(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFileError, match=reason):
        load_docx(Path("x.docx"), data)


def test_mixed_folder_titles_dates_urls_and_reasons(tmp_path: Path) -> None:
    corpus = read_corpus(formats.write_mixed(tmp_path / "mixed"))
    docs = {d.doc_id: d for d in corpus.documents}
    assert {k: (d.title, d.date, d.url) for k, d in docs.items()} == {
        "a/news": ("Bài ở thư mục a", None, "https://a.example.vn/news"),
        "b/news": ("Bài ở thư mục b", None, None),
        "notes": (
            "Hội nghị trực tuyến toàn quốc về công tác tổ chức",
            "2023-08-07",
            "https://example.vn/hoi-nghi-truc-tuyen",
        ),
        "page": (
            formats.PAGE_TITLE,
            "2018-02-09",
            "https://baothudo.example.vn/ha-noi-tinh-gian-bien-che.html",
        ),
        "report": (formats.PDF_TITLE, "2018-12-20", None),
        "summary": (formats.DOCX_TITLE, "2020-12-15", None),
    }
    assert type_counts(corpus) == {"docx": 1, "html": 1, "md": 1, "pdf": 1, "txt": 2}
    reasons = {s.path.name: s.reason for s in corpus.skipped}
    assert sorted(reasons) == ["bomb.docx", "photo.png", "scan.pdf"]
    assert "no text layer" in reasons["scan.pdf"]
    assert "unsupported type" in reasons["photo.png"]
    assert "expand" in reasons["bomb.docx"]


def test_same_name_in_two_subfolders_stays_two_documents(tmp_path: Path) -> None:
    folder = formats.write_mixed(tmp_path / "mixed")
    settings = Settings(seeds_dir=folder, index_dir=tmp_path / "index", model="fake")
    engine = Engine.open(settings, FakeEmbedder())
    assert engine.index.counts()["documents"] == 6
    a, b = engine.index.documents["a/news"], engine.index.documents["b/news"]
    assert (a.title, b.title) == ("Bài ở thư mục a", "Bài ở thư mục b")
    by_doc = {c.doc_id for c in engine.index.chunks}
    assert {"a/news", "b/news"} <= by_doc
    answer = engine.ask("bài b về giáo dục")
    assert answer.sources[0].doc_id == "b/news" and answer.sources[0].title == "Bài ở thư mục b"


def test_an_id_taken_twice_in_one_folder_is_refused_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "news.md").write_text("Bài md\n\nNội dung.", encoding="utf-8")
    (folder / "news.txt").write_text("Bài txt\n\nNội dung.", encoding="utf-8")
    corpus = read_corpus(folder)
    assert [d.doc_id for d in corpus.documents] == ["news"]
    [skipped] = corpus.skipped
    assert skipped.path.name == "news.txt" and "taken by news.md" in skipped.reason


def test_qa_index_counts_types_and_lists_what_it_did_not_index(tmp_path: Path) -> None:
    folder = formats.write_mixed(tmp_path / "mixed")
    result = CliRunner().invoke(
        app, ["index", "--seeds", str(folder), "--index", str(tmp_path / "i"), "--model", "fake"]
    )
    assert result.exit_code == 0, result.output
    assert "Indexed 6 articles (1 docx, 1 html, 1 md, 1 pdf, 2 txt)" in result.output
    assert "Not indexed: 3 file(s): 1 of an unsupported type" in result.output
    assert "are read), 2 unusable\n" in result.output
    assert "scan.pdf: the PDF has no text layer" in result.output
    assert "photo.png: unsupported type (.png files are not read)" in result.output


def test_viewer_opens_an_article_in_a_subfolder_by_its_path_id(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from qa.server.app import create_app

    folder = formats.write_mixed(tmp_path / "mixed")
    settings = Settings(seeds_dir=folder, index_dir=tmp_path / "index", model="fake")
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        reply = client.post("/api/ask", json={"question": "bài b về giáo dục"}).json()
        assert reply["sources"][0]["doc_id"] == "b/news"
        page = client.get("/", params={"q": "bài b về giáo dục"}, headers={"Accept": "text/html"})
        assert "/doc/b/news?start=" in page.text
        viewer = client.get("/doc/b/news", headers={"Accept": "text/html"})
        assert viewer.status_code == 200 and "Bài ở thư mục b" in viewer.text
        assert client.get("/doc/b/%2e%2e/a/news", headers={"Accept": "text/html"}).status_code == 404
        assert client.get("/doc/b", headers={"Accept": "text/html"}).status_code == 404


@pytest.mark.hostile
def test_front_matter_aliases_are_refused_not_expanded() -> None:
    # 391 bytes of this shape expand to a 7.2-million-character title; a small one shows the refusal
    levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
        for p, c in zip("abcd", "bcde", strict=True)
    ]
    text = "---\n" + "\n".join(levels) + "\ntitle: *e\n---\n\nBody text of the article.\n"
    with pytest.raises(UnreadableFileError, match="aliases"):
        parse_document("bomb.md", text.encode())


@pytest.mark.hostile
def test_a_one_line_file_has_a_bounded_title() -> None:
    line = "Một câu rất dài không có dấu xuống dòng " * 30_000  # 1.2 MB on one line
    document = parse_document("long.txt", line.encode())
    assert len(document.title) <= MAX_TITLE_CHARS and document.title.endswith("…")
    assert document.text == line.strip()  # the text itself is whole
