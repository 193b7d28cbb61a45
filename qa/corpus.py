"""Articles on disk -> :class:`Document`: the only module that reads article files.

A document's ``text`` is the file's NFC text with page furniture (comment boxes, weather widgets,
"follow us" lines) removed; every offset elsewhere in vnqa points into that text.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import EmptyCorpusError, UnreadableFileError
from .text import nfc
from .types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")

# Whole lines that are site chrome, wherever they stand.
_FURNITURE_LINE = re.compile(
    r"^(you are here|theo dõi .{1,60} trên|thời tiết|liên kết website|nổi bật|đừng bỏ lỡ|"
    r"chia sẻ|in bài|bản in|quảng cáo|tin liên quan|xem thêm)\s*:?$",
    re.IGNORECASE,
)
# Lines where the comment box / footer starts: they and everything after are dropped.
_FOOTER_START = re.compile(
    r"^(\(?\d+\)?\s*(bình luận|nhận xét:?)|đăng nhận xét|ý kiến bạn đọc|\(\*\)\s*không sao chép.*)$",
    re.IGNORECASE,
)
# Footer headings glued to the end of a text line ("Mai HiếuÝ KIẾN BẠN ĐỌC").
_GLUED_FOOTER = re.compile(r"(Ý KIẾN BẠN ĐỌC|Ý kiến bạn đọc)\s*$")
_URL = re.compile(r"\b(?:nguồn|source|theo)\b[^\n]{0,80}?(https?://[^\s<>\"')]+)", re.IGNORECASE)
_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d{2})\b")
_DATE_LINES = 4  # a publication date, when stated, sits in a short byline just under the title
_BYLINE_CHARS = 120


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An article file found under the corpus folder, with its SHA-256 (hex)."""

    path: Path
    sha256: str


def find_files(folder: Path) -> list[SourceFile]:
    """Article files under ``folder`` (recursive), sorted by path.

    Skips, with a warning, symlinks that point outside the folder and empty files.
    Raises :class:`EmptyCorpusError` when the folder is missing or holds no article.
    """
    if not folder.is_dir():
        raise EmptyCorpusError(f"articles folder not found: {folder}")
    root = folder.resolve()
    found: list[SourceFile] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            log.warning("skipped %s: it links outside %s", path, folder)
            continue
        data = _read_bytes(path)
        if not data.strip():
            log.warning("skipped %s: the file is empty", path)
            continue
        found.append(SourceFile(path, hashlib.sha256(data).hexdigest()))
    if not found:
        raise EmptyCorpusError(f"no articles (*.txt, *.md) in {folder}")
    return found


def load_documents(folder: Path) -> list[Document]:
    """Every article under ``folder`` as a :class:`Document`, sorted by ``doc_id``."""
    return [read_document(f.path) for f in find_files(folder)]


def read_document(path: Path) -> Document:
    """One article file -> :class:`Document` (NFC, furniture removed, title/url/date extracted)."""
    data = _read_bytes(path)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            f"cannot read {path}: not UTF-8 text (bad byte at offset {exc.start})"
        ) from None
    text = clean(nfc(raw))
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise UnreadableFileError(f"cannot read {path}: no article text after removing page furniture")
    url = _URL.search(text)
    return Document(
        doc_id=path.stem,
        title=lines[0],
        text=text,
        url=url.group(1).rstrip(".,;") if url else None,
        date=_find_date(lines[1 : 1 + _DATE_LINES]),
        path=str(path),
    )


def clean(text: str) -> str:
    """Drop page furniture lines and the trailing comment/footer block; keep article lines verbatim."""
    kept: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if _FOOTER_START.match(stripped):
            break
        glued = _GLUED_FOOTER.search(line)
        if glued and glued.start() > 0:
            kept.append(line[: glued.start()].rstrip())
            break
        if _FURNITURE_LINE.match(stripped):
            continue
        kept.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _find_date(lines: list[str]) -> str | None:
    for line in lines:
        match = _DATE.search(line) if len(line) <= _BYLINE_CHARS else None
        if match:
            day, month, year = (int(g) for g in match.groups())
            if 1 <= day <= 31 and 1 <= month <= 12:
                return f"{year:04d}-{month:02d}-{day:02d}"
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"cannot read {path}: {exc.strerror or exc}") from None
