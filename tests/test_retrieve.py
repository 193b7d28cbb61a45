from __future__ import annotations

import json
from pathlib import Path

import faiss
import pytest

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.search import hybrid as retrieve

from .conftest import SEEDS


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
    kept = {engine.index.sentences[row].doc_id for row in ranking.sentence_rows}
    assert kept and "a_conference" not in kept
    assert engine.retriever.hits(engine.retriever.rank(question), 1)[0].chunk.doc_id == "a_conference"


def test_best_sentence_per_chunk_in_one_pass_matches_the_loop() -> None:
    import numpy as np

    from qa.store.tables import SentenceRanges

    rng = np.random.default_rng(7)
    scores = rng.standard_normal(50).astype(np.float32)
    # overlapping runs (one sentence shared), empty chunks, single sentences, a run to the very end
    ranges = [range(0, 4), range(3, 9), range(0), range(9, 10), range(9, 20), range(0), range(19, 50)]
    expected = [scores[list(r)].max() if len(r) else 0.0 for r in ranges]

    def best(of: list[range], chunks: list[int]) -> list[float]:
        starts = np.array([r.start if len(r) else 0 for r in of], np.int64)
        stops = np.array([r.stop if len(r) else 0 for r in of], np.int64)
        sentence_ranges = SentenceRanges(starts, stops, np.zeros(0, np.int64), np.zeros(0, np.int64))
        rows, starts = sentence_ranges.rows_of(np.asarray(chunks, np.int64))
        return sentence_ranges.best_local(scores[rows], starts, len(chunks)).tolist()

    assert best(ranges, list(range(len(ranges)))) == pytest.approx(expected)
    assert best([range(0), range(0)], [0, 1]) == [0.0, 0.0]
    assert best(ranges, [6, 2, 0]) == pytest.approx([expected[6], expected[2], expected[0]])  # any subset


def test_rank_benchmark_runs_in_quick_mode() -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rank.py"), "--quick"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[2].startswith("| 5 | 54 | 123 |")


@pytest.mark.load
def test_ann_benchmark_runs_in_quick_mode() -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ann.py"), "--quick"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith(("| scan", "| HNSW"))]
    assert [r[0] for r in rows] == ["| scan", "| HNSW"]
    assert rows[0][-2:] == ["1.000", "1.000 |"]  # the scan is the reference


def _seed_questions() -> list[str]:
    rows = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()]
    return [r["question"] for r in rows]


def test_fusion_scores_only_the_candidates_each_retriever_brings(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake")
    engine = Engine.open(settings, FakeEmbedder())
    everything = {q: engine.search(q, 1)[0].chunk.chunk_id for q in _seed_questions()}
    for name in ("DENSE_CANDIDATES", "SENTENCE_CANDIDATES", "LEXICAL_CANDIDATES"):
        monkeypatch.setattr(retrieve, name, 3)
    question = "Ai chủ trì hội nghị trực tuyến toàn quốc?"
    ranking = engine.retriever.rank(question)
    assert 0 < len(ranking.rows) < len(engine.index.chunks)
    held = {engine.index.sentences[r].doc_id for r in ranking.sentence_rows}
    assert held == {engine.index.chunks[r].doc_id for r in ranking.rows}  # their sentences, no others
    # three candidates a retriever, mostly the same winners (dense is scaled over fewer rows)
    same = sum(engine.search(q, 1)[0].chunk.chunk_id == best for q, best in everything.items())
    assert same / len(everything) >= 0.9
    # an earlier turn's article joins the candidates however far it is
    far = next(
        d for d in engine.index.documents if d not in {engine.index.chunks[r].doc_id for r in ranking.rows}
    )
    also = engine.retriever.rank(question, also={far})
    assert far in {engine.index.chunks[r].doc_id for r in also.rows}


def test_an_hnsw_index_answers_like_the_flat_one(seeds_copy: Path, tmp_path: Path) -> None:
    flat = Engine.open(
        Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "flat", model="fake"), FakeEmbedder()
    )
    graph_settings = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "hnsw", model="fake", ann_from=1)
    graph = Engine.open(graph_settings, FakeEmbedder())
    assert isinstance(graph.index.store.chunk_vectors, faiss.IndexHNSW)
    assert isinstance(graph.index.store.sentence_vectors, faiss.IndexHNSW)
    assert not isinstance(flat.index.store.chunk_vectors, faiss.IndexHNSW)
    for question in _seed_questions():
        assert [h.chunk.chunk_id for h in graph.search(question, 5)] == [
            h.chunk.chunk_id for h in flat.search(question, 5)
        ], question
        assert graph.ask(question).answer == flat.ask(question).answer


@pytest.mark.load
def test_scale_benchmark_runs_in_quick_mode() -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--quick"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [
        line.split(" | ") for line in result.stdout.splitlines() if line.startswith(("| folder", "| postg"))
    ]
    assert [r[0] for r in rows] == ["| folder", "| postgres"]
    for row in rows:
        assert row[1:4] == ["5", "54", "123"]
        assert row[-1] != "inf |"  # the changed article was picked up


@pytest.mark.load
def test_query_latency_benchmark_runs_in_process_and_over_http(seeds_copy: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import ROOT

    bench = ROOT / "bench" / "query_latency.py"
    options = ["--seeds", str(seeds_copy), "--index", str(tmp_path / "index"), "--stores", "folder"]
    result = subprocess.run(
        [sys.executable, str(bench), *options, "--runs", "1"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| folder")]
    assert [r[:6] for r in rows] == [
        ["| folder", "fake", "off", "5", "in-process", "1"],
        ["| folder", "fake", "off", "5", "HTTP", "1"],
    ]
    assert rows[0][-1] == "0 of 94 |"  # no reader, nothing read
