"""``python -m kb.importers stats FILE...`` — parse files and print record / error counts
(and, for the national portal, how many records split cleanly); ``errors FILE`` lists errors."""

from __future__ import annotations

import sys

from . import RowError, detect_and_parse, detect_format


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("stats", "errors"):
        print(__doc__)
        return 2
    for path in argv[1:]:
        fmt = detect_format(path)
        stats: dict[str, int] = {}
        if fmt == "national":
            from .national import parse_file

            items = parse_file(path, stats=stats)
        else:
            items = detect_and_parse(path, fmt=fmt)
        ok = err = 0
        for item in items:
            if isinstance(item, RowError):
                err += 1
                if argv[0] == "errors":
                    print(item)
            else:
                ok += 1
        extra = ""
        if stats.get("records"):
            extra = f", split cleanly {stats['clean']}/{stats['records']} ({100 * stats['clean'] / stats['records']:.1f} %)"
        print(f"{path}: format {fmt}, {ok} records, {err} errors{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
