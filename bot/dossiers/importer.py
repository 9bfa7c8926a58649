"""``tthc-bot dossiers import FILE.csv|xlsx``: the one-stop system's periodic export into
the local ``dossier_records`` table.

Idempotent: a row identical to what is stored changes nothing; a changed row replaces the
stored record (the scheduled check then tells the citizens who follow it). A bad row is
skipped and reported with its row number and the problem; the good rows are stored.

Columns (first row; names case-insensitive, Vietnamese names in ``ALIASES`` work too):
code, status, procedure_code, procedure_name, agency, received_at, due_at, status_at,
finished_at, returned_at, current_step, handling_unit, applicant_name, phone, id_number,
missing_papers, fees, supplement_periods, history, pickup, note, apology_new_due_at,
apology_issued_at, apology_reason, updated_at. Required: code, status, procedure_name,
received_at. Formats: README, "Dossier status".
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from bot.dossiers.sources import store_record
from bot.dossiers.wire import BadRecord, from_json
from kb.normalize import fold

REQUIRED = ("code", "status", "procedure_name", "received_at")
COLUMNS = ("code", "status", "procedure_code", "procedure_name", "agency", "received_at", "due_at",
           "status_at", "finished_at", "returned_at", "current_step", "handling_unit", "applicant_name",
           "phone", "id_number", "missing_papers", "fees", "supplement_periods", "history", "pickup",
           "note", "apology_new_due_at", "apology_issued_at", "apology_reason", "updated_at")
ALIASES = {
    "ma ho so": "code", "so ho so": "code", "trang thai": "status", "ma thu tuc": "procedure_code",
    "ten thu tuc": "procedure_name", "thu tuc": "procedure_name", "co quan": "agency",
    "co quan giai quyet": "agency", "ngay tiep nhan": "received_at", "ngay hen tra": "due_at",
    "ngay hen tra ket qua": "due_at", "ngay ket thuc": "finished_at", "ngay tra ket qua": "returned_at",
    "buoc hien tai": "current_step", "don vi xu ly": "handling_unit", "chu ho so": "applicant_name",
    "nguoi nop": "applicant_name", "so dien thoai": "phone", "so dinh danh": "id_number",
    "so cccd": "id_number", "giay to can bo sung": "missing_papers", "phi le phi": "fees",
    "noi nhan ket qua": "pickup", "ghi chu": "note", "ngay hen lai": "apology_new_due_at",
}
MAX_ROWS = 200_000


class ImportFileError(Exception):
    """The file as a whole cannot be read (format, header)."""


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number in the file, problem)

    @property
    def stored(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def summary(self) -> str:
        lines = [f"{self.inserted} new, {self.updated} updated, {self.unchanged} unchanged, "
                 f"{len(self.errors)} bad rows"]
        lines += [f"row {n}: {msg}" for n, msg in self.errors[:200]]
        if len(self.errors) > 200:
            lines.append(f"... and {len(self.errors) - 200} more bad rows")
        return "\n".join(lines)


def _column(name: str) -> str | None:
    key = fold(str(name or "")).strip().replace("-", "_")
    if key.replace(" ", "_") in COLUMNS:
        return key.replace(" ", "_")
    return ALIASES.get(key)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, {column: value}) for each data row of a CSV (UTF-8, with or without BOM,
    comma or semicolon) or XLSX file (first sheet)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFileError("the CSV file is not UTF-8 (save it as \"CSV UTF-8\")") from None
        first = text.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows: Iterator[list[Any]] = iter(reader)
        start = 1
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # zip or XML errors of a damaged file
            raise ImportFileError(f"cannot read the XLSX file: {type(exc).__name__}") from None
        rows = (list(r) for r in wb.worksheets[0].iter_rows(values_only=True))
        start = 1
    else:
        raise ImportFileError("expected a .csv or .xlsx file")
    try:
        header = next(rows)
    except StopIteration:
        raise ImportFileError("the file is empty") from None
    names = [_column(h) for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ImportFileError(f"missing required column(s): {', '.join(missing)}")
    for number, row in enumerate(rows, start + 1):
        if number > MAX_ROWS + 1:
            raise ImportFileError(f"more than {MAX_ROWS} rows; split the file")
        if row is None or all(v is None or str(v).strip() == "" for v in row):
            continue
        yield number, {n: v for n, v in zip(names, row) if n}


def _s(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _digits_id(value: Any) -> str:
    """An ID number; a spreadsheet that stored it as a number lost its leading zeros."""
    text = _s(value)
    if isinstance(value, (int, float)) and text.isdigit():
        if 9 < len(text) < 12:
            return text.zfill(12)
        if len(text) == 8:
            return text.zfill(9)
    return text


def _items(value: Any) -> list[str]:
    return [p.strip() for p in re.split(r"[;\n]", _s(value)) if p.strip()]


def _when(value: Any) -> Any:
    return value if isinstance(value, (datetime, date)) else (_s(value) or None)


def row_to_record(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's JSON object for one row (BadRecord when a cell is malformed)."""
    fees = []
    for item in _items(row.get("fees")):
        m = re.match(r"^(?P<name>.+?)\s*=\s*(?P<amount>[\d.,\s]+?)\s*(?P<paid>\((?:đã nộp|da nop|paid)\))?$",
                     item, re.IGNORECASE)
        if m is None:
            raise BadRecord(f"fees: expected \"name=amount\" items separated by \";\", got {item[:40]!r}")
        fees.append({"name": m["name"], "amount": int(re.sub(r"\D", "", m["amount"]) or 0),
                     "paid": bool(m["paid"])})
    periods = []
    for item in _items(row.get("supplement_periods")):
        parts = re.split(r"\s+(?:-|–|đến|den|→)\s*", item, maxsplit=1)
        periods.append({"from": parts[0], "to": (parts[1].strip() if len(parts) > 1 else "") or None})
    history = []
    for item in [p for p in re.split(r"\n", _s(row.get("history"))) if p.strip()]:
        cells = [c.strip() for c in item.split("|")]
        if len(cells) < 2:
            raise BadRecord(f"history: expected \"time | step | unit\" lines, got {item[:40]!r}")
        history.append({"at": cells[0], "step": cells[1], "unit": cells[2] if len(cells) > 2 else ""})
    apology = None
    if _s(row.get("apology_new_due_at")):
        apology = {"new_due_at": _when(row.get("apology_new_due_at")),
                   "issued_at": _when(row.get("apology_issued_at")), "reason": _s(row.get("apology_reason"))}
    return {
        "code": _s(row.get("code")),
        "status": _s(row.get("status")),
        "procedure": {"code": _s(row.get("procedure_code")), "name": _s(row.get("procedure_name"))},
        "agency": _s(row.get("agency")),
        "received_at": _when(row.get("received_at")),
        "due_at": _when(row.get("due_at")),
        "status_at": _when(row.get("status_at")),
        "finished_at": _when(row.get("finished_at")),
        "returned_at": _when(row.get("returned_at")),
        "current_step": _s(row.get("current_step")),
        "handling_unit": _s(row.get("handling_unit")),
        "applicant": {"name": _s(row.get("applicant_name")), "phone": _s(row.get("phone")),
                      "id_number": _digits_id(row.get("id_number"))},
        "missing_papers": _items(row.get("missing_papers")),
        "fees": fees,
        "supplement_periods": periods,
        "history": history,
        "pickup": _s(row.get("pickup")),
        "note": _s(row.get("note")),
        "apology": apology,
        "updated_at": _when(row.get("updated_at")),
    }


async def import_file(db, path: Path, tz: ZoneInfo, now: datetime, *, dry_run: bool = False) -> ImportReport:
    """Read, check and store every row (one transaction; nothing stored on a dry run)."""
    report = ImportReport()
    seen: dict[str, int] = {}
    parsed = []
    for number, row in read_rows(path):
        try:
            record = row_to_record(row)
            if not record["procedure"]["name"]:
                raise BadRecord("procedure_name: required")
            dossier = from_json(record, tz)
        except (BadRecord, ValueError) as exc:
            report.errors.append((number, str(exc)))
            continue
        if dossier.code in seen:
            report.errors.append((number, f"code {dossier.code}: already on row {seen[dossier.code]}"))
            continue
        seen[dossier.code] = number
        parsed.append(dossier)
    try:
        async with db.unit_of_work() as uow:
            for dossier in parsed:
                outcome = await store_record(uow, dossier, now)
                setattr(report, outcome, getattr(report, outcome) + 1)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


class _DryRun(Exception):
    """Rolls the import's transaction back."""
