"""Articles on disk -> :class:`Document`: the only module that reads article files.

A document's ``text`` is the file's NFC text with page furniture (comment boxes, weather widgets,
"follow us" lines) removed; every offset elsewhere in vnqa points into that text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import EmptyCorpusError, UnreadableFileError
from .text import nfc
from .types import Document

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


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file under the corpus folder that is not indexed, and why."""

    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """The readable articles of a folder (files and documents in the same order) and what was skipped."""

    files: list[SourceFile]
    documents: list[Document]
    skipped: list[Skipped]


def check_folder(folder: Path) -> None:
    """Raise :class:`EmptyCorpusError` naming the absolute path when ``folder`` is not a directory."""
    if not folder.is_dir():
        raise EmptyCorpusError(
            f"articles folder not found: {folder.absolute()} (give --seeds DIR or set QA_SEEDS_DIR)"
        )


def read_corpus(folder: Path) -> Corpus:
    """Every usable article under ``folder`` (recursive, sorted by path).

    Symlinks that lead outside the folder, empty files and files that are not UTF-8 text are skipped
    and listed, each with the reason. Raises :class:`EmptyCorpusError` when the folder
    is missing or holds no usable article.
    """
    check_folder(folder)
    root = folder.resolve()
    files: list[SourceFile] = []
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            skipped.append(Skipped(path, f"it links outside {folder}"))
            continue
        try:
            data = _read_bytes(path)
            if not data.strip():
                skipped.append(Skipped(path, "the file is empty"))
                continue
            documents.append(_document(path, data))
            files.append(SourceFile(path, hashlib.sha256(data).hexdigest()))
        except UnreadableFileError as exc:
            skipped.append(Skipped(path, exc.reason))
    if not documents:
        why = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:3])
        raise EmptyCorpusError(
            f"no articles (*.txt, *.md) in {folder}" + (f" (skipped {why})" if why else "")
        )
    return Corpus(files, documents, skipped)


def load_documents(folder: Path) -> list[Document]:
    """The usable articles under ``folder`` as :class:`Document`, sorted by path (see :func:`read_corpus`)."""
    return read_corpus(folder).documents


def read_document(path: Path) -> Document:
    """One article file -> :class:`Document` (NFC, furniture removed, title/url/date extracted)."""
    return _document(path, _read_bytes(path))


def _document(path: Path, data: bytes) -> Document:
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from None
    text = clean(nfc(raw))
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise UnreadableFileError(path, "no article text after removing page furniture")
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
        raise UnreadableFileError(path, str(exc.strerror or exc)) from None
