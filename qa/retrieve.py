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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import faiss
import numpy as np
import numpy.typing as npt

from .config import Retriever as RetrieverName
from .config import Settings
from .embedding import Embedder, Vectors
from .index import Index
from .text import (
    Language,
    english_terms,
    question_language,
    restore_diacritics,
    syllable_bigrams,
    syllables,
    words,
)
from .types import Hit

Scores = npt.NDArray[np.float32]
# The setting holding the share of the fused score taken by BM25, by how the question is written.
_FIELDS: tuple[tuple[Language, str], ...] = (("en", "en"), ("vi", "vi"), ("vi-folded", "folded"))


def lexical_weights(settings: Settings) -> dict[Language, float]:
    """The BM25 share of each way of writing a question, from ``settings`` (see the README's sweep)."""
    return {language: float(getattr(settings, f"lexical_weight_{name}")) for language, name in _FIELDS}


DEFAULT_WEIGHTS: dict[Language, float] = {
    language: float(Settings.model_fields[f"lexical_weight_{name}"].default) for language, name in _FIELDS
}


@dataclass(frozen=True, slots=True)
class Ranking:
    """Scores for one question: per chunk (row i is chunk i), per sentence (row j is sentence j), the
    best cosine to the off-topic background texts, the lexical coverage of the question, and how the
    question is written."""

    dense: Scores
    lexical: Scores
    fused: Scores
    sentences: Scores
    background: float
    coverage: float
    language: Language


class HybridRetriever:
    """Ranks the chunks of one loaded :class:`Index` for a question."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        lexical_weights: Mapping[Language, float] | None = None,
        sentence_weight: float = 0.5,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical_weights = {**DEFAULT_WEIGHTS, **(lexical_weights or {})}
        self.sentence_weight = sentence_weight
        self._ranges = SentenceRanges.of(index.chunk_sentences)
        self._syllables = index.lexical["syllables"]
        self._bigrams = index.lexical["bigrams"]
        self._words = index.lexical["words"]

    def rank(self, question: str, exclude: Collection[str] = ()) -> Ranking:
        """Scores of every chunk and sentence.

        A chunk's dense score mixes its own cosine with that of its best sentence (a focused sentence
        match is strong evidence even inside a long chunk); lexical is BM25 scaled to [0, 1]. The chunks
        and sentences of the documents in ``exclude`` score -inf, as if they were not indexed
        (evaluation asks questions without their own article this way).
        """
        language = question_language(question)
        # e5 reads Vietnamese typed without diacritics poorly; it reads a restored guess far better
        dense_text = restore_diacritics(question) if language == "vi-folded" else question
        query = self.embedder.embed_query(dense_text).reshape(1, -1)
        chunk_cos = _cosines(self.index.chunk_vectors, query)
        sentence_cos = _cosines(self.index.sentence_vectors, query)
        background = _cosines(self.index.background_vectors, query)
        chunks_out, sentences_out = self._rows_of(exclude)
        sentence_cos[sentences_out] = -1.0
        best_sentence = self._ranges.best(sentence_cos).reshape(chunk_cos.shape)
        dense = (1 - self.sentence_weight) * chunk_cos + self.sentence_weight * best_sentence
        if len(chunks_out):
            kept = np.ones(len(dense), bool)
            kept[chunks_out] = False
            dense[chunks_out] = dense[kept].min() if kept.any() else 0.0

        folded = syllables(question)
        coverage = self._syllables.coverage(folded)
        # English words folded like Vietnamese match noise ("the" -> thể); keep names, numbers, terms
        terms = english_terms(question) if language == "en" else folded
        parts = [_unit(_without(self._syllables.scores(terms), chunks_out))]
        if language != "en":
            pairs = syllable_bigrams(question)
            parts.append(_unit(_without(self._bigrams.scores(pairs), chunks_out)))
        if language == "vi":
            segmented = words(question)
            parts.append(_unit(_without(self._words.scores(segmented), chunks_out)))
            coverage = (coverage + self._words.coverage(segmented)) / 2
        lexical: Scores = np.stack(parts).mean(axis=0).astype(np.float32)

        weight = self.lexical_weights[language]
        fused = ((1 - weight) * _unit(dense, min_max=True) + weight * lexical).astype(np.float32)
        for scores in (dense, lexical, fused):
            scores[chunks_out] = -np.inf
        sentence_cos[sentences_out] = -np.inf
        return Ranking(
            dense=dense,
            lexical=lexical,
            fused=fused,
            sentences=sentence_cos,
            background=float(background.max()) if background.size else -1.0,
            coverage=coverage,
            language=language,
        )

    def _rows_of(self, doc_ids: Collection[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Chunk rows and sentence rows of the documents ``doc_ids``."""
        if not doc_ids:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        wanted = set(doc_ids)
        chunks = [c.chunk_id for c in self.index.chunks if c.doc_id in wanted]
        sentences = [row for row, s in enumerate(self.index.sentences) if s.doc_id in wanted]
        return np.asarray(chunks, np.int64), np.asarray(sentences, np.int64)

    def prefer(self, ranking: Ranking, doc_ids: Collection[str], bonus: float) -> Ranking:
        """``ranking`` with ``bonus`` added to the fused score of the chunks of ``doc_ids``."""
        rows, _ = self._rows_of(doc_ids)
        if not len(rows) or not bonus:
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
        order = [i for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [
            Hit(
                chunk=self.index.chunks[i],
                score=float(scores[i]),
                dense=float(ranking.dense[i]),
                lexical=float(ranking.lexical[i]),
            )
            for i in order
        ]


@dataclass(frozen=True)
class SentenceRanges:
    """The sentence rows of every chunk, as arrays, to take each chunk's best sentence in one pass."""

    nonempty: npt.NDArray[np.bool_]
    bounds: npt.NDArray[np.int64]  # start, stop, start, stop, ... of the chunks that have sentences

    @classmethod
    def of(cls, ranges: Sequence[range]) -> SentenceRanges:
        nonempty = np.array([len(r) > 0 for r in ranges], dtype=bool)
        bounds = np.array([b for r in ranges if len(r) for b in (r.start, r.stop)], dtype=np.int64)
        return cls(nonempty, bounds)

    def best(self, scores: Scores) -> Scores:
        """Per chunk, the highest of ``scores`` over its sentences (0 for a chunk without any)."""
        out = np.zeros(len(self.nonempty), np.float32)
        if len(self.bounds):
            # reduceat over (start, stop) pairs; the odd results span the gaps and are dropped; a stop at
            # the very end points at the appended element, which only ever closes a pair
            padded = np.append(scores, np.float32(-np.inf))
            out[self.nonempty] = np.maximum.reduceat(padded, self.bounds)[0::2]
        return out


def _cosines(vectors: faiss.Index, query: Vectors) -> Scores:
    """Inner product of ``query`` (shape ``(1, dim)``) with every stored row, in row order.

    A flat index is read in place (a view of FAISS's own storage, no copy) and multiplied at once: a
    search for all rows would also sort them, which cost 25 ms a question at 106,000 sentences.
    """
    n = vectors.ntotal
    if not n:
        return np.zeros(0, np.float32)
    if isinstance(vectors, faiss.IndexFlat):
        stored = faiss.rev_swig_ptr(vectors.get_xb(), n * vectors.d).reshape(n, vectors.d)
        return np.asarray(stored @ query[0], dtype=np.float32)
    out = np.zeros(n, np.float32)
    scores, rows = vectors.search(query, n)
    valid = rows[0] >= 0  # FAISS pads missing results with -1
    out[rows[0][valid]] = scores[0][valid]
    return out


def _without(scores: Scores, rows: npt.NDArray[np.int64]) -> Scores:
    scores[rows] = 0.0
    return scores


def _unit(scores: Scores, min_max: bool = False) -> Scores:
    """Scale scores into [0, 1]: by the maximum, or min-max; all-equal scores become 0."""
    if scores.size == 0:
        return scores
    low = float(scores.min()) if min_max else 0.0
    span = float(scores.max()) - low
    if span <= 0:
        return np.zeros_like(scores)
    return ((scores - low) / span).astype(np.float32)
