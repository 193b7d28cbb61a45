"""Question -> ranked chunks: dense (FAISS), lexical (BM25) and their fusion.

Lexical evidence is Vietnamese-aware: BM25 over pyvi word segments (``hội_nghị``) and over
diacritic-folded syllables (``hoi``, ``nghi``), so questions typed without diacritics still match.

Fusion depends on how the question is written (:func:`qa.text.question_language`):

* English: dense decides; BM25 sees only names, numbers and words that cannot be Vietnamese syllables
  (folded English function words such as "the" would match thể/thế everywhere);
* Vietnamese with diacritics: dense and BM25 (syllables and words) share the score;
* Vietnamese without diacritics: BM25 over folded syllables leads, and the dense side embeds the question
  with its diacritics restored, which e5 reads far better than the folded text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache, partial
from typing import Any

import faiss
import numpy as np

from ..config import Retriever as RetrieverName
from ..config import Settings
from ..embed import Embedder, Vectors
from ..index.model import Index
from ..lang.bilingual import with_translations
from ..lang.query import analyse
from ..lang.text import (
    Language,
    restore_diacritics,
    words,
)
from ..store import coverage as store_coverage
from ..store.folder import stored_vectors
from ..types import Hit, Rows, Scores
from . import crosslingual

# The setting holding the share of the fused score taken by BM25, by how the question is written.
_FIELDS: tuple[tuple[Language, str], ...] = (("en", "en"), ("vi", "vi"), ("vi-folded", "folded"))


def lexical_weights(settings: Settings) -> dict[Language, float]:
    """The BM25 share of each way of writing a question, from ``settings`` (see the README's sweep)."""
    return {language: float(getattr(settings, f"lexical_weight_{name}")) for language, name in _FIELDS}


DEFAULT_WEIGHTS: dict[Language, float] = {
    language: float(Settings.model_fields[f"lexical_weight_{name}"].default) for language, name in _FIELDS
}


# Candidates each retriever contributes; fusion and sentence scoring see only their union. On
# xquad-vi-dev with 2,000 news articles around it, see the README's table for how the counts were chosen.
DENSE_CANDIDATES = 100  # chunks nearest to the question
SENTENCE_CANDIDATES = 100  # sentences nearest to the question: their chunks join
LEXICAL_CANDIDATES = 50  # chunks best by each BM25 model


@cache
def _searches() -> ThreadPoolExecutor:
    """Threads for a question's searches in a database (each thread keeps its own connection): up to five
    at once (the scores of the candidates: two kinds of cosines and up to three lexical models)."""
    return ThreadPoolExecutor(max_workers=5, thread_name_prefix="vnqa-search")


@dataclass(frozen=True, slots=True)
class Ranking:
    """Scores for one question over its candidate chunks: ``rows`` are their chunk ids (ascending) and
    ``dense``, ``lexical``, ``fused`` their scores; ``sentence_rows`` are the sentences of those chunks,
    ``sentences`` their cosines and ``answer_sentences`` the cosines the answer step reads (an English
    question's moved toward Vietnamese, see :mod:`qa.crosslingual`); then the best cosine to the
    off-topic background texts, the lexical coverage of the question, and how the question is written."""

    rows: Rows
    dense: Scores
    lexical: Scores
    fused: Scores
    sentence_rows: Rows
    sentences: Scores
    answer_sentences: Scores
    background: float
    coverage: float
    language: Language

    def sentence(self, row: int) -> float:
        """The answer step's cosine of sentence ``row`` (which must belong to a candidate chunk)."""
        at = int(np.searchsorted(self.sentence_rows, row))
        if at >= len(self.sentence_rows) or self.sentence_rows[at] != row:
            raise KeyError(row)
        return float(self.answer_sentences[at])


class HybridRetriever:
    """Ranks the chunks of one loaded :class:`Index` for a question."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        lexical_weights: Mapping[Language, float] | None = None,
        sentence_weight: float = 0.5,
        english_shift: float = float(Settings.model_fields["english_shift"].default),
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical_weights = {**DEFAULT_WEIGHTS, **(lexical_weights or {})}
        self.sentence_weight = sentence_weight
        self.english_shift = english_shift
        self._shift = crosslingual.english_shift(embedder.id)
        self._ranges = index.chunk_sentences
        self._store = index.store

    def rank(self, question: str, exclude: Collection[str] = (), also: Collection[str] = ()) -> Ranking:
        """Scores of the question's candidate chunks and of their sentences.

        The candidates are the chunks nearest by dense search, the chunks of the nearest sentences, the
        best chunks of each BM25 model, and every chunk of the documents in ``also``. A chunk's dense
        score mixes its own cosine with that of its best sentence (a focused sentence match is strong
        evidence even inside a long chunk); lexical is BM25 scaled to [0, 1]. The documents in
        ``exclude`` are left out as if they were not indexed (evaluation asks questions without their
        own article this way).
        """
        store = self._store
        asked = analyse(question)
        language = asked.language
        chunks_out = self._rows_of(exclude)
        skip = len(chunks_out)  # searched beyond k by what is left out, so k remain
        sentences_out = int(np.sum(self._ranges.stops[chunks_out] - self._ranges.starts[chunks_out]))

        folded = list(asked.syllables)
        # English words folded like Vietnamese match noise ("the" -> thể); keep names, numbers, terms,
        # and add the dictionary's Vietnamese for the other content words
        queries = {"syllables": list(asked.english) if language == "en" else folded}
        if language != "en":
            queries["bigrams"] = list(asked.bigrams)
        if language == "vi":
            queries["words"] = words(question)
        # coverage's document frequencies (and the confidence's, which a database store keeps) and the
        # lexical searches need no vector: in a database they run while the question is embedded, one
        # after another, so the server takes one core and leaves the other to the model (side by side
        # they slowed it: at 35,440 articles, mean of six runs, p50 60 -> 56 ms, p99 103 -> 85)
        counted = {"syllables": folded + queries["syllables"]}
        if language == "vi":
            counted["words"] = queries["words"]
        early = self._begin(
            lambda: (
                {m: store.frequencies(m, t) for m, t in counted.items()},
                [store.lexical_top(m, t, LEXICAL_CANDIDATES + skip) for m, t in queries.items()],
            )
        )
        # e5 reads Vietnamese typed without diacritics poorly; it reads a restored guess far better
        dense_text = restore_diacritics(question) if language == "vi-folded" else question
        query = self.embedder.embed_query(dense_text)
        moved = self._answer_vector(question, query) if language == "en" else query
        background = _cosines(self.index.background_vectors, query.reshape(1, -1))
        near_chunks, near_sentences = self._all(
            partial(store.nearest, "chunks", query, DENSE_CANDIDATES + skip),
            partial(store.nearest, "sentences", query, SENTENCE_CANDIDATES + sentences_out),
        )
        ((df, lexical_top),) = early()
        coverage = store_coverage(store.size, folded, df["syllables"])
        if language == "vi":
            coverage = (coverage + store_coverage(store.size, queries["words"], df["words"])) / 2
        found = [near_chunks, self._ranges.chunks_of(near_sentences), self._rows_of(also), *lexical_top]
        rows = np.unique(np.concatenate(found))
        rows = rows[~np.isin(rows, chunks_out)]
        sentence_rows, starts = self._ranges.rows_of(rows)
        chunk_cos, sentence_cos, answer_cos, *lexical_scores = self._all(
            partial(store.cosines, "chunks", rows, query),
            partial(store.cosines, "sentences", sentence_rows, query),
            partial(
                store.cosines, "sentences", sentence_rows if moved is not query else sentence_rows[:0], moved
            ),
            *(partial(store.lexical_scores, m, t, rows) for m, t in queries.items()),
        )
        if moved is query:
            answer_cos = sentence_cos
        # each model's scores scaled by its best candidate, which is its best chunk outside ``exclude``
        lexical = np.mean([_unit(scores) for scores in lexical_scores], axis=0).astype(np.float32)
        best_sentence = self._ranges.best_local(sentence_cos, starts, len(rows))
        dense = ((1 - self.sentence_weight) * chunk_cos + self.sentence_weight * best_sentence).astype(
            np.float32
        )
        weight = self.lexical_weights[language]
        fused = ((1 - weight) * _unit(dense, min_max=True) + weight * lexical).astype(np.float32)
        order = np.argsort(sentence_rows, kind="stable")
        return Ranking(
            rows=rows,
            dense=dense,
            lexical=lexical,
            fused=fused,
            sentence_rows=sentence_rows[order],
            sentences=sentence_cos[order],
            answer_sentences=answer_cos[order],
            background=float(background.max()) if background.size else -1.0,
            coverage=coverage,
            language=language,
        )

    def _answer_vector(self, question: str, query: Vectors) -> Vectors:
        """The vector the answer step reads an English question's sentences with, as a Vietnamese question
        would see them: the question's with the Vietnamese translations of its words appended, moved
        ``english_shift`` times the dictionary's direction further (qa/crosslingual.py; none by default).
        The search keeps ``query``: the move favours all-Vietnamese passages (with 2,000 news articles
        around xquad-vi-dev English doc hit@1 fell .891 -> .878 moved), and so did the translations (.959
        -> .945 on xquad-vi-dev alone)."""
        mixed = with_translations(question)
        read = self.embedder.embed_query(mixed) if mixed != question else query
        return crosslingual.shifted(read, self._shift, self.english_shift)

    def _all(self, *searches: Callable[[], Any]) -> list[Any]:
        """The results of ``searches``, issued side by side where the store runs them elsewhere."""
        return self._begin(*searches)()

    def _begin(self, *searches: Callable[[], Any]) -> Callable[[], list[Any]]:
        """Start ``searches`` (side by side, in the background, where the store runs them elsewhere; else
        when their results are asked for); returns what gives their results."""
        if not self._store.concurrent:
            return lambda: [search() for search in searches]
        started = [_searches().submit(search) for search in searches]
        return lambda: [future.result() for future in started]

    def _rows_of(self, doc_ids: Collection[str]) -> Rows:
        """Chunk rows of the documents ``doc_ids`` (none of an article deleted or changed since its build)."""
        if not doc_ids:
            return np.zeros(0, np.int64)
        rows = self.index.chunks.rows_of(doc_ids)
        return rows[~np.isin(rows, self.index.hidden)] if len(self.index.hidden) else rows

    def prefer(self, ranking: Ranking, doc_ids: Collection[str], bonus: float) -> Ranking:
        """``ranking`` with ``bonus`` added to the fused score of the chunks of ``doc_ids``."""
        rows = np.isin(ranking.rows, self._rows_of(doc_ids))
        if not rows.any() or not bonus:
            return ranking
        fused = ranking.fused.copy()
        fused[rows] += bonus
        return replace(ranking, fused=fused)

    def search(self, question: str, k: int, method: RetrieverName = "hybrid") -> list[Hit]:
        """The ``k`` best chunks (fewer when the index is smaller), best first."""
        return self.hits(self.rank(question), k, method)

    def hits(self, ranking: Ranking, k: int, method: RetrieverName = "hybrid") -> list[Hit]:
        """Top ``k`` of a :class:`Ranking` by the chosen score, best first; ties keep index order."""
        scores = {"dense": ranking.dense, "lexical": ranking.lexical, "hybrid": ranking.fused}[method]
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(
                chunk=self.index.chunks[int(ranking.rows[i])],
                score=float(scores[i]),
                dense=float(ranking.dense[i]),
                lexical=float(ranking.lexical[i]),
            )
            for i in order
        ]


def _cosines(vectors: faiss.Index, query: Vectors) -> Scores:
    """Inner product of ``query`` (shape ``(1, dim)``) with every stored row, in row order."""
    return np.asarray(stored_vectors(vectors) @ query[0], dtype=np.float32)


def _unit(scores: Scores, min_max: bool = False) -> Scores:
    """Scale scores into [0, 1]: by the maximum, or min-max; all-equal scores become 0."""
    if scores.size == 0:
        return scores
    low = float(scores.min()) if min_max else 0.0
    span = float(scores.max()) - low
    if span <= 0:
        return np.zeros_like(scores)
    return ((scores - low) / span).astype(np.float32)
