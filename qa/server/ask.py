"""The JSON routes of the chat: ``POST /api/ask`` (and its Server-Sent Events form) and ``GET /api/health``,
with the request and response models that ``/openapi.json`` publishes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from ..answer.generate import PIECE, reply_json
from ..answer.wire import AskResponse
from ..config import Settings
from ..engine import Engine
from ..search.conversation import Turn
from .documents import Indexing, Problem, indexing_json


class ShortAnswerIn(BaseModel):
    """A short answer sent back as ``/api/ask`` returned it: only its text is read."""

    model_config = ConfigDict(extra="ignore", strict=True)

    text: str = Field(max_length=1000)


class TurnIn(BaseModel):
    """An earlier turn, as the client got it: its question, answer, cited articles and short answer."""

    model_config = ConfigDict(extra="ignore", strict=True)

    question: str = Field(max_length=1000)
    answer: str = Field("", max_length=20_000)
    doc_ids: list[str] = Field(default_factory=list, max_length=20, description="Cited, best first.")
    short_answer: Annotated[str, Field(max_length=1000)] | ShortAnswerIn | None = Field(
        None, description="The short answer as /api/ask returned it (the object, or its text)."
    )

    def short_text(self) -> str | None:
        return self.short_answer.text if isinstance(self.short_answer, ShortAnswerIn) else self.short_answer


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
        return [Turn(t.question, t.answer, tuple(t.doc_ids), t.short_text()) for t in self.history]


class Health(BaseModel):
    status: str
    embedder: dict[str, Any]
    index: dict[str, Any]
    load: dict[str, int] = Field(description="Questions being answered and waiting right now.")
    indexing: Indexing
    uploads: bool = Field(description="Whether articles can be added and removed over HTTP.")


def router(settings: Settings, engine_of: Callable[[Request], Engine]) -> APIRouter:
    """``/api/ask``, ``/api/ask/stream`` and ``/api/health``, answered by ``engine_of(request)``."""
    router = APIRouter()

    @router.post(
        "/api/ask",
        response_model=AskResponse,
        responses={422: {"model": Problem}, 503: {"model": Problem}},
        tags=["api"],
    )
    def api_ask(body: AskRequest, request: Request) -> dict[str, Any]:
        """Answer a question from the articles, with the passages it came from."""
        return reply_json(engine_of(request).reply(body.question, body.top_k, history=body.turns()))

    @router.post("/api/ask/stream", responses={200: {"content": {"text/event-stream": {}}}}, tags=["api"])
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

    @router.get("/api/health", response_model=Health, responses={503: {"model": Problem}}, tags=["api"])
    def api_health(request: Request) -> dict[str, Any]:
        """Whether answers can be served, with the embedder and the index in use: 503 when the index
        is not loaded or its store (a PostgreSQL server) does not answer."""
        engine = engine_of(request)
        engine.index.store.check()
        info = engine.info()
        load = request.app.state.load
        return {
            "status": "ok",
            "embedder": info["embedder"],
            "index": info["index"],
            "load": {"running": load.running, "queued": load.queued},
            "indexing": indexing_json(request),
            "uploads": settings.allow_uploads,
        }

    return router
