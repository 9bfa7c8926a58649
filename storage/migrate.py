"""Alembic, driven from code: ``tthc-bot db upgrade`` and the tests use these functions.

Feature migrations branch from the foundation revision (``down_revision = "0001"``) and
may depend on each other with ``depends_on``; ``upgrade`` applies every head.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from storage.db import normalize_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["database_url"] = normalize_url(url)
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to the newest schema (blocking; creates SQLite dirs)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def current(url: str) -> bool:
    """Print the applied revisions; False when none is (an empty or new database)."""
    seen: list[str] = []
    cfg = alembic_config(url)
    cfg.print_stdout = lambda text, *arg: (seen.append(text), print(text % arg if arg else text))  # type: ignore[method-assign]
    command.current(cfg, verbose=False)
    return bool(seen)


async def upgrade_async(url: str, revision: str = "heads") -> None:
    """For async callers (tests, start-up): runs Alembic in a worker thread."""
    await asyncio.to_thread(upgrade, url, revision)


def is_current(url: str) -> bool:
    """True when every migration head is applied to the database at ``url``."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    script = ScriptDirectory.from_config(alembic_config(url))
    heads = set(script.get_heads())
    sync_url = make_url(normalize_url(url))
    sync_url = sync_url.set(drivername="sqlite" if sync_url.get_backend_name() == "sqlite"
                            else "postgresql+asyncpg")
    if sync_url.get_backend_name() == "sqlite":
        if not Path(sync_url.database).exists():
            return False
        engine = create_engine(sync_url)
        try:
            with engine.connect() as conn:
                return set(MigrationContext.configure(conn).get_current_heads()) == heads
        finally:
            engine.dispose()

    async def _pg() -> set[str]:
        from sqlalchemy.ext.asyncio import create_async_engine

        eng = create_async_engine(normalize_url(url))
        try:
            async with eng.connect() as conn:
                return set(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))
        finally:
            await eng.dispose()

    return asyncio.run(_pg()) == heads
