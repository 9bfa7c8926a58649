"""Shared pieces of the importers: the error record and small text helpers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from ..model import CODE_RE

__all__ = ["RowError", "clean", "clean_fields", "is_empty_value", "extract_code", "NO_INFO"]

NO_INFO = "Không có thông tin"
_EMPTY_VALUES = {"", "không có thông tin", "không", "không quy định", "none", "null", "-", "--"}
_SPACE = re.compile(r"[ \t\u00a0]+")
# leading base code of a provincial code: "1.003695.000.00.00.H36", " 1.010061 .000.00.00.H37"
_LEADING_CODE = re.compile(r"^(\d\.\d{6})((?:\.[A-Za-z0-9]+)*)$")


@dataclass(frozen=True)
class RowError:
    """A record an importer could not accept: where it is and why (never dropped silently)."""

    source: str  # file name (or "<file>:<member>")
    line: int  # 1-based line (JSONL/CSV line, spreadsheet row); 0 when unknown
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


def clean(value: object) -> str:
    """Text cell -> stripped single-spaced text; "Không có thông tin" and friends -> ""."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACE.sub(" ", ln).strip() for ln in text.split("\n")]
    text = "\n".join(ln for ln in lines if ln)
    return "" if is_empty_value(text) else text


def clean_fields(source: Mapping[str, Any], keys: Mapping[str, str]) -> dict[str, str]:
    """Map a source record's text cells to Procedure fields: ``{field: clean(source[key])}``.

    Each importer declares its own ``{field: source key}`` table; this is the one place that
    reads and cleans them.
    """
    return {field: clean(source.get(key)) for field, key in keys.items()}


def is_empty_value(text: str) -> bool:
    return text.strip().strip(".").lower() in _EMPTY_VALUES


def extract_code(raw: object) -> tuple[str | None, str]:
    """A catalogue's code cell -> (base code or None, the full code as published).

    Numbers are formatted with six decimals (a spreadsheet stores 1.000410 as 1.00041);
    spaces inside the code are removed (" 1.010061 .000.00.00.H37").
    """
    if raw is None:
        return None, ""
    if isinstance(raw, bool):
        return None, str(raw)
    if isinstance(raw, (int, float)):
        text = f"{float(raw):.6f}"
    else:
        text = re.sub(r"\s+", "", str(raw))
    m = _LEADING_CODE.match(text)
    if not m:
        return None, text
    if CODE_RE.match(text):
        return m.group(1), text
    return m.group(1), text
