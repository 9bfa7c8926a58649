"""Masking personal data (phone numbers, ID numbers, e-mails, names) for logs and public pages."""

from __future__ import annotations

import re
import unicodedata

# Vietnamese mobile/landline numbers: 0xxxxxxxxx or +84/84 xxxxxxxxx, with optional separators.
_PHONE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\w)")
# Citizen ID (12 digits), old ID card (9 digits), also tax codes (10/13) — any run of 9+ digits.
_LONG_DIGITS = re.compile(r"(?<!\w)\d{9,16}(?!\w)")
_EMAIL = re.compile(r"(?<![\w.])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _keep_last(match: re.Match[str], keep: int = 3) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * max(len(digits) - keep, 0) + digits[-keep:]


def mask_pii(text: str) -> str:
    """Hide phone numbers, long ID-like numbers and e-mail addresses in free text."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: m.group(0)[0] + "***@" + m.group(0).split("@", 1)[1], text)
    text = _PHONE.sub(_keep_last, text)
    text = _LONG_DIGITS.sub(lambda m: _keep_last(m, 2), text)
    return text


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'N. V. A.' (initials only)."""
    parts = [p for p in unicodedata.normalize("NFC", name or "").split() if p]
    return " ".join(p[0].upper() + "." for p in parts)


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) <= 3:
        return "*" * len(digits)
    return "*" * (len(digits) - 3) + digits[-3:]


def redact_pii(text: str, placeholder: str = "[đã ẩn]") -> str:
    """Remove phone numbers, ID-like numbers and e-mail addresses entirely (public pages)."""
    if not text:
        return text
    text = _EMAIL.sub(placeholder, text)
    text = _PHONE.sub(placeholder, text)
    return _LONG_DIGITS.sub(placeholder, text)
