from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.index.files import CURRENT, MANIFEST

runner = CliRunner()


def _args(corpus: Path, tmp_path: Path) -> list[str]:
    return ["--seeds", str(corpus), "--index", str(tmp_path / "idx"), "--model", "fake"]


def test_index_then_reindex_is_a_no_op(corpus: Path, tmp_path: Path) -> None:
    first = runner.invoke(app, ["index", *_args(corpus, tmp_path)])
    assert first.exit_code == 0, first.output
    assert "Indexed 3 articles (1 md, 2 txt) into" in first.output
    second = runner.invoke(app, ["index", *_args(corpus, tmp_path)])
    assert second.exit_code == 0
    assert "Index is up to date: 3 articles" in second.output


def test_ask_builds_the_index_when_missing_and_prints_json(corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["ask", "ai chu tri hoi nghi truc tuyen toan quoc", "--json", "-k", "2", *_args(corpus, tmp_path)],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["answerable"] is True
    assert data["sources"][0]["doc_id"] == "a_conference"
    assert len(data["sources"]) == 2
    assert (tmp_path / "idx" / CURRENT / MANIFEST).is_file()


def test_ask_prints_answer_and_sources(corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "Ai chủ trì hội nghị?", *_args(corpus, tmp_path)])
    assert result.exit_code == 0, result.output
    assert "**Trương Thị Mai**" in result.output
    assert "Sources:" in result.output and "a_conference, characters" in result.output


def test_settings_come_from_the_environment(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_SEEDS_DIR", str(corpus))
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "env-idx"))
    monkeypatch.setenv("QA_MODEL", "fake")
    assert runner.invoke(app, ["index"]).exit_code == 0
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["embedder"]["backend"] == "fake" and info["embedder"]["dim"] == 256
    assert info["index"]["counts"]["documents"] == 3
    assert info["index"]["path"].startswith(str(tmp_path / "env-idx"))


def test_info_text(corpus: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["index", *_args(corpus, tmp_path)])
    result = runner.invoke(app, ["info", *_args(corpus, tmp_path)])
    assert result.exit_code == 0
    assert "embedder : fake / fake-hash" in result.output
    assert "3 documents" in result.output


def _one_line_error(result: object, fragment: str) -> None:
    assert result.exit_code == 1  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_no_articles_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["index", *_args(tmp_path / "empty", tmp_path)])
    _one_line_error(result, "no articles")


def test_unreadable_file_is_skipped_with_a_warning_or_an_error_when_strict(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (corpus / "broken.txt").write_bytes(b"\xff\xfe\xfa not utf-8")
    strict = runner.invoke(app, ["index", "--strict", *_args(corpus, tmp_path)])
    _one_line_error(strict, "broken.txt: not UTF-8")
    lenient = runner.invoke(app, ["index", *_args(corpus, tmp_path)])
    assert lenient.exit_code == 0
    assert "Indexed 3 articles" in lenient.stdout
    assert "broken.txt: not UTF-8 text" in caplog.text


def test_index_of_another_embedder_is_a_one_line_error(corpus: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["index", *_args(corpus, tmp_path)])
    manifest = tmp_path / "idx" / CURRENT / MANIFEST
    data = json.loads(manifest.read_text())
    data["embedder"]["id"] = "some-other-model@1"
    manifest.write_text(json.dumps(data))
    result = runner.invoke(app, ["ask", "hội nghị", *_args(corpus, tmp_path)])
    _one_line_error(result, "was built with some-other-model@1")


def test_info_without_index_is_a_one_line_error(corpus: Path, tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["info", *_args(corpus, tmp_path)]), "no index")


def test_empty_question_is_a_one_line_error(corpus: Path, tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["ask", "  ", *_args(corpus, tmp_path)]), "empty")


def test_unknown_model_is_a_one_line_error(corpus: Path, tmp_path: Path) -> None:
    args = ["index", "--seeds", str(corpus), "--index", str(tmp_path / "i"), "--model", "nope"]
    _one_line_error(runner.invoke(app, args), "unknown model 'nope'")


def test_json_is_readable_utf8(corpus: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", "Ai chủ trì hội nghị?", "--json", *_args(corpus, tmp_path)])
    assert result.exit_code == 0
    assert "Trương Thị Mai" in result.stdout and "\\u" not in result.stdout


def test_help_shows_defaults_and_variables_and_version() -> None:
    help_text = " ".join(runner.invoke(app, ["ask", "--help"]).output.split())  # unwrapped
    assert "[env QA_SEEDS_DIR; default: seeds]" in help_text and "[env QA_MODEL;" in help_text
    assert "<bool>" not in help_text and "--json " in help_text
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("vnqa ")


def test_missing_articles_folder_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = ["ask", "hội nghị", "--seeds", str(elsewhere / "seeds"), "--index", str(elsewhere / "index")]
    _one_line_error(runner.invoke(app, [*args, "--model", "fake"]), "articles folder not found")
    assert list(elsewhere.iterdir()) == []


def test_qa_ask_answers_through_a_running_server_of_the_same_index(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.engine import Engine
    from qa.server.app import create_app

    from .conftest import serve_in_thread

    with serve_in_thread(create_app(settings, FakeEmbedder())) as url:
        port = url.rsplit(":", 1)[1]

        def no_loading(*args: object, **kwargs: object) -> Engine:
            raise AssertionError("qa ask loaded the index itself")

        monkeypatch.setattr(Engine, "open", no_loading)
        args = ["ask", "Ai chủ trì hội nghị trực tuyến toàn quốc?", "--json"]
        args += ["--seeds", str(settings.seeds_dir), "--index", str(settings.index_dir), "--model", "fake"]
        result = CliRunner().invoke(app, args, env={"QA_PORT": port})
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["short_answer"]["text"] == "Trương Thị Mai"
        other = CliRunner().invoke(
            app, [*args[:3], "--index", str(settings.index_dir.parent / "other")], env={"QA_PORT": port}
        )
        assert other.exit_code == 1 and "loaded the index itself" in str(other.exception)
