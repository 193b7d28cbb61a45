"""The HTML routes: the chat page (``/``, ``/turn``, ``/turn/stream``), the article viewer (``/doc/...``)
and the API documentation page (``/docs``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sse_starlette import EventSourceResponse

from ..answer.generate import PIECE, Reply
from ..config import LOOPBACK_HOSTS, Settings
from ..engine import Engine
from ..errors import QuestionError
from ..ingest.loaders import SUFFIXES
from .ask import AskRequest
from .limits import host_name
from .pages import Loaded, TurnView, document_segments, loaded, safe_url, turn


def router(
    settings: Settings, engine_of: Callable[[Request], Engine], templates: Jinja2Templates
) -> APIRouter:
    """The pages, rendered from ``templates``, answered by ``engine_of(request)``."""
    router = APIRouter()

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        about = _loaded_of(request)
        local = host_name(request.headers.get("host", "")) in LOOPBACK_HOSTS
        extra = {
            "examples": about.examples if about else (),
            "loaded": about,
            "empty": request.app.state.empty,
            "folder": str(settings.seeds_dir.resolve()) if local else None,  # never a remote user's to see
            "uploads": settings.allow_uploads,
            "accept": ",".join(SUFFIXES),
        }
        return templates.TemplateResponse(request, name, {**extra, **context}, status_code=status)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
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

    @router.get("/turn", response_class=HTMLResponse, include_in_schema=False)
    def chat_turn(request: Request, q: Annotated[str, Query(max_length=10_000)]) -> HTMLResponse:
        engine = engine_of(request)
        reply = engine.reply(q)
        return page(request, "_turn.html", turn=turn(reply.answer, engine.index, reply))

    @router.post("/turn", response_class=HTMLResponse, include_in_schema=False)
    def chat_turn_in_context(body: AskRequest, request: Request) -> HTMLResponse:
        """The page's script sends the conversation so far with each question."""
        engine = engine_of(request)
        reply = engine.reply(body.question, body.top_k, history=body.turns())
        return page(request, "_turn.html", turn=turn(reply.answer, engine.index, reply))

    @router.post("/turn/stream", include_in_schema=False)
    def chat_turn_stream(body: AskRequest, request: Request) -> EventSourceResponse:
        """The turn as Server-Sent Events: ``sources`` (the turn with its source cards and an empty
        answer), ``delta`` text pieces as the answer streams in, then ``done`` (the final turn)."""
        engine = engine_of(request)
        answer, pieces = engine.reply_stream(body.question, body.top_k, history=body.turns())
        first = turn(answer, engine.index)

        def render(name: str, **context: Any) -> str:
            return templates.get_template(name).render(context)

        events = _turn_events(engine, first, pieces, render)
        return EventSourceResponse(events, ping=None)

    @router.get("/doc/{doc_id:path}", response_class=HTMLResponse, include_in_schema=False)
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
        file = Path(doc.path).name
        return page(request, "doc.html", doc=doc, url=safe_url(doc.url), segments=segments, file=file)

    @router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """Swagger UI for the API, from the files the fastapi-offline package ships."""
        return templates.TemplateResponse(request, "docs.html", {})

    return router


def _loaded_of(request: Request) -> Loaded | None:
    """What is loaded and example questions about it, computed once per index."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        return None
    cached: tuple[str, Loaded] | None = getattr(request.app.state, "loaded", None)
    if cached is None or cached[0] != engine.index.version:
        cached = (engine.index.version, loaded(engine.index))
        request.app.state.loaded = cached
    return cached[1]


def _turn_events(
    engine: Engine, first: TurnView, pieces: Generator[str, None, Reply], render: Callable[..., str]
) -> Iterator[dict[str, str]]:
    """A streamed turn's events: its sources (``first``, the turn without its answer), then the answer's
    pieces, then the final turn."""
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
