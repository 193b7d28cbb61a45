"""``qa model`` and ``qa reader``: preparing the embedding model and training the reader."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from .common import _about, _settings, _user_errors

model_app = typer.Typer(help="Manage the embedding model.", no_args_is_help=True, rich_markup_mode=None)
reader_app = typer.Typer(help="Train the learned reader.", no_args_is_help=True, rich_markup_mode=None)


@model_app.command("prepare")
def model_prepare(
    cache: Annotated[Path | None, typer.Option("--cache", help=_about("model_cache"))] = None,
) -> None:
    """Convert the packaged multilingual-e5-small for sentence-transformers, and export the learned reader
    to ONNX when it is on (each done once, then reused)."""
    from ..answer.reader import compiled, packaged_weights
    from ..embed.convert import prepare_e5

    settings = _settings(None, None, None, model_cache=cache)
    began = time.perf_counter()
    with _user_errors():
        folder = prepare_e5(settings.model_cache)
    typer.echo(f"{folder} ({time.perf_counter() - began:.1f} s)")
    weights = settings.reader_weights or packaged_weights()
    if settings.reader and weights is not None:
        began = time.perf_counter()
        with _user_errors():
            reader = compiled(folder, weights)
        typer.echo(f"{reader} ({time.perf_counter() - began:.1f} s)")


@reader_app.command("train")
def reader_train(
    data: Annotated[
        Path,
        typer.Argument(
            help="A question set in the xquad-vi-dev layout: corpus/*.txt and questions.jsonl "
            "(q, lang, docs, answers)."
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder of the run: cache, checkpoints, fold models, weights.")
    ] = Path("reader-run"),
    folds: Annotated[
        int, typer.Option("--folds", min=2, help="Folds by article for the out-of-fold table.")
    ] = 2,
    epochs: Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training pairs.")] = 2,
    squad: Annotated[
        list[Path] | None,
        typer.Option(
            "--squad",
            help="A SQuAD-format training file, or a folder of the SQuAD explorer's article pages "
            "(repeatable): a first model is trained on these alone and the others start from it. "
            "XQuAD's articles in it are left out.",
        ),
    ] = None,
    squad_questions: Annotated[
        int | None,
        typer.Option(
            "--squad-questions", min=1, help="Read this many SQuAD questions, drawn at random (seeded)."
        ),
    ] = None,
    squad_epochs: Annotated[
        int, typer.Option("--squad-epochs", min=1, help="Passes over the SQuAD pairs.")
    ] = 1,
) -> None:
    """Train the reader: a model per fold (each without its articles) for the out-of-fold validation table,
    then one on everything, written as OUT/all/reader.safetensors. Stopped at any point, the same command
    continues where it stopped."""
    import json

    from ..eval.reader_training import train_reader

    if not (data / "questions.jsonl").is_file() or not (data / "corpus").is_dir():
        typer.echo(f"error: {data} has no questions.jsonl and corpus/ folder", err=True)
        raise typer.Exit(2)
    for path in squad or []:
        if not path.exists():
            typer.echo(f"error: {path} is neither a file nor a folder", err=True)
            raise typer.Exit(2)
    began = time.perf_counter()
    with _user_errors():
        table = train_reader(
            data,
            out,
            folds=folds,
            epochs=epochs,
            log=lambda line: typer.echo(line, err=True),
            squad=squad or [],
            squad_epochs=squad_epochs,
            squad_questions=squad_questions,
        )
    typer.echo(json.dumps(table, indent=1))
    typer.echo(f"weights: {out / 'all' / 'reader.safetensors'} ({time.perf_counter() - began:.0f} s)")
