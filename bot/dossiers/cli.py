"""``tthc-bot dossiers ...`` commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def cmd_import(args: argparse.Namespace) -> int:
    from bot.cli import load
    from bot.clock import SystemClock
    from bot.dossiers.importer import ImportFileError, import_file
    from storage.db import Database
    from storage.migrate import is_current

    from bot.dossiers.keys import configure

    cfg = load(args)
    configure(cfg)  # the same key as the running service (ID-number fingerprints)
    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    if not is_current(cfg.database.url):
        print("error: the database schema is not up to date; run `tthc-bot db upgrade` first", file=sys.stderr)
        return 2

    async def run():
        db = Database(cfg.database.url)
        try:
            return await import_file(db, path, cfg.tz, SystemClock().now(), dry_run=args.dry_run)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except ImportFileError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    print(("dry run, nothing stored: " if args.dry_run else "imported: ") + report.summary())
    return 3 if report.errors else 0


def cmd_check(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.cli import load

    cfg = load(args)

    async def run():
        app = build_app(cfg, scheduler=False)
        try:
            if app.services.dossiers is None:
                print("dossiers are disabled ([dossiers] enabled = false)", file=sys.stderr)
                return None
            return await app.services.dossiers.check_due()
        finally:
            await app.stop()

    stats = asyncio.run(run())
    if stats is None:
        return 2
    print(" ".join(f"{k}={v}" for k, v in stats.items()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    dossiers = sub.add_parser("dossiers", help="dossier status (hồ sơ)").add_subparsers(
        dest="dossiers_command", required=True)
    p = dossiers.add_parser("import", help="load a CSV/XLSX export of the one-stop system")
    p.add_argument("file", help="FILE.csv or FILE.xlsx")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.add_argument("--dry-run", action="store_true", help="check the file, store nothing")
    p.set_defaults(func=cmd_import)
    p = dossiers.add_parser("check", help="check followed dossiers now and queue notifications")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_check)
