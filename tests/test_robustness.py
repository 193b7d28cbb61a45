"""Bad input, oversized bodies, crashes, rebuilds under load, overload: nothing breaks, nothing is lost."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qa.api import AskResponse, create_app
from qa.config import Settings
from qa.embedding import FakeEmbedder
from qa.engine import Engine
from qa.errors import IndexNotBuiltError
from qa.index import build_index, load_index

from .conftest import serve_in_thread, write_corpus

MB = 1024 * 1024


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, FakeEmbedder())) as c:
        yield c


# --------------------------------------------------------------------------------------- input


def test_oversized_body_with_content_length_is_413(client: TestClient) -> None:
    response = client.post("/api/ask", content=b"x" * (10 * MB), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "limit is 65536 bytes" in response.json()["detail"]
    assert client.post("/api/ask", json={"question": "hội nghị"}).status_code == 200


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(10 * 16):
            yield b"y" * 65536

    response = client.post("/api/ask", content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert client.post("/api/ask", json={"question": "hội nghị"}).status_code == 200


def test_oversized_bodies_on_a_real_socket_are_refused_without_growing_memory(settings: Settings) -> None:
    with serve_in_thread(create_app(settings, FakeEmbedder())) as url:
        httpx.post(url + "/api/ask", json={"question": "warm up"})
        before = _rss_mb()
        for chunked in (False, True):
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock:
                head = "POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                head += (
                    "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {10 * MB}\r\n\r\n"
                )
                sock.sendall(head.encode())
                began = time.monotonic()
                sent = 0
                try:
                    while sent < 10 * MB:
                        piece = b"z" * 65536
                        sock.sendall(b"10000\r\n" + piece + b"\r\n" if chunked else piece)
                        sent += len(piece)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server answered and closed: exactly what should happen
                sock.settimeout(5)
                reply = sock.recv(4096).decode(errors="replace")
                assert reply.startswith("HTTP/1.1 413"), reply[:100]
                assert time.monotonic() - began < 5
        assert _rss_mb() - before < 10  # far less than the 20 MB that were sent
        assert httpx.post(url + "/api/ask", json={"question": "hội nghị"}).status_code == 200


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
_questions = st.text(alphabet=st.characters(codec=None), max_size=1200) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "a" * 1001, "Ai chủ trì?", "<script>alert(1)</script>"]
)
_bodies = st.one_of(
    st.fixed_dictionaries(
        {"question": _questions}, optional={"top_k": st.integers(-(10**7), 10**7) | _json_values}
    ),
    st.dictionaries(st.sampled_from(["question", "top_k", "extra"]), _json_values, max_size=3),
    _json_values,
)


@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies)
def test_no_body_makes_the_api_fail_or_break_its_schema(client: TestClient, body: object) -> None:
    raw = json.dumps(body).encode()  # ASCII escapes, so lone surrogates travel as JSON allows
    response = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500
    data = response.json()
    if response.status_code == 200:
        AskResponse.model_validate(data)
        assert 1 <= len(data["sources"]) <= 20 or not data["answerable"]
    else:
        assert response.status_code == 422 and isinstance(data["detail"], str) and data["detail"]


def test_top_k_beyond_the_chunk_count_returns_only_real_passages(
    client: TestClient, settings: Settings
) -> None:
    index = load_index(settings.index_dir)
    data = client.post("/api/ask", json={"question": "hội nghị Hà Nội", "top_k": 20}).json()
    assert len(data["sources"]) == min(20, len(index.chunks))
    for source in data["sources"]:
        assert index.documents[source["doc_id"]].text[source["start"] : source["end"]] == source["text"]


@pytest.mark.parametrize(
    "path",
    [
        "/static../qa/api.py",
        "/staticfoo/style.css",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%5c..%5cqa%5capi.py",
        "/static/" + "%2e%2e/" * 6 + "etc/passwd",
        "/doc/%2Fetc%2Fpasswd",
        "/doc/%2e%2e",
        "/doc/../../etc/passwd",
    ],
)
def test_sibling_prefix_and_encoded_traversal_are_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 404 and "root:" not in response.text


# ----------------------------------------------------------------------------- index integrity


def test_server_reports_a_corrupt_index_as_503(settings: Settings) -> None:
    report = build_index(settings, FakeEmbedder())
    (report.path / "chunks.faiss").write_bytes(b"garbage")
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        health = client.get("/api/health")
    assert health.status_code == 503 and "chunks.faiss fails its checksum" in health.json()["detail"]


def test_server_refuses_an_index_built_with_other_chunking(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    other = settings.model_copy(update={"chunk_size": 300})
    with TestClient(create_app(other, FakeEmbedder())) as client:
        health = client.get("/api/health")
    assert health.status_code == 503 and "chunks of 200 characters" in health.json()["detail"]


def _step_crashes() -> list[str]:
    return [f"write:{n}" for n in range(8)] + ["rename", "symlink", "replace", "cleanup"]


@pytest.mark.parametrize("step", _step_crashes())
def test_a_crash_at_any_publishing_step_keeps_a_loadable_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Every write, the rename, the link and the swap: before any of them dies, the old index stands."""
    import qa.index as index_module

    build_index(settings, FakeEmbedder())
    old = load_index(settings.index_dir)
    (settings.seeds_dir / "b_visit.txt").write_text(
        "Tiêu đề mới\n\nNội dung hoàn toàn mới.", encoding="utf-8"
    )

    class Crash(BaseException):
        pass

    writes = 0
    real_write = index_module._write_synced

    def write(path: Path, data: bytes) -> None:
        nonlocal writes
        if step == f"write:{writes}":
            path.write_bytes(data[: len(data) // 2])  # a torn write, then the process dies
            raise Crash
        writes += 1
        real_write(path, data)

    def die(*args: object, **kwargs: object) -> None:
        raise Crash

    monkeypatch.setattr(index_module, "_write_synced", write)
    if step in ("rename", "symlink", "replace"):
        monkeypatch.setattr(index_module.os, step, die)
    if step == "cleanup":
        monkeypatch.setattr(index_module, "_remove_stale", die)
    with pytest.raises(Crash):
        build_index(settings, FakeEmbedder())
    monkeypatch.undo()
    after = load_index(settings.index_dir)  # verifies every checksum
    if step == "cleanup":  # the swap happened: the new index is complete
        assert "Nội dung hoàn toàn mới." in after.documents["b_visit"].text
    else:
        assert after.path == old.path and after.documents == old.documents
    assert build_index(settings, FakeEmbedder()).rebuilt or step == "cleanup"


def _big_corpus(folder: Path, n: int = 300) -> Path:
    rng = random.Random(3)
    words = [
        *("hội", "nghị", "thành", "ủy", "ban", "tổ", "chức", "trung", "ương", "cán", "bộ"),
        *("đảng", "viên", "biên", "chế", "chính", "quyền", "đô", "thị"),
    ]
    articles = {
        f"a{i:04d}.txt": f"Bài số {i}\n\n"
        + "\n\n".join(" ".join(rng.choices(words, k=40)) + "." for _ in range(12))
        for i in range(n)
    }
    return write_corpus(folder, articles)


def test_kill_9_at_random_moments_of_indexing(tmp_path: Path) -> None:
    """20 SIGKILLs of ``qa index --force`` at random moments: the previous index always loads and verifies."""
    corpus = _big_corpus(tmp_path / "big")
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(corpus),
        "QA_INDEX_DIR": str(tmp_path / "idx"),
        "QA_MODEL": "fake",
    }
    command = [sys.executable, "-m", "qa", "index", "--force"]
    began = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    full = time.monotonic() - began
    first = load_index(tmp_path / "idx")
    expected = Engine.open(
        Settings(seeds_dir=corpus, index_dir=tmp_path / "idx", model="fake"), FakeEmbedder()
    ).ask("chính quyền đô thị")
    rng = random.Random(11)
    survived = 0
    for _ in range(20):
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, full))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = load_index(tmp_path / "idx")  # raises on any torn or mismatched file
        assert index.counts() == first.counts()
        engine = Engine.open(
            Settings(seeds_dir=corpus, index_dir=tmp_path / "idx", model="fake"), FakeEmbedder()
        )
        assert engine.ask("chính quyền đô thị") == expected
        survived += 1
    assert survived == 20
    leftovers = [p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith(".tmp-")]
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith(".tmp-")], leftovers


def test_rebuilding_while_serving_swaps_without_errors_or_mixed_answers(settings: Settings) -> None:
    fast = settings.model_copy(update={"reload_interval": 0.05})
    build_index(fast, FakeEmbedder())
    versions = [load_index(fast.index_dir)]
    stop = threading.Event()
    results: list[tuple[int, dict[str, Any]]] = []

    with serve_in_thread(create_app(fast, FakeEmbedder())) as url:

        def hammer() -> None:
            with httpx.Client(base_url=url, timeout=10) as http:
                while not stop.is_set():
                    response = http.post(
                        "/api/ask", json={"question": "hội nghị Hà Nội biên chế", "top_k": 5}
                    )
                    results.append((response.status_code, response.json()))

        workers = [threading.Thread(target=hammer) for _ in range(4)]
        for worker in workers:
            worker.start()
        for n in range(3):
            time.sleep(0.3)
            (fast.seeds_dir / "b_visit.txt").write_text(
                f"Phiên bản {n}\n\nHội nghị Hà Nội lần {n} bàn về biên chế và chính quyền.\n",
                encoding="utf-8",
            )
            build_index(fast, FakeEmbedder())
            versions.append(load_index(fast.index_dir))
        deadline = time.monotonic() + 5
        while httpx.get(url + "/api/health").json()["index"]["path"] != str(versions[-1].path):
            assert time.monotonic() < deadline, "the server did not switch to the new index"
            time.sleep(0.05)
        time.sleep(0.2)
        stop.set()
        for worker in workers:
            worker.join()

    assert results and all(status == 200 for status, _ in results)
    seen = set()
    for _, data in results:
        matching = [
            n
            for n, index in enumerate(versions)
            if all(
                s["doc_id"] in index.documents
                and index.documents[s["doc_id"]].text[s["start"] : s["end"]] == s["text"]
                for s in data["sources"]
            )
        ]
        assert matching, "an answer mixes passages of different index versions"
        seen.add(matching[-1])
    assert len(seen) > 1  # answers really came from more than one version


# ----------------------------------------------------------------------------------------- load


class SlowEmbedder(FakeEmbedder):
    """Questions take 0.2 s, so requests pile up."""

    def embed_query(self, text: str) -> Any:
        time.sleep(0.2)
        return super().embed_query(text)


def test_overload_gets_a_fast_503_and_recovers(settings: Settings) -> None:
    build_index(settings, FakeEmbedder())
    tight = settings.model_copy(update={"max_concurrency": 1, "max_waiting": 2})
    with serve_in_thread(create_app(tight, SlowEmbedder())) as url:
        outcomes: list[tuple[int, float]] = []

        def ask() -> None:
            began = time.monotonic()
            response = httpx.post(url + "/api/ask", json={"question": "hội nghị"}, timeout=30)
            outcomes.append((response.status_code, time.monotonic() - began))
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1" and "busy" in response.json()["detail"]

        threads = [threading.Thread(target=ask) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = [status for status, _ in outcomes]
        assert set(statuses) == {200, 503} and statuses.count(200) >= 3
        assert max(seconds for status, seconds in outcomes if status == 503) < 0.5
        recovered = httpx.post(url + "/api/ask", json={"question": "hội nghị"}, timeout=30)
        assert recovered.status_code == 200


@pytest.mark.real_model
def test_sigterm_lets_requests_in_flight_finish(
    real_settings: Settings, real_engine: Engine, tmp_path: Path
) -> None:
    """40 questions queued one at a time behind the real model, then SIGTERM: all 40 are answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(real_settings.seeds_dir),
        "QA_INDEX_DIR": str(real_settings.index_dir),
        "QA_MODEL_CACHE": str(real_settings.model_cache),
        "QA_MAX_CONCURRENCY": "1",
    }
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        statuses: list[int] = []
        sent = threading.Semaphore(0)

        def ask(n: int) -> None:
            question = f"{'hội nghị ' * 100} {n}"  # long, distinct questions keep the model busy
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = json.dumps({"question": question})
            connection.request("POST", "/api/ask", body, {"content-type": "application/json"})
            sent.release()  # the request is on the wire before the signal is sent
            statuses.append(connection.getresponse().status)
            connection.close()

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(40)]
        for thread in threads:
            thread.start()
        for _ in threads:
            assert sent.acquire(timeout=30)
        deadline = time.monotonic() + 30
        while True:  # every request is answered or inside the server (running or queued at the gate)
            load = httpx.get(f"http://127.0.0.1:{port}/api/health").json()["load"]
            answered_before = len(statuses)
            if load["running"] + load["queued"] + answered_before >= 40:
                break
            assert time.monotonic() < deadline, (load, answered_before)
            time.sleep(0.01)
        server.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join()
        # uvicorn shuts down gracefully, then re-raises the signal: the conventional exit for SIGTERM
        assert server.wait(60) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    assert answered_before < 40  # requests really were in flight when the signal came
    assert statuses == [200] * 40
    text = log.read_text()
    assert "Waiting for application shutdown" in text and "Finished server process" in text


def test_missing_index_is_not_built_by_the_reload_watcher(settings: Settings) -> None:
    with pytest.raises(IndexNotBuiltError):
        Engine.open(settings, FakeEmbedder(), build_missing=False)


def test_network_is_blocked_for_the_test_suite() -> None:
    with pytest.raises(ConnectionRefusedError, match="network blocked"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    with pytest.raises(httpx.ConnectError, match="network blocked"):
        httpx.get("http://198.51.100.7/", timeout=1)


def test_json_error_bodies_are_json(client: TestClient) -> None:
    response = client.post("/api/ask", content=b"x" * (70 * 1024))
    assert response.status_code == 413
    assert json.loads(response.text)["detail"].startswith("request body too large")
    assert response.headers["x-content-type-options"] == "nosniff"
