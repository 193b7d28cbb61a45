"""Question -> ranked chunks: dense (FAISS), lexical (BM25) and their fusion.

Lexical evidence is Vietnamese-aware: BM25 over pyvi word segments (``hội_nghị``) and over
diacritic-folded syllables (``hoi``, ``nghi``), so questions typed without diacritics still match.

Fusion weighs BM25 by how much of the question the corpus vocabulary covers: an English question shares
few tokens with Vietnamese articles, so its BM25 ranking is noise and dense similarity decides; a
Vietnamese question that reuses the article's words lets BM25 contribute fully.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import bm25s
import faiss
import numpy as np
import numpy.typing as npt

from .config import Retriever as RetrieverName
from .embedding import Embedder, Vectors
from .index import PASSAGE_TEMPLATE, Index
from .text import has_diacritics, syllables, words
from .types import Hit

Scores = npt.NDArray[np.float32]

# bm25s sets its own logger to DEBUG, which floods any handler the application installs.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Ranking:
    """Scores for one question: per chunk (row i is chunk i), per sentence (row j is sentence j), the
    best cosine to the off-topic background texts, and the lexical coverage of the question."""

    dense: Scores
    lexical: Scores
    fused: Scores
    sentences: Scores
    background: float
    coverage: float


class _Bm25:
    """One BM25 model over token lists, with document frequencies for coverage."""

    def __init__(self, corpus_tokens: list[list[str]]) -> None:
        self._model = bm25s.BM25()
        self._model.index(corpus_tokens, show_progress=False)
        self._vocab = self._model.vocab_dict
        n_docs = len(corpus_tokens)
        df: dict[str, int] = {}
        for tokens in corpus_tokens:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        self._idf = {t: math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._unknown_idf = math.log(1 + (n_docs + 0.5) / 0.5)
        self._size = n_docs

    def scores(self, tokens: list[str]) -> Scores:
        known = [t for t in tokens if t in self._vocab]
        if not known:
            return np.zeros(self._size, np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def coverage(self, tokens: list[str]) -> float:
        """Share of the question's IDF mass that occurs in the corpus (0 = nothing matches, 1 = all)."""
        if not tokens:
            return 0.0
        total = sum(self._idf.get(t, self._unknown_idf) for t in tokens)
        found = sum(self._idf[t] for t in tokens if t in self._idf)
        return found / total if total else 0.0


class HybridRetriever:
    """Ranks the chunks of one loaded :class:`Index` for a question."""

    def __init__(
        self, index: Index, embedder: Embedder, lexical_weight: float = 2.0, sentence_weight: float = 0.5
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical_weight = lexical_weight
        self.sentence_weight = sentence_weight
        texts = [
            PASSAGE_TEMPLATE.format(title=index.documents[c.doc_id].title, text=c.text) for c in index.chunks
        ]
        self._syllables = _Bm25([syllables(t) for t in texts])
        self._words = _Bm25([words(t) for t in texts])

    def rank(self, question: str) -> Ranking:
        """Scores of every chunk and sentence.

        A chunk's dense score mixes its own cosine with that of its best sentence (a focused sentence
        match is strong evidence even inside a long chunk); lexical is BM25 scaled to [0, 1].
        """
        query = self.embedder.embed_query(question).reshape(1, -1)
        chunk_cos = _cosines(self.index.chunk_vectors, query)
        sentence_cos = _cosines(self.index.sentence_vectors, query)
        background = _cosines(self.index.background_vectors, query)
        best_sentence = np.array(
            [sentence_cos[rows].max() if len(rows) else 0.0 for rows in self.index.chunk_sentences],
            dtype=np.float32,
        ).reshape(chunk_cos.shape)
        dense = (1 - self.sentence_weight) * chunk_cos + self.sentence_weight * best_sentence

        folded = syllables(question)
        lexical = _unit(self._syllables.scores(folded))
        coverage = self._syllables.coverage(folded)
        if has_diacritics(question):
            segmented = words(question)
            lexical = ((lexical + _unit(self._words.scores(segmented))) / 2).astype(np.float32)
            coverage = (coverage + self._words.coverage(segmented)) / 2

        weight = min(1.0, self.lexical_weight * coverage)
        fused = (1 - weight) * _unit(dense, min_max=True) + weight * lexical
        return Ranking(
            dense=dense,
            lexical=lexical,
            fused=fused.astype(np.float32),
            sentences=sentence_cos,
            background=float(background.max()) if background.size else -1.0,
            coverage=coverage,
        )

    def search(self, question: str, k: int, method: RetrieverName = "hybrid") -> list[Hit]:
        """The ``k`` best chunks (fewer when the index is smaller), best first."""
        return self.hits(self.rank(question), k, method)

    def hits(self, ranking: Ranking, k: int, method: RetrieverName = "hybrid") -> list[Hit]:
        """Top ``k`` of a :class:`Ranking` by the chosen score, best first; ties keep index order."""
        scores = {"dense": ranking.dense, "lexical": ranking.lexical, "hybrid": ranking.fused}[method]
        order = np.argsort(-scores, kind="stable")[:k]
        return [
            Hit(
                chunk=self.index.chunks[i],
                score=float(scores[i]),
                dense=float(ranking.dense[i]),
                lexical=float(ranking.lexical[i]),
            )
            for i in order
        ]


def _cosines(vectors: faiss.Index, query: Vectors) -> Scores:
    """Inner product of ``query`` (shape ``(1, dim)``) with every stored row, in row order."""
    n = vectors.ntotal
    out = np.zeros(n, np.float32)
    if n:
        scores, rows = vectors.search(query, n)
        valid = rows[0] >= 0  # FAISS pads missing results with -1
        out[rows[0][valid]] = scores[0][valid]
    return out


def _unit(scores: Scores, min_max: bool = False) -> Scores:
    """Scale scores into [0, 1]: by the maximum, or min-max; all-equal scores become 0."""
    if scores.size == 0:
        return scores
    low = float(scores.min()) if min_max else 0.0
    span = float(scores.max()) - low
    if span <= 0:
        return np.zeros_like(scores)
    return ((scores - low) / span).astype(np.float32)
