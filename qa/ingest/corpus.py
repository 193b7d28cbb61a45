"""Articles on disk -> :class:`Document`: the only module that reads article files.

A file is turned into text by the loader for its type (:mod:`qa.loaders`); a document's ``text`` is
that NFC text with page furniture (comment boxes, weather widgets, "follow us" lines) removed, and
every offset elsewhere in vnqa points into it. A document's id is its path relative to the articles
folder, without the suffix (``a/news.txt`` -> ``a/news``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EmptyCorpusError, UnreadableFileError
from ..lang.text import nfc
from ..types import Document
from .loaders import LOADERS, SUFFIXES

MAX_FILE_BYTES = 50 * 2**20

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
    """A file under the corpus folder that is not indexed, and why; ``unsupported``: not an article type."""

    path: Path
    reason: str
    unsupported: bool = False


@dataclass(frozen=True, slots=True)
class Corpus:
    """The readable articles of a folder (files and documents in the same order), what was skipped, and
    the files left unread because the caller knows them already (see :func:`read_corpus`)."""

    files: list[SourceFile]
    documents: list[Document]
    skipped: list[Skipped]
    known: list[SourceFile] = field(default_factory=list)
    folder: Path = Path()

    def sha256s(self) -> dict[str, str]:
        """Relative path (posix, to ``folder``) -> SHA-256 of every usable article, read or known."""
        return {relative_path(f.path, self.folder): f.sha256 for f in (*self.files, *self.known)}


def check_folder(folder: Path) -> None:
    """Raise :class:`EmptyCorpusError` naming the absolute path when ``folder`` is not a directory."""
    if not folder.is_dir():
        raise EmptyCorpusError(
            f"articles folder not found: {folder.absolute()} (give --seeds DIR or set QA_SEEDS_DIR)"
        )


def read_corpus(
    folder: Path, max_bytes: int = MAX_FILE_BYTES, known: Callable[[str, str], bool] | None = None
) -> Corpus:
    """Every usable article under ``folder`` (recursive, sorted by path; hidden files and folders ignored).

    Files of other types, symlinks that lead outside the folder, files over ``max_bytes``, files that give
    no text, and a second file with the id of an earlier one (``news.txt`` beside ``news.md``) are
    skipped and listed, each with the reason. A file for which ``known(relative_path, sha256)`` is true is
    hashed but not parsed: it is listed in ``Corpus.known`` (an index that holds it already). Raises
    :class:`EmptyCorpusError` when the folder is missing or holds no usable article.
    """
    check_folder(folder)
    root = folder.resolve()
    files: list[SourceFile] = []
    documents: list[Document] = []
    skipped: list[Skipped] = []
    unread: list[SourceFile] = []
    seen: dict[str, Path] = {}
    for rel, entry in walk(folder):
        path = Path(entry.path)
        if not entry.is_file():
            continue
        doc_id = document_id(Path(rel))
        refused = _refused(entry, folder, root, doc_id, seen.get(doc_id))
        if refused is not None:
            skipped.append(refused)
            continue
        try:
            data = _read_within(entry, max_bytes)
            sha256 = hashlib.sha256(data).hexdigest()
            if known is not None and known(rel, sha256):
                unread.append(SourceFile(path, sha256))
                seen[doc_id] = path
                continue
            if not data.strip():
                skipped.append(Skipped(path, "the file is empty"))
                continue
            documents.append(_document(path, data, doc_id))
            files.append(SourceFile(path, sha256))
            seen[doc_id] = path
        except UnreadableFileError as exc:
            skipped.append(Skipped(path, exc.reason))
    if not documents and not unread:
        why = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:3])
        kinds = ", ".join(f"*{suffix}" for suffix in SUFFIXES)
        raise EmptyCorpusError(f"no articles ({kinds}) in {folder}" + (f" (skipped {why})" if why else ""))
    return Corpus(files, documents, skipped, unread, folder)


def _refused(
    entry: os.DirEntry[str], folder: Path, root: Path, doc_id: str, taken_by: Path | None
) -> Skipped | None:
    """Why the file ``entry`` is not read at all (its type, a link leaving ``folder``, its id taken by an
    earlier file), or None."""
    path = Path(entry.path)
    kind = suffix(entry.name).lower()
    if kind not in SUFFIXES:
        what = f"{kind} files" if kind else "files without a suffix"
        return Skipped(path, f"unsupported type ({what} are not read)", unsupported=True)
    if entry.is_symlink() and not path.resolve().is_relative_to(root):
        return Skipped(path, f"it links outside {folder}")
    if taken_by is not None:
        return Skipped(path, f"its id {doc_id!r} is taken by {taken_by.name}: rename one")
    return None


def _read_within(entry: os.DirEntry[str], max_bytes: int) -> bytes:
    """The file's bytes; :class:`UnreadableFileError` when it is over ``max_bytes`` or cannot be read."""
    size = entry.stat().st_size
    if size > max_bytes:
        reason = f"too large ({size / 2**20:.1f} MB; the limit is {max_bytes / 2**20:.0f} MB)"
        raise UnreadableFileError(Path(entry.path), reason)
    return _read_bytes(Path(entry.path))


def walk(folder: Path, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Entries under ``folder`` that are not hidden, in path order, with their paths relative to it
    (posix); symlinked folders are listed but not entered (as ``Path.rglob`` does)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        rel = prefix + entry.name
        yield rel, entry
        if entry.is_dir(follow_symlinks=False):
            yield from walk(Path(entry.path), rel + "/")


def suffix(name: str) -> str:
    """The suffix ``Path(name).suffix`` gives: from the last dot, unless it starts or ends the name."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def relative_path(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder``, posix-style: how an index lists its articles."""
    return path.relative_to(folder).as_posix()


def hidden(relative: Path) -> bool:
    """Whether a path (relative to the articles folder) is hidden or inside a hidden folder: not read."""
    return any(part.startswith(".") for part in relative.parts)


def document_id(relative: Path) -> str:
    """The id of the article at ``relative`` (to the articles folder): NFC posix path without suffix."""
    return nfc(relative.with_suffix("").as_posix())


def type_counts(corpus: Corpus) -> dict[str, int]:
    """Indexed files per type, e.g. ``{"html": 2, "txt": 5}`` (sorted by type)."""
    counts: dict[str, int] = {}
    for file in corpus.files:
        kind = file.path.suffix.lower().lstrip(".")
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


MAX_TITLE_CHARS = 300  # a longer title (a file's first line, front matter) is cut
MAX_META_CHARS = 2000  # URL and author


def load_documents(folder: Path) -> list[Document]:
    """The usable articles under ``folder`` as :class:`Document`, sorted by path (see :func:`read_corpus`)."""
    return read_corpus(folder).documents


def read_document(path: Path, doc_id: str | None = None) -> Document:
    """One article file -> :class:`Document` (NFC, furniture removed, title/url/date extracted)."""
    return _document(path, _read_bytes(path), doc_id or nfc(path.stem))


def parse_document(name: str, data: bytes) -> Document:
    """The article a file named ``name`` holding ``data`` would give (nothing is read or written);
    raises :class:`UnreadableFileError` with the reason when it would be skipped."""
    path = Path(name)
    if path.suffix.lower() not in SUFFIXES:
        raise UnreadableFileError(path, f"unsupported type (vnqa reads {', '.join(SUFFIXES)})")
    if not data.strip():
        raise UnreadableFileError(path, "the file is empty")
    return _document(path, data, document_id(path))


def _document(path: Path, data: bytes, doc_id: str) -> Document:
    article = LOADERS[path.suffix.lower()](path, data)
    text = clean(nfc(article.text))
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        raise UnreadableFileError(path, "no article text after removing page furniture")
    return Document(
        doc_id=doc_id,
        # the title goes into every passage of the article: a one-line file's whole text must not
        title=_capped(nfc(article.title) if article.title else lines[0], MAX_TITLE_CHARS),
        text=text,
        url=_capped(article.url, MAX_META_CHARS) if article.url else _url_in(text),
        date=article.date or _find_date(lines[1 : 1 + _DATE_LINES]),
        path=str(path),
        author=_capped(nfc(article.author), MAX_META_CHARS) if article.author else None,
    )


def _url_in(text: str) -> str | None:
    """The article's source URL from its text ("Nguồn: URL"), if it names one."""
    found = _URL.search(text)
    return _capped(found.group(1).rstrip(".,;"), MAX_META_CHARS) if found else None


def _capped(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, with "…" when it was cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2 :] else cut) + "…"


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
