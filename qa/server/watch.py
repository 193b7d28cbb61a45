"""What the server watches: a newly published index to swap in, and the articles folder to index again."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import FastAPI
from watchfiles import awatch

from ..config import Settings
from ..engine import Engine
from ..engine import published as engine_published
from ..errors import QAError
from .updates import FolderWatch

log = logging.getLogger(__name__)

WATCH_COST_FACTOR = 20  # the folder watch pauses at least this many times as long as it looked
WATCH_DEBOUNCE_MS = 200  # changes the OS reports within this long are looked at together


async def watch_index(app: FastAPI, settings: Settings) -> None:
    """Swap to a newly published index (``qa index`` replaced the ``current`` link, a segment of changes
    was published, or, serving PostgreSQL's build without a local index, a new build was published
    there) without downtime.

    Requests take ``app.state.engine`` once, so each is answered wholly by the old or wholly by the new
    index; a build that fails verification is logged and the old index keeps serving.
    """
    failed: str | None = None
    while True:
        await asyncio.sleep(settings.reload_interval)
        engine: Engine | None = app.state.engine
        published = await asyncio.to_thread(engine_published, settings)
        if published is None or published in (failed, engine.index.version if engine else None):
            continue
        try:
            fresh = await asyncio.to_thread(
                Engine.open, settings, engine.embedder if engine else None, build_missing=False
            )
        except QAError as exc:
            log.error("not switching to %s: %s", published, exc)
            if engine is None:
                app.state.problem = str(exc)
            failed = published
            continue
        app.state.engine, app.state.problem = fresh, None
        log.info("now serving %s", fresh.index.version)


async def watch_folder(app: FastAPI, settings: Settings, watch: FolderWatch) -> None:
    """Index the articles folder again, in the background, whenever its articles change.

    The OS tells at once when a file in the folder is saved (inotify, through watchfiles); the folder is
    also looked at in full from time to time, which catches what the OS cannot report (some network
    file systems, a watch that failed to start). Looking costs about 0.4 CPU-s for 35,000 files, so those
    looks pause at least 20 times as long as the last one took (at most 5% of a core).
    """
    told = asyncio.create_task(_told_by_the_os(app, settings, watch))
    try:
        while True:  # the first look is at once: it compares the folder with the index just loaded
            began = time.monotonic()  # not the process's CPU time, which an update beside it inflates
            await _look(app, settings, watch)
            await asyncio.sleep(max(settings.watch_interval, WATCH_COST_FACTOR * (time.monotonic() - began)))
    finally:
        told.cancel()


async def _told_by_the_os(app: FastAPI, settings: Settings, watch: FolderWatch) -> None:
    if not settings.seeds_dir.is_dir():  # a server of the database's build without the articles
        return
    try:
        async for _ in awatch(settings.seeds_dir, debounce=WATCH_DEBOUNCE_MS, recursive=True):
            await _look(app, settings, watch)
    except (OSError, RuntimeError) as exc:  # no inotify here: the full looks alone notice changes
        log.warning(
            "the OS cannot report changes in %s (%s): looking for them instead", settings.seeds_dir, exc
        )


async def _look(app: FastAPI, settings: Settings, watch: FolderWatch) -> None:
    if await asyncio.to_thread(watch.changed):
        log.info("the articles in %s changed: indexing them", settings.seeds_dir)
        app.state.updater.request()
