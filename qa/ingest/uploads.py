"""Adding and removing article files in the articles folder, safely, for the chat page and the API.

A name is checked before anything is written (no folders, NUL, control or reserved characters, no
hidden or reserved names); the content is parsed the way indexing will parse it, so a file that would
be skipped (a zip bomb, a scan, not UTF-8) is refused with the reason and never written. Writes go to a
hidden temporary file in the same folder (which indexing ignores), are flushed, then renamed into
place, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArticleExistsError, ArticleNotFoundError, UnreadableFileError, UploadError
from ..types import Document
from .corpus import document_id, parse_document

MAX_NAME_BYTES = 200
_RESERVED_CHARS = re.compile(r'[<>:"|?*\\/\x00-\x1f\x7f]')
_RESERVED_NAMES = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Saved:
    """An article file written into the folder: its name, the document it gives, and whether it replaced
    an earlier file of that name."""

    name: str
    document: Document
    replaced: bool


def check_name(name: str) -> str:
    """The NFC file name to store an upload under; raises :class:`UploadError` when it is unsafe."""
    if "\x00" in name:
        raise UploadError("the file name contains a NUL character")
    if "/" in name or "\\" in name:
        raise UploadError(f"the file name {name!r} contains a folder; send the file's own name only")
    name = unicodedata.normalize("NFC", name.strip())
    if not name or name in (".", ".."):
        raise UploadError("the file has no name")
    if _RESERVED_CHARS.search(name):
        raise UploadError(f'the file name {name!r} contains a reserved character (<>:"|?* or a control)')
    if name.startswith("."):
        raise UploadError(f"the file name {name!r} starts with a dot (hidden files are not articles)")
    if _RESERVED_NAMES.match(name):
        raise UploadError(f"the file name {name!r} is reserved on Windows; rename the file")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UploadError(f"the file name is longer than {MAX_NAME_BYTES} bytes")
    return name


def save_articles(folder: Path, files: list[tuple[str, bytes]], *, replace: bool = False) -> list[Saved]:
    """Check every ``(name, data)``, then write each atomically as ``folder/name``.

    Nothing is written unless all pass. Raises :class:`UploadError`: 422 for a bad name or content (or
    one name twice), 409 when a name exists in the folder and not ``replace``.
    """
    checked: list[tuple[str, bytes, Document, bool]] = []
    for raw, data in files:
        name = check_name(raw)
        try:
            document = parse_document(name, data)
        except UnreadableFileError as exc:
            raise UploadError(f"{name}: {exc.reason}") from None
        if any(name == other for other, *_ in checked):
            raise UploadError(f"{name} is in the upload twice")
        existed = (folder / name).exists()
        if existed and not replace:
            raise ArticleExistsError(
                f"an article named {name!r} is already in the folder; replace it to update it"
            )
        checked.append((name, data, document, existed))
    folder.mkdir(parents=True, exist_ok=True)
    for name, data, *_ in checked:
        _write_atomically(folder, name, data)
    return [Saved(name, document, existed) for name, _, document, existed in checked]


def _write_atomically(folder: Path, name: str, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, folder / name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def remove_article(folder: Path, document: Document) -> Path:
    """Delete the file ``document`` was read from, which must lie inside ``folder``; returns its path.

    Raises :class:`UploadError` (404) when the file is gone or is not inside the folder.
    """
    path = Path(document.path)
    real = path.parent.resolve() / path.name  # the link itself when the article is a symlink
    root = folder.resolve()
    inside = real.is_relative_to(root) and document_id(real.relative_to(root)) == document.doc_id
    if not inside or not path.is_file():
        raise ArticleNotFoundError(f"the file of {document.doc_id!r} is not in the articles folder")
    path.unlink()
    return path
