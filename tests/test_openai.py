"""The official ``openai`` client against a live vnqa server (the real model on the seed articles)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from qa.config import Settings
from qa.engine import Engine
from qa.server.app import create_app

from .conftest import serve_in_thread

pytestmark = pytest.mark.real_model

CONFERENCE = "002_88b7908893ec28a4"


@pytest.fixture(scope="module")
def client(real_settings: Settings, real_engine: Engine) -> Iterator[object]:
    openai = pytest.importorskip("openai")
    with serve_in_thread(create_app(real_settings, real_engine.embedder)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="not-needed", max_retries=0)


def test_models_list(client: object) -> None:
    models = client.models.list()  # type: ignore[attr-defined]
    assert [m.id for m in models.data] == ["vnqa"]


def test_a_completion_holds_the_answer_and_its_sources(client: object) -> None:
    reply = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa", messages=[{"role": "user", "content": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}]
    )
    content = reply.choices[0].message.content
    assert "Trương Thị Mai" in content and "[1] " in content and f"({CONFERENCE})" in content
    assert reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["sources"][0]["doc_id"] == CONFERENCE
    assert extra["vnqa"]["short_answer"]["text"] == "Trương Thị Mai"


def test_a_streamed_completion_arrives_in_chunks(client: object) -> None:
    stream = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa",
        messages=[{"role": "user", "content": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}],
        stream=True,
    )
    pieces: list[str] = []
    finish = None
    for chunk in stream:
        choice = chunk.choices[0]
        if choice.delta.content:
            pieces.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
            assert (chunk.model_extra or {})["sources"][0]["doc_id"] == CONFERENCE
    assert len(pieces) > 3 and finish == "stop"  # the content came as many chunks before the end
    assert "Trương Thị Mai" in "".join(pieces)


def test_a_follow_up_turn_is_answered_from_the_right_article(client: object) -> None:
    question = "Who chaired the national online conference?"
    first = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa", messages=[{"role": "user", "content": question}]
    )
    messages = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "What did she ask the provinces to do?"},
    ]
    follow = client.chat.completions.create(model="vnqa", messages=messages)  # type: ignore[attr-defined]
    assert (follow.model_extra or {})["sources"][0]["doc_id"] == CONFERENCE
    alone = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa", messages=[{"role": "user", "content": "What did she ask the provinces to do?"}]
    )
    assert alone.choices[0].message.content


def test_an_english_question_leads_with_the_answer_in_english_form(client: object) -> None:
    reply = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa", messages=[{"role": "user", "content": "Who chaired the national online conference?"}]
    )
    content = reply.choices[0].message.content
    assert content.startswith("Chaired by Trương Thị Mai (Truong Thi Mai)\n\n")
    assert (reply.model_extra or {})["vnqa"]["lead"] == "Chaired by Trương Thị Mai (Truong Thi Mai)"
    dated = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa",
        messages=[
            {"role": "user", "content": "When was Directive No. 24 of the Hanoi Party Committee issued?"}
        ],
    )
    assert dated.choices[0].message.content.startswith("On 7 August 2023")


def test_the_official_client_reads_inline_citations_and_one_source_per_article(client: object) -> None:
    reply = client.chat.completions.create(  # type: ignore[attr-defined]
        model="vnqa", messages=[{"role": "user", "content": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}]
    )
    answer, sources = reply.choices[0].message.content.split("\n\nSources:\n")
    assert re.search(r"\[\d\]$", answer) and "**" not in answer
    ids = [line.rsplit("(", 1)[1].rstrip(")") for line in sources.splitlines()]
    assert ids[0] == CONFERENCE and len(ids) == len(set(ids))
    extra = reply.model_extra or {}
    assert len(extra["sources"]) == 5  # the passages themselves stay in the extra field
