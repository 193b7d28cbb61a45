from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.eval.metrics import (
    Outcome,
    Ranked,
    abstention,
    exact_match,
    failures,
    ranking_metrics,
    short_answer,
    summarise,
    token_f1,
)
from qa.eval.questionsets import Question, QuestionSetError, beir_corpus, load_questions, sample_distractors
from qa.eval.report import trec_qrels, trec_run
from qa.eval.run import evaluate_engine
from qa.index.load import load_index
from qa.ingest.corpus import load_documents

from .conftest import SEEDS, write_corpus

runner = CliRunner()


def test_ranking_metrics_on_a_known_ranking() -> None:
    # relevant at ranks 2 and 4, three relevant items exist in all
    metrics = ranking_metrics([False, True, False, True, False], 3, [1, 3, 5])
    assert metrics["hit@1"] == 0.0 and metrics["hit@3"] == 1.0
    assert metrics["recall@3"] == pytest.approx(1 / 3) and metrics["recall@5"] == pytest.approx(2 / 3)
    assert metrics["mrr@10"] == 0.5
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)


def test_nothing_relevant_scores_zero() -> None:
    assert ranking_metrics([False, False], 1, [1]) == {
        "hit@1": 0.0,
        "recall@1": 0.0,
        "mrr@10": 0.0,
        "ndcg@10": 0.0,
    }


def _outcome(
    qid: str, relevant: tuple[str, ...], docs: tuple[str, ...], answer: str, answerable: bool
) -> Outcome:
    question = Question(qid, f"question {qid}", "en", relevant, None, ("expected",) if relevant else ())
    ranked = Ranked(docs, tuple(1.0 / (i + 1) for i in range(len(docs))), (), 0)
    return Outcome(question, {"hybrid": ranked}, answer, answerable)


def test_abstention_answers_and_failures() -> None:
    outcomes = [
        _outcome("a", ("d1",), ("d1", "d2"), "the **expected** text", True),
        _outcome("b", ("d2",), ("d1", "d3", "d4", "d2"), "not found", False),
        _outcome("u1", (), ("d1",), "not found", False),
        _outcome("u2", (), ("d1",), "some answer", True),
    ]
    assert abstention(outcomes) == {"abstained": 2, "unanswerable": 2, "precision": 0.5, "recall": 0.5}
    report = summarise(outcomes, ["hybrid"], [1, 3])
    assert report["retrievers"]["hybrid"]["document"]["all"]["hit@1"] == 0.5
    assert report["answers"]["all"]["answer_contains"] == 0.5  # "**" marks do not hide the answer
    problems = {f["id"]: f["problems"] for f in failures(outcomes, "hybrid")}
    assert problems == {
        "b": ["relevant document not in top 3", "abstained"],
        "u2": ["answered a question the articles cannot answer"],
    }


def test_trec_files() -> None:
    outcomes = [_outcome("q1", ("d2",), ("d2", "d1"), "", True)]
    assert trec_run(outcomes, "hybrid", "tag").splitlines() == [
        "q1 Q0 d2 1 1.000000 tag",
        "q1 Q0 d1 2 0.500000 tag",
    ]
    assert trec_qrels([outcomes[0].question]) == "q1 0 d2 1\n"


def test_bad_question_files_are_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(QuestionSetError, match=r"bad\.jsonl:1"):
        load_questions(bad)
    with pytest.raises(QuestionSetError, match="cannot read"):
        load_questions(tmp_path / "missing.jsonl")
    (tmp_path / "notbeir").mkdir()
    with pytest.raises(QuestionSetError, match="not a BEIR folder"):
        load_questions(tmp_path / "notbeir")


def test_beir_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        json.dumps({"_id": "d1", "title": "Hội nghị", "text": "Bà Mai chủ trì."})
        + "\n"
        + json.dumps({"_id": "d2", "title": "Thời sự", "text": "Lúa chín."})
        + "\n"
    )
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "ai chủ trì"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n")
    assert load_questions(folder) == [Question("q1", "ai chủ trì", "all", ("d1",))]
    corpus = beir_corpus(folder, tmp_path / "corpus")
    docs = {d.doc_id: d for d in load_documents(corpus)}
    assert docs["d1"].title == "Hội nghị" and "Bà Mai chủ trì." in docs["d1"].text


def test_seed_question_set_is_sound() -> None:
    questions = load_questions(SEEDS / "questions.jsonl")
    documents = {d.doc_id: d for d in load_documents(SEEDS)}
    assert len(questions) >= 80 and len({q.qid for q in questions}) == len(questions)
    assert sum(not q.answerable for q in questions) >= 8
    assert {q.lang for q in questions} == {"en", "vi", "vi-nodiac"}
    for q in questions:
        if q.answerable:
            text = documents[q.relevant[0]].text
            assert q.evidence and q.evidence in text, q.qid
            assert q.answers and all(a in text for a in q.answers), q.qid


def _tiny_questions(tmp_path: Path) -> Path:
    def row(qid: str, question: str, lang: str, doc: str, evidence: str, answer: str) -> dict[str, object]:
        return {"id": qid, "question": question, "lang": lang, "relevant": [doc], "evidence": evidence,
                "answers": [answer]}  # fmt: skip

    rows = [
        row(
            "t1",
            "ai chu tri hoi nghi truc tuyen",
            "vi-nodiac",
            "a_conference",
            "Trương Thị Mai chủ trì",
            "Mai",
        ),
        row("t2", "Thành phố đã tinh giản bao nhiêu biên chế?", "vi", "b_visit", "1.549 biên chế", "1.549"),
        row("t3", "nông dân thu hoạch lúa", "vi", "c_weather", "thu hoạch lúa sớm", "thu hoạch lúa"),
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _untimed(report: dict[str, Any]) -> dict[str, Any]:
    for row in report["answers"].values():
        for answerer in row["by_answerer"].values():
            answerer.pop("seconds")
    return report


def test_eval_command_json_and_run_files(corpus: Path, tmp_path: Path) -> None:
    questions = _tiny_questions(tmp_path)
    args = ["eval", str(questions), "--seeds", str(corpus), "--index", str(tmp_path / "i"), "--model", "fake"]
    result = runner.invoke(app, [*args, "--json", "--run-file", str(tmp_path / "run.trec"), "--k", "1,2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report["retrievers"]) == ["baseline", "dense", "hybrid", "lexical"]
    assert report["retrievers"]["lexical"]["document"]["all"]["hit@1"] == 1.0
    assert set(report["retrievers"]["hybrid"]["passage"]) == {"all", "vi", "vi-nodiac"}
    assert report["ks"] == [1, 2]
    assert sorted(p.name for p in tmp_path.glob("run.*.trec")) == [
        "run.dense.trec",
        "run.hybrid.trec",
        "run.lexical.trec",
    ]
    again = runner.invoke(app, [*args, "--json", "--k", "1,2"])
    assert _untimed(json.loads(again.stdout)) == _untimed(report)  # stable, but for the seconds taken
    table = runner.invoke(app, [*args, "--retriever", "hybrid"])
    assert (
        table.exit_code == 0
        and "| hybrid | all |" in table.output
        and "questions with a problem" in table.output
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"), [("--retriever", "bm42", "unknown retriever"), ("--k", "a,b", "--k")]
)
def test_eval_command_refuses_bad_options(
    corpus: Path, tmp_path: Path, flag: str, value: str, message: str
) -> None:
    result = runner.invoke(app, ["eval", str(_tiny_questions(tmp_path)), "--model", "fake", flag, value])
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.filterwarnings("ignore")
def test_our_metrics_agree_with_ranx(engine: object, tmp_path: Path) -> None:
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    questions = [
        *load_questions(_tiny_questions(tmp_path)),
        Question("t4", "Trương Tấn Sang làm việc với Thành ủy", "vi", ("b_visit",)),
        Question("t5", "hội nghị Hà Nội", "vi", ("a_conference", "b_visit")),
    ]
    outcomes = evaluate_engine(engine, questions, ["dense", "hybrid"])  # type: ignore[arg-type]
    ours = summarise(outcomes, ["dense", "hybrid"], [1, 2, 3])
    (tmp_path / "qrels").write_text(trec_qrels(questions))
    for name in ("dense", "hybrid"):
        (tmp_path / name).write_text(trec_run(outcomes, name, name))
        theirs = ranx_evaluate(
            Qrels.from_file(str(tmp_path / "qrels"), kind="trec"),
            Run.from_file(str(tmp_path / name), kind="trec"),
            ["hit_rate@1", "hit_rate@3", "recall@2", "mrr@10", "ndcg@10"],
            make_comparable=True,
        )
        doc = ours["retrievers"][name]["document"]["all"]
        assert doc["hit@1"] == pytest.approx(theirs["hit_rate@1"], abs=1e-4)
        assert doc["hit@3"] == pytest.approx(theirs["hit_rate@3"], abs=1e-4)
        assert doc["recall@2"] == pytest.approx(theirs["recall@2"], abs=1e-4)
        assert doc["mrr@10"] == pytest.approx(theirs["mrr@10"], abs=1e-4)
        assert doc["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-4)


def test_squad_style_short_answer_scores() -> None:
    assert exact_match("Trương Thị Mai.", ["trương thị mai"]) == 1.0
    assert exact_match("bà Trương Thị Mai", ["Trương Thị Mai"]) == 0.0
    assert token_f1("bà Trương Thị Mai", ["Trương Thị Mai"]) == pytest.approx(2 * 0.75 * 1 / 1.75)
    assert token_f1("1.549 biên chế", ["59 phòng", "1.549"]) == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))
    assert token_f1("không", ["có"]) == 0.0
    assert short_answer("Đồng chí **Trương Thị Mai** chủ trì.") == "Trương Thị Mai"
    assert short_answer("no span here") == "no span here"


def test_distractor_samples_are_seeded(tmp_path: Path) -> None:
    news = write_corpus(tmp_path / "news", {f"{n:03d}.txt": f"Tin {n}\n\nNội dung {n}." for n in range(30)})
    first = sample_distractors(news, 5, seed=1)
    assert first == sample_distractors(news, 5, seed=1) and len(set(first)) == 5
    assert first != sample_distractors(news, 5, seed=2)
    with pytest.raises(QuestionSetError, match="fewer than the 31"):
        sample_distractors(news, 31)


def _folder_set(tmp_path: Path) -> Path:
    """A question set of the XQuAD-vi shape: corpus/ + questions.jsonl with q / docs fields."""
    folder = tmp_path / "set"
    write_corpus(folder / "corpus")
    rows = [
        {
            "id": "x1-vi",
            "lang": "vi",
            "q": "Ai chủ trì hội nghị trực tuyến toàn quốc?",
            "docs": ["a_conference"],
            "evidence": "Đồng chí Trương Thị Mai chủ trì hội nghị trực tuyến toàn quốc.",
            "answers": ["Trương Thị Mai"],
        },
        {
            "id": "x2-vi",
            "lang": "vi",
            "q": "Thành phố đã tinh giản bao nhiêu biên chế?",
            "docs": ["b_visit"],
            "evidence": "Thành phố đã tinh giản được 1.549 biên chế trong năm qua.",
            "answers": ["1.549"],
        },
    ]
    (folder / "questions.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return folder


def test_eval_of_a_folder_set_with_distractors_baseline_and_leave_out(tmp_path: Path) -> None:
    news = write_corpus(
        tmp_path / "news",
        {f"{n:03d}.txt": f"Tin thể thao {n}\n\nĐội bóng thắng {n} trận." for n in range(12)},
    )
    args = ["eval", str(_folder_set(tmp_path)), "--model", "fake", "--json", "--leave-out"]
    args += ["--distractors", str(news), "--distractors-n", "4"]
    env = {"QA_EVAL_CACHE": str(tmp_path / "cache")}
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["corpus"]["documents"] == 3 + 4
    assert set(report["retrievers"]) == {"baseline", "dense", "lexical", "hybrid"}
    answers = report["answers"]["vi"]["by_answerer"]
    assert set(answers) == {"baseline", "vnqa"}
    assert answers["baseline"]["left_out_recall"] == 0.0  # plain dense never says "not found"
    assert answers["vnqa"]["left_out_recall"] is not None and answers["vnqa"]["f1"] > 0
    assert (tmp_path / "cache" / "vectors").is_dir()
    index_path = load_index(Path(report["corpus"]["articles"]).parent / "index").path
    again = runner.invoke(app, args, env=env)  # reuses the cached index and vectors
    assert json.loads(again.stdout)["retrievers"] == report["retrievers"]
    assert load_index(Path(report["corpus"]["articles"]).parent / "index").path == index_path
    table = runner.invoke(app, [a for a in args if a != "--json"], env=env)
    assert table.exit_code == 0 and "| baseline | vi |" in table.output and "leave-out recall" in table.output


def test_baseline_paragraphs_are_the_body_with_offsets() -> None:
    from qa.eval.baseline import paragraphs
    from qa.types import Document

    text = "Super Bowl 50\n\nĐoạn một.\n  \nĐoạn hai,\nvẫn đoạn hai.\n\n\n"
    spans = paragraphs(Document("d", "Super Bowl 50", text))
    assert [s.text for s in spans] == ["Đoạn một.", "Đoạn hai,\nvẫn đoạn hai."]
    assert all(text[s.start : s.end] == s.text for s in spans)
