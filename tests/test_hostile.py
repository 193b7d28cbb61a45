"""Hostile input and bad luck: each case once took the server down, lost an acknowledged article or
answered with something unchecked. ``python bench/hostile.py`` runs them all (marker ``hostile``) and
prints a table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.answer import generate
from qa.answer.generate import OpenAIGenerator, check_citations
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.search.conversation import HISTORY_TURNS, Turn
from qa.server.app import create_app
from qa.types import Source

from .conftest import HANG

pytestmark = pytest.mark.hostile

QUESTION = "Ai chủ trì hội nghị trực tuyến toàn quốc?"


class Recording(FakeEmbedder):
    """The fake embedder, keeping every query it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_query(self, text: str) -> Any:
        self.queries.append(text)
        return super().embed_query(text)


def _client(settings: Settings, embedder: FakeEmbedder | None = None, **changes: Any) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=changes), embedder or FakeEmbedder()))


def test_a_request_naming_another_host_is_refused_before_anything_happens(settings: Settings) -> None:
    """DNS rebinding: a page of attacker.example resolved to 127.0.0.1 sends its own Host and Origin."""
    hostile = {"Host": "attacker.example:8000", "Origin": "http://attacker.example:8000"}
    with _client(settings, allow_uploads=True) as client:
        documents = client.get("/api/documents").json()["documents"]
        doc_id = documents[0]["doc_id"]
        for method, path in [
            ("DELETE", f"/api/documents/{doc_id}"),
            ("GET", "/api/documents"),
            ("POST", "/api/ask"),
        ]:
            reply = client.request(method, path, headers=hostile, json={"question": QUESTION})
            assert reply.status_code == 421, (method, path)
            assert "attacker.example" in reply.json()["detail"]
            assert reply.headers["content-security-policy"].startswith("default-src 'self'")
        assert client.get("/api/documents").json()["documents"] == documents  # nothing was deleted
        assert client.get("/api/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "[::1]:8000"}).status_code == 200


def test_a_reverse_proxys_name_is_allowed_when_configured(settings: Settings) -> None:
    with _client(settings, allowed_hosts=["qa.example.org"]) as client:
        assert client.get("/api/health", headers={"Host": "qa.example.org"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "testserver"}).status_code == 421


def test_a_long_conversation_costs_what_a_few_questions_cost(settings: Settings) -> None:
    """20 follow-up turns of 990 characters once made one question cost 24 s: only the last few count."""
    embedder = Recording()
    engine = Engine.open(settings, embedder)
    turns = [
        Turn(f"{i} còn hội nghị đó thì sao " + "x" * 960, "Đáp " * 200, ("a_conference",)) for i in range(20)
    ]
    embedder.queries.clear()
    engine.ask("Còn ông ấy thì sao?", history=turns)
    longest = max(len(q) for q in embedder.queries)
    assert longest <= (HISTORY_TURNS + 1) * (settings.max_question_chars + 3)
    assert "19 còn" in embedder.queries[0] and "15 còn" not in embedder.queries[0]


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "\ud800 hội nghị"}, {"role": "assistant", "content": "x"}],
        [{"role": "user", "content": "Hội nghị " * 4000}, {"role": "assistant", "content": "y" * 30_000}],
    ],
    ids=["lone-surrogate", "30000-characters"],
)
def test_openai_history_is_checked_like_a_question(
    settings: Settings, messages: list[dict[str, str]]
) -> None:
    with _client(settings, max_body_bytes=200_000) as client:
        body = {"messages": [*messages, {"role": "user", "content": "Còn ông ấy thì sao?"}]}
        # as a client sends it: JSON's \\ud800 escape (a str holding it cannot be encoded)
        raw = json.dumps(body).encode()
        reply = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        assert reply.status_code in (200, 422), reply.text
        assert reply.headers["content-type"].startswith("application/json")


def test_a_fault_of_ours_is_a_json_problem_with_the_security_headers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Engine, question: str, *args: object, **kwargs: object) -> Sequence[object]:
        raise RuntimeError("a bug")

    with _client(settings) as client:
        monkeypatch.setattr(Engine, "ask", broken)
        reply = client.post("/api/ask", json={"question": QUESTION})
        assert reply.status_code == 500
        assert reply.json() == {"detail": "vnqa failed on this request (the server log says why)"}
        assert reply.headers["x-frame-options"] == "DENY"
        assert "a bug" not in reply.text


def _upload(client: TestClient, name: str, text: str, **data: str) -> Any:
    return client.post("/api/documents", files=[("files", (name, text.encode(), "text/plain"))], data=data)


def test_an_upload_whose_article_id_is_taken_is_refused_naming_the_owner(settings: Settings) -> None:
    """``a_conference.md`` beside ``a_conference.txt`` once took its id and the seed article vanished."""
    with _client(settings, allow_uploads=True) as client:
        before = client.get("/api/documents").json()["documents"]
        for data in ({}, {"replace": "true"}):
            reply = _upload(client, "a_conference.md", "Tin khác\n\nMột bài khác hẳn về thời tiết.", **data)
            assert reply.status_code == 409, reply.text
            assert "a_conference.txt" in reply.json()["detail"]
        assert not (settings.seeds_dir / "a_conference.md").exists()
        assert client.get("/api/documents").json()["documents"] == before


def test_parallel_uploads_of_one_new_name_create_it_once(settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with _client(settings, allow_uploads=True) as client:
        with ThreadPoolExecutor(5) as pool:
            replies = list(
                pool.map(lambda i: _upload(client, "moi.txt", f"Bài mới\n\nNội dung số {i}."), range(5))
            )
        codes = sorted(r.status_code for r in replies)
        assert codes == [202, 409, 409, 409, 409]
        assert [p.name for p in settings.seeds_dir.glob("moi*")] == ["moi.txt"]


@pytest.mark.parametrize("name", ["bao\u202etxt.md", "tin\u200bmoi.txt"], ids=["rtl-override", "zero-width"])
def test_invisible_characters_in_upload_names_are_refused(settings: Settings, name: str) -> None:
    with _client(settings, allow_uploads=True) as client:
        reply = _upload(client, name, "Tin\n\nNội dung.")
        assert reply.status_code == 422 and "invisible" in reply.json()["detail"]


def test_zero_width_characters_inside_words_do_not_change_the_answer(engine: Engine) -> None:
    plain = engine.ask(QUESTION)
    hidden = engine.ask("Ai chủ\u200b trì hội\u200c nghị trực\u2060 tuyến toàn\ufeff quốc?")
    assert plain.answerable and hidden.answer == plain.answer and hidden.confidence == plain.confidence


def _sse(*chunks: str) -> httpx.MockTransport:
    body = "".join(f"data: {c}\n\n" for c in chunks).encode()
    return httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )


def _reply_through(settings: Settings, generator: OpenAIGenerator) -> Any:
    engine = Engine.open(settings, FakeEmbedder(), generator=generator)
    return engine.reply(QUESTION)


@pytest.mark.parametrize(
    "chunk",
    [
        "[1,2,3]",
        '{"choices":"abc"}',
        '{"choices":[{"delta":{"content":5}}]}',
        '{"choices":[null]}',
        '{"choices":[{"delta":"abc"}]}',
        "not json",
        "7",
    ],
)
def test_an_llm_chunk_of_the_wrong_shape_gives_the_extractive_answer(settings: Settings, chunk: str) -> None:
    reply = _reply_through(settings, OpenAIGenerator("http://llm.invalid/v1", transport=_sse(chunk)))
    assert not reply.generated and reply.text == reply.answer.answer and "chunk" in (reply.note or "")


def test_an_llm_slower_than_its_timeout_in_all_is_cut_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One word a second once held a request 20 s with a 3 s timeout (it was per read)."""
    clock = iter(range(10_000))  # every look at the clock is one second later
    monkeypatch.setattr(generate.time, "monotonic", lambda: float(next(clock)))
    words = [json.dumps({"choices": [{"delta": {"content": f"từ{i} "}}]}) for i in range(20)]
    reply = _reply_through(
        settings, OpenAIGenerator("http://llm.invalid/v1", timeout=3, transport=_sse(*words))
    )
    assert not reply.generated and "within 3 s" in (reply.note or "")


def test_an_llm_sending_only_keep_alive_comments_is_cut_off_at_its_deadline(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SSE comments (": ping") are no events: a server sending only them never reached the deadline check."""
    clock = iter(range(10_000))  # every look at the clock is one second later
    monkeypatch.setattr(generate.time, "monotonic", lambda: float(next(clock)))
    body = (
        b": ping\n\n" * 1000 + b'data: {"choices":[{"delta":{"content":"late"},"finish_reason":"stop"}]}\n\n'
    )
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    reply = _reply_through(settings, OpenAIGenerator("http://llm.invalid/v1", timeout=3, transport=transport))
    assert not reply.generated and "within 3 s" in (reply.note or "")


def test_an_endless_llm_reply_is_cut_off(settings: Settings) -> None:
    piece = json.dumps({"choices": [{"delta": {"content": "Bà Trương Thị Mai chủ trì [1]. " * 100}}]})
    reply = _reply_through(
        settings, OpenAIGenerator("http://llm.invalid/v1", transport=_sse(*[piece] * 1000))
    )
    assert not reply.generated and str(generate.MAX_REPLY_CHARS) in (reply.note or "")


def test_a_citation_after_the_full_stop_still_checks_the_numbers() -> None:
    source = Source("a", "Tiêu đề", None, None, "Hội nghị có 120 đại biểu tham dự.", 1.0, 0, 33)
    assert "98765" in (check_citations("Hội nghị có 98765 đại biểu tham dự. [1]", [source]) or "")
    assert "98765" in (check_citations("Có 98765 đại biểu. Bà Mai chủ trì [1].", [source]) or "")
    assert check_citations("Hội nghị có 120 đại biểu tham dự. [1]", [source]) is None


def test_stream_must_be_a_json_boolean(settings: Settings) -> None:
    with _client(settings) as client:
        body = {"messages": [{"role": "user", "content": QUESTION}], "stream": "yes"}
        reply = client.post("/v1/chat/completions", json=body)
        assert reply.status_code == 422 and "stream" in reply.json()["detail"]


def test_a_body_shorter_than_its_content_length_is_answered_408() -> None:
    import asyncio

    from qa.server.limits import BodyLimit

    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never reached
        raise AssertionError("the app ran")

    async def never() -> dict[str, Any]:
        await asyncio.Event().wait()  # the rest of the body never comes
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/api/ask", "headers": [(b"content-length", b"100")]}
    asyncio.run(BodyLimit(app, 1000, timeout=0)(scope, never, send))
    assert sent[0]["status"] == 408 and b"did not arrive" in sent[1]["body"]


def test_a_flipped_bit_in_a_journal_record_drops_that_record(tmp_path: Path) -> None:
    """One flipped exponent bit was once published as an infinite-norm vector with valid checksums."""
    import numpy as np

    from qa.index.journal import KEY_BYTES, Journal, text_key

    journal = Journal(tmp_path, "fake-hash@4", 4)
    journal.append(["một", "hai"], np.eye(4, dtype=np.float32)[:2])
    data = bytearray(journal.path.read_bytes())
    data[KEY_BYTES + 3] ^= 0x40  # the first vector's first float: 1.0 becomes 2**128 (inf)
    journal.path.write_bytes(bytes(data))
    assert set(journal.read()) == {text_key("hai")}  # "một" is embedded again by the next build


def test_a_full_disk_is_one_line_and_leaves_no_half_written_build(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from typer.testing import CliRunner

    from qa.cli import app
    from qa.index import files

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "write_synced", full)
    result = CliRunner().invoke(
        app,
        ["index", "--seeds", str(settings.seeds_dir), "--index", str(settings.index_dir), "--model", "fake"],
    )
    assert result.exit_code == 1
    why = "No space left on device: free some space and index again"
    assert result.output.strip().splitlines() == [
        f"error: cannot write the index in {settings.index_dir}: {why}"
    ]
    assert not [p for p in settings.index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_a_failed_update_is_tried_again_and_the_folder_is_compared_at_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes made while the server was down were not indexed at start; a failed update was never retried."""
    import errno

    from qa.index import files
    from qa.server import updates

    Engine.open(settings, FakeEmbedder())  # built, then the server "goes down"
    (settings.seeds_dir / "moi.txt").write_text(
        "Tin mới\n\nĐường sắt Nhổn - ga Hà Nội khai trương.", encoding="utf-8"
    )
    real = files.write_synced
    failures = iter([True])  # the first write fails: the disk is full, then space is freed

    def flaky(path: Path, data: bytes) -> None:
        if next(failures, False):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(files, "write_synced", flaky)
    monkeypatch.setattr(updates, "RETRY_SECONDS", 0.01)
    with _client(settings, watch_interval=3600) as client:
        updater = client.app.state.updater  # type: ignore[attr-defined]
        first = updater.wait(1, HANG)
        assert first.error is not None and "No space left" in first.error
        assert updater.wait(2, HANG).error is None
        assert "moi" in client.app.state.engine.index.documents  # type: ignore[attr-defined]
