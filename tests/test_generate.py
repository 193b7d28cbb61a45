"""The optional LLM: prompt, citation checks and every fallback, through a fake and a mock transport."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.answer.generate import FakeGenerator, GenerationError, OpenAIGenerator, check_citations, messages_for
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.server.app import create_app
from qa.types import Source

QUESTION = "Ai chủ trì hội nghị trực tuyến toàn quốc?"


def _source(text: str) -> Source:
    return Source("a", "Tiêu đề", None, None, text, 1.0, 0, len(text))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Bà Trương Thị Mai chủ trì [1].", None),
        ("Bà Trương Thị Mai chủ trì.", "cites no passage"),
        ("Bà Trương Thị Mai chủ trì [3].", "not given"),
        ("Hội nghị có 7 văn bản [1].", "states 7"),
        ("Hội nghị có 5 văn bản [1]. Bà Mai chủ trì [2].", None),
    ],
)
def test_citations_are_checked_against_the_passages(text: str, problem: str | None) -> None:
    sources = [_source("Bà Trương Thị Mai chủ trì, quán triệt 5 văn bản."), _source("Bà Mai chủ trì.")]
    found = check_citations(text, sources)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_the_prompt_numbers_the_passages_and_asks_for_the_questions_language() -> None:
    messages = messages_for("Who chaired it?", [_source("Đoạn một."), _source("Đoạn hai.")])
    assert "Answer in English" in messages[0]["content"]
    assert (
        "[1] Tiêu đề\nĐoạn một." in messages[1]["content"]
        and "[2] Tiêu đề\nĐoạn hai." in messages[1]["content"]
    )
    assert "Answer in Vietnamese" in messages_for(QUESTION, [_source("x")])[0]["content"]


@pytest.fixture
def fake() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
def engine(settings: Settings, fake: FakeGenerator) -> Engine:
    return Engine.open(settings, FakeEmbedder(), generator=fake)


def test_a_checked_llm_answer_is_shown_with_its_citations(engine: Engine, fake: FakeGenerator) -> None:
    fake.enqueue("Đồng chí Trương Thị Mai chủ trì hội nghị [1].")
    reply = engine.reply(QUESTION)
    assert (
        reply.generated
        and reply.text == "Đồng chí Trương Thị Mai chủ trì hội nghị [1]."
        and reply.note is None
    )
    assert "Trương Thị Mai chủ trì" in fake.history[0][1]["content"]  # the passages went into the prompt


@pytest.mark.parametrize(
    ("queued", "note"),
    [
        (GenerationError("the LLM did not answer within 30 s"), "did not answer within 30 s"),
        ("Tôi không biết.", "cites no passage"),
        ("Có 99 văn bản [1].", "states 99"),
    ],
)
def test_a_failed_or_unchecked_llm_answer_falls_back_to_the_extractive_one(
    engine: Engine, fake: FakeGenerator, queued: str | Exception, note: str
) -> None:
    fake.enqueue(queued)
    reply = engine.reply(QUESTION)
    assert not reply.generated and reply.text == reply.answer.answer and "**Trương Thị Mai**" in reply.text
    assert note in (reply.note or "") and "extractive answer" in (reply.note or "")


def test_not_found_never_asks_the_llm(engine: Engine, fake: FakeGenerator) -> None:
    reply = engine.reply("Who won the 2022 FIFA World Cup?")
    assert not reply.answer.answerable and fake.history == []


def _sse(*pieces: str, status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.path == "/v1/chat/completions" and body["stream"] is True
        assert request.headers["authorization"] == "Bearer k"
        chunks = [{"choices": [{"delta": {"content": p}}]} for p in pieces]
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(status, text=text, headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(handler)


def test_openai_client_streams_the_pieces() -> None:
    client = OpenAIGenerator("http://llm.test/v1", "m", "k", transport=_sse("Bà ", "Mai ", "[1]."))
    assert list(client.stream([{"role": "user", "content": "x"}])) == ["Bà ", "Mai ", "[1]."]


def test_openai_client_errors_become_generation_errors() -> None:
    failing = OpenAIGenerator("http://llm.test/v1", "m", "k", transport=_sse("x", status=500))
    with pytest.raises(GenerationError, match="HTTP 500"):
        list(failing.stream([]))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    down = OpenAIGenerator("http://llm.test/v1", transport=httpx.MockTransport(refuse))
    with pytest.raises(GenerationError, match="could not be reached"):
        list(down.stream([]))


def test_the_api_and_v1_show_the_llm_answer_or_the_fallback(settings: Settings) -> None:
    fake = FakeGenerator()
    app = create_app(settings, FakeEmbedder())
    with TestClient(app) as client:
        engine = app.state.engine
        app.state.engine = Engine(engine.settings, engine.embedder, engine.index, engine.retriever, fake)
        fake.enqueue("Đồng chí Trương Thị Mai chủ trì [1].", GenerationError("the LLM broke off"))
        first = client.post("/api/ask", json={"question": QUESTION}).json()
        assert first["generated"] is True and first["reply"] == "Đồng chí Trương Thị Mai chủ trì [1]."
        second = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
        )
        assert second.status_code == 200
        content = second.json()["choices"][0]["message"]["content"]
        assert "Trương Thị Mai" in content and "**" not in content  # plain text unless Markdown is asked
        assert second.json()["vnqa"]["note"].startswith("the LLM broke off")


def test_v1_replies_cite_inline_with_one_source_line_per_article(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        body = {"messages": [{"role": "user", "content": QUESTION}], "top_k": 5}
        content = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        answer, sources = content.split("\n\nSources:\n")
        assert answer.endswith("[1]") and "**" not in answer
        lines = sources.splitlines()
        assert lines[0] == (
            "[1] Hội nghị trực tuyến toàn quốc về công tác tổ chức, 2018-02-09, "
            "http://example.vn/hoi-nghi.html (a_conference)"
        )
        assert len(lines) == len({line.rsplit("(", 1)[1] for line in lines})  # one line per article
        marked = client.post("/v1/chat/completions", json=body | {"markdown": True}).json()
        assert "**Trương Thị Mai**" in marked["choices"][0]["message"]["content"]
