"""Thread settings for answering questions: threads per question x concurrent questions, idle and loaded.

    python bench/threads.py            # 240 questions per cell
    python bench/threads.py --quick    # 24 questions per cell (used by the test suite)

Settings come from the environment, as for ``qa`` (the index is built first if missing). Each cell asks
the seed questions through ``Engine.ask`` from C threads at once, with ``query_threads`` OpenMP threads
per question embedding; "busy" runs the same while one spinning process per core competes for the CPU.
Prints a Markdown table: p50 / p99 latency per question and questions per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPIN = "while True: pass"


def measure(engine: object, questions: list[str], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []

    def ask(question: str) -> None:
        began = time.perf_counter()
        engine.ask(question)  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(ask, questions))
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
        "per_s": round(len(ordered) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="24 questions per cell")
    parser.add_argument("--questions", type=int, default=240)
    parser.add_argument("--threads", default="1,2", help="threads per question to try")
    parser.add_argument("--concurrency", default="1,2,4", help="questions at once to try")
    args = parser.parse_args()
    total = 24 if args.quick else args.questions
    sys.path.insert(0, str(ROOT))
    from qa.config import get_settings
    from qa.engine import Engine

    records = [json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines()]
    questions = [f"{records[n % len(records)]['question']}" for n in range(total)]
    settings = get_settings()
    cores = os.cpu_count() or 1
    rows = []
    for load in ("idle", "busy"):
        spinners = (
            [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(cores)] if load == "busy" else []
        )
        try:
            for threads in (int(t) for t in args.threads.split(",")):
                engine = Engine.open(settings.model_copy(update={"query_threads": threads}))
                engine.ask(questions[0])  # warm up
                for concurrency in (int(c) for c in args.concurrency.split(",")):
                    figures = measure(engine, questions, concurrency)
                    rows.append({"load": load, "threads": threads, "concurrency": concurrency, **figures})
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
    print(json.dumps({"cores": cores, "rows": rows}))
    print(f"\n{cores} cores, {total} questions per cell, Engine.ask in-process\n")
    print("| machine | threads per question | questions at once | p50 ms | p99 ms | questions/s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['load']} | {r['threads']} | {r['concurrency']} | {r['p50_ms']} | {r['p99_ms']} "
            f"| {r['per_s']} |"
        )


if __name__ == "__main__":
    main()
