"""Search speed: index build time, query latency and process memory at 3k, 10k, 50k procedures.

    .venv/bin/python benchmarks/search_speed.py [--sizes 3000,10000,50000] [--queries 2000] [--set rerank=40 ...]

The real national-portal and Defence records (../shared/data) are scaled up with variations:
each copy gets a synthetic code (first digit 4-9, never a real code) and a perturbed name (a word
dropped, two neighbouring words swapped, a level suffix or a qualifier added), so the vocabulary
and posting lists grow the way a bigger catalogue's would. Queries are the labelled questions
(benchmarks/data/questions.jsonl) when present, plus folded copies, plus fragments of names.
Prints a table and writes benchmarks/out/search_speed.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kb.importers import RowError, detect_and_parse  # noqa: E402
from kb.model import Procedure  # noqa: E402
from kb.normalize import fold  # noqa: E402
from kb.search import SearchConfig, SearchIndex  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))

SUFFIXES = ["(thực hiện tại cấp tỉnh)", "(thực hiện tại cấp xã)", "(cấp trung ương)", "đối với tổ chức",
            "đối với cá nhân", "trong trường hợp bị mất", "có yếu tố nước ngoài", "lần đầu", "trực tuyến"]


def rss_mb() -> float:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def perturb(name: str, rnd: random.Random) -> str:
    words = name.split()
    r = rnd.random()
    if r < 0.3 and len(words) > 4:
        del words[rnd.randrange(1, len(words))]
    elif r < 0.55 and len(words) > 3:
        i = rnd.randrange(1, len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    words.append(rnd.choice(SUFFIXES))
    return " ".join(words)


def scaled(base: list[Procedure], n: int, seed: int = 7) -> list[Procedure]:
    rnd = random.Random(seed)
    out = list(base[:n])
    k = 0
    while len(out) < n:
        p = base[k % len(base)]
        code = f"{4 + (k // 999999) % 6}.{k % 999999 + 1:06d}"
        out.append(dataclasses.replace(p, code=code, name=perturb(p.name, rnd), local_codes=()))
        k += 1
    return out


def queries(base: list[Procedure], count: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    qs: list[str] = []
    qfile = ROOT / "benchmarks" / "data" / "questions.jsonl"
    if qfile.exists():
        for line in qfile.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)["q"]
                qs += [q, fold(q)]
    while len(qs) < count:
        words = rnd.choice(base).name.split()
        i = rnd.randrange(len(words))
        qs.append(" ".join(words[i : i + rnd.randint(2, 5)]))
    rnd.shuffle(qs)
    return qs[:count]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--sizes", default="3000,10000,50000")
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="SearchConfig override")
    args = ap.parse_args()
    from search_quality import parse_overrides

    config = dataclasses.replace(SearchConfig(), **parse_overrides(args.set))
    data = Path(args.data)
    base: list[Procedure] = []
    for name in ("tthc-national-portal-2026.jsonl.gz", "tthc-bqp-2026.jsonl.gz"):
        base += [p for p in detect_and_parse(data / name) if not isinstance(p, RowError)]
    qs = queries(base, args.queries)
    qfile = ROOT / "benchmarks" / "data" / "questions.jsonl"
    labelled = [json.loads(x) for x in qfile.read_text(encoding="utf-8").splitlines() if x.strip()] \
        if qfile.exists() else []
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        procs = scaled(base, n)
        gc.collect()
        before = rss_mb()
        t, c = time.perf_counter(), time.process_time()
        index = SearchIndex.build(procs, config=config)
        build = time.perf_counter() - t
        build_cpu = time.process_time() - c
        after = rss_mb()
        for q in qs[:50]:  # warm-up (typo-correction cache is part of steady state)
            index.search(q)
        lat, cpu = [], []
        for q in qs:
            t, c = time.perf_counter(), time.thread_time()
            index.search(q)
            cpu.append((time.thread_time() - c) * 1000)
            lat.append((time.perf_counter() - t) * 1000)
        # ranking sanity at this size: the labelled questions' top-5 (copies are only distractors)
        hit5 = answerable = 0
        for q in labelled:
            if q["codes"]:
                answerable += 1
                hit5 += bool(set(q["codes"]) & {h.code for h in index.search(q["q"]).hits[:5]})
        rows.append({
            "top5": round(hit5 / answerable, 3) if answerable else None,
            "procedures": len(index), "build_s": round(build, 3), "build_cpu_s": round(build_cpu, 3),
            "queries": len(qs), "cpu_p50_ms": round(statistics.median(cpu), 3), "cpu_p95_ms": round(pct(cpu, 95), 3),
            "p50_ms": round(statistics.median(lat), 3), "p95_ms": round(pct(lat, 95), 3),
            "p99_ms": round(pct(lat, 99), 3), "max_ms": round(max(lat), 3),
            "rss_mb": round(rss_mb(), 1), "index_rss_mb": round(after - before, 1),
        })
        del index
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(wall-clock figures suffer when other processes compete; CPU figures much less)")
    print(f"{'procedures':>10} {'build s':>8} {'(cpu s)':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
          f" {'cpu p50':>8} {'cpu p95':>8} {'RSS MB':>7} {'index MB':>8} {'top-5':>6}")
    for r in rows:
        print(f"{r['procedures']:>10} {r['build_s']:>8.2f} {r['build_cpu_s']:>8.2f} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f}"
              f" {r['p99_ms']:>7.2f} {r['max_ms']:>7.2f} {r['cpu_p50_ms']:>8.2f} {r['cpu_p95_ms']:>8.2f}"
              f" {r['rss_mb']:>7.0f} {r['index_rss_mb']:>8.0f} {r['top5'] or 0:>6.3f}")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "search_speed.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
