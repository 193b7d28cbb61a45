"""English question words translated for the lexical side of English questions."""

from __future__ import annotations

import json
from pathlib import Path

from qa.answer.reading import read_as
from qa.engine import Engine
from qa.eval.reader_training import question_pairs
from qa.lang.bilingual import convert, english_tokens, translations
from qa.lang.text import syllables


def test_content_words_are_translated_and_names_and_function_words_are_not() -> None:
    assert "người nông dân" in translations("When do farmers harvest rice?")  # plural found as singular
    assert "lúa" in translations("When do farmers harvest rice?")
    assert "thủ tướng" in translations("Who was the prime minister in 1990?")  # a two-word entry
    assert "báo đen" in translations("How fast do panthers run?")
    assert "báo đen" not in translations("Who coached the Panthers?")  # a name past the first word stays
    assert translations("What is it that they had?") == []


def test_names_the_dictionary_knows_join_the_lexical_tokens_but_not_the_answer_step() -> None:
    question = "How many staff positions did Hanoi cut?"
    assert "Hà Nội" not in translations(question)  # a name past the first word, for the answer step
    assert "Hà Nội" in translations(question, names=True)
    assert {"ha", "noi"} <= set(english_tokens(question))  # BM25 finds the article that writes it so
    assert "hanoi" in english_tokens(question)  # and the name as written, as before
    committee = english_tokens("Who sits on the Central Committee?")
    assert set(syllables("Ban Chấp hành Trung ương")) <= set(committee)


def test_phrases_of_up_to_four_words_are_looked_up_before_their_words() -> None:
    found = translations("When did Ho Chi Minh City sign it?", names=True)
    assert found[0] == "Thành phố Hồ Chí Minh"
    assert "khí" not in found  # "Chi" is part of the name, not the word for air


def test_an_english_question_finds_a_vietnamese_article_by_its_translated_words(engine: Engine) -> None:
    hits = engine.search("When do farmers harvest rice?", 1, "lexical")
    assert hits and hits[0].chunk.doc_id == "c_weather"


def test_the_dictionary_is_converted_from_the_wiktionary_extract() -> None:
    source = (
        "# English :: Vietnamese dictionary\n"
        "abandon {v} (to give up) :: bỏ, từ bỏ\n"
        "abandon {v} (to leave behind) :: (sự) bỏ rơi, từ bỏ; ruồng bỏ\n"
        "abacus {n} :: bàn tính\n"
    )
    rows = [line for line in convert(source).splitlines() if not line.startswith("#")]
    assert rows == ["abandon\tbỏ|từ bỏ|bỏ rơi", "abacus\tbàn tính"]


def test_later_extracts_add_words_and_senses_after_the_earlier_ones() -> None:
    earlier = "meeting {n} (gathering) :: hội nghị\nfish {n} :: cá, 魚\n"
    later = "meeting\thội họp\nmeeting\thội nghị\ndeputy\tphó\n"
    rows = [line for line in convert(earlier, later).splitlines() if not line.startswith("#")]
    assert rows == ["meeting\thội nghị|hội họp", "fish\tcá", "deputy\tphó"]  # no Hán spelling as a sense


def test_the_reader_reads_an_english_question_with_its_translations_as_it_was_trained(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a_rice.txt").write_text("Lúa\n\nNông dân gặt lúa vào tháng mười. Trời mưa.")
    (tmp_path / "corpus" / "b_other.txt").write_text("Khác\n\nMột bài khác.")
    rows = [
        {"id": f"q-{lang}", "lang": lang, "q": q, "docs": ["a_rice"], "answers": ["tháng mười"]}
        for lang, q in [("en", "When do farmers harvest rice?"), ("vi", "Nông dân gặt lúa khi nào?")]
    ]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    trained = {p.lang: p.question for p in question_pairs(tmp_path)}
    asked = "When do farmers harvest rice?"
    assert trained["en"] == read_as(asked, "en", []) != asked
    assert "lúa" in trained["en"] and trained["vi"] == read_as(trained["vi"], "vi", [])
