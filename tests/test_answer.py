from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from qa.answer.evidence import (
    NOT_FOUND_EN,
    NOT_FOUND_VI,
    _span,
    evidence_in,
)
from qa.answer.reader import Reading
from qa.answer.wire import answer_json
from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.errors import QuestionError
from qa.lang.patterns import QuestionKind, holds_name, question_kind, vietnamese_names

from .conftest import write_corpus


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who chaired the 2018 review meeting?", QuestionKind.WHO),
        ("Ai chủ trì hội nghị?", QuestionKind.WHO),
        ("ai chu tri hoi nghi", QuestionKind.WHO),
        ("When was the plan issued?", QuestionKind.WHEN),
        ("Hội nghị diễn ra ngày nào?", QuestionKind.WHEN),
        ("How many positions were cut?", QuestionKind.HOW_MANY),
        ("tinh giản bao nhiêu biên chế", QuestionKind.HOW_MANY),
        ("Which article covers the conference?", QuestionKind.WHICH_ARTICLE),
        ("In what year did the war end?", QuestionKind.WHEN),
        ("Where was Super Bowl 50 played?", QuestionKind.WHERE),
        ("Trận đấu diễn ra ở đâu?", QuestionKind.WHERE),
        ("What does Conclusion 40 concern?", QuestionKind.OTHER),
        ("Chứng chỉ giảng dạy thường kéo dài bao lâu?", QuestionKind.HOW_MANY),  # a duration
        ("Chung chi giang day thuong keo dai bao lau?", QuestionKind.HOW_MANY),
        ("Bài “Ai chủ trì hội nghị bao nhiêu lần” nói gì?", QuestionKind.ABOUT_ARTICLE),
        ("bai hoi nghi truc tuyen noi ve gi", QuestionKind.ABOUT_ARTICLE),
        ("What does the article “Hanoi cuts staff” say?", QuestionKind.ABOUT_ARTICLE),
        ("Bài báo nói gì về tinh giản biên chế?", QuestionKind.OTHER),  # about staff cuts, not the article
    ],
)
def test_question_kind(question: str, kind: QuestionKind) -> None:
    assert question_kind(question) is kind


@pytest.mark.parametrize(
    ("kind", "sentence", "span"),
    [
        (QuestionKind.HOW_MANY, "Đội thủ của Panthers chỉ thua 308 điểm, đứng thứ sáu.", "308 điểm"),
        (QuestionKind.HOW_MANY, "Thành phố có mười một quận.", "mười một quận"),
        (QuestionKind.WHEN, "Nhà thờ được xây xong vào năm 1889 sau nhiều năm.", "năm 1889"),
        (QuestionKind.WHEN, "Chiến tranh kết thúc năm 1945.", "năm 1945"),
        (QuestionKind.WHERE, "Trận đấu được tổ chức tại Santa Clara, California.", "Santa Clara"),
        (QuestionKind.WHO, "Trận đấu ở Santa Clara có sự góp mặt của Peyton Manning.", "Peyton Manning"),
        (QuestionKind.WHO, "Đồng chí Trương Thị Mai chủ trì hội nghị.", "Trương Thị Mai"),
    ],
)
def test_the_span_is_what_the_question_asks_for(kind: QuestionKind, sentence: str, span: str) -> None:
    found = _span(kind, sentence, "?")
    assert found is not None and sentence[found[0] : found[1]] == span


def test_an_english_span_lines_up_only_with_translations_the_sentence_holds_as_words() -> None:
    sentence = "Thành phố tinh giản được 1.549 biên chế, gồm 564 biên chế công chức, 668 biên chế viên chức."
    found = _span(QuestionKind.HOW_MANY, sentence, "How many staff positions did Hanoi cut?")  # nhân viên
    assert found is not None and sentence[found[0] : found[1]] == "1.549 biên chế"


def test_who_question_marks_the_name(engine: Engine) -> None:
    answer = engine.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?", top_k=2)
    assert answer.answerable
    assert "**Trương Thị Mai**" in answer.answer
    assert answer.sources[0].doc_id == "a_conference"
    assert answer.evidence is not None
    assert evidence_in(answer.sources[0], answer.evidence) is not None


def test_how_many_question_marks_the_number(engine: Engine) -> None:
    answer = engine.ask("Thành phố đã tinh giản được bao nhiêu biên chế?")
    assert "**1.549 biên chế**" in answer.answer


def test_json_shape_is_the_documented_one(engine: Engine) -> None:
    data = answer_json(engine.ask("Trương Tấn Sang làm việc với ai?", top_k=2))
    assert list(data) == ["question", "answer", "answerable", "confidence", "lead", "short_answer", "sources"]
    assert len(data["sources"]) == 2
    for source in data["sources"]:
        assert list(source) == ["doc_id", "title", "url", "text", "score", "start", "end"]
        document = engine.index.documents[source["doc_id"]]
        assert document.text[source["start"] : source["end"]] == source["text"]


def test_weak_evidence_abstains(settings: Settings) -> None:
    strict = Engine.open(settings.model_copy(update={"min_confidence": 1.0}), FakeEmbedder())
    answer = strict.ask("Who won the 2022 FIFA World Cup?")
    assert not answer.answerable
    assert answer.answer == NOT_FOUND_EN
    assert answer.sources == ()
    # "not found" in the question's language, with or without diacritics
    for question in ("Ai vô địch Ngoại hạng Anh năm 2023?", "ai vo dich giai ngoai hang anh nam 2023"):
        assert strict.ask(question).answer == NOT_FOUND_VI


def test_an_article_that_lacks_a_name_the_question_gives_does_not_answer_it(settings: Settings) -> None:
    lenient = Engine.open(settings.model_copy(update={"min_confidence": 0.0}), FakeEmbedder())
    assert lenient.ask("Thành phố đã tinh giản được bao nhiêu biên chế?").answerable
    for question, not_found in [
        ("Thành phố Hồ Chí Minh đã tinh giản được bao nhiêu biên chế?", NOT_FOUND_VI),
        ("How many staff positions did Ho Chi Minh City cut?", NOT_FOUND_EN),
    ]:
        answer = lenient.ask(question)
        assert not answer.answerable and answer.answer == not_found and answer.sources == ()
    # the names the article writes, in any case, with or without diacritics
    assert lenient.ask("What did Truong Tan Sang do with the Ha Noi Party Committee?").answerable


def test_vietnamese_names_are_the_runs_of_capitalised_vietnamese_syllables() -> None:
    question = "Did Truong Tan Sang meet Long Bien and the Super Bowl champions in Ho Chi Minh City?"
    names = [("truong", "tan", "sang"), ("long", "bien"), ("ho", "chi", "minh")]
    assert vietnamese_names(question, english=True) == names
    assert vietnamese_names("Hà Nội tinh giản bao nhiêu biên chế?", english=False) == []  # the first word
    # in a Vietnamese question, full names only: "Châu Âu" (Europe) may be written otherwise
    asked = "Lãnh đạo Châu Âu nào gặp Trương Tấn Sang ở Thành phố Hồ Chí Minh?"
    assert vietnamese_names(asked, english=False) == [("truong", "tan", "sang"), ("ho", "chi", "minh")]
    assert holds_name("Tại TP.HCM và TPHCM", ("ho", "chi", "minh"))  # abbreviated by initials
    assert holds_name("đồng chí Trương Tấn Sang", ("truong", "tan", "sang"))
    assert not holds_name("Thành ủy Hà Nội", ("ho", "chi", "minh"))


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "empty"),
        ("   \n\t", "empty"),
        ("a" * 1001, "limit is 1000"),
        ("bad\x00byte", "NUL"),
        ("lone \ud800 surrogate", "surrogate"),
    ],
)
def test_unusable_questions_are_refused(engine: Engine, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        engine.ask(question)


@pytest.mark.parametrize("top_k", [0, -1, 21])
def test_top_k_out_of_range_is_refused(engine: Engine, top_k: int) -> None:
    with pytest.raises(QuestionError, match="top_k"):
        engine.ask("hội nghị", top_k)


def test_short_answer_travels_as_offsets(engine: Engine) -> None:
    answer = engine.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")
    short = answer.short_answer
    assert short is not None and short.text == "Trương Thị Mai"
    assert engine.index.documents[short.doc_id].text[short.start : short.end] == short.text
    data = answer_json(answer)
    assert data["short_answer"] == {
        "doc_id": "a_conference",
        "text": "Trương Thị Mai",
        "start": short.start,
        "end": short.end,
    }


def test_bold_in_an_article_is_text_not_the_answer_mark(tmp_path: Path) -> None:
    from qa.server.pages import turn

    corpus = write_corpus(
        tmp_path / "md",
        {"bold.txt": "Hội nghị\n\nTheo **báo cáo**, đồng chí Trương Thị Mai chủ trì hội nghị trực tuyến.\n"},
    )
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake")
    engine = Engine.open(settings, FakeEmbedder())
    answer = engine.ask("Ai chủ trì hội nghị trực tuyến?")
    segments = turn(answer, engine.index).answer
    assert [s.text for s in segments if s.kind == "answer"] == ["Trương Thị Mai"]
    assert "Theo **báo cáo**, đồng chí " in "".join(s.text for s in segments)


def test_how_many_marks_the_number_of_what_the_question_counts(tmp_path: Path) -> None:
    from qa.lang.units import wanted_units

    assert wanted_units("How many staff positions did Hanoi cut?")[0] == "bien che"
    assert wanted_units("tinh giản được bao nhiêu biên chế")[0] == "bien che"
    assert wanted_units("How much?") == ()
    text = "Tin\n\nThành phố đã giảm 59 phòng, ban và tinh giản 1.549 biên chế trong năm qua.\n"
    corpus = write_corpus(tmp_path / "a", {"x.txt": text})
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake", min_confidence=0.0)
    engine = Engine.open(settings, FakeEmbedder())
    english = engine.ask("How many staff positions did the city cut?")
    assert english.short_answer is not None and english.short_answer.text == "1.549 biên chế"
    vietnamese = engine.ask("Thành phố giảm bao nhiêu phòng?")
    assert vietnamese.short_answer is not None and vietnamese.short_answer.text.startswith("59 phòng")


def test_an_english_question_for_a_named_thing_gets_the_name(tmp_path: Path) -> None:
    text = "Tin\n\nTrong trận chung kết, đội Denver Broncos đã giành chiến thắng trước Carolina Panthers.\n"
    corpus = write_corpus(tmp_path / "a", {"x.txt": text})
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake", min_confidence=0.0)
    answer = Engine.open(settings, FakeEmbedder()).ask("Which team won the final against Carolina Panthers?")
    assert answer.short_answer is not None and answer.short_answer.text == "Denver Broncos"
    assert answer.lead == "Name: Denver Broncos"


class _Reader:
    """A reader that finds ``answer`` wherever it stands, with ``margin``, and "no answer" elsewhere."""

    def __init__(self, answer: str, margin: float) -> None:
        self.answer, self.margin = answer, margin
        self.read_sentences: list[str] = []

    def read(self, question: str, sentences: Sequence[str]) -> list[Reading]:
        self.read_sentences += sentences
        out = []
        for sentence in sentences:
            at = sentence.find(self.answer)
            found = at >= 0
            out.append(Reading(at, at + len(self.answer), self.margin if found else -9.0, 0.0))
        return out


def test_the_reader_marks_a_vietnamese_questions_span_in_the_rules_sentence(engine: Engine) -> None:
    reader = _Reader("trực tuyến toàn quốc", 5.0)  # where the rules mark the chair's name
    vietnamese = replace(engine, reader=reader).ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")
    assert reader.read_sentences == [vietnamese.evidence.text if vietnamese.evidence else ""]
    assert vietnamese.short_answer is not None and vietnamese.short_answer.text == "trực tuyến toàn quốc"
    assert "**trực tuyến toàn quốc**" in vietnamese.answer


def test_a_reader_span_of_more_than_ten_words_gives_way_to_the_rules(engine: Engine) -> None:
    long = "Đồng chí Trương Thị Mai chủ trì hội nghị trực tuyến toàn quốc"  # 12 words: the whole sentence
    reader = _Reader(long, 5.0)
    answer = replace(engine, reader=reader).ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")
    assert reader.read_sentences  # it was read
    assert answer.short_answer is not None and answer.short_answer.text == "Trương Thị Mai"


def test_the_rules_keep_english_and_unaccented_spans_and_those_the_reader_finds_none_in(
    engine: Engine,
) -> None:
    reader = _Reader("Hà Nội", 5.0)
    for question in (
        "Who chaired the Hoi nghi truc tuyen toan quoc?",
        "Ai chu tri hoi nghi truc tuyen toan quoc?",
    ):
        answer = replace(engine, reader=reader).ask(question)
        assert answer.short_answer is not None and answer.short_answer.text == "Trương Thị Mai", question
    assert not reader.read_sentences
    silent = replace(engine, reader=_Reader("không có ở đâu", 5.0))  # no span from the reader: the rules'
    plain = engine.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?")
    assert silent.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?").short_answer == plain.short_answer
    assert plain.answer == silent.ask("Ai chủ trì hội nghị trực tuyến toàn quốc?").answer


@pytest.mark.parametrize(
    ("sentence", "person", "title"),
    [
        (
            "Về phía Thành ủy có: Hoàng Trung Hải, Ủy viên Bộ Chính trị, Bí thư Thành ủy; Ngô Thị Thanh "
            "Hằng, Phó Bí thư.",
            "Hoang Trung Hai",
            "Ủy viên Bộ Chính trị, Bí thư Thành ủy",
        ),
        (
            "Đồng chí Trương Thị Mai, Trưởng Ban Tổ chức Trung ương chủ trì hội nghị.",
            "Trương Thị Mai",
            "Trưởng Ban Tổ chức Trung ương",
        ),
        (
            "Tới dự có Trưởng Ban Tổ chức T.Ư Phạm Minh Chính, các đồng chí Phó Ban.",
            "Phạm Minh Chính",
            "Trưởng Ban Tổ chức T.Ư",
        ),
        (
            "Nghị quyết khóa XII, Trưởng ban Tổ chức Thành ủy Vũ Đức Bảo cho biết.",
            "Vũ Đức Bảo",
            "Trưởng ban Tổ chức Thành ủy",
        ),
        ("Đồng chí Hoàng Trung Hải tiếp thu các ý kiến.", "Hoàng Trung Hải", None),
        ("Tổng thống Donald Trump tiếp Thủ tướng Nguyễn Xuân Phúc.", "Nguyen Xuan Phuc", "Thủ tướng"),
        (
            "Nguyễn Phú Trọng, Bí thư Quân ủy Trung ương tiếp Thượng tướng Lý Văn Long.",
            "Nguyễn Phú Trọng",
            "Bí thư Quân ủy Trung ương",
        ),
        ("Nguyễn Đức Chung, Chủ tịch UBND thành phố; bà Lan.", "Nguyễn Đức Chung", "Chủ tịch UBND thành phố"),
    ],
)
def test_a_persons_title_is_found_around_their_name(sentence: str, person: str, title: str | None) -> None:
    from qa.answer.focus import role_span

    found = role_span(sentence, person)
    assert (sentence[found[0] : found[1]] if found else None) == title


MEETING = (
    "Hội nghị sơ kết chương trình phối hợp\n\n"
    "T.Hương | 09/02/2018\n\n"
    "Chiều ngày 9-2, Thành ủy Hà Nội và Ban Tổ chức Trung ương tổ chức hội nghị sơ kết chương trình "
    "phối hợp.\n\n"
    "Tham gia hội nghị về phía Ban Tổ chức Trung ương có các đồng chí: Phạm Minh Chính, Trưởng ban Tổ chức "
    "Trung ương; Mai Văn Chính, Phó Trưởng ban.\n\n"
    "Về phía Thành ủy Hà Nội có các đồng chí: Hoàng Trung Hải, Bí thư Thành ủy; Nguyễn Đức Chung, Chủ tịch "
    "UBND thành phố.\n\n"
    "Đồng chí Hoàng Trung Hải tiếp thu các ý kiến của hội nghị sơ kết về chương trình phối hợp.\n"
)


@pytest.fixture
def meeting(tmp_path: Path) -> Engine:
    corpus = write_corpus(tmp_path / "m", {"meeting.txt": MEETING})
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake", min_confidence=0.0)
    return Engine.open(settings, FakeEmbedder())


def test_who_is_a_person_is_answered_with_their_title(meeting: Engine) -> None:
    for question in (
        "Hoàng Trung Hải là ai?",
        "Who is Hoang Trung Hai?",
        "hoang trung hai la ai",
        "Hoàng Trung Hải giữ chức vụ gì?",
        "What position does Hoang Trung Hai hold?",
    ):
        answer = meeting.ask(question)
        assert answer.short_answer is not None and answer.short_answer.text == "Bí thư Thành ủy", question
        assert answer.evidence is not None and answer.evidence.text.startswith("Về phía Thành ủy")


def test_what_an_article_says_is_its_lead_not_its_title(meeting: Engine) -> None:
    answer = meeting.ask("Bài “Hội nghị sơ kết chương trình phối hợp” nói gì?")
    assert answer.answer.startswith("Chiều ngày 9-2, Thành ủy Hà Nội") and answer.short_answer is None


def test_who_chaired_a_meeting_its_article_does_not_say_is_who_led_its_sides(meeting: Engine) -> None:
    answer = meeting.ask("Who chaired the review meeting?")
    assert "**Phạm Minh Chính**" in answer.answer and "**Hoàng Trung Hải**" in answer.answer
    assert answer.short_answer is not None and answer.short_answer.text == "Phạm Minh Chính"
    assert answer.lead == "Led by Phạm Minh Chính (Pham Minh Chinh) and Hoàng Trung Hải (Hoang Trung Hai)"
    assert any(evidence_in(source, answer.evidence) for source in answer.sources)  # what is cited is shown
    said = meeting.ask("Ai chủ trì hội nghị sơ kết?")
    assert said.evidence == answer.evidence and said.lead is None


def test_who_chaired_a_meeting_its_article_names_is_the_chair(tmp_path: Path) -> None:
    text = MEETING.replace(
        "Đồng chí Hoàng Trung Hải tiếp thu", "Đồng chí Hoàng Trung Hải chủ trì hội nghị, tiếp thu"
    )
    corpus = write_corpus(tmp_path / "m", {"meeting.txt": text})
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake", min_confidence=0.0)
    answer = Engine.open(settings, FakeEmbedder()).ask("Who chaired the review meeting?")
    assert answer.short_answer is not None and answer.short_answer.text == "Hoàng Trung Hải"
    assert answer.lead == "Chaired by Hoàng Trung Hải (Hoang Trung Hai)"
