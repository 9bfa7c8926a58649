"""The two statements every message runs, on the asyncpg connection itself (PostgreSQL).

Through SQLAlchemy's session a statement costs about 0.1 ms of CPU more than the driver's
own call (the session and connection layers, the greenlet hand-over, the execution
context, result metadata and row objects). :func:`fetch` runs a statement that SQLAlchemy
compiled once (its SQL text with ``$n`` placeholders, and SQLAlchemy's own bind processors:
JSON serialised as SQLAlchemy would, datetimes as their column types want) directly on the
session's asyncpg connection, inside the session's transaction:

- the transaction is SQLAlchemy's: it is begun as SQLAlchemy's adapter begins it (lazily,
  before the first statement), and committed or rolled back by the unit of work as usual;
- a failure goes through SQLAlchemy's own error handling for the connection (the driver's
  error translated by the adapter, then ``Connection._handle_dbapi_exception``), so a lost
  connection is invalidated in the pool and the caller sees the same ``sqlalchemy.exc``
  errors as for any statement;
- the result's rows are the driver's records (by position); JSON columns come decoded by the
  codec SQLAlchemy's adapter set on the connection, timestamps as aware datetimes.

Elsewhere (SQLite, or ``database.echo`` on) :func:`usable` is False and callers take the
session. This relies on attributes of SQLAlchemy's asyncpg adapter (``_execute_mutex``,
``_transaction``, ``_start_transaction``, ``_connection``, ``_handle_exception``) and of
the compiled statement (``positiontup``, ``_bind_processors``): SQLAlchemy 2.1; the
core and fault tests run this path on PostgreSQL.
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


class Compiled:
    """A statement compiled once per dialect: SQL text, parameter order, bind processors."""

    __slots__ = ("stmt", "_by_dialect")

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt
        self._by_dialect: dict[int, tuple[str, tuple[str, ...], tuple[Any, ...]]] = {}

    def for_dialect(self, dialect: Any) -> tuple[str, tuple[str, ...], tuple[Any, ...]]:
        found = self._by_dialect.get(id(dialect))
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())
            procs = compiled._bind_processors
            found = (compiled.string, names, tuple(procs.get(n) for n in names))
            self._by_dialect[id(dialect)] = found
        return found


# The adapter internals above are those of SQLAlchemy 2.1 (pyproject allows no other minor
# release); with another one every statement takes SQLAlchemy's own path, never a guess.
_KNOWN_ADAPTER = sqlalchemy.__version__.startswith("2.1.")


def usable(session: "AsyncSession | AsyncConnection") -> bool:
    """PostgreSQL through asyncpg, and SQL not echoed (``database.echo`` shows every
    statement, which only SQLAlchemy's own execution does), on SQLAlchemy 2.1."""
    bind = getattr(session, "bind", session)
    dialect = bind.dialect
    return (_KNOWN_ADAPTER and dialect.name == "postgresql" and dialect.driver == "asyncpg"
            and not bind.sync_engine.echo)


async def fetch(session: "AsyncSession | AsyncConnection", compiled: Compiled,
                params: dict[str, Any]) -> Sequence[Any]:
    """Run ``compiled`` with ``params`` in the session's transaction (or on a connection:
    in an autocommit one, as its own transaction); the driver's records."""
    conn = await session.connection() if isinstance(session, AsyncSession) else session
    fairy = await conn.get_raw_connection()
    adapted = fairy.dbapi_connection  # SQLAlchemy's AsyncAdapt_asyncpg_connection
    sql, names, procs = compiled.for_dialect(conn.dialect)
    args = [p(params[n]) if p is not None else params[n] for n, p in zip(names, procs)]
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()  # raises the adapter's translated error
            return await adapted._connection.fetch(sql, *args)
    except BaseException as exc:  # as SQLAlchemy: a cancelled statement invalidates the connection too
        await _raise_as_sqlalchemy(conn, adapted, exc, sql, args)
        raise  # not reached


async def _raise_as_sqlalchemy(conn: Any, adapted: Any, exc: BaseException, sql: str, args: list) -> None:
    def handle(sync_conn: Any) -> None:
        try:
            if _is_adapted(adapted, exc) or not isinstance(exc, Exception):
                raise exc
            adapted._handle_exception(exc)  # the driver's error as the adapter's DBAPI error
        except BaseException as translated:
            sync_conn._handle_dbapi_exception(translated, sql, tuple(args), None, None)

    await conn.run_sync(handle)


def _is_adapted(adapted: Any, exc: Exception) -> bool:
    dbapi = getattr(adapted, "dbapi", None)
    error = getattr(dbapi, "Error", None)
    return error is not None and isinstance(exc, error)
