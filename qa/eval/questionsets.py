"""Question sets and the corpora they are asked against, in the field's file formats.

* our JSONL (``id, question | q, lang, relevant | docs, evidence, answers``; see seeds/questions.jsonl);
* a BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/*.tsv``);
* a folder of articles with its questions (``corpus/*.txt`` + ``questions.jsonl``, e.g. XQuAD-vi).

``eval_corpus`` lays out the articles a question set is asked against, optionally with a seeded sample of
unrelated articles (distractors) around them.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..errors import QAError
from ..ingest.loaders import SUFFIXES

DISTRACTOR_PREFIX = "zz-distractor-"


class QuestionSetError(QAError):
    """The question set cannot be read."""


@dataclass(frozen=True, slots=True)
class Question:
    """One evaluation question; ``relevant`` is empty for questions the articles cannot answer."""

    qid: str
    text: str
    lang: str = "all"
    relevant: tuple[str, ...] = ()
    evidence: str | None = None
    answers: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.relevant)


@dataclass(frozen=True)
class QuestionSet:
    """Questions, and the folder of articles they come with (None: asked against the configured ones)."""

    questions: list[Question]
    corpus: Path | None = None
    beir: Path | None = None


def open_question_set(path: Path) -> QuestionSet:
    """A JSONL file, a BEIR folder, or a folder with ``corpus/`` and ``questions.jsonl``."""
    if path.is_dir() and (path / "corpus").is_dir() and (path / "questions.jsonl").is_file():
        return QuestionSet(load_questions(path / "questions.jsonl"), corpus=path / "corpus")
    if path.is_dir():
        return QuestionSet(load_beir_questions(path), beir=path)
    return QuestionSet(load_questions(path))


def load_questions(path: Path) -> list[Question]:
    """Our JSONL question set (also XQuAD-vi's field names ``q`` and ``docs``), or a BEIR folder's."""
    if path.is_dir():
        return load_beir_questions(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionSetError(f"cannot read {path}: {exc.strerror or exc}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            questions.append(
                Question(
                    qid=str(row["id"]),
                    text=str(row["question"] if "question" in row else row["q"]),
                    lang=str(row.get("lang") or "all"),
                    relevant=tuple(row.get("relevant") or row.get("docs") or ()),
                    evidence=row.get("evidence"),
                    answers=tuple(row.get("answers") or ()),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionSetError(f"{path}:{number}: not a question record ({exc})") from None
    if not questions:
        raise QuestionSetError(f"{path} holds no questions")
    return questions


def load_beir_questions(folder: Path) -> list[Question]:
    """Queries of a BEIR folder with their relevant documents (qrels score > 0, every split)."""
    qrels: dict[str, list[str]] = {}
    files = sorted((folder / "qrels").glob("*.tsv"))
    if not (folder / "queries.jsonl").is_file() or not files:
        raise QuestionSetError(f"{folder} is not a BEIR folder (queries.jsonl and qrels/*.tsv)")
    for tsv in files:
        for line in tsv.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] != "query-id" and float(parts[2]) > 0:
                qrels.setdefault(parts[0], []).append(parts[1])
    questions = []
    for line in (folder / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            qid = str(row["_id"])
            questions.append(Question(qid, str(row["text"]), relevant=tuple(qrels.get(qid, ()))))
    return questions


def sample_distractors(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` article files of ``folder``: its sorted ``*.txt``/``*.md`` list shuffled with ``seed``."""
    if not folder.is_dir():
        raise QuestionSetError(f"distractors folder not found: {folder.absolute()}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if n > len(files):
        raise QuestionSetError(f"{folder} holds {len(files)} articles, fewer than the {n} asked for")
    random.Random(seed).shuffle(files)
    return files[:n]


def eval_corpus(target: Path, articles: Path, distractors: list[Path]) -> Path:
    """``target`` holding copies of the ``articles`` folder's files and of ``distractors`` (as
    ``zz-distractor-<name>``), and nothing else; unchanged files are left alone so a rerun's index is
    up to date at once."""
    wanted: dict[str, Path] = {p.name: p for p in sorted(articles.iterdir()) if p.is_file()}
    for path in distractors:
        wanted[f"{DISTRACTOR_PREFIX}{path.name}"] = path
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name, source in wanted.items():
        copy = target / name
        if not copy.is_file() or copy.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, copy)
    return target


def corpus_key(*parts: object) -> str:
    """A short stable name for an evaluation corpus (its cached index lives under it)."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def beir_corpus(folder: Path, target: Path) -> Path:
    """Write a BEIR ``corpus.jsonl`` out as one article file per document (title line, then text)."""
    target.mkdir(parents=True, exist_ok=True)
    for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            doc_id = str(row["_id"])
            if "/" in doc_id or doc_id.startswith("."):
                raise QuestionSetError(f"BEIR document id {doc_id!r} cannot be a file name")
            title = str(row.get("title") or doc_id)
            (target / f"{doc_id}.txt").write_text(f"{title}\n\n{row.get('text', '')}\n", encoding="utf-8")
    return target


def eval_cache_dir(settings: Settings) -> Path:
    """Where evaluation corpora, their indexes and the baseline's vectors are kept."""
    if settings.eval_cache is not None:
        return settings.eval_cache
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vnqa")) / "eval"


def prepare_eval(
    settings: Settings, question_set: QuestionSet, distractors: Path | None, n: int, seed: int
) -> Settings:
    """Settings whose articles and index are those ``question_set`` is asked against.

    A set that brings its own articles, or a request for distractors, gets a folder of its own in the
    evaluation cache (articles copied in, index beside them), so a rerun finds it built; otherwise the
    settings are returned unchanged.
    """
    picked = sample_distractors(distractors, n, seed) if distractors is not None and n else []
    if question_set.corpus is None and question_set.beir is None and not picked:
        return settings
    source = question_set.corpus or question_set.beir or settings.seeds_dir
    root = eval_cache_dir(settings) / corpus_key(
        source.absolute(), distractors and distractors.absolute(), n, seed
    )
    if question_set.beir is not None:
        source = beir_corpus(question_set.beir, root / "beir")
    if not source.is_dir():
        raise QuestionSetError(f"articles folder not found: {source.absolute()}")
    articles = eval_corpus(root / "articles", source, picked)
    return settings.model_copy(update={"seeds_dir": articles, "index_dir": root / "index"})
