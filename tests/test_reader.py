"""The learned reader: tiny training runs of the same code as ``python -m qa.eval.reader_training``, on
the real encoder (a few questions, so CI runs it in a minute), and reading with what they trained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.answer.reader import Reader, Tokenizer
from qa.config import Settings
from qa.eval import reader_training
from qa.eval.reader_training import question_pairs, train_reader

pytestmark = pytest.mark.real_model

ARTICLES = {
    "a_broncos": "Super Bowl 50\n\nĐội Denver Broncos đã đánh bại Carolina Panthers với tỉ số 24-10. "
    "Trận đấu diễn ra tại sân vận động Levi's ở Santa Clara. Peyton Manning là tiền vệ của Broncos.",
    "b_warsaw": "Warsaw\n\nWarsaw là thủ đô của Ba Lan. Thành phố có khoảng 1,7 triệu dân. "
    "Sông Vistula chảy qua thành phố. Cung điện Văn hóa và Khoa học được xây năm 1955.",
}
QUESTIONS = [
    ("a_broncos", "vi", "Đội nào đánh bại Carolina Panthers?", "Denver Broncos"),
    ("a_broncos", "en", "Where was the game played?", "Santa Clara"),
    ("a_broncos", "vi", "Ai là tiền vệ của Broncos?", "Peyton Manning"),
    ("b_warsaw", "vi", "Warsaw là thủ đô của nước nào?", "Ba Lan"),
    ("b_warsaw", "en", "How many people live in the city?", "1,7 triệu"),
    ("b_warsaw", "vi", "Cung điện Văn hóa và Khoa học được xây năm nào?", "1955"),
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    (folder / "corpus").mkdir(parents=True)
    for name, text in ARTICLES.items():
        (folder / "corpus" / f"{name}.txt").write_text(text, encoding="utf-8")
    rows = [
        {"id": f"q{i}-{lang}", "lang": lang, "q": q, "docs": [doc], "answers": [a], "evidence": ""}
        for i, (doc, lang, q, a) in enumerate(QUESTIONS)
    ]
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    return folder


def test_pairs_label_the_answer_and_read_other_sentences_as_no_answer(data: Path) -> None:
    pairs = question_pairs(data)
    first = [p for p in pairs if p.qid == "q0-vi"]
    positive = [p for p in first if p.span is not None]
    assert len(positive) == 1 and positive[0].sentence[slice(*positive[0].span)] == "Denver Broncos"
    assert {p.article for p in first} == {"a_broncos"}  # the other article's sentence is one of the negatives
    assert any(p.sentence not in ARTICLES["a_broncos"] for p in first)


def test_the_tokens_of_a_span_cover_its_characters(e5_folder: Path) -> None:
    sentence = "Đội Denver Broncos đã đánh bại Carolina Panthers."
    encoded = Tokenizer(e5_folder).encode("Ai thắng?", [sentence])
    covered = [sentence[a:b] for a, b in zip(encoded.starts[0], encoded.ends[0], strict=True) if a >= 0]
    assert "".join(covered).replace(" ", "") == sentence.replace(" ", "")


def test_training_writes_fold_and_final_weights_that_read(
    data: Path, tmp_path: Path, e5_folder: Path
) -> None:
    out = tmp_path / "run"
    table = train_reader(data, out, folds=2, epochs=1, log=lambda line: None, model_folder=e5_folder)
    assert set(table) == {"en", "vi"} and all(0 <= row["sentence"] <= 1 for row in table.values())
    for name in ("fold-0", "fold-1", "all"):
        assert (out / name / "reader.safetensors").is_file()
        assert not (out / name / "checkpoint.pt").exists()
    reader = Reader(e5_folder, out / "all" / "reader.safetensors")
    sentences = ["Warsaw là thủ đô của Ba Lan.", "Sông Vistula chảy qua thành phố."]
    readings = reader.read("Warsaw là thủ đô của nước nào?", sentences)
    assert len(readings) == 2
    for reading, sentence in zip(readings, sentences, strict=True):
        assert 0 <= reading.start < reading.end <= len(sentence)
    # the "not found" models with the reader's margin are fitted on such a run, each question read out-of-fold
    env = {**os.environ, "QA_MODEL_CACHE": str(e5_folder.parent), "QA_INDEX_DIR": str(tmp_path / "index")}
    bench = Path(__file__).resolve().parent.parent / "bench" / "abstention.py"
    fitted = subprocess.run(
        [sys.executable, str(bench), str(data), "--reader-folds", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert fitted.returncode == 0, fitted.stderr[-2000:]
    assert "READ_MODELS" in fitted.stdout and "READ_FEATURES" in fitted.stdout
    assert "| set alone | vi |" in fitted.stdout


def test_squad_files_train_a_base_model_that_the_others_start_from(
    data: Path, tmp_path: Path, e5_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    squad = tmp_path / "squad.json"
    context = "The castle was built in 1205 by the count. Tourists visit it every summer. It is old."
    qas = [
        {
            "id": "s1",
            "question": "When was the castle built?",
            "answers": [{"text": "1205", "answer_start": 24}],
        }
    ]
    squad.write_text(
        json.dumps({"data": [{"title": "Castle", "paragraphs": [{"context": context, "qas": qas}]}]})
    )
    starts: dict[str, Path | None] = {}
    real_train = reader_training.Trainer.train

    def recording(self: reader_training.Trainer, name: str, *args: object, **kwargs: object) -> Path:
        starts[name] = args[5] if len(args) > 5 else None  # type: ignore[assignment]
        return real_train(self, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_training.Trainer, "train", recording)
    out = tmp_path / "run"
    table = train_reader(
        data, out, folds=2, epochs=1, log=lambda line: None, model_folder=e5_folder, squad=[squad]
    )
    assert set(table) == {"en", "vi"}  # SQuAD's pairs are never held out
    assert starts == {"base": None} | {
        name: out / "base" / "reader.safetensors" for name in ("fold-0", "fold-1", "all")
    }


def test_a_stopped_run_continues_to_the_same_weights(
    data: Path, tmp_path: Path, e5_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.numpy import load_file

    whole = tmp_path / "whole"
    train_reader(data, whole, folds=2, epochs=2, log=lambda line: None, model_folder=e5_folder)
    monkeypatch.setattr(reader_training, "CHECKPOINT_STEPS", 1)
    real_save = reader_training.Trainer._save
    saves = []

    def save_then_stop(self: reader_training.Trainer, *args: object) -> None:
        real_save(self, *args)  # type: ignore[arg-type]
        saves.append(1)
        if len(saves) == 1:
            raise KeyboardInterrupt  # stopped right after the first checkpoint

    monkeypatch.setattr(reader_training.Trainer, "_save", save_then_stop)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train_reader(data, stopped, folds=2, epochs=2, log=lambda line: None, model_folder=e5_folder)
    assert (stopped / "fold-0" / "checkpoint.pt").is_file()
    train_reader(data, stopped, folds=2, epochs=2, log=lambda line: None, model_folder=e5_folder)
    for name in ("fold-0", "fold-1", "all"):
        mine = load_file(str(stopped / name / "reader.safetensors"))
        theirs = load_file(str(whole / name / "reader.safetensors"))
        assert mine.keys() == theirs.keys()
        assert all(np.allclose(mine[k], theirs[k], atol=1e-3) for k in mine), name


def test_the_shipped_weights_load_offline_and_mark_spans(real_settings: Settings) -> None:
    from qa.answer.reader import load_reader, packaged_weights
    from qa.engine import Engine

    assert packaged_weights() is not None
    reader = load_reader()
    assert reader is not None
    sentence = "Trận đấu diễn ra tại sân vận động Levi's ở Santa Clara."
    reading = reader.read("Where was the game played?", [sentence])[0]
    assert "Santa Clara" in sentence[reading.start : reading.end]
    on = Engine.open(real_settings.model_copy(update={"reader": True}))
    assert isinstance(on.reader, Reader)
    answer = on.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")  # a Vietnamese question: the reader's span
    assert answer.short_answer is not None and answer.short_answer.text == "Trương Thị Mai"
    assert "**Trương Thị Mai**" in answer.answer
