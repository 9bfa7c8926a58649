"""The ``tthc-bot`` command.

Core commands live here; a capability adds its commands in its own module with a
``register(subparsers)`` function and lists the module in ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from typing import Callable, Sequence

from bot.config import Config, ConfigError, load_config
from bot.logs import setup_logging

log = logging.getLogger("tthc-bot")

COMMAND_MODULES: list[str] = [
    "kb.cli",
    "bot.channels.cli",
    "bot.dossiers.cli",
    "bot.ops.cli",
    "bot.surveys.cli",
    "bot.pakn.cli",
]


def _secrets(cfg: Config) -> tuple[str, ...]:
    """Values that must never reach a log line."""
    out = []
    from sqlalchemy.engine import make_url

    try:
        pw = make_url(cfg.database.url).password
        if pw:
            out.append(str(pw))
    except Exception:
        pass
    for section in vars(cfg).values():
        for name, value in getattr(section, "__dict__", {}).items():
            if isinstance(value, str) and any(w in name for w in ("token", "secret", "password", "key")) \
                    and name not in ("api_key_header",):
                out.append(value)
    return tuple(v for v in out if v)


def load(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    if getattr(args, "db", None):
        cfg = cfg.with_database(args.db)
        from bot.config import validate

        validate(cfg)
    setup_logging(cfg.logging.level, as_json=cfg.logging.json, secrets=_secrets(cfg))
    return cfg


# -- core commands -------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from storage.migrate import is_current

    cfg = load(args)
    host = args.host or cfg.web.host
    port = args.port if args.port is not None else cfg.web.port
    workers = args.workers or cfg.ops.workers
    if workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    on_sqlite = cfg.database.url.strip().lower().startswith("sqlite")
    if workers > 1 and on_sqlite:
        print("error: several workers need PostgreSQL: SQLite serves one process. Set "
              "database.url (or TTHC__DATABASE__URL) to postgresql://... or run one worker.",
              file=sys.stderr)
        return 2
    if not args.worker and not is_current(cfg.database.url):
        print("error: the database schema is not up to date; run `tthc-bot db upgrade` first",
              file=sys.stderr)
        return 2
    if not args.worker and (busy := _port_taken(host, port)):
        print(f"error: cannot listen on {host}:{port}: {busy}", file=sys.stderr)
        return 2
    if workers > 1 and not args.worker:
        from bot.ops.workers import Supervisor, worker_argv

        if port == 0:
            print("error: several workers need a fixed port (not 0)", file=sys.stderr)
            return 2
        print(f"tthc-bot: {workers} workers serving on http://{host}:{port}/ (Ctrl+C to stop)",
              file=sys.stderr)
        return Supervisor(worker_argv(args.config, host, port), workers,
                          backoff=cfg.ops.restart_backoff_seconds).run()
    from aiohttp import web

    from bot.app import build_app
    from bot.ops.workers import install_event_loop

    try:
        loop_name = install_event_loop(cfg.ops.event_loop, not on_sqlite)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app = build_app(cfg)
    log.info("starting", extra={"url": f"http://{host}:{port}/", "database": app.db.safe_url,
                                "config": cfg.source, "pid": os.getpid(), "event_loop": loop_name})
    web.run_app(app.web, host=host, port=port, shutdown_timeout=10, access_log=None,
                reuse_port=args.worker or None,
                print=(lambda *_: None) if args.worker else
                (lambda *_: print(f"tthc-bot: serving on http://{host}:{port}/ (Ctrl+C to stop)",
                                  file=sys.stderr)),
                handle_signals=True)
    return 0


def _port_taken(host: str, port: int) -> str:
    """Why ``host:port`` cannot be listened on ("address already in use"), or "" when it can:
    checked before the knowledge base is loaded, so a second start fails at once and plainly."""
    import errno
    import socket

    if port == 0:
        return ""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror}); check --host or web.host"
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
            try:
                probe.bind(address)
            except OSError as exc:
                why = (exc.strerror or str(exc)).lower()
                if exc.errno == errno.EADDRINUSE:
                    return (f"{why}. Is tthc-bot already running? Stop it, or choose another port "
                            "(--port or web.port)")
                return f"{why}; check --host and --port (web.host, web.port)"
    return ""


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.app import build_app
    from bot.channels.console import ConsoleChannel
    from storage.migrate import upgrade

    cfg = load(args)
    upgrade(cfg.database.url)

    async def main() -> None:
        app = build_app(cfg)
        console = ConsoleChannel(app.core.handle, user=args.user)
        app.add_channel(console)
        await app.start()
        try:
            await console.run()
        finally:
            await app.stop()

    asyncio.run(main())
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.migrate import upgrade

    cfg = load(args)
    upgrade(cfg.database.url)
    from storage.db import Database

    print(f"database is up to date: {Database(cfg.database.url).safe_url}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from storage.migrate import current

    cfg = load(args)
    if not current(cfg.database.url):
        print("no migrations applied: run `tthc-bot db upgrade`")
        return 1
    return 0


def cmd_config_check(args: argparse.Namespace) -> int:
    cfg = load(args)
    print(f"configuration is valid ({cfg.source})")
    return 0


CONFIG_HELP = "config file (default: $TTHC_CONFIG or ./config.toml)"


def int_between(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` (to ``high``), else a usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tthc-bot", description="Chatbot thủ tục hành chính")
    parser.add_argument("--config", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="start the service (web chat and every enabled channel)")
    p.add_argument("--host", help="address to listen on (default: web.host)")
    p.add_argument("--port", type=int_between(0, 65535), help="port to listen on (default: web.port)")
    p.add_argument("--workers", type=int_between(1),
                   help="worker processes sharing the port (PostgreSQL only; default ops.workers)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # started by the supervisor
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("chat", help="chat with the bot in this terminal")
    p.add_argument("--user", help="user name for the conversation (default: your login)")
    p.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="apply the migrations")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("current", help="show the schema revision")
    p.add_argument("--db", help="database URL (default: from the config)")
    p.set_defaults(func=cmd_db_current)

    cfg = sub.add_parser("config", help="configuration").add_subparsers(dest="config_command", required=True)
    cfg.add_parser("check", help="validate the configuration").set_defaults(func=cmd_config_check)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _accept_config_everywhere(parser)
    return parser


def _accept_config_everywhere(parser: argparse.ArgumentParser) -> None:
    """``--config`` before or after the subcommand (``tthc-bot run --config X``): every
    subcommand takes it too, with no default of its own, so it only overrides a value given
    before the subcommand when it is given itself."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                if not any("--config" in a.option_strings for a in child._actions):
                    child.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
                _accept_config_everywhere(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args) or 0
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except EOFError:  # a prompt (password, token) met the end of a non-terminal standard input;
        # the message goes on a line of its own, after the prompt
        print("\nerror: standard input ended before the answer was given: run the command at a "
              "terminal, or see its --help for a non-interactive option", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (`tthc-bot kb stats | head`): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        from storage.db import SCHEMA_MISSING, database_failure

        failure = database_failure(exc)
        if failure is None:
            raise
        kind, reason = failure
        if kind == SCHEMA_MISSING:
            print(f"error: the database schema is not up to date ({reason}); "
                  "run `tthc-bot db upgrade` first", file=sys.stderr)
            return 2
        print(f"error: cannot use the database: {reason} (check database.url or --db)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
