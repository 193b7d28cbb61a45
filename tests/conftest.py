"""Shared fixtures: tiny corpora, isolated environment, fake and real engines."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from qa.config import Settings, get_settings
from qa.embed import FakeEmbedder
from qa.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

# Guards against a hang only (a test waiting for an event that never comes), never a speed target:
# on a loaded machine anything may take long.
HANG = int(os.environ.get("VNQA_TEST_HANG", "600"))

# Left out of a plain `pytest` (the edit-test loop); `pytest --full` (what CI runs) includes them.
SLOW_MARKERS = ("real_model", "browser", "crash", "load", "wheel", "llm")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        help="also run the slow tests: " + ", ".join(SLOW_MARKERS) + " (what CI runs)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the slow tests unless ``--full`` is given or ``-m`` chooses tests explicitly."""
    if config.getoption("full") or config.getoption("markexpr"):
        return
    keep, slow = [], []
    for item in items:
        (slow if any(item.get_closest_marker(m) for m in SLOW_MARKERS) else keep).append(item)
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = keep


# In CI (CI=true) these may not be skipped: a skip there means Chromium or llama.cpp went missing.
NEVER_SKIPPED_IN_CI = ("browser", "llm")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With CI=true, a skipped browser or LLM test is reported failed, with the skip's reason."""
    report = yield
    if (
        os.environ.get("CI") == "true"
        and report.skipped
        and any(item.get_closest_marker(m) for m in NEVER_SKIPPED_IN_CI)
    ):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which must run it: {report.longrepr}"
    return report


ARTICLES = {
    "a_conference.txt": (
        "You are here\n\n"
        "Hội nghị trực tuyến toàn quốc về công tác tổ chức\n\n"
        "T.Hương | 09/02/2018 15:32\n\n"
        "Đồng chí Trương Thị Mai chủ trì hội nghị trực tuyến toàn quốc. Hội nghị được tổ chức tại Hà Nội.\n\n"
        "Các đại biểu đã nghe quán triệt 5 văn bản mới của Trung ương.\n\n"
        "Nguồn KTĐT: http://example.vn/hoi-nghi.html\n\n"
        "(0) Bình luận\nNổi bật\nĐừng bỏ lỡ\n"
    ),
    "b_visit.txt": (
        "Thường trực Ban Bí thư Trương Tấn Sang làm việc với Thành ủy Hà Nội\n\n"
        "Chiều 23/4, đồng chí Trương Tấn Sang đã làm việc với Thành ủy Hà Nội về công tác cán bộ.\n\n"
        "Thành phố đã tinh giản được 1.549 biên chế trong năm qua.\n\n"
        "0 nhận xét:\n\nĐăng nhận xét\n"
    ),
    "c_weather.md": (
        "Thời tiết\n\nBản tin nông nghiệp\n\nNông dân thu hoạch lúa sớm vì mưa lớn kéo dài ở đồng bằng.\n"
    ),
}


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    """The whole suite runs with outbound network blocked: only loopback and Unix sockets connect."""
    import ipaddress
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def allowed(sock: socket.socket, address: object) -> bool:
        if sock.family == socket.AF_UNIX:
            return True
        host = address[0] if isinstance(address, tuple) else address
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def connect(sock: socket.socket, address: object) -> None:
        if not allowed(sock, address):
            raise ConnectionRefusedError(f"network blocked by the test suite: {address}")
        real_connect(sock, address)  # type: ignore[arg-type]

    def connect_ex(sock: socket.socket, address: object) -> int:
        if not allowed(sock, address):
            raise ConnectionRefusedError(f"network blocked by the test suite: {address}")
        return real_connect_ex(sock, address)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No QA_* variable leaks in, no model hub is reachable, and relative paths and caches land in
    tmp_path."""
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("QA_READER", "false")  # the reader needs the real model: real-model tests turn it on
    monkeypatch.setenv("QA_EVAL_CACHE", str(tmp_path / "eval-cache"))  # never the user's own cache
    monkeypatch.setenv("QA_ALLOWED_HOSTS", '["127.0.0.1", "localhost", "::1", "testserver"]')  # TestClient's
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@contextlib.contextmanager
def serve_in_thread(app: object) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def write_corpus(folder: Path, articles: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (articles or ARTICLES).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A folder with three tiny articles (with page furniture, a URL and a byline date)."""
    return write_corpus(tmp_path / "articles")


@pytest.fixture
def settings(corpus: Path, tmp_path: Path) -> Settings:
    """Settings for the tiny corpus with the fake embedder and a private index folder."""
    return Settings(seeds_dir=corpus, index_dir=tmp_path / "index", model="fake", chunk_size=200)


@pytest.fixture
def engine(settings: Settings) -> Engine:
    """An engine over the tiny corpus with the fake embedder (index built on first use)."""
    return Engine.open(settings, FakeEmbedder())


@pytest.fixture(scope="session")
def seeds_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five seed articles, copied so tests never touch the repository's folders."""
    target = tmp_path_factory.mktemp("seeds")
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="session")
def e5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged e5 model converted for sentence-transformers, once per session."""
    from qa.embed.convert import prepare_e5

    return prepare_e5(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def real_settings(seeds_copy: Path, e5_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default model settings on the seed articles (converted model from ``e5_folder``)."""
    return Settings(
        seeds_dir=seeds_copy,
        index_dir=tmp_path_factory.mktemp("real-index"),
        model_cache=e5_folder.parent,
        reader=True,  # as shipped (the isolated environment turns it off for the fake model's tests)
    )


@pytest.fixture(scope="session")
def real_engine(real_settings: Settings) -> Engine:
    """The default model on the seed articles, loaded and indexed once per session."""
    return Engine.open(real_settings)
