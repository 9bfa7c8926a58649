"""Dossier codes as printed on the receipt (TT 01/2018/TT-VPCP Art. 19).

``<agency code>-<YYMMDD receipt date>-<4-digit daily sequence>``, e.g.
``000.00.01.H50-250101-0001``. The agency code is the agency's electronic identifier:
``NNN.NN.NN.Xnn`` (three digit groups and a letter with two digits, e.g. ``H50`` for a
province) [I: the form seen on receipts and portals; the parser accepts only it].

Citizens type codes with spaces, lower case, other dashes, the letter O for a zero, or no
separators at all; :func:`parse_code` accepts all of that when the reading is unambiguous
and rejects impossible codes (a 13th month, a date in the future, sequence 0000) with a
message that shows the right form.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

EXAMPLE = "000.00.01.H50-250101-0001"

# A code with its separators: agency groups may be split by dots, dashes or nothing;
# date and sequence by a dash. With the dash before it the sequence may be short ("-1").
_SEPARATED = re.compile(
    r"^(?P<a1>\d{3})[.\-]?(?P<a2>\d{2})[.\-]?(?P<a3>\d{2})[.\-]?(?P<a4>[A-Z]\d{2})"
    r"-(?P<date>\d{6})-(?P<seq>\d{1,4})$")
# No dash before the date or the sequence: every part must have its full width.
_COMPACT = re.compile(r"^(?P<a1>\d{3})(?P<a2>\d{2})(?P<a3>\d{2})(?P<a4>[A-Z]\d{2})"
                      r"(?P<date>\d{6})(?P<seq>\d{4})$")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−_/\\|"), "-")
_DROP = re.compile(r"[\s,;:'\"`]+")
FIRST_YEAR = 2018  # the code format dates from TT 01/2018


class InvalidCode(ValueError):
    """Not a possible dossier code; ``message_vi`` says why, for the citizen."""

    def __init__(self, message_vi: str) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi


@dataclass(frozen=True)
class DossierCode:
    agency: str  # "000.00.01.H50"
    received: date
    seq: int

    def __str__(self) -> str:
        return f"{self.agency}-{self.received:%y%m%d}-{self.seq:04d}"


def _hint(example: str) -> str:
    return f"Mã hồ sơ có dạng {example} (mã cơ quan - ngày tiếp nhận năm tháng ngày - số thứ tự)."


def _tidy(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "").upper().translate(_DASHES)
    s = _DROP.sub("", s).strip(".-")
    s = re.sub(r"-{2,}", "-", s)
    s = re.sub(r"\.{2,}", ".", s)
    return s


def _match(s: str) -> re.Match[str] | None:
    return _SEPARATED.match(s) or _COMPACT.match(s.replace(".", "").replace("-", ""))


def _end_of_code(s: str) -> str:
    """``s`` cut where the code typed at its start ends: at the first letter after the
    sequence's digits ("…0001DENDAUROI" → "…0001"), so that words after a code do not
    hide it (more digits are kept: "…-0001 5678" is no code)."""
    m = re.match(r"^[\d.\-]+[A-Z]\d{2}[\d.\-]*", s)
    return m.group(0).rstrip(".-") if m else s


def _find(s: str) -> re.Match[str] | None:
    """The code in ``s``, allowing words before and after it ("Mã hồ sơ: 000... đến đâu
    rồi") and the letter O typed for a zero ("H5O", "OOO.OO")."""
    for cand in (s, s.replace("O", "0")) if "O" in s else (s,):
        starts = [0] + [i for i in range(1, len(cand))
                        if cand[i].isdigit() and not cand[i - 1].isdigit() and cand[i - 1] not in ".-"]
        for i in starts:
            m = _match(_end_of_code(cand[i:]))
            if m is not None:
                return m
    return None


def looks_like_code(text: str) -> bool:
    """A cheap test for free text outside the flow: does this look like a dossier code?"""
    s = _tidy(text)
    return bool(re.search(r"[A-Z]\d{2}-?\d{6}-?\d{1,4}(?![\d.\-])", s)) and sum(c.isdigit() for c in s) >= 15


def parse_code(text: str, *, today: date | None = None, example: str = EXAMPLE) -> DossierCode:
    """The canonical code for what the citizen typed, or :class:`InvalidCode`."""
    s = _tidy(text)
    if not s:
        raise InvalidCode("Vui lòng nhập mã hồ sơ. " + _hint(example))
    m = _find(s)
    if m is None:
        digits = sum(c.isdigit() for c in s)
        if digits < 15:
            raise InvalidCode("Mã hồ sơ chưa đủ ký tự. " + _hint(example))
        raise InvalidCode("Mã hồ sơ chưa đúng định dạng. " + _hint(example))
    d = m.group("date")
    try:
        received = date(2000 + int(d[:2]), int(d[2:4]), int(d[4:]))
    except ValueError:
        raise InvalidCode(f"Phần ngày tiếp nhận \"{d}\" trong mã hồ sơ không phải ngày có thật "
                          "(phải là năm, tháng, ngày: 250101 là ngày 01/01/2025). " + _hint(example)) from None
    if received.year < FIRST_YEAR or (today is not None and received > today):
        raise InvalidCode(f"Ngày tiếp nhận {received:%d/%m/%Y} trong mã hồ sơ không hợp lệ. "
                          "Vui lòng kiểm tra lại mã trên giấy tiếp nhận. " + _hint(example))
    seq = int(m.group("seq"))
    if seq == 0:
        raise InvalidCode("Số thứ tự cuối mã hồ sơ không thể là 0000. " + _hint(example))
    agency = ".".join(m.group(g) for g in ("a1", "a2", "a3", "a4"))
    return DossierCode(agency, received, seq)


def canonical(text: str) -> str:
    """The canonical form of a code known to be valid (import files, the API); raises
    :class:`InvalidCode` otherwise. No date-in-the-future check: sources are trusted."""
    return str(parse_code(text))
