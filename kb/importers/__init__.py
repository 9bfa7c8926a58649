"""Importers: files -> ``Procedure`` records or ``RowError(source, line, reason)``.

    from kb.importers import detect_and_parse, RowError
    for item in detect_and_parse(path):
        if isinstance(item, RowError): report(item)
        else: store(merge(existing(item.code), item))

Formats (chosen by :func:`detect_format` from the file name, then the content):

* ``national`` — national portal detail pages, JSONL(.gz) with ``ma_thu_tuc`` (kb.importers.national)
* ``bqp`` — Ministry of Defence detail records, JSONL(.gz) with ``metadata``/``content`` (kb.importers.bqp)
* ``table`` — XLSX/CSV procedure lists and catalogues (kb.importers.tables)
* ``canonical`` — the project's YAML / JSONL format (kb.canonical)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..model import Procedure
from .common import RowError
from .io import open_text
from .merge import merge

__all__ = ["RowError", "detect_format", "detect_and_parse", "merge", "FORMATS"]

FORMATS = ("national", "bqp", "table", "canonical")


def detect_format(path: str | Path) -> str:
    """One of FORMATS; ValueError when the file is none of them."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith((".xlsx", ".xlsm", ".csv", ".tsv")):
        return "table"
    if name.endswith((".yaml", ".yml")):
        return "canonical"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json", ".json.gz")):
        with open_text(p) as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{p.name}: first record is not JSON ({exc.msg})") from exc
                if isinstance(obj, dict):
                    if "ma_thu_tuc" in obj:
                        return "national"
                    if "metadata" in obj and "content" in obj:
                        return "bqp"
                    if "code" in obj and "name" in obj:
                        return "canonical"
                raise ValueError(f"{p.name}: unknown JSON record shape (keys: {sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__})")
        raise ValueError(f"{p.name}: empty file")
    raise ValueError(f"{p.name}: unknown file type (expected .jsonl[.gz], .xlsx, .csv, .yaml)")


def detect_and_parse(path: str | Path, *, fmt: str | None = None) -> Iterator[Procedure | RowError]:
    """Parse ``path`` with the importer for its format (detected unless ``fmt`` is given)."""
    fmt = fmt or detect_format(path)
    if fmt == "national":
        from .national import parse_file
    elif fmt == "bqp":
        from .bqp import parse_file
    elif fmt == "table":
        from .tables import parse_file
    elif fmt == "canonical":
        from ..canonical import iter_file as parse_file
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return parse_file(str(path)) if fmt != "canonical" else parse_file(path)
