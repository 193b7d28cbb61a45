"""SQuAD-format files as the reader's first-stage training pairs: spans labelled, unanswerable questions
read as "no answer", and XQuAD's articles never read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.eval.squad import NEGATIVES, squad_pairs

CONTEXT = (
    "The castle was built in 1205 by the count. It burned down twice. "
    "The count's son rebuilt it in stone. Tourists visit it every summer."
)


def squad_file(tmp_path: Path, title: str = "Some_Castle", name: str = "train.json") -> Path:
    qas = [
        {
            "id": "a",
            "question": "When was the castle built?",
            "answers": [{"text": "1205", "answer_start": 24}],
        },
        {"id": "b", "question": "Who rebuilt the castle in stone?", "answers": [], "is_impossible": True},
        {
            "id": "c",
            "question": "Who built it and when?",
            "answers": [{"text": "count. It", "answer_start": 36}],
        },
    ]
    data = {"data": [{"title": title, "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_an_answer_is_labelled_in_its_sentence_and_the_most_alike_others_are_no_answer(
    tmp_path: Path,
) -> None:
    pairs, dropped = squad_pairs([squad_file(tmp_path)])
    first = [p for p in pairs if p.qid == "a"]
    assert first[0].sentence == "The castle was built in 1205 by the count."
    assert first[0].sentence[slice(*first[0].span)] == "1205"
    assert [p.span for p in first[1:]] == [None] * NEGATIVES
    assert dropped == [] and {p.lang for p in pairs} == {"squad"}


def test_an_unanswerable_question_reads_only_no_answer_and_a_split_answer_is_skipped(tmp_path: Path) -> None:
    pairs, _ = squad_pairs([squad_file(tmp_path)])
    unanswerable = [p for p in pairs if p.qid == "b"]
    assert len(unanswerable) == NEGATIVES + 1 and all(p.span is None for p in unanswerable)
    assert unanswerable[0].sentence == "The count's son rebuilt it in stone."  # the most alike comes first
    assert not [p for p in pairs if p.qid == "c"]  # its answer crosses a sentence break


@pytest.mark.parametrize("title", ["Super_Bowl_50", "Super Bowl 50", "b_warsaw"])
def test_xquads_articles_and_the_question_sets_own_are_left_out(tmp_path: Path, title: str) -> None:
    pairs, dropped = squad_pairs([squad_file(tmp_path, title)], excluded=["b_warsaw"])
    assert pairs == [] and dropped == [title]


def test_a_question_in_two_files_is_read_once(tmp_path: Path) -> None:
    files = [squad_file(tmp_path, name="one.json"), squad_file(tmp_path, name="two.json")]
    assert len(squad_pairs(files)[0]) == len(squad_pairs(files[:1])[0])


def test_a_file_cut_short_is_read_up_to_its_last_complete_article(tmp_path: Path) -> None:
    whole = squad_file(tmp_path).read_text(encoding="utf-8")
    data = json.loads(whole)
    data["data"].append({"title": "Second", "paragraphs": data["data"][0]["paragraphs"]})
    text = json.dumps(data)
    cut = tmp_path / "cut.json"
    cut.write_text(text[: text.index('"Second"') + 40], encoding="utf-8")  # inside the second article
    assert squad_pairs([cut])[0] == squad_pairs([squad_file(tmp_path, name="one.json")])[0]


def explorer_page(folder: Path, title: str = "Some_Castle") -> Path:
    """An article page as the SQuAD explorer writes them: a paragraph, its questions and answers."""
    folder.mkdir(exist_ok=True)
    page = folder / f"{title}.html"
    page.write_text(
        f'<html><body><h1 id="title">{title}</h1><div class="para-wrap"><pre>{CONTEXT}</pre>'
        '<div class="qa-wrap"><p> <strong class="question">When was the castle built?</strong></p>'
        '<ol><li><p><i>Answer 1: </i><span class="answer">1205</span></p></li></ol></div>'
        '<div class="qa-wrap"><p> <strong class="question">Who rebuilt it?</strong></p>'
        '<ol><li><p><i>Answer 1: </i><span class="answer">The count&#39;s son</span></p></li></ol></div>'
        "</div></body></html>",
        encoding="utf-8",
    )
    return page


def test_a_folder_of_explorer_pages_reads_as_its_squad_file(tmp_path: Path) -> None:
    explorer_page(tmp_path / "train")
    explorer_page(tmp_path / "train", "Super_Bowl_50")
    pairs, dropped = squad_pairs([tmp_path / "train"])
    labelled = [p for p in pairs if p.span]
    assert [p.sentence[slice(*p.span)] for p in labelled] == ["1205", "The count's son"]
    assert {p.article for p in pairs} == {"squad:Some_Castle"} and dropped == ["Super_Bowl_50"]


def test_a_sample_of_questions_is_drawn_the_same_way_each_time(tmp_path: Path) -> None:
    explorer_page(tmp_path / "train")
    one = squad_pairs([tmp_path / "train"], questions=1)[0]
    assert len({p.qid for p in one}) == 1
    assert one == squad_pairs([tmp_path / "train"], questions=1)[0]
    assert {p.qid for p in one} != {p.qid for p in squad_pairs([tmp_path / "train"], questions=1, seed=2)[0]}


@pytest.mark.parametrize("name", ["empty-folder", "notes.txt"])
def test_a_path_holding_no_squad_article_is_an_error_not_a_silent_run_without_squad(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    path.mkdir() if name == "empty-folder" else path.write_text("not SQuAD at all", encoding="utf-8")
    with pytest.raises(CorpusError, match="holds no SQuAD article"):
        squad_pairs([path])
