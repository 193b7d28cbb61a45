"""Keeping a served index up to date: updates in a background thread, one at a time, on request.

The server asks for an update when an article is uploaded or deleted, or when :class:`FolderWatch` sees
the articles folder change. Requests that arrive during an update are folded into the next one. An
update lays the changed articles over the served build as a segment (:mod:`qa.segments`: only they are
read and embedded; with the PostgreSQL store too, whose build stays as it was published), or builds the
index anew when the changes are too many for a segment (reusing the vectors of unchanged texts). Either
is published atomically and the new :class:`Engine` handed to ``publish``; until then the old one keeps
answering, so no answer mixes versions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..embed import Embedder
from ..engine import Engine
from ..errors import CorpusError, QAError
from ..index.build import build_index
from ..index.segments import update
from ..ingest.corpus import suffix, walk
from ..ingest.loaders import SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """A snapshot of the updater.

    ``completed`` counts finished builds; a change requested with ticket ``t`` is searchable once
    ``completed >= t`` (and ``error`` is None). ``done``/``total`` count texts embedded in the running
    build; ``eta_seconds`` is None until a rate is known.
    """

    state: str  # "idle" or "indexing"
    completed: int
    pending: bool
    done: int = 0
    total: int = 0
    eta_seconds: float | None = None
    error: str | None = None
    skipped: tuple[dict[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "skipped": list(self.skipped)}


RETRY_SECONDS = 60.0  # a failed update is tried again after this long (or at the next change)


class Updater:
    """Rebuilds the index of ``settings`` in a daemon thread whenever :meth:`request` is called."""

    def __init__(
        self,
        settings: Settings,
        embedder: Callable[[], Embedder],
        publish: Callable[[Engine], None],
        serving: Callable[[], Engine | None] = lambda: None,
        reading: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._publish = publish
        self._serving = serving  # the engine answering now: an update starts from its index
        self._reading = reading  # called as an update starts reading the folder (FolderWatch.mark)
        self._changed = threading.Condition()
        self._wanted = False
        self._closed = False
        self._started = 0  # builds begun
        self._status = UpdateStatus("idle", 0, False)
        self._began = 0.0
        self._thread = threading.Thread(target=self._run, name="vnqa-updater", daemon=True)
        self._thread.start()

    def request(self) -> int:
        """Ask for a rebuild; returns the ticket: the change is searchable once ``completed`` reaches it."""
        with self._changed:
            self._wanted = True
            self._status = replace(self._status, pending=True)
            self._changed.notify_all()
            return self._started + 1

    def status(self) -> UpdateStatus:
        with self._changed:
            return self._status

    def wait(self, ticket: int, timeout: float) -> UpdateStatus:
        """Block until build ``ticket`` has finished (or ``timeout`` seconds passed); the status then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._status.completed < ticket and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self._status

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _run(self) -> None:
        failed = False
        while True:
            with self._changed:
                while not self._wanted and not self._closed:
                    # after a failure (a full disk, a database away) the update is tried again later
                    if not self._changed.wait(RETRY_SECONDS if failed else None) and failed:
                        self._wanted = True
                if self._closed:
                    return
                self._wanted = False
                self._started += 1
                self._began = time.monotonic()
                self._status = replace(self._status, state="indexing", pending=False, done=0, total=0)
                self._changed.notify_all()
            error = None
            retry = True  # a full disk or a database away may pass; a folder without articles waits for one
            skipped: tuple[dict[str, str], ...] = ()
            try:
                skipped = self._update()
            except CorpusError as exc:
                error, retry = str(exc), False
                log.warning("nothing to index: %s", exc)
            except QAError as exc:
                error = str(exc)
                log.error("index update failed, the previous index keeps serving: %s", exc)
            except Exception as exc:  # a bug must not kill the thread that keeps the index current
                error = f"{type(exc).__name__}: {exc}"
                log.exception("index update failed, the previous index keeps serving")
            failed = error is not None and retry
            with self._changed:
                self._status = UpdateStatus("idle", self._started, self._wanted, error=error, skipped=skipped)
                self._changed.notify_all()

    def _update(self) -> tuple[dict[str, str], ...]:
        """Bring the served index up to the folder and publish it; the files skipped."""
        self._reading()
        engine = self._serving()
        if engine is not None:
            index = update(self._settings, engine.embedder, engine.index, self._progress)
            if index is not None:
                if index is not engine.index:
                    self._publish(engine.serving(index))
                counts = index.counts()
                log.info("index updated: %d articles, %d chunks", counts["documents"], counts["chunks"])
                skipped = index.segment.skipped if index.segment is not None else ()
                return tuple({"path": str(s.path), "reason": s.reason} for s in skipped)
        embedder = self._embedder()
        # no engine: none was built, or the one there could not be loaded (a checksum failed): build anew
        report = build_index(self._settings, embedder, on_progress=self._progress, force=True)
        self._publish(Engine.open(self._settings, embedder, build_missing=False))
        log.info("index built: %d articles, %d chunks", report.documents, report.chunks)
        return tuple({"path": str(s.path), "reason": s.reason} for s in report.skipped)

    def _progress(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self._began
        eta = elapsed / done * (total - done) if done else None
        with self._changed:
            self._status = replace(self._status, done=done, total=total, eta_seconds=eta)


class FolderWatch:
    """Notices articles added, changed or removed in a folder by comparing names, sizes and mtimes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()  # the OS's notices and the periodic looks may ask at once
        # unknown: the first look reports a change, so the folder is compared with the index at start
        # (what changed while the server was down, or during its first build)
        self._last: frozenset[tuple[str, int, int]] | None = None

    def mark(self) -> None:
        """Take the folder as it is now as seen: an update is about to read it, so what changes after
        this is what the next look must report (even a change that undoes one made before)."""
        with self._lock:
            self._last = self._signature()

    def changed(self) -> bool:
        """Whether the folder's articles differ from the last call (always true for the first)."""
        with self._lock:
            now = self._signature()
            if now == self._last:
                return False
            self._last = now
            return True

    def _signature(self) -> frozenset[tuple[str, int, int]]:
        seen = set()
        for rel, entry in walk(self.folder):
            if suffix(entry.name).lower() not in SUFFIXES:
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            seen.add((rel, stat.st_size, stat.st_mtime_ns))
        return frozenset(seen)
