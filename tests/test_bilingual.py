"""English question words translated for the lexical side of English questions."""

from __future__ import annotations

from qa.engine import Engine
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
