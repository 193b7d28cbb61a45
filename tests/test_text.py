from __future__ import annotations

import unicodedata

import pytest

from qa.lang.text import (
    english_terms,
    fold,
    has_diacritics,
    is_vietnamese_syllable,
    nfc,
    question_language,
    sentence_spans,
    syllables,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Trương Tấn Sang", "truong tan sang"),
        ("ĐẢNG bộ Đà Nẵng", "dang bo da nang"),
        ("Ai chủ trì hội nghị?", "ai chu tri hoi nghi?"),
        ("plain English", "plain english"),
    ],
)
def test_fold_strips_vietnamese_marks(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_treats_nfd_and_nfc_alike() -> None:
    nfd = unicodedata.normalize("NFD", "Hội nghị trực tuyến")
    assert fold(nfd) == fold("Hội nghị trực tuyến") == "hoi nghi truc tuyen"


def test_nfc_composes_and_unifies_line_ends() -> None:
    assert nfc(unicodedata.normalize("NFD", "Hà Nội\r\nxã\rphường")) == "Hà Nội\nxã\nphường"


def test_syllables_are_folded_words() -> None:
    assert syllables("Ai chủ trì hội nghị, năm 2018?") == ["ai", "chu", "tri", "hoi", "nghi", "nam", "2018"]


def test_has_diacritics() -> None:
    assert has_diacritics("Ai chủ trì")
    assert not has_diacritics("ai chu tri")


def test_sentence_spans_point_at_exact_text_and_keep_abbreviations_whole() -> None:
    text = "Ban Tổ chức T.Ư họp ngày 9-2. Giảm 1.549 biên chế! Ai chủ trì?\nDòng mới không dấu chấm"
    spans = list(sentence_spans(text))
    assert [text[s:e] for s, e in spans] == [
        "Ban Tổ chức T.Ư họp ngày 9-2.",
        "Giảm 1.549 biên chế!",
        "Ai chủ trì?",
        "Dòng mới không dấu chấm",
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Năm 1973, Nixon bổ nhiệm William E. Simon làm quản lý đầu tiên.",
        "Ví dụ, E.I. du Pont thành lập nhà máy thuốc súng.",
        "Phòng trưng bày T. T. Tsui mở cửa năm 1991.",
        "Các chủng Y. p. orientalis và Y. p. medievalis được tìm thấy.",
    ],
)
def test_a_names_initial_does_not_end_its_sentence(sentence: str) -> None:
    text = f"{sentence} Câu sau."
    assert [text[s:e] for s, e in sentence_spans(text)] == [sentence, "Câu sau."]


def test_a_dotted_abbreviation_still_ends_its_sentence() -> None:
    text = "Nâng cao chất lượng tham mưu của Ban Tổ chức T.Ư. Xây dựng hệ thống chính trị."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Nâng cao chất lượng tham mưu của Ban Tổ chức T.Ư.",
        "Xây dựng hệ thống chính trị.",
    ]


def test_sentence_spans_skip_blank_text() -> None:
    assert list(sentence_spans("  \n\n  ")) == []


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Who chaired the 2018 review meeting?", "en"),
        ("How many points did the Panthers defense surrender?", "en"),
        ("Who met Truong Tan Sang in Hanoi?", "en"),
        ("Ai chủ trì hội nghị?", "vi"),
        ("ai chu tri hoi nghi truc tuyen toan quoc", "vi-folded"),
        ("Doi thu Panthers da thua bao nhieu diem?", "vi-folded"),  # a foreign name does not make it English
        ("Ai da gianh Super Bowl XLIX?", "vi-folded"),  # nor do names that are most of its words
        ("Is it true?", "en"),
        ("Hoang Trung Hai?", "vi-folded"),
        ("Who is Hoang Trung Hai?", "en"),
    ],
)
def test_question_language(question: str, language: str) -> None:
    assert question_language(question) == language


def test_english_terms_keep_names_numbers_and_foreign_words_only() -> None:
    terms = english_terms("Who met Truong Tan Sang in the 2018 review?")
    assert terms == ["who", "truong", "tan", "sang", "2018", "review"]  # "met", "in", "the" spell syllables


def test_vietnamese_syllables() -> None:
    assert all(map(is_vietnamese_syllable, ["nghieng", "truong", "quyen", "khuyu", "a", "the"]))
    assert not any(map(is_vietnamese_syllable, ["meeting", "who", "hanoi", "team", "2018", "nfl"]))


def test_diacritics_are_restored_from_the_passages_a_question_is_asked_of() -> None:
    from qa.lang.text import restore_diacritics_from

    passages = "Đội thủ của Panthers chỉ thua 308 điểm. Bà Mai chủ trì hội nghị. Nghị quyết về thu chi."
    # "thu" takes its form in the pair it shares ("đội thủ"), not the one written more often elsewhere
    assert restore_diacritics_from("Doi thu Panthers thua bao nhieu diem?", passages).startswith(
        "Đội thủ Panthers thua bao"
    )
    assert restore_diacritics_from("ai chu tri hoi nghi", passages).endswith("chủ trì hội nghị")
    assert restore_diacritics_from("", passages) == ""
