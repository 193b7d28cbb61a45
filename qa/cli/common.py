"""What every ``qa`` command shares: the options that override settings and the one-line errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import Settings, StoreName, get_settings
from ..errors import QAError


def _about(field: str, text: str | None = None) -> str:
    """Help for an option that overrides a setting: its description, variable and default."""
    info = Settings.model_fields[field]
    default = "none" if info.default is None else info.default
    return f"{text or info.description} [env QA_{field.upper()}; default: {default}]"


SeedsOpt = Annotated[Path | None, typer.Option("--seeds", help=_about("seeds_dir"))]
IndexOpt = Annotated[Path | None, typer.Option("--index", help=_about("index_dir"))]
ModelOpt = Annotated[str | None, typer.Option("--model", help=_about("model"))]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (UTF-8) instead of text.")]
StoreOpt = Annotated[StoreName | None, typer.Option("--store", help=_about("store"))]


def _settings(seeds: Path | None, index: Path | None, model: str | None, **more: Any) -> Settings:
    """Environment settings with the command-line flags that were given laid over them."""
    update = {"seeds_dir": seeds, "index_dir": index, "model": model, **more}
    return get_settings().model_copy(update={k: v for k, v in update.items() if v is not None})


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a :class:`QAError` into one line on stderr and exit status 1 (never a traceback)."""
    try:
        yield
    except QAError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
