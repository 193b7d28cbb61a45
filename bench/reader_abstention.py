"""Choose the "not found" thresholds used with the reader (qa/answer/reading.py THRESHOLDS), out-of-fold.

    python bench/reader_abstention.py ../shared/data/xquad-vi-dev --folds READER_RUN \
        --distractors DIR --distractors-n 2000

Every answerable question is answered once against the full corpus (it should be answered) and once
without its own article (it should be "not found"), over the set's articles alone and with each count
of distractors, by the fold model of READER_RUN (``qa reader train``'s output) that never saw its article.
Each answer's probability (qa/answer/confidence.py) and the reader's best margin are kept; per way of
writing, the pair of thresholds with the best leave-out recall whose false "not found" stays at most 5%
on every corpus is printed as Python for THRESHOLDS, with the table of each corpus.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import question_set_parser

ROOT = Path(__file__).resolve().parent.parent
FALSE_NOT_FOUND = 0.05


class Recording:
    """A reader that keeps the best margin of its last reading."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.best = -math.inf

    def read(self, question: str, sentences: Sequence[str]) -> list[Any]:
        readings = self.reader.read(question, sentences)
        self.best = max((r.margin for r in readings), default=-math.inf)
        return list(readings)


def choose(
    rows: list[tuple[str, float, float, int]], corpora: list[str], budget: float
) -> tuple[float, float]:
    """The (probability, margin) thresholds with the best leave-out recall and at most ``budget`` of the
    answerable questions of each corpus under either."""
    import numpy as np

    probabilities = sorted({0.0, *np.quantile([r[1] for r in rows if r[3]], np.linspace(0, 0.1, 21))})
    margins = sorted({-math.inf, *np.quantile([r[2] for r in rows if r[3]], np.linspace(0, 0.1, 21))})
    best, chosen = -1.0, (0.0, -math.inf)
    for p in probabilities:
        for m in margins:
            ok = all(
                np.mean([r[1] < p or r[2] < m for r in rows if r[0] == c and r[3]]) <= budget for c in corpora
            )
            recall = float(np.mean([r[1] < p or r[2] < m for r in rows if not r[3]]))
            if ok and recall > best:
                best, chosen = recall, (float(p), float(m))
    return chosen


def main() -> None:
    parser = question_set_parser(__doc__, sizes=True)
    parser.add_argument("--folds", type=Path, required=True, help="a reader training run (fold models)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from qa.answer.evidence import answer_question
    from qa.answer.reading import FoldReaders
    from qa.config import get_settings
    from qa.embed import load_embedder
    from qa.embed.convert import prepare_e5
    from qa.engine import Engine
    from qa.eval.questionsets import open_question_set, prepare_eval
    from qa.index.build import build_index

    settings = get_settings()
    embedder = load_embedder(settings)
    folds = FoldReaders(args.folds, prepare_e5())
    question_set = open_question_set(args.questions)
    sizes = [0, *(args.distractors_n if args.distractors is not None else [])]
    rows = []  # (corpus, language, probability, margin, answerable)
    for n in sizes:
        name = f"{args.questions.name} +{n}" if n else f"{args.questions.name} alone"
        prepared = prepare_eval(settings, question_set, args.distractors if n else None, n, 0)
        build_index(prepared, embedder, progress=sys.stderr.isatty())
        engine = Engine.open(prepared, embedder)
        for i, q in enumerate(question_set.questions):
            if not q.answerable:
                continue
            reader = Recording(folds.for_question(q))
            for exclude, label in (((), 1), (q.relevant, 0)):
                ranking = engine.retriever.rank(q.text, exclude=exclude)
                reader.best = -math.inf
                answer = answer_question(
                    engine.retriever,
                    q.text,
                    5,
                    ranking,
                    min_confidence=0.0,
                    reader=reader,
                    min_margin=-math.inf,
                )
                rows.append((name, ranking.language, answer.confidence, reader.best, label))
            if i % 100 == 0:
                print(f"{name}: {i}/{len(question_set.questions)}", file=sys.stderr)
    corpora = sorted({r[0] for r in rows})
    chosen = {}
    for language in ("en", "vi", "vi-folded"):
        mine = [(r[0], r[2], r[3], r[4]) for r in rows if r[1] == language]
        chosen[language] = choose(mine, corpora, FALSE_NOT_FOUND)
    print("THRESHOLDS: dict[str, tuple[float, float]] = {")
    for language, (p, m) in chosen.items():
        print(f'    "{language}": ({math.floor(p * 1e4) / 1e4}, {math.floor(m * 100) / 100}),')
    print("}\n")
    print("| corpus | language | leave-out recall | false not found | probability alone: recall / false |")
    print("|---|---|---|---|---|")
    for corpus in corpora:
        for language, (p, m) in chosen.items():
            mine = [r for r in rows if r[0] == corpus and r[1] == language]
            refused = [r[2] < p or r[3] < m for r in mine]
            alone = [r[2] < p for r in mine]
            cells = [
                np.mean([x for x, r in zip(flags, mine, strict=True) if r[4] == want])
                for flags in (refused, alone)
                for want in (0, 1)
            ]
            recall, false, recall_p, false_p = (float(c) for c in cells)
            print(f"| {corpus} | {language} | {recall:.3f} | {false:.3f} | {recall_p:.3f} / {false_p:.3f} |")


if __name__ == "__main__":
    main()
