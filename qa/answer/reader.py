"""The learned reader: the question and a candidate sentence read together by a transformer, which scores
each answer span in the sentence and "no answer".

The encoder is the packaged multilingual-e5-small (qa/embed/convert.py) with its top ``TUNED`` layers
replaced by the ones the project trained (``reader.safetensors``, shipped beside this module), and a span
head: a start and an end logit per token. The input is ``[CLS] query: QUESTION [SEP] passage: SENTENCE
[SEP]``; a span's score is its start plus end logit, "no answer" is the ``[CLS]`` token's (SQuAD 2.0's
convention). Lower layers are the model's own, so what the reader ships is ``TUNED`` layers and a head.

Scores compare across sentences of one question: the evidence sentence is the one whose best span beats
its own "no answer" by the most. Training: qa/eval/reader_training.py. Not yet wired into the answer step
(qa/answer/evidence.py still picks the sentence by its weighted rules).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

TUNED = 4  # top encoder layers the reader trains; the rest stay the packaged model's
MAX_TOKENS = 160  # question and sentence together; a longer sentence is cut
MAX_QUESTION_TOKENS = 48
MAX_SPAN_TOKENS = 30
WEIGHTS = "reader.safetensors"


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


def span_model(folder: Path) -> Any:
    """The e5 encoder of ``folder`` with a span head (a ``torch.nn.Module``; its ``forward(ids, mask,
    types)`` gives start and end logits of shape ``(batch, tokens)``)."""
    import torch
    from transformers import BertModel

    class SpanModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = BertModel.from_pretrained(str(folder), add_pooling_layer=False)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def lower(self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
            """The hidden states under the tuned layers (frozen: cached by the training)."""
            hidden: torch.Tensor = self.encoder.embeddings(input_ids=ids, token_type_ids=types)
            for layer in self.encoder.encoder.layer[:-TUNED]:
                hidden = layer(hidden, attention_mask=_additive(mask))
            return hidden

        def upper(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            for layer in self.encoder.encoder.layer[-TUNED:]:
                hidden = layer(hidden, attention_mask=_additive(mask))
            logits = self.head(hidden)
            return logits[..., 0], logits[..., 1]

        def forward(
            self, ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            return self.upper(self.lower(ids, mask, types), mask)

        def tuned(self) -> dict[str, torch.Tensor]:
            """The trained parameters by name: the top layers and the head."""
            first = len(self.encoder.encoder.layer) - TUNED
            return {
                name: p
                for name, p in self.named_parameters()
                if name.startswith("head.")
                or any(name.startswith(f"encoder.encoder.layer.{i}.") for i in range(first, first + TUNED))
            }

    def _additive(mask: torch.Tensor) -> torch.Tensor:
        """The padding mask as the attention layers add it: 0 to attend, the float minimum not to."""
        additive: torch.Tensor = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        return additive

    return SpanModel()


def packaged_weights() -> Path | None:
    """The reader weights shipped in the package, if this build has them."""
    path = Path(str(resources.files("qa.answer").joinpath(WEIGHTS)))
    return path if path.is_file() else None


class Reader:
    """Reads a question against candidate sentences (thread-safe; torch runs one batch at a time)."""

    def __init__(self, model_folder: Path, weights: Path) -> None:
        import torch
        from safetensors.torch import load_file

        self.tokenizer = Tokenizer(model_folder)
        self.model = span_model(model_folder)
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        missing = set(self.model.tuned()) - set(state)
        if missing:
            raise ValueError(f"{weights} lacks {len(missing)} of the reader's parameters")
        self.model.load_state_dict(state, strict=False)
        self.model.eval()
        self._torch = torch
        self._lock = threading.Lock()

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        """One :class:`Reading` per sentence, in order."""
        if not sentences:
            return []
        encoded = self.tokenizer.encode(question, sentences)
        torch = self._torch
        with self._lock, torch.inference_mode():
            start, end = self.model(
                torch.from_numpy(encoded.ids), torch.from_numpy(encoded.mask), torch.from_numpy(encoded.types)
            )
        mask = encoded.mask == 0
        start_logits = np.where(mask, -np.inf, start.numpy()).astype(np.float32)
        end_logits = np.where(mask, -np.inf, end.numpy()).astype(np.float32)
        return best_spans(start_logits, end_logits, encoded)


@cache
def load_reader(weights: Path | None = None) -> Reader | None:
    """The reader with ``weights`` (default: the packaged ones); None when there are none."""
    weights = weights or packaged_weights()
    if weights is None:
        return None
    from ..embed.convert import prepare_e5

    return Reader(prepare_e5(), weights)
