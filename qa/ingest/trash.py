"""The articles folder's trash: a removed article's file is moved to ``.trash/ENTRY/`` (hidden, so never
indexed) and can be put back while it is there; entries older than ``KEEP_DAYS`` go at the next removal.

``ENTRY`` is the removal's time and a random part (``1765000000-1a2b3c4d``): the undo token the API gives.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ArticleExistsError, ArticleNotFoundError

TRASH = ".trash"
KEEP_DAYS = 7
_ENTRY = re.compile(r"^(\d{1,12})-[0-9a-f]{8}$")


def discard(folder: Path, relative: Path, now: float | None = None) -> str:
    """Move ``folder/relative`` into the trash; its entry (the undo token). Old entries are emptied."""
    now = time.time() if now is None else now
    entry = f"{int(now)}-{secrets.token_hex(4)}"
    target = folder / TRASH / entry / relative
    target.parent.mkdir(parents=True)
    os.replace(folder / relative, target)
    empty(folder, now)
    return entry


def restore(folder: Path, entry: str, free: Callable[[Path], None]) -> Path:
    """Put the file of trash ``entry`` back where it was; its path. Raises :class:`ArticleNotFoundError`
    when the entry is unknown or emptied, :class:`ArticleExistsError` when its name or article id is
    taken meanwhile (``free(dest)`` checks the id; the name is taken back exclusively)."""
    base = folder / TRASH / entry
    files = [p for p in base.rglob("*") if p.is_file()] if _ENTRY.match(entry) and base.is_dir() else []
    if len(files) != 1:
        raise ArticleNotFoundError(f"nothing to restore under {entry!r}: the trash keeps {KEEP_DAYS} days")
    relative = files[0].relative_to(base)
    dest = folder / relative
    dest.parent.mkdir(parents=True, exist_ok=True)
    free(dest)
    try:
        os.link(files[0], dest)
    except FileExistsError:
        raise ArticleExistsError(f"{relative.as_posix()!r} is in the folder again: not restored") from None
    shutil.rmtree(base)
    return dest


def empty(folder: Path, now: float) -> None:
    """Remove the trash entries older than ``KEEP_DAYS``."""
    trash = folder / TRASH
    for entry in trash.iterdir() if trash.is_dir() else ():
        found = _ENTRY.match(entry.name)
        if found and now - int(found[1]) > KEEP_DAYS * 86_400:
            shutil.rmtree(entry, ignore_errors=True)
