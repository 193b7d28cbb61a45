"""English questions moved toward Vietnamese in the embedding space (qa/crosslingual.py)."""

from __future__ import annotations

import numpy as np
import pytest

from qa.embed import FakeEmbedder, e5_id
from qa.engine import Engine
from qa.search import crosslingual
from qa.search.hybrid import HybridRetriever


def test_the_shipped_direction_belongs_to_the_packaged_model() -> None:
    shift = crosslingual.english_shift(e5_id())
    assert shift is not None and shift.shape == (384,) and 0.05 < float(np.linalg.norm(shift)) < 1
    assert crosslingual.english_shift(FakeEmbedder().id) is None


def test_a_shifted_query_is_a_unit_vector_moved_toward_the_direction() -> None:
    query = np.zeros(4, np.float32)
    query[0] = 1
    shift = np.array([0, 0.5, 0, 0], np.float32)
    moved = crosslingual.shifted(query, shift, 1.0)
    assert np.isclose(np.linalg.norm(moved), 1) and moved[1] > 0 and moved[0] > moved[1]
    assert moved[1] < crosslingual.shifted(query, shift, 2.0)[1]
    assert crosslingual.shifted(query, None, 1.0) is query
    assert crosslingual.shifted(query, shift, 0.0) is query


def test_only_english_questions_are_moved_and_only_for_the_answer_step(engine: Engine) -> None:
    retriever = HybridRetriever(engine.index, engine.embedder, english_shift=1.0)
    retriever._shift = np.ones(engine.embedder.dim, np.float32)  # the fake embedder has none: lend one
    plain = HybridRetriever(engine.index, engine.embedder, english_shift=1.0)
    english = retriever.rank("When do farmers harvest rice?")
    assert not np.allclose(english.answer_sentences, english.sentences)
    assert np.array_equal(english.fused, plain.rank("When do farmers harvest rice?").fused)
    vietnamese = retriever.rank("Nông dân thu hoạch lúa khi nào?")
    assert np.array_equal(vietnamese.answer_sentences, vietnamese.sentences)


@pytest.mark.real_model
def test_the_shipped_direction_is_what_the_dictionary_teaches(
    real_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = crosslingual.dictionary()
    sample = dict(list(entries.items())[::20])  # every 20th entry: 307 pairs
    monkeypatch.setattr(crosslingual, "dictionary", lambda: sample)
    learnt = crosslingual.learn(real_engine.embedder)
    shipped = crosslingual.english_shift(real_engine.embedder.id)
    assert shipped is not None
    assert float(learnt @ shipped / np.linalg.norm(learnt) / np.linalg.norm(shipped)) > 0.95
