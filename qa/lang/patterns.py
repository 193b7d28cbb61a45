"""Entity patterns (Vietnamese full names, dates, numbers with their units, places) and question kinds:
what a question asks for, which decides the answer span to mark. Pure regular expressions over NFC text."""

from __future__ import annotations

import re
from enum import Enum

from .text import fold, is_vietnamese_syllable, syllables, tokens
from .units import counts

SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Trương",
    "Đào",
    "Đoàn",
    "Vương",
    "Trịnh",
    "Đinh",
    "Lâm",
    "Phùng",
    "Mai",
    "Tô",
    "Tạ",
    "Hà",
    "Lương",
    "Cao",
    "Châu",
    "Thái",
    "Lưu",
    "Quách",
    "Triệu",
    "Hứa",
    "Kiều",
    "Chu",
    "Tăng",
    "Khổng",
    "Văn",
    "Thân",
)
_LATIN = [chr(c) for c in range(0x41, 0x1EFA)]  # Basic Latin .. Latin Extended Additional (Vietnamese)
UPPER = "".join(c for c in _LATIN if c.isupper() and c.isalpha())
LOWER = "".join(c for c in _LATIN if c.islower() and c.isalpha())
UPPER_SYLLABLE = f"[{UPPER}][{LOWER}]*"
# Full names have three or four syllables; two-syllable runs are mostly places ("Hà Nội", "Hoàng Mai").
NAME = re.compile(rf"\b(?:{'|'.join(SURNAMES)})(?:\s+{UPPER_SYLLABLE}){{2,3}}\b")
_YEAR = r"\b(?:1[0-9]{3}|20[0-9]{2})\b"
DATE = re.compile(
    r"\b(?:ngày\s+)?\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b|\b(?:ngày\s+\d{1,2}\s+)?(?:tháng\s+\d{1,2}"
    r"(?:[/-]\d{4}|\s+năm\s+\d{4})?|năm\s+\d{4})\b|\bthế kỷ\s+[\dIVXLC]+\b|" + _YEAR,
    re.IGNORECASE,
)
NUMBER_WORDS = (
    "một|hai|ba|bốn|tư|năm|sáu|bảy|tám|chín|mười|mươi|mốt|lăm|trăm|nghìn|ngàn|triệu|tỷ|tỉ|linh|lẻ|rưỡi"
)
# digits, or Vietnamese numbers written as words ("mười một"), then up to two lower-case words (the unit);
# "năm" before digits is the year ("năm 1991"), not five
NUMBER = re.compile(
    rf"(?:\b\d+(?:[.,]\d+)*(?:/\d+)?\b|\b(?:{NUMBER_WORDS})(?:\s+(?:{NUMBER_WORDS}))*\b(?!\s+\d))"
    rf"(?:\s*%|(?:\s+[{LOWER}]+){{0,2}})",
    re.IGNORECASE,
)
LEADING_NUMBER = re.compile(r"^[^\s%]+")  # "91%" leaves "%", its unit
PLACE = re.compile(rf"\b(?:ở|tại|trong|từ|đến)\s+({UPPER_SYLLABLE}(?:\s+{UPPER_SYLLABLE}){{0,3}})\b")


class QuestionKind(Enum):
    """What a question asks for, which decides the span to mark."""

    WHO = "who"
    WHERE = "where"
    WHEN = "when"
    HOW_MANY = "how_many"
    WHICH_ARTICLE = "which_article"
    ABOUT_ARTICLE = "about_article"  # what an article says: its lead, not one of its facts
    OTHER = "other"


_KIND_PATTERNS = (
    (
        # "Bài “...” nói gì?", "What does the article “...” say?", "Tóm tắt bài ...": before the others, as
        # the title quoted may hold any question word; "nói gì về X" asks about X instead
        QuestionKind.ABOUT_ARTICLE,
        r"\b(bai|bai bao|bai viet|tin)\b.*\bnoi (ve )?(gi|dieu gi|chuyen gi|nhung gi)\W*$|\btom tat\b"
        r"|\bnoi dung (chinh )?(cua )?(bai|tin)\b|\bsummari[sz]e\b"
        r"|\bwhat (does|did|is) (the |this |that )?(article|story|report|piece)\b.*\b(say|about)\W*$",
    ),
    (
        QuestionKind.WHICH_ARTICLE,
        r"\bwhich (article|story|report|news|piece)\b|\bbai (bao|viet) nao\b|\btin nao\b",
    ),
    (
        QuestionKind.HOW_MANY,
        r"\bhow (many|much)\b|\bpercent(age)?\b|\bbao nhieu\b|\bso luong\b|\bmay (nguoi|don vi|tap the)\b",
    ),
    (
        QuestionKind.WHEN,
        r"\bwhen\b|\b(what|which) (date|day|year|month|century|decade)\b|\bin what year\b|\bkhi nao\b"
        r"|\bbao gio\b|\b(ngay|thang|nam|the ky|thoi gian) nao\b|\bluc nao\b|\bnam bao nhieu\b",
    ),
    (
        QuestionKind.HOW_MANY,
        r"\bhow (many|much|long|large|big|old|far)\b|\bbao nhieu\b|\bso luong\b|\bmay\b|\bbao lau\b",
    ),
    (QuestionKind.WHERE, r"\bwhere\b|\bo dau\b|\btai dau\b|\bnoi nao\b|\bo (thanh pho|nuoc|tinh) nao\b"),
    (QuestionKind.WHO, r"\bwho(m|se)?\b|\bai\b|\bnguoi nao\b|\bdong chi nao\b|\b(doi|to chuc|cong ty) nao\b"),
)


# "what team", "which Panthers player", "the name of": an English question asking for a name
ENGLISH_NAMED = re.compile(
    r"\b(?:what|which)\s+(?:\w+\s+)?(?:team|country|city|company|player|person|organi[sz]ation|group"
    r"|university|college|school|state|nation|river|region|continent|band|network|channel|satellite|church"
    r"|party|king|emperor|president|leader|actor|actress|artist|scientist|author|writer|museum|stadium"
    r"|court|agency|institution|league|station|island|county|province|language|religion|award|brand)s?\b"
    r"|\bname of\b",
    re.IGNORECASE,
)


# what a question of each kind asks for, strictly: a sentence holding one gets the typed bonus
# (qa/answer/evidence.py)
TYPED: dict[QuestionKind, re.Pattern[str]] = {
    QuestionKind.WHO: NAME,
    QuestionKind.WHERE: PLACE,
    QuestionKind.WHEN: DATE,
    QuestionKind.HOW_MANY: NUMBER,
}


def person_names(text: str) -> list[str]:
    """Vietnamese full names in ``text`` (a known surname and two or three capitalised syllables on one
    line; "Hà Nội ..." is the city)."""
    return [m.group(0) for m in person_name_matches(text)]


def person_name_matches(text: str) -> list[re.Match[str]]:
    return [m for m in NAME.finditer(text) if "\n" not in m.group(0) and not m.group(0).startswith("Hà Nội")]


# "Who is Hoang Trung Hai?", "Hoàng Trung Hải là ai?": the question names the person and asks what they
# are, so no other name is the answer
_PERSON = rf"{UPPER_SYLLABLE}(?:\s+{UPPER_SYLLABLE}){{1,3}}"
_IDENTITY = re.compile(
    rf"^\s*(?:[Ww]ho\s+(?:is|was)\s+(?P<asked>{_PERSON})|(?P<named>{_PERSON})\s+là\s+ai)\s*\??\s*$",
)


_FOLDED_SURNAMES = frozenset(fold(s) for s in SURNAMES)
# the same asked of a full name in any case, folded: "hoang trung hai la ai", "vu duc bao giu chuc gi",
# "What position does Vu Duc Bao hold?"
_FOLDED_IDENTITY = re.compile(
    r"^\s*(?:who\s+(?:is|was)\s+(?P<asked>[a-z]+(?:\s+[a-z]+){2,3})"
    r"|what\s+(?:position|post|title|role|job)\s+(?:does|did)\s+(?P<holds>[a-z]+(?:\s+[a-z]+){2,3})\s+hold"
    r"|(?P<named>[a-z]+(?:\s+[a-z]+){2,3})\s+(?:la\s+ai|giu\s+chuc(?:\s+vu)?\s+gi|la\s+nguoi\s+nao))"
    r"\s*\??\s*$",
)


def identity_of(question: str) -> str | None:
    """The person a "Who is X?" / "X là ai?" / "X giữ chức gì?" question asks about, as written, if it is
    one (a full name: a known surname and two or three more syllables, with or without diacritics)."""
    folded = fold(question)
    match = _FOLDED_IDENTITY.match(folded)
    if match is None:
        return None
    group = next(g for g in ("asked", "holds", "named") if match.group(g))
    # folding keeps every character of NFC text in its place, so the name is cut from the question as written
    at = slice(match.start(group), match.end(group))
    name = question[at] if len(folded) == len(question) else folded[at]
    return name if fold(name.split()[0]) in _FOLDED_SURNAMES else None


def vietnamese_names(question: str, english: bool) -> list[tuple[str, ...]]:
    """The names ``question`` writes in Vietnamese syllables, folded: runs of two or more capitalised words
    past the first that are each a Vietnamese syllable ("Ho Chi Minh", "Long Bien"; not "Super Bowl"). In
    a Vietnamese question only full names count (a known surname and two or three syllables: "Hồ Chí Minh";
    not "Châu Âu", which an article may write otherwise)."""
    names: list[tuple[str, ...]] = []
    run: list[str] = []
    for i, token in enumerate([*tokens(question), ""]):
        if i and token[:1].isupper() and token[1:].islower() and is_vietnamese_syllable(fold(token)):
            run.append(fold(token))
            continue
        if len(run) >= 2 and (english or (run[0] in _FOLDED_SURNAMES and 3 <= len(run) <= 4)):
            names.append(tuple(run))
        run = []
    return names


def holds_name(text: str, name: tuple[str, ...]) -> bool:
    """Whether ``text`` writes ``name`` (:func:`vietnamese_names`): its syllables in a row, in any case and
    with or without diacritics, or its initials as an abbreviation ("TP.HCM" holds "Ho Chi Minh")."""
    if f" {' '.join(name)} " in f" {' '.join(syllables(text))} ":
        return True
    initials = "".join(syllable[0] for syllable in name).upper()
    return re.search(rf"{initials}(?![A-ZĐ])", text) is not None  # "TPHCM" too


def question_kind(question: str) -> QuestionKind:
    """Classify an English or Vietnamese (with or without diacritics) question."""
    if _IDENTITY.match(question) or identity_of(question):
        return QuestionKind.OTHER
    folded = fold(question)
    for kind, pattern in _KIND_PATTERNS:
        if re.search(pattern, folded):
            return kind
    return QuestionKind.OTHER


def counted(number: str, units: tuple[str, ...]) -> bool:
    """Whether a number match ("1.549 biên chế") counts one of ``units``."""
    return counts(LEADING_NUMBER.sub("", number, count=1), units)
