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


def test_best_sentence_per_chunk_in_one_pass_matches_the_loop() -> None:
    import numpy as np

    from qa.retrieve import SentenceRanges

    rng = np.random.default_rng(7)
    scores = rng.standard_normal(50).astype(np.float32)
    # overlapping runs (one sentence shared), empty chunks, single sentences, a run to the very end
    ranges = [range(0, 4), range(3, 9), range(0), range(9, 10), range(9, 20), range(0), range(19, 50)]
    expected = [scores[list(r)].max() if len(r) else 0.0 for r in ranges]
    assert SentenceRanges.of(ranges).best(scores).tolist() == pytest.approx(expected)
    assert SentenceRanges.of([range(0), range(0)]).best(scores).tolist() == [0.0, 0.0]


def test_rank_benchmark_runs_in_quick_mode() -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rank.py"), "--quick"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[2].startswith("| 5 | 54 | 123 |")
