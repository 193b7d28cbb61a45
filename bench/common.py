"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
from functools import lru_cache
from pathlib import Path
from typing import Any


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc), NaN where unavailable."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def question_set_parser(description: str | None, sizes: bool = False) -> argparse.ArgumentParser:
    """Arguments shared by the benches that run over an evaluation question set (``sizes``: one or more
    distractor counts, each a corpus of its own)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("questions", type=Path)
    parser.add_argument("--distractors", type=Path)
    if sizes:
        parser.add_argument("--distractors-n", type=int, nargs="+", default=[300, 2000])
    else:
        parser.add_argument("--distractors-n", type=int, default=300)
    return parser


class CachedQueries:
    """An embedder's query side with each question embedded once (sweeps re-rank the same questions)."""

    def __init__(self, embedder: Any) -> None:
        self.id, self.dim = embedder.id, embedder.dim
        self.embed_query = lru_cache(maxsize=None)(embedder.embed_query)
