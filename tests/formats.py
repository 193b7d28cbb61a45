"""Real article files of every supported type, written with the libraries made for each format."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

PAGE_TITLE = "Hà Nội tinh giản 1.549 biên chế trong một năm"
PAGE = f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<title>{PAGE_TITLE} - Báo Thủ Đô</title>
<meta property="og:title" content="{PAGE_TITLE}">
<link rel="canonical" href="https://baothudo.example.vn/ha-noi-tinh-gian-bien-che.html">
<meta name="author" content="Nguyễn Minh Anh">
<meta property="article:published_time" content="2018-02-09T08:00:00+07:00">
<script>document.title = "hacked"; alert("xss");</script>
<style>body {{ font-family: serif; }}</style>
</head><body>
<header><nav><a href="/">Trang chủ</a> <a href="/thoi-su">Thời sự</a>
<a href="/login">Đăng nhập</a></nav></header>
<div class="advertisement">Quảng cáo: điện thoại giảm giá 50% chỉ hôm nay</div>
<main><article>
<h1>{PAGE_TITLE}</h1>
<p>Sáng 9/2, Thành ủy Hà Nội và Ban Tổ chức Trung ương tổ chức hội nghị sơ kết một năm thực hiện
Chương trình phối hợp công tác giữa hai cơ quan.</p>
<p>Theo báo cáo, thành phố đã giảm 59 phòng và tương đương, tinh giản 1.549 biên chế trong các cơ
quan hành chính và đơn vị sự nghiệp.</p>
<p>Đồng chí Hoàng Trung Hải phát biểu chỉ đạo, đề nghị các cấp ủy tiếp tục sắp xếp tổ chức bộ máy
tinh gọn, hoạt động hiệu lực, hiệu quả.</p>
</article></main>
<section id="comments" class="comments"><h3>Bình luận</h3>
<div class="comment"><p>Bài viết rất hay, cảm ơn tác giả rất nhiều!</p></div></section>
<footer><p>© 2018 Báo Thủ Đô. Liên hệ quảng cáo: 024 0000 0000.</p></footer>
</body></html>
"""

MARKDOWN = """---
title: Hội nghị trực tuyến toàn quốc về công tác tổ chức
date: 2023-08-07
url: https://example.vn/hoi-nghi-truc-tuyen
author: T. Hương
---
# Hội nghị trực tuyến toàn quốc về công tác tổ chức

Đồng chí **Trương Thị Mai** chủ trì hội nghị trực tuyến toàn quốc, tổ chức tại [Hà Nội](https://hanoi.vn).

- Các đại biểu nghe quán triệt *5 văn bản* mới của Trung ương.
- Hội nghị kéo dài `một ngày`.
"""

PDF_TITLE = "Báo cáo sơ kết công tác cán bộ năm 2018"
PDF_LINES = [
    "Hà Nội, ngày 20/12/2018",
    "Ban Tổ chức Thành ủy đã trao Kỷ niệm chương cho 23 cán bộ có nhiều đóng góp.",
    "Hội nghị diễn ra tại Hà Nội với sự tham dự của lãnh đạo các sở, ngành.",
]

DOCX_TITLE = "Tổng kết công tác phối hợp giai đoạn 2017-2020"
DOCX_PARAGRAPHS = [
    "Hà Nội, ngày 15/12/2020",
    "Ban Thường vụ Thành ủy Hà Nội đánh giá Chương trình phối hợp đạt nhiều kết quả quan trọng.",
    "Kết quả nổi bật",
    "Thành phố đã sắp xếp lại 120 đơn vị sự nghiệp công lập trong giai đoạn này.",
]


def pdf_bytes(
    title: str = PDF_TITLE,
    lines: list[str] = PDF_LINES,
    javascript: bool = False,
    heading: list[str] | None = None,
) -> bytes:
    """A one-page PDF with a real text layer (reportlab, DejaVu Sans for Vietnamese glyphs), its heading
    the title on one line or the ``heading`` lines (a title wrapped as a layout wraps a long one)."""
    import matplotlib
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(font)))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.setTitle(title)
    pdf.setAuthor("Văn phòng Thành ủy")
    pdf.setFont("DejaVuSans", 14)
    heading = heading or [title]
    for i, line in enumerate(heading):
        pdf.drawString(50, 800 - 18 * i, line)
    pdf.setFont("DejaVuSans", 10)
    top = 770 - 18 * (len(heading) - 1)
    for i, line in enumerate(lines):
        pdf.drawString(50, top - 16 * i, line)
    pdf.showPage()
    pdf.save()
    data = out.getvalue()
    if javascript:
        from pypdf import PdfReader, PdfWriter
        from pypdf.actions import JavaScript

        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.add_open_action(JavaScript("app.alert('pwned');"))
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    return data


def scanned_pdf_bytes() -> bytes:
    """A PDF page with no text layer (as a scan without OCR looks to a text extractor)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(title: str = DOCX_TITLE, paragraphs: list[str] = DOCX_PARAGRAPHS) -> bytes:
    """A Word document written with python-docx: a heading, paragraphs and a second-level heading."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = "Văn phòng Thành ủy"
    document.add_heading(title, level=1)
    for text in paragraphs:
        if text == "Kết quả nổi bật":
            document.add_heading(text, level=2)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A small .docx-named zip whose one member expands to 200 MB of zeros."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("word/document.xml", "w") as member,
    ):
        for _ in range(200):
            member.write(b"\0" * 2**20)
    return out.getvalue()


def write_mixed(folder: Path) -> Path:
    """A folder with one article of every type, a duplicate name in two subfolders, and unusable files."""
    (folder / "a").mkdir(parents=True)
    (folder / "b").mkdir()
    (folder / "page.html").write_text(PAGE, encoding="utf-8")
    (folder / "notes.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "report.pdf").write_bytes(pdf_bytes())
    (folder / "summary.docx").write_bytes(docx_bytes())
    (folder / "a" / "news.txt").write_text(
        "Bài ở thư mục a\n\nNguồn: https://a.example.vn/news\n\nNội dung bài a về giao thông.\n",
        encoding="utf-8",
    )
    (folder / "b" / "news.txt").write_text(
        "Bài ở thư mục b\n\nNội dung bài b về giáo dục.\n", encoding="utf-8"
    )
    (folder / "scan.pdf").write_bytes(scanned_pdf_bytes())
    (folder / "bomb.docx").write_bytes(zip_bomb_docx())
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder
