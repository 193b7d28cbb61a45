"""Conversations as an evaluation set: each turn asked with and without the turns before it.

A dialogue file is JSONL, one dialogue per line::

    {"id": "d01", "turns": [{"question": "...", "lang": "en", "doc": "002_...", "answers": ["..."]}, ...]}

A turn is right when its expected article is the first source and, if it lists answers, one of them is
in the answer sentence; the article alone is reported too. Each turn is asked once alone and once with
the earlier turns as the client would send them (question, answer, cited articles, short answer).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..search.conversation import Turn
from ..types import Answer
from .metrics import contains
from .questionsets import QuestionSetError


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    question: str
    lang: str
    doc: str
    answers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dialogue:
    did: str
    turns: tuple[DialogueTurn, ...]


def is_dialogue_file(path: Path) -> bool:
    """Whether ``path`` is a JSONL file whose first record holds ``turns``."""
    if not path.is_file():
        return False
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                try:
                    return "turns" in json.loads(line)
                except ValueError:
                    return False
    return False


def read_dialogues(path: Path) -> list[Dialogue]:
    """The dialogues of a JSONL file; :class:`QuestionSetError` names the line of a malformed one."""
    dialogues = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            turns = tuple(
                DialogueTurn(str(t["question"]), str(t["lang"]), str(t["doc"]), tuple(t.get("answers", ())))
                for t in row["turns"]
            )
            dialogues.append(Dialogue(str(row["id"]), turns))
        except (ValueError, KeyError, TypeError) as exc:
            raise QuestionSetError(f"{path}:{number}: not a dialogue ({exc})") from None
    if not dialogues:
        raise QuestionSetError(f"{path} holds no dialogues")
    return dialogues


def evaluate_dialogues(engine: Engine, dialogues: Sequence[Dialogue]) -> dict[str, Any]:
    """Turn accuracy with and without the conversation: overall, for follow-up turns (the second and
    later), per language; and each turn's outcome."""
    rows: list[dict[str, Any]] = []
    for dialogue in dialogues:
        history: list[Turn] = []
        for position, turn in enumerate(dialogue.turns):
            alone = engine.ask(turn.question)
            read = engine.ask(turn.question, history=history)
            rows.append(
                {
                    "id": f"{dialogue.did}.{position + 1}",
                    "lang": turn.lang,
                    "follow_up": position > 0,
                    "question": turn.question,
                    "expected": turn.doc,
                    "alone": _right(alone, turn),
                    "in_context": _right(read, turn),
                    "article_alone": _first(alone) == turn.doc,
                    "article_in_context": _first(read) == turn.doc,
                    "got": _first(read),
                    "answer": read.answer,
                }
            )
            history.append(as_turn(read))
    languages = sorted({str(r["lang"]) for r in rows})
    return {
        "turns": len(rows),
        "dialogues": len(dialogues),
        "accuracy": _accuracy(rows),
        "follow_ups": _accuracy([r for r in rows if r["follow_up"]]),
        "by_language": {lang: _accuracy([r for r in rows if r["lang"] == lang]) for lang in languages},
        "rows": rows,
    }


def as_turn(answer: Answer) -> Turn:
    """The turn a client sends back after getting ``answer``."""
    return Turn(
        question=answer.question,
        answer=answer.answer,
        doc_ids=tuple(dict.fromkeys(s.doc_id for s in answer.sources)),
        short_answer=answer.short_answer.text if answer.short_answer else None,
    )


def dialogue_table(report: dict[str, Any]) -> str:
    """Markdown table of turn accuracy alone / in context, for all turns, follow-ups and each language:
    the right article first, and the right article first with the answer in the answer sentence."""
    lines = [
        "| turns | n | article alone | article in context | answer alone | answer in context |",
        "|---|---|---|---|---|---|",
    ]
    groups = [("all", report["accuracy"]), ("follow-ups", report["follow_ups"])]
    groups += [(lang, acc) for lang, acc in report["by_language"].items()]
    for name, acc in groups:
        lines.append(
            f"| {name} | {acc['n']} | {acc['article_alone']:.3f} | {acc['article_in_context']:.3f} | "
            f"{acc['alone']:.3f} | {acc['in_context']:.3f} |"
        )
    return "\n".join(lines)


def _first(answer: Answer) -> str | None:
    return answer.sources[0].doc_id if answer.sources else None


def _right(answer: Answer, turn: DialogueTurn) -> bool:
    if _first(answer) != turn.doc:
        return False
    return not turn.answers or (answer.answerable and contains(answer.answer, turn.answers))


def _accuracy(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    keys = ("alone", "in_context", "article_alone", "article_in_context")
    return {"n": n, **{k: round(sum(r[k] for r in rows) / n, 4) if n else 0.0 for k in keys}}


def dialogue_text(report: dict[str, Any], folder: Path, seconds: float) -> str:
    """``qa eval DIALOGUES.jsonl``'s printout: the table and the turns wrong in context."""
    lines = [
        f"{report['dialogues']} dialogues, {report['turns']} turns over {folder}\n",
        dialogue_table(report),
    ]
    wrong = [r for r in report["rows"] if not r["in_context"]]
    lines.append(f"\n{len(wrong)} turns wrong in context:")
    for row in wrong:
        lines.append(f"- {row['id']} [{row['lang']}] {row['question']}")
        lines.append(
            f"    expected {row['expected']}, got {row['got']}: {textwrap.shorten(row['answer'], 120)}"
        )
    lines.append(f"\n{report['turns']} turns in {seconds:.1f} s")
    return "\n".join(lines)
