"""Running a question set through the engine and the plain-dense baseline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..answer.reading import FoldReaders, Reads
from ..config import Settings
from ..embed import load_embedder
from ..engine import Engine
from ..index import build_index
from ..search.hybrid import Ranking
from ..types import Answer
from .baseline import PlainDense
from .metrics import BASELINE, DEPTH, RULES, Attempt, Outcome, Ranked, failures, short_answer, summarise
from .questionsets import (
    Question,
    eval_cache_dir,
    open_question_set,
    prepare_eval,
)


def _ranked(chunks: Sequence[tuple[str, str, float]], evidence: str | None, relevant: int) -> Ranked:
    """A :class:`Ranked` from (doc_id, passage text, score) rows, best first."""
    docs: dict[str, float] = {}
    for doc_id, _, score in chunks:
        docs.setdefault(doc_id, score)
    return Ranked(
        docs=tuple(docs),
        doc_scores=tuple(docs.values()),
        passage_hits=tuple(evidence is not None and evidence in text for _, text, _ in chunks),
        passages_relevant=relevant,
    )


def evaluate_engine(
    engine: Engine,
    questions: Sequence[Question],
    retrievers: Sequence[str],
    tick: Callable[[], object] = lambda: None,
    baseline: PlainDense | None = None,
    leave_out: bool = False,
    readers: Callable[[Question], Reads | None] | None = None,
) -> list[Outcome]:
    """Ask every question of ``questions`` through ``engine`` (and ``baseline``, when given), ranking
    each once for both the retrieval metrics and the answer; with ``leave_out`` every answerable question
    is asked once more without its own articles. ``readers`` picks the reader of each question (the fold
    model that never saw its article); with a reader the rules answer too, as the "rules" row. ``tick``
    is called after each question."""
    retriever = engine.retriever
    depth = min(DEPTH, len(engine.index.chunks))
    texts = [c.text for c in engine.index.chunks]
    outcomes = []
    for question in questions:
        outcome = Outcome(question)
        evidence = question.evidence
        relevant = sum(evidence in text for text in texts) if evidence else 0
        began = time.perf_counter()
        ranking = retriever.rank(question.text)
        reader = readers(question) if readers is not None else engine.reader
        reading = replace(engine, reader=reader)
        reply = reading.ask(question.text, ranking=ranking)
        seconds = time.perf_counter() - began
        for name in retrievers:
            hits = retriever.hits(ranking, depth, name)  # type: ignore[arg-type]
            rows = [(h.chunk.doc_id, h.chunk.text, h.score) for h in hits]
            outcome.ranked[name] = _ranked(rows, evidence, relevant)
        outcome.answer, outcome.answerable = reply.answer, reply.answerable
        outcome.replies["vnqa"] = _attempt(reading, question, ranking, reply, seconds, leave_out)
        if reader is not None:
            rules = replace(engine, reader=None)
            began = time.perf_counter()
            plain = rules.ask(question.text, ranking=ranking)
            seconds = time.perf_counter() - began  # the ranking's time is counted once, above
            outcome.replies[RULES] = _attempt(rules, question, ranking, plain, seconds, leave_out)
        if baseline is not None:
            _ask_baseline(engine, baseline, question, outcome, leave_out)
        outcomes.append(outcome)
        tick()
    return outcomes


def _attempt(
    engine: Engine, question: Question, ranking: Ranking, reply: Answer, seconds: float, leave_out: bool
) -> Attempt:
    """The :class:`Attempt` of ``reply``; with ``leave_out``, asked once more without its articles."""
    short = reply.short_answer.text if reply.short_answer else short_answer(reply.answer)
    attempt = Attempt(reply.answer, reply.answerable, short, seconds)
    if leave_out and question.answerable:
        without = engine.retriever.rank(question.text, exclude=question.relevant)
        attempt.left_out_answerable = engine.ask(question.text, ranking=without).answerable
    return attempt


def _ask_baseline(
    engine: Engine, baseline: PlainDense, question: Question, outcome: Outcome, leave_out: bool
) -> None:
    """Rank and answer ``question`` with the plain-dense baseline into ``outcome``."""
    evidence = question.evidence
    began = time.perf_counter()
    query = engine.embedder.embed_query(question.text)
    found = baseline.search(query, DEPTH)
    seconds = time.perf_counter() - began
    with_evidence = sum(evidence in s.text for s in baseline.spans) if evidence else 0
    outcome.ranked[BASELINE] = _ranked(
        [(s.doc_id, s.text, score) for s, score in found], evidence, with_evidence
    )
    top = found[0][0].text if found else ""
    outcome.replies[BASELINE] = Attempt(top, bool(found), top, seconds)
    if leave_out and question.answerable:
        # plain dense always returns its nearest paragraph: it never says "not found"
        outcome.replies[BASELINE].left_out_answerable = bool(
            baseline.search(query, 1, exclude=question.relevant)
        )


@dataclass(frozen=True)
class Evaluation:
    """A finished evaluation: the questions, each one's outcome, the report and the failures."""

    @dataclass(frozen=True)
    class Options:
        """What ``qa eval`` asks for: retrievers, cut-offs, distractors around the set's articles, the
        leave-out pass and the plain-dense baseline."""

        retrievers: list[str]
        ks: list[int]
        distractors: Path | None = None
        distractors_n: int = 300
        seed: int = 0
        leave_out: bool = False
        baseline: bool = True
        reader_folds: Path | None = None  # a reader training run: each question read out-of-fold

    questions: list[Question]
    outcomes: list[Outcome]
    report: dict[str, Any]
    failures: list[dict[str, Any]]


def run_eval(settings: Settings, path: Path, options: Evaluation.Options, bars: bool = False) -> Evaluation:
    """Evaluate the question set at ``path``: a set that brings its own articles (a corpus/ folder, a
    BEIR corpus) is indexed in the evaluation cache, with the distractors if asked; a rerun reuses that
    index and every vector. ``bars`` draws progress bars on stderr."""
    question_set = open_question_set(path)
    records = question_set.questions
    prepared = prepare_eval(settings, question_set, options.distractors, options.distractors_n, options.seed)
    embedder = load_embedder(prepared)
    if prepared is not settings:  # the set's own articles: (re)build their index when they changed
        build_index(prepared, embedder, progress=sys.stderr.isatty())
    engine = Engine.open(prepared, embedder, progress=sys.stderr.isatty())
    plain = None
    if options.baseline:
        documents = list(engine.index.documents.values())
        vectors = eval_cache_dir(prepared) / "vectors"
        with tqdm(desc="baseline paragraphs", unit="text", disable=not bars) as bar:
            plain = PlainDense.build(documents, embedder, vectors, bar.update)
    readers = None
    if options.reader_folds is not None:
        from ..embed.convert import prepare_e5

        readers = FoldReaders(options.reader_folds, prepare_e5()).for_question
    with tqdm(total=len(records), desc="questions", unit="q", disable=not bars) as bar:
        outcomes = evaluate_engine(
            engine,
            records,
            options.retrievers,
            lambda: bar.update(1),
            baseline=plain,
            leave_out=options.leave_out,
            readers=readers,
        )
    report = summarise(outcomes, options.retrievers, options.ks)
    report["corpus"] = {"articles": str(prepared.seeds_dir), **engine.index.counts()}
    return Evaluation(list(records), outcomes, report, failures(outcomes, options.retrievers[-1]))
