"""Training pairs from SQuAD-format files (``{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}``),
or from a folder of the SQuAD explorer's article pages (``explore/1.1/train/*.html`` of
github.com/rajpurkar/SQuAD-explorer, the same questions and answers as ``train-v1.1.json``), for the
reader's first stage (qa/eval/reader_training.py).

Each answerable question is read against the sentence of its paragraph holding the first gold answer (the
span labelled) and the paragraph's ``NEGATIVES`` other sentences most like it ("no answer"); an
unanswerable one (SQuAD 2.0's ``is_impossible``) against its ``NEGATIVES`` + 1 most alike sentences.

XQuAD is a translation of 48 articles of SQuAD v1.1's dev set: any article whose title is one of them,
or one of the question set's own articles, is dropped (``excluded``), whatever file it comes from.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..errors import CorpusError
from ..lang.text import nfc, sentence_spans, syllables
from .pairs import Pair

NEGATIVES = 2
LANG = "squad"  # the pairs' language tag: never held out, never in the validation table

# The 48 Wikipedia articles of SQuAD v1.1's dev set, which XQuAD translates.
SQUAD_DEV_TITLES = frozenset(
    [
        "Super_Bowl_50",
        "Warsaw",
        "Normans",
        "Nikola_Tesla",
        "Computational_complexity_theory",
        "Teacher",
        "Martin_Luther",
        "Southern_California",
        "Sky_(United_Kingdom)",
        "Victoria_(Australia)",
        "Huguenot",
        "Steam_engine",
        "Oxygen",
        "1973_oil_crisis",
        "Apollo_program",
        "European_Union_law",
        "Amazon_rainforest",
        "Ctenophora",
        "Fresno,_California",
        "Packet_switching",
        "Black_Death",
        "Geology",
        "Newcastle_upon_Tyne",
        "Victoria_and_Albert_Museum",
        "American_Broadcasting_Company",
        "Genghis_Khan",
        "Pharmacy",
        "Immune_system",
        "Civil_disobedience",
        "Construction",
        "Private_school",
        "Harvard_University",
        "Jacksonville,_Florida",
        "Economic_inequality",
        "Doctor_Who",
        "University_of_Chicago",
        "Yuan_dynasty",
        "Kenya",
        "Intergovernmental_Panel_on_Climate_Change",
        "Chloroplast",
        "Prime_number",
        "Rhine",
        "Scottish_Parliament",
        "Islamism",
        "Imperialism",
        "United_Methodist_Church",
        "French_and_Indian_War",
        "Force",
    ]
)


def _key(title: str) -> str:
    return nfc(title).replace(" ", "_").casefold()


def squad_pairs(
    paths: Iterable[Path], excluded: Sequence[str] = (), questions: int | None = None, seed: int = 13
) -> tuple[list[Pair], list[str]]:
    """The pairs of every question in the SQuAD files or explorer folders at ``paths`` (a question id
    seen twice is read once), or of ``questions`` of them drawn at random with ``seed``, and the titles
    dropped as XQuAD's or ``excluded``."""
    banned = {_key(t) for t in SQUAD_DEV_TITLES} | {_key(t) for t in excluded}
    seen: set[str] = set()
    dropped: list[str] = []
    asked: list[tuple[str, str, dict[str, Any]]] = []
    for path in paths:
        for article in _read(path):
            title = str(article.get("title", ""))
            if _key(title) in banned:
                dropped.append(title)
                continue
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    if qa["id"] not in seen:
                        seen.add(qa["id"])
                        asked.append((title, str(paragraph["context"]), qa))
    if questions is not None and questions < len(asked):
        drawn = sorted(random.Random(seed).sample(range(len(asked)), questions))
        asked = [asked[i] for i in drawn]
    pairs: list[Pair] = []
    spans: dict[str, list[tuple[int, int]]] = {}  # a paragraph's sentences, split once for its questions
    for title, context, qa in asked:
        if context not in spans:
            spans[context] = list(sentence_spans(context))
        pairs += _question_pairs(f"squad:{title}", context, spans[context], qa)
    return pairs, dropped


def _read(path: Path) -> list[dict[str, Any]]:
    """The articles of a SQuAD file or a folder of explorer pages; none is an error (a wrong path)."""
    if path.is_dir():
        articles = _explorer_articles(path)
    else:
        articles = _articles(path.read_text("utf-8", errors="replace"))
    if not articles:
        raise CorpusError(
            f"{path} holds no SQuAD article: give a SQuAD-format JSON file (train-v1.1.json) or a "
            "folder of the SQuAD explorer's article pages (explore/1.1/train)"
        )
    return articles


def _articles(text: str) -> list[dict[str, Any]]:
    """The articles of a SQuAD file; of a file cut short (a partial download), the complete ones."""
    try:
        return list(json.loads(text)["data"])
    except json.JSONDecodeError:
        pass
    decoder, articles = json.JSONDecoder(), []
    at = text.find("[", text.find('"data"')) + 1
    while at > 0:
        while at < len(text) and text[at] in " \t\r\n,":
            at += 1
        try:
            article, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            break
        articles.append(article)
    return articles


class _ExplorerPage(HTMLParser):
    """One article page of the SQuAD explorer: its title, and each paragraph (``<pre>``) with its
    questions (``strong.question``) and their answers (``span.answer``)."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.paragraphs: list[dict[str, Any]] = []
        self._into: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        kind = named.get("class") or named.get("id")
        if tag == "pre" or (tag, kind) in {("h1", "title"), ("strong", "question"), ("span", "answer")}:
            self._into, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._into:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._into:
            return
        text, self._into = "".join(self._text).strip(), None
        if tag == "h1":
            self.title = text
        elif tag == "pre":
            self.paragraphs.append({"context": text, "qas": []})
        elif tag == "strong" and self.paragraphs:
            qas = self.paragraphs[-1]["qas"]
            qid = f"{self.title}/{len(self.paragraphs)}/{len(qas)}"
            qas.append({"id": qid, "question": text, "answers": []})
        elif tag == "span" and self.paragraphs and self.paragraphs[-1]["qas"]:
            start = self.paragraphs[-1]["context"].find(text)
            if start >= 0:  # the page gives no offset: the answer's first place in the paragraph
                self.paragraphs[-1]["qas"][-1]["answers"].append({"text": text, "answer_start": start})


def _explorer_articles(folder: Path) -> list[dict[str, Any]]:
    """The articles of a folder of SQuAD explorer pages, in file name order."""
    articles = []
    for page in sorted(folder.glob("*.html")):
        parser = _ExplorerPage()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        if parser.paragraphs:
            articles.append({"title": parser.title or page.stem, "paragraphs": parser.paragraphs})
    return articles


def _question_pairs(
    article: str, context: str, spans: list[tuple[int, int]], qa: dict[str, Any]
) -> list[Pair]:
    """One question's pairs: the sentence holding its answer (if any) and the most alike others."""
    question = str(qa["question"])
    answers = [a for a in qa.get("answers", []) if a.get("text")]
    base = dict(qid=str(qa["id"]), lang=LANG, article=article, question=question)
    gold = tuple(str(a["text"]) for a in answers)
    found = None
    if answers and not qa.get("is_impossible"):
        start = int(answers[0]["answer_start"])
        end = start + len(answers[0]["text"])
        found = next((i for i, (a, b) in enumerate(spans) if a <= start and end <= b), None)
        if found is None:  # an answer across a sentence break: not a clean example
            return []
    asked = set(syllables(question))
    others = sorted(
        (i for i in range(len(spans)) if i != found),
        key=lambda i: (-len(asked & set(syllables(context[spans[i][0] : spans[i][1]]))), i),
    )
    out: list[Pair] = []
    if found is not None:
        a, b = spans[found]
        out.append(Pair(**base, sentence=context[a:b], span=(start - a, end - a), answers=gold))
    for i in others[: NEGATIVES + (found is None)]:
        a, b = spans[i]
        out.append(Pair(**base, sentence=context[a:b], span=None, answers=gold))
    return out
