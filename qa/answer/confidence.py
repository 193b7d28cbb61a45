"""How sure vnqa is that the articles answer a question: a calibrated probability, and "not found".

Seven signals of one ranking go into a logistic model per way of writing (English, Vietnamese, Vietnamese
without diacritics): the best article sentence's cosine and its margin over off-topic reference texts,
the best passage's dense score and its lead over the best passage of another article, how much of the
question's rare words (IDF-weighted; for English only names, numbers and foreign words) and syllable pairs
the best passage holds, and its lead in the fused (dense and BM25) score times that share of rare words
(not for English, whose rare words are only names, numbers and foreign words: see bench/abstention.py).
The coefficients were fitted by ``python bench/abstention.py`` on xquad-vi-dev, each question asked once
against the full corpus (answerable) and once without its own article (the right reply is "not found"),
alone and among 300 and 2,000 news articles; they hold for the packaged e5 model only. The probability is
what the interface shows; under the language's threshold (at most 5% false "not found" on each of those
corpora) the answer is "not found". With the learned reader on, an eighth signal joins them: the reader's
margin (best span over "no answer") in the evidence sentence, in models fitted the same way with each
question read by the reader trained without its article (``READ_MODELS``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..embed import e5_id
from ..index.model import Index
from ..lang.patterns import holds_name, vietnamese_names
from ..lang.query import analyse
from ..lang.text import Language, english_terms, syllable_bigrams, syllables
from ..search.hybrid import Ranking
from ..store import idf_share
from ..types import Hit, Span

FEATURES = ("margin", "sentence", "dense", "lead", "ahead", "words", "pairs")
# with the learned reader on: and its margin (span over "no answer") in the evidence sentence
READ_FEATURES = (*FEATURES, "read")
# the probability shown when the answer's article lacks a name the question gives (:func:`names_held`)
UNNAMED = 0.05
LEAD_POOL = 64  # the best passage of another article is looked for among this many best by dense


@dataclass(frozen=True, slots=True)
class Model:
    """A logistic model over the signals ``names`` and the probability under which to answer "not
    found"."""

    intercept: float
    weights: tuple[float, ...]
    threshold: float
    names: tuple[str, ...] = FEATURES

    def probability(self, features: dict[str, float]) -> float:
        z = self.intercept + sum(w * features[name] for w, name in zip(self.weights, self.names, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


# Fitted by bench/abstention.py (see the module docstring); rerun it after changing retrieval.
MODELS: dict[Language, Model] = {
    "en": Model(-32.4333, (20.379, -24.7024, 63.4332, 85.2976, 0.0, 1.0138, 2.5064), 0.1383),
    "vi": Model(-57.8222, (-1.6491, 74.8534, -14.5056, 60.6611, 14.2398, 2.164, 6.5329), 0.38),
    "vi-folded": Model(-62.3739, (-17.3193, 36.8386, 29.3947, 59.8671, 17.2039, 3.3453, 7.8046), 0.2301),
}

# The same with the reader's margin, each dev question read by the fold model that never saw its article
# (bench/abstention.py --reader-folds); they hold for the packaged reader weights (refitted with them).
# Vietnamese: leave-out recall with 2,000 news .926 -> .929 at the same 5% false "not found", and the
# reading is the one that marks the span. Without diacritics, the question read with them restored from its
# passages (qa/answer/reading.py ``read_as``): .869 -> .880 (read as typed it lost). English gained there
# too (.346 -> .425, read with its translations) but lost on the seed questions, whose false "not found"
# rose from .265 to .347 (as with the weights before, .360 -> .408 and the same .347).
READ_MODELS: dict[Language, Model] = {
    "vi": Model(
        -54.279, (-1.8238, 71.4161, -14.8786, 60.004, 14.3642, 2.1329, 6.2298, 0.0869), 0.3495, READ_FEATURES
    ),
    "vi-folded": Model(
        -62.1961, (-18.5699, 36.2524, 30.6382, 57.0438, 17.3836, 3.037, 7.1304, 0.1599), 0.253, READ_FEATURES
    ),
}


def features(index: Index, ranking: Ranking, best: Hit | None, question: str) -> dict[str, float]:
    """The signals of :data:`FEATURES` for one ranked question (``best``: its top passage)."""
    sentence = float(np.max(ranking.sentences)) if ranking.sentences.size else -1.0
    if best is None or not ranking.dense.size or not math.isfinite(sentence):
        return dict.fromkeys(FEATURES, 0.0) | {"margin": -1.0, "sentence": -1.0, "dense": -1.0}
    top = float(np.max(ranking.dense))
    passage = best.chunk.text
    store = index.store
    asked = analyse(question)
    terms = english_terms(question) if ranking.language == "en" else list(asked.syllables)
    pairs = list(asked.bigrams)
    found = set(pairs) & set(syllable_bigrams(passage))
    held = idf_share(store.size, terms, store.frequencies("syllables", terms), set(syllables(passage)))
    return {
        "margin": sentence - ranking.background,
        "sentence": sentence,
        "dense": top,
        "lead": _lead(index, ranking, ranking.dense, LEAD_POOL),
        # scaled scores make any best passage lead; the lead counts as far as it holds the rare words
        # ("năm 2023" alone puts one passage far ahead for any question about 2023)
        "ahead": _lead(index, ranking, ranking.fused, len(ranking.fused)) * held,
        "words": held,
        "pairs": sum(p in found for p in pairs) / len(pairs) if pairs else 0.0,
    }


# Other embedders (a custom model, the tests' fake) have no fitted model: only the margin over the
# background texts counts, "not found" under -0.015 (the rule tuned on the seed questions before).
MARGIN_ONLY = Model(1.5, (100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), 0.5)


def _lead(index: Index, ranking: Ranking, scores: npt.NDArray[np.float32], pool: int) -> float:
    """How far the best of the ``pool`` best candidate passages by ``scores`` leads the best of them from
    another article (or the lowest of them, when they all come from one article)."""
    pool = min(pool, len(scores))
    best = np.argpartition(-scores, pool - 1)[:pool]
    best = best[np.argsort(-scores[best])]
    first = index.chunks[int(ranking.rows[best[0]])].doc_id
    elsewhere = next((at for at in best[1:] if index.chunks[int(ranking.rows[at])].doc_id != first), best[-1])
    return float(scores[best[0]]) - float(scores[elsewhere])


def reads(index: Index, language: Language) -> bool:
    """Whether the reader's margin counts in the confidence of a question in ``language`` over ``index``
    (its embedder has fitted models)."""
    return language in READ_MODELS and index.embedder_id == e5_id()


def confidence(
    index: Index,
    ranking: Ranking,
    best: Hit | None,
    question: str,
    threshold: float | None = None,
    read: float | None = None,
    evidence: tuple[str, Span | None] | None = None,
) -> tuple[float, bool]:
    """(probability that the articles answer ``question``, whether it reaches ``threshold``, by default
    the one of the question's language). ``read``: the reader's margin in the evidence sentence, when
    the reader is on (:data:`READ_MODELS`). ``evidence``: the question as asked and its evidence sentence,
    whose article must write the names the question gives (:func:`names_held`)."""
    signals = features(index, ranking, best, question)
    if index.embedder_id != e5_id():
        model = MARGIN_ONLY
    elif read is None or ranking.language not in READ_MODELS:
        model = MODELS[ranking.language]
    else:
        model, signals["read"] = READ_MODELS[ranking.language], read
    p = model.probability(signals)
    asked, sentence = evidence or (question, None)
    if sentence is not None and not names_held(index, asked, sentence.doc_id):
        return min(p, UNNAMED), False
    return p, p >= (model.threshold if threshold is None else threshold)


def names_held(index: Index, question: str, doc_id: str) -> bool:
    """Whether the article ``doc_id`` writes every name ``question`` gives in Vietnamese syllables
    (:func:`qa.lang.patterns.vietnamese_names`). An article about Hà Nội does not answer "How many staff
    positions did Ho Chi Minh City cut?", however alike the rest of the question is (the model above gave
    that .92)."""
    names = vietnamese_names(question, english=analyse(question).english_question)
    return all(holds_name(index.documents[doc_id].text, name) for name in names)
