"""Follow-up questions: recognised, made standalone, answered from the article of the conversation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa.cli import app
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.eval.dialogues import as_turn, read_dialogues
from qa.search.conversation import Turn, from_messages, is_follow_up, standalone
from qa.server.app import create_app

from .conftest import SEEDS


@pytest.mark.parametrize(
    "question",
    [
        "When was it held?",
        "What did she ask the provinces to do?",
        "And how many collectives got certificates?",
        "Which district did he meet before that?",
        "Hội nghị đó được tổ chức đến những điểm cầu nào?",
        "Còn Quyết định số 71 thì sao?",
        "ong ay giu chuc vu gi",
        "Bà ấy trao bằng khen năm nào?",
        "How many departments were eliminated?",  # too few words of its own
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "Who chaired the 2018 review meeting?",
        "Ai chủ trì hội nghị trực tuyến toàn quốc?",
        "thu do ha noi vua mo rong dia gioi hanh chinh",
        "Ban Tổ chức Trung ương tặng Kỷ niệm chương cho bao nhiêu cán bộ, đảng viên Hà Nội?",
        "What position did Truong Tan Sang hold?",
    ],
)
def test_standalone_questions_are_left_alone(question: str) -> None:
    assert not is_follow_up(question)
    assert standalone(question, [Turn("Ai chủ trì hội nghị?", "x", ("a",))]).question == question


def test_a_person_pronoun_becomes_the_person_the_last_answer_named() -> None:
    history = [
        Turn("Who chaired the conference?", "Đồng chí **Trương Thị Mai** chủ trì.", ("c",), "Trương Thị Mai")
    ]
    alone = standalone("What did she ask the provinces to do?", history)
    assert alone.follow_up and alone.prefer == ("c",)
    assert alone.question.startswith("What did Truong Thi Mai ask the provinces to do?")
    vi = standalone("Bà ấy đề nghị các tỉnh làm gì?", history)
    assert vi.question.startswith("Trương Thị Mai đề nghị các tỉnh làm gì?")
    assert "Who chaired the conference?" in alone.question


def test_follow_ups_chain_through_the_conversation() -> None:
    history = [
        Turn("When was Directive No. 24 issued?", "", ("d",)),
        Turn("Which plan carries it out?", "", ("d",)),
    ]
    alone = standalone("And what is it about?", history)
    assert "Which plan carries it out?" in alone.question and "Directive No. 24" in alone.question


def test_messages_give_the_question_and_the_turns_with_cited_articles() -> None:
    reply = "Đồng chí **Trương Thị Mai** chủ trì.\n\nSources:\n[1] Hội nghị (002_88b7908893ec28a4)\n"
    reply += "[2] Khác (a/b)"
    question, turns = from_messages(
        [("system", "be brief"), ("user", "Who chaired it?"), ("assistant", reply), ("user", "When?")]
    )
    assert question == "When?"
    assert turns == [Turn("Who chaired it?", reply, ("002_88b7908893ec28a4", "a/b"), "Trương Thị Mai")]


def test_the_dialogue_set_is_sound() -> None:
    dialogues = read_dialogues(SEEDS / "dialogues.jsonl")
    assert len(dialogues) >= 30
    assert all(2 <= len(d.turns) <= 4 for d in dialogues)
    assert {t.lang for d in dialogues for t in d.turns} == {"en", "vi", "vi-nodiac"}
    for dialogue in dialogues:
        for turn in dialogue.turns:
            text = (SEEDS / f"{turn.doc}.txt").read_text(encoding="utf-8")
            assert all(a in text for a in turn.answers), (dialogue.did, turn.question)


def test_api_ask_reads_a_follow_up_in_its_conversation(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        first = client.post("/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}).json()
        assert first["sources"][0]["doc_id"] == "a_conference"
        turn = {
            "question": first["question"],
            "answer": first["answer"],
            "doc_ids": [s["doc_id"] for s in first["sources"]],
            "short_answer": first["short_answer"]["text"] if first["short_answer"] else None,
        }
        follow = client.post("/api/ask", json={"question": "Hội nghị đó tổ chức ở đâu?", "history": [turn]})
        assert follow.status_code == 200, follow.text
        assert follow.json()["question"] == "Hội nghị đó tổ chức ở đâu?"
        assert follow.json()["sources"][0]["doc_id"] == "a_conference"
        bad = client.post("/api/ask", json={"question": "x", "history": [{"answer": "no question"}]})
        assert bad.status_code == 422


def test_api_ask_stream_sends_sources_then_pieces_then_the_whole_answer(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        plain = client.post("/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}).json()
        with client.stream("POST", "/api/ask/stream", json={"question": plain["question"]}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = [
                line.split(": ", 1) for line in response.iter_lines() if line.startswith(("event", "data"))
            ]
    names = [value for key, value in events if key == "event"]
    data = [json.loads(value) for key, value in events if key == "data"]
    assert names[0] == "sources" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    assert "".join(data[1:-1]) == plain["answer"]
    assert data[-1] == plain and data[0] == plain["sources"]


def test_qa_eval_reports_turn_accuracy_with_and_without_the_conversation(
    settings: Settings, tmp_path: Path
) -> None:
    dialogues = tmp_path / "dialogues.jsonl"
    turns = [
        {
            "question": "Ai chủ trì hội nghị trực tuyến toàn quốc?",
            "lang": "vi",
            "doc": "a_conference",
            "answers": ["Trương Thị Mai"],
        },
        {"question": "Hội nghị đó tổ chức ở đâu?", "lang": "vi", "doc": "a_conference"},
    ]
    dialogues.write_text(
        json.dumps({"id": "d1", "turns": turns}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    args = [
        "eval",
        str(dialogues),
        "--seeds",
        str(settings.seeds_dir),
        "--index",
        str(settings.index_dir),
        "--model",
        "fake",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["turns"] == 2 and report["follow_ups"]["n"] == 1
    assert report["follow_ups"]["article_in_context"] == 1.0


def test_engine_answers_a_follow_up_from_the_previous_article(settings: Settings) -> None:
    engine = Engine.open(settings, FakeEmbedder())
    first = engine.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")
    follow = engine.ask("Hội nghị đó có bao nhiêu văn bản?", history=[as_turn(first)])
    assert follow.question == "Hội nghị đó có bao nhiêu văn bản?"
    assert follow.sources[0].doc_id == "a_conference"


def test_the_chat_page_stream_sends_sources_first_then_the_answer_then_the_turn(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        body = {"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}
        with client.stream("POST", "/turn/stream", json=body) as response:
            lines = [line for line in response.iter_lines() if line.startswith(("event", "data"))]
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event")]
    data = [json.loads(line.split(": ", 1)[1]) for line in lines if line.startswith("data")]
    assert events[0] == "sources" and events[-1] == "done" and set(events[1:-1]) == {"delta"}
    assert 'class="card' in data[0] and '<p class="stream' in data[0] and "streaming-turn" in data[0]
    assert "Trương Thị Mai" in "".join(data[1:-1])
    assert "<strong>Trương Thị Mai</strong>" in data[-1] and "streaming-turn" not in data[-1]
