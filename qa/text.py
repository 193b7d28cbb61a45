"""Vietnamese text helpers: normalisation, diacritic folding, tokenising, sentence splitting.

Pure functions; offsets are always into the NFC text the caller passes in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by whitespace and a capital,
# digit or opening quote, or at a line break. "T.Ư", "1.549" and "9-2" stay whole.
_SENT_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s+[\"“‘(\[\d\w])|\n+")


def nfc(text: str) -> str:
    """Unicode NFC form, with Windows/Mac line ends turned into ``\\n``."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics: 'Trương Tấn Sang' -> 'truong tan sang'.

    Keeps length-independent semantics only (the result is for matching, never for offsets).
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return stripped.replace("đ", "d")


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese tone/vowel marks (or đ)."""
    return fold(text) != text.lower()


def syllables(text: str) -> list[str]:
    """Folded syllable tokens: 'Ai chủ trì?' -> ['ai', 'chu', 'tri']."""
    return _WORD.findall(fold(text))


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
        cut = match.end() if not match.group().startswith("\n") else match.start()
        yield from _trimmed(text, pos, cut)
        pos = match.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end
