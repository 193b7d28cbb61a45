from __future__ import annotations

import pytest

from qa.answer.evidence import _span
from qa.answer.spans import aligned_span
from qa.lang.patterns import question_kind

SHELBROOKE = (
    "Nghị sĩ Alec Shelbrooke đã đề xuất thanh toán các khoản trợ cấp và tín dụng thuế bằng "
    '"Thẻ Tiền mặt Phúc lợi", theo kiểu của Chương trình Hỗ trợ.'
)
GEOLOGY = (
    "Dữ liệu địa vật lý và nhật ký giếng khoan có thể được kết hợp để tạo ra cái nhìn rõ hơn về phần dưới "
    "bề mặt."
)
SACKS = (
    "Jared Allen, người tham gia Pro Bowl 5 lần, dẫn đầu về số lần vật ngã trong sự nghiệp NFL với 136 lần."
)

EU = (
    "Trong khi Ủy ban độc quyền trong việc dự thảo pháp luật, Nghị viện Châu Âu và Hội đồng Liên minh "
    "Châu Âu có quyền sửa đổi và phủ quyết trong quá trình lập pháp."
)
AMAZON = (
    "Bảy mươi phần trăm đất rừng trước đây ở Amazon và 91% đất bị phá rừng từ năm 1970 được sử dụng cho đồng "
    "cỏ chăn nuôi."
)


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        # the words before the question word frame the answer ("bằng" ... "Thẻ Tiền mặt Phúc lợi")
        (
            "Alec Shelbrooke đã đề xuất thanh toán các khoản trợ cấp bằng gì?",
            SHELBROOKE,
            "Thẻ Tiền mặt Phúc lợi",
        ),
        # and typed without diacritics the same way
        (
            "Alec Shelbrooke da de xuat thanh toan cac khoan tro cap bang gi?",
            SHELBROOKE,
            "Thẻ Tiền mặt Phúc lợi",
        ),
        # "điều gì" first: the words after it frame the answer, "và" is not part of it
        (
            "Điều gì có thể được kết hợp với dữ liệu địa vật lý để tạo ra cái nhìn rõ hơn?",
            GEOLOGY,
            "nhật ký giếng khoan",
        ),
        # "cầu thủ nào" asks for a name
        (
            "Cầu thủ nào của Panthers đã bị phạt?",
            "Lỗi giữ người của trung vệ Josh Norman đã tạo cho Broncos một loạt lượt chơi mới.",
            "Josh Norman",
        ),
        # a duration: the number the question's words frame, with its unit
        (
            "Chứng chỉ giảng dạy thường kéo dài bao lâu?",
            "Chứng chỉ giảng dạy thường kéo dài ba năm, nhưng có thể kéo dài đến mười năm.",
            "ba năm",
        ),
        # a number's unit stops at the first function word
        ("Họ ghi bao nhiêu điểm trong ba phút cuối?", "Họ ghi 11 điểm trong ba phút cuối.", "11 điểm"),
        # of two numbers, the one the question's words frame
        ("Jared Allen có bao nhiêu lần vật ngã trong sự nghiệp?", SACKS, "136 lần"),
        # a Vietnamese full name over the titles after it; "Đồng chí" opening the sentence is no name
        (
            "Ai chủ trì hội nghị?",
            "Đồng chí Trương Thị Mai, Ủy viên Bộ Chính trị, chủ trì hội nghị.",
            "Trương Thị Mai",
        ),
        (
            "Who chaired the conference?",
            "Đồng chí Trương Thị Mai, Ủy viên Bộ Chính trị, chủ trì hội nghị.",
            "Trương Thị Mai",
        ),
        # where: the name after "tại", not the one after "của"
        (
            "Trận đấu được tổ chức ở đâu?",
            "Trận đấu của Denver Broncos được tổ chức tại Santa Clara, California.",
            "Santa Clara",
        ),
        # an organisation's name with the lower-case syllables of its words ("Ủy ban", "Hội đồng")
        ("Tổ chức nào có độc quyền trong việc dự thảo pháp luật?", EU, "Ủy ban"),
        ("Tổ chức nào có quyền sửa đổi và phủ quyết?", EU, "Hội đồng Liên minh Châu Âu"),
        # a percentage: the number with "%", whole
        ("Bao nhiêu phần trăm đất bị phá rừng được dùng cho chăn nuôi?", AMAZON, "91%"),
        ("What percentage of the cleared land is used for livestock?", AMAZON, "91%"),
    ],
)
def test_the_question_lines_up_with_its_answer(question: str, sentence: str, span: str) -> None:
    found = _span(question_kind(question), sentence, question)
    assert found is not None and sentence[found[0] : found[1]] == span


def test_one_capitalised_vietnamese_word_is_no_name() -> None:
    # "Đội", "Ban", "Bộ" capitalised open titles; a foreign name alone ("Newton") is a name
    sentence = "Newton chuyền bóng để Đội ghi bàn."
    found = aligned_span("Cầu thủ nào ghi bàn?", sentence, asks="name")
    assert found is not None and sentence[found[0] : found[1]] == "Newton"


def test_an_english_question_marks_only_what_it_asks_for() -> None:
    sentence = "Đồng chí Trương Thị Mai chủ trì hội nghị."
    assert _span(question_kind("What did she chair?"), sentence, "What did she chair?") is None


def test_nothing_to_mark() -> None:
    assert aligned_span("Gì?", "") is None
    assert aligned_span("Ai?", "hội nghị.", asks="name", any_run=False) is None
    # every word of the sentence is in the question
    assert aligned_span("hội nghị là gì?", "Hội nghị.") is None
