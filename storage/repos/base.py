from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def like_escaped(text: str) -> str:
    """``text`` for a LIKE pattern matched literally (``escape="\\"``): its ``\\``, ``%`` and ``_``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Repository:
    """A repository works inside the caller's transaction (the session of a unit of work)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        # a session's engine, or a connection (Database.single_statement on PostgreSQL)
        return getattr(self.session, "bind", self.session).dialect.name

    def insert(self, table: Any):
        """An INSERT that supports ``on_conflict_do_nothing`` / ``on_conflict_do_update``
        on both SQLite and PostgreSQL."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @property
    def supports_row_locks(self) -> bool:
        """PostgreSQL locks rows (FOR UPDATE); SQLite locks the whole database per write
        transaction (we BEGIN IMMEDIATE), which is as safe for one file."""
        return self.dialect == "postgresql"
