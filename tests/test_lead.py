"""The answer in English form for English askers."""

from __future__ import annotations

import pytest

from qa.answer.lead import english_lead


@pytest.mark.parametrize(
    ("kind", "question", "span", "lead"),
    [
        (
            "who",
            "Who chaired the national online conference?",
            "Trương Thị Mai",
            "Chaired by Trương Thị Mai (Truong Thi Mai)",
        ),
        (
            "who",
            "Who headed the commission?",
            "Phạm Minh Chính",
            "Headed by Phạm Minh Chính (Pham Minh Chinh)",
        ),
        ("who", "Which team won?", "Denver Broncos", "Name: Denver Broncos"),
        ("when", "When was Directive No. 24 issued?", "7/8/2023", "On 7 August 2023"),
        ("when", "When was the review held?", "ngày 9-2", "On 9 February"),
        ("when", "When?", "26/12", "On 26 December"),
        ("when", "When?", "tháng 8/2023", "In August 2023"),
        ("when", "When?", "năm 2023", "In 2023"),
        ("when", "When?", "mùa xuân", None),
        ("how_many", "How many positions?", "1.549 biên chế", "Number: 1,549 biên chế"),
        ("how_many", "How many?", "2,5%", "Number: 2.5%"),
        ("how_many", "How many items?", "12/12", "Number: 12/12"),
        ("how_many", "How many?", "mười một", "Number: mười một"),
        ("where", "Where was it held?", "Hà Nội", "In Hà Nội (Ha Noi)"),
        ("other", "Why?", "vì sao", None),
    ],
)
def test_spans_in_english_form(kind: str, question: str, span: str, lead: str | None) -> None:
    assert english_lead(kind, question, span) == lead
