"""Dump the search rankings, to check that a speed change changes no result.

    .venv/bin/python benchmarks/dump_rankings.py [--out FILE] [--sizes 3000,10000] [--data DIR] [--engine DIR]
    .venv/bin/python benchmarks/dump_rankings.py --engine ../main --out benchmarks/out/rankings_main.jsonl
    cmp benchmarks/out/rankings_main.jsonl benchmarks/out/rankings.jsonl

``--engine DIR`` imports ``kb`` from another checkout (main's, say), with this checkout's
benchmark scripts and queries, so both dumps come from the same queries.

Builds the index on the real records (as benchmarks/search_quality.py does) and on scaled sets
(as benchmarks/search_speed.py does, default 3k and 10k procedures) and writes one JSON line per
(index, query, filter): the top 10 (code, score and coverage to 9 digits), the searched terms,
the suggestions and every other field of the result (``confident``, the margin, the name
coverage ...). Queries: every question of
questions.jsonl, questions_dev_extra.jsonl and questions_fresh.jsonl as written and folded, and
search_speed.py's 2,000 benchmark queries; 200 of them also with a level and a field filter.

Before the rankings, one line per index gives a SHA-256 of each built structure (postings in
dict order with the arrays' bytes, idf, names, name words, details, scopes ...; sets and the
``accented`` mapping sorted, as their order follows the hash seed), so that a change in the
index that no query happens to show is seen too.

The engine rounds the scores it returns to 4 digits; to compare the floats themselves this
script replaces ``round(x, 4)`` inside kb.search by the identity (only the returned values; the
ranking's own ``round(x, 3)`` is untouched), so the dump shows the unrounded scores.
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
if "--engine" in sys.argv:  # before kb is imported
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--engine") + 1]).resolve()))

import kb.search as ks  # noqa: E402
from kb.normalize import fold  # noqa: E402
from search_quality import DATA, load_procedures  # noqa: E402
from search_speed import queries, scaled  # noqa: E402

QFILES = ("questions.jsonl", "questions_dev_extra.jsonl", "questions_fresh.jsonl")


def _round(x, n=None):  # the engine's output rounding (4 digits) off; anything else as usual
    return x if n == 4 else builtins.round(x, n)


def all_queries(base) -> list[str]:
    qs: list[str] = []
    for name in QFILES:
        path = ROOT / "benchmarks" / "data" / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    q = json.loads(line)["q"]
                    qs += [q, fold(q)]
    return qs + queries(base, 2000)


def structures(index) -> dict[str, str]:
    """SHA-256 of each structure of a built index (see above)."""
    def digest(*parts) -> str:
        h = hashlib.sha256()
        for part in parts:
            h.update(part if isinstance(part, bytes) else repr(part).encode("utf-8"))
        return h.hexdigest()

    out = {"postings": digest(*(x for t, (ids, vals) in index.postings.items()
                                for x in (t, ids.typecode, ids.tobytes(), vals.typecode, vals.tobytes())))}
    for name in ("idf", "by_code", "vocab_by_len", "fuzzy_names", "sim_names", "name_terms", "name_words",
                 "acc_by_len", "name_len", "level_rank", "folded_level", "folded_field", "folded_agency",
                 "_max_idf", "_ideal_sat"):
        out[name] = digest(list(getattr(index, name).items()) if isinstance(getattr(index, name), dict)
                           else getattr(index, name))
    out["citizen"] = digest(bytes(index.citizen))
    out["details"] = digest([sorted(d) for d in index.details])
    out["scopes"] = digest(sorted(index.scopes.items()))
    out["accented"] = digest(sorted((k, sorted(v)) for k, v in index.accented.items()))
    out["pidf"] = digest(list(index.pidf(index.config.idf_power).items()))
    return out


def row(index, label: str, q: str, **filters) -> dict:
    r = index.search(q, limit=10, **filters)
    return {
        "index": label, "q": q, "filters": filters,
        "hits": [[h.code, f"{h.score:.9f}", f"{h.coverage:.9f}"] for h in r.hits],
        "terms": list(r.terms), "suggestions": [[s.kind, s.value, s.count] for s in r.suggestions],
        # every other field of SearchResult (confident, by_code, margin, name_coverage ...)
        **{f.name: (f"{v:.9f}" if isinstance(v := getattr(r, f.name), float) else v)
           for f in dataclasses.fields(r) if f.name not in ("query", "hits", "terms", "suggestions")},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "rankings.jsonl"))
    ap.add_argument("--sizes", default="3000,10000", help="scaled sets besides the real records ('' for none)")
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--engine", help="import kb from this checkout instead (see above)")
    args = ap.parse_args()
    print(f"engine: {ks.__file__}")
    ks.round = _round  # module global: shadows the builtin inside kb.search only
    base = load_procedures("full", Path(args.data))
    qs = all_queries(base)
    sets = [("real", base)] + [(f"scaled{n}", scaled(base, int(n))) for n in args.sizes.split(",") if n]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with out.open("w", encoding="utf-8") as f:
        for label, procs in sets:
            index = ks.SearchIndex.build(procs)
            f.write(json.dumps({"index": label, "structures": structures(index)}) + "\n")
            for q in qs:
                f.write(json.dumps(row(index, label, q), ensure_ascii=False) + "\n")
                lines += 1
            for q in qs[::len(qs) // 200 or 1][:200]:
                for filters in ({"level": "Cấp xã"}, {"field": base[0].field}):
                    f.write(json.dumps(row(index, label, q, **filters), ensure_ascii=False) + "\n")
                    lines += 1
    print(f"{lines} rankings of {len(qs)} queries on {len(sets)} indexes -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
