"""Database access: one async engine, one unit of work (transaction) per use.

SQLite is the embedded default (a file under ``var/``, WAL mode, ``BEGIN IMMEDIATE`` so
concurrent writers queue instead of failing); PostgreSQL (asyncpg) by URL. Nothing
outside ``storage/`` writes SQL.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker,
                                    create_async_engine)

log = logging.getLogger(__name__)


SQLITE_SWITCH_INTERVAL = 0.0005  # seconds

_HOLDS_SQLITE_LOCK: contextvars.ContextVar[bool] = contextvars.ContextVar("holds_sqlite_lock", default=False)


class InvalidDatabaseURL(ValueError):
    pass


def normalize_url(url: str) -> str:
    """Map the URLs operators write to the async drivers we use.

    ``sqlite:///var/x.sqlite3`` -> ``sqlite+aiosqlite:///var/x.sqlite3``;
    ``postgresql://...`` / ``postgres://...`` -> ``postgresql+asyncpg://...``.
    """
    if not url or not url.strip():
        raise InvalidDatabaseURL("must not be empty (e.g. sqlite:///var/tthc-bot.sqlite3)")
    try:
        u = make_url(url.strip())
    except ArgumentError:
        raise InvalidDatabaseURL(
            f"cannot parse {url!r} (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        ) from None
    backend = u.get_backend_name()
    if backend in ("postgres", "postgresql"):
        if u.drivername not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise InvalidDatabaseURL(f"driver {u.drivername!r} is not supported; use postgresql://")
        if not u.database:
            raise InvalidDatabaseURL(f"{_safe(url)} names no database")
        u = u.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        if u.drivername not in ("sqlite", "sqlite+aiosqlite"):
            raise InvalidDatabaseURL(f"driver {u.drivername!r} is not supported; use sqlite:///PATH")
        if not u.database or u.database == ":memory:":
            raise InvalidDatabaseURL(
                "an in-memory SQLite database loses everything on restart; give a file path"
            )
        u = u.set(drivername="sqlite+aiosqlite")
    else:
        raise InvalidDatabaseURL(
            f"unsupported database {backend!r} (use sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    return u.render_as_string(hide_password=False)


# What database_failure() tells apart (the CLI prints one line for each, not a traceback).
SCHEMA_MISSING = "schema"
UNREACHABLE = "unreachable"


def database_failure(exc: BaseException) -> tuple[str, str] | None:
    """Why ``exc`` means the database cannot be used, with its reason in one line:
    (SCHEMA_MISSING, reason) when a table or column is missing (not migrated),
    (UNREACHABLE, reason) when it cannot be reached or opened (server down, wrong host,
    no such database, login refused, unwritable file); None for any other error."""
    import socket

    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError):
        orig = exc.orig
        reason = (str(orig).strip().splitlines() or [""])[0] or type(orig).__name__
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        if state in ("42P01", "42703") or reason.startswith(("no such table", "no such column")):
            return SCHEMA_MISSING, reason
        if isinstance(exc, (OperationalError, InterfaceError)) or state[:2] in ("08", "28", "3D"):
            return UNREACHABLE, reason
        return None
    if isinstance(exc, (ConnectionError, socket.gaierror, TimeoutError)):
        return UNREACHABLE, str(exc) or type(exc).__name__
    return None


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable>"


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10, pool_pre_ping: bool = False,
                 pool_recycle_seconds: int = 3600) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = not self.is_sqlite
        kwargs: dict = {"echo": echo, "pool_pre_ping": pool_pre_ping,
                        "pool_recycle": pool_recycle_seconds if pool_recycle_seconds > 0 else -1}
        if self.is_sqlite:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_setup(self.engine)
            # aiosqlite runs every statement in its own thread; the event loop thread gives the
            # GIL up only every switch interval (5 ms by default), so under load each statement
            # waited up to that long for its thread. A shorter interval cuts that wait.
            sys.setswitchinterval(min(sys.getswitchinterval(), SQLITE_SWITCH_INTERVAL))
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_lock = asyncio.Lock()
        # The same pool; its connections run each statement in a transaction of its own.
        self._autocommit = None if self.is_sqlite else self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def safe_url(self) -> str:
        return _safe(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back on an exception.

        On SQLite every transaction takes the database's write lock (BEGIN IMMEDIATE). The
        transactions of this process queue on an asyncio lock first: waiting there costs
        nothing, while SQLite's own busy handler waits by sleeping (up to 100 ms a try),
        which made latency collapse under concurrent load. A unit of work opened inside
        another one in the same task does not queue again (it would wait for itself)."""
        if self.is_sqlite and not _HOLDS_SQLITE_LOCK.get():
            async with self._sqlite_lock:
                token = _HOLDS_SQLITE_LOCK.set(True)
                try:
                    async with self.sessionmaker() as session:
                        async with session.begin():
                            yield session
                finally:
                    _HOLDS_SQLITE_LOCK.reset(token)
            return
        async with self.sessionmaker() as session:
            async with session.begin():
                yield session

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator["UnitOfWork"]:
        from storage.uow import UnitOfWork

        async with self.session() as session:
            yield UnitOfWork(session, self)

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator["AsyncSession | AsyncConnection"]:
        """Something to ``execute`` one statement on, committed on its own: on PostgreSQL a
        pooled connection in autocommit mode (no BEGIN and COMMIT round trips: the statement
        is its own transaction, atomic and durable once it returns); on SQLite a unit of work
        as :meth:`session` (it queues on this process's lock instead of SQLite's busy handler).
        For one statement only: two would not be one transaction."""
        if self._autocommit is None:
            async with self.session() as session:
                yield session
            return
        async with self._autocommit.connect() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let us emit BEGIN ourselves (below); pysqlite's implicit BEGIN is deferred.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised by every test
        # Take the write lock up front: a deferred transaction that reads and then writes
        # fails at once with "database is locked" when another one wrote meanwhile.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
