"""Retrieval and answer evaluation on a question set, in the field's metrics and file formats.

Metrics, per retriever and per language tag, at two levels:

* document level: the relevant documents of each question;
* passage level: a retrieved chunk is relevant when it contains the question's evidence string, so the
  score does not depend on how the articles were chunked and chunkers can be compared (passage hit@5 is
  "evidence@5").

hit@k (any relevant item in the top k), Recall@k, MRR@10 and nDCG@10 (binary gains, log2 discount) are
averaged over the answerable questions. Answers are scored for vnqa and for the plain-dense baseline
(:mod:`qa.baseline`, top paragraph): answer-contains (the answer text holds a gold answer), SQuAD-style
exact match and token F1 of the short answer, false "not found" on answerable questions, abstention over
the unanswerable ones, abstention recall when each question is asked without its own article
(leave-out), and seconds per question.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Retriever
from .questionsets import (
    Question,
)

RETRIEVERS: tuple[Retriever, ...] = ("dense", "lexical", "hybrid")

BASELINE = "baseline"
RULES = "rules"  # vnqa with the reader off: the hand-set rules pick the answer

ALL = "all"

DEPTH = 100  # ranked chunks kept per question

_MARKED = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One question's ranking by one retriever: doc ids (best first, deduplicated) and their scores,
    and for passages whether each retrieved chunk holds the evidence."""

    docs: tuple[str, ...]
    doc_scores: tuple[float, ...]
    passage_hits: tuple[bool, ...]
    passages_relevant: int


@dataclass
class Attempt:
    """What one answerer said: the answer text, its short answer, and whether it answered at all."""

    text: str = ""
    answerable: bool = True
    short: str = ""
    seconds: float = 0.0
    left_out_answerable: bool | None = None  # the reply without the question's own article


@dataclass
class Outcome:
    """Everything measured for one question."""

    question: Question
    ranked: dict[str, Ranked] = field(default_factory=dict)
    answer: str = ""
    answerable: bool = True
    replies: dict[str, Attempt] = field(default_factory=dict)


def ranking_metrics(relevance: Sequence[bool], n_relevant: int, ks: Sequence[int]) -> dict[str, float]:
    """hit@k, recall@k for each k, MRR@10 and nDCG@10 of one ranking (``relevance[i]`` of rank i+1)."""
    out: dict[str, float] = {}
    for k in ks:
        found = sum(relevance[:k])
        out[f"hit@{k}"] = 1.0 if found else 0.0
        out[f"recall@{k}"] = found / n_relevant if n_relevant else 0.0
    first = next((i for i, rel in enumerate(relevance[:10]) if rel), None)
    out["mrr@10"] = 1.0 / (first + 1) if first is not None else 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(relevance[:10]) if rel)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, 10)))
    out["ndcg@10"] = dcg / ideal if ideal else 0.0
    return out


def mean_metrics(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    """Average each metric over the rows (an empty input gives an empty result)."""
    rows = list(rows)
    if not rows:
        return {}
    return {name: round(sum(r[name] for r in rows) / len(rows), 4) for name in rows[0]}


def abstention(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Precision and recall of "not found" over the questions the articles cannot answer."""
    abstained = [o for o in outcomes if not o.answerable]
    unanswerable = [o for o in outcomes if not o.question.answerable]
    correct = sum(1 for o in abstained if not o.question.answerable)
    return {
        "abstained": len(abstained),
        "unanswerable": len(unanswerable),
        "precision": round(correct / len(abstained), 4) if abstained else 0.0,
        "recall": round(correct / len(unanswerable), 4) if unanswerable else 0.0,
    }


def answer_contains(outcome: Outcome) -> bool:
    """The answer was given and its text (without the ``**`` span marks) holds an expected string."""
    return outcome.answerable and contains(outcome.answer, outcome.question.answers)


def contains(answer: str, golds: Sequence[str]) -> bool:
    """A gold answer lies inside ``answer`` once its ``**`` span marks are taken out."""
    text = answer.replace("**", "")
    return any(g in text for g in golds)


def normalise_answer(text: str) -> list[str]:
    """SQuAD-style answer tokens: NFC, lower-cased, punctuation deleted ("1.549" -> "1549"), split on
    whitespace."""
    text = unicodedata.normalize("NFC", text.lower())
    kept = "".join(
        c for c in text if not unicodedata.category(c).startswith("P") and c not in string.punctuation
    )
    return kept.split()


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return float(any(normalise_answer(prediction) == normalise_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """The best SQuAD token F1 of ``prediction`` against any gold answer."""
    predicted = normalise_answer(prediction)
    best = 0.0
    for gold in golds:
        wanted = normalise_answer(gold)
        common = sum((Counter(predicted) & Counter(wanted)).values())
        if common:
            precision, recall = common / len(predicted), common / len(wanted)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def short_answer(text: str) -> str:
    """The span an answer marks with ``**`` (the whole text when none is marked)."""
    marked = _MARKED.search(text)
    return marked.group(1) if marked else text.replace("**", "")


def reply_metrics(outcomes: Sequence[Outcome], answerer: str) -> dict[str, Any]:
    """Answer metrics of one answerer over ``outcomes`` (answerable questions for the answer scores)."""
    replies = [(o.question, o.replies[answerer]) for o in outcomes if answerer in o.replies]
    answerable = [(q, r) for q, r in replies if q.answerable]
    given = [(q, r) for q, r in answerable if r.answerable]
    left_out = [r.left_out_answerable for q, r in answerable if r.left_out_answerable is not None]

    def share(count: float, total: int) -> float:
        return round(count / total, 4) if total else 0.0

    text = [contains(r.text, q.answers) for q, r in given]
    return {
        "answer_contains": share(sum(text), len(answerable)),
        "exact_match": share(sum(exact_match(r.short, q.answers) for q, r in given), len(answerable)),
        "f1": share(sum(token_f1(r.short, q.answers) for q, r in given), len(answerable)),
        "false_not_found": share(len(answerable) - len(given), len(answerable)),
        "left_out_recall": share(sum(not a for a in left_out), len(left_out)) if left_out else None,
        "seconds": share(sum(r.seconds for _, r in replies), len(replies)),
    }


def summarise(outcomes: Sequence[Outcome], retrievers: Sequence[str], ks: Sequence[int]) -> dict[str, Any]:
    """The report: metrics per retriever, level and language ("all" first), answers, abstention."""
    langs = ["all", *sorted({o.question.lang for o in outcomes})]
    subsets = {lang: [o for o in outcomes if lang == "all" or o.question.lang == lang] for lang in langs}
    report: dict[str, Any] = {"questions": len(outcomes), "ks": list(ks), "retrievers": {}}
    names = [*([BASELINE] if any(BASELINE in o.ranked for o in outcomes) else []), *retrievers]
    for name in names:
        report["retrievers"][name] = _levels(subsets, name, ks)
    answerers = sorted({a for o in outcomes for a in o.replies}, key=lambda a: (a != BASELINE, a))
    report["answers"] = {lang: _answers(subset, answerers) for lang, subset in subsets.items()}
    return report


def _answers(subset: list[Outcome], answerers: list[str]) -> dict[str, Any]:
    """Answer metrics of one language's outcomes: answer-contains, abstention, and per answerer."""
    answerable = [o for o in subset if o.question.answerable]
    holding = sum(answer_contains(o) for o in answerable)
    return {
        "answer_contains": round(holding / len(answerable), 4) if answerable else 0.0,
        "abstention": abstention(subset),
        "by_answerer": {a: reply_metrics(subset, a) for a in answerers},
    }


def _levels(
    subsets: dict[str, list[Outcome]], name: str, ks: Sequence[int]
) -> dict[str, dict[str, dict[str, float]]]:
    """Retriever ``name``'s document- and passage-level metrics per language."""
    levels: dict[str, dict[str, dict[str, float]]] = {"document": {}, "passage": {}}
    for lang, subset in subsets.items():
        answerable = [o for o in subset if o.question.answerable]
        levels["document"][lang] = mean_metrics(
            ranking_metrics(
                [d in o.question.relevant for d in o.ranked[name].docs], len(o.question.relevant), ks
            )
            for o in answerable
        )
        with_evidence = [o for o in answerable if o.question.evidence]
        levels["passage"][lang] = mean_metrics(
            ranking_metrics(o.ranked[name].passage_hits, o.ranked[name].passages_relevant, ks)
            for o in with_evidence
        )
    return levels


def failures(outcomes: Sequence[Outcome], retriever: str, k: int = 3) -> list[dict[str, Any]]:
    """Answerable questions whose relevant document is not in the top ``k``, or whose answer misses
    every expected string, or unanswerable ones that got an answer; with what came instead."""
    out = []
    for o in outcomes:
        q = o.question
        problems = []
        if q.answerable:
            top = o.ranked[retriever].docs[:k]
            if not set(top) & set(q.relevant):
                problems.append(f"relevant document not in top {k}")
            if not answer_contains(o):
                problems.append("answer lacks the expected text" if o.answerable else "abstained")
        elif o.answerable:
            problems.append("answered a question the articles cannot answer")
        if problems:
            out.append(
                {
                    "id": q.qid,
                    "lang": q.lang,
                    "question": q.text,
                    "problems": problems,
                    "expected": list(q.relevant),
                    "retrieved": list(o.ranked[retriever].docs[:k]),
                    "answer": o.answer,
                }
            )
    return out
