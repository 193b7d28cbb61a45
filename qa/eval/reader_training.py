"""Training the reader (qa/answer/reader.py) on extractive QA data, on a laptop CPU, resumably.

Data: a question set in the xquad-vi-dev layout (``corpus/*.txt`` and ``questions.jsonl`` with
``q``, ``lang``, ``docs``, ``evidence`` and ``answers``). Each question is read against the sentences of
its article: every sentence holding a gold answer is a positive (its span labelled), and the article's
sentences most like the question, one more of it at random and one of another article are negatives
(labelled "no answer", the ``[CLS]`` token).

Cost: the encoder's lower layers are frozen, so their output for every pair is computed once and cached
(``lower.npy``, float16, resumable in pieces); each fold then trains the top ``TUNED`` layers and the head
from that cache. Folds are by article: fold ``f`` holds out the articles whose sorted position is ``f``
modulo ``folds``, and ``all`` trains on everything (the shipped weights). Every model checkpoints after
each epoch and every ``CHECKPOINT_STEPS`` steps; a run stopped at any point continues where it stopped.

Layout of ``out``::

    pairs.json          the pairs (question, sentence, label) and their folds
    lower.npy, lower.json   the cached lower-layer states and how many rows are done
    fold-0/ ... all/    checkpoint.pt while training; reader.safetensors (float16) when done
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..answer.reader import MAX_TOKENS, WEIGHTS, Encoded, Tokenizer, best_spans
from ..answer.span_model import span_model
from ..lang.bilingual import with_translations
from ..lang.text import nfc, sentence_spans, syllables
from .metrics import token_f1
from .pairs import Pair
from .squad import LANG as SQUAD
from .squad import squad_pairs

NEGATIVES_LIKE = 3  # the article's sentences most like the question
CHECKPOINT_STEPS = 200
BATCH = 32
SEED = 13

Log = Callable[[str], None]


def read_articles(folder: Path) -> dict[str, list[str]]:
    """Article id -> its sentences (title line first), from ``folder/corpus/*.txt``."""
    articles = {}
    for path in sorted((folder / "corpus").glob("*.txt")):
        text = nfc(path.read_text(encoding="utf-8"))
        articles[path.stem] = [text[a:b] for a, b in sentence_spans(text)]
    return articles


def question_pairs(folder: Path) -> list[Pair]:
    """The training pairs of every question in ``folder/questions.jsonl`` (see the module docstring)."""
    articles = read_articles(folder)
    others = sorted(articles)
    pairs: list[Pair] = []
    for line in (folder / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            pairs += _pairs_of(json.loads(line), articles, others)
    return pairs


def _pairs_of(record: dict[str, Any], articles: dict[str, list[str]], others: list[str]) -> list[Pair]:
    """One question's pairs: its positives with their spans, then its negatives."""
    article = record["docs"][0]
    sentences = articles[article]
    answers = tuple(record["answers"])
    positives = [i for i, s in enumerate(sentences) if any(a and a in s for a in answers)]
    if not positives:
        return []
    rng = random.Random(f"{SEED}-{record['id']}")
    negatives = _negatives(record["q"], sentences, positives, rng)
    elsewhere = articles[rng.choice([a for a in others if a != article])]
    question = with_translations(record["q"]) if record["lang"] == "en" else record["q"]
    base = dict(qid=record["id"], lang=record["lang"], article=article, question=question, answers=answers)
    pairs = []
    for i in positives:
        answer = next(a for a in answers if a and a in sentences[i])
        start = sentences[i].index(answer)
        pairs.append(Pair(**base, sentence=sentences[i], span=(start, start + len(answer))))
    pairs.extend(Pair(**base, sentence=sentences[i], span=None) for i in negatives)
    pairs.append(Pair(**base, sentence=rng.choice(elsewhere), span=None))
    return pairs


def _negatives(question: str, sentences: list[str], positives: list[int], rng: random.Random) -> list[int]:
    """The article's sentences most like the question (shared syllables), and one more at random."""
    asked = set(syllables(question))
    ranked = sorted(
        (i for i in range(len(sentences)) if i not in positives),
        key=lambda i: (-len(asked & set(syllables(sentences[i]))), i),
    )
    rest = ranked[NEGATIVES_LIKE:]
    return ranked[:NEGATIVES_LIKE] + ([rng.choice(rest)] if rest else [])


def folds_of(pairs: Sequence[Pair], folds: int) -> dict[str, int]:
    """Article -> fold: the question set's articles in sorted order, dealt round the folds (SQuAD's,
    never held out, are not in it)."""
    articles = sorted({p.article for p in pairs if p.lang != SQUAD})
    return {a: i % folds for i, a in enumerate(articles)}


def labels(pair: Pair, encoded: Encoded, row: int) -> tuple[int, int]:
    """The token positions of the pair's span (``(0, 0)``, the [CLS] token, for none or a cut-off one)."""
    if pair.span is None:
        return 0, 0
    start, end = pair.span
    first = np.flatnonzero((encoded.starts[row] >= 0) & (encoded.ends[row] > start))
    last = np.flatnonzero((encoded.starts[row] >= 0) & (encoded.starts[row] < end))
    if not len(first) or not len(last) or last[-1] < first[0]:
        return 0, 0
    return int(first[0]), int(last[-1])


class Trainer:
    """Caches the frozen layers' states for every pair, then trains one model per fold and ``all``."""

    def __init__(self, model_folder: Path, out: Path, log: Log = print) -> None:
        import torch

        torch.manual_seed(SEED)
        self.torch = torch
        self.folder = model_folder
        self.out = out
        self.log = log
        self.tokenizer = Tokenizer(model_folder)
        self.model = span_model(model_folder)
        self.model.eval()

    # ------------------------------------------------------------------------------------ the cache

    def encode(self, pairs: Sequence[Pair]) -> tuple[Encoded, npt.NDArray[np.int64]]:
        """All pairs as one padded batch of ``MAX_TOKENS`` columns, and their label positions."""
        rows = [self.tokenizer.encode(p.question, [p.sentence]) for p in pairs]
        shape = (len(rows), MAX_TOKENS)
        out = Encoded(
            np.full(shape, self.tokenizer.pad, np.int64),
            np.zeros(shape, np.int64),
            np.zeros(shape, np.int64),
            np.full(shape, -1, np.int64),
            np.full(shape, -1, np.int64),
        )
        targets = np.zeros((len(rows), 2), np.int64)
        for i, (pair, row) in enumerate(zip(pairs, rows, strict=True)):
            width = row.ids.shape[1]
            for name in ("ids", "mask", "types", "starts", "ends"):
                getattr(out, name)[i, :width] = getattr(row, name)[0]
            targets[i] = labels(pair, row, 0)
        return out, targets

    def cache(self, encoded: Encoded) -> npt.NDArray[np.float16]:
        """The lower layers' states of every pair, computed in pieces that survive a stop."""
        torch = self.torch
        n = len(encoded.ids)
        dim = self.model.encoder.config.hidden_size
        path, progress = self.out / "lower.npy", self.out / "lower.json"
        done = json.loads(progress.read_text())["done"] if progress.exists() and path.exists() else 0
        mode = "r+" if done else "w+"
        states = np.lib.format.open_memmap(path, mode=mode, dtype=np.float16, shape=(n, MAX_TOKENS, dim))
        began, first = time.monotonic(), done
        while done < n:
            stop = min(done + BATCH, n)
            with torch.inference_mode():
                hidden = self.model.lower(
                    *(torch.from_numpy(getattr(encoded, k)[done:stop]) for k in ("ids", "mask", "types"))
                )
            states[done:stop] = hidden.numpy().astype(np.float16)
            done = stop
            if done % (BATCH * 20) == 0 or done == n:
                states.flush()
                progress.write_text(json.dumps({"done": done}))
                rate = (done - first) / max(time.monotonic() - began, 1e-9)
                self.log(f"lower layers: {done}/{n} pairs, ETA {(n - done) / max(rate, 1e-9):.0f} s")
        cached: npt.NDArray[np.float16] = np.load(path, mmap_mode="r")
        return cached

    # ------------------------------------------------------------------------------------ training

    def train(
        self,
        name: str,
        rows: npt.NDArray[np.int64],
        states: npt.NDArray[np.float16],
        encoded: Encoded,
        targets: npt.NDArray[np.int64],
        epochs: int,
        init: Path | None = None,
    ) -> Path:
        """Train the top layers and head on ``rows`` of the pairs, from the weights ``init`` (default:
        the packaged encoder and a new head); the weights file (kept if done)."""
        torch = self.torch
        folder = self.out / name
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS
        if weights.exists():
            return weights
        model = self._model(init)
        params = model.tuned()
        for p in model.parameters():
            p.requires_grad_(False)
        for p in params.values():
            p.requires_grad_(True)
        optimizer = torch.optim.AdamW(
            [
                {"params": [p for n, p in params.items() if n.startswith("head.")], "lr": 1e-3},
                {"params": [p for n, p in params.items() if not n.startswith("head.")], "lr": 5e-5},
            ],
            weight_decay=0.01,
        )
        steps_per_epoch = (len(rows) + BATCH - 1) // BATCH
        total = steps_per_epoch * epochs
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / max(total, 1)))
        checkpoint = folder / "checkpoint.pt"
        step = self._resume(checkpoint, model, optimizer, schedule)
        if step:
            self.log(f"{name}: resuming at step {step}/{total}")
        model.train()
        began, first = time.monotonic(), step
        loss_fn = torch.nn.CrossEntropyLoss()
        while step < total:
            epoch, at = divmod(step, steps_per_epoch)
            order = np.random.default_rng(SEED + epoch).permutation(rows)
            batch = np.sort(order[at * BATCH : (at + 1) * BATCH])
            width = int(encoded.mask[batch].sum(axis=1).max())  # the batch's longest pair, not MAX_TOKENS
            mask = torch.from_numpy(encoded.mask[batch, :width])
            hidden = torch.from_numpy(np.asarray(states[batch, :width], np.float32))
            start, end = model.upper(hidden, mask)
            start = start.masked_fill(mask == 0, -1e4)
            end = end.masked_fill(mask == 0, -1e4)
            target = torch.from_numpy(targets[batch])
            loss = (loss_fn(start, target[:, 0]) + loss_fn(end, target[:, 1])) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            if step % 20 == 0 or step == total:
                rate = (step - first) / max(time.monotonic() - began, 1e-9)
                self.log(
                    f"{name}: step {step}/{total} loss {loss.item():.3f}, ETA {(total - step) / rate:.0f} s"
                )
            if step % CHECKPOINT_STEPS == 0 or step % steps_per_epoch == 0:
                self._save(checkpoint, model, params, optimizer, schedule, step)
        from safetensors.torch import save_file

        save_file(
            {k: v.detach().half().contiguous() for k, v in params.items()}, str(weights.with_suffix(".tmp"))
        )
        weights.with_suffix(".tmp").replace(weights)
        checkpoint.unlink(missing_ok=True)
        return weights

    def _model(self, weights: Path | None) -> Any:
        """The span model, with the trained parameters of ``weights`` if given."""
        from safetensors.torch import load_file

        model = span_model(self.folder)
        if weights is not None:
            model.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()}, strict=False)
        return model

    def _resume(self, checkpoint: Path, model: Any, optimizer: Any, schedule: Any) -> int:
        """Load the checkpoint into the model, optimizer and schedule, if there is one; its step."""
        if not checkpoint.exists():
            return 0
        saved = self.torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        return int(saved["step"])

    def _save(
        self, checkpoint: Path, model: Any, params: dict[str, Any], optimizer: Any, schedule: Any, step: int
    ) -> None:
        """Write the trained parameters, optimizer and schedule at ``step``, replacing the last checkpoint."""
        state = {k: v for k, v in model.state_dict().items() if k in params}
        saved = {
            "model": state,
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "step": step,
        }
        self.torch.save(saved, checkpoint.with_suffix(".tmp"))
        checkpoint.with_suffix(".tmp").replace(checkpoint)

    def predict(
        self, weights: Path, rows: npt.NDArray[np.int64], states: npt.NDArray[np.float16], encoded: Encoded
    ) -> list[Any]:
        """The reader's readings of ``rows`` (from the cached states)."""
        torch = self.torch
        model = self._model(weights)
        model.eval()
        readings = []
        for at in range(0, len(rows), BATCH):
            batch = rows[at : at + BATCH]
            width = int(encoded.mask[batch].sum(axis=1).max())
            mask = torch.from_numpy(encoded.mask[batch, :width])
            with torch.inference_mode():
                start, end = model.upper(
                    torch.from_numpy(np.asarray(states[batch, :width], np.float32)), mask
                )
            pad = encoded.mask[batch, :width] == 0
            part = Encoded(
                *(getattr(encoded, k)[batch, :width] for k in ("ids", "mask", "types", "starts", "ends"))
            )
            readings += best_spans(
                np.where(pad, -np.inf, start.numpy()).astype(np.float32),
                np.where(pad, -np.inf, end.numpy()).astype(np.float32),
                part,
            )
        return readings


def validation(pairs: Sequence[Pair], readings: dict[int, Any]) -> dict[str, dict[str, float]]:
    """Per language, over the held-out questions: how often the sentence with the highest margin holds
    the answer (``sentence``) and the token F1 of its best span against the gold answers (``f1``)."""
    by_question: dict[str, list[int]] = {}
    for i in readings:
        by_question.setdefault(pairs[i].qid, []).append(i)
    table: dict[str, dict[str, list[float]]] = {}
    for rows in by_question.values():
        best = max(rows, key=lambda i: readings[i].margin)
        pair, reading = pairs[best], readings[best]
        cell = table.setdefault(pair.lang, {"sentence": [], "f1": []})
        cell["sentence"].append(float(pair.span is not None))
        text = pair.sentence[reading.start : reading.end] if reading.start >= 0 else ""
        cell["f1"].append(token_f1(text, list(pair.answers)))
    return {
        lang: {k: float(np.mean(v)) for k, v in cell.items()} | {"questions": len(cell["f1"])}
        for lang, cell in sorted(table.items())
    }


def train_reader(
    data: Path,
    out: Path,
    folds: int = 2,
    epochs: int = 2,
    log: Log = print,
    model_folder: Path | None = None,
    squad: Sequence[Path] = (),
    squad_epochs: int = 1,
    squad_questions: int | None = None,
) -> dict[str, Any]:
    """Train ``folds`` held-out models and the ``all`` model on the encoder in ``model_folder`` (default:
    the packaged e5, converted); the out-of-fold validation table. With ``squad`` files, a ``base`` model
    is first trained on them alone for ``squad_epochs`` (on ``squad_questions`` of their questions drawn at
    random, if given), and every other model starts from it."""
    from ..embed.convert import prepare_e5

    out.mkdir(parents=True, exist_ok=True)
    pairs = question_pairs(data)
    extra, dropped = squad_pairs(squad, sorted({p.article for p in pairs}), squad_questions, SEED)
    if dropped:
        log(f"left out {len(dropped)} SQuAD articles of XQuAD or of {data.name}: {', '.join(dropped)}")
    pairs += extra
    fold_of = folds_of(pairs, folds)
    (out / "pairs.json").write_text(
        json.dumps({"folds": fold_of, "pairs": [asdict(p) for p in pairs]}, ensure_ascii=False)
    )
    log(f"{len(pairs)} pairs of {len({p.qid for p in pairs})} questions over {len(fold_of)} articles")
    if extra:
        log(f"  of which {len(extra)} pairs from SQuAD files, in every model's training")
    trainer = Trainer(model_folder or prepare_e5(), out, log)
    encoded, targets = trainer.encode(pairs)
    states = trainer.cache(encoded)
    article_fold = np.array([fold_of.get(p.article, -1) for p in pairs])
    base = None
    if extra:
        base = trainer.train("base", np.flatnonzero(article_fold < 0), states, encoded, targets, squad_epochs)
    own = np.flatnonzero(article_fold >= 0)
    readings: dict[int, Any] = {}
    for fold in range(folds):
        held = np.flatnonzero(article_fold == fold)
        rows = np.setdiff1d(own, held)
        weights = trainer.train(f"fold-{fold}", rows, states, encoded, targets, epochs, base)
        readings |= dict(zip(held.tolist(), trainer.predict(weights, held, states, encoded), strict=True))
    table = validation(pairs, readings)
    (out / "validation.json").write_text(json.dumps(table, indent=1))
    log(json.dumps(table, indent=1))
    trainer.train("all", own, states, encoded, targets, epochs, base)
    return table
