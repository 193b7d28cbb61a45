"""Scale: build, start, ask and update at archive sizes, per store. Prints a Markdown table.

    python bench/scale.py FOLDER [FOLDER ...]           # e.g. folders of 1,000, 5,000 and 35,440 articles
    python bench/scale.py FOLDER --real                 # also build FOLDER with the real model
    python bench/scale.py --quick                       # a copy of the seed articles (used by the tests)

Per folder, in this order:

1. ``qa index --model fake`` into a fresh folder, in a child process: wall and CPU seconds (user + sys,
   the child's), CPU seconds per article, disk size of the published build. With ``--real`` the folder is
   also indexed with the packaged model; without it the real-model cost is projected from the texts the
   build embedded and the rate measured on the first 40 articles of the folder (texts per CPU second).
2. ``qa serve --model fake`` on that index: seconds until ``/api/health`` answers 200 (process start
   included), resident memory after the questions.
3. The seed questions asked one after another, in-process through ``Engine.ask`` and over HTTP
   (``POST /api/ask``): p50 and p99 in ms. The fake embedder leaves out the query encoder (about 20 ms a
   question with the real one: bench/query_latency.py measures with it).
4. One article changed while the server runs (a rare word appended to it): seconds from saving the file
   until the served index holds the new text (the article viewer shows it), picked up by the folder
   watch. The file is restored afterwards.

The folder must be writable (step 4). Stores (``--stores``): ``folder`` (FAISS + bm25s files, the default)
and ``postgres`` (the embedded PostgreSQL server, its data beside the index; its build time includes
publishing, its disk size is the database's, and the server's RSS leaves out PostgreSQL's own processes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.ingest.corpus import read_corpus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from load import free_port  # noqa: E402

MARKER = "zyqvoxbench"  # a word no article has
UPDATE_LIMIT = 1800.0  # seconds before the update is reported as not seen
# asked before timing: loads the word segmenter and the diacritics model once
WARM_UP = ("Ai chủ trì hội nghị?", "ai chu tri hoi nghi", "Who chaired the meeting?")


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(folder: Path, index: Path, model: str, store: str = "folder") -> dict[str, float]:
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(folder),
        "QA_INDEX_DIR": str(index),
        "QA_MODEL": model,
        "QA_STORE": store,
    }
    cpu, began = child_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "qa", "index", "--force"], env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"qa index failed:\n{done.stderr[-2000:]}")
    wall, cpu = time.perf_counter() - began, child_cpu() - cpu
    build_dir = (index / "current").resolve()
    manifest = json.loads((build_dir / "manifest.json").read_text())
    files = [f for f in build_dir.rglob("*") if f.is_file()]
    if store == "postgres":  # the database's files, not the staging folder's
        files = [f for f in (index / "postgres").rglob("*") if f.is_file() and not f.is_symlink()]
    embedded = int(done.stdout.split(" texts embedded")[0].rsplit("(", 1)[1])
    return {
        "articles": manifest["counts"]["documents"],
        "chunks": manifest["counts"]["chunks"],
        "sentences": manifest["counts"]["sentences"],
        "wall": wall,
        "cpu": cpu,
        "embedded": embedded,
        "disk_mb": sum(f.stat().st_size for f in files) / 2**20,
    }


def real_rate(folder: Path) -> float:
    """Texts the packaged model embeds per CPU second, on the first 40 articles' chunks and sentences."""
    from qa.embed import load_embedder
    from qa.index.files import PASSAGE_TEMPLATE
    from qa.ingest.chunking import chunk_document
    from qa.lang.text import sentence_spans

    documents = read_corpus(folder).documents[:40]
    texts = [
        PASSAGE_TEMPLATE.format(title=d.title, text=c.text)
        for d in documents
        for c in chunk_document(d, 1000, 1)
    ] + [d.text[s:e] for d in documents for s, e in sentence_spans(d.text)]
    embedder = load_embedder(Settings())
    embedder.embed_passages(texts[:16])  # loads the model
    began = time.process_time()
    for i in range(0, len(texts), 16):
        embedder.embed_passages(sorted(texts, key=len)[i : i + 16])
    return len(texts) / (time.process_time() - began)


def serve(folder: Path, index: Path, port: int, store: str) -> tuple[subprocess.Popen[bytes], float]:
    env = {
        **os.environ,
        "QA_STORE": store,
        "QA_SEEDS_DIR": str(folder),
        "QA_INDEX_DIR": str(index),
        "QA_MODEL": "fake",
        "QA_WATCH_INTERVAL": "1",
    }
    return started([sys.executable, "-m", "qa", "serve", "--port", str(port)], port, env)


def started(command: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    """A server started by ``command`` on ``port``, once ``/api/health`` answers 200, and the seconds
    that took."""
    began = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return server, time.perf_counter() - began
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            sys.exit(f"{' '.join(command[1:3])} exited before it was healthy")
        time.sleep(0.05)


def percentiles(latencies: list[float]) -> tuple[float, float]:
    return statistics.median(latencies), statistics.quantiles(latencies, n=100)[-1]


def in_process(folder: Path, index: Path, questions: list[str], store: str) -> tuple[float, float]:
    settings = Settings(seeds_dir=folder, index_dir=index, model="fake", store=store)  # type: ignore[arg-type]
    engine = Engine.open(settings, FakeEmbedder())
    for question in WARM_UP:
        engine.ask(question)
    latencies = []
    for question in questions:
        began = time.perf_counter()
        engine.ask(question)
        latencies.append((time.perf_counter() - began) * 1000)
    return percentiles(latencies)


def over_http(url: str, questions: list[str]) -> tuple[float, float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for question in WARM_UP:
            http.post("/api/ask", json={"question": question})
        for question in questions:
            began = time.perf_counter()
            http.post("/api/ask", json={"question": question}).raise_for_status()
            latencies.append((time.perf_counter() - began) * 1000)
    return percentiles(latencies)


def resident_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def update(url: str, article: Path) -> float:
    """Seconds from saving ``article`` with the marker word until the served index holds it."""
    original = article.read_bytes()
    doc_id = article.stem
    try:
        began = time.perf_counter()
        article.write_bytes(original + f"\n\nTừ khóa kiểm tra {MARKER}.\n".encode())
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.perf_counter() - began < UPDATE_LIMIT:
                # the article as the served index holds it (a question about a made-up word may rightly
                # get "not found"; the viewer shows what the index searches)
                if MARKER in http.get(f"/doc/{doc_id}").text:
                    return time.perf_counter() - began
                time.sleep(0.1)
        return float("inf")
    finally:
        article.write_bytes(original)


def measure(folder: Path, index: Path, store: str, questions: list[str], real: float | None) -> None:
    """One table row; ``real``: CPU seconds per article measured with the packaged model, else None (the
    cost is projected from the rate of the first 40 articles)."""
    built = build(folder, index, "fake", store)
    if real is None:
        rate = real_rate(folder)
        cost = f"{built['embedded'] / rate / built['articles']:.2f} (projected, {rate:.1f} texts/s)"
    else:
        cost = f"{real:.2f} (measured)"
    local = in_process(folder, index, questions, store)
    port = free_port()
    server, ready = serve(folder, index, port, store)
    try:
        url = f"http://127.0.0.1:{port}"
        remote = over_http(url, questions)
        rss = resident_gb(server.pid)
        article = sorted(folder.glob("*.txt"))[0]
        updated = update(url, article)
    finally:
        server.terminate()
        server.wait(30)
    print(
        f"| {store} | {built['articles']:,} | {built['chunks']:,} | {built['sentences']:,} | "
        f"{built['wall']:.1f} | {built['cpu'] / built['articles']:.3f} | {cost} | "
        f"{built['disk_mb']:.0f} | {ready:.1f} | {rss:.2f} | {local[0]:.0f} / {local[1]:.0f} | "
        f"{remote[0]:.0f} / {remote[1]:.0f} | {updated:.1f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--real", action="store_true", help="also build with the real model")
    parser.add_argument("--quick", action="store_true", help="a copy of the seed articles only")
    parser.add_argument("--stores", default="folder,postgres", help="comma-separated: folder, postgres")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so a killed bench still restores the article
    rows = [
        json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines() if line
    ]
    questions = [str(r["question"]) for r in rows]
    work = Path(tempfile.mkdtemp(prefix="vnqa-scale-"))
    folders = args.folders
    if args.quick or not folders:
        folders = [work / "seeds"]
        folders[0].mkdir()
        for path in (ROOT / "seeds").glob("*.txt"):
            shutil.copy(path, folders[0] / path.name)
    print(
        "| store | articles | chunks | sentences | build s (fake) | CPU s / article (fake) | real model: "
        "CPU s / article | disk MB | ready s | RSS GB | in-process p50 / p99 ms | HTTP p50 / p99 ms | "
        "1-article update s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        for folder in folders:
            real = None
            if args.real:
                measured = build(folder, work / f"{folder.name}-real", "multilingual-e5-small")
                real = measured["cpu"] / measured["articles"]
            for store in args.stores.split(","):
                measure(folder, work / f"{folder.name}-{store}", store, questions, real)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
