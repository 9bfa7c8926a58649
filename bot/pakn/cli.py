"""``tthc-bot staff ...``: staff accounts and agencies for the PAKN dashboard.

    tthc-bot staff agency CODE "Tên cơ quan" [--inactive]
    tthc-bot staff add USERNAME --role admin|officer [--agency CODE] [--name "Họ tên"] [--password-stdin]
    tthc-bot staff disable USERNAME
    tthc-bot staff reset-password USERNAME [--password-stdin]
    tthc-bot staff list

Passwords are asked twice on the terminal (never on the command line); scripts pass one
line on standard input with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.clock import SystemClock

DB_HELP = "database URL (default: from the config)"


def register(sub) -> None:
    staff = sub.add_parser("staff", help="staff accounts and agencies (PAKN dashboard)")
    cmds = staff.add_subparsers(dest="staff_command", required=True)

    p = cmds.add_parser("add", help="create a staff account")
    p.add_argument("username", help="login name (stored in lower case)")
    p.add_argument("--role", choices=("admin", "officer"), required=True,
                   help="admin: every agency and the accounts; officer: one agency's items")
    p.add_argument("--agency", help="agency code (required for officers)")
    p.add_argument("--name", default="", help="full name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from one line of standard input (scripts)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_add)

    p = cmds.add_parser("disable", help="lock an account and end its sessions")
    p.add_argument("username", help="login name of the account")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_disable)

    p = cmds.add_parser("reset-password", help="set a new password and end the account's sessions")
    p.add_argument("username", help="login name of the account")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from one line of standard input (scripts)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_reset)

    p = cmds.add_parser("list", help="list staff accounts")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("agency", help="add or rename an agency (cơ quan)")
    p.add_argument("code", help="agency code, e.g. STP (letters, digits, '.', '_', '-')")
    p.add_argument("name", help="the name citizens see, e.g. \"Sở Tư pháp\" (3-300 characters)")
    p.add_argument("--inactive", action="store_true", help="no longer offered to citizens")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=cmd_agency)


def _password(args: argparse.Namespace) -> str | None:
    """The new password, or None (reason printed) when it is refused."""
    from bot.dashboard.auth import check_password_strength

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Mật khẩu mới: ")
        if getpass.getpass("Nhập lại: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return None
    weak = check_password_strength(password)
    if weak:
        print(f"error: {weak}", file=sys.stderr)
        return None
    return password


def _run(args: argparse.Namespace, fn) -> int:
    from bot.cli import load
    from storage.db import Database

    cfg = load(args)

    async def main() -> int:
        db = Database(cfg.database.url)
        try:
            return await fn(db, SystemClock().now(), cfg)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_add(args: argparse.Namespace) -> int:
    from bot.dashboard.auth import add_user, hasher_for

    password = _password(args)
    if password is None:
        return 1

    async def fn(db, now, cfg) -> int:
        try:
            user = await add_user(db, username=args.username, password=password, role=args.role,
                                  agency_code=args.agency, full_name=args.name, now=now,
                                  hasher=hasher_for(cfg))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"staff account {user.username} created ({user.role})")
        return 0

    return _run(args, fn)


async def _user_or_fail(uow, username: str):
    from storage.repos.pakn import StaffRepo

    user = await uow.repo(StaffRepo).by_username(username.strip().lower())
    if user is None:
        print(f"error: no staff account {username!r}", file=sys.stderr)
    return user


def cmd_disable(args: argparse.Namespace) -> int:
    from storage.repos.pakn import StaffRepo

    async def fn(db, now, cfg) -> int:
        async with db.unit_of_work() as uow:
            user = await _user_or_fail(uow, args.username)
            if user is None:
                return 1
            await uow.repo(StaffRepo).update_user(user.id, active=False)
            await uow.repo(StaffRepo).end_sessions_of(user.id)
            await uow.audit.record(actor="cli", action="staff.disabled", entity_type="staff",
                                   entity_id=str(user.id), now=now)
        print(f"staff account {user.username} disabled")
        return 0

    return _run(args, fn)


def cmd_reset(args: argparse.Namespace) -> int:
    from bot.dashboard.auth import hasher_for
    from storage.repos.pakn import StaffRepo

    password = _password(args)
    if password is None:
        return 1

    async def fn(db, now, cfg) -> int:
        password_hash = hasher_for(cfg).hash(password)  # before the transaction: it holds the write lock
        async with db.unit_of_work() as uow:
            user = await _user_or_fail(uow, args.username)
            if user is None:
                return 1
            repo = uow.repo(StaffRepo)
            await repo.update_user(user.id, password_hash=password_hash, password_changed_at=now)
            await repo.end_sessions_of(user.id)
            await repo.clear_failures(f"user:{user.username}")
            await uow.audit.record(actor="cli", action="staff.password_reset", entity_type="staff",
                                   entity_id=str(user.id), now=now)
        print(f"password of {user.username} reset; its sessions ended")
        return 0

    return _run(args, fn)


def cmd_list(args: argparse.Namespace) -> int:
    from storage.repos.pakn import StaffRepo

    async def fn(db, now, cfg) -> int:
        async with db.unit_of_work() as uow:
            users = await uow.repo(StaffRepo).users()
        for u in users:
            print(f"{u.username}\t{u.role}\t{u.agency_code or '-'}\t{'active' if u.active else 'disabled'}\t{u.full_name}")
        return 0

    return _run(args, fn)


def cmd_agency(args: argparse.Namespace) -> int:
    from storage.repos.pakn import PaknRepo

    from bot.pakn.rules import normalize_agency

    agency = normalize_agency(args.code, args.name)
    if agency is None:
        print("error: agency code: letters, digits, '.', '_' or '-', at most 32; "
              "name: 3 to 300 characters", file=sys.stderr)
        return 1
    code, name = agency

    async def fn(db, now, cfg) -> int:
        async with db.unit_of_work() as uow:
            await uow.repo(PaknRepo).save_agency(code, name, not args.inactive, now)
            await uow.audit.record(actor="cli", action="pakn.agency_saved", entity_type="agency",
                                   entity_id=code, details={"name": name}, now=now)
        print(f"agency {code} saved")
        return 0

    return _run(args, fn)
