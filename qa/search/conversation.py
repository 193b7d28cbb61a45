"""A question in its conversation -> a standalone question to search with, and the articles to lean on.

The client sends the earlier turns (question, answer, cited articles); nothing is kept on the server. A
follow-up ("When was it held?", "What did she ask?", "Hội nghị đó diễn ra ngày nào?", "còn ... thì
sao?") is recognised by its pronouns and demonstratives, or by having almost no words of its own. It is
then searched together with the previous standalone question, a person pronoun is replaced by the person
the previous answer named, and the articles the previous turn cited are preferred when the follow-up
alone is ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..lang.query import analyse
from ..lang.text import fold, without_diacritics

# What points back at the conversation. English, on the folded (diacritic-free, lower-case) question:
# pronouns, "and ..." / "what about ...", a demonstrative before a noun ("that meeting").
_NOUNS = (
    "meeting|conference|ceremony|programme|program|article|report|plan|directive|resolution|document|"
    "year|day|time|event|session|speech|decision|agreement|district|city|commission|committee|person|man|woman"
)
_EN_BACK = re.compile(
    rf"\b(it|its|he|she|him|her|his|they|them|their)\b|^(and|what about|how about)\b|"
    rf"\b(that|this|those|these|the same) ({_NOUNS})s?\b|\b(there|then)\W*$"
)
_EN_PERSON = re.compile(r"\b(he|she|him|her)\b", re.IGNORECASE)
# Vietnamese, folded (so it holds with or without diacritics): "ông ấy", a noun + "đó/này/ấy" ("hội
# nghị đó", "năm đó"), "còn ..." at the start, "thì sao"; "họ"/"nó" only where diacritics tell them apart.
_VI_NOUNS = (
    "hoi nghi|chuong trinh|nam|ngay|thang|luc|khi|nghi quyet|chi thi|ke hoach|van ban|quy dinh|ket luan|"
    "cuoc hop|buoi|le|dip|bai|bai bao|quan|huyen|tinh|thanh pho|co quan|to chuc|don vi|de an|nguoi"
)
_VI_BACK = re.compile(rf"\b(ong|ba|anh|chi|nguoi) ay\b|\b({_VI_NOUNS}) (do|nay|ay)\b|^con\b|\bthi sao\b")
_VI_BACK_MARKED = re.compile(r"\b(họ|nó)\b", re.IGNORECASE)
_VI_PERSON = re.compile(r"\b(ông ấy|bà ấy|anh ấy|chị ấy|ong ay|ba ay|anh ay|chi ay)\b", re.IGNORECASE)
_FUNCTION_WORDS = frozenset(
    re.findall(
        r"\w+",
        """what who whom whose when where which why how many much is was were are did do does the a an of
        in on to for with by at from about and or it its he she they that this there then held happen
        happened ai gi nao dau bao nhieu khi nao la cua va o tai trong duoc da se co khong thi sao con
        nhu the""",
    )
)
_OWN_WORDS = 3  # a question with fewer content words of its own than this leans on the conversation
# a person named by the previous answer: two to four capitalised syllables
_PERSON = re.compile(r"^[A-ZÀ-Ỹ][\wÀ-ỹ]*(?:\s+[A-ZÀ-Ỹ][\wÀ-ỹ]*){1,3}$")


@dataclass(frozen=True, slots=True)
class Turn:
    """An earlier turn as the client sends it back: the question, the answer text, the articles cited
    (best first) and the short answer span when there was one."""

    question: str
    answer: str = ""
    doc_ids: tuple[str, ...] = ()
    short_answer: str | None = None


@dataclass(frozen=True, slots=True)
class Standalone:
    """The question to search with; ``follow_up`` when it was read in its conversation, then ``prefer``
    holds the articles of the previous turn."""

    question: str
    follow_up: bool = False
    prefer: tuple[str, ...] = ()


HISTORY_TURNS = 4  # a follow-up is read in at most this many earlier turns (follow-ups chain)
_ANSWER_CHARS = 4000
_SHORT_CHARS = 300
_CITED_DOCS = 20
_SURROGATE = re.compile("[\ud800-\udfff]")


def bounded(history: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The last :data:`HISTORY_TURNS` turns of ``history``, each cut to size (questions to ``max_chars``)
    and with lone surrogates replaced: the work a conversation costs stays that of a few questions, and
    a client's history cannot bring text the question itself could not."""

    def cut(text: str, limit: int) -> str:
        return _SURROGATE.sub("\ufffd", text[:limit].replace("\x00", " "))

    return [
        Turn(
            cut(turn.question, max_chars),
            cut(turn.answer, _ANSWER_CHARS),
            tuple(cut(d, 200) for d in turn.doc_ids[:_CITED_DOCS]),
            cut(turn.short_answer, _SHORT_CHARS) if turn.short_answer else None,
        )
        for turn in history[-HISTORY_TURNS:]
    ]


def standalone(question: str, history: Sequence[Turn]) -> Standalone:
    """``question`` made standalone from ``history`` (oldest first); unchanged when it is not a follow-up."""
    if not history or not is_follow_up(question):
        return Standalone(question)
    previous = history[-1]
    context = standalone(previous.question, history[:-1]).question  # follow-ups chain
    person = previous.short_answer if previous.short_answer and _PERSON.match(previous.short_answer) else None
    resolved = question
    if person is not None:
        # an English question keeps reading as English with the name written without diacritics
        english = analyse(question).english_question
        resolved = _EN_PERSON.sub(without_diacritics(person) if english else person, resolved, count=1)
        resolved = _VI_PERSON.sub(person, resolved, count=1)
    return Standalone(f"{resolved} ({context})", follow_up=True, prefer=previous.doc_ids[:1])


def is_follow_up(question: str) -> bool:
    """Whether ``question`` points back at the conversation (a pronoun or demonstrative, "what about",
    "còn ... thì sao") or has too few words of its own to stand alone."""
    folded = " ".join(fold(question).lower().split())
    if _EN_BACK.search(folded) or _VI_BACK.search(folded) or _VI_BACK_MARKED.search(question):
        return True
    own = [w for w in re.findall(r"\w+", folded) if w not in _FUNCTION_WORDS]
    return len(own) < _OWN_WORDS


_CITED = re.compile(r"^\[\d+\] .*\(([^()\s]+)\)\s*$", re.MULTILINE)
_MARKED = re.compile(r"\*\*(.+?)\*\*")


def from_messages(messages: Sequence[tuple[str, str]]) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the earlier turns of an OpenAI-style conversation of
    ``(role, content)`` pairs, oldest first.

    An assistant message vnqa wrote gives back its cited articles (the ``[n] title (doc_id)`` lines of
    its sources) and its short answer (the span marked ``**``); system messages are ignored.
    """
    turns: list[Turn] = []
    question: str | None = None
    for role, content in messages:
        if role == "user":
            if question is not None:
                turns.append(Turn(question))
            question = content
        elif role == "assistant" and question is not None:
            marked = _MARKED.search(content)
            cited = tuple(dict.fromkeys(_CITED.findall(content)))
            turns.append(Turn(question, content, cited, marked.group(1) if marked else None))
            question = None
    return question or "", turns
