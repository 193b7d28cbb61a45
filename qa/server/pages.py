"""View models for the HTML pages: answers and articles cut into plain/highlighted segments.

Templates only loop over these records and let Jinja2 escape every piece of text; nothing here returns
markup, so article text, file names and questions can never become HTML.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from ..answer.evidence import evidence_in
from ..answer.generate import Reply
from ..index.model import Index
from ..lang.patterns import person_names
from ..lang.query import analyse
from ..lang.text import fold, sentence_spans, without_diacritics
from ..types import Answer, Document, Source

EXAMPLE_PEOPLE = 2  # example questions ask about the people named in the most articles
SNIPPET_CHARS = 240  # an article's passage on its card, when the answer's sentence is not in it
CONTEXT_CHARS = 160  # the sentence before and after the answer's, on its card


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of text; ``kind`` is "" (plain), "answer", "passage" or "evidence"; ``anchor`` marks the
    first highlighted piece of an article (the viewer scrolls to it)."""

    text: str
    kind: str = ""
    anchor: bool = False


@dataclass(frozen=True, slots=True)
class Card:
    """An article cited under an answer: its best sentence with a line of context (the evidence, when the
    answer comes from it), and its other cited passages behind "more"."""

    rank: int
    title: str
    date: str | None
    url: str | None
    doc_id: str
    viewer: str
    score: float
    segments: tuple[Fragment, ...]
    more: tuple[tuple[str, str], ...] = ()  # (passage text, viewer link) of the article's other passages
    evidence: bool = False  # the answer's sentence is in this article


@dataclass(frozen=True, slots=True)
class TurnView:
    """One question and its answer in the chat thread; ``doc_ids``, ``short`` and ``plain`` travel
    back with the next question (the conversation), ``lang`` is the question's ("en" or "vi")."""

    question: str
    answerable: bool
    answer: tuple[Fragment, ...]
    cards: tuple[Card, ...]
    confidence: float = 0.0
    lang: str = "vi"
    doc_ids: str = ""  # space-separated, best first
    short: str = ""
    plain: str = ""
    generated: str | None = None  # the LLM's wording, when it was used
    note: str | None = None
    lead: str | None = None  # the answer in English form, for an English question


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the chat's empty state says about the articles, and example questions drawn from them."""

    articles: int
    years: str  # "2017–2023", "" when no article is dated
    examples: tuple[str, ...]
    dated: int = 0  # articles with a date


def loaded(index: Index) -> Loaded:
    """How many articles, which years, and example questions about the people they name most and about
    the newest article (in English, Vietnamese, and Vietnamese without diacritics)."""
    documents = list(index.documents.values())
    years = sorted({d.date[:4] for d in documents if d.date})
    span = "" if not years else years[0] if len(years) == 1 else f"{years[0]}–{years[-1]}"
    counts = _name_counts(index)
    people = sorted((n for n in counts if counts[n] > 0), key=lambda n: (-counts[n], n))[:EXAMPLE_PEOPLE]
    examples: list[str] = []
    if people:
        examples.append(f"Who is {without_diacritics(people[0])}?")
        examples.append(f"{people[0]} là ai?")
    if len(people) > 1:
        examples.append(fold(f"{people[1]} làm gì"))
    dated = sorted((d for d in documents if d.date), key=lambda d: (d.date or "", d.doc_id))
    newest = dated[-1] if dated else (documents[0] if documents else None)
    if newest is not None:
        examples.append(f"Bài “{newest.title}” nói gì?")
    return Loaded(len(documents), span, tuple(examples), len(dated))


def _name_counts(index: Index) -> Counter[str]:
    """In how many articles each person is named: counted once per build (2.8 s at 35,440 articles),
    then for a segment over it from the build's counts and the articles the segment changes."""
    counts: Counter[str] | None = index.memo.get("names")
    if counts is not None:
        return counts
    if index.base is not None and index.segment is not None:
        counts = Counter(_name_counts(index.base))
        for doc_id in index.segment.hidden:
            counts.subtract(set(person_names(index.base.documents[doc_id].text)))
        for document in index.segment.documents:
            counts.update(set(person_names(document.text)))
    else:
        counts = Counter(name for d in index.documents.values() for name in set(person_names(d.text)))
    index.memo["names"] = counts
    return counts


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) address, else None (no ``javascript:`` or ``data:`` links)."""
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def reply_segments(answer: Answer, index: Index) -> tuple[Fragment, ...]:
    """The answer as shown: the evidence sentence with the short answer marked by its offsets (so ``**``
    in an article's own text stays text), or the article's title before it for "which article"."""
    evidence, short = answer.evidence, answer.short_answer
    if evidence is None:
        return (Fragment(answer.answer),)
    if short is None or short.doc_id != evidence.doc_id:
        return (Fragment(evidence.text),)
    if not (evidence.start <= short.start < short.end <= evidence.end):  # the title, before the sentence
        return (Fragment(short.text, "answer"), Fragment(": " + evidence.text))
    text = index.documents[evidence.doc_id].text
    pieces = (
        Fragment(text[evidence.start : short.start]),
        Fragment(short.text, "answer"),
        Fragment(text[short.end : evidence.end]),
    )
    return tuple(p for p in pieces if p.text)


def turn(answer: Answer, index: Index, reply: Reply | None = None) -> TurnView:
    """The chat view of an :class:`Answer` (worded by the LLM when ``reply`` is a generated one)."""
    return TurnView(
        question=answer.question,
        answerable=answer.answerable,
        answer=reply_segments(answer, index),
        cards=tuple(_card(n, group, answer, index) for n, group in enumerate(_by_article(answer.sources), 1)),
        confidence=answer.confidence,
        lang="en" if analyse(answer.question).english_question else "vi",
        doc_ids=" ".join(dict.fromkeys(s.doc_id for s in answer.sources)),
        short=answer.short_answer.text if answer.short_answer else "",
        plain=answer.answer,
        generated=reply.text if reply is not None and reply.generated else None,
        note=reply.note if reply is not None else None,
        lead=answer.lead,
    )


def _by_article(sources: tuple[Source, ...]) -> list[list[Source]]:
    """The sources grouped by article, articles in the order of their best passage."""
    groups: dict[str, list[Source]] = {}
    for source in sources:
        groups.setdefault(source.doc_id, []).append(source)
    return list(groups.values())


def _card(rank: int, sources: list[Source], answer: Answer, index: Index) -> Card:
    """The card of one article from its cited passages (best first)."""
    held = next((s for s in sources if evidence_in(s, answer.evidence) is not None), None)
    best = held or sources[0]
    document = index.documents[best.doc_id]
    if held is not None and answer.evidence is not None:
        segments = _in_context(document.text, answer.evidence.start, answer.evidence.end)
    else:
        segments = (Fragment(textwrap.shorten(best.text, SNIPPET_CHARS, placeholder=" …")),)
    return Card(
        rank=rank,
        title=best.title,
        date=document.date,
        url=safe_url(best.url),
        doc_id=best.doc_id,
        viewer=_viewer(best, answer),
        score=best.score,
        segments=segments,
        more=tuple((s.text, _viewer(s, answer)) for s in sources if s is not best),
        evidence=held is not None,
    )


def _in_context(text: str, start: int, end: int) -> tuple[Fragment, ...]:
    """The sentence ``text[start:end]`` (or run of sentences) marked, with the sentence before and after
    it (each cut short)."""
    spans = list(sentence_spans(text))
    at = next((i for i, (a, b) in enumerate(spans) if a <= start < b), None)
    last = next((i for i, (a, b) in enumerate(spans) if a < end <= b), at)
    before = text[spans[at - 1][0] : spans[at - 1][1]] if at else ""
    following = last + 1 if last is not None else len(spans)
    after = text[spans[following][0] : spans[following][1]] if following < len(spans) else ""
    pieces = (
        Fragment(_tail(before, CONTEXT_CHARS) + " " if before else ""),
        Fragment(text[start:end], "evidence"),
        Fragment(" " + textwrap.shorten(after, CONTEXT_CHARS, placeholder=" …") if after else ""),
    )
    return tuple(p for p in pieces if p.text)


def _tail(text: str, limit: int) -> str:
    """The end of ``text``, at most ``limit`` characters, cut at a word."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "… " + cut.split(" ", 1)[-1]


def _viewer(source: Source, answer: Answer) -> str:
    """The viewer's link to ``source``'s passage (with the evidence marked when it holds it)."""
    local = evidence_in(source, answer.evidence)
    query = {"start": source.start, "end": source.end}
    if local is not None:
        query.update(es=source.start + local[0], ee=source.start + local[1])
    return f"/doc/{quote(source.doc_id)}?{urlencode(query)}#hl"


def document_segments(
    document: Document,
    start: int | None,
    end: int | None,
    evidence_start: int | None = None,
    evidence_end: int | None = None,
) -> tuple[Fragment, ...]:
    """The whole article, with ``[start, end)`` as the passage and the evidence inside it marked.

    Offsets outside the text or out of order are ignored (the article is shown unmarked).
    """
    text = document.text
    if start is None or end is None or not 0 <= start < end <= len(text):
        return (Fragment(text),)
    cuts = [(0, start, ""), (start, end, "passage"), (end, len(text), "")]
    if (
        evidence_start is not None
        and evidence_end is not None
        and start <= evidence_start < evidence_end <= end
    ):
        cuts[1:2] = [
            (start, evidence_start, "passage"),
            (evidence_start, evidence_end, "evidence"),
            (evidence_end, end, "passage"),
        ]
    pieces = [(a, b, kind) for a, b, kind in cuts if b > a]
    first_marked = next(i for i, (_, _, kind) in enumerate(pieces) if kind)
    return tuple(Fragment(text[a:b], kind, i == first_marked) for i, (a, b, kind) in enumerate(pieces))
