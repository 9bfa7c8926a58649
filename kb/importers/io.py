"""Opening text sources (plain or gzip-compressed, UTF-8 with or without BOM) and reading
JSON-lines files record by record, every bad line reported with its number."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import IO, Any, Callable, Iterator, TypeVar

from ..model import InvalidProcedure
from .common import RowError

__all__ = ["open_text", "parse_json_lines"]

T = TypeVar("T")


def open_text(path: str | Path) -> IO[str]:
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8-sig", newline="")
    return open(p, encoding="utf-8-sig", newline="")


def parse_json_lines(path: str | Path, parse: Callable[[Any], T]) -> Iterator[T | RowError]:
    """``parse`` each non-empty line's JSON value; a line that is not JSON, or that ``parse``
    refuses with :class:`InvalidProcedure`, becomes a RowError(file, line, reason)."""
    src = Path(path).name
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RowError(src, lineno, f"invalid JSON: {exc.msg}")
                continue
            try:
                yield parse(obj)
            except InvalidProcedure as exc:
                yield RowError(src, lineno, str(exc))
