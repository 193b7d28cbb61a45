"""Training pairs from SQuAD-format files (``{"data": [{"title", "paragraphs": [{"context", "qas"}]}]}``),
for the reader's first stage (qa/eval/reader_training.py).

Each answerable question is read against the sentence of its paragraph holding the first gold answer (the
span labelled) and the paragraph's ``NEGATIVES`` other sentences most like it ("no answer"); an
unanswerable one (SQuAD 2.0's ``is_impossible``) against its ``NEGATIVES`` + 1 most alike sentences.

XQuAD is a translation of 48 articles of SQuAD v1.1's dev set: any article whose title is one of them,
or one of the question set's own articles, is dropped (``excluded``), whatever file it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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


def squad_pairs(paths: Iterable[Path], excluded: Sequence[str] = ()) -> tuple[list[Pair], list[str]]:
    """The pairs of every question in the SQuAD files at ``paths`` (a question id seen twice is read
    once), and the titles dropped as XQuAD's or ``excluded``."""
    banned = {_key(t) for t in SQUAD_DEV_TITLES} | {_key(t) for t in excluded}
    seen: set[str] = set()
    dropped: list[str] = []
    pairs: list[Pair] = []
    for path in paths:
        for article in _articles(path.read_text(encoding="utf-8")):
            title = str(article.get("title", ""))
            if _key(title) in banned:
                dropped.append(title)
                continue
            for paragraph in article["paragraphs"]:
                context = str(paragraph["context"])
                spans = list(sentence_spans(context))
                for qa in paragraph["qas"]:
                    if qa["id"] in seen:
                        continue
                    seen.add(qa["id"])
                    pairs += _question_pairs(f"squad:{title}", context, spans, qa)
    return pairs, dropped


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
