"""Question latency with the real query encoder, over an index built with the fake embedder.

    python bench/query_latency.py --seeds FOLDER --index INDEX [--stores folder,postgres] [--runs 2]
        [--model fake|e5]

bench/scale.py builds its indexes with the fake embedder, which leaves out what the packaged e5 model
costs to embed each question. Here every question is embedded by the packaged model first, as
``qa serve`` would embed it, and the index (built with the fake model, so its vectors are the fake
ones) is then searched with the fake vector: the time is the real model's plus the store's. The index
is built with the fake model first if ``INDEX`` holds none (for ``postgres``: published to the embedded
server beside it, or to ``QA_STORE_URL``). Per store and run, the seed questions are asked one after
another through ``Engine.ask`` (after a warm-up over the first ten), with the previous store's index let
go of; p50 and p99 in ms, with the encoder's own p50 beside them. Then the same passes over HTTP
(``POST /api/ask``, one request after another) to the app ``qa serve`` runs, started in a child process
with the same embedder.

``--model e5`` builds and searches the index with the packaged model itself (for small folders such as the
seeds), so the answers are the real ones, and so is which questions the learned reader reads (``QA_READER``;
the "questions read" column counts them in-process): a fake-vector index leaves many questions "not found",
and those are never read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from qa.answer.reader import Reading
from qa.answer.reading import Reads
from qa.config import Settings
from qa.embed import Embedder, FakeEmbedder, load_embedder
from qa.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from load import free_port  # noqa: E402
from scale import started  # noqa: E402


class RealEncoderCost(FakeEmbedder):
    """The fake embedder, after the packaged model has embedded the same question."""

    def __init__(self, real: Embedder) -> None:
        super().__init__()
        self._real = real

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        self._real.embed_query(text)
        return super().embed_query(text)


class CountedReader:
    """The engine's reader, counting the questions it reads."""

    def __init__(self, reader: Reads) -> None:
        self._reader = reader
        self.questions = 0

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        self.questions += 1
        return self._reader.read(question, sentences)


def embedder_for(model: str, real: Embedder) -> Embedder:
    """The packaged model itself for an index of its vectors, else the fake one paying its cost."""
    return real if model != "fake" else RealEncoderCost(real)


def percentiles(latencies: Sequence[float]) -> tuple[float, float]:
    return statistics.median(latencies), statistics.quantiles(latencies, n=100)[-1]


def timed(call: object, questions: Sequence[str]) -> list[float]:
    latencies = []
    for question in questions:
        began = time.perf_counter()
        call(question)  # type: ignore[operator]
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def serve(settings: Settings, port: int) -> None:
    """The app ``qa serve`` runs, on ``port``, with the real query encoder's cost (the child process)."""
    import uvicorn

    from qa.server.app import create_app

    app = create_app(settings, embedder_for(settings.model, load_embedder(Settings())))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def over_http(args: argparse.Namespace, store: str, questions: Sequence[str]) -> list[tuple[float, float]]:
    """p50 and p99 of each pass over ``questions`` sent to a child process serving ``store``."""
    port = free_port()
    command = [sys.executable, __file__, "--seeds", str(args.seeds), "--index", str(args.index)]
    command += ["--model", args.model]
    server, _ = started([*command, "--serve", store, "--port", str(port)], port, dict(os.environ))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:

            def ask(question: str) -> None:
                http.post("/api/ask", json={"question": question}).raise_for_status()

            for question in questions[:10]:
                ask(question)
            return [percentiles(timed(ask, questions)) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=Path, required=True, help="the articles the index is built from")
    parser.add_argument("--index", type=Path, required=True, help="index folder (built if empty)")
    parser.add_argument("--stores", default="folder,postgres", help="comma-separated: folder, postgres")
    parser.add_argument("--runs", type=int, default=2, help="timed passes over the questions per store")
    parser.add_argument(
        "--model",
        choices=("fake", "e5"),
        default="fake",
        help="the index's vectors: the fake model's (default, for large folders) or the packaged model's, "
        "so that answers, and the reader's reading of them, are the real ones",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the child process: serve this store
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(
            Settings(seeds_dir=args.seeds, index_dir=args.index, model=args.model, store=args.serve),
            args.port,
        )
        return
    lines = (ROOT / "seeds" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [str(json.loads(line)["question"]) for line in lines if line]
    real = load_embedder(Settings())
    reader = "on" if Settings().reader else "off"  # QA_READER=false: the rules alone, as before the reader
    print(
        "| store | vectors | reader | articles | how | run | ask p50 / p99 ms (real query encoder) "
        "| encoder p50 ms | questions read |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for store in args.stores.split(","):
        settings = Settings(seeds_dir=args.seeds, index_dir=args.index, model=args.model, store=store)  # type: ignore[arg-type]
        engine = Engine.open(settings, embedder_for(args.model, real))
        counted = CountedReader(engine.reader) if engine.reader is not None else None
        engine = replace(engine, reader=counted)
        articles = len(engine.index.documents)
        for question in questions[:10]:
            engine.ask(question)
        for run in range(1, args.runs + 1):
            before = counted.questions if counted else 0
            ask = percentiles(timed(engine.ask, questions))
            read = (counted.questions if counted else 0) - before
            encode = percentiles(timed(real.embed_query, questions))
            print(
                f"| {store} | {args.model} | {reader} | {articles:,} | in-process | {run} | "
                f"{ask[0]:.0f} / {ask[1]:.0f} | {encode[0]:.1f} | {read} of {len(questions)} |",
                flush=True,
            )
        del engine  # the next store is timed without this one's index in memory, as one server would be
        gc.collect()
        for run, ask in enumerate(over_http(args, store, questions), 1):
            print(
                f"| {store} | {args.model} | {reader} | {articles:,} | HTTP | {run} | "
                f"{ask[0]:.0f} / {ask[1]:.0f} | - | - |",
                flush=True,
            )


if __name__ == "__main__":
    main()
