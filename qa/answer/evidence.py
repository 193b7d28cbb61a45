"""Ranked chunks -> :class:`Answer`: pick the evidence sentence, mark the answer span, cite, or abstain.

No generative model is available offline, so answers are extractive: the best evidence sentence from the
top passages, with the span that answers a who / when / how-many / which-article question wrapped in
``**``. When the best evidence is too weak the answer says the articles do not contain it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

import numpy as np

from ..lang.bilingual import english_tokens, translations
from ..lang.text import fold, question_language, syllable_bigrams, syllables
from ..lang.units import counts, wanted_units
from ..search.hybrid import HybridRetriever, Ranking
from ..types import Answer, Hit, Source, Span
from .confidence import confidence
from .lead import english_lead
from .spans import aligned_span

NOT_FOUND_EN = "Not found in the articles."
NOT_FOUND_VI = "Không tìm thấy câu trả lời trong các bài báo."
EVIDENCE_CHUNKS = 3  # the evidence sentence is taken from the best few passages
# Evidence sentence score = cosine + these bonuses (tuned on seeds/questions.jsonl, see README).
PASSAGE_BONUS = 0.2  # x fused score of the best passage holding the sentence
# English questions: their fused score is mostly dense, whose scaling over the candidates spreads the top
# passages apart more than their sentences' cosines differ (0.1 from 0 / .05 / .1 / .2 / .3 on xquad-vi-dev)
ENGLISH_PASSAGE_BONUS = 0.1
OVERLAP_BONUS = 0.1  # x lexical coverage x share of question syllables in the sentence (English: and
# x share of its names, numbers and translated words)
# x lexical coverage x share of the question's syllable pairs in the sentence: a sentence that says what
# the question says in its order (0.2 from 0.05-0.5 on xquad-vi-dev alone and with 2,000 news articles)
BIGRAM_BONUS = 0.2
TYPED_BONUS = 0.1  # the sentence holds a name / date / number when the question asks for one
SHORT_PENALTY = 0.05  # captions and bylines under SHORT_CHARS rarely answer anything
SHORT_CHARS = 50
# the sentence has a number of what a how-many question counts (0.05 from 0 / 0.05 / 0.1 on xquad-vi-dev
# and the seeds, see the README)
UNIT_BONUS = 0.05

_SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trương",
    "Đào",
    "Đoàn",
    "Vương",
    "Trịnh",
    "Đinh",
    "Lâm",
    "Phùng",
    "Mai",
    "Tô",
    "Tạ",
    "Hà",
    "Lương",
    "Cao",
    "Châu",
    "Thái",
    "Lưu",
    "Quách",
    "Triệu",
    "Hứa",
    "Kiều",
    "Chu",
    "Tăng",
    "Khổng",
    "Văn",
    "Thân",
)
_LATIN = [chr(c) for c in range(0x41, 0x1EFA)]  # Basic Latin .. Latin Extended Additional (Vietnamese)
_UPPER = "".join(c for c in _LATIN if c.isupper() and c.isalpha())
_LOWER = "".join(c for c in _LATIN if c.islower() and c.isalpha())
_UPPER_SYLLABLE = f"[{_UPPER}][{_LOWER}]*"
# Full names have three or four syllables; two-syllable runs are mostly places ("Hà Nội", "Hoàng Mai").
_NAME = re.compile(rf"\b(?:{'|'.join(_SURNAMES)})(?:\s+{_UPPER_SYLLABLE}){{2,3}}\b")
_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})\b"
_DATE = re.compile(
    r"\b(?:ngày\s+)?\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b|\b(?:ngày\s+\d{1,2}\s+)?(?:tháng\s+\d{1,2}"
    r"(?:[/-]\d{4}|\s+năm\s+\d{4})?|năm\s+\d{4})\b|\bthế kỷ\s+[\dIVXLC]+\b|" + _YEAR,
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "một|hai|ba|bốn|tư|năm|sáu|bảy|tám|chín|mười|mươi|mốt|lăm|trăm|nghìn|ngàn|triệu|tỷ|tỉ|linh|lẻ|rưỡi"
)
# digits, or Vietnamese numbers written as words ("mười một"), then up to two lower-case words (the unit);
# "năm" before digits is the year ("năm 1991"), not five
_NUMBER = re.compile(
    rf"(?:\b\d+(?:[.,]\d+)*(?:/\d+)?\b|\b(?:{_NUMBER_WORDS})(?:\s+(?:{_NUMBER_WORDS}))*\b(?!\s+\d))"
    rf"(?:\s*%|(?:\s+[{_LOWER}]+){{0,2}})",
    re.IGNORECASE,
)
_LEADING_NUMBER = re.compile(r"^[^\s%]+")  # "91%" leaves "%", its unit
_PLACE = re.compile(rf"\b(?:ở|tại|trong|từ|đến)\s+({_UPPER_SYLLABLE}(?:\s+{_UPPER_SYLLABLE}){{0,3}})\b")


class Kind(Enum):
    """What a question asks for, which decides the span to mark."""

    WHO = "who"
    WHERE = "where"
    WHEN = "when"
    HOW_MANY = "how_many"
    WHICH_ARTICLE = "which_article"
    OTHER = "other"


_KIND_PATTERNS = (
    (Kind.WHICH_ARTICLE, r"\bwhich (article|story|report|news|piece)\b|\bbai (bao|viet) nao\b|\btin nao\b"),
    (
        Kind.HOW_MANY,
        r"\bhow (many|much)\b|\bpercent(age)?\b|\bbao nhieu\b|\bso luong\b|\bmay (nguoi|don vi|tap the)\b",
    ),
    (
        Kind.WHEN,
        r"\bwhen\b|\b(what|which) (date|day|year|month|century|decade)\b|\bin what year\b|\bkhi nao\b"
        r"|\bbao gio\b|\b(ngay|thang|nam|the ky|thoi gian) nao\b|\bluc nao\b|\bnam bao nhieu\b",
    ),
    (
        Kind.HOW_MANY,
        r"\bhow (many|much|long|large|big|old|far)\b|\bbao nhieu\b|\bso luong\b|\bmay\b|\bbao lau\b",
    ),
    (Kind.WHERE, r"\bwhere\b|\bo dau\b|\btai dau\b|\bnoi nao\b|\bo (thanh pho|nuoc|tinh) nao\b"),
    (Kind.WHO, r"\bwho(m|se)?\b|\bai\b|\bnguoi nao\b|\bdong chi nao\b|\b(doi|to chuc|cong ty) nao\b"),
)


# "what team", "which Panthers player", "the name of": an English question asking for a name
_ENGLISH_NAMED = re.compile(
    r"\b(?:what|which)\s+(?:\w+\s+)?(?:team|country|city|company|player|person|organi[sz]ation|group"
    r"|university|college|school|state|nation|river|region|continent|band|network|channel|satellite|church"
    r"|party|king|emperor|president|leader|actor|actress|artist|scientist|author|writer|museum|stadium"
    r"|court|agency|institution|league|station|island|county|province|language|religion|award|brand)s?\b"
    r"|\bname of\b",
    re.IGNORECASE,
)


# what a question of each kind asks for, strictly: a sentence holding one gets TYPED_BONUS
_TYPED: dict[Kind, re.Pattern[str]] = {
    Kind.WHO: _NAME,
    Kind.WHERE: _PLACE,
    Kind.WHEN: _DATE,
    Kind.HOW_MANY: _NUMBER,
}


def person_names(text: str) -> list[str]:
    """Vietnamese full names in ``text`` (a known surname and two or three capitalised syllables on one
    line; "Hà Nội ..." is the city)."""
    return [m.group(0) for m in _person_names(text)]


def _person_names(text: str) -> list[re.Match[str]]:
    return [m for m in _NAME.finditer(text) if "\n" not in m.group(0) and not m.group(0).startswith("Hà Nội")]


# "Who is Hoang Trung Hai?", "Hoàng Trung Hải là ai?": the question names the person and asks what they
# are, so no other name is the answer
_IDENTITY = re.compile(
    rf"^\s*(?:[Ww]ho\s+(?:is|was)\s+{_UPPER_SYLLABLE}(?:\s+{_UPPER_SYLLABLE}){{1,3}}"
    rf"|{_UPPER_SYLLABLE}(?:\s+{_UPPER_SYLLABLE}){{1,3}}\s+là\s+ai)\s*\??\s*$",
)


def question_kind(question: str) -> Kind:
    """Classify an English or Vietnamese (with or without diacritics) question."""
    if _IDENTITY.match(question):
        return Kind.OTHER
    folded = fold(question)
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, folded):
            return kind
    return Kind.OTHER


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
) -> Answer:
    """Retrieve, pick evidence and build the :class:`Answer` (sources best first, at most ``top_k``).

    ``ranking``, when given, is ``retriever.rank(question)`` computed already (evaluation ranks first).
    ``asked`` is the question as the user wrote it when ``question`` is its standalone form (a follow-up
    read in its conversation): it decides what kind of span to mark and is the answer's ``question``.
    ``confidence`` is the calibrated probability that the articles answer the question
    (:mod:`qa.confidence`); under ``min_confidence`` (default: its language's threshold) the answer is
    "not found in the articles" with no sources.
    """
    ranking = ranking if ranking is not None else retriever.rank(question)
    hits = retriever.hits(ranking, max(top_k, EVIDENCE_CHUNKS))
    best_hit = hits[0] if hits else None
    probability, enough = confidence(retriever.index, ranking, best_hit, question, min_confidence)
    kind = question_kind(asked or question)
    english = question_language(asked or question) == "en"
    # a follow-up's own words pick the sentence; its conversation only found the passages
    best = _best_sentence(retriever, ranking, hits[:EVIDENCE_CHUNKS], asked or question, kind)
    if best is None or not enough:
        return Answer(
            question=asked or question,
            # in the question's language: Vietnamese typed without diacritics gets Vietnamese too
            answer=NOT_FOUND_EN if english else NOT_FOUND_VI,
            answerable=False,
            sources=(),
            confidence=round(probability, 4),
        )
    index = retriever.index
    sentence = index.sentences[best.row]
    document = index.documents[sentence.doc_id]
    if english and kind is Kind.OTHER and _ENGLISH_NAMED.search(asked or question):
        kind = Kind.WHO  # "What team ...?", "Which player ...?" ask for a name ("Name: Denver Broncos")
    span = _span(kind, sentence.text, question)
    short = None
    if span is not None:
        start, end = sentence.start + span[0], sentence.start + span[1]
        short = Span(document.doc_id, start, end, document.text[start:end])
    text = _mark(sentence.text, span)
    if kind is Kind.WHICH_ARTICLE:
        text = f"**{document.title}**: {sentence.text}"
        at = document.text.find(document.title)
        if at >= 0:
            short = Span(document.doc_id, at, at + len(document.title), document.title)
    sources = tuple(_source(retriever, hit) for hit in hits[:top_k])
    lead = None
    if short is not None and kind is not Kind.WHICH_ARTICLE and english:
        lead = english_lead(kind.value, asked or question, short.text)
    return Answer(
        question=asked or question,
        answer=text,
        answerable=True,
        sources=sources,
        evidence=sentence,
        confidence=round(probability, 4),
        short_answer=short,
        lead=lead,
    )


def _best_sentence(
    retriever: HybridRetriever, ranking: Ranking, hits: list[Hit], question: str, kind: Kind
) -> _Candidate | None:
    """The evidence sentence among those of ``hits``: highest cosine plus the bonuses above."""
    passage_score: dict[int, float] = {}
    for hit in hits:
        for row in retriever.index.chunk_sentences[hit.chunk.chunk_id]:
            passage_score[row] = max(passage_score.get(row, 0.0), hit.score)
    if not passage_score:
        return None
    wanted = set(syllables(question))
    pairs = set(syllable_bigrams(question))
    # an English question's own words are not in the articles: its names, numbers and translated words
    # are, so they count whatever the question's (English) coverage
    english = set(english_tokens(question)) if ranking.language == "en" else set()
    typed = _TYPED.get(kind)
    units = wanted_units(question) if kind is Kind.HOW_MANY else ()
    passage_bonus = ENGLISH_PASSAGE_BONUS if ranking.language == "en" else PASSAGE_BONUS
    candidates = []
    for row, passage in passage_score.items():
        text = retriever.index.sentences[row].text
        held = set(syllables(text))
        overlap = len(wanted & held) / len(wanted) if wanted else 0.0
        in_order = len(pairs.intersection(syllable_bigrams(text))) / len(pairs) if pairs else 0.0
        counted = bool(units) and any(_counted(m.group(0), units) for m in _NUMBER.finditer(text))
        score = (
            ranking.sentence(row)
            + passage_bonus * passage
            + OVERLAP_BONUS * ranking.coverage * overlap
            + BIGRAM_BONUS * ranking.coverage * in_order
            + (OVERLAP_BONUS * len(english & held) / len(english) if english else 0.0)
            + (TYPED_BONUS if typed is not None and typed.search(text) else 0.0)
            + (UNIT_BONUS if counted else 0.0)
            - (SHORT_PENALTY if len(text) < SHORT_CHARS else 0.0)
        )
        candidates.append(_Candidate(row, score))
    return max(candidates, key=lambda c: (c.score, -c.row))


def _span(kind: Kind, sentence: str, question: str) -> tuple[int, int] | None:
    """Offsets of the answer within ``sentence``, or None, found by lining the question up with the
    sentence (:mod:`qa.spans`). An English question lines up by its names, numbers and the Vietnamese
    translations of its words, and gets a span only when it asks who, where, when or how many."""
    english = question_language(question) == "en"
    if english and kind not in _TYPED:
        return None
    typed: list[tuple[int, int]] = []
    if kind is Kind.HOW_MANY:
        # the number of the thing the question counts ("1.549 biên chế", not "59 phòng")
        numbers = list(_NUMBER.finditer(sentence))
        units = wanted_units(question)
        counted = [m for m in numbers if units and _counted(m.group(0), units)]
        typed = [m.span() for m in counted or numbers]
    elif kind is Kind.WHEN:
        typed = [m.span() for m in _DATE.finditer(sentence)]
    elif kind is Kind.WHO:  # a Vietnamese full name, when the sentence has one, over titles around it
        typed = [m.span() for m in _person_names(sentence)]
    asks: Literal["name", "place"] | None = (
        "name" if kind is Kind.WHO else "place" if kind is Kind.WHERE else None
    )
    if english:
        question = " ".join([question, *translations(question)])
    return aligned_span(question, sentence, typed, asks, any_run=not english)


def _counted(number: str, units: tuple[str, ...]) -> bool:
    """Whether a number match ("1.549 biên chế") counts one of ``units``."""
    return counts(_LEADING_NUMBER.sub("", number, count=1), units)


def _mark(text: str, span: tuple[int, int] | None) -> str:
    if span is None:
        return text
    start, end = span
    return f"{text[:start]}**{text[start:end]}**{text[end:]}"


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


def answer_json(answer: Answer) -> dict[str, Any]:
    """The documented JSON shape shared by ``qa ask --json`` and ``POST /api/ask``."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "confidence": answer.confidence,
        "lead": answer.lead,
        "short_answer": (
            None
            if answer.short_answer is None
            else {
                "doc_id": answer.short_answer.doc_id,
                "text": answer.short_answer.text,
                "start": answer.short_answer.start,
                "end": answer.short_answer.end,
            }
        ),
        "sources": [
            {
                "doc_id": s.doc_id,
                "title": s.title,
                "url": s.url,
                "text": s.text,
                "score": s.score,
                "start": s.start,
                "end": s.end,
            }
            for s in answer.sources
        ],
    }


def evidence_in(source: Source, evidence: Span | None) -> tuple[int, int] | None:
    """Where ``evidence`` lies inside ``source.text`` (offsets relative to the passage), if it does."""
    if evidence is None or evidence.doc_id != source.doc_id:
        return None
    start, end = max(evidence.start, source.start), min(evidence.end, source.end)
    return (start - source.start, end - source.start) if start < end else None
