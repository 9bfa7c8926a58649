"""Search quality on the labelled questions (benchmarks/data/questions.jsonl).

    .venv/bin/python benchmarks/search_quality.py [--questions FILE] [--data DIR] [--show-errors N]

Builds the index from the national-portal and Defence files in ../shared/data, runs every
question and reports top-1, top-5 (answerable questions), the same with every question folded
(no diacritics), and the share of confident-but-wrong answers (confident and the top hit not a
right code, or confident on an unanswerable question), over all questions. Writes JSON to
benchmarks/out/search_quality.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.importers import RowError, detect_and_parse  # noqa: E402
from kb.normalize import fold  # noqa: E402
from kb.search import SearchIndex  # noqa: E402


def load_index(data: Path) -> SearchIndex:
    procs = []
    for name in ("tthc-national-portal-2026.jsonl.gz", "tthc-bqp-2026.jsonl.gz"):
        procs += [p for p in detect_and_parse(data / name) if not isinstance(p, RowError)]
    return SearchIndex.build(procs)


def evaluate(index: SearchIndex, questions: list[dict], *, folded: bool = False) -> dict:
    top1 = top5 = answerable = conf_wrong = confident = 0
    errors = []
    for q in questions:
        text = fold(q["q"]) if folded else q["q"]
        r = index.search(text, limit=5)
        codes = set(q["codes"])
        got = [h.code for h in r.hits]
        if r.confident:
            confident += 1
        if codes:
            answerable += 1
            ok1 = bool(got) and got[0] in codes
            top1 += ok1
            top5 += bool(codes & set(got))
            if r.confident and not ok1:
                conf_wrong += 1
                errors.append(("confident-wrong", q, got[:3]))
            elif not ok1:
                errors.append(("miss", q, got[:3]))
        elif r.confident:
            conf_wrong += 1
            errors.append(("confident-unanswerable", q, got[:3]))
    n = len(questions)
    return {
        "questions": n,
        "answerable": answerable,
        "top1": top1 / answerable if answerable else 0.0,
        "top5": top5 / answerable if answerable else 0.0,
        "confident_share": confident / n if n else 0.0,
        "confident_wrong": conf_wrong / n if n else 0.0,
        "errors": errors,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", default=str(ROOT / "benchmarks" / "data" / "questions.jsonl"))
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--show-errors", type=int, default=0)
    args = ap.parse_args()
    questions = [json.loads(l) for l in open(args.questions, encoding="utf-8") if l.strip()]
    t = time.perf_counter()
    index = load_index(Path(args.data))
    build = time.perf_counter() - t
    plain = evaluate(index, questions)
    folded = evaluate(index, questions, folded=True)
    print(f"index: {len(index)} procedures, built in {build:.2f} s; {len(questions)} questions "
          f"({plain['answerable']} answerable)")
    print(f"{'':18}{'top-1':>8}{'top-5':>8}{'confident':>11}{'conf-wrong':>12}")
    for label, r in (("as written", plain), ("no diacritics", folded)):
        print(f"{label:18}{r['top1']:8.3f}{r['top5']:8.3f}{r['confident_share']:11.3f}{r['confident_wrong']:12.3f}")
    for kind, q, got in plain["errors"][: args.show_errors]:
        print(f"  {kind:24} {q['q']!r} want {q['codes'][:3]} got {got}")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    summary = {k: {kk: vv for kk, vv in v.items() if kk != "errors"} for k, v in
               (("as_written", plain), ("no_diacritics", folded))}
    summary["build_seconds"] = build
    (out / "search_quality.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
