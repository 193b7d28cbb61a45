"""How the learned reader would choose the evidence sentence and the span, against the rules, out-of-fold.

    python bench/reader_choice.py ../shared/data/xquad-vi-dev --folds READER_RUN [--distractors DIR
        --distractors-n N]

Each question is ranked once; the rules' 12 best candidate sentences (qa/answer/evidence.py) are read by
the fold model of READER_RUN (``qa reader train``'s output) that never saw the question's article. Prints,
per language, answer-contains of the sentence each way of choosing picks (the rules; the reader's best
margin; the rules' score plus w x sigmoid(margin)) and the short-answer F1 of the rules' span and of the
reader's span in the rules' sentence.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from common import question_set_parser

ROOT = Path(__file__).resolve().parent.parent
BLENDS = (0.1, 0.2, 0.5, 1.0)


def main() -> None:
    parser = question_set_parser(__doc__)
    parser.add_argument("--folds", type=Path, required=True, help="a reader training run (fold models)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from qa.answer import evidence
    from qa.answer.reading import FoldReaders, read_as
    from qa.config import get_settings
    from qa.embed import load_embedder
    from qa.embed.convert import prepare_e5
    from qa.engine import Engine
    from qa.eval.metrics import contains, short_answer, token_f1
    from qa.eval.questionsets import open_question_set, prepare_eval
    from qa.index.build import build_index
    from qa.lang.patterns import question_kind

    settings = get_settings().model_copy(update={"reader": False})
    embedder = load_embedder(settings)
    folds = FoldReaders(args.folds, prepare_e5())
    question_set = open_question_set(args.questions)
    n = args.distractors_n if args.distractors is not None else 0
    prepared = prepare_eval(settings, question_set, args.distractors, n, 0)
    build_index(prepared, embedder, progress=sys.stderr.isatty())
    engine = Engine.open(prepared, embedder)
    retriever = engine.retriever
    ways = ["rules", "reader", *(f"blend {w}" for w in BLENDS)]
    found: dict[tuple[str, str], list[float]] = {}
    for i, q in enumerate(question_set.questions):
        if not q.answerable:
            continue
        ranking = retriever.rank(q.text)
        hits = retriever.hits(ranking, evidence.EVIDENCE_CHUNKS)
        candidates = evidence._candidates(retriever, ranking, hits, q.text, question_kind(q.text))[:12]
        texts = [retriever.index.sentences[c.row].text for c in candidates]
        asked = read_as(q.text, ranking.language, [hit.chunk.text for hit in hits])
        readings = folds.for_question(q).read(asked, texts) if texts else []
        rules = engine.ask(q.text, ranking=ranking)
        picks = {"rules": 0, "reader": max(range(len(readings)), key=lambda j: readings[j].margin, default=0)}
        for w in BLENDS:
            picks[f"blend {w}"] = max(
                range(len(readings)),
                key=lambda j: candidates[j].score + w / (1 + math.exp(-readings[j].margin)),
                default=0,
            )
        for way, j in picks.items():
            found.setdefault((q.lang, way), []).append(float(bool(texts) and contains(texts[j], q.answers)))
        ruled = rules.short_answer.text if rules.short_answer else short_answer(rules.answer)
        found.setdefault((q.lang, "rules span"), []).append(
            token_f1(ruled, q.answers) if rules.answerable else 0
        )
        read = readings[0] if readings else None
        span = texts[0][read.start : read.end] if read is not None and read.start >= 0 else ""
        found.setdefault((q.lang, "reader span"), []).append(
            token_f1(span, q.answers) if rules.answerable else 0
        )
        if i % 200 == 0:
            print(f"{i}/{len(question_set.questions)}", file=sys.stderr)
    langs = sorted({lang for lang, _ in found})
    print("| the sentence chosen by | " + " | ".join(f"{lang} answer contains" for lang in langs) + " |")
    print("|---|" + "---|" * len(langs))
    for way in ways:
        cells = [sum(found[(lang, way)]) / len(found[(lang, way)]) for lang in langs]
        print(f"| {way} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    print("\n| the span in the rules' sentence | " + " | ".join(f"{lang} short F1" for lang in langs) + " |")
    print("|---|" + "---|" * len(langs))
    for way in ("rules span", "reader span"):
        cells = [sum(found[(lang, way)]) / len(found[(lang, way)]) for lang in langs]
        print(f"| {way} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
