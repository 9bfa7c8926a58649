"""``tthc-bot kb import|stats|search``: operate and measure the knowledge base."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from storage.migrate import upgrade


def register(sub) -> None:
    from bot.cli import int_between

    kb = sub.add_parser("kb", help="procedure knowledge base").add_subparsers(dest="kb_command", required=True)

    p = kb.add_parser("import", help="import procedure files (national portal JSONL(.gz), Defence JSONL, "
                                     "XLSX/CSV lists, canonical YAML/JSONL); idempotent")
    p.add_argument("paths", nargs="+", help="files to import")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.add_argument("--without-bundled", action="store_true",
                   help="on an empty database, import only these files (by default the bundled "
                        "knowledge base is loaded first, as the bot does on an empty database)")
    p.set_defaults(func=cmd_import)

    p = kb.add_parser("stats", help="counts by field, level and source")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_stats)

    p = kb.add_parser("search", help="search; without QUERY, one query per line from stdin, JSON lines out")
    p.add_argument("query", nargs="?", help="the question, as a citizen would type it")
    p.add_argument("--limit", type=int_between(1), default=5, help="results per query (default 5)")
    p.add_argument("--json", action="store_true", help="JSON output (always on for stdin queries)")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_search)


def _setup(args: argparse.Namespace):
    from bot.cli import load

    cfg = load(args)
    upgrade(cfg.database.url)
    return cfg


def cmd_import(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from kb.service import KnowledgeBase, import_paths, terminal_progress
    from storage.db import Database

    cfg = _setup(args)

    async def main() -> int:
        db = Database(cfg.database.url)
        try:
            # The bundled knowledge base is the default: an empty database gets it first, as
            # the bot (and `kb stats`/`kb search`) would, then the files go on top of it. Once
            # the database holds procedures the bot no longer adds the bundled ones.
            seeded = 0 if args.without_bundled else await KnowledgeBase(db, SystemClock()).ensure_seeded()
            if seeded:
                print(f"bundled knowledge base loaded first: {seeded} procedures (the database was empty; "
                      "--without-bundled imports only the given files)")
            reports = await import_paths(db, args.paths, SystemClock().now(), progress=terminal_progress)
        finally:
            await db.dispose()
        failed = False
        for r in reports:
            print(r.line())
            for err in r.skipped[:50]:
                print(f"  skipped: {err}")
            if len(r.skipped) > 50:
                print(f"  ... and {len(r.skipped) - 50} more skipped rows")
            failed = failed or bool(r.error)
        return 1 if failed else 0

    return asyncio.run(main())


def cmd_stats(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from kb.service import KnowledgeBase
    from storage.db import Database
    from storage.repos.kb import ProcedureRepo

    cfg = _setup(args)

    async def main() -> None:
        db = Database(cfg.database.url)
        try:
            # an empty database holds what the bot would serve: the bundled procedures
            await KnowledgeBase(db, SystemClock()).ensure_seeded()
            async with db.unit_of_work() as uow:
                repo = uow.repo(ProcedureRepo)
                total, version = await repo.count(), await repo.version()
                by_field = await repo.counts_by("field")
                by_level = await repo.counts_by("level")
                by_source = await repo.counts_by("source")
        finally:
            await db.dispose()
        print(f"procedures: {total} (version {version})")
        for title, rows in (("by level", by_level), ("by source", by_source), ("by field (top 25)", by_field[:25])):
            print(f"{title}:")
            for value, n in rows:
                print(f"  {n:6d}  {value or '(none)'}")

    asyncio.run(main())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from bot.clock import SystemClock
    from kb.service import KnowledgeBase
    from storage.db import Database

    cfg = _setup(args)

    async def build() -> KnowledgeBase:
        db = Database(cfg.database.url)
        try:
            kb = KnowledgeBase(db, SystemClock())
            await kb.ensure_seeded()  # as the bot does at start-up: an empty database gets the bundled ones
            await kb.refresh(force=True)
            return kb
        finally:
            await db.dispose()

    kb = asyncio.run(build())

    def answer(query: str) -> dict:
        res = kb.search(query, limit=args.limit)
        return {"query": query, "confident": res.confident,
                "results": [{"code": h.code, "name": h.name, "score": h.score} for h in res.hits]}

    if args.query is None:
        for line in sys.stdin:
            q = line.strip()
            if q:
                print(json.dumps(answer(q), ensure_ascii=False), flush=True)
        return 0
    out = answer(args.query)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(("Chắc chắn" if out["confident"] else "Chưa chắc chắn") + f" — {args.query}")
        for i, r in enumerate(out["results"], 1):
            print(f"{i}. [{r['code']}] {r['name']} ({r['score']:.2f})")
        if not out["results"]:
            print("Không tìm thấy thủ tục phù hợp.")
    return 0
