"""Ranked chunks -> :class:`Answer`: pick the evidence sentence, mark the answer span, cite, or abstain.

No generative model is available offline, so answers are extractive: the best evidence sentence from the
top passages, with the span that answers a who / when / how-many / which-article question wrapped in
``**``. When the best evidence is too weak the answer says the articles do not contain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..lang.bilingual import translations
from ..lang.patterns import (
    DATE,
    ENGLISH_NAMED,
    NUMBER,
    TYPED,
    QuestionKind,
    counted,
    person_name_matches,
)
from ..lang.query import analyse
from ..lang.text import Language, syllable_bigrams, syllables
from ..search.hybrid import HybridRetriever, Ranking
from ..types import Answer, Hit, Source, Span
from .confidence import confidence, reads
from .focus import Focus, focus_of, focused_marks, focused_sentence
from .lead import english_lead, with_plain
from .reader import Reading
from .reading import Reads, read_as, span_of
from .spans import aligned_span

NOT_FOUND_EN = "Not found in the articles."
NOT_FOUND_VI = "Không tìm thấy câu trả lời trong các bài báo."
EVIDENCE_CHUNKS = 3  # the evidence sentence is taken from the best few passages
# the ways of writing whose span the reader marks when it is on. Vietnamese: its span in the rules'
# sentence beats the rules' on xquad-vi-dev out-of-fold (short F1 .417 against .382, bench/reader_choice.py)
# and on the seed questions (.583 against .529, qa eval). Not English: better on xquad-vi-dev (.362 against
# .275) but worse on the seed questions (.247 against .260; with the weights before .192 against .223, and
# .208 when it marked only what the rules leave unmarked). Not Vietnamese without diacritics: read with
# them restored (``read_as``) it is better on xquad-vi-dev (short F1 .399 against .379, qa eval) but worse
# on the seed questions (.265 against .450).
READ: tuple[Language, ...] = ("vi",)
# a span the reader marks over more words than this is no short answer: the rules' span instead (short F1
# of Vietnamese questions on xquad-vi-dev out-of-fold .414 -> .417, on the seed questions .562 -> .570)
MAX_READ_WORDS = 10


@dataclass(frozen=True)
class EvidenceWeights:
    """Evidence sentence score = cosine + these bonuses (tuned on seeds/questions.jsonl, see README)."""

    passage: float = 0.2  # x fused score of the best passage holding the sentence
    # English questions: their fused score is mostly dense, whose scaling over the candidates spreads the
    # top passages apart more than their sentences' cosines differ (0.1 from 0 / .05 / .1 / .2 / .3 on
    # xquad-vi-dev)
    english_passage: float = 0.1
    # x lexical coverage x share of question syllables in the sentence (English: and x share of its names,
    # numbers and translated words)
    overlap: float = 0.1
    # x lexical coverage x share of the question's syllable pairs in the sentence: a sentence that says
    # what the question says in its order (0.2 from 0.05-0.5 on xquad-vi-dev alone and with 2,000 news)
    bigram: float = 0.2
    typed: float = 0.1  # the sentence holds a name / date / number when the question asks for one
    short_penalty: float = 0.05  # captions and bylines under short_chars rarely answer anything
    short_chars: int = 50
    # the sentence has a number of what a how-many question counts (0.05 from 0 / 0.05 / 0.1 on
    # xquad-vi-dev and the seeds, see the README)
    unit: float = 0.05


WEIGHTS = EvidenceWeights()


@dataclass(frozen=True, slots=True)
class _Candidate:
    row: int
    score: float


def answer_question(
    retriever: HybridRetriever,
    question: str,
    top_k: int,
    ranking: Ranking | None = None,
    min_confidence: float | None = None,
    asked: str | None = None,
    weights: EvidenceWeights = WEIGHTS,
    reader: Reads | None = None,
) -> Answer:
    """Retrieve, pick evidence and build the :class:`Answer` (sources best first, at most ``top_k``).

    ``ranking``, when given, is ``retriever.rank(question)`` computed already (evaluation ranks first).
    ``asked`` is the question as the user wrote it when ``question`` is its standalone form (a follow-up
    read in its conversation): it decides what kind of span to mark and is the answer's ``question``.
    ``confidence`` is the calibrated probability that the articles answer the question
    (:mod:`qa.confidence`); under ``min_confidence`` (default: its language's threshold) the answer is
    "not found in the articles" with no sources.

    The rules pick the sentence (``weights``) and line up the span (:mod:`qa.answer.spans`). With a
    ``reader`` (:mod:`qa.answer.reading`) the span of a question written in a language of ``READ`` is the
    reader's, and over the packaged model its margin in that sentence joins the confidence.
    """
    ranking = ranking if ranking is not None else retriever.rank(question)
    hits = retriever.hits(ranking, max(top_k, EVIDENCE_CHUNKS))
    own = asked or question
    # a follow-up's own words pick the sentence; its conversation only found the passages
    sentence = evidence_sentence(retriever, ranking, own, hits, weights)
    marking = _marking_kind(analyse(own).kind, own)
    focus = focus_of(own)
    marks = focused_marks(focus, sentence.text) if focus is not None and sentence is not None else None
    spans = ranking.language in READ and marking is not QuestionKind.WHICH_ARTICLE and marks is None
    reading = _read(reader, retriever, ranking, question, sentence, spans, hits)
    probability, enough = confidence(
        retriever.index,
        ranking,
        hits[0] if hits else None,
        question,
        min_confidence,
        reading.margin if reading is not None else None,
        (own, sentence),
    )
    if sentence is None or not enough:
        return Answer(
            question=own,
            # in the question's language: Vietnamese typed without diacritics gets Vietnamese too
            answer=NOT_FOUND_EN if analyse(own).english_question else NOT_FOUND_VI,
            answerable=False,
            sources=(),
            confidence=round(probability, 4),
        )
    if marks is not None:
        text, short, lead = _focused(retriever, sentence, marks, own, focus)
    else:
        text, short = _marked(retriever, sentence, marking, question, reading if spans else None)
        lead = _lead(marking, own, short)
    return Answer(
        question=own,
        answer=text,
        answerable=True,
        sources=tuple(_source(retriever, hit) for hit in _holding(retriever, hits, sentence)[:top_k]),
        evidence=sentence,
        confidence=round(probability, 4),
        short_answer=short,
        lead=lead,
    )


def _read(
    reader: Reads | None,
    retriever: HybridRetriever,
    ranking: Ranking,
    question: str,
    sentence: Span | None,
    spans: bool,
    hits: list[Hit],
) -> Reading | None:
    """The reader's reading of the evidence sentence: for its span (``spans``) and, where it counts there
    (qa/answer/confidence.py ``READ_MODELS``), for "not found". ``hits``: the best passages, whose words
    give a question typed without diacritics its diacritics (:func:`read_as`)."""
    if reader is None or sentence is None or not (spans or reads(retriever.index, ranking.language)):
        return None
    asked = read_as(question, ranking.language, [hit.chunk.text for hit in hits[:EVIDENCE_CHUNKS]])
    return reader.read(asked, [sentence.text])[0]


def evidence_sentence(
    retriever: HybridRetriever,
    ranking: Ranking,
    question: str,
    hits: list[Hit] | None = None,
    weights: EvidenceWeights = WEIGHTS,
) -> Span | None:
    """The sentence :func:`answer_question` shows for ``question`` ranked as ``ranking`` (``hits``: its
    best passages, when already taken), if any: the best of the ``EVIDENCE_CHUNKS`` best passages'."""
    hits = hits if hits is not None else retriever.hits(ranking, EVIDENCE_CHUNKS)
    focus = focus_of(question)
    focused = focused_sentence(retriever, ranking, hits, focus) if focus is not None else None
    if focused is not None:
        return focused
    kind = analyse(question).kind
    candidates = _candidates(retriever, ranking, hits[:EVIDENCE_CHUNKS], question, kind, weights)
    return retriever.index.sentences[candidates[0].row] if candidates else None


def _focused(
    retriever: HybridRetriever,
    sentence: Span,
    marks: list[tuple[int, int]],
    question: str,
    focus: Focus | None,
) -> tuple[str, Span | None, str | None]:
    """The evidence of a focused question (qa/answer/focus.py) with ``marks`` in ``**``, the first of
    them in the article, and for an English question its lead ("Led by A and B" for a meeting's heads)."""
    text = sentence.text
    for start, end in sorted(marks, reverse=True):
        text = _mark(text, (start, end))
    if not marks:
        return text, None, None
    start, end = sentence.start + marks[0][0], sentence.start + marks[0][1]
    short = Span(sentence.doc_id, start, end, retriever.index.documents[sentence.doc_id].text[start:end])
    names = [with_plain(sentence.text[a:b]) for a, b in marks]
    lead = None
    if analyse(question).english_question and focus == Focus("chair"):
        lead = "Led by " + " and ".join(names)
    return text, short, lead


def _marking_kind(kind: QuestionKind, question: str) -> QuestionKind:
    """What to mark: "What team ...?", "Which player ...?" in English ask for a name ("Name: Broncos")."""
    if analyse(question).english_question and kind is QuestionKind.OTHER and ENGLISH_NAMED.search(question):
        return QuestionKind.WHO
    return kind


def _lead(kind: QuestionKind, question: str, short: Span | None) -> str | None:
    """The short answer in English form for an English question ("On 7 August 2023"), if any."""
    if short is None or kind is QuestionKind.WHICH_ARTICLE or not analyse(question).english_question:
        return None
    return english_lead(kind.value, question, short.text)


def _marked(
    retriever: HybridRetriever,
    sentence: Span,
    kind: QuestionKind,
    question: str,
    reading: Reading | None = None,
) -> tuple[str, Span | None]:
    """The evidence sentence with its answer span in ``**`` (the article's title for "which article"),
    and that span in the article: the ``reading``'s when one is given and it finds a short one, else the
    rules'."""
    document = retriever.index.documents[sentence.doc_id]
    if kind is QuestionKind.WHICH_ARTICLE:
        at = document.text.find(document.title)
        title = Span(document.doc_id, at, at + len(document.title), document.title) if at >= 0 else None
        return f"**{document.title}**: {sentence.text}", title
    span = span_of(reading, sentence.text) if reading is not None else None
    if span is None or len(sentence.text[span[0] : span[1]].split()) > MAX_READ_WORDS:
        span = _span(kind, sentence.text, question)
    if span is None:
        return sentence.text, None
    start, end = sentence.start + span[0], sentence.start + span[1]
    return _mark(sentence.text, span), Span(document.doc_id, start, end, document.text[start:end])


def _candidates(
    retriever: HybridRetriever,
    ranking: Ranking,
    hits: list[Hit],
    question: str,
    kind: QuestionKind,
    weights: EvidenceWeights = WEIGHTS,
) -> list[_Candidate]:
    """The sentences of ``hits``, best evidence first: highest cosine plus the bonuses of ``weights``."""
    passage_score: dict[int, float] = {}
    for hit in hits:
        for row in retriever.index.chunk_sentences[hit.chunk.chunk_id]:
            passage_score[row] = max(passage_score.get(row, 0.0), hit.score)
    scorer = _Scorer(question, kind, ranking, weights)
    candidates = [
        _Candidate(row, scorer.score(ranking.sentence(row), retriever.index.sentences[row].text, passage))
        for row, passage in passage_score.items()
    ]
    return sorted(candidates, key=lambda c: (-c.score, c.row))


class _Scorer:
    """The bonuses of :class:`EvidenceWeights` for the sentences of one question."""

    def __init__(self, question: str, kind: QuestionKind, ranking: Ranking, weights: EvidenceWeights) -> None:
        asked = analyse(question)
        self.wanted = set(asked.syllables)
        self.pairs = set(asked.bigrams)
        # an English question's own words are not in the articles: its names, numbers and translated
        # words are, so they count whatever the question's (English) coverage
        self.english = set(asked.english) if ranking.language == "en" else set()
        self.typed = TYPED.get(kind)
        self.units = asked.units if kind is QuestionKind.HOW_MANY else ()
        self.passage = weights.english_passage if ranking.language == "en" else weights.passage
        self.coverage = ranking.coverage
        self.weights = weights

    def score(self, cosine: float, text: str, passage: float) -> float:
        """Sentence ``text``'s score: its ``cosine`` plus its bonuses, in a passage of fused score
        ``passage``."""
        w, held = self.weights, set(syllables(text))
        overlap = len(self.wanted & held) / len(self.wanted) if self.wanted else 0.0
        in_order = (
            len(self.pairs.intersection(syllable_bigrams(text))) / len(self.pairs) if self.pairs else 0.0
        )
        has_count = bool(self.units) and any(counted(m.group(0), self.units) for m in NUMBER.finditer(text))
        return (
            cosine
            + self.passage * passage
            + w.overlap * self.coverage * overlap
            + w.bigram * self.coverage * in_order
            + (w.overlap * len(self.english & held) / len(self.english) if self.english else 0.0)
            + (w.typed if self.typed is not None and self.typed.search(text) else 0.0)
            + (w.unit if has_count else 0.0)
            - (w.short_penalty if len(text) < w.short_chars else 0.0)
        )


def _span(kind: QuestionKind, sentence: str, question: str) -> tuple[int, int] | None:
    """Offsets of the answer within ``sentence``, or None, found by lining the question up with the
    sentence (:mod:`qa.spans`). An English question lines up by its names, numbers and those Vietnamese
    translations of its words that ``sentence`` holds, and gets a span only when it asks who, where, when or
    how many."""
    english = analyse(question).english_question
    if english and kind not in TYPED:
        return None
    typed = _typed(kind, sentence, question)
    asks: Literal["name", "place"] | None = (
        "name" if kind is QuestionKind.WHO else "place" if kind is QuestionKind.WHERE else None
    )
    if english:  # held as words: "nhân viên" is not the "viên" of "viên chức"
        held = [t for t in translations(question) if _holds(sentence, t)]
        question = " ".join([question, *held])
    return aligned_span(question, sentence, typed, asks, any_run=not english)


def _holds(text: str, words: str) -> bool:
    """Whether ``text`` holds ``words`` as whole words, in any case."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text, re.I) is not None


def _typed(kind: QuestionKind, sentence: str, question: str) -> list[tuple[int, int]]:
    """The stretches of ``sentence`` of the type ``kind`` asks for: numbers of what a how-many question
    counts (any number when none is), dates, Vietnamese full names (over titles around them)."""
    if kind is QuestionKind.HOW_MANY:
        # the number of the thing the question counts ("1.549 biên chế", not "59 phòng")
        numbers = list(NUMBER.finditer(sentence))
        units = analyse(question).units
        of_unit = [m for m in numbers if units and counted(m.group(0), units)]
        return [m.span() for m in of_unit or numbers]
    if kind is QuestionKind.WHEN:
        return [m.span() for m in DATE.finditer(sentence)]
    if kind is QuestionKind.WHO:
        return [m.span() for m in person_name_matches(sentence)]
    return []


def _mark(text: str, span: tuple[int, int] | None) -> str:
    if span is None:
        return text
    start, end = span
    return f"{text[:start]}**{text[start:end]}**{text[end:]}"


def _holding(retriever: HybridRetriever, hits: list[Hit], evidence: Span) -> list[Hit]:
    """``hits``, with the passage holding the start of ``evidence`` put before the first of its article's
    (or first, with the best score) when none of them holds it: the evidence of a focused question may lie
    outside the best passages, and the sources show what is cited."""
    if any(h.chunk.doc_id == evidence.doc_id and h.chunk.start <= evidence.start < h.chunk.end for h in hits):
        return hits
    chunks = retriever.index.chunks
    rows = [r for r in chunks.rows_of([evidence.doc_id]).tolist() if chunks.starts[r] <= evidence.start]
    holding = [chunks[r] for r in rows if evidence.start < chunks.ends[r]]
    if not holding or not hits:
        return hits
    chunk = max(holding, key=lambda c: min(c.end, evidence.end) - evidence.start)
    at = next((i for i, h in enumerate(hits) if h.chunk.doc_id == evidence.doc_id), 0)
    return [*hits[:at], Hit(chunk, hits[at].score), *hits[at:]]


def _source(retriever: HybridRetriever, hit: Hit) -> Source:
    document = retriever.index.documents[hit.chunk.doc_id]
    return Source(
        doc_id=document.doc_id,
        title=document.title,
        url=document.url,
        date=document.date,
        text=hit.chunk.text,
        score=round(float(np.float32(hit.score)), 4),
        start=hit.chunk.start,
        end=hit.chunk.end,
    )


def evidence_in(source: Source, evidence: Span | None) -> tuple[int, int] | None:
    """Where ``evidence`` lies inside ``source.text`` (offsets relative to the passage), if it does."""
    if evidence is None or evidence.doc_id != source.doc_id:
        return None
    start, end = max(evidence.start, source.start), min(evidence.end, source.end)
    return (start - source.start, end - source.start) if start < end else None
