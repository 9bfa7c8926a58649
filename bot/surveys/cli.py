"""``tthc-bot report sipas --from DATE --to DATE [--agency X] --format xlsx|csv``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date, datetime
from pathlib import Path


def parse_date(text: str) -> date:
    """2026-11-30 or 30/11/2026."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"not a date: {text!r} (use 2026-11-30 or 30/11/2026)")


def register(sub) -> None:
    report = sub.add_parser("report", help="reports").add_subparsers(dest="report_command", required=True)
    p = report.add_parser("sipas", help="satisfaction (SIPAS) report as XLSX or CSV")
    p.add_argument("--from", dest="start", type=parse_date, required=True, help="first day (YYYY-MM-DD)")
    p.add_argument("--to", dest="end", type=parse_date, required=True, help="last day, included")
    p.add_argument("--agency", help="only this agency (its code)")
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="file format (default: xlsx)")
    p.add_argument("--output", "-o", help="file to write (default: bao-cao-sipas-FROM-TO.FORMAT)")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_report_sipas)


def cmd_report_sipas(args: argparse.Namespace) -> int:
    from bot.cli import load
    from bot.surveys.export import write_csv, write_xlsx
    from bot.surveys.report import build_report
    from storage.db import Database

    cfg = load(args)
    if args.end < args.start:
        print("error: --to is before --from", file=sys.stderr)
        return 2
    out = Path(args.output or f"bao-cao-sipas-{args.start:%Y%m%d}-{args.end:%Y%m%d}"
               f"{'-' + args.agency if args.agency else ''}.{args.format}")
    folder = out.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):  # before the report is built
        why = "No such file or directory" if not folder.is_dir() else "Permission denied"
        print(f"error: cannot write {out}: {why}", file=sys.stderr)
        return 1

    async def run() -> int:
        db = Database(cfg.database.url)
        try:
            async with db.unit_of_work() as uow:
                report = await build_report(uow, start=args.start, end=args.end, agency=args.agency,
                                            targets=cfg.reports, tz=cfg.tz,
                                            with_answers=args.format == "xlsx")
        finally:
            await db.dispose()
        try:
            if args.format == "csv":
                write_csv(report, out)
            else:
                write_xlsx(report, out, cfg.tz)
        except OSError as exc:  # no such folder, no permission, disk full
            print(f"error: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"wrote {out} ({report.response.resolved} cases, {len(report.answers)} answers)")
        return 0

    return asyncio.run(run())
