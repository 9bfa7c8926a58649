"""Opening text sources: plain or gzip-compressed, UTF-8 with or without BOM."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

__all__ = ["open_text"]


def open_text(path: str | Path) -> IO[str]:
    p = Path(path)
    with open(p, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8-sig", newline="")
    return open(p, encoding="utf-8-sig", newline="")
