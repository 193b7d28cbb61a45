"""Memory drift: resident memory after warm-up versus after many questions, in one process.

    python bench/memory.py              # 10,000 questions
    python bench/memory.py --quick      # 1,000 questions (used by the test suite)

Settings come from the environment, as for ``qa``. The questions of seeds/questions.jsonl are asked
round-robin, each with a varying suffix so no cache can hide a leak.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

from common import rss_mb

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 200


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 questions")
    parser.add_argument("--questions", type=int, default=10_000)
    args = parser.parse_args()
    total = 1_000 if args.quick else args.questions
    sys.path.insert(0, str(ROOT))
    from qa.config import get_settings
    from qa.engine import Engine

    engine = Engine.open(get_settings())
    records = [json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines()]
    questions = [r["question"] for r in records]

    def ask(n: int) -> None:
        engine.ask(f"{questions[n % len(questions)]} {n}")

    for n in range(WARM_UP):
        ask(n)
    gc.collect()
    warm = rss_mb()
    began = time.perf_counter()
    for n in range(WARM_UP, WARM_UP + total):
        ask(n)
    gc.collect()
    after = rss_mb()
    drift = (after - warm) / warm * 100
    result = {
        "questions": total,
        "seconds": round(time.perf_counter() - began, 1),
        "rss_warm_mb": round(warm, 1),
        "rss_after_mb": round(after, 1),
        "drift_percent": round(drift, 2),
    }
    print(json.dumps(result))
    print(
        f"RSS after {WARM_UP} warm-up questions {warm:.1f} MB, after {total} more {after:.1f} MB "
        f"({drift:+.2f}%) in {result['seconds']} s"
    )
    # the target (drift within 10%) is judged on a full run; quick mode only proves the bench works
    sys.exit(0 if args.quick or abs(drift) <= 10 else 1)


if __name__ == "__main__":
    main()
