"""Search quality on the labelled questions (benchmarks/data/questions.jsonl).

    .venv/bin/python benchmarks/search_quality.py [--split dev|test|all|each] [--kb full|bundled]
        [--questions FILE] [--data DIR] [--show-errors N] [--set name=value ...]

Builds the index and runs every question of the chosen split, as written and folded (no
diacritics). Reports over answerable questions top-1, top-5 and MRR@5; over all questions the
share answered confidently, and the share of confident-but-wrong answers (confident and the top
hit not a right code, or confident on an unanswerable question). Writes JSON to
benchmarks/out/search_quality.json.

Splits: every question of questions.jsonl belongs to ``dev`` (~70 %, used to tune the ranking and confidence
knobs) or ``test`` (~30 %, held out: quote these figures) by a stable hash of its text
(:func:`split_of`), so adding questions never moves old ones between splits. ``each`` (the
default) prints dev, test and all. ``questions_dev_extra.jsonl`` (written in the third round
for sibling procedures) is always dev: it was written while looking at errors, so it must never
count as held out.

Knowledge bases: ``full`` (default) indexes the national-portal and Defence files in
../shared/data (2,849 procedures); ``bundled`` indexes kb/data/procedures (what ``make run``
serves) and keeps only the codes present there: questions with none of their codes in the bundled
KB are scored as unanswerable (the bot must not be confident on them).

``--set rerank=60 --set confident_score=0.5`` overrides SearchConfig fields (to try a change
without editing code; tune on dev only).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import pickle
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.importers import RowError, detect_and_parse  # noqa: E402
from kb.normalize import fold  # noqa: E402
from kb.search import SearchConfig, SearchIndex  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "data" / "questions.jsonl"
# dev-only questions (third round: sibling procedures); never part of the held-out split
DEV_EXTRA = ROOT / "benchmarks" / "data" / "questions_dev_extra.jsonl"
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "out"
FULL_FILES = ("tthc-national-portal-2026.jsonl.gz", "tthc-bqp-2026.jsonl.gz")
DEV_SHARE = 70  # percent


def split_of(question: str) -> str:
    """``"dev"`` or ``"test"``: a stable hash (SHA-256 of the NFC text), ~70 % dev."""
    h = hashlib.sha256(unicodedata.normalize("NFC", question).encode("utf-8")).digest()
    return "dev" if int.from_bytes(h[:4], "big") % 100 < DEV_SHARE else "test"


def load_questions(path: Path | str = QUESTIONS, split: str = "all", *,
                   dev_extra: Path | str | None = DEV_EXTRA) -> list[dict]:
    """Questions of ``split``; each carries its split in ``"split"``. The questions of
    ``dev_extra`` (if the file exists) are added to dev (and all), never to test."""
    qs = [{**q, "split": split_of(q["q"])} for q in _read(path)]
    if dev_extra and Path(dev_extra).exists():
        qs += [{**q, "split": "dev"} for q in _read(dev_extra)]
    return qs if split == "all" else [q for q in qs if q["split"] == split]


def _read(path: Path | str) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def load_procedures(kb: str = "full", data: Path = DATA) -> list:
    """Parsed procedures (the full data is cached in benchmarks/out, keyed by file size/mtime)."""
    if kb == "bundled":
        from kb.canonical import load_bundled

        return list(load_bundled())
    stamp = [(n, os.stat(data / n).st_size, os.stat(data / n).st_mtime_ns) for n in FULL_FILES]
    cache = OUT / "procedures.pickle"
    if cache.exists():
        try:
            got = pickle.loads(cache.read_bytes())
            if got["stamp"] == stamp:
                return got["procs"]
        except Exception:  # stale or incompatible cache: parse again
            pass
    procs = []
    for name in FULL_FILES:
        procs += [p for p in detect_and_parse(data / name) if not isinstance(p, RowError)]
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps({"stamp": stamp, "procs": procs}))
    return procs


def load_index(data: Path = DATA, kb: str = "full", config: SearchConfig | None = None) -> SearchIndex:
    return SearchIndex.build(load_procedures(kb, data), config=config)


def restrict(questions: list[dict], index: SearchIndex) -> list[dict]:
    """Questions with their codes limited to those in ``index`` (none left -> unanswerable)."""
    out = []
    for q in questions:
        codes = [c for c in q["codes"] if index.get(c) is not None]
        out.append({**q, "codes": codes, "out_of_kb": bool(q["codes"]) and not codes})
    return out


def evaluate(index: SearchIndex, questions: list[dict], *, folded: bool = False) -> dict:
    top1 = top5 = answerable = conf_wrong = confident = conf_right = 0
    rr = 0.0
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
            rr += next((1.0 / (k + 1) for k, c in enumerate(got) if c in codes), 0.0)
            conf_right += r.confident and ok1
            if r.confident and not ok1:
                conf_wrong += 1
                errors.append(("confident-wrong", q, got[:3], r))
            elif not ok1:
                errors.append(("miss", q, got[:3], r))
        elif r.confident:
            conf_wrong += 1
            errors.append(("confident-unanswerable", q, got[:3], r))
    n = len(questions)
    return {
        "questions": n,
        "answerable": answerable,
        "top1": top1 / answerable if answerable else 0.0,
        "top5": top5 / answerable if answerable else 0.0,
        "mrr5": rr / answerable if answerable else 0.0,
        "confident_share": confident / n if n else 0.0,
        "confident_right_share": conf_right / answerable if answerable else 0.0,
        "confident_wrong": conf_wrong / n if n else 0.0,
        "errors": errors,
    }


def parse_overrides(items: list[str]) -> dict:
    fields = {f.name: f for f in dataclasses.fields(SearchConfig)}
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        if key not in fields:
            raise SystemExit(f"unknown SearchConfig field {key!r}")
        kind = type(getattr(SearchConfig(), key))
        if key == "field_weights":
            out[key] = eval(value)
        elif kind is bool:  # bool("0") is True
            if value.lower() not in ("0", "1", "false", "true", "no", "yes"):
                raise SystemExit(f"{key}: {value!r} is not a boolean (0/1, true/false)")
            out[key] = value.lower() in ("1", "true", "yes")
        else:
            out[key] = kind(value)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", default=str(QUESTIONS))
    ap.add_argument("--dev-extra", default=str(DEV_EXTRA),
                    help="dev-only questions added to the dev split ('' to leave them out)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--split", choices=("dev", "test", "all", "each"), default="each")
    ap.add_argument("--kb", choices=("full", "bundled"), default="full")
    ap.add_argument("--show-errors", type=int, default=0, help="list up to N errors (of the chosen split)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    config = dataclasses.replace(SearchConfig(), **parse_overrides(args.set))
    procs = load_procedures(args.kb, Path(args.data))
    t = time.perf_counter()
    index = SearchIndex.build(procs, config=config)
    build = time.perf_counter() - t
    every = load_questions(args.questions, dev_extra=args.dev_extra or None)
    if args.kb == "bundled":
        every = restrict(every, index)
    splits = ("dev", "test", "all") if args.split == "each" else (args.split,)
    print(f"index ({args.kb}): {len(index)} procedures, built in {build:.2f} s; {len(every)} questions")
    print(f"{'':24}{'n':>5}{'answ.':>6}{'top-1':>8}{'top-5':>8}{'MRR@5':>8}{'confident':>11}"
          f"{'conf-right':>12}{'conf-wrong':>12}")
    summary: dict = {"kb": args.kb, "build_seconds": build, "procedures": len(index)}
    last = None
    for split in splits:
        qs = every if split == "all" else [q for q in every if q["split"] == split]
        for label, folded in (("as written", False), ("no diacritics", True)):
            r = evaluate(index, qs, folded=folded)
            print(f"{split + ' ' + label:24}{r['questions']:5d}{r['answerable']:6d}{r['top1']:8.3f}{r['top5']:8.3f}"
                  f"{r['mrr5']:8.3f}{r['confident_share']:11.3f}{r['confident_right_share']:12.3f}"
                  f"{r['confident_wrong']:12.3f}")
            summary[f"{split}_{label.replace(' ', '_')}"] = {k: v for k, v in r.items() if k != "errors"}
            if not folded:
                last = r
        if args.kb == "bundled":
            ooks = [q for q in qs if q.get("out_of_kb")]
            wrong = sum(index.search(q["q"]).confident for q in ooks)
            print(f"{'':24}{len(ooks)} of them answerable only outside the bundled KB; "
                  f"confident on {wrong}")
    for kind, q, got, r in (last["errors"] if last else [])[: args.show_errors]:
        top = r.hits[0] if r.hits else None
        extra = f" s={top.score:.2f} c={top.coverage:.2f}" if top else ""
        print(f"  {kind:24} {q['q']!r} want {q['codes'][:3]} got {got}{extra}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "search_quality.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
