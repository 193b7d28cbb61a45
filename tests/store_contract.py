"""What every store must do, as a test class each store's tests subclass (Haystack's document store
contract does the same): override the ``engine`` fixture to give an engine whose index is searched by
your store, over the seed articles with the fake embedder.

A store searches one published build: nearest vectors, cosines and the stored vectors of rows, BM25 top
rows and scores, and how many chunks hold a token. Every answer is checked against the build's own texts
and vectors, so a new store passes when it agrees with the folder it was published from.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa.engine import Engine
from qa.index.files import LEXICAL, PASSAGE_TEMPLATE
from qa.store import LEXICAL_MODELS, Store

QUESTIONS = ("Ai chủ trì hội nghị sơ kết?", "Hanoi Party Committee cooperation programme", "biên chế")


class StoreContract:
    """The contract; subclasses provide the ``engine`` fixture."""

    @pytest.fixture
    def engine(self) -> Engine:
        raise NotImplementedError("override the engine fixture to return an engine over your store")

    @pytest.fixture
    def store(self, engine: Engine) -> Store:
        return engine.index.store

    def test_a_store_that_answers_passes_its_check(self, store: Store) -> None:
        store.check()  # raises StoreError when it cannot answer (health says 503 then)

    def test_size_is_the_number_of_chunks(self, engine: Engine, store: Store) -> None:
        assert store.size == len(engine.index.chunks) > 0
        assert isinstance(store.name, str) and isinstance(store.concurrent, bool)

    @pytest.mark.parametrize("kind", ["chunks", "sentences"])
    def test_nearest_rows_are_the_best_by_cosine(self, engine: Engine, store: Store, kind: str) -> None:
        rows_total = len(engine.index.chunks if kind == "chunks" else engine.index.sentences)
        for question in QUESTIONS:
            query = engine.embedder.embed_query(question)
            found = store.nearest(kind, query, 5)  # type: ignore[arg-type]
            assert 0 < len(found) <= 5 and len(set(found.tolist())) == len(found)
            assert found.min() >= 0 and found.max() < rows_total
            everything = store.cosines(kind, np.arange(rows_total, dtype=np.int64), query)  # type: ignore[arg-type]
            best = np.sort(everything)[::-1][: len(found)]
            mine = np.sort(store.cosines(kind, found, query))[::-1]  # type: ignore[arg-type]
            assert np.allclose(mine, best, atol=1e-4), question

    @pytest.mark.parametrize("kind", ["chunks", "sentences"])
    def test_cosines_are_those_of_the_stored_vectors(self, engine: Engine, store: Store, kind: str) -> None:
        rows = np.array([3, 0, 2], np.int64)
        query = engine.embedder.embed_query(QUESTIONS[0])
        vectors = store.vectors_of(kind, rows)  # type: ignore[arg-type]
        assert vectors.shape == (3, engine.embedder.dim)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        assert np.allclose(store.cosines(kind, rows, query), vectors @ query, atol=1e-4)  # type: ignore[arg-type]

    def test_stored_vectors_are_the_texts_own(self, engine: Engine, store: Store) -> None:
        rows = np.arange(min(5, len(engine.index.sentences)), dtype=np.int64)
        texts = [engine.index.sentences[int(r)].text for r in rows]
        expected = engine.embedder.embed_passages(texts)
        assert np.allclose(store.vectors_of("sentences", rows), expected, atol=1e-3)

    @pytest.mark.parametrize("model", LEXICAL_MODELS)
    def test_lexical_top_rows_score_highest(self, store: Store, model: str) -> None:
        for question in QUESTIONS:
            tokens = LEXICAL[model](question)
            top = store.lexical_top(model, tokens, 5)
            everything = store.lexical_scores(model, tokens, np.arange(store.size, dtype=np.int64))
            assert len(top) == min(5, int((everything > 0).sum()))
            if not len(top):
                continue
            assert (store.lexical_scores(model, tokens, top) > 0).all()
            cut = np.sort(everything)[::-1][len(top) - 1]
            assert store.lexical_scores(model, tokens, top).min() >= cut - 1e-4

    def test_lexical_scores_are_zero_without_the_tokens(self, store: Store) -> None:
        rows = np.arange(store.size, dtype=np.int64)
        assert not store.lexical_scores("syllables", ["zzzqqq"], rows).any()
        assert store.lexical_top("syllables", ["zzzqqq"], 5).size == 0

    def test_frequencies_count_the_chunks_holding_each_token(self, engine: Engine, store: Store) -> None:
        tokens = ["bien", "che", "zzzqqq"]
        counts = store.frequencies("syllables", tokens)
        assert "zzzqqq" not in counts
        titles = {d.doc_id: d.title for d in engine.index.documents.values()}
        for token in ("bien", "che"):
            texts = [
                PASSAGE_TEMPLATE.format(title=titles[c.doc_id], text=c.text) for c in engine.index.chunks
            ]
            assert counts[token] == sum(token in LEXICAL["syllables"](text) for text in texts) > 0
