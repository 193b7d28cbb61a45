"""An OpenAI-compatible face for vnqa: ``POST /v1/chat/completions`` (plain and streamed) and
``GET /v1/models``, so the official clients and chat front-ends can use vnqa as a model.

The last user message is the question and the earlier messages its conversation. The reply's content
is the answer with inline ``[n]`` citations followed by one numbered source per article (``[1] title,
date, URL (doc_id)``), which is also how a follow-up finds the articles of earlier turns when a client
sends them back; the passages travel as data in the extra ``sources`` field (and the whole answer in
``vnqa``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sse_starlette import EventSourceResponse

from ..answer.generate import PIECE, Reply, reply_json
from ..engine import Engine
from ..errors import QuestionError
from ..search.conversation import from_messages
from ..types import Source

MODEL = "vnqa"


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of OpenAI's chat completion request that vnqa reads; others are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str = MODEL
    messages: list[Message] = Field(min_length=1, max_length=100)
    stream: StrictBool = False  # "yes" is not true
    top_k: int = Field(5, ge=1, le=20, description="vnqa extension: how many sources to return.")
    markdown: StrictBool = Field(
        False, description="vnqa extension: mark the answer span in the reply with Markdown's **."
    )


def content_of(reply: Reply, markdown: bool = False) -> str:
    """The reply as a chat model writes it: the answer with inline ``[n]`` citations, then one source line
    per article, ``[n] title, date, URL (doc_id)`` (the id lets a follow-up find the article again).
    The answer span is in ``**`` only for a client that asked for Markdown."""
    answer = reply.answer
    articles = list(dict.fromkeys(s.doc_id for s in answer.sources))
    number = {doc_id: n for n, doc_id in enumerate(articles, 1)}
    if reply.generated:  # the LLM cites passages: [n] of a passage becomes its article's number
        text = _CITED.sub(lambda m: _renumber(m, answer.sources, number), reply.text)
    else:
        text = reply.text if markdown else reply.text.replace("**", "")
        cited = number.get(answer.evidence.doc_id) if answer.evidence is not None else None
        text = f"{text} [{cited}]" if cited else text
        text = f"{answer.lead}\n\n{text}" if answer.lead else text
    if not articles:
        return text
    lines = [text, "", "Sources:"]
    first = {s.doc_id: s for s in reversed(answer.sources)}
    for doc_id in articles:
        source = first[doc_id]
        about = ", ".join([source.title, source.date or "no date", *([source.url] if source.url else [])])
        lines.append(f"[{number[doc_id]}] {about} ({doc_id})")
    return "\n".join(lines)


_CITED = re.compile(r"\[(\d+)\]")


def _renumber(match: re.Match[str], sources: Sequence[Source], number: dict[str, int]) -> str:
    n = int(match.group(1))
    return f"[{number[sources[n - 1].doc_id]}]" if 1 <= n <= len(sources) else match.group(0)


def router(engine_of: Callable[[Request], Engine]) -> APIRouter:
    """The ``/v1`` routes over the engine ``engine_of(request)`` returns."""
    api = APIRouter(prefix="/v1", tags=["openai"])

    @api.get("/models")
    def models() -> dict[str, Any]:
        """The one model vnqa serves."""
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "vnqa"}],
        }

    @api.post("/chat/completions", response_model=None)
    def chat_completions(body: ChatRequest, request: Request) -> dict[str, Any] | EventSourceResponse:
        """Answer the last user message in its conversation; ``stream`` gives Server-Sent Events."""
        question, history = from_messages([(m.role, m.text()) for m in body.messages])
        if not question.strip():
            raise QuestionError("the conversation has no user message to answer")
        reply = engine_of(request).reply(question, body.top_k, history=history)
        reply_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        content = content_of(reply, body.markdown)
        shown = reply_json(reply)
        extra = {"sources": shown["sources"], "vnqa": shown}
        if not body.stream:
            return {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(question.split()),
                    "completion_tokens": len(content.split()),
                    "total_tokens": len(question.split()) + len(content.split()),
                },
                **extra,
            }

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            payload = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": MODEL}
            return json.dumps({**payload, "choices": [choice], **more}, ensure_ascii=False)

        def events() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for piece in PIECE.findall(content):
                yield chunk({"content": piece})
            yield chunk({}, "stop", **extra)
            yield "[DONE]"

        return EventSourceResponse(events(), ping=None)

    return api
