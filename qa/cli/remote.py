"""``qa ask`` through a running ``qa serve``: the model and index are loaded already there, so a question
costs what the server takes to answer it, not seconds of start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ..config import ANY_INTERFACE, LOOPBACK_HOSTS, Settings
from ..errors import QuestionError
from ..store.registry import backend

HEALTH_TIMEOUT = 0.5  # seconds: a server on the port answers its health at once, or is not used
ANSWER_TIMEOUT = 120.0


def served_answer(settings: Settings, question: str, top_k: int) -> dict[str, Any] | None:
    """The answer (``qa ask --json``'s shape) from a server at ``settings.host:port`` serving the index of
    ``settings``; None when there is none (or it serves another index, or fails): then answer in-process.
    Raises :class:`QuestionError` when the server refuses the question."""
    host = LOOPBACK_HOSTS[0] if settings.host in ANY_INTERFACE else settings.host
    url = f"http://{host}:{settings.port}"
    try:
        health = httpx.get(f"{url}/api/health", timeout=HEALTH_TIMEOUT)
        if health.status_code != 200 or not _same_index(health.json(), settings):
            return None
        reply = httpx.post(
            f"{url}/api/ask", json={"question": question, "top_k": top_k}, timeout=ANSWER_TIMEOUT
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if reply.status_code == 422:
        raise QuestionError(str(reply.json().get("detail", "the question was refused")))
    if reply.status_code != 200:
        return None
    answer: dict[str, Any] = reply.json()
    for shown_only in ("reply", "generated", "note"):  # what the chat shows; qa ask prints the answer
        answer.pop(shown_only, None)
    return answer


def _same_index(health: dict[str, Any], settings: Settings) -> bool:
    """Whether the server answers from the index folder (or store) ``settings`` name."""
    index = health["index"]
    if index["store"] != settings.store:
        return False
    if not backend(settings.store).local:
        return True  # one database holds one index
    return Path(index["path"]).resolve().parent == settings.index_dir.resolve()
