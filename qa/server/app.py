"""HTTP: the chat page, the article viewer and the JSON API, built by ``create_app(settings)``.

Routes::

    GET  /                 chat page; ``?q=...`` answers server-side (works with JavaScript off)
    GET  /turn?q=...       one answered turn as an HTML fragment (the page's script appends it)
    GET  /doc/{doc_id}     an article, with ``start``/``end`` (passage) and ``es``/``ee`` (evidence) marked;
                           ids are paths like ``a/news``, looked up in the index only
    POST /api/ask          {"question", "top_k": 1..20, "history": [turns]} -> JSON of ``qa ask --json``
    POST /api/ask/stream   the same as Server-Sent Events (sources, answer pieces, done)
    POST /v1/chat/completions, GET /v1/models   OpenAI-compatible (see qa/openai_api.py)
    GET  /api/health       status, embedder, index counts and build time, background indexing
    GET  /api/documents    the indexed articles and background indexing (qa/documents_api.py)
    POST /api/documents    multipart ``files`` (+ ``replace``): add articles (with ``--allow-uploads``)
    DELETE /api/documents/{doc_id}   remove an article's file (with ``--allow-uploads``)
    GET  /docs             OpenAPI documentation
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ..config import Settings
from ..embed import Embedder, load_embedder
from ..engine import Engine, release_store
from ..errors import EmptyCorpusError, QAError
from . import problems
from .ask import router as ask_router
from .documents import router as documents_router
from .html import router as html_router
from .limits import BodyLimit, Gate, HostCheck, Load, allowed_hosts
from .openai_api import router as openai_router
from .pages import loaded
from .problems import engine_of_request
from .updates import FolderWatch, Updater
from .watch import watch_folder, watch_index

log = logging.getLogger(__name__)

WEB = Path(str(resources.files("qa").joinpath("web")))  # package data, so an installed wheel serves
SWAGGER = Path(str(resources.files("fastapi_offline") / "static"))  # Swagger UI 5 files (MIT package)

EMPTY = "there are no articles yet: add some first · chưa có bài báo nào: hãy thêm bài trước"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def create_app(settings: Settings, embedder: Embedder | None = None) -> FastAPI:
    """The web application; its lifespan loads model and index once (building the index if missing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = None
        app.state.problem = None
        app.state.empty = False  # no articles yet: the page says how to add some
        watch = FolderWatch(settings.seeds_dir) if settings.watch_interval else None
        try:
            app.state.engine = await asyncio.to_thread(Engine.open, settings, embedder)
            log.info("serving %s", app.state.engine.index.version)
        except EmptyCorpusError as exc:
            log.warning("no articles to serve yet: %s", exc)
            app.state.empty = True
            app.state.problem = EMPTY  # the folder's path is for the log, not for a remote user
        except QAError as exc:
            log.error("cannot serve answers: %s", exc)
            app.state.problem = str(exc)

        def current_embedder() -> Embedder:
            engine: Engine | None = app.state.engine
            return engine.embedder if engine is not None else embedder or load_embedder(settings)

        def publish(engine: Engine) -> None:
            app.state.engine, app.state.problem, app.state.empty = engine, None, False
            log.info("now serving %s", engine.index.version)
            loaded(engine.index)  # in the updater's thread, not in the first page request after it

        app.state.updater = Updater(
            settings,
            current_embedder,
            publish,
            lambda: app.state.engine,
            watch.mark if watch else lambda: None,
        )
        watcher = asyncio.create_task(watch_index(app, settings))
        folder = asyncio.create_task(watch_folder(app, settings, watch)) if watch is not None else None
        yield
        watcher.cancel()
        if folder is not None:
            folder.cancel()
        app.state.updater.close()
        await asyncio.to_thread(release_store, settings)  # uvicorn ends on a signal before atexit runs

    app = FastAPI(
        title="vnqa",
        description="Questions about Vietnamese news articles, answered offline with cited passages.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local assets, under the CSP: no CDN, no inline script
        redoc_url=None,
    )
    app.state.load = Load()
    app.add_middleware(
        Gate,
        concurrency=settings.max_concurrency,
        waiting=settings.max_waiting,
        paths=frozenset(
            {"/api/ask", "/api/ask/stream", "/v1/chat/completions", "/turn", "/turn/stream", "/"}
        ),
        load=app.state.load,
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, paths={"/api/documents": settings.max_upload_bytes}
    )
    templates = Jinja2Templates(directory=WEB / "templates")
    app.include_router(openai_router(engine_of_request))
    app.include_router(documents_router(settings, engine_of_request))
    app.include_router(ask_router(settings, engine_of_request))
    app.include_router(html_router(settings, engine_of_request, templates))
    problems.install(app, templates)
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.mount("/swagger", StaticFiles(directory=SWAGGER), name="swagger")

    app.add_middleware(HostCheck, allowed=allowed_hosts(settings))

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            response = await call_next(request)
        except Exception:  # a fault of ours: logged whole, answered as a problem with the headers below
            log.exception("%s %s failed", request.method, request.url.path)
            response = JSONResponse({"detail": "vnqa failed on this request (the server log says why)"}, 500)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
