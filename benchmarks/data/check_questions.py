"""Check benchmarks/data/questions.jsonl against the real procedure data.

Usage (from the project root):

    .venv/bin/python benchmarks/data/check_questions.py [--data-dir ../shared/data] [--questions PATH] [-v]

Verifies that every labelled code exists in the national-portal file
(``tthc-national-portal-2026.jsonl.gz``, field ``ma_thu_tuc``) or the Defence file
(``tthc-bqp-2026.jsonl.gz``, field ``thu_tuc_id``), that tags are known and consistent
with the text, and prints counts per tag and per field (lĩnh vực). Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"
QUESTIONS = HERE / "questions.jsonl"

STYLE_TAGS = {"diacritics", "no_diacritics"}
KNOWN_TAGS = STYLE_TAGS | {"typo", "abbrev", "question", "short", "code", "unanswerable"}
CODE_RE = re.compile(r"\b(\d\.\d{6})(?:\.[0-9A-Za-z.]+)?\b")


def has_diacritics(text: str) -> bool:
    """True if the text has any Vietnamese letter with a diacritic (or đ)."""
    for ch in text.lower():
        if ch == "đ":
            return True
        if ch.isalpha() and not ch.isascii():
            if any(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", ch)):
                return True
    return False


def load_procedures(data_dir: Path) -> dict[str, tuple[str, str, str]]:
    """code -> (source, lĩnh vực, name)."""
    procs: dict[str, tuple[str, str, str]] = {}
    with gzip.open(data_dir / "tthc-national-portal-2026.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            procs[r["ma_thu_tuc"]] = ("national", r.get("linh_vuc", ""), r.get("ten_thu_tuc", ""))
    with gzip.open(data_dir / "tthc-bqp-2026.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            m = r.get("metadata", {})
            code = r["thu_tuc_id"]
            if code in procs:
                raise SystemExit(f"code {code} is in both data files")
            procs[code] = ("bqp", "BQP: " + m.get("lĩnh_vực", ""), m.get("tên_thủ_tục", ""))
    return procs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("-v", "--verbose", action="store_true", help="list every question with its procedure names")
    args = ap.parse_args()

    if not (args.data_dir / "tthc-national-portal-2026.jsonl.gz").exists():
        print(f"data not found in {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 2
    procs = load_procedures(args.data_dir)

    errors: list[str] = []
    tag_counts: collections.Counter[str] = collections.Counter()
    field_counts: collections.Counter[str] = collections.Counter()
    ncodes: collections.Counter[int] = collections.Counter()
    seen: dict[str, int] = {}
    rows = []

    with open(args.questions, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"line {lineno}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: bad JSON ({e})")
                continue
            q, codes, tags = r.get("q"), r.get("codes"), r.get("tags")
            if set(r) != {"q", "codes", "tags"}:
                errors.append(f"{where}: keys must be q, codes, tags (got {sorted(r)})")
            if not isinstance(q, str) or not q.strip():
                errors.append(f"{where}: empty q")
                continue
            if not isinstance(codes, list) or not isinstance(tags, list):
                errors.append(f"{where}: codes and tags must be lists")
                continue
            rows.append(r)
            key = " ".join(q.lower().split())
            if key in seen:
                errors.append(f"{where}: duplicate of line {seen[key]}: {q!r}")
            seen[key] = lineno
            if len(set(codes)) != len(codes):
                errors.append(f"{where}: repeated code in {codes}")
            if len(set(tags)) != len(tags):
                errors.append(f"{where}: repeated tag in {tags}")
            for t in tags:
                if t not in KNOWN_TAGS:
                    errors.append(f"{where}: unknown tag {t!r}")
            for c in codes:
                if c not in procs:
                    errors.append(f"{where}: code {c} not in the data ({q!r})")
            if ("unanswerable" in tags) != (codes == []):
                errors.append(f"{where}: 'unanswerable' tag iff codes is empty ({q!r})")

            style = STYLE_TAGS & set(tags)
            has_letters = any(ch.isalpha() for ch in CODE_RE.sub("", q))
            if has_letters and len(style) != 1:
                errors.append(f"{where}: needs exactly one of diacritics/no_diacritics ({q!r})")
            if "diacritics" in style and not has_diacritics(q):
                errors.append(f"{where}: tagged diacritics but has none ({q!r})")
            if "no_diacritics" in style and has_diacritics(q):
                errors.append(f"{where}: tagged no_diacritics but has diacritics ({q!r})")

            found = CODE_RE.findall(q)
            if ("code" in tags) != bool(found):
                errors.append(f"{where}: 'code' tag iff the question contains a code ({q!r})")
            for base in found:
                if codes and base not in codes:
                    errors.append(f"{where}: typed code {base} is not among the labels {codes}")
                if not codes and base in procs:
                    errors.append(f"{where}: typed code {base} exists in the data but is labelled unanswerable")

            tag_counts.update(tags)
            ncodes[len(codes)] += 1
            if codes and codes[0] in procs:
                field_counts[procs[codes[0]][1]] += 1
            elif not codes:
                field_counts["(unanswerable)"] += 1

    n = len(rows)
    print(f"{n} questions, {n - tag_counts['unanswerable']} answerable, "
          f"{tag_counts['unanswerable']} unanswerable")
    print("\nper tag:")
    for t in sorted(KNOWN_TAGS, key=lambda t: (-tag_counts[t], t)):
        print(f"  {tag_counts[t]:4d}  {t}")
    print("\nper field (lĩnh vực of the first code):")
    for fld, c in field_counts.most_common():
        print(f"  {c:4d}  {fld}")
    print("\ncodes per question:", ", ".join(f"{k}: {v}" for k, v in sorted(ncodes.items())))
    if args.verbose:
        print()
        for r in rows:
            print(r["q"], r["tags"])
            for c in r["codes"]:
                src, fld, name = procs.get(c, ("?", "?", "?"))
                print(f"    {c} [{fld}] {' '.join(name.split())[:110]}")
    if errors:
        print(f"\n{len(errors)} error(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("\nOK: every code exists in the data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
