"""What a how-many question counts, in the words a Vietnamese article uses for it.

"How many staff positions did Hanoi cut?" counts "biên chế"; "bao nhiêu tập thể" counts "tập thể".
The English side is a small glossary of counted nouns common in news and encyclopaedia text (written
for vnqa); the Vietnamese side is the words after "bao nhiêu". Everything is folded (no diacritics).
"""

from __future__ import annotations

import re

from .text import fold

# English counted noun (singular stem) -> how Vietnamese articles write it, folded
GLOSSARY: dict[str, tuple[str, ...]] = {
    "position": ("bien che",),
    "staff": ("bien che", "nhan vien", "can bo"),
    "payroll": ("bien che",),
    "post": ("bien che", "vi tri"),
    "department": ("phong", "so", "ban"),
    "board": ("ban",),
    "cadre": ("can bo",),
    "official": ("can bo", "quan chuc"),
    "civil servant": ("cong chuc",),
    "party member": ("dang vien",),
    "member": ("thanh vien", "dang vien", "hoi vien"),
    "collective": ("tap the",),
    "individual": ("ca nhan",),
    "unit": ("don vi",),
    "task": ("nhiem vu", "noi dung"),
    "item": ("noi dung", "nhiem vu", "muc"),
    "document": ("van ban",),
    "person": ("nguoi",),
    "people": ("nguoi",),
    "year": ("nam",),
    "month": ("thang",),
    "day": ("ngay",),
    "week": ("tuan",),
    "hour": ("gio",),
    "minute": ("phut",),
    "point": ("diem",),
    "time": ("lan",),
    "student": ("sinh vien", "hoc sinh"),
    "team": ("doi",),
    "game": ("tran",),
    "match": ("tran",),
    "percent": ("%", "phan tram"),
    "kilometre": ("km", "kilomet"),
    "kilometer": ("km", "kilomet"),
    "mile": ("dam",),
    "metre": ("m", "met"),
    "meter": ("m", "met"),
    "dollar": ("usd", "do la", "$"),
    "household": ("ho",),
    "district": ("quan", "huyen"),
    "commune": ("xa",),
    "province": ("tinh",),
    "school": ("truong",),
    "hospital": ("benh vien",),
    "case": ("ca", "truong hop"),
    "vote": ("phieu",),
    "seat": ("ghe",),
    "species": ("loai",),
    "book": ("cuon", "sach"),
    "copy": ("ban",),
    "film": ("phim",),
    "movie": ("phim",),
    "song": ("bai hat", "ca khuc"),
    "episode": ("tap",),
    "employee": ("nhan vien", "lao dong"),
    "worker": ("cong nhan", "lao dong"),
    "soldier": ("binh si",),
    "troop": ("quan", "binh si"),
    "child": ("tre em",),
    "children": ("tre em",),
    "language": ("ngon ngu",),
    "country": ("nuoc", "quoc gia"),
    "nation": ("nuoc", "quoc gia"),
    "city": ("thanh pho",),
    "island": ("dao",),
    "building": ("toa nha",),
    "room": ("phong",),
    "word": ("tu",),
    "page": ("trang",),
    "award": ("giai",),
    "prize": ("giai",),
    "medal": ("huy chuong", "ky niem chuong"),
    "certificate": ("bang khen", "giay khen"),
    "ton": ("tan",),
    "tonne": ("tan",),
    "vehicle": ("xe",),
    "car": ("xe", "o to"),
    "ship": ("tau",),
    "aircraft": ("may bay",),
    "plane": ("may bay",),
    "church": ("nha tho",),
    "university": ("truong dai hoc", "dai hoc"),
    "faculty": ("khoa",),
    "division": ("su doan", "phan khu"),
    "stadium": ("san van dong",),
    "station": ("tram", "nha ga", "ga"),
    "line": ("tuyen",),
    "route": ("tuyen",),
    "floor": ("tang",),
    "storey": ("tang",),
    "story": ("tang",),
}
_HOW_MANY = re.compile(r"\bhow (?:many|much)\s+((?:[a-z-]+\s*){1,3})")
_BAO_NHIEU = re.compile(r"\bbao nhieu\s+((?:\w+\s*){1,2})")
_PERCENT = re.compile(r"\bphan tram\b|\bpercent(?:age)?\b")


def wanted_units(question: str) -> tuple[str, ...]:
    """The folded Vietnamese words for what ``question`` counts (empty when it does not say)."""
    folded = fold(question)
    if _PERCENT.search(folded):  # "bao nhiêu phần trăm", "what percentage": a number with %
        return ("%", "phan tram")
    if match := _BAO_NHIEU.search(folded):
        words = match.group(1).split()
        return tuple(" ".join(words[:n]) for n in (2, 1) if len(words) >= n)
    match = _HOW_MANY.search(folded)
    if match is None:
        return ()
    words = match.group(1).split()
    found: list[str] = []
    for n in (2, 1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            for key in (phrase, phrase.rstrip("s"), re.sub(r"ies$", "y", phrase)):
                found.extend(GLOSSARY.get(key, ()))
    return tuple(dict.fromkeys(found))


def counts(after: str, units: tuple[str, ...]) -> bool:
    """Whether the text right after a number (``after``) names one of ``units``."""
    folded = fold(after).lstrip()
    return any(folded.startswith(unit) and not folded[len(unit) : len(unit) + 1].isalpha() for unit in units)
