"""The answer step with the learned reader (:mod:`qa.answer.reader`): of the candidate sentences the
rules rank best, the one whose best span beats its own "no answer" by the most is the evidence, and that
span is the short answer. Its margin joins the "not found" decision.

Which reader reads a question: the engine's own (the weights shipped in the package, or the ones a setting
names), or, in an evaluation, the fold model trained without the question's article
(:class:`FoldReaders`), so that numbers on the training set are out-of-fold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .reader import WEIGHTS, Reader, Reading

READ_SENTENCES = 12  # the rules' best candidates the reader reads (bounds its cost per question)
# Per way of writing, the probability of qa/answer/confidence.py and the reader's best margin (span over
# "no answer", in logits) under either of which the articles are taken not to answer: chosen by
# bench/reader_abstention.py on xquad-vi-dev out-of-fold (see the README).
THRESHOLDS: dict[str, tuple[float, float]] = {
    "en": (0.1361, -2.0),
    "vi": (0.38, -2.0),
    "vi-folded": (0.2301, -2.0),
}


class Reads(Protocol):
    """What the answer step needs of a reader: one :class:`Reading` per sentence, in order."""

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class Read:
    """The reader's pick: the candidate at ``index`` (into the sentences it was given) and its reading."""

    index: int
    reading: Reading


def read_best(reader: Reads, question: str, sentences: Sequence[str]) -> Read | None:
    """The sentence (of the first :data:`READ_SENTENCES` of ``sentences``) whose best span beats its own
    "no answer" by the most, with that span; None for no sentences."""
    readings = reader.read(question, list(sentences[:READ_SENTENCES]))
    if not readings:
        return None
    best = max(range(len(readings)), key=lambda i: (readings[i].margin, -i))
    return Read(best, readings[best])


class FoldReaders:
    """The fold models of a training run (``fold-N/reader.safetensors`` and the article -> fold table in
    ``pairs.json``): each question is read by the model that never saw its article."""

    def __init__(self, folder: Path, model_folder: Path) -> None:
        table = json.loads((folder / "pairs.json").read_text(encoding="utf-8"))
        self.fold_of: dict[str, int] = table["folds"]
        self.readers = {
            int(path.parent.name.removeprefix("fold-")): Reader(model_folder, path)
            for path in sorted(folder.glob(f"fold-*/{WEIGHTS}"))
        }
        missing = set(self.fold_of.values()) - set(self.readers)
        if missing:
            raise ValueError(f"{folder} has no trained weights for fold(s) {sorted(missing)}")
        self.fallback = self.readers[min(self.readers)]

    def for_question(self, question: Asked) -> Reader:
        """The model held out from the question's articles (the first fold model for others)."""
        folds = {self.fold_of[a] for a in question.relevant if a in self.fold_of}
        return self.readers[min(folds)] if folds else self.fallback


class Asked(Protocol):
    """An evaluation question, as far as choosing its fold model goes: the articles that answer it."""

    @property
    def relevant(self) -> tuple[str, ...]: ...
