"""Sweep the fusion weights on a question set: doc hit@1 and evidence@5 per language for each setting.

    python bench/fusion.py ../shared/data/xquad-vi-dev
    python bench/fusion.py ../shared/data/xquad-vi-dev --distractors DIR --distractors-n 300

Uses the index ``qa eval`` keeps for the same arguments (built first if missing). Each question is
embedded once; every setting then re-ranks from the cached vectors, so a sweep takes seconds. Tune on the
dev half only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import CachedQueries, question_set_parser

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = question_set_parser(__doc__)
    parser.add_argument(
        "--weights", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1", help="lexical weights to try"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    from qa.config import get_settings
    from qa.embed import load_embedder
    from qa.eval.questionsets import open_question_set, prepare_eval
    from qa.index.build import build_index
    from qa.index.load import load_index
    from qa.search.hybrid import HybridRetriever

    question_set = open_question_set(args.questions)
    settings = prepare_eval(get_settings(), question_set, args.distractors, args.distractors_n, 0)
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=sys.stderr.isatty())
    index = load_index(settings.index_dir, embedder)

    questions = [q for q in question_set.questions if q.answerable]
    # a question uses the weight of the way it is written, so one sweep serves all three languages
    print(f"{len(questions)} questions, {len(index.chunks)} chunks\n")
    print("| lexical weight | lang | doc hit@1 | evidence@5 |")
    print("|---|---|---|---|")
    for weight in map(float, args.weights.split(",")):
        weights = dict.fromkeys(("en", "vi", "vi-folded"), weight)
        retriever = HybridRetriever(
            index, CachedQueries(embedder), weights, settings.sentence_weight, settings.english_shift
        )  # type: ignore[arg-type]
        by_lang: dict[str, list[tuple[bool, bool]]] = {}
        for q in questions:
            hits = retriever.search(q.text, 5)
            top = bool(hits) and hits[0].chunk.doc_id in q.relevant
            evidence = q.evidence is not None and any(q.evidence in h.chunk.text for h in hits)
            by_lang.setdefault(q.lang, []).append((top, evidence))
        for lang, rows in sorted(by_lang.items()):
            hit = sum(r[0] for r in rows) / len(rows)
            ev = sum(r[1] for r in rows) / len(rows)
            print(f"| {weight} | {lang} | {hit:.3f} | {ev:.3f} |")


if __name__ == "__main__":
    main()
