"""The answer in English form, for English askers: "Chaired by Trương Thị Mai (Truong Thi Mai)",
"On 7 August 2023", "Number: 1,549 biên chế", "In Hà Nội (Ha Noi)".

Vietnamese spans are read as written: dates as day/month/year ("7/8/2023", "ngày 9-2", "tháng 8/2023",
"năm 2023"), numbers with "." grouping thousands and "," as the decimal mark.
"""

from __future__ import annotations

import re

from ..lang.text import without_diacritics

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_VERB_LEADS = (
    (re.compile(r"\bchair", re.IGNORECASE), "Chaired by"),
    (re.compile(r"\b(head|lead)", re.IGNORECASE), "Headed by"),
    (re.compile(r"\bpresent", re.IGNORECASE), "Presented by"),
    (re.compile(r"\bsign", re.IGNORECASE), "Signed by"),
    (re.compile(r"\bspeak|\bspoke|\bsaid\b|\bsay\b", re.IGNORECASE), "Said by"),
)
_DMY = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*((?:19|20)\d{2}))?(?!\d)")
_MONTH_YEAR = re.compile(r"tháng\s+(\d{1,2})\s*(?:[/-]|\s+năm\s+)\s*((?:19|20)\d{2})", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:1[0-9]|20)\d{2})(?!\d)")
_NUMBER = re.compile(r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(?![\d])")


def english_lead(kind: str, question: str, span: str) -> str | None:
    """The lead line for an answer ``span`` to an English ``question`` of ``kind`` ("who", "when",
    "how_many", "where"); None when the span cannot be put in English form."""
    span = " ".join(span.split())
    if kind == "who":
        lead = next((text for pattern, text in _VERB_LEADS if pattern.search(question)), "Name:")
        return f"{lead} {with_plain(span)}"
    if kind == "when":
        when = english_date(span)
        return None if when is None else (f"On {when}" if re.match(r"\d{1,2} ", when) else f"In {when}")
    if kind == "how_many":
        return english_quantity(span)
    if kind == "where":
        return f"In {with_plain(span)}"
    return None


def with_plain(name: str) -> str:
    """A name as written, plus its diacritic-free form if different: "Trương Thị Mai (Truong Thi Mai)"."""
    plain = without_diacritics(name)
    return name if plain == name else f"{name} ({plain})"


def english_date(span: str) -> str | None:
    """The date in English: "7 August 2023" for "7/8/2023", "9 February" for "ngày 9-2", "August 2023",
    "2023"; None when the span holds no date."""
    if match := _MONTH_YEAR.search(span):
        month, year = int(match.group(1)), match.group(2)
        return f"{MONTHS[month - 1]} {year}" if 1 <= month <= 12 else None
    if match := _DMY.search(span):
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if 1 <= day <= 31 and 1 <= month <= 12:
            return f"{day} {MONTHS[month - 1]}" + (f" {year}" if year else "")
    if match := _YEAR.search(span):
        return match.group(1)
    return None


def english_quantity(span: str) -> str | None:
    """ "Number: 1,549 biên chế" for "1.549 biên chế" (English grouping; the article's unit kept)."""
    match = _NUMBER.search(span)
    if match is None:
        return f"Number: {span}" if span else None
    whole = int(match.group(1).replace(".", ""))
    number = f"{whole:,}" + (f".{match.group(2)}" if match.group(2) else "")
    rest = span[match.end() :]
    if rest.startswith(("/", "%")):  # "12/12", "2,5%": the fraction or percent stays with the number
        glued = re.match(r"[/%]\d*", rest)
        number += glued.group(0) if glued else ""
        rest = rest[len(glued.group(0)) if glued else 0 :]
    before = span[: match.start()].strip()
    return "Number: " + " ".join(p for p in (before, number, rest.strip()) if p)
