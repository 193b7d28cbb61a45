"""The learned reader: the question and a candidate sentence read together by a transformer, which scores
each answer span in the sentence and "no answer".

The encoder is the packaged multilingual-e5-small (qa/embed/convert.py) with its top layers replaced by
the ones the project trained (``reader.safetensors``, shipped beside this module: the layers and the head,
qa/answer/span_model.py), and a span head: a start and an end logit per token. The input is ``[CLS] query:
QUESTION [SEP] passage: SENTENCE [SEP]``; a span's score is its start plus end logit, "no answer" is the
``[CLS]`` token's (SQuAD 2.0's convention).

It runs on onnxruntime: on first use the encoder and the weights are exported once into the model cache
as int8 ONNX (:func:`compiled`), so answering never imports torch. How the answer step uses it:
qa/answer/reading.py. Training: qa/eval/reader_training.py.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import ModelError

MAX_TOKENS = 160  # question and sentence together; a longer sentence is cut
MAX_QUESTION_TOKENS = 48
MAX_SPAN_TOKENS = 30
WEIGHTS = "reader.safetensors"
ONNX_FORMAT = 1  # bump when the export changes: a cached file of another format is not used

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one sentence: its best span (character offsets into the sentence) with
    the span's score, and the "no answer" score; ``margin`` = span - no answer (higher: more likely the
    sentence answers)."""

    start: int
    end: int
    span_score: float
    null_score: float

    @property
    def margin(self) -> float:
        return self.span_score - self.null_score


@dataclass(frozen=True)
class Encoded:
    """A batch of question-sentence pairs as token ids, with each token's character offsets in its
    sentence (``-1`` for question and special tokens)."""

    ids: npt.NDArray[np.int64]
    mask: npt.NDArray[np.int64]
    types: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]  # per token: its first character in the sentence, -1 outside it
    ends: npt.NDArray[np.int64]


class Tokenizer:
    """The e5 tokenizer reading pairs: ``query: `` + question, then ``passage: `` + sentence."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer as Fast

        self._fast = Fast.from_file(str(folder / "tokenizer.json"))
        self._fast.no_truncation()
        self._fast.no_padding()
        self.cls, self.sep, self.pad = (int(self._fast.token_to_id(t) or 0) for t in ("<s>", "</s>", "<pad>"))

    def encode(self, question: str, sentences: Sequence[str]) -> Encoded:
        """The pairs (``question``, sentence), padded to the longest, at most ``MAX_TOKENS`` each."""
        asked = self._fast.encode("query: " + question, add_special_tokens=False).ids[:MAX_QUESTION_TOKENS]
        prefix = len("passage: ")
        rows = []
        for sentence in sentences:
            passage = self._fast.encode("passage: " + sentence, add_special_tokens=False)
            room = MAX_TOKENS - len(asked) - 3
            tokens = [self.cls, *asked, self.sep, *passage.ids[:room], self.sep]
            offsets = [(-1, -1)] * (len(asked) + 2)
            offsets += [_in_sentence(sentence, a - prefix, b - prefix) for a, b in passage.offsets[:room]]
            offsets.append((-1, -1))
            rows.append((tokens, offsets))
        width = max(len(tokens) for tokens, _ in rows)
        shape = (len(rows), width)
        ids = np.full(shape, self.pad, np.int64)
        mask = np.zeros(shape, np.int64)
        types = np.zeros(shape, np.int64)
        starts = np.full(shape, -1, np.int64)
        ends = np.full(shape, -1, np.int64)
        for i, (row, offsets) in enumerate(rows):  # one segment type (0) throughout, as e5 was trained
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
            starts[i, : len(row)] = [a for a, _ in offsets]
            ends[i, : len(row)] = [b for _, b in offsets]
        return Encoded(ids, mask, types, starts, ends)


@cache
def tokenizer_of(folder: Path) -> Tokenizer:
    """The tokenizer of ``folder``, one per folder (about 280 MB in memory: the fold models of an evaluation
    share it)."""
    return Tokenizer(folder)


def _in_sentence(sentence: str, start: int, end: int) -> tuple[int, int]:
    """A token's characters in the sentence, without the space SentencePiece puts before a word; (-1, -1)
    for the ``passage: `` prefix."""
    if end <= 0:
        return -1, -1
    start = max(start, 0)
    while start < end and sentence[start].isspace():
        start += 1
    return start, end


def best_spans(
    start_logits: npt.NDArray[np.float32], end_logits: npt.NDArray[np.float32], encoded: Encoded
) -> list[Reading]:
    """Per row, the highest-scoring span of sentence tokens (start <= end, at most ``MAX_SPAN_TOKENS``)."""
    readings = []
    for row in range(len(start_logits)):
        inside = encoded.starts[row] >= 0
        starts = np.where(inside, start_logits[row], -np.inf)
        ends = np.where(inside, end_logits[row], -np.inf)
        scores = starts[:, None] + ends[None, :]
        n = len(starts)
        allowed = np.triu(np.ones((n, n), bool)) & ~np.triu(np.ones((n, n), bool), MAX_SPAN_TOKENS)
        scores = np.where(allowed, scores, -np.inf)
        flat = int(np.argmax(scores))
        first, last = divmod(flat, n)
        readings.append(
            Reading(
                int(encoded.starts[row, first]),
                int(encoded.ends[row, last]),
                float(scores[first, last]),
                float(start_logits[row, 0] + end_logits[row, 0]),
            )
        )
    return readings


def packaged_weights() -> Path | None:
    """The reader weights shipped in the package, if this build has them."""
    path = Path(str(resources.files("qa.answer").joinpath(WEIGHTS)))
    return path if path.is_file() else None


class Reader:
    """Reads a question against candidate sentences with onnxruntime (thread-safe: questions from several
    threads run side by side, one thread each)."""

    def __init__(self, model_folder: Path, weights: Path) -> None:
        import onnxruntime

        self.tokenizer = tokenizer_of(model_folder)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one question, one core: the server runs questions side by side
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(compiled(model_folder, weights)), options, providers=["CPUExecutionProvider"]
        )

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        """One :class:`Reading` per sentence, in order."""
        if not sentences:
            return []
        encoded = self.tokenizer.encode(question, sentences)
        start, end = self._session.run(
            None, {"ids": encoded.ids, "mask": encoded.mask, "types": encoded.types}
        )
        mask = encoded.mask == 0
        start_logits = np.where(mask, -np.inf, start).astype(np.float32)
        end_logits = np.where(mask, -np.inf, end).astype(np.float32)
        return best_spans(start_logits, end_logits, encoded)


def compiled(model_folder: Path, weights: Path) -> Path:
    """The ONNX reader for ``weights`` on the encoder of ``model_folder``, exported on first use into the
    model cache beside that folder (qa/answer/span_model.py; about half a minute, once per weights file)."""
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    target = model_folder.parent / f"reader-{ONNX_FORMAT}-{model_folder.name}-{digest}.onnx"
    if not target.is_file():
        from .span_model import export_onnx

        log.info("preparing the reader %s for onnxruntime, once: %s", weights, target)
        try:
            export_onnx(model_folder, weights, target)
        except Exception as exc:  # a damaged or foreign weights file: said in one line, not a trace
            raise ModelError(f"the reader weights {weights} could not be prepared: {exc}") from exc
    return target


@cache
def load_reader(weights: Path | None = None, model_cache: Path | None = None) -> Reader | None:
    """The reader with ``weights`` (default: the packaged ones) on the encoder converted into
    ``model_cache`` (default: the user's cache, as the embedder's); None when there are no weights."""
    weights = weights or packaged_weights()
    if weights is None:
        return None
    from ..embed.convert import prepare_e5

    return Reader(prepare_e5(model_cache), weights)
