"""Questions whose evidence is not the sentence that scores best against them, and what to mark in it.

- **What an article says** ("Bài “…” nói gì?", "What does the article “…” say?"): the best-ranked article's
  lead, the first sentence after its title that is not a byline or a caption. The title the question
  quotes matches the title sentence best, and repeating it answers nothing.
- **Who a person is** ("Who is Hoang Trung Hai?", "Hoàng Trung Hải là ai?", "X giữ chức vụ gì?"): of the
  sentences of the best passages naming the person, the one giving them the longest title, from an office
  or rank to the verb after it ("Hoàng Trung Hải, Ủy viên Bộ Chính trị, Bí thư Thành ủy, …"; "Bí thư Thành
  ủy Hoàng Trung Hải"), the title marked. The best-scoring one is mostly one where they act ("Đồng chí
  Hoàng Trung Hải tiếp thu các ý kiến").
- **Who chaired a meeting** whose article does not say so: Vietnamese reports of a joint meeting name who
  took part, each side's delegation led by its head ("Tham gia hội nghị về phía Ban Tổ chức Trung ương có
  các đồng chí: Phạm Minh Chính, …; Về phía Thành ủy Hà Nội có các đồng chí: Hoàng Trung Hải, …"). The
  answer is those sentences, each head marked; an article that says who chaired ("chủ trì") answers with
  that sentence.

Pure functions over the index's sentences; qa/answer/evidence.py calls them before its own scoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..index.model import Index
from ..lang.patterns import QuestionKind, identity_of, person_name_matches
from ..lang.query import analyse
from ..lang.text import fold
from ..search.hybrid import HybridRetriever, Ranking
from ..types import Hit, Span

LEAD_MIN_CHARS = 50  # shorter lines after a title are bylines, dates and captions
MAX_ROLE_CHARS = 200
# "who is" reads the sentences of this many best passages: bounded work (35,440 articles: 1,894 candidate
# sentences for "Nguyễn Phú Trọng là ai?", 267 ms to fold them all), and retrieval puts the passages
# naming the person first
PERSON_PASSAGES = 20
# "Who chaired the review meeting?", "Ai chủ trì hội nghị?": a meeting's chair, not an office's
_CHAIR = re.compile(
    r"\b(?:chair(?:ed|s)?|presid(?:ed|es|e)(?: over)?)\s+(?:the |a |an |this |that )?(?:[\w'-]+\s+){0,4}"
    r"(?:meeting|conference|session|ceremony|event|forum|seminar|workshop)s?\b"
    r"|\bchu tri\s+(?:cuoc |buoi |phien |le )?(?:hoi nghi|hoi thao|cuoc hop|buoi|phien|le|hop|dien dan)\b",
    re.IGNORECASE,
)
_CHAIRED = re.compile(r"\bchu tri\b")
# the cues of a sentence naming who took part in a meeting
_ATTENDED = re.compile(r"\b(?:tham du|tham gia|toi du|du hoi nghi|du buoi|co cac dong chi|co su tham du)\b")
# words that link one person to another: no title runs across them
_LINKS = frozenset(
    ["tiếp", "tới", "gặp", "thăm", "của", "với", "và", "cho", "đến", "cùng", "là", "mời", "đón", "chúc"]
)
# lower-case words that titles hold ("Chủ tịch UBND thành phố")
_PLACE_WORDS = frozenset({"thành phố", "thị xã", "thị trấn"})
# how a title begins: the offices and ranks of Vietnamese news (a run of capitalised words before a name
# that begins otherwise is not one: "Raul Castro tới Tổng Bí thư" holds the title "Tổng Bí thư")
_TITLE_HEAD = re.compile(
    r"\b(?:Tổng Bí thư|Bí thư|Phó|Thủ tướng|Chủ tịch|Chủ nhiệm|Trưởng|Bộ trưởng|Thứ trưởng|Ủy viên|Uỷ viên"
    r"|Tổng Giám đốc|Giám đốc|Tổng Thư ký|Thư ký|Chánh|Tổng thống|Đại sứ|Đại tướng|Thượng tướng|Trung tướng"
    r"|Thiếu tướng|Đại tá|Viện trưởng|Hiệu trưởng|Giáo sư|Tiến sĩ|Thường trực|Đại biểu)\b"
)
# where a title after a name ends: punctuation, "và", or the verb of the sentence
_AFTER_ROLE_END = re.compile(
    r"[;.()\n]| (?:và|cho biết|cho rằng|nhấn mạnh|phát biểu|chủ trì|khẳng định|chúc mừng|tiếp thu|đề nghị"
    r"|yêu cầu|trao|chứng kiến|làm việc|đã|đến|tới|dự|tham dự)\b"
)


@dataclass(frozen=True, slots=True)
class Focus:
    """A question answered by :func:`focused_sentence`: the ``kind`` of question, and for "who is" the
    ``person`` asked about as written."""

    kind: Literal["about", "identity", "chair"]
    person: str = ""


def focus_of(question: str) -> Focus | None:
    """Whether ``question`` asks what an article says, who a person is, or who chaired a meeting."""
    if analyse(question).kind is QuestionKind.ABOUT_ARTICLE:
        return Focus("about")
    person = identity_of(question)
    if person:
        return Focus("identity", person)
    if _CHAIR.search(fold(question)):
        return Focus("chair")
    return None


def focused_sentence(
    retriever: HybridRetriever, ranking: Ranking, hits: list[Hit], focus: Focus
) -> Span | None:
    """The evidence for a question of ``focus`` ranked as ``ranking`` (``hits``: its best passages), or
    None to let the usual scoring pick it."""
    index = retriever.index
    if not hits:
        return None
    if focus.kind == "about":
        return article_lead(index, hits[0].chunk.doc_id)
    if focus.kind == "identity":
        return introduction(index, ranking, retriever.hits(ranking, PERSON_PASSAGES), focus.person)
    return chair_sentences(index, hits[0].chunk.doc_id)


def article_lead(index: Index, doc_id: str) -> Span | None:
    """The first sentence of article ``doc_id`` after its title with at least ``LEAD_MIN_CHARS``
    characters (the title itself when there is none)."""
    document = index.documents[doc_id]
    at = document.text.find(document.title) if document.title else -1
    after = at + len(document.title) if at >= 0 else 0
    sentences = _sentences_of(index, doc_id)
    lead = next((s for s in sentences if s.start >= after and len(s.text) >= LEAD_MIN_CHARS), None)
    return lead or next((s for s in sentences if s.end > at >= 0), None)


def _sentences_of(index: Index, doc_id: str) -> list[Span]:
    """The sentences of article ``doc_id``, in reading order."""
    return [index.sentences[int(row)] for row in index.sentences.rows_of([doc_id])]


def introduction(index: Index, ranking: Ranking, hits: list[Hit], person: str) -> Span | None:
    """Of the sentences of ``hits`` (passages ranked as ``ranking``) naming ``person`` (diacritics aside),
    the one giving them the longest title, the higher cosine first on a tie; None when none gives one."""
    best: tuple[tuple[int, float], int] | None = None
    rows = sorted({row for hit in hits for row in index.chunk_sentences[hit.chunk.chunk_id]})
    for row in rows:
        role = role_span(index.sentences.text(row), person)
        if role is not None:
            key = (role[1] - role[0], ranking.sentence(row))
            best = (key, row) if best is None or key > best[0] else best
    return index.sentences[best[1]] if best is not None else None


def role_span(sentence: str, person: str) -> tuple[int, int] | None:
    """Where ``sentence`` gives ``person`` (as written, diacritics aside) a title, if it does: the words
    after the name set off by a comma, from an office or rank up to the next ";", "." or verb ("Hoàng Trung
    Hải, Ủy viên Bộ Chính trị, Bí thư Thành ủy"), else the capitalised words right before it from an office
    or rank on ("Bí thư Thành ủy Hà Nội Hoàng Trung Hải")."""
    folded, name = fold(sentence), fold(person)
    at = folded.find(name)
    if at < 0:
        return None
    end = at + len(name)
    if sentence[end : end + 2] == ", " and _TITLE_HEAD.match(sentence, end + 2):
        start = end + 2
        stop = _AFTER_ROLE_END.search(sentence, start)
        role_end = min(stop.start() if stop else len(sentence), _plain_words(sentence, start))
        following = next((m for m in person_name_matches(sentence) if m.start() >= start), None)
        role_end = min(role_end, following.start() if following else role_end)
        text = sentence[start:role_end].rstrip(" ,:")
        if text and len(text) <= MAX_ROLE_CHARS:
            return start, start + len(text)
    return _title_before(sentence, at)


def _plain_words(sentence: str, start: int) -> int:
    """Where, from ``start``, the sentence goes on after a title: the second of two lower-case words in a
    row ("Bí thư Quân ủy Trung ương tiếp Thượng tướng" -> before "tiếp"), the lower-case place words of
    titles aside ("Chủ tịch UBND thành phố"); the end of ``sentence`` if nowhere."""
    words = [m for m in re.finditer(r"[^\W\d_]+", sentence) if m.start() >= start]
    for i in range(len(words) - 1):
        first, second = words[i].group(0), words[i + 1].group(0)
        if not (first.islower() and second.islower()) or f"{first} {second}" in _PLACE_WORDS:
            continue
        if i + 2 < len(words) and f"{second} {words[i + 2].group(0)}" in _PLACE_WORDS:
            continue
        return words[i + 1].start()
    return len(sentence)


def _title_before(sentence: str, at: int) -> tuple[int, int] | None:
    """The title right before the name at ``at``: its words back to a comma, a word linking two people
    or the first lower-case word that does not follow a capitalised one, from the first office or rank
    among them on ("có Trưởng Ban Tổ chức T.Ư" -> "Trưởng Ban Tổ chức T.Ư"); None without one."""
    before = sentence[:at]
    words = list(re.finditer(r"[^\s,;:()]+", before))
    if not words or words[-1].end() != len(before) - 1 or not before.endswith(" "):
        return None
    first = len(words)
    for i in range(len(words) - 1, -1, -1):
        word = words[i].group(0)
        if i < len(words) - 1 and not sentence[words[i].end() : words[i + 1].start()].isspace():
            break  # a title is one run of words: "khóa XII, Trưởng ban" is two things
        if word in _LINKS:
            break  # "Tổng thống Donald Trump tiếp Thủ tướng": the title is the one after "tiếp"
        if word[0].isupper() or (i > 0 and words[i - 1].group(0)[0].isupper()):
            first = i
        else:
            break
    if first == len(words):
        return None
    end = words[-1].end()
    head = _TITLE_HEAD.search(sentence, words[first].start(), end)
    return (head.start(), end) if head is not None else None


def chair_sentences(index: Index, doc_id: str) -> Span | None:
    """In article ``doc_id``: its first sentence saying who chaired ("chủ trì"), else its first sentence
    naming who took part (an attendance cue and at least two names) with the next one when that names
    another side's participants; None when it has neither."""
    sentences = _sentences_of(index, doc_id)
    chaired = next((s for s in sentences if _CHAIRED.search(fold(s.text))), None)
    if chaired is not None:
        return chaired
    for i, sentence in enumerate(sentences):
        if _participants(sentence.text):
            following = sentences[i + 1] if i + 1 < len(sentences) else None
            if following is None or not _participants(following.text, cue=False):
                return sentence
            text = index.documents[doc_id].text
            return Span(doc_id, sentence.start, following.end, text[sentence.start : following.end])
    return None


def _participants(text: str, cue: bool = True) -> bool:
    """Whether ``text`` names who took part: at least two people, and an attendance cue (``cue``) or,
    for the sentence after one, the "on the side of" of another delegation ("Về phía … có")."""
    if len(person_name_matches(text)) < 2:
        return False
    folded = fold(text)
    return bool(_ATTENDED.search(folded)) or (not cue and folded.startswith("ve phia"))


def chair_names(text: str) -> list[tuple[int, int]]:
    """The heads named in participants ``text`` from :func:`chair_sentences`: the first name after each
    "có" / ":" that opens a delegation, else the first name."""
    names = person_name_matches(text)
    if not names:
        return []
    opens = [m.end() for m in re.finditer(r":|\bcó\b", text)]
    heads = []
    for opened in opens:
        first = next((m for m in names if m.start() >= opened), None)
        if first is not None and first.span() not in heads:
            heads.append(first.span())
    return heads or [names[0].span()]


def focused_marks(focus: Focus, sentence: str) -> list[tuple[int, int]] | None:
    """What to mark in ``sentence``, the evidence of a question of ``focus``: nothing in an article's
    lead, a person's title, the heads of a meeting's participants; None for the usual span (a title
    not found, a sentence that says who chaired)."""
    if focus.kind == "about":
        return []
    if focus.kind == "identity":
        role = role_span(sentence, focus.person)
        return [role] if role is not None else None
    if not _CHAIRED.search(fold(sentence)) and _participants(sentence):
        return chair_names(sentence)
    return None
