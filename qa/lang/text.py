"""Vietnamese text helpers: normalisation, diacritic folding, tokenising, sentence splitting.

Pure functions; offsets are always into the NFC text the caller passes in.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal

_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by whitespace and a capital,
# digit or opening quote, or at a line break. "T.Ư", "1.549" and "9-2" stay whole, and so do names with
# initials (see _initial).
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"“‘(\[\d\w])|\n+")


def nfc(text: str) -> str:
    """Unicode NFC form, with Windows/Mac line ends turned into ``\\n``."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics: 'Trương Tấn Sang' -> 'truong tan sang'.

    Keeps length-independent semantics only (the result is for matching, never for offsets).
    """
    return without_diacritics(text.lower())


def without_diacritics(text: str) -> str:
    """Vietnamese diacritics stripped, case kept: 'Trương Tấn Sang' -> 'Truong Tan Sang'."""
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d").replace("Đ", "D")


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese tone/vowel marks (or đ)."""
    return fold(text) != text.lower()


def tokens(text: str) -> list[str]:
    """Word tokens as written: 'Ai chủ trì?' -> ['Ai', 'chủ', 'trì']."""
    return _WORD.findall(text)


def syllables(text: str) -> list[str]:
    """Folded syllable tokens: 'Ai chủ trì?' -> ['ai', 'chu', 'tri']."""
    return tokens(fold(text))


def syllable_bigrams(text: str) -> list[str]:
    """Neighbouring folded syllables joined: 'hội nghị trực' -> ['hoi_nghi', 'nghi_truc']. Far more
    specific than single syllables, and as blind to missing diacritics."""
    tokens = syllables(text)
    return [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]


@lru_cache(maxsize=1)
def _vi_tokenizer() -> object:
    from pyvi import ViTokenizer  # slow import (scikit-learn); only when words are needed

    return ViTokenizer


def words(text: str) -> list[str]:
    """Word-segmented lower-cased tokens: 'Hội nghị trực tuyến' -> ['hội_nghị', 'trực_tuyến']."""
    tokenizer = _vi_tokenizer()
    segmented: str = tokenizer.tokenize(nfc(text).lower())  # type: ignore[attr-defined]
    return [tok for tok in segmented.split() if _WORD.search(tok)]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Sentence ``(start, end)`` offsets within ``text[start:end]``, whitespace trimmed, in order."""
    end = len(text) if end is None else end
    pos = start
    for match in _SENT_END.finditer(text, start, end):
        if _initial(text, match.start(), match.end()):
            continue
        cut = match.end() if not match.group().startswith("\n") else match.start()
        yield from _trimmed(text, pos, cut)
        pos = match.end()
    yield from _trimmed(text, pos, end)


def _initial(text: str, stop: int, after: int) -> bool:
    """Whether the full stop at ``text[stop]`` follows a name's initial rather than ending a sentence: a
    lone letter ("William E. Simon", "T. T. Tsui", "Y. p. pestis"), or the last letter of a dotted run
    with a lower-case word next ("E.I. du Pont"; "Ban Tổ chức T.Ư. Xây dựng ..." does end there)."""
    if text[stop] != "." or stop == 0 or not text[stop - 1].isalpha():
        return False
    if stop >= 2 and text[stop - 2].isalnum():
        return False  # a word longer than one letter
    if stop >= 2 and text[stop - 2] == ".":
        following = text[after:].lstrip()[:1]
        return following.islower()
    return True


def paragraph_spans(text: str) -> Iterator[tuple[int, int]]:
    """Blank-line separated paragraph ``(start, end)`` offsets in ``text``, whitespace trimmed, in order."""
    pos = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _trimmed(text, pos, match.start())
        pos = match.start()
    yield from _trimmed(text, pos, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


# Vietnamese orthography, diacritics folded: onset, a nucleus from the language's vowel clusters, coda.
# English function words ("the", "in", "to", "on") fit it; most English content words do not.
_ONSET = r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdghklmnprstvx])?"
_NUCLEI = (
    "a",
    "ai",
    "ao",
    "au",
    "ay",
    "e",
    "eo",
    "eu",
    "i",
    "ia",
    "ie",
    "ieu",
    "iu",
    "o",
    "oa",
    "oai",
    "oao",
    "oay",
    "oe",
    "oeo",
    "oi",
    "oo",
    "u",
    "ua",
    "uai",
    "uay",
    "ue",
    "ui",
    "uo",
    "uoi",
    "uou",
    "uu",
    "uy",
    "uya",
    "uye",
    "uyu",
    "y",
    "ye",
    "yeu",
)
_NUCLEUS = "(?:" + "|".join(sorted(_NUCLEI, key=len, reverse=True)) + ")"
_SYLLABLE = re.compile(rf"{_ONSET}{_NUCLEUS}(?:ng|nh|ch|[cmnpt])?")


def is_vietnamese_syllable(token: str) -> bool:
    """Whether a folded, lower-case token can be written as one Vietnamese syllable ('truong' yes,
    'meeting' no); digits and mixed tokens are not syllables."""
    return _SYLLABLE.fullmatch(token) is not None


Language = Literal["en", "vi", "vi-folded"]


def question_language(text: str) -> Language:
    """How a question is written: Vietnamese with diacritics, Vietnamese typed without them, or English
    (a quarter or more of its words cannot be Vietnamese syllables). Names, the capitalised words past
    the first, count for neither ("Ai da gianh Super Bowl XLIX?" is Vietnamese) unless the question
    is nothing else."""
    if has_diacritics(text):
        return "vi"
    words = _WORD.findall(text)
    plain = [word for position, word in enumerate(words) if position == 0 or not word[:1].isupper()]
    tokens = [t for word in (plain or words) for t in syllables(word) if not t.isdigit()]
    foreign = sum(not is_vietnamese_syllable(t) for t in tokens)
    return "en" if tokens and foreign / len(tokens) >= 0.25 else "vi-folded"


def english_terms(text: str) -> list[str]:
    """The folded tokens of an English question worth matching in Vietnamese text: numbers, names
    (capitalised past the first word) and words that are not Vietnamese syllables; English function
    words that happen to spell Vietnamese syllables ("the", "in", "to") are dropped."""
    terms: list[str] = []
    for position, word in enumerate(_WORD.findall(text)):
        named = position > 0 and word[:1].isupper()
        terms.extend(t for t in syllables(word) if named or t.isdigit() or not is_vietnamese_syllable(t))
    return terms


@lru_cache(maxsize=1)
def _diacritics_model() -> object:
    from pyvi import ViUtils  # slow import (scikit-learn), only for questions typed without diacritics

    return ViUtils


def restore_diacritics(text: str) -> str:
    """Best-effort Vietnamese diacritics for text typed without them (pyvi's CRF model):
    'ai chu tri hoi nghi' -> 'ai chủ trì hội nghị'. For the embedder only, never shown."""
    try:
        restored: str = _diacritics_model().add_accents(nfc(text))  # type: ignore[attr-defined]
    except (KeyError, IndexError, ValueError):  # the model maps some letter pairs to nothing: keep the text
        return text
    return restored


# Vietnamese question words typed without diacritics, which the passages asked of rarely hold and pyvi
# often gets wrong ("ai" -> "ăi", "bao nhieu" -> "bảo nhiều"): the closed class, pairs first
_QUESTION_PAIRS = {
    ("bao", "nhieu"): ("bao", "nhiêu"),
    ("bao", "gio"): ("bao", "giờ"),
    ("bao", "lau"): ("bao", "lâu"),
    ("the", "nao"): ("thế", "nào"),
    ("tai", "sao"): ("tại", "sao"),
    ("vi", "sao"): ("vì", "sao"),
    ("o", "dau"): ("ở", "đâu"),
    ("tai", "dau"): ("tại", "đâu"),
}
_QUESTION_WORDS = {"ai": "ai", "gi": "gì", "nao": "nào", "la": "là"}


def restore_diacritics_from(text: str, source: str) -> str:
    """``text`` typed without diacritics, its words given the diacritics they have in ``source`` (the
    passages it is asked of): a question word its own ("bao nhiêu", "gì"), any other word its form in
    the pair of words it shares with ``source``, else its most frequent form there, else pyvi's guess
    (:func:`restore_diacritics`). 'ai chu tri hoi nghi' over '... chủ trì hội nghị' -> 'ai chủ trì hội
    nghị'."""
    tokens = list(_WORD.finditer(text))
    if not tokens:
        return text
    singles, pairs = _written_forms(source)
    folded = ["", *(fold(m.group(0)) for m in tokens), ""]  # a word between its neighbours
    guessed = _WORD.findall(restore_diacritics(text))
    guesses = guessed if len(guessed) == len(tokens) else [m.group(0) for m in tokens]
    out, at = [], 0
    for i, m in enumerate(tokens):
        before, word, after = folded[i : i + 3]
        if (before, word) in _QUESTION_PAIRS or ((before, word) in pairs and (word, after) not in pairs):
            form = pairs[before, word][1]
        elif (word, after) in pairs:
            form = pairs[word, after][0]
        else:
            single = _QUESTION_WORDS.get(word) or singles.get(word)
            form = single or (guesses[i] if fold(guesses[i]) == word else m.group(0))
        out += [text[at : m.start()], form.capitalize() if m.group(0)[:1].isupper() else form.lower()]
        at = m.end()
    return "".join([*out, text[at:]])


def _written_forms(source: str) -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, str]]]:
    """How the words of ``source`` are written, by their folded forms: each word's most frequent form, and
    each pair of neighbouring words' first form (after the question words' pairs)."""
    written = [m.group(0).lower() for m in _WORD.finditer(source)]
    counts: dict[str, dict[str, int]] = {}
    pairs = dict(_QUESTION_PAIRS)
    for word, following in itertools.zip_longest(written, written[1:]):
        forms = counts.setdefault(fold(word), {})
        forms[word] = forms.get(word, 0) + 1
        if following is not None:
            pairs.setdefault((fold(word), fold(following)), (word, following))
    singles = {key: max(forms, key=lambda form: (forms[form], form)) for key, forms in counts.items()}
    return singles, pairs
