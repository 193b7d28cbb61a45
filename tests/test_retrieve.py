from __future__ import annotations

import pytest

from qa.engine import Engine


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("Ai chủ trì hội nghị trực tuyến toàn quốc?", "a_conference"),
        ("ai chu tri hoi nghi truc tuyen toan quoc", "a_conference"),  # typed without diacritics
        ("Truong Tan Sang visited which committee?", "b_visit"),  # English naming a folded name
        ("nong dan thu hoach lua", "c_weather"),
    ],
)
def test_hybrid_finds_the_article(engine: Engine, question: str, doc_id: str) -> None:
    hits = engine.search(question, 3)
    assert hits[0].chunk.doc_id == doc_id
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("method", ["dense", "lexical", "hybrid"])
def test_top_k_beyond_the_index_returns_only_real_chunks(engine: Engine, method: str) -> None:
    n = len(engine.index.chunks)
    hits = engine.search("hội nghị", n + 50, method)  # type: ignore[arg-type]
    assert len(hits) == n
    assert sorted(h.chunk.chunk_id for h in hits) == list(range(n))


def test_lexical_weight_follows_question_coverage(engine: Engine) -> None:
    vietnamese = engine.retriever.rank("chủ trì hội nghị trực tuyến")
    english = engine.retriever.rank("who chaired the online meeting")
    assert vietnamese.coverage > 0.9
    assert english.coverage < 0.2


def test_excluded_articles_are_ranked_as_if_absent(engine: Engine) -> None:
    question = "Ai chủ trì hội nghị trực tuyến toàn quốc?"
    ranking = engine.retriever.rank(question, exclude={"a_conference"})
    hits = engine.retriever.hits(ranking, 50)
    assert hits and all(h.chunk.doc_id != "a_conference" for h in hits)
    inside = [row for row, s in enumerate(engine.index.sentences) if s.doc_id == "a_conference"]
    assert all(ranking.sentences[row] == float("-inf") for row in inside)
    assert engine.retriever.hits(engine.retriever.rank(question), 1)[0].chunk.doc_id == "a_conference"
