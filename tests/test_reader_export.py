"""The reader's ONNX file: exported once per weights file into the model cache, and served without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qa.answer import reader, span_model
from qa.errors import ModelError


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each export's target, the export itself faked (an empty file)."""
    done: list[Path] = []

    def fake(model_folder: Path, weights: Path, target: Path) -> None:
        done.append(target)
        target.write_bytes(b"")

    monkeypatch.setattr(span_model, "export_onnx", fake)
    return done


def test_the_export_is_made_once_per_weights_file_beside_the_encoder(
    tmp_path: Path, exports: list[Path]
) -> None:
    encoder = tmp_path / "models" / "multilingual-e5-small-abc"
    encoder.mkdir(parents=True)
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    first.write_bytes(b"weights one")
    second.write_bytes(b"weights two")
    a = reader.compiled(encoder, first)
    assert reader.compiled(encoder, first) == a and exports == [a]
    assert a.parent == encoder.parent
    b = reader.compiled(encoder, second)
    assert b != a and exports == [a, b]
    first.write_bytes(b"weights one, trained again")
    assert reader.compiled(encoder, first) not in (a, b)


def test_weights_that_cannot_be_exported_are_a_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model_folder: Path, weights: Path, target: Path) -> None:
        raise ValueError("header too large")

    monkeypatch.setattr(span_model, "export_onnx", broken)
    weights = tmp_path / "bad.safetensors"
    weights.write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"bad\.safetensors could not be prepared: header too large"):
        reader.compiled(tmp_path / "encoder", weights)


@pytest.mark.real_model
def test_reading_with_the_shipped_weights_never_imports_torch(e5_folder: Path) -> None:
    weights = reader.packaged_weights()
    assert weights is not None
    reader.compiled(e5_folder, weights)  # the export (torch) in this process, before the child reads
    code = (
        "import sys; from pathlib import Path; from qa.answer.reader import Reader, packaged_weights\n"
        f"r = Reader(Path({str(e5_folder)!r}), packaged_weights())\n"
        's = "Tran dau dien ra tai san Levi\'s o Santa Clara."\n'
        "x = r.read('Where was the game played?', [s])[0]\n"
        "print(s[x.start:x.end]); print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["Santa Clara", "False"]


@pytest.mark.real_model
def test_model_prepare_exports_the_reader_when_it_is_on(
    e5_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from qa.cli import app
    from qa.config import get_settings

    monkeypatch.setenv("QA_READER", "true")
    on = CliRunner().invoke(app, ["model", "prepare", "--cache", str(e5_folder.parent)])
    assert on.exit_code == 0, on.output
    encoder, exported = on.output.splitlines()
    assert encoder.startswith(str(e5_folder)) and exported.startswith(str(e5_folder.parent / "reader-"))
    assert Path(exported.split(" (")[0]).is_file()
    monkeypatch.setenv("QA_READER", "false")
    get_settings.cache_clear()  # the settings are read once per process
    off = CliRunner().invoke(app, ["model", "prepare", "--cache", str(e5_folder.parent)])
    assert off.exit_code == 0 and len(off.output.splitlines()) == 1
