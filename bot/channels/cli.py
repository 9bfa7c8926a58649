"""``tthc-bot telegram ...``, ``tthc-bot zalo-bot ...`` and ``tthc-bot zalo-oa ...`` commands."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys


def _webhook_url(cfg, path: str, given: str | None) -> str | None:
    if given:
        return given
    if not cfg.web.public_url:
        print("error: give --url or set web.public_url (the https address platforms reach us at)",
              file=sys.stderr)
        return None
    return cfg.web.public_url.rstrip("/") + path


def cmd_telegram_set_webhook(args: argparse.Namespace) -> int:
    from bot.channels.telegram import set_webhook
    from bot.cli import load

    cfg = load(args)
    if not cfg.telegram.token or not cfg.telegram.webhook_secret:
        print("error: telegram.token and telegram.webhook_secret must be set", file=sys.stderr)
        return 2
    url = _webhook_url(cfg, cfg.telegram.webhook_path, args.url)
    if url is None:
        return 2
    ok = asyncio.run(set_webhook(cfg, url, drop_pending=args.drop_pending))
    print(f"telegram webhook {'set to ' + url if ok else 'NOT set'}")
    return 0 if ok else 1


def cmd_telegram_delete_webhook(args: argparse.Namespace) -> int:
    from bot.channels.telegram import delete_webhook
    from bot.cli import load

    cfg = load(args)
    if not cfg.telegram.token:
        print("error: telegram.token must be set", file=sys.stderr)
        return 2
    ok = asyncio.run(delete_webhook(cfg, drop_pending=args.drop_pending))
    print("telegram webhook deleted" if ok else "telegram webhook NOT deleted")
    return 0 if ok else 1


def cmd_telegram_webhook_info(args: argparse.Namespace) -> int:
    from bot.channels.telegram import webhook_info
    from bot.cli import load

    cfg = load(args)
    if not cfg.telegram.token:
        print("error: telegram.token must be set", file=sys.stderr)
        return 2
    info = asyncio.run(webhook_info(cfg))
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0


def _zalo_bot_call(args: argparse.Namespace, what: str) -> int:
    from bot.channels.base import SendError
    from bot.channels.zalo_bot import ZaloBotChannel
    from bot.clock import SystemClock
    from bot.cli import load

    cfg = load(args)
    if not cfg.zalo_bot.token:
        print("error: zalo_bot.token must be set", file=sys.stderr)
        return 2
    url = ""
    if what == "set":
        if not cfg.zalo_bot.webhook_secret:
            print("error: zalo_bot.webhook_secret must be set", file=sys.stderr)
            return 2
        url = _webhook_url(cfg, cfg.zalo_bot.webhook_path, args.url) or ""
        if not url:
            return 2

    async def run() -> None:
        channel = ZaloBotChannel(None, None, SystemClock(), cfg)  # type: ignore[arg-type]
        try:
            if what == "set":
                await channel.set_webhook(url)
            else:
                await channel.delete_webhook()
        finally:
            await channel.http.close()

    try:
        asyncio.run(run())
    except SendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"zalo bot webhook set to {url}" if what == "set" else "zalo bot webhook deleted")
    return 0


def cmd_zalo_oa_set_tokens(args: argparse.Namespace) -> int:
    """Store a new token pair (from the OA's admin page) in the database."""
    from datetime import timedelta

    from bot.cli import load
    from bot.clock import SystemClock
    from storage.db import Database
    from storage.repos.channels import TokenPair, ZaloTokens

    cfg = load(args)
    if not cfg.zalo_oa.app_id:
        print("error: zalo_oa.app_id must be set", file=sys.stderr)
        return 2
    access = args.access_token or getpass.getpass("access token (empty: refresh at once): ")
    refresh = args.refresh_token or getpass.getpass("refresh token: ")
    if not refresh.strip():
        print("error: a refresh token is needed", file=sys.stderr)
        return 2
    now = SystemClock().now()
    trust = timedelta(minutes=cfg.zalo_oa.refresh_early_minutes + 60)
    pair = TokenPair(access.strip(), refresh.strip(), now + trust if access.strip() else now,
                     now + timedelta(days=cfg.zalo_oa.refresh_token_lifetime_days), 0)

    async def run() -> None:
        db = Database(cfg.database.url)
        try:
            async with db.unit_of_work() as uow:
                repo = uow.repo(ZaloTokens)
                if not await repo.seed(cfg.zalo_oa.app_id, pair, now):
                    await repo.store(cfg.zalo_oa.app_id, pair, now)
        finally:
            await db.dispose()

    asyncio.run(run())
    print("zalo oa token pair stored")
    return 0


def cmd_zalo_oa_token_status(args: argparse.Namespace) -> int:
    from bot.cli import load
    from storage.db import Database
    from storage.repos.channels import ZaloTokens

    cfg = load(args)

    async def run():
        db = Database(cfg.database.url)
        try:
            async with db.unit_of_work() as uow:
                return await uow.repo(ZaloTokens).get(cfg.zalo_oa.app_id)
        finally:
            await db.dispose()

    pair = asyncio.run(run())
    if pair is None:
        print("no token pair stored (tthc-bot zalo-oa set-tokens)")
        return 1
    print(f"access token expires at {pair.access_expires_at.isoformat()}")
    print(f"refresh token expires at {pair.refresh_expires_at.isoformat() if pair.refresh_expires_at else '?'}")
    print(f"refreshes so far: {pair.refresh_count}")
    return 0


def register(sub) -> None:
    tg = sub.add_parser("telegram", help="Telegram webhook registration").add_subparsers(
        dest="telegram_command", required=True)
    p = tg.add_parser("set-webhook", help="register web.public_url + telegram.webhook_path with Telegram")
    p.add_argument("--url", help="the full https URL (default: from the config)")
    p.add_argument("--drop-pending", action="store_true", help="discard updates waiting at Telegram")
    p.set_defaults(func=cmd_telegram_set_webhook)
    p = tg.add_parser("delete-webhook", help="remove the webhook (for polling mode)")
    p.add_argument("--drop-pending", action="store_true", help="discard updates waiting at Telegram")
    p.set_defaults(func=cmd_telegram_delete_webhook)
    tg.add_parser("webhook-info", help="what Telegram has registered").set_defaults(func=cmd_telegram_webhook_info)

    zb = sub.add_parser("zalo-bot", help="Zalo Bot platform webhook registration").add_subparsers(
        dest="zalo_bot_command", required=True)
    p = zb.add_parser("set-webhook", help="register the webhook URL and secret with the Zalo Bot platform")
    p.add_argument("--url", help="the full https URL (default: from the config)")
    p.set_defaults(func=lambda a: _zalo_bot_call(a, "set"))
    zb.add_parser("delete-webhook", help="remove the webhook (for polling mode)").set_defaults(
        func=lambda a: _zalo_bot_call(a, "delete"))

    zo = sub.add_parser("zalo-oa", help="Zalo OA token pair").add_subparsers(
        dest="zalo_oa_command", required=True)
    p = zo.add_parser("set-tokens", help="store a new access/refresh token pair in the database")
    p.add_argument("--access-token", help="(prompted when not given; better than the shell history)")
    p.add_argument("--refresh-token", help="(prompted when not given)")
    p.set_defaults(func=cmd_zalo_oa_set_tokens)
    zo.add_parser("token-status", help="when the stored tokens expire").set_defaults(func=cmd_zalo_oa_token_status)
