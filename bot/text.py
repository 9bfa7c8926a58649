"""Small text helpers the core needs (matching typed answers to buttons)."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case, NFC, without diacritics (đ -> d), spaces collapsed: 'Hủy ' -> 'huy'."""
    text = unicodedata.normalize("NFD", text or "").replace("đ", "d").replace("Đ", "D")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text).lower()).strip()
