"""An optional LLM that words the answer from the retrieved passages, with citations that are checked.

Any OpenAI-compatible server works (llama.cpp's server, Ollama, vLLM, a hosted API): ``QA_LLM_URL``
(+ ``QA_LLM_MODEL``, ``QA_LLM_API_KEY``, ``QA_LLM_TIMEOUT``). The model is asked to answer only from the
numbered passages, in the question's language, citing them as [1], [2]. Its reply is used only when it
cites at least one passage, cites no passage that does not exist, and every number it states next to a
citation is in the passage it cites; otherwise, or when the server is down, slow or fails mid-stream,
the extractive answer is given instead with a note saying why. Nothing here raises to the caller.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator as Generator_
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from httpx_sse import connect_sse

from ..errors import GenerationError
from ..lang.query import analyse
from ..lang.text import fold
from ..types import Answer, Source
from .wire import AskResponse, answer_fields

PIECE = re.compile(r"\S+\s*|\s+")  # a streamed text's pieces: each word with the space after it
_CITATION = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
PASSAGE_CHARS = 1200  # each passage is cut to this many characters in the prompt
MAX_REPLY_TOKENS = 400
MAX_REPLY_CHARS = 4000  # a longer reply is not an answer of one to three sentences: the extractive one stands
_TRAILING_CITATIONS = re.compile(r"([.!?])((?:\s*\[\d+\])+)")


class Generator(Protocol):
    """Streams the text of a chat completion for ``messages`` (OpenAI ``{"role", "content"}`` dicts)."""

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]: ...


@dataclass
class OpenAIGenerator:
    """A client for ``POST {url}/chat/completions`` with ``stream: true`` (Server-Sent Events)."""

    url: str
    model: str = "default"
    api_key: str | None = None
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None  # tests pass httpx.MockTransport

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        """The reply's pieces; :class:`GenerationError` when the server fails, sends something that is not
        a chat completion chunk, takes longer than ``timeout`` in all or sends over ``MAX_REPLY_CHARS``."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": list(messages),
            "stream": True,
            "temperature": 0,
            "max_tokens": MAX_REPLY_TOKENS,  # one to three sentences; a longer reply is not used anyway
        }
        deadline = time.monotonic() + self.timeout  # for the whole reply, not each read
        size = 0
        try:
            with (
                httpx.Client(
                    base_url=self.url.rstrip("/"), timeout=self.timeout, transport=self.transport
                ) as client,
                connect_sse(client, "POST", "/chat/completions", json=body, headers=headers) as events,
            ):
                if events.response.status_code != 200:
                    events.response.read()
                    raise GenerationError(f"the LLM answered HTTP {events.response.status_code}")
                for data in sse_data(events.response, deadline):
                    if data.strip() == "[DONE]":
                        return
                    piece, finished = chunk_content(data)
                    size += len(piece)
                    if size > MAX_REPLY_CHARS:
                        raise GenerationError(f"the LLM's answer ran over {MAX_REPLY_CHARS} characters")
                    if piece:
                        yield piece
                    if finished:
                        return
            raise GenerationError("the LLM stopped before the end of its answer")
        except httpx.TimeoutException:
            raise GenerationError(f"the LLM did not answer within {self.timeout:g} s") from None
        except (httpx.HTTPError, ValueError) as exc:
            raise GenerationError(
                f"the LLM could not be reached or broke off ({type(exc).__name__})"
            ) from None


def sse_data(response: httpx.Response, deadline: float) -> Iterator[str]:
    """The data of each Server-Sent Event in ``response``, read line by line so that the clock is
    looked at on every line, keep-alive comments (``: ping``) included, which are no events; raises
    ``httpx.ReadTimeout`` past ``deadline`` (``time.monotonic``)."""
    data: list[str] = []
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the whole reply took too long")
        if not line:  # an event ends
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))
    if data:
        yield "\n".join(data)


def chunk_content(data: str) -> tuple[str, bool]:
    """A streamed chat completion chunk's text and whether it finishes the reply; raises
    :class:`GenerationError` for anything not shaped like one."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise GenerationError("the LLM sent a chunk that is not JSON") from None
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise GenerationError("the LLM sent a chunk that is not a chat completion chunk")
    if not choices:
        return "", False
    delta = choices[0].get("delta") or {}
    content = delta.get("content") if isinstance(delta, dict) else None
    if not isinstance(delta, dict) or not isinstance(content, str | None):
        raise GenerationError("the LLM sent a chunk whose text is not text")
    return content or "", bool(choices[0].get("finish_reason"))


@dataclass
class FakeGenerator:
    """Replies queued with :meth:`enqueue` (a string, or an exception to raise); :attr:`history` holds
    the messages of every call."""

    replies: list[str | Exception] = field(default_factory=list)
    history: list[list[dict[str, str]]] = field(default_factory=list)

    def enqueue(self, *replies: str | Exception) -> None:
        self.replies.extend(replies)

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        self.history.append(list(messages))
        reply = self.replies.pop(0) if self.replies else ""
        if isinstance(reply, Exception):
            raise reply
        yield from PIECE.findall(reply)


@dataclass(frozen=True, slots=True)
class Reply:
    """What the user reads: ``text`` (with [n] citations when ``generated``), the extractive ``answer``
    it rests on, and ``note`` saying why the extractive answer stands in when an LLM was asked."""

    text: str
    answer: Answer
    generated: bool = False
    note: str | None = None


def reply_json(reply: Reply) -> dict[str, Any]:
    """The JSON of ``/api/ask`` (:class:`qa.answer.wire.AskResponse`): the answer's plus ``reply`` (the
    text to show), ``generated`` and ``note``."""
    shown = AskResponse(
        **answer_fields(reply.answer), reply=reply.text, generated=reply.generated, note=reply.note
    )
    return shown.model_dump()


def messages_for(question: str, sources: Sequence[Source]) -> list[dict[str, str]]:
    """The chat messages asking for an answer from the numbered ``sources`` only, in the question's
    language, with [n] citations."""
    english = analyse(question).english_question
    language = "English" if english else "Vietnamese"
    system = (
        "You answer questions about news articles using only the numbered passages given. "
        f"Answer in {language}, in one to three sentences. After each statement cite the passage it comes "
        "from as [1], [2]. If the passages do not contain the answer, say so."
    )
    passages = "\n\n".join(f"[{n}] {s.title}\n{s.text[:PASSAGE_CHARS]}" for n, s in enumerate(sources, 1))
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Passages:\n\n{passages}\n\nQuestion: {question}"},
    ]


def check_citations(text: str, sources: Sequence[Source]) -> str | None:
    """Why ``text`` cannot be shown as an answer from ``sources`` (None when it can)."""
    cited = [int(n) for n in _CITATION.findall(text)]
    if not cited:
        return "the generated answer cites no passage"
    if any(not 1 <= n <= len(sources) for n in cited):
        return "the generated answer cites a passage that was not given"
    # "... 98765 đại biểu. [1]": a citation after the full stop belongs to the sentence before it
    text = _TRAILING_CITATIONS.sub(lambda m: f"{m.group(2)}{m.group(1)}", text)
    for sentence in _SENTENCE_END.split(text):
        numbers = sentence_numbers(sentence)
        own = {int(c) for c in _CITATION.findall(sentence)}
        # a sentence citing nothing must hold to some passage the answer cites
        passages = [fold(sources[n - 1].text) for n in sorted(own or set(cited))]
        for number in numbers:
            if not any(number in passage for passage in passages):
                where = f"passage [{min(own)}]" if len(own) == 1 else "any passage it cites"
                return f"the generated answer states {number}, which {where} does not hold"
    return None


def sentence_numbers(sentence: str) -> list[str]:
    """The numbers a sentence states, citation numbers left out."""
    return _NUMBER.findall(_CITATION.sub(" ", sentence))


def generate(generator: Generator | None, answer: Answer) -> Reply:
    """The LLM's checked answer from ``answer``'s sources, or ``answer`` itself with the reason (or as it
    is, without an LLM)."""
    pieces = generate_stream(generator, answer)
    while True:
        try:
            next(pieces)
        except StopIteration as done:
            reply: Reply = done.value
            return reply


def generate_stream(generator: Generator | None, answer: Answer) -> Generator_[str, None, Reply]:
    """Yields the LLM's text as it arrives, then returns the :class:`Reply`: the checked LLM answer, or
    ``answer`` itself with the reason (what was yielded is then to be replaced by it). Without an LLM
    nothing is yielded and the reply is ``answer`` as it is."""
    if generator is None or not answer.answerable or not answer.sources:
        return Reply(answer.answer, answer)
    received: list[str] = []
    try:
        for piece in generator.stream(messages_for(answer.question, answer.sources)):
            received.append(piece)
            yield piece
    except GenerationError as exc:
        return Reply(answer.answer, answer, note=f"{exc}; this is the extractive answer")
    text = "".join(received).strip()
    problem = check_citations(text, answer.sources)
    if problem is not None:
        return Reply(answer.answer, answer, note=f"{problem}; this is the extractive answer")
    return Reply(text, answer, generated=True)
