"""The built wheel, installed outside the source tree, serves the chat and answers (package data)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from .conftest import HANG, ROOT, write_corpus

pytestmark = pytest.mark.wheel


def test_the_installed_wheel_serves(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = dist.glob("vnqa-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"qa/web/templates/chat.html", "qa/web/static/style.css", "qa/index/background.txt"} <= names
    # every module of the source tree, in every room, is in the wheel (setuptools drops unlisted packages)
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "qa").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    site = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)

    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the editable checkout
    where = subprocess.run(
        [sys.executable, "-c", "import qa; print(qa.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    corpus = write_corpus(tmp_path / "articles")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "qa", "serve", "--port", str(port), "--seeds", str(corpus)]
    command += ["--index", str(tmp_path / "index"), "--model", "fake"]
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HANG
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed server did not become healthy"
            time.sleep(0.1)
        page = httpx.get(url + "/", headers={"accept": "text/html"})
        assert page.status_code == 200 and '<form id="ask"' in page.text
        assert httpx.get(url + "/static/style.css").status_code == 200
        answer = httpx.post(url + "/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?"})
        assert answer.status_code == 200 and "Trương Thị Mai" in answer.json()["answer"]
    finally:
        server.terminate()
        server.wait(HANG)
