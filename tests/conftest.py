"""Shared fixtures: real databases (a SQLite file, a PostgreSQL database), the real app.

- ``sqlite_url``: a fresh, migrated SQLite file per test (copied from a template migrated
  once per run).
- ``pg_url``: a PostgreSQL database of this test run (created from ``TEST_DATABASE_URL``,
  migrated once, emptied before each test, dropped at the end); skipped with the reason
  when ``TEST_DATABASE_URL`` is not set or the server cannot be reached.
- ``db_url``: both, parametrized — the storage suites run on each backend.
- ``clock``: a :class:`bot.clock.ManualClock`.
- ``make_app``: ``build_app`` with a given database URL and the manual clock; stopped
  after the test.
- ``chat``: a :class:`bot.channels.memory.MemoryChannel` on an app over SQLite.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from bot.app import App, build_app
from bot.channels.memory import MemoryChannel
from bot.clock import ManualClock
from bot.config import Config, load_config
from storage.migrate import upgrade

pytest_plugins = ["tests.logscan"]  # scans every log line of the suite for personal data and secrets

ROOT = Path(__file__).resolve().parent.parent
# The key of the ID-number fingerprints in the tests (bot/dossiers/model.py): set for every
# app the tests build and for code that parses dossiers without an app.
TEST_ID_HASH_KEY = "test-id-hash-key-0123456789abcdef"
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(name: str) -> Path:
    """A file of ``../shared/data``; skips the test with the reason when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared procedure data is not beside this checkout)")
    return path


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``python -m bot.cli`` subprocess: no TTHC settings of the
    caller, and this checkout first on the path, so that a subprocess started outside it
    (``cwd=tmp_path``) runs this code, not the one the virtualenv was installed from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH", "")] if p])
    env.update(extra or {})
    return env


@pytest.fixture(autouse=True)
def _id_hash_key() -> None:
    from bot.dossiers.model import use_id_hash_key

    use_id_hash_key(TEST_ID_HASH_KEY.encode())


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Any:
    """Every test: the root logger as it was before. ``bot.cli.main`` run in-process calls
    ``setup_logging``, which adds a handler on the ``sys.stderr`` of that moment (pytest's
    capture of that test) and sets the level. Left behind, every later log line tried
    that closed stream and printed a "--- Logging error ---" traceback: CPU that the
    deadline tests then lacked, and a level that could hide lines from tests/logscan.py."""
    import logging

    from bot.logs import NOISY

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY}
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


# -- no real network --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_external_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test: a connection or name lookup outside the loopback fails the test."""
    from tests.fakes.network import block_external_network

    block_external_network(monkeypatch)


# -- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "tthc.sqlite3"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _pg_admin(url: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)

    async def run() -> None:
        conn = await asyncpg.connect(host=u.host or "127.0.0.1", port=u.port or 5432,
                                     user=u.username or "postgres", password=u.password,
                                     database=u.database, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_session_url() -> Any:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped "
                    "(.ci/run sets it to the machine's PostgreSQL)")
    from sqlalchemy.engine import make_url

    name = f"tthc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        _pg_admin(base, f'CREATE DATABASE "{name}"')
    except Exception as exc:  # server down, no rights, ...
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is not usable: {type(exc).__name__}: {exc}")
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_session_url: str) -> str:
    from storage.models import Base

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    _pg_admin(pg_session_url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return pg_session_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


# -- app -------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def make_config(url: str, **sections: dict[str, Any]) -> Config:
    """The embedded defaults with ``url`` and section overrides (``web={"port": 0}``)."""
    from dataclasses import replace

    cfg = load_config(None, env={}).with_database(url)
    cfg = replace(cfg, dossiers=replace(cfg.dossiers, id_hash_key=TEST_ID_HASH_KEY))
    for name, values in sections.items():
        cfg = replace(cfg, **{name: replace(getattr(cfg, name), **values)})
    return cfg


@pytest.fixture
async def make_app(clock: ManualClock) -> Any:
    apps: list[App] = []

    def factory(url: str, **sections: dict[str, Any]) -> App:
        app = build_app(make_config(url, **sections), clock=clock, scheduler=False)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        await app.stop()


@pytest.fixture
async def app(make_app: Callable[..., App], sqlite_url: str) -> App:
    return make_app(sqlite_url)


@pytest.fixture
async def chat(app: App) -> MemoryChannel:
    channel = MemoryChannel(app.core.handle)
    app.add_channel(channel)
    await app.start()
    return channel


def texts_of(replies: list[Any]) -> str:
    """All reply texts joined, for assertions."""
    return "\n".join(r.text for r in replies)


def payloads_of(replies: list[Any]) -> list[str]:
    return [c.payload for r in replies for c in r.choices]


Runner = Callable[[], Awaitable[None]]


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # pragma: no cover
    """Each reason tests were skipped for, once, with the count (PostgreSQL, browser, data)."""
    from collections import Counter

    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped tests, by reason")
        for reason, n in reasons.most_common():
            terminalreporter.line(f"{n:5d} skipped: {reason}")
