"""Masking personal data (phone numbers, ID numbers, e-mails, names) for logs and public pages."""

from __future__ import annotations

import re
import unicodedata

# Vietnamese mobile/landline numbers: 0xxxxxxxxx or +84/84 xxxxxxxxx, with optional separators.
_PHONE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\w)")
# Citizen ID (12 digits), old ID card (9 digits), also tax codes (10/13) — any run of 9+ digits.
_LONG_DIGITS = re.compile(r"(?<!\w)\d{9,16}(?!\w)")
_EMAIL = re.compile(r"(?<![\w.])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# The same numbers as people write them, in groups ("0791 2345 6789", "079.123.456.789"):
# 9 to 16 digits in all. Not inside a longer token (a dossier code's "-250101-0001").
_GROUPED_DIGITS = re.compile(r"(?<![\w.\-])\d{2,4}(?:[ .\-]\d{2,4}){2,5}(?!\w|[.\-]\d)")


def _grouped(match: re.Match[str], placeholder: str | None) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if not 9 <= len(digits) <= 16 or _PHONE.fullmatch(text):
        return text  # not an ID-like number, or a phone number (masked as one below)
    return placeholder if placeholder is not None else "*" * (len(digits) - 2) + digits[-2:]


def _keep_last(match: re.Match[str], keep: int = 3) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * max(len(digits) - keep, 0) + digits[-keep:]


def mask_pii(text: str) -> str:
    """Hide phone numbers, long ID-like numbers and e-mail addresses in free text."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: m.group(0)[0] + "***@" + m.group(0).split("@", 1)[1], text)
    text = _GROUPED_DIGITS.sub(lambda m: _grouped(m, None), text)
    text = _PHONE.sub(_keep_last, text)
    text = _LONG_DIGITS.sub(lambda m: _keep_last(m, 2), text)
    return text


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'N. V. A.' (initials only)."""
    parts = [p for p in unicodedata.normalize("NFC", name or "").split() if p]
    return " ".join(p[0].upper() + "." for p in parts)


# Words that, written just before a capitalised word of the sender's name, make that single
# word the person (a given name alone, "ông Nguyễn"): forms of address and self-introduction.
_ADDRESS_WORDS = ("tôi là", "tôi tên là", "tôi tên", "tên tôi là", "tên là", "mình là", "mình tên", "em là",
                  "em tên", "ông", "bà", "anh", "chị", "em", "cô", "chú", "bác", "cháu", "cụ", "công dân")


def mask_name_parts(text: str, full_name: str) -> str:
    """Initials for the parts of a person's name written without the rest: two or more
    capitalised words of the name in a row ("Văn An", "Nguyễn An", "NGUYỄN AN"), or one after
    a form of address or an introduction ("ông An", "chị Nguyễn", "tôi là An"). Lower-case
    words and a lone capitalised word are left alone: Vietnamese given names are ordinary
    words ("an toàn", "bình an") and parts of place names ("Long An")."""
    words = sorted({w for w in unicodedata.normalize("NFC", full_name or "").split() if len(w) >= 2},
                   key=len, reverse=True)
    if not text or not words:
        return text
    text = unicodedata.normalize("NFC", text)
    word = "(?:" + "|".join(re.escape(w) for w in words) + ")"

    def capitalised(token: str) -> bool:
        return token[:1].isupper()

    def run(m: re.Match[str]) -> str:
        tokens = m.group(0).split()
        if not all(capitalised(t) for t in tokens):
            return m.group(0)
        return " ".join(t[0].upper() + "." for t in tokens)

    text = re.sub(rf"(?<!\w){word}(?:\s+{word})+(?!\w)", run, text, flags=re.IGNORECASE)
    address = "(?:" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in _ADDRESS_WORDS) + ")"

    def single(m: re.Match[str]) -> str:
        name = m.group(2)
        return m.group(1) + (name[0].upper() + "." if capitalised(name) else name)

    return re.sub(rf"(?<!\w)({address}\s+)({word})(?!\w)", single, text, flags=re.IGNORECASE)


# Family names that start a person's name and seldom a place's ("Hà Nội", "Lâm Đồng", "Hồ Tây",
# "Cao Bằng", "Lý Sơn", "Thái Bình", "Kim Sơn" are places, so Hà, Lâm, Hồ, Cao, Lý, Thái, Kim
# and the like are not here). Nine in ten Vietnamese carry one of the first dozen.
_FAMILY_NAMES = frozenset(
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Ngô Dương Đào Đoàn Vương Trịnh Trương "
    "Đinh Phùng Tô Tạ Lưu Quách Lương Triệu Hứa Tăng Lại Kiều Nông Lục Giáp Khúc Tống Diệp Nghiêm "
    "Hầu Bế Lò Mạc Thân Doãn Khổng".split())
# ... after which a name is a street's, a ward's or a school's ("đường Trần Hưng Đạo", "phường
# Nguyễn Trãi", "trường Lê Quý Đôn"), not a person's - unless an office comes first ("chủ tịch
# xã Lê Văn Tám" is a person)
_PLACE_BEFORE = re.compile(
    r"(?<!\w)(?:đường|phố|phường|xã|thị trấn|quận|huyện|tỉnh|thành phố|tp\.?|thôn|ấp|bản|làng|trường|cầu|"
    r"chợ|khu|khu phố|ngõ|hẻm|kiệt|ngách|bệnh viện|công viên|nhà văn hóa|đại lộ|số|tổ)\s*$", re.IGNORECASE)
_OFFICE_BEFORE = re.compile(r"(?<!\w)(?:chủ tịch|phó chủ tịch|cán bộ|công chức|công an|trưởng|bí thư|"
                            r"cán bộ địa chính|kế toán|cán bộ tư pháp)(?:\s+\w+)?\s+\w+\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_]+")
_CONTEXT_CHARS = 60  # enough for "phó chủ tịch ủy ban xã " before a name; not the whole text each time


def mask_person_names(text: str) -> str:
    """Initials for the full names of other people written in free text ("hàng xóm tôi là Đỗ
    Quang Hải" -> "Đ. Q. H."): two to four capitalised words in a row, the first a family name,
    not just after a street, ward or school word. A lower-case word ends a name ("Trần tình của
    …" stays)."""
    if not text:
        return text
    text = unicodedata.normalize("NFC", text)
    toks = list(_TOKEN.finditer(text))
    out, last, k = [], 0, 0
    while k < len(toks):
        t = toks[k]
        word = t.group(0)
        if word[:1].isupper() and word[:1] + word[1:].lower() in _FAMILY_NAMES:
            run = [t]
            while (len(run) < 4 and k + len(run) < len(toks) and toks[k + len(run)].group(0)[:1].isupper()
                   and text[run[-1].end():toks[k + len(run)].start()].isspace()):
                run.append(toks[k + len(run)])
            before = text[max(0, t.start() - _CONTEXT_CHARS):t.start()]  # the words just before it
            if len(run) >= 2 and not (_PLACE_BEFORE.search(before) and not _OFFICE_BEFORE.search(before)):
                out.append(text[last:t.start()])
                out.append(" ".join(r.group(0)[0].upper() + "." for r in run))
                last = run[-1].end()
                k += len(run)
                continue
        k += 1
    out.append(text[last:])
    return "".join(out)


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) <= 3:
        return "*" * len(digits)
    return "*" * (len(digits) - 3) + digits[-3:]


# A house in an address: "số nhà 15", "nhà số 7", or "số 12" followed by the alley or street
# ("số 12 ngõ 34", "số 5/2 đường Lê Lợi"), with the alleys after it ("ngõ 34 ngách 5").
# "Quyết định số 12", "thôn số 3" are not addresses and stay.
_ALLEYS = r"(?:\s*,?\s*(?:ngõ|ngách|hẻm|kiệt)\s*\d+[a-z]?(?:/\d+[a-z]?)*)*"
_HOUSE = re.compile(
    r"(?<!\w)(?:(?:số\s+nhà|nhà\s+số)\s*\d+[a-z]?(?:/\d+[a-z]?)*" + _ALLEYS
    + r"|số\s*\d+[a-z]?(?:/\d+[a-z]?)*(?=\s+(?:ngõ|ngách|hẻm|kiệt|đường|phố)\s+(?!dây))" + _ALLEYS + r")",
    re.IGNORECASE)


def redact_house_numbers(text: str, placeholder: str = "[đã ẩn]") -> str:
    """Remove house numbers (and the alleys leading to them) from free text: the street, ward
    and commune stay, which do not point at one household."""
    return _HOUSE.sub(placeholder, unicodedata.normalize("NFC", text)) if text else text


def redact_pii(text: str, placeholder: str = "[đã ẩn]") -> str:
    """Remove phone numbers, ID-like numbers and e-mail addresses entirely (public pages)."""
    if not text:
        return text
    text = _EMAIL.sub(placeholder, text)
    text = _GROUPED_DIGITS.sub(lambda m: _grouped(m, placeholder), text)
    text = _PHONE.sub(placeholder, text)
    return _LONG_DIGITS.sub(placeholder, text)
