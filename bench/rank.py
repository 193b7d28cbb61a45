"""Cost of one question as the archive grows: open time, then ``Engine.ask`` latency, fake embedder.

    python bench/rank.py FOLDER [FOLDER ...]    # e.g. folders of 1,000 and 5,000 news articles
    python bench/rank.py --quick                # the seed articles (used by the test suite)

Each folder is indexed with the fast fake embedder into a cache folder beside it (``FOLDER-index``,
kept for reruns), so the numbers are the retrieval and answer cost without the model's query time
(about 15 ms with the real query encoder, see the README). Prints a Markdown table: counts, CPU-seconds
to open the built index, ask p50 / p99 in ms over the seed questions, rank() mean in ms, resident memory
after the questions and the process's peak (GB; the folder's vector files are memory-mapped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def measure(folder: Path, index: Path, questions: list[str]) -> dict[str, float]:
    settings = Settings(seeds_dir=folder, index_dir=index, model="fake")
    Engine.open(settings, FakeEmbedder())  # builds when missing
    began = time.process_time()
    engine = Engine.open(settings, FakeEmbedder())
    opened = time.process_time() - began
    engine.ask(questions[0])  # loads the word segmenter once
    latencies = []
    for question in questions:
        start = time.perf_counter()
        engine.ask(question)
        latencies.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    for question in questions:
        engine.retriever.rank(question)
    ranked = (time.perf_counter() - start) * 1000 / len(questions)
    counts = engine.index.counts()
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30
    return {
        **counts,
        "rss_gb": resident,
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "open_cpu_s": opened,
        "p50_ms": statistics.median(latencies),
        "p99_ms": statistics.quantiles(latencies, n=100)[-1],
        "rank_ms": ranked,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--quick", action="store_true", help="the seed articles only")
    args = parser.parse_args()
    rows = [
        json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines() if line
    ]
    questions = [str(r["question"]) for r in rows]
    folders = [ROOT / "seeds"] if args.quick or not args.folders else args.folders
    columns = "articles | chunks | sentences | open (CPU s) | ask p50 ms | ask p99 ms | rank ms"
    columns += " | RSS GB | peak GB"
    print(f"| {columns} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for folder in folders:
        seeds = folder == ROOT / "seeds"  # never write an index into the repository's seeds
        index = Path(tempfile.mkdtemp()) if seeds else folder.with_name(folder.name + "-index")
        r = measure(folder, index, questions)
        print(
            f"| {r['documents']:,} | {r['chunks']:,} | {r['sentences']:,} | {r['open_cpu_s']:.1f} | "
            f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['rank_ms']:.0f} | {r['rss_gb']:.2f} | "
            f"{r['peak_gb']:.2f} |"
        )


if __name__ == "__main__":
    main()
