"""The reader's training example: one question read against one sentence."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    """One question read against one sentence: ``span`` is the answer's characters in the sentence, or
    None for "no answer"."""

    qid: str
    lang: str
    article: str
    question: str
    sentence: str
    span: tuple[int, int] | None
    answers: tuple[str, ...]
