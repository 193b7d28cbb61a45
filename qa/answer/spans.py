"""The answer span inside an evidence sentence, found by lining the question up with it.

A Vietnamese question is mostly its answer sentence with the answer swapped for a question word: "Alec
Shelbrooke đã đề xuất thanh toán các khoản trợ cấp bằng **gì**?" against "... các khoản trợ cấp và tín dụng
thuế bằng "Thẻ Tiền mặt Phúc lợi", theo kiểu ...". The question's words just before and just after its
question word frame the answer in the sentence.
Candidates are the sentence's runs of words the question does not have, cut at commas, brackets and quotes
(or, when the question asks for a number, date or name, only the sentence's numbers, dates or capitalised
runs); the one framed by the most question words, nearest the others and shortest is the span. Matching is
on diacritic-folded words, so a question typed without diacritics lines up the same way.

Weights were set on xquad-vi-dev (see the README); the score is flat around them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..lang.text import fold, is_vietnamese_syllable

_WORD = re.compile(r"\w+(?:[.,:/-]\w+)*%?")  # "1.549", "24-10", "3:08", "2,8%" stay one word
_CLAUSE_BREAK = re.compile(r"[,;:()\[\]\"“”«»]|\s[-–—]\s")
# folded, longest first: "khi nào" before "nào"
_QUESTION_WORDS = (
    "bao nhieu phan tram",
    "nhu the nao",
    "khi nao",
    "bao gio",
    "bao nhieu",
    "o dau",
    "tai dau",
    "the nao",
    "tai sao",
    "vi sao",
    "gi",
    "ai",
    "nao",
    "dau",
    "may",
)
# words that neither start nor end an answer ("và", "của", "được" ...), folded
_FUNCTION = frozenset(
    """
    va la cua cac nhung duoc da voi cho boi mot trong tai o tu den ve nhu thi ma de cung con rang vao nay
    do khi theo bang tren duoi sau truoc bi nguoi
    """.split()  # noqa: SIM905 (a list of quoted words reads worse)
)
# "X nào" asks for a name when X is one of these (team, country, player, ...), folded
_NAMED_HEADS = frozenset(
    """
    doi nhom chuc ty truong gia nuoc pho tinh dia thu nguoi vien ve ho ten nhac hang hoc trinh kien
    """.split()  # noqa: SIM905 (a list of quoted words reads worse)
)
FRAME = 1.0  # x question words framing the run, each side
SKIP = 0.3  # less per question word skipped next to the question word ("điều gì", "cái gì")
NEAR = 0.3  # x (1 / distance) to the nearest question content word, each side
AROUND = 0.2  # x question content words within eight words either side
LENGTH = 0.08  # less per word past three
NAMED = 1.0  # the run has a capitalised word and the question asks for a name
_NOT_UNITS = (_FUNCTION - {"nguoi", "mot"}) | {"co", "se"}  # "23 người" counts people; có, sẽ
_PLACE_WORDS = frozenset(["o", "tai", "tu", "den", "trong"])  # ở, tại, từ, đến, trong: a place follows
MOST_SKIPPED = 2
WINDOW = 8


@dataclass(frozen=True, slots=True)
class _Word:
    start: int
    end: int
    folded: str
    clause: int
    asked: bool  # the question has this word
    capital: bool


def aligned_span(
    question: str,
    sentence: str,
    typed: Sequence[tuple[int, int]] = (),
    asks: Literal["name", "place"] | None = None,
    any_run: bool = True,
) -> tuple[int, int] | None:
    """Character offsets in ``sentence`` of the answer to the Vietnamese ``question``, or None.

    ``typed``: offsets of the sentence's numbers, dates or full names when the question asks for one
    (the candidates then); ``asks``: the question asks who (a person or organisation) or where;
    ``any_run``: with neither typed matches nor names, any run of words the question lacks may be the
    answer.
    """
    asked = [fold(m.group(0)) for m in _WORD.finditer(question)]
    words = _words(sentence, set(asked))
    if not words:
        return None
    at = _question_word(asked)
    before, after = (asked[: at[0]], asked[at[1] :]) if at else (asked, [])
    head = asked[at[0] - 1] if at and at[0] > 0 and asked[at[0]] == "nao" else None
    # "Cầu thủ nào ...?", "Họ của ... là gì?" (a surname) ask for a name too
    names = asks is not None or head in _NAMED_HEADS or asked[:1] == ["ho"]
    runs = _typed_runs(words, typed, asked) if typed else []
    if not runs and names:
        runs = _capitalised_runs(words)
    if not runs and any_run:
        runs = _unasked_runs(words)
    if not runs:
        return None

    def score(run: tuple[int, int]) -> float:
        first, last = run
        around = range(max(0, first - WINDOW), min(len(words), last + WINDOW + 1))
        value = FRAME * (_framed(words, first, before, -1) + _framed(words, last, after, 1))
        value += NEAR * 2 * (1 / _distance(words, first, -1) + 1 / _distance(words, last, 1))
        value += AROUND * sum(words[i].asked and words[i].folded not in _FUNCTION for i in around)
        value -= LENGTH * max(0, last - first - 2)
        if names and any(words[i].capital for i in range(first, last + 1)):
            value += NAMED
        if asks is not None and first > 0 and words[first - 1].folded in _PLACE_WORDS:
            value += NAMED if asks == "place" else -NAMED  # "ở Santa Clara" is where, not who
        return value

    first, last = max(runs, key=score)
    return words[first].start, words[last].end


def _words(sentence: str, asked: set[str]) -> list[_Word]:
    breaks = [m.start() for m in _CLAUSE_BREAK.finditer(sentence)]
    found = []
    for match in _WORD.finditer(sentence):
        folded = fold(match.group(0))
        clause = bisect_left(breaks, match.start())  # the clause breaks before it
        word = _Word(match.start(), match.end(), folded, clause, folded in asked, match.group(0)[0].isupper())
        found.append(word)
    return found


def _question_word(asked: list[str]) -> tuple[int, int] | None:
    """Where the question word is in ``asked`` (first and past-last word), if it has one."""
    for phrase in _QUESTION_WORDS:
        wanted = phrase.split()
        for i in range(len(asked) - len(wanted) + 1):
            if asked[i : i + len(wanted)] == wanted:
                return i, i + len(wanted)
    return None


def _framed(words: list[_Word], edge: int, context: list[str], step: int) -> float:
    """How many of the question's words next to its question word (``context``, read away from it) sit
    next to the run's ``edge`` in the sentence, less a little for each question word skipped."""
    best = 0.0
    for skipped in range(MOST_SKIPPED + 1):
        wanted = context[: len(context) - skipped] if step < 0 else context[skipped:]
        held = 0
        while held < len(wanted):
            i = edge + step * (held + 1)
            expected = wanted[-1 - held] if step < 0 else wanted[held]
            if not 0 <= i < len(words) or words[i].folded != expected:
                break
            held += 1
        if held:
            best = max(best, held - SKIP * skipped)
    return best


def _distance(words: list[_Word], edge: int, step: int) -> int:
    """Words from the run's ``edge`` to the nearest question content word that way (WINDOW + 1 if none)."""
    for distance in range(1, WINDOW):
        i = edge + step * distance
        if 0 <= i < len(words) and words[i].asked and words[i].folded not in _FUNCTION:
            return distance
    return WINDOW + 1


def _typed_runs(
    words: list[_Word], typed: Sequence[tuple[int, int]], asked: list[str]
) -> list[tuple[int, int]]:
    """The words of each typed match, unless the question says them, in that order ("năm 1980")."""
    said = f" {' '.join(asked)} "
    runs = []
    for start, end in typed:
        inside = [i for i, w in enumerate(words) if w.start < end and w.end > start]
        # a number's unit is the nouns right after it: "11 điểm trong ..." is "11 điểm", "ba theo ..." "ba"
        ends = (
            k for k, i in enumerate(inside) if k and words[i].folded in _NOT_UNITS and not words[i].capital
        )
        cut = next(ends, len(inside))
        inside = inside[:cut]
        if inside and f" {' '.join(words[i].folded for i in inside)} " not in said:
            runs.append((inside[0], inside[-1]))
    return runs


def _capitalised_runs(words: list[_Word]) -> list[tuple[int, int]]:
    """Runs of capitalised words in one clause that the question does not hold ("Josh Norman"), with the
    lower-case syllables of their compound words ("Nghị viện Châu Âu", "Ủy ban")."""
    runs = []
    i = 0
    while i < len(words):
        if words[i].capital and not words[i].asked:
            last = _run_end(words, i)
            # one capitalised Vietnamese syllable alone opens a sentence ("Đồng chí") or a title ("Ban Bí
            # thư", "Bộ Chính trị"); a Vietnamese name has two syllables or more, a foreign one ("Newton") is
            # no Vietnamese syllable
            if last > i or not is_vietnamese_syllable(words[i].folded):
                runs.append((i, last))
            i = last + 1
        else:
            i += 1
    return runs


def _joins(words: list[_Word], i: int) -> bool:
    """Whether ``words[i]`` may carry on a run: unasked, in the clause of the word before it."""
    word = words[i]
    return not word.asked and word.clause == words[i - 1].clause


def _syllable(words: list[_Word], i: int) -> bool:
    """Whether ``words[i]`` is a lower-case Vietnamese content syllable."""
    word = words[i]
    return not word.capital and word.folded not in _FUNCTION and is_vietnamese_syllable(word.folded)


def _run_end(words: list[_Word], i: int) -> int:
    """The last word of the capitalised run that starts at ``words[i]``."""
    last = i
    while last + 1 < len(words) and _joins(words, last + 1):
        if words[last + 1].capital:
            last += 1
        elif (
            last + 2 < len(words)
            and _syllable(words, last + 1)
            and words[last + 2].capital
            and _joins(words, last + 2)
        ):
            last += 2  # "Nghị viện Châu Âu": a compound's second syllable between capitals
        else:
            break
    single = last == i and is_vietnamese_syllable(words[i].folded)
    if single and i > 0 and last + 1 < len(words) and _joins(words, last + 1) and _syllable(words, last + 1):
        last += 1  # "Ủy ban" inside a sentence (its first word is capitalised anyway)
    return last


def _unasked_runs(words: list[_Word]) -> list[tuple[int, int]]:
    """Runs of words in one clause that the question does not hold, without function words at the ends."""
    runs = []
    i = 0
    while i < len(words):
        if words[i].asked:
            i += 1
            continue
        last = i
        while (
            last + 1 < len(words) and not words[last + 1].asked and words[last + 1].clause == words[i].clause
        ):
            last += 1
        first, end = i, last
        while first <= end and words[first].folded in _FUNCTION:
            first += 1
        while end >= first and words[end].folded in _FUNCTION:
            end -= 1
        if first <= end:
            runs.append((first, end))
        i = last + 1
    return runs
