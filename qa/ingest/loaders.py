"""File bytes -> :class:`Article` (title, plain text, date, url, author), one loader per file type.

Each loader is pure: it gets the bytes of one file and returns the text people will read, which is
what every offset in vnqa points into. Saved web pages go through trafilatura (main text without
navigation, ads and comments), PDF through pypdf (the text layer), Word through python-docx (headings
and paragraphs in order), Markdown through python-frontmatter and markdown-it-py (front matter read,
syntax removed). A file that cannot give an article raises :class:`UnreadableFileError` with the
reason.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import UnreadableFileError

# An archive (DOCX) whose members expand beyond this is refused before it is parsed: a zip bomb.
MAX_EXPANDED_BYTES = 100 * 2**20
MAX_EXPANSION_RATIO = 200

_ISO_DATE = re.compile(r"^((?:19|20)\d{2})-(\d{2})-(\d{2})")
_STOPS = (".", "!", "?", ":", "…")
_SHORT_LINE = 0.6  # of the page's longest line


@dataclass(frozen=True, slots=True)
class Article:
    """What a loader found in one file; ``text`` starts with the title line when there is one."""

    text: str
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD
    url: str | None = None
    author: str | None = None


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text (a BOM is dropped); :class:`UnreadableFileError` when the bytes are not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from None


def load_text(path: Path, data: bytes) -> Article:
    """A plain-text article: title on the first line, byline date and "Nguồn: URL" found by the corpus."""
    return Article(decode(path, data))


def load_markdown(path: Path, data: bytes) -> Article:
    """Markdown with optional YAML front matter (``title``, ``date``, ``url``/``source``, ``author``).

    The text keeps headings, paragraphs, list items and table cells as lines, without Markdown syntax;
    the title is the front matter's, else the first heading.
    """
    import frontmatter
    from markdown_it import MarkdownIt

    raw = decode(path, data)
    try:
        post = frontmatter.loads(raw, handler=_plain_handler())
    except _AliasError:
        raise UnreadableFileError(
            path, "its front matter uses YAML aliases, which vnqa does not expand"
        ) from None
    except Exception as exc:  # yaml raises many types; any of them means the front matter is broken
        why = f"its front matter is not valid YAML ({type(exc).__name__})"
        raise UnreadableFileError(path, why) from None
    meta: dict[str, Any] = dict(post.metadata)
    blocks: list[str] = []
    heading: str | None = None
    tokens = MarkdownIt("commonmark").enable("table").parse(post.content)
    for i, token in enumerate(tokens):
        if token.type != "inline":
            continue
        line = _inline_text(token.children or [])
        if not line:
            continue
        if heading is None and i > 0 and tokens[i - 1].type == "heading_open":
            heading = line
        blocks.append(line)
    title = _text(meta.get("title")) or heading
    return Article(
        _with_title(title, blocks),
        title=title,
        date=_date(meta.get("date")),
        url=_text(meta.get("url") or meta.get("source") or meta.get("canonical_url") or meta.get("link")),
        author=_text(meta.get("author")),
    )


class _AliasError(ValueError):
    """A YAML alias (``*name``) in front matter."""


def _plain_loader() -> type[Any]:
    """PyYAML's safe loader refusing aliases: expanding them lets a few hundred bytes of front matter
    become gigabytes (a "billion laughs"), and article metadata never needs them."""
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _AliasError("YAML alias")
            return super().compose_node(parent, index)

    return Loader


def _plain_handler() -> Any:
    from frontmatter.default_handlers import YAMLHandler

    class Handler(YAMLHandler):
        def load(self, fm: str, **kwargs: object) -> Any:
            import yaml

            return yaml.load(fm, Loader=_plain_loader())

    return Handler()


def load_html(path: Path, data: bytes) -> Article:
    """A saved web page: the article's main text, title, date, author and canonical URL (trafilatura)."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # it logs every page it finds thin
    found = trafilatura.bare_extraction(
        data, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
    )
    page: dict[str, Any] = {} if found is None else found if isinstance(found, dict) else found.as_dict()
    body = str(page.get("text") or "")
    if not body.strip():
        raise UnreadableFileError(path, "no article text found in the web page")
    lines = [line.strip() for line in body.split("\n") if line.strip()]
    title = _text(page.get("title"))
    url = str(page.get("url") or "")
    return Article(
        _with_title(title, lines),
        title=title,
        date=_date(page.get("date")),
        url=url if url.startswith(("http://", "https://")) else None,
        author=_text(page.get("author")),
    )


def load_pdf(path: Path, data: bytes) -> Article:
    """A PDF's text layer, page by page; a scan without one is refused with that reason.

    Title and author come from the document properties; the text's byline gives the date.
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-but-readable files log per object
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFileError(path, "the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableFileError(path, f"not a readable PDF ({exc})") from None
    blocks = [paragraph for page in pages for paragraph in _paragraphs(page)]
    if not blocks:
        raise UnreadableFileError(path, "the PDF has no text layer (a scan?); run OCR on it first")
    # the file's creation date is when it was made, not when the article was published: the date
    # comes from the text's byline, as for plain text
    title = _text(info.title) if info is not None else None
    author = _text(info.author) if info is not None else None
    return Article(_with_title(title, blocks), title=title, author=author)


def load_docx(path: Path, data: bytes) -> Article:
    """A Word document's headings and paragraphs in order; title from its properties or first heading."""
    import docx

    _check_archive(path, data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, BadZipFile... for broken files
        raise UnreadableFileError(path, f"not a readable Word document ({type(exc).__name__})") from None
    blocks: list[str] = []
    heading: str | None = None
    for paragraph in document.paragraphs:
        line = " ".join(paragraph.text.split())
        if not line:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if heading is None and (style.startswith("Heading") or style == "Title"):
            heading = line
        blocks.append(line)
    props = document.core_properties
    title = _text(props.title) or heading
    return Article(_with_title(title, blocks), title=title, author=_text(props.author))


LOADERS: dict[str, Callable[[Path, bytes], Article]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}
SUFFIXES = tuple(LOADERS)


def _check_archive(path: Path, data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise UnreadableFileError(path, "not a Word document (.docx is a zip archive)") from None
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_EXPANSION_RATIO * max(len(data), 1):
        raise UnreadableFileError(
            path, f"the archive would expand to {expanded / 2**20:.0f} MB from {len(data) / 2**20:.1f} MB"
        )


def _inline_text(children: list[Any]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return " ".join("".join(parts).split())


def _with_title(title: str | None, blocks: list[str]) -> str:
    """The blocks as paragraphs, under a title line unless a block already is the title; a title the
    text wraps over its first few blocks (a PDF's heading, line by line) becomes one line again."""
    if title and title.casefold() not in (block.casefold() for block in blocks):
        blocks = [title, *blocks[_wrapped(title, blocks) :]]
    return "\n\n".join(blocks)


def _wrapped(title: str, blocks: list[str], most: int = 4) -> int:
    """How many of the first ``most`` blocks, joined, spell ``title`` (0 if none do)."""
    wanted = " ".join(title.split()).casefold()
    joined = ""
    for count, block in enumerate(blocks[:most], start=1):
        joined = f"{joined} {' '.join(block.split())}".strip().casefold()
        if joined == wanted:
            return count
        if not wanted.startswith(joined):
            break
    return 0


def _paragraphs(page: str) -> list[str]:
    """A PDF page's lines joined into paragraphs: a line ends its paragraph when it ends a sentence or
    stops well short of the page's full line width (a title, a heading, a paragraph's last line)."""
    lines = [line.strip() for line in page.splitlines()]
    full = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if line:
            current.append(line)
        if current and (not line or line.endswith(_STOPS) or len(line) < _SHORT_LINE * full):
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def _text(value: object) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def _date(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    match = _ISO_DATE.match(str(value).strip()) if value is not None else None
    if match and 1 <= int(match.group(2)) <= 12 and 1 <= int(match.group(3)) <= 31:
        return "-".join(match.groups())
    return None
