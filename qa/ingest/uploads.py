"""Adding and removing article files in the articles folder, safely, for the chat page and the API.

A name is checked before anything is written (no folders, NUL, control or reserved characters, no
hidden or reserved names); the content is parsed the way indexing will parse it, so a file that would
be skipped (a zip bomb, a scan, not UTF-8) is refused with the reason and never written. Writes go to a
hidden temporary file in the same folder (which indexing ignores), are flushed, then renamed into
place, so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArticleExistsError, ArticleNotFoundError, UnreadableFileError, UploadError
from ..types import Document
from . import trash
from .corpus import document_id, parse_document, suffix
from .loaders import SUFFIXES

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
    if any(unicodedata.category(c) == "Cf" for c in name):
        # right-to-left override, zero-width characters: a name that reads as another
        raise UploadError(f"the file name {name!r} contains an invisible formatting character")
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
    checked: list[tuple[str, bytes, Document]] = []
    for raw, data in files:
        name = check_name(raw)
        try:
            document = parse_document(name, data)
        except UnreadableFileError as exc:
            raise UploadError(f"{name}: {exc.reason}") from None
        if any(document.doc_id == other.doc_id for *_, other in checked):
            raise UploadError(f"{name}: the upload holds two files of the article id {document.doc_id!r}")
        checked.append((name, data, document))
    folder.mkdir(parents=True, exist_ok=True)
    with _SAVING:  # checks and writes of one server, in turn; the exclusive link holds across processes
        existed = [_check_free(folder, name, document.doc_id, replace) for name, _, document in checked]
        for (name, data, _), there in zip(checked, existed, strict=True):
            _write_atomically(folder, name, data, replace=there)
    return [Saved(name, document, there) for (name, _, document), there in zip(checked, existed, strict=True)]


_SAVING = threading.Lock()


def _check_free(folder: Path, name: str, doc_id: str, replace: bool) -> bool:
    """Whether ``name`` is in ``folder`` already (to be replaced); raises :class:`ArticleExistsError`
    naming the file that holds the article id when it is another file, or this one without ``replace``."""
    owners = sorted(
        p.name
        for p in folder.glob(glob.escape(Path(name).stem) + ".*")
        if suffix(p.name).lower() in SUFFIXES and document_id(Path(p.name)) == doc_id
    )
    other = next((o for o in owners if o != name), None)
    if other is not None:
        raise ArticleExistsError(
            f"the article id {doc_id!r} is taken by {other!r} in the folder: remove that file first, or "
            "give this one another name"
        )
    if name in owners and not replace:
        raise ArticleExistsError(
            f"an article named {name!r} is already in the folder; replace it to update it"
        )
    return name in owners


def _write_atomically(folder: Path, name: str, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to a hidden temporary file, flushed, then move it to ``name``: over the old file
    when ``replace``, else by a hard link that fails if the name was taken meanwhile (create-exclusive)."""
    handle, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, folder / name)
        else:
            try:
                os.link(temp, folder / name)
            except FileExistsError:
                raise ArticleExistsError(
                    f"an article named {name!r} was added to the folder meanwhile; replace it to update it"
                ) from None
    finally:
        Path(temp).unlink(missing_ok=True)


def remove_article(folder: Path, document: Document) -> str:
    """Move the file ``document`` was read from, which must lie inside ``folder``, to the folder's trash;
    the trash entry that :func:`restore_article` takes.

    Raises :class:`UploadError` (404) when the file is gone or is not inside the folder.
    """
    path = Path(document.path)
    real = path.parent.resolve() / path.name  # the link itself when the article is a symlink
    root = folder.resolve()
    inside = real.is_relative_to(root) and document_id(real.relative_to(root)) == document.doc_id
    if not inside or not path.is_file():
        raise ArticleNotFoundError(f"the file of {document.doc_id!r} is not in the articles folder")
    with _SAVING:
        return trash.discard(root, real.relative_to(root))


def restore_article(folder: Path, entry: str) -> str:
    """Put the file of trash ``entry`` back in ``folder``; its article id. Raises
    :class:`ArticleNotFoundError` (404) for an unknown entry, :class:`ArticleExistsError` (409) when its
    name or article id was taken meanwhile."""

    def free(dest: Path) -> None:
        _check_free(dest.parent, dest.name, document_id(Path(dest.name)), replace=False)

    root = folder.resolve()
    with _SAVING:
        return document_id(trash.restore(root, entry, free).relative_to(root))
