"""``tthc-bot privacy purge``: apply the retention periods now (the job does it daily)."""

from __future__ import annotations

import argparse
import asyncio
import sys


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.cli import load
    from bot.clock import SystemClock
    from bot.retention import purge
    from storage.db import Database
    from storage.migrate import is_current

    cfg = load(args)
    if not is_current(cfg.database.url):
        print("error: the database schema is not up to date; run `tthc-bot db upgrade` first",
              file=sys.stderr)
        return 2

    async def run() -> dict[str, int]:
        db = Database(cfg.database.url)
        try:
            return await purge(db, cfg, SystemClock().now())
        finally:
            await db.dispose()

    counts = asyncio.run(run())
    print(f"purged (retention {cfg.privacy.retention_days} days, ownership "
          f"{cfg.privacy.ownership_retention_days} days): "
          + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    privacy = sub.add_parser("privacy", help="personal data").add_subparsers(
        dest="privacy_command", required=True)
    p = privacy.add_parser("purge", help="delete personal data older than the retention periods")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_purge)
