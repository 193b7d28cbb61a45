"""The learned reader (:mod:`qa.answer.reader`) in the answer step: it reads the question against the
evidence sentence the rules picked; its margin there (span over "no answer") joins the confidence of
Vietnamese questions, with or without diacritics (qa/answer/confidence.py ``READ_MODELS``; a question
typed without them is read with them restored, :func:`read_as`), and for questions written with
diacritics (qa/answer/evidence.py ``READ``) it marks the answer span.

Why so little of what it could do: trained on 8,000 questions of SQuAD v1.1 train and then xquad-vi-dev
(about 320 questions per language and fold), out-of-fold on xquad-vi-dev its span in the rules' sentence
beats the rules' for English (short-answer F1 .362 against .275) and Vietnamese (.417 against .382), but
on the seed questions, news rather than Wikipedia, only the Vietnamese gain holds (.583 against .529;
English .247 against .260); it picks the evidence sentence much worse than the rules, and every blend of
its margin with their score lowered answer-contains. ``python bench/reader_choice.py`` measures it; the
README has the tables.

Which reader reads a question: the engine's own (the weights shipped in the package, or the ones a setting
names), or, in an evaluation, the fold model trained without the question's article
(:class:`FoldReaders`), so that numbers on the training set are out-of-fold.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..lang.bilingual import with_translations
from ..lang.text import Language, restore_diacritics_from
from .reader import WEIGHTS, Reader, Reading


class Reads(Protocol):
    """What the answer step needs of a reader: one :class:`Reading` per sentence, in order."""

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]: ...


def read_as(question: str, language: Language, passages: Sequence[str]) -> str:
    """The question as the reader reads it, as it was trained (qa/eval/reader_training.py): one typed
    without diacritics with them restored from the ``passages`` it is asked of (qa/lang/text.py
    ``restore_diacritics_from``), an English one with the Vietnamese translations of its words appended
    (qa/lang/bilingual.py ``with_translations``). e5's layers under the reader read Vietnamese without
    diacritics poorly: its span in the rules' sentence on xquad-vi-dev out-of-fold, short F1 .290 read as
    typed, .364 restored by pyvi alone, .382 restored from the passages (the rules' .379),
    ``bench/reader_choice.py``. Trained and read with the translations, English questions found the
    sentence holding the answer among their training pairs for .641 of xquad-vi-dev out-of-fold, against
    .570 without (the training's validation table)."""
    if language == "en":
        return with_translations(question)
    return restore_diacritics_from(question, " ".join(passages)) if language == "vi-folded" else question


def span_of(reading: Reading, sentence: str) -> tuple[int, int] | None:
    """The best answer span the reader found in ``sentence`` (character offsets), whatever its "no answer"
    score (the sentence is the rules' pick: the span is what it holds, as measured); None for an empty one."""
    if not 0 <= reading.start < reading.end <= len(sentence):
        return None
    return reading.start, reading.end


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
