"""English question words -> Vietnamese words, for the lexical side of English questions.

An English question shares no words with a Vietnamese article but its names, so BM25 could only match
those. Its other content words ("founded", "university", "river") are looked up in a small English ->
Vietnamese dictionary and their translations join the question's BM25 tokens (folded syllables), at the
low lexical weight English questions have. A word with several senses brings the first few.

The dictionary, ``en_vi.tsv``, is derived from the English-Vietnamese translations of the English
Wiktionary, as extracted with Matthias Buchmeier's script: the 2015 extract of the Open DSL Dictionary
Project (https://github.com/open-dsl-dict/wiktionary-dict, ``src/en-vi-enwiktionary.txt``, CC BY-SA 3.0),
then two extracts of the April 2024 Wiktionary, published by Phuc Tran Truong
(https://github.com/phucdev/lm_transfer, ``bilingual_dictionary/MatthiasBuchmeier/en-vi-raw.txt`` and
``bilingual_dictionary/Wiktionary/english-vietnamese.txt``, CC BY-SA 4.0), which add words such as
"district", "deputy" and "congress". ``en_vi.tsv`` is under CC BY-SA 4.0. It was made with
``python -m qa.lang.bilingual en-vi-enwiktionary.txt en-vi-raw.txt english-vietnamese.txt > qa/en_vi.tsv``.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from importlib import resources
from pathlib import Path

from .text import english_terms, syllables

SENSES = 3  # translations kept per English word (its first senses, in the dictionary's order)
PHRASE_WORDS = 4  # the longest phrase looked up ("ho chi minh city")

# Words of English questions that carry no content of their own (question words, auxiliaries, pronouns,
# prepositions): translated they would match everywhere.
_FUNCTION_WORDS = frozenset(
    """
    a an the of in on at to for from by with about as into onto over under after before during since until
    what which who whom whose when where why how many much did do does done was were is are be been being has
    have had that this these those it its they them their there here he she his her him we our you your i my
    me not no or and but than then so such also other another some any each every all most more less least
    first last one two can could would should will shall may might must if whether while because though
    although like name named called
    """.split()  # noqa: SIM905 (a list of 130 quoted words reads worse)
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
# a separator of the file, or Chinese characters (some entries give the Hán or Nôm spelling)
_NOT_A_SENSE = re.compile(r"[\t|\u3400-\u9fff\uf900-\ufaff]|[\U00020000-\U0002ffff]")
# inflections tried in turn: (ending, replacement), "countries" -> "country", "founded" -> "found"/"founde"
_ENDINGS = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("d", ""),
    ("ing", ""),
    ("ing", "e"),
    ("'s", ""),
)


def english_tokens(question: str) -> list[str]:
    """BM25 tokens of an English question: its names, numbers and terms (:func:`qa.text.english_terms`)
    and the folded syllables of the Vietnamese translations of its other words and of those of its names
    the dictionary knows ("Hanoi" -> Hà Nội, "Politburo" -> Bộ Chính trị)."""
    found = translations(question, names=True)
    return english_terms(question) + [t for phrase in found for t in syllables(phrase)]


def translations(question: str, names: bool = False) -> list[str]:
    """Vietnamese translations of the English content words and phrases of ``question``, longest phrase
    first ("ho chi minh city"). Names, which are capitalised past the first word, match as they are
    written and are looked up only with ``names``: for the answer step their translations lost
    (xquad-vi-dev English answer-contains .710 -> .706: "Roman" -> La Mã, "Amazon" -> sông Amazon)."""
    entries = dictionary()
    words = _WORD.findall(question)
    lower = [w.lower() for w in words]
    found: list[str] = []
    taken: set[int] = set()
    for n in range(PHRASE_WORDS, 1, -1):
        for i in range(len(lower) - n + 1):
            span = set(range(i, i + n))
            phrase = " ".join(lower[i : i + n])
            if phrase in entries and not span & taken and not set(lower[i : i + n]) <= _FUNCTION_WORDS:
                found += entries[phrase]
                taken |= span
    for i, word in enumerate(lower):
        if i in taken or word in _FUNCTION_WORDS or (not names and i > 0 and words[i][:1].isupper()):
            continue
        for form in _forms(word):
            if form in entries:
                found += entries[form]
                break
    return found


def _forms(word: str) -> list[str]:
    """``word`` and the stems its inflections may come from."""
    forms = [word]
    for ending, replacement in _ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            forms.append(word[: -len(ending)] + replacement)
    return forms


@cache
def dictionary() -> dict[str, list[str]]:
    """The English words and phrases of ``en_vi.tsv`` -> their Vietnamese translations, first sense first."""
    text = resources.files("qa").joinpath("en_vi.tsv").read_text(encoding="utf-8")
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            english, vietnamese = line.split("\t")
            entries[english] = vietnamese.split("|")
    return entries


def convert(*sources: str) -> str:
    """``en_vi.tsv`` from Wiktionary extracts, earlier sources' senses first. A source's lines are
    ``word {pos} (gloss) :: tr, tr`` (Matthias Buchmeier's extract) or ``word<TAB>tr`` (one pair a line)."""
    entries: dict[str, list[str]] = {}
    for source in sources:
        for line in source.splitlines():
            if line.startswith("#"):
                continue
            if " :: " in line:
                head, translated = line.split(" :: ", 1)
            elif line.count("\t") == 1:
                head, translated = line.split("\t")
            else:
                continue
            english = re.sub(r"\s*\{.*", "", head).strip().lower()
            translated = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", translated)  # "(sự) phóng túng", "[formal]"
            senses = entries.setdefault(english, [])
            for sense in re.split(r"[,;/]", translated):
                sense = " ".join(sense.split())
                if sense and sense not in senses and not _NOT_A_SENSE.search(sense):
                    senses.append(sense)
    header = "# " + __doc__.split("\n\n")[2].strip().replace("\n", "\n# ") + "\n"
    rows = [f"{english}\t{'|'.join(senses[:SENSES])}" for english, senses in entries.items() if senses]
    return header + "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(convert(*(Path(name).read_text(encoding="utf-8") for name in sys.argv[1:])))


def with_translations(question: str) -> str:
    """An English question with the Vietnamese translations of its words appended, as the answer step reads
    it (qa/search/hybrid.py) and the reader is trained on and reads it (qa/answer/reading.py)."""
    return " ".join([question, *translations(question)])
