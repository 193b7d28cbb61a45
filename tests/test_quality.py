"""The code style the project follows is checked with the tests, so it cannot drift."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "qa", "tests", "bench"],
        ["ruff", "format", "--check", "qa", "tests", "bench"],
        [sys.executable, "-m", "mypy", "qa"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command: list[str]) -> None:
    if command[0] == "ruff":
        ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
        assert ruff, "ruff is not installed (it is in the [test] extra)"
        command = [ruff, *command[1:]]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
