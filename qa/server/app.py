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
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from watchfiles import awatch

from ..answer.generate import PIECE, Reply, reply_json
from ..config import Settings
from ..embed import Embedder, load_embedder
from ..engine import Engine, release_store
from ..engine import published as engine_published
from ..errors import QAError, QuestionError
from ..ingest.loaders import SUFFIXES
from ..ingest.uploads import UploadError
from ..search.conversation import Turn
from .documents import Indexing, Problem, indexing_json
from .documents import router as documents_router
from .limits import BodyLimit, Gate, Load
from .openai_api import router as openai_router
from .pages import Loaded, document_segments, loaded, safe_url, turn
from .updates import FolderWatch, Updater

log = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"  # package data, so an installed wheel serves
SWAGGER = Path(str(resources.files("fastapi_offline") / "static"))  # Swagger UI 5 files (MIT package)
WATCH_COST_FACTOR = 20  # the folder watch pauses at least this many times as long as it looked
WATCH_DEBOUNCE_MS = 200  # changes the OS reports within this long are looked at together
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class TurnIn(BaseModel):
    """An earlier turn, as the client got it: its question, answer, cited articles and short answer."""

    model_config = ConfigDict(extra="ignore", strict=True)

    question: str = Field(max_length=1000)
    answer: str = Field("", max_length=20_000)
    doc_ids: list[str] = Field(default_factory=list, max_length=20, description="Cited, best first.")
    short_answer: str | None = Field(None, max_length=1000)


class AskRequest(BaseModel):
    """A question for ``POST /api/ask``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(
        description="English or Vietnamese, with or without diacritics; at most 1000 chars."
    )
    top_k: int = Field(5, ge=1, le=20, description="How many source passages to return.")
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=20,
        description="Earlier turns of the conversation, oldest first: a follow-up question ('When was "
        "it held?') is read in their light.",
    )

    def turns(self) -> list[Turn]:
        return [Turn(t.question, t.answer, tuple(t.doc_ids), t.short_answer) for t in self.history]


class SourceOut(BaseModel):
    doc_id: str
    title: str
    url: str | None
    text: str = Field(description="The passage, exactly as in the article.")
    score: float = Field(description="Retrieval score (fused dense and BM25), for ordering only.")
    start: int = Field(description="Offset of the passage in the article's NFC text.")
    end: int


class ShortAnswerOut(BaseModel):
    doc_id: str = Field(description="The article the span is in.")
    text: str = Field(description="The answer span, exactly as in the article.")
    start: int = Field(description="Offset of the span in the article's NFC text.")
    end: int


class AskResponse(BaseModel):
    question: str
    answer: str = Field(description="Evidence sentence(s); the answer span is wrapped in **.")
    answerable: bool
    confidence: float = Field(
        description="Probability (0..1) that the articles answer the question, calibrated on questions "
        "asked with and without their article; 'not found' below the language's threshold."
    )
    lead: str | None = Field(
        description="For an English question, the short answer in English form: 'Chaired by Trương Thị Mai "
        "(Truong Thi Mai)', 'On 7 August 2023', 'Number: 1,549 biên chế'."
    )
    short_answer: ShortAnswerOut | None = Field(
        description="The span that answers the question (person, place, date, number...), when one fits."
    )
    sources: list[SourceOut] = Field(description="Best first.")
    reply: str = Field(
        description="The text to show: worded by the LLM with [n] citations when one is configured and "
        "its citations hold, else the same as answer."
    )
    generated: bool = Field(description="Whether reply was written by the LLM.")
    note: str | None = Field(description="Why the extractive answer stands in for the LLM's, if it does.")


class Health(BaseModel):
    status: str
    embedder: dict[str, Any]
    index: dict[str, Any]
    load: dict[str, int] = Field(description="Questions being answered and waiting right now.")
    indexing: Indexing
    uploads: bool = Field(description="Whether articles can be added and removed over HTTP.")


def create_app(settings: Settings, embedder: Embedder | None = None) -> FastAPI:
    """The web application; its lifespan loads model and index once (building the index if missing)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = None
        app.state.problem = None
        # the folder is looked at before the first build reads it, so no change in between is missed
        watch = await asyncio.to_thread(FolderWatch, settings.seeds_dir) if settings.watch_interval else None
        try:
            app.state.engine = await asyncio.to_thread(Engine.open, settings, embedder)
            log.info("serving %s", app.state.engine.index.version)
        except QAError as exc:
            log.error("cannot serve answers: %s", exc)
            app.state.problem = str(exc)

        def current_embedder() -> Embedder:
            engine: Engine | None = app.state.engine
            return engine.embedder if engine is not None else embedder or load_embedder(settings)

        def publish(engine: Engine) -> None:
            app.state.engine, app.state.problem = engine, None
            log.info("now serving %s", engine.index.version)
            loaded(engine.index)  # in the updater's thread, not in the first page request after it

        app.state.updater = Updater(settings, current_embedder, publish, lambda: app.state.engine)
        watcher = asyncio.create_task(_watch_index(app, settings))
        folder = asyncio.create_task(_watch_folder(app, settings, watch)) if watch is not None else None
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
    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    app.mount("/swagger", StaticFiles(directory=SWAGGER), name="swagger")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    engine_of = engine_of_request

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        about = loaded_of(request)
        extra = {
            "examples": about.examples if about else (),
            "loaded": about,
            "uploads": settings.allow_uploads,
            "accept": ",".join(SUFFIXES),
        }
        return templates.TemplateResponse(request, name, {**extra, **context}, status_code=status)

    def loaded_of(request: Request) -> Loaded | None:
        """What is loaded and example questions about it, computed once per index."""
        engine: Engine | None = request.app.state.engine
        if engine is None:
            return None
        cached: tuple[str, Loaded] | None = getattr(request.app.state, "loaded", None)
        if cached is None or cached[0] != engine.index.version:
            cached = (engine.index.version, loaded(engine.index))
            request.app.state.loaded = cached
        return cached[1]

    # ------------------------------------------------------------------------------------ JSON

    @app.post(
        "/api/ask",
        response_model=AskResponse,
        responses={422: {"model": Problem}, 503: {"model": Problem}},
        tags=["api"],
    )
    def api_ask(body: AskRequest, request: Request) -> dict[str, Any]:
        """Answer a question from the articles, with the passages it came from."""
        return reply_json(engine_of(request).reply(body.question, body.top_k, history=body.turns()))

    @app.post("/api/ask/stream", responses={200: {"content": {"text/event-stream": {}}}}, tags=["api"])
    def api_ask_stream(body: AskRequest, request: Request) -> EventSourceResponse:
        """The same answer as Server-Sent Events: ``sources`` first, then the answer text in ``delta``
        pieces, then ``done`` with the whole JSON of ``/api/ask``."""
        reply = reply_json(engine_of(request).reply(body.question, body.top_k, history=body.turns()))

        def events() -> Iterator[dict[str, str]]:
            yield {"event": "sources", "data": json.dumps(reply["sources"], ensure_ascii=False)}
            for piece in PIECE.findall(reply["reply"]):
                yield {"event": "delta", "data": json.dumps(piece, ensure_ascii=False)}
            yield {"event": "done", "data": json.dumps(reply, ensure_ascii=False)}

        return EventSourceResponse(events(), ping=None)

    @app.get("/api/health", response_model=Health, responses={503: {"model": Problem}}, tags=["api"])
    def api_health(request: Request) -> dict[str, Any]:
        """Whether answers can be served, with the embedder and the index in use."""
        info = engine_of(request).info()
        load = request.app.state.load
        return {
            "status": "ok",
            "embedder": info["embedder"],
            "index": info["index"],
            "load": {"running": load.running, "queued": load.queued},
            "indexing": indexing_json(request),
            "uploads": settings.allow_uploads,
        }

    # ------------------------------------------------------------------------------------ HTML

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def chat(request: Request, q: Annotated[str | None, Query(max_length=10_000)] = None) -> HTMLResponse:
        turns = []
        error = None
        if q is not None:
            engine = engine_of(request)
            try:
                reply = engine.reply(q)
                turns.append(turn(reply.answer, engine.index, reply))
            except QuestionError as exc:
                error = str(exc)
        return page(request, "chat.html", 422 if error else 200, turns=turns, error=error, question=q or "")

    @app.get("/turn", response_class=HTMLResponse, include_in_schema=False)
    def chat_turn(request: Request, q: Annotated[str, Query(max_length=10_000)]) -> HTMLResponse:
        engine = engine_of(request)
        reply = engine.reply(q)
        return page(request, "_turn.html", turn=turn(reply.answer, engine.index, reply))

    @app.post("/turn", response_class=HTMLResponse, include_in_schema=False)
    def chat_turn_in_context(body: AskRequest, request: Request) -> HTMLResponse:
        """The page's script sends the conversation so far with each question."""
        engine = engine_of(request)
        reply = engine.reply(body.question, body.top_k, history=body.turns())
        return page(request, "_turn.html", turn=turn(reply.answer, engine.index, reply))

    @app.post("/turn/stream", include_in_schema=False)
    def chat_turn_stream(body: AskRequest, request: Request) -> EventSourceResponse:
        """The turn as Server-Sent Events: ``sources`` (the turn with its source cards and an empty
        answer), ``delta`` text pieces as the answer streams in, then ``done`` (the final turn)."""
        engine = engine_of(request)
        answer, pieces = engine.reply_stream(body.question, body.top_k, history=body.turns())
        first = turn(answer, engine.index)

        def render(name: str, **context: Any) -> str:
            return templates.get_template(name).render(context)

        def events() -> Iterator[dict[str, str]]:
            yield {"event": "sources", "data": json.dumps(render("_turn.html", turn=first, streaming=True))}
            streamed = False
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    reply: Reply = done.value
                    break
                streamed = True
                yield {"event": "delta", "data": json.dumps(piece, ensure_ascii=False)}
            if not streamed:  # extractive: the sentence itself comes in pieces
                for piece in PIECE.findall(reply.text):
                    yield {"event": "delta", "data": json.dumps(piece, ensure_ascii=False)}
            final = turn(reply.answer, engine.index, reply)
            yield {"event": "done", "data": json.dumps(render("_turn.html", turn=final))}

        return EventSourceResponse(events(), ping=None)

    @app.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def document(
        request: Request,
        doc_id: str,
        start: int | None = None,
        end: int | None = None,
        es: int | None = None,
        ee: int | None = None,
    ) -> HTMLResponse:
        engine = engine_of(request)
        doc = engine.index.documents.get(doc_id)
        if doc is None:
            return page(request, "error.html", 404, message=f"No article with id {doc_id!r}.")
        segments = document_segments(doc, start, end, es, ee)
        return page(request, "doc.html", doc=doc, url=safe_url(doc.url), segments=segments)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI for the API, from the files the fastapi-offline package ships."""
        return templates.TemplateResponse(request, "docs.html", {})

    # ---------------------------------------------------------------------------------- errors

    @app.exception_handler(_Unavailable)
    async def unavailable(request: Request, exc: _Unavailable) -> Response:
        return _problem(request, templates, 503, f"vnqa cannot answer right now: {exc}")

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError) -> Response:
        return _problem(request, templates, 422, str(exc))

    @app.exception_handler(UploadError)
    async def bad_upload(request: Request, exc: UploadError) -> Response:
        return _problem(request, templates, exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _problem(request, templates, 422, _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = "Not found."
        return _problem(request, templates, exc.status_code, detail)

    return app


async def _watch_index(app: FastAPI, settings: Settings) -> None:
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


async def _watch_folder(app: FastAPI, settings: Settings, watch: FolderWatch) -> None:
    """Index the articles folder again, in the background, whenever its articles change.

    The OS tells at once when a file in the folder is saved (inotify, through watchfiles); the folder is
    also looked at in full from time to time, which catches what the OS cannot report (some network
    file systems, a watch that failed to start). Looking costs about 0.4 CPU-s for 35,000 files, so those
    looks pause at least 20 times as long as the last one took (at most 5% of a core).
    """
    told = asyncio.create_task(_told_by_the_os(app, settings, watch))
    pause = settings.watch_interval
    try:
        while True:
            await asyncio.sleep(pause)
            began = time.process_time()
            await _look(app, settings, watch)
            pause = max(settings.watch_interval, WATCH_COST_FACTOR * (time.process_time() - began))
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


class _Unavailable(Exception):
    """The engine is not loaded (no articles, corrupt or mismatched index)."""


def engine_of_request(request: Request) -> Engine:
    """The engine serving ``request``; :class:`_Unavailable` (503) with the reason when there is none."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        raise _Unavailable(request.app.state.problem or "the index is not loaded")
    return engine


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def _problem(request: Request, templates: Jinja2Templates, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "examples": ()}, status_code=status
    )


def _describe(exc: RequestValidationError) -> str:
    """One readable sentence per validation problem, e.g. "top_k: must be at most 20"."""
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        message = str(error.get("msg", "invalid value"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"
