"""A question analysed once: :class:`Query`, the record every stage reads (retrieval, evidence, spans,
the English lead, generation, the pages) instead of working out the language, syllables, English
tokens, kind and counted units again.

:func:`analyse` keeps the records of the last questions, so a stage given only the question's text gets
the same record the stage before it built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .bilingual import english_tokens
from .patterns import QuestionKind, question_kind
from .text import Language, question_language, syllable_bigrams, syllables
from .units import wanted_units


@dataclass(frozen=True, slots=True)
class Query:
    """What is known of one question's text."""

    text: str
    language: Language  # "en", "vi" or "vi-folded" (Vietnamese typed without diacritics)
    syllables: tuple[str, ...]  # folded, as the lexical index holds them
    bigrams: tuple[str, ...]  # neighbouring syllables, folded
    english: tuple[str, ...]  # read as English: its names, numbers and its words' Vietnamese
    kind: QuestionKind
    units: tuple[str, ...]  # what a how-many question counts ("biên chế")

    @property
    def english_question(self) -> bool:
        return self.language == "en"


@lru_cache(maxsize=4096)
def analyse(text: str) -> Query:
    """The :class:`Query` of ``text`` (the same record for the same text while it is kept)."""
    language = question_language(text)
    return Query(
        text=text,
        language=language,
        syllables=tuple(syllables(text)),
        bigrams=tuple(syllable_bigrams(text)),
        # for any language: a follow-up's own words are scored against its English standalone form's ranking
        english=tuple(english_tokens(text)),
        kind=question_kind(text),
        units=wanted_units(text),
    )
