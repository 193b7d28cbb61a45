"""Fit the "not found" models of qa/confidence.py on a question set asked with and without its articles.

    python bench/abstention.py ../shared/data/xquad-vi-dev --distractors DIR --distractors-n 300 2000 \
        --reader-folds reader-run

Every answerable question is ranked once against the full corpus (label: answerable) and once without its
own article (label: not found), over the corpus alone and with each count of distractors. A logistic
model per way of writing is fitted on all of it (Newton's method, a little L2); its threshold is the
highest probability under which at most 5% of the answerable questions of each of the main set's
corpora fall, so false "not found" stays at 5% whatever the archive's size. Prints the models as Python
for qa/confidence.py and a table of leave-out recall and false "not found" per set. Tune on the dev half
only.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from common import CachedQueries, question_set_parser

ROOT = Path(__file__).resolve().parent.parent
FALSE_NOT_FOUND = 0.05
# An English question's rare words are only its names, numbers and foreign words, which most lack: the
# fused lead times their share ("ahead") is zero for those, and fitted with it the English model lowered
# them all (the seed chat's "How many cadres received the commemorative medal?" fell under its threshold)
LEFT_OUT = {"en": ("ahead",)}


def fit(x, y, l2=1e-2):  # type: ignore[no-untyped-def]
    """Logistic regression by Newton's method: (intercept, weights) on standardised columns."""
    import numpy as np

    mean, std = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ beta))
        gradient = z.T @ (p - y) + l2 * np.r_[0, beta[1:]]
        hessian = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0, np.ones(len(beta) - 1)])
        beta -= np.linalg.solve(hessian, gradient)
    weights = beta[1:] / std
    return float(beta[0] - (weights * mean).sum()), [float(w) for w in weights]


def main() -> None:
    parser = question_set_parser(__doc__, sizes=True)
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=[],
        help="another question set to fit on, asked against its articles alone (repeatable)",
    )
    parser.add_argument(
        "--false-not-found",
        type=float,
        default=FALSE_NOT_FOUND,
        help="share of answerable questions allowed under each threshold",
    )
    parser.add_argument("--reader-folds", type=Path, help="a reader training run: fit READ_MODELS too")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from qa.answer.confidence import FEATURES, READ_FEATURES
    from qa.answer.evidence import EVIDENCE_CHUNKS, evidence_sentence
    from qa.answer.reading import FoldReaders, read_as
    from qa.config import get_settings
    from qa.embed import load_embedder
    from qa.embed.convert import prepare_e5
    from qa.eval.questionsets import open_question_set, prepare_eval
    from qa.index.build import build_index
    from qa.index.load import load_index
    from qa.search.hybrid import HybridRetriever, lexical_weights

    settings = get_settings()
    embedder = load_embedder(settings)

    from qa.answer.confidence import features

    folds = FoldReaders(args.reader_folds, prepare_e5(settings.model_cache)) if args.reader_folds else None
    main_set = open_question_set(args.questions)
    corpora = [(f"{args.questions.name} alone", main_set, None, 0)]
    if args.distractors is not None:
        for n in args.distractors_n:
            corpora.append((f"{args.questions.name} +{n} distractors", main_set, args.distractors, n))
    corpora += [(f"{path.name} alone", open_question_set(path), None, 0) for path in args.also]
    rows = []  # (corpus, language, features, answerable); with a reader, its margin is the last feature
    for name, question_set, folder, n in corpora:
        prepared = prepare_eval(settings, question_set, folder, n, 0)
        build_index(prepared, embedder, progress=sys.stderr.isatty())
        index = load_index(prepared.index_dir, embedder)
        weights = lexical_weights(prepared)
        queries = CachedQueries(embedder)
        retriever = HybridRetriever(index, queries, weights, prepared.sentence_weight, prepared.english_shift)  # type: ignore[arg-type]
        for q in question_set.questions:
            if not q.answerable:
                continue
            for exclude, label in (((), 1), (q.relevant, 0)):
                ranking = retriever.rank(q.text, exclude=exclude)
                hits = retriever.hits(ranking, 1)
                signals = features(index, ranking, hits[0] if hits else None, q.text)
                if folds is not None:
                    sentence = evidence_sentence(retriever, ranking, q.text)  # type: ignore[arg-type]
                    passages = [h.chunk.text for h in retriever.hits(ranking, EVIDENCE_CHUNKS)]
                    asked = read_as(q.text, ranking.language, passages)
                    read = folds.for_question(q).read(asked, [sentence.text]) if sentence else []
                    signals["read"] = read[0].margin if read else -10.0
                rows.append(
                    (name, ranking.language, [signals[f] for f in READ_FEATURES if f in signals], label)
                )
    print_models("MODELS", fitted(rows, corpora, main_set, FEATURES, args.false_not_found), corpora, rows)
    if folds is not None:
        print_models(
            "READ_MODELS", fitted(rows, corpora, main_set, READ_FEATURES, args.false_not_found), corpora, rows
        )


def fitted(rows, corpora, main_set, names, false_not_found):  # type: ignore[no-untyped-def]
    """A model per way of writing over the signals ``names``, and its threshold."""
    import numpy as np

    from qa.answer.confidence import Model

    models = {}
    for language in ("en", "vi", "vi-folded"):
        mine = [r for r in rows if r[1] == language]
        if not mine:  # a set without questions written this way
            continue
        used = [i for i, name in enumerate(names) if name not in LEFT_OUT.get(language, ())]
        x = np.array([r[2][: len(names)] for r in mine])
        y = np.array([r[3] for r in mine], dtype=float)
        intercept, coefficients = fit(x[:, used], y)
        weights = [0.0] * len(names)
        for i, weight in zip(used, coefficients, strict=True):
            weights[i] = weight
        model = Model(intercept, tuple(weights), 0.0, names)
        p = np.array([model.probability(dict(zip(names, r[2], strict=False))) for r in mine])
        corpus = np.array([r[0] for r in mine])
        threshold = min(
            float(np.quantile(p[(y == 1) & (corpus == name)], false_not_found, method="lower"))
            for name, question_set, *_ in corpora
            if question_set is main_set and np.any((y == 1) & (corpus == name))
        )
        # the threshold is rounded down, so no answerable question falls under it by rounding
        models[language] = Model(
            round(intercept, 4), tuple(round(w, 4) for w in weights), math.floor(threshold * 1e4) / 1e4, names
        )
    return models


def print_models(title, models, corpora, rows):  # type: ignore[no-untyped-def]
    """The models as Python for qa/answer/confidence.py, and their leave-out recall and false "not
    found" on each corpus."""
    import numpy as np

    print(f"{title}: dict[Language, Model] = {{")
    for language, m in models.items():
        names = "" if title == "MODELS" else ", READ_FEATURES"
        print(f'    "{language}": Model({m.intercept}, {m.weights}, {m.threshold}{names}),')
    print("}\n")
    print("| corpus | language | leave-out recall | false not found |")
    print("|---|---|---|---|")
    for name, *_ in corpora:
        for language, m in models.items():
            mine = [r for r in rows if r[0] == name and r[1] == language]
            answered = [m.probability(dict(zip(m.names, r[2], strict=False))) >= m.threshold for r in mine]
            recall = np.mean([not a for a, r in zip(answered, mine, strict=True) if r[3] == 0])
            fnf = np.mean([not a for a, r in zip(answered, mine, strict=True) if r[3] == 1])
            print(f"| {name} | {language} | {recall:.3f} | {fnf:.3f} |")
    print()


if __name__ == "__main__":
    main()
