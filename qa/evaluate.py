"""Retrieval and answer evaluation on a question set, in the field's metrics and file formats.

Question sets: our JSONL (``id, question, lang, relevant, evidence, answers``; see seeds/questions.jsonl)
or a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``). Runs are written as TREC run
files (``qid Q0 docid rank score tag``).

Metrics, per retriever and per language tag, at two levels:

* document level: the relevant documents of each question;
* passage level: a retrieved chunk is relevant when it contains the question's evidence string, so the
  score does not depend on how the articles were chunked and chunkers can be compared.

hit@k (any relevant item in the top k), Recall@k, MRR@10 and nDCG@10 (binary gains, log2 discount) are
averaged over the answerable questions. The answerer adds answer-contains (the answer text holds one of the
expected strings) and abstention precision / recall over the unanswerable questions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Retriever
from .engine import Engine
from .errors import QAError
from .retrieve import Ranking

RETRIEVERS: tuple[Retriever, ...] = ("dense", "lexical", "hybrid")
ALL = "all"
DEPTH = 100  # ranked chunks kept per question


class QuestionSetError(QAError):
    """The question set cannot be read."""


@dataclass(frozen=True, slots=True)
class Question:
    """One evaluation question; ``relevant`` is empty for questions the articles cannot answer."""

    qid: str
    text: str
    lang: str = "all"
    relevant: tuple[str, ...] = ()
    evidence: str | None = None
    answers: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True, slots=True)
class Ranked:
    """One question's ranking by one retriever: doc ids (best first, deduplicated) and their scores,
    and for passages whether each retrieved chunk holds the evidence."""

    docs: tuple[str, ...]
    doc_scores: tuple[float, ...]
    passage_hits: tuple[bool, ...]
    passages_relevant: int


@dataclass
class Outcome:
    """Everything measured for one question."""

    question: Question
    ranked: dict[str, Ranked] = field(default_factory=dict)
    answer: str = ""
    answerable: bool = True


# ------------------------------------------------------------------------------------ metrics


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
    text = outcome.answer.replace("**", "")
    return outcome.answerable and any(a in text for a in outcome.question.answers)


def summarise(outcomes: Sequence[Outcome], retrievers: Sequence[str], ks: Sequence[int]) -> dict[str, Any]:
    """The report: metrics per retriever, level and language ("all" first), answers, abstention."""
    langs = ["all", *sorted({o.question.lang for o in outcomes})]

    def subset(lang: str) -> list[Outcome]:
        return [o for o in outcomes if lang == "all" or o.question.lang == lang]

    report: dict[str, Any] = {"questions": len(outcomes), "ks": list(ks), "retrievers": {}}
    for name in retrievers:
        levels: dict[str, dict[str, dict[str, float]]] = {"document": {}, "passage": {}}
        for lang in langs:
            answerable = [o for o in subset(lang) if o.question.answerable]
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
        report["retrievers"][name] = levels
    report["answers"] = {}
    for lang in langs:
        answerable = [o for o in subset(lang) if o.question.answerable]
        contains = sum(answer_contains(o) for o in answerable)
        report["answers"][lang] = {
            "answer_contains": round(contains / len(answerable), 4) if answerable else 0.0,
            "abstention": abstention(subset(lang)),
        }
    return report


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


# ------------------------------------------------------------------------------------- running


Chunks = list[tuple[str, str, float]]  # (doc_id, chunk text, score), best first


def evaluate(
    questions: Sequence[Question],
    rank: Callable[[str], dict[str, Chunks]],
    answer: Callable[[str], tuple[str, bool]],
    passages_with: Callable[[str], int],
    retrievers: Sequence[str],
    tick: Callable[[], object] = lambda: None,
) -> list[Outcome]:
    """Run every question through ``rank`` (retriever name -> its top chunks) and ``answer``
    (-> (answer text, answerable)); ``passages_with(evidence)`` counts the indexed chunks holding the
    evidence (the ideal for passage nDCG); ``tick`` is called after each question."""
    outcomes = []
    for question in questions:
        ranked_by = rank(question.text)
        outcome = Outcome(question)
        evidence = question.evidence
        for name in retrievers:
            chunks = ranked_by[name][:DEPTH]
            docs: dict[str, float] = {}
            for doc_id, _, score in chunks:
                docs.setdefault(doc_id, score)
            outcome.ranked[name] = Ranked(
                docs=tuple(docs),
                doc_scores=tuple(docs.values()),
                passage_hits=tuple(evidence is not None and evidence in text for _, text, _ in chunks),
                passages_relevant=passages_with(evidence) if evidence else 0,
            )
        outcome.answer, outcome.answerable = answer(question.text)
        outcomes.append(outcome)
        tick()
    return outcomes


def evaluate_engine(
    engine: Engine,
    questions: Sequence[Question],
    retrievers: Sequence[str],
    tick: Callable[[], object] = lambda: None,
) -> list[Outcome]:
    """:func:`evaluate` with the retrievers and answerer of a loaded :class:`Engine`."""
    retriever = engine.retriever
    depth = min(DEPTH, len(engine.index.chunks))
    rankings: dict[str, Ranking] = {}  # each question is embedded and ranked once, for both uses

    def rank(text: str) -> dict[str, Chunks]:
        ranking = rankings[text] = retriever.rank(text)
        return {
            name: [(h.chunk.doc_id, h.chunk.text, h.score) for h in retriever.hits(ranking, depth, name)]  # type: ignore[arg-type]
            for name in retrievers
        }

    def answer(text: str) -> tuple[str, bool]:
        reply = engine.ask(text, ranking=rankings.pop(text, None))
        return reply.answer, reply.answerable

    def passages_with(evidence: str) -> int:
        return sum(evidence in chunk.text for chunk in engine.index.chunks)

    return evaluate(questions, rank, answer, passages_with, retrievers, tick)


# --------------------------------------------------------------------------------- file formats


def load_questions(path: Path) -> list[Question]:
    """Our JSONL question set, or the queries and qrels of a BEIR folder."""
    if path.is_dir():
        return load_beir_questions(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionSetError(f"cannot read {path}: {exc.strerror or exc}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                Question(
                    qid=str(row["id"]),
                    text=str(row["question"]),
                    lang=str(row.get("lang") or "all"),
                    relevant=tuple(row.get("relevant") or ()),
                    evidence=row.get("evidence"),
                    answers=tuple(row.get("answers") or ()),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionSetError(f"{path}:{number}: not a question record ({exc})") from None
    if not questions:
        raise QuestionSetError(f"{path} holds no questions")
    return questions


def load_beir_questions(folder: Path) -> list[Question]:
    """Queries of a BEIR folder with their relevant documents (qrels score > 0, every split)."""
    qrels: dict[str, list[str]] = {}
    files = sorted((folder / "qrels").glob("*.tsv"))
    if not (folder / "queries.jsonl").is_file() or not files:
        raise QuestionSetError(f"{folder} is not a BEIR folder (queries.jsonl and qrels/*.tsv)")
    for tsv in files:
        for line in tsv.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] != "query-id" and float(parts[2]) > 0:
                qrels.setdefault(parts[0], []).append(parts[1])
    questions = []
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            qid = str(row["_id"])
            questions.append(Question(qid, str(row["text"]), relevant=tuple(qrels.get(qid, ()))))
    return questions


def beir_corpus(folder: Path, target: Path) -> Path:
    """Write a BEIR ``corpus.jsonl`` out as one article file per document (title line, then text)."""
    target.mkdir(parents=True, exist_ok=True)
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            doc_id = str(row["_id"])
            if "/" in doc_id or doc_id.startswith("."):
                raise QuestionSetError(f"BEIR document id {doc_id!r} cannot be a file name")
            title = str(row.get("title") or doc_id)
            (target / f"{doc_id}.txt").write_text(f"{title}\n\n{row.get('text', '')}\n", encoding="utf-8")
    return target


def trec_run(outcomes: Sequence[Outcome], retriever: str, tag: str) -> str:
    """A TREC run file (document level): ``qid Q0 docid rank score tag`` per line."""
    lines = []
    for o in outcomes:
        ranked = o.ranked[retriever]
        for rank, (doc_id, score) in enumerate(zip(ranked.docs, ranked.doc_scores, strict=True), 1):
            lines.append(f"{o.question.qid} Q0 {doc_id} {rank} {score:.6f} {tag}")
    return "\n".join(lines) + "\n"


def trec_qrels(questions: Sequence[Question]) -> str:
    """The questions' relevant documents as a TREC qrels file (``qid 0 docid 1``)."""
    return "".join(f"{q.qid} 0 {d} 1\n" for q in questions for d in q.relevant)


def table(report: dict[str, Any], ks: Sequence[int]) -> str:
    """The report as Markdown tables: retrieval per retriever and language, then answers."""
    doc_cols = [f"hit@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
    pas_cols = [f"hit@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
    head = ["retriever", "lang", *(f"doc {c}" for c in doc_cols), *(f"psg {c}" for c in pas_cols)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, levels in report["retrievers"].items():
        for lang, doc in levels["document"].items():
            psg = levels["passage"].get(lang, {})
            cells = [f"{doc.get(c, 0):.3f}" for c in doc_cols] + [f"{psg.get(c, 0):.3f}" for c in pas_cols]
            lines.append(f"| {name} | {lang} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| lang | answer contains | abstained | unanswerable | abstention precision | abstention recall |",
        "|---|---|---|---|---|---|",
    ]
    for lang, row in report["answers"].items():
        a = row["abstention"]
        lines.append(
            f"| {lang} | {row['answer_contains']:.3f} | {a['abstained']} | {a['unanswerable']} "
            f"| {a['precision']:.3f} | {a['recall']:.3f} |"
        )
    return "\n".join(lines)
