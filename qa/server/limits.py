"""ASGI guards in front of the app: the Host allow-list, request-body size limit and an overload gate.

* :class:`HostCheck` answers 421 to a request addressed to a host name not on the allow-list: a web
  page that rebinds its own name to 127.0.0.1 reaches the port, but its requests still name its host.

* :class:`BodyLimit` answers 413 as soon as a body is known to be too large: at once from
  ``Content-Length``, or while a chunked body streams in; the rest is never read, so memory does not
  grow with the body.
* :class:`Gate` lets ``concurrency`` question requests run at once and ``waiting`` more queue; beyond
  that it answers 503 with ``Retry-After`` immediately instead of letting requests time out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..config import ANY_INTERFACE, Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """A complete JSON error response ``{"detail": ...}`` that closes the connection."""
    body = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"x-content-type-options", b"nosniff"),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def allowed_hosts(settings: Settings) -> frozenset[str]:
    """The host names of ``settings.allowed_hosts``, with the one the server listens on when it is a name
    or an address rather than every interface."""
    hosts = {h.strip().lower().strip("[]") for h in settings.allowed_hosts}
    if settings.host not in ANY_INTERFACE:
        hosts.add(settings.host.lower().strip("[]"))
    return frozenset(hosts)


def host_name(header: str) -> str:
    """The host name of a Host header: without the port, lower case, IPv6 without brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """Refuse requests whose Host header names a host outside ``allowed`` (``*`` allows any) with 421."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "*" not in self.allowed:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if host_name(host) not in self.allowed:
                detail = (
                    f"this server does not answer for the host {host!r}: add it to QA_ALLOWED_HOSTS "
                    "when a reverse proxy serves it under that name"
                )
                if scope["type"] == "http":
                    await send_json(send, 421, detail)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (or the limit of their path in ``paths``) with 413.

    The body (at most the limit) is read before the app runs and replayed to it, so an oversized
    one is refused before any route sees it, whether its size was announced or it arrived chunked.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, paths: dict[str, int] | None = None, timeout: float = 30.0
    ) -> None:
        self.app = app
        self.default = max_bytes
        self.paths = paths or {}
        self.timeout = timeout  # seconds to wait for each piece of a body before answering 408

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope["path"], self.default)
        detail = f"request body too large: the limit is {limit} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                announced = int(length)
            except ValueError:
                await send_json(send, 400, "invalid Content-Length header")
                return
            if announced > limit:
                await send_json(send, 413, detail)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:  # a body shorter than its Content-Length, or a client gone quiet
                await send_json(send, 408, f"the request body did not arrive within {self.timeout:g} s")
                return
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await send_json(send, 413, detail)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@dataclass
class Load:
    """Questions being answered and questions waiting, as the gate counts them."""

    running: int = 0
    queued: int = 0


class Gate:
    """At most ``concurrency`` requests to ``paths`` at once, ``waiting`` more queued, the rest get 503."""

    def __init__(
        self, app: ASGIApp, concurrency: int, waiting: int, paths: frozenset[str], load: Load | None = None
    ) -> None:
        self.app = app
        self.paths = paths
        self.waiting = waiting
        self.load = load or Load()
        self._semaphore: asyncio.Semaphore | None = None
        self._concurrency = concurrency

    def _guarded(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return False
        # the chat page only does work when it carries a question
        return scope["path"] != "/" or b"q=" in scope.get("query_string", b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        if self._semaphore.locked() and self.load.queued >= self.waiting:
            await send_json(send, 503, "the server is busy: try again in a moment", {"retry-after": "1"})
            return
        self.load.queued += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.load.queued -= 1
        self.load.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.load.running -= 1
            self._semaphore.release()
