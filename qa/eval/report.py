"""The evaluation report as files (TREC run and qrels) and as Markdown tables."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .metrics import Outcome

if TYPE_CHECKING:
    from .run import Evaluation
from .questionsets import (
    Question,
)


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


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(report: dict[str, Any]) -> str:
    """The headline tables: retrieval per retriever and language (baseline first), then answers."""
    head = ["retriever", "lang", "doc hit@1", "doc hit@5", "doc MRR@10", "evidence@5"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, levels in report["retrievers"].items():
        for lang, doc in levels["document"].items():
            psg = levels["passage"].get(lang, {})
            cells = [doc.get("hit@1"), doc.get("hit@5"), doc.get("mrr@10"), psg.get("hit@5")]
            lines.append(f"| {name} | {lang} | " + " | ".join(_cell(c) for c in cells) + " |")
    head = [
        "answerer",
        "lang",
        "answer contains",
        "short EM",
        "short F1",
        "false not found",
        "leave-out recall",
        "abstention P / R",
        "s / question",
    ]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for lang, row in report["answers"].items():
        for name, m in row["by_answerer"].items():
            a = row["abstention"] if name == "vnqa" else None
            abst = f"{a['precision']:.3f} / {a['recall']:.3f}" if a and a["unanswerable"] else "-"
            cells = [m["answer_contains"], m["exact_match"], m["f1"], m["false_not_found"]]
            lines.append(
                f"| {name} | {lang} | "
                + " | ".join(_cell(c) for c in cells)
                + f" | {_cell(m['left_out_recall'])} | {abst} | {m['seconds']:.3f} |"
            )
    return "\n".join(lines)


def table(report: dict[str, Any], ks: Sequence[int]) -> str:
    """The full report as Markdown tables: every cut-off per retriever and language."""
    doc_cols = [f"hit@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
    pas_cols = [f"hit@{k}" for k in ks] + ["mrr@10", "ndcg@10"]
    head = ["retriever", "lang", *(f"doc {c}" for c in doc_cols), *(f"psg {c}" for c in pas_cols)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, levels in report["retrievers"].items():
        for lang, doc in levels["document"].items():
            psg = levels["passage"].get(lang, {})
            cells = [f"{doc.get(c, 0):.3f}" for c in doc_cols] + [f"{psg.get(c, 0):.3f}" for c in pas_cols]
            lines.append(f"| {name} | {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluation_text(done: Evaluation, retriever: str, ks: Sequence[int], seconds: float) -> str:
    """The evaluation's tables and its questions with a problem, as ``qa eval`` prints them."""
    counts, failed, n = done.report["corpus"], done.failures, len(done.questions)
    lines = [f"{n} questions over {counts['documents']} articles ({counts['chunks']} chunks)\n"]
    lines += [
        summary_table(done.report),
        "\nEvery cut-off (psg = a passage holding the evidence sentence):\n",
    ]
    lines += [table(done.report, ks), f"\n{len(failed)} questions with a problem ({retriever} retriever):"]
    for f in failed[:50]:
        lines.append(f"- {f['id']} [{f['lang']}] {f['question']}")
        lines.append(f"    {'; '.join(f['problems'])}; expected {f['expected']}, got {f['retrieved']}")
        lines.append(f"    answer: {textwrap.shorten(f['answer'], 140, placeholder=' …')}")
    if len(failed) > 50:
        lines.append(f"  ... and {len(failed) - 50} more (all of them in --json)")
    lines.append(f"\n{n} questions in {seconds:.1f} s")
    return "\n".join(lines)
