"""Procedure lists as spreadsheets (XLSX) or CSV: ministry "DANH SÁCH THỦ TỤC HÀNH CHÍNH"
exports, provincial catalogues (Lạng Sơn XLSX, Lâm Đồng CSV) and similar.

Columns are found by their header text (accents and case ignored), wherever the header row is:
title blocks above it, the header repeated between pages and blank rows are skipped. Codes stored
as numbers are formatted with six decimals (1.00041 -> "1.000410"); provincial codes
("1.012275.H36", "1.003695.000.00.00.H36") give the base code plus a local code. Old service
levels map to online levels: "Mức độ 4" = toàn trình, "Mức độ 3" = một phần, "Mức độ 1/2" and
"Còn lại" = not online. Rows that cannot become a record (test rows, local non-national codes,
missing name) are reported as RowError with the spreadsheet row / CSV line.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..model import ONLINE_FULL, ONLINE_PARTIAL, InvalidProcedure, Procedure
from ..normalize import fold
from .common import RowError, clean, extract_code
from .io import open_text

__all__ = ["parse_file", "parse_rows", "online_level", "level_from_agency"]

_COLUMNS = {
    "code": ("ma so", "ma tthc", "ma thu tuc", "code", "ma so tthc", "ma"),
    "name": ("ten", "ten tthc", "ten thu tuc", "ten thu tuc hanh chinh", "name"),
    "field": ("linh vuc", "field"),
    "agency": ("co quan thuc hien", "org", "don vi thuc hien", "agency"),
    "issuer": ("co quan ban hanh",),
    "online": ("muc do dvc", "muc do", "level", "muc do dich vu cong", "dvc truc tuyen", "online level"),
    "decision": ("quyet dinh", "so quyet dinh", "quyet dinh cong bo"),
    "cap": ("cap thuc hien",),
}
_TITLE_ROW = re.compile(r"danh sach thu tuc|cong hoa xa hoi|doc lap - tu do|doc lap – tu do|ubnd tinh")
_TEST_ROW = re.compile(r"\btest\b")


def online_level(text: str) -> str | None:
    f = fold(clean(text))
    if not f:
        return None
    if "toan trinh" in f or re.search(r"muc do 4\b", f):
        return ONLINE_FULL
    if "mot phan" in f or re.search(r"muc do 3\b", f):
        return ONLINE_PARTIAL
    return None  # "Còn lại", "Mức độ 1/2": information only, not an online service


def level_from_agency(text: str) -> str:
    """Lâm Đồng's agency classes -> implementing levels ("Sở, ban ngành" -> "Cấp tỉnh")."""
    f = fold(text)
    out = []
    if "so, ban nganh" in f or "cap tinh" in f or "so " in f + " " and f.startswith("so"):
        out.append("Cấp tỉnh")
    if "huyen" in f:
        out.append("Cấp huyện")
    if re.search(r"\bxa\b|phuong|thi tran", f):
        out.append("Cấp xã")
    if "cap bo" in f or f.startswith("bo "):
        out.insert(0, "Cấp bộ")
    return ", ".join(dict.fromkeys(out))


def _header_map(cells: list[str]) -> dict[str, int] | None:
    found: dict[str, int] = {}
    for i, c in enumerate(cells):
        f = fold(c).strip(" .:*")
        for key, names in _COLUMNS.items():
            if f in names and key not in found:
                found[key] = i
                break
    return found if "code" in found and "name" in found else None


def parse_rows(rows: Iterable[tuple[int, list[Any]]], source: str) -> Iterator[Procedure | RowError]:
    """``(line, cells)`` pairs -> records / errors. The header row may be anywhere."""
    header: dict[str, int] | None = None
    header_cells: list[str] = []
    for line, raw in rows:
        cells = [("" if c is None else c) for c in raw]
        texts = [clean(c) if not isinstance(c, (int, float)) else str(c) for c in cells]
        if not any(texts):
            continue
        if header is None:
            header = _header_map(texts)
            if header is not None:
                header_cells = [fold(t) for t in texts]
            continue  # title block above the header
        if [fold(t) for t in texts] == header_cells or _header_map(texts) == header:
            continue  # header repeated on a new page
        nonempty = [t for t in texts if t]
        if len(nonempty) == 1 and _TITLE_ROW.search(fold(nonempty[0])):
            continue  # title block repeated on a new page

        def col(key: str) -> Any:
            i = header.get(key)  # type: ignore[union-attr]
            return cells[i] if i is not None and i < len(cells) else None

        raw_code = col("code")
        name = clean(col("name"))
        base, full = extract_code(raw_code)
        if _TEST_ROW.search(fold(name)) or "test" in fold(full):
            yield RowError(source, line, f"test row rejected: code '{full}', name '{name}'")
            continue
        if not full:
            yield RowError(source, line, f"no procedure code (row: {' | '.join(nonempty)[:120]})")
            continue
        if base is None:
            yield RowError(source, line, f"'{full}' is not a national procedure code like 1.000419")
            continue
        if not name:
            yield RowError(source, line, f"{full}: no procedure name")
            continue
        agency = clean(col("agency"))
        data: dict[str, Any] = {
            "code": base,
            "name": name,
            "field": clean(col("field")),
            "implementing_agency": "; ".join(a for a in agency.split("\n") if a),
            "decision": clean(col("decision")),
            "source": source,
        }
        lvl = clean(col("cap"))
        if not lvl and header.get("agency") is not None and "issuer" not in header:
            lvl = level_from_agency(agency)  # provincial catalogues classify agencies by level
        if lvl:
            data["level"] = lvl
        if header.get("online") is not None:
            ol = online_level(str(col("online") or ""))
            if ol:
                data["online_level"] = ol
        if full != base:
            data["local_codes"] = [full]
        try:
            yield Procedure.from_dict(data)
        except InvalidProcedure as exc:
            yield RowError(source, line, str(exc))


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                cells = [c.value for c in row]
                line = next((c.row for c in row if getattr(c, "row", None)), 0)
                yield line, cells
    finally:
        wb.close()


def _csv_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    with open_text(path) as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        start = 1
        for cells in reader:
            yield start, list(cells)
            start = reader.line_num + 1


def parse_file(path: str | Path) -> Iterator[Procedure | RowError]:
    p = Path(path)
    src = p.name
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(p)
    else:
        rows = _csv_rows(p)
    got_header = False
    for item in parse_rows(_watch(rows, lambda: None), src):
        got_header = True
        yield item
    if not got_header:
        yield RowError(src, 0, "no header row with a code column (Mã số / Mã TTHC / code) and a name column")


def _watch(rows: Iterator[tuple[int, list[Any]]], _cb: Any) -> Iterator[tuple[int, list[Any]]]:
    yield from rows
