"""``qa``: thin command line over the library (parse, call ``qa.*``, print)."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..answer.wire import answer_json
from ..config import Settings, installed_version
from ..embed import load_embedder
from ..engine import Engine
from ..index.build import build_index
from ..ingest.loaders import SUFFIXES
from ..store.registry import backend
from .common import (
    IndexOpt,
    JsonOpt,
    ModelOpt,
    SeedsOpt,
    StoreOpt,
    _about,
    _settings,
    _user_errors,
)
from .remote import served_answer
from .tools import model_app, reader_app

if TYPE_CHECKING:
    from ..eval.run import Evaluation

# Plain help (no Rich markup): "[env QA_SEEDS_DIR; default: seeds]" must print as written.
app = typer.Typer(
    help="Ask questions about a folder of news articles, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vnqa {installed_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Ask questions about a folder of news articles, offline."""


app.add_typer(model_app, name="model")
app.add_typer(reader_app, name="reader")


@app.command()
def index(
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if nothing changed.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on an unusable file instead of skipping it.")
    ] = False,
) -> None:
    """Build the index from the articles (quick no-op when nothing changed).

    Reads .txt, .md, .html/.htm (saved web pages), .pdf (text layer) and .docx. Other files and unusable
    ones (not UTF-8, empty, no text, too large, symlinks leaving the folder) are skipped with a warning
    each.
    """
    settings = _settings(seeds, index, model, store=store)
    with _user_errors():
        embedder = load_embedder(settings)
        report = build_index(settings, embedder, force=force, progress=sys.stderr.isatty(), strict=strict)
        if not backend(settings.store).local:  # published there and loaded back, so a mistake shows now
            Engine.open(settings, embedder, build_missing=False)
    types = ", ".join(f"{count} {kind}" for kind, count in report.types.items())
    if report.rebuilt:
        resumed = f", {report.resumed} from the journal" if report.resumed else ""
        typer.echo(
            f"Indexed {report.documents} articles ({types}) into {report.chunks} chunks and "
            f"{report.sentences} sentences in {report.seconds:.1f} s ({report.embedded} texts embedded, "
            f"{report.reused} reused{resumed}) -> {report.path}{_published(settings)}"
        )
    else:
        typer.echo(
            f"Index is up to date: {report.documents} articles ({types}), {report.chunks} chunks "
            f"(checked in {report.seconds:.2f} s) -> {report.path}{_published(settings)}"
        )
    if report.skipped:
        unsupported = [s for s in report.skipped if s.unsupported]
        unusable = len(report.skipped) - len(unsupported)
        typer.echo(
            f"Not indexed: {len(report.skipped)} file(s): {len(unsupported)} of an unsupported type "
            f"({', '.join(SUFFIXES)} are read), {unusable} unusable"
        )
        for item in report.skipped:
            typer.echo(f"  {item.path}: {item.reason}")


def _published(settings: Settings) -> str:
    store = backend(settings.store)
    return "" if store.local else f", published to {store.title}"


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="English or Vietnamese, with or without diacritics.")],
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=20, help="Sources to show.")] = 5,
    as_json: JsonOpt = False,
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
) -> None:
    """Answer a question from the articles, citing the passages (builds the index if missing).

    When a ``qa serve`` of the same index runs on the configured host and port, it answers (fast: nothing
    to load); otherwise the question is answered in this process."""
    settings = _settings(seeds, index, model, store=store)
    with _user_errors():
        answer = served_answer(settings, question, top_k)
        if answer is None:
            engine = Engine.open(settings, progress=sys.stderr.isatty())
            answer = answer_json(engine.ask(question, top_k))
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        typer.echo(_format_answer(answer))


@app.command()
def info(
    as_json: JsonOpt = False,
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
) -> None:
    """Show the embedding model, the index location and its counts."""
    settings = _settings(seeds, index, model, store=store)
    with _user_errors():
        details = Engine.open(settings, build_missing=False).info()
    if as_json:
        typer.echo(json.dumps(details, ensure_ascii=False, indent=2))
        return
    emb, idx = details["embedder"], details["index"]
    counts = ", ".join(f"{v} {k}" for k, v in idx["counts"].items())
    typer.echo(
        f"embedder : {emb['backend']} / {emb['model']} ({emb['source']}), dim {emb['dim']}, "
        f"{emb.get('precision', 'fp32')}\n"
        f"index    : {idx['path']} ({idx['store']} store)\n"
        f"built at : {idx['built_at']}\n"
        f"contents : {counts}\n"
        f"articles : {details['seeds_dir']}"
    )


@app.command("eval")
def eval_(
    questions: Annotated[
        Path | None,
        typer.Argument(
            help="Question set: our JSONL, a BEIR folder, or a folder with corpus/ and questions.jsonl "
            "(e.g. XQuAD-vi) [default: SEEDS/questions.jsonl]."
        ),
    ] = None,
    retriever: Annotated[
        str, typer.Option("--retriever", help="dense, lexical, hybrid, or all (side by side).")
    ] = "all",
    k: Annotated[str, typer.Option("--k", help="Cut-offs for hit@k and Recall@k.")] = "1,3,5,10",
    distractors: Annotated[
        Path | None,
        typer.Option("--distractors", help="Folder of unrelated articles to add around the corpus."),
    ] = None,
    distractors_n: Annotated[
        int, typer.Option("--distractors-n", min=0, help="How many distractors (a seeded sample).")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the distractor sample.")] = 0,
    leave_out: Annotated[
        bool,
        typer.Option("--leave-out", help="Also ask each question without its own article ('not found')."),
    ] = False,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="The plain-dense baseline row.")
    ] = True,
    reader: Annotated[
        bool | None,
        typer.Option(
            "--reader/--no-reader",
            help="Answer with the learned reader (a 'rules' row beside it) or the rules alone "
            "[default: QA_READER, on].",
        ),
    ] = None,
    reader_folds: Annotated[
        Path | None,
        typer.Option(
            "--reader-folds",
            help="A reader training folder (qa reader train): each question is read by the fold model "
            "that never saw its article, so numbers on the training set are out-of-fold.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    run_file: Annotated[
        Path | None, typer.Option("--run-file", help="Write a TREC run (one per retriever with 'all').")
    ] = None,
    qrels_file: Annotated[Path | None, typer.Option("--qrels-file", help="Write the TREC qrels.")] = None,
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
) -> None:
    """Measure retrieval and answers on a question set, with the plain-dense baseline beside vnqa.

    A question set that brings its own articles (a corpus/ folder, a BEIR corpus) is indexed in the
    evaluation cache, with the distractors if asked; a rerun reuses that index and every vector.
    """
    from ..eval import metrics as ev
    from ..eval import report as rep
    from ..eval.dialogues import is_dialogue_file
    from ..eval.run import Evaluation, run_eval

    settings = _settings(seeds, index, model, store=store, reader=reader)
    names: list[str] = list(ev.RETRIEVERS) if retriever == ev.ALL else [retriever]
    if not set(names) <= set(ev.RETRIEVERS):
        typer.echo(f"error: unknown retriever {retriever!r}: use dense, lexical, hybrid or all", err=True)
        raise typer.Exit(2)
    ks = _cutoffs(k)
    path = questions or settings.seeds_dir / "questions.jsonl"
    began = time.perf_counter()
    if is_dialogue_file(path):
        _eval_dialogues(settings, path, as_json)
        return
    with _user_errors():
        done: Evaluation = run_eval(
            settings,
            path,
            Evaluation.Options(
                names, ks, distractors, distractors_n, seed, leave_out, baseline, reader_folds
            ),
            bars=not as_json and sys.stderr.isatty(),
        )
    if run_file is not None:
        for name in names:
            target = (
                run_file
                if len(names) == 1
                else run_file.with_name(f"{run_file.stem}.{name}{run_file.suffix}")
            )
            target.write_text(rep.trec_run(done.outcomes, name, f"vnqa-{name}"), encoding="utf-8")
    if qrels_file:
        qrels_file.write_text(rep.trec_qrels(done.questions), encoding="utf-8")
    if as_json:
        payload = {**done.report, "failures": done.failures}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True))
        return
    typer.echo(rep.evaluation_text(done, names[-1], ks, time.perf_counter() - began))


def _cutoffs(k: str) -> list[int]:
    """The cut-offs of ``--k`` ("1,3,5,10"), sorted; exits 2 with one line when they are not."""
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
    except ValueError:
        ks = []
    if not ks or min(ks) < 1:
        typer.echo(f"error: --k takes positive integers separated by commas, not {k!r}", err=True)
        raise typer.Exit(2)
    return ks


def _eval_dialogues(settings: Settings, path: Path, as_json: bool) -> None:
    """``qa eval DIALOGUES.jsonl``: turn accuracy alone and in the conversation, on the served articles."""
    from ..eval.dialogues import dialogue_text, evaluate_dialogues, read_dialogues

    began = time.perf_counter()
    with _user_errors():
        dialogues = read_dialogues(path)
        engine = Engine.open(settings, progress=sys.stderr.isatty())
        report = evaluate_dialogues(engine, dialogues)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True))
        return
    typer.echo(dialogue_text(report, settings.seeds_dir, time.perf_counter() - began))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help=_about("host", "Interface to listen on."))] = None,
    port: Annotated[int | None, typer.Option(help=_about("port", "Port to listen on."))] = None,
    seeds: SeedsOpt = None,
    index: IndexOpt = None,
    model: ModelOpt = None,
    store: StoreOpt = None,
    allow_uploads: Annotated[
        bool,
        typer.Option(
            "--allow-uploads",
            help="Let the chat page and the API add and remove articles in the folder (listen on loopback, "
            "or put an authenticating proxy in front).",
        ),
    ] = False,
) -> None:
    """Serve the web chat and the JSON API (builds the index first if there is none).

    Articles added, changed or removed in the folder are indexed in the background while it runs.
    """
    import uvicorn

    from ..server.app import create_app

    updates: dict[str, Any] = {"host": host, "port": port, "store": store}
    if allow_uploads:
        updates["allow_uploads"] = True
    settings = _settings(seeds, index, model, **updates)
    logging.getLogger("qa").setLevel(logging.INFO)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def _format_answer(answer: dict[str, Any]) -> str:
    """An answer of ``qa ask --json``'s shape as text."""
    lines = ([answer["lead"]] if answer["lead"] else []) + [answer["answer"], ""]
    if answer["sources"]:
        lines.append(f"Confidence {answer['confidence']:.0%}. Sources:")
    for n, source in enumerate(answer["sources"], 1):
        lines.append(f"[{n}] {source['title']}")
        where = f"{source['doc_id']}, characters {source['start']}-{source['end']}"
        lines.append(f"    {where}" + (f", {source['url']}" if source["url"] else ""))
        passage = textwrap.shorten(source["text"], 300, placeholder=" …")
        lines.extend(textwrap.wrap(passage, 100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def main() -> None:
    """Console entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    app()
