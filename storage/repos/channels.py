"""Repositories of the platform channels: webhook inbox and Zalo OA tokens."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage import driver
from storage.models.channels import InboxUpdate, ZaloOAToken
from storage.repos.base import Repository

_INBOX = InboxUpdate.__table__
_DONE = (update(_INBOX).where(_INBOX.c.id == bindparam("b_id"))
         .values(done_at=bindparam("b_now"), payload={}))


@functools.cache
def _accept_statement(dialect: str):
    """The inbox insert, built once per dialect (found at once in the compiled cache)."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return ins(_INBOX).on_conflict_do_nothing().returning(_INBOX.c.id)


_ACCEPT_COLUMNS = ("channel", "update_id", "payload", "received_at", "claimed_until", "attempts")
# PostgreSQL, on the driver's connection (storage.driver): the same statement, its values bound
_ACCEPT_DRIVER = driver.Compiled(
    postgresql.insert(_INBOX).values({c: bindparam(c) for c in _ACCEPT_COLUMNS})
    .on_conflict_do_nothing().returning(_INBOX.c.id))


@dataclass(frozen=True)
class InboxItem:
    id: int
    channel: str
    update_id: str
    payload: dict[str, Any]
    attempts: int


class ChannelInbox(Repository):
    async def accept(self, channel: str, update_id: str, payload: dict[str, Any], now: datetime,
                     lease: timedelta) -> int | None:
        """Store an accepted update, leased to this process for ``lease``; None when the
        same update was accepted before (a re-delivery)."""
        params = {"channel": channel, "update_id": update_id, "payload": payload, "received_at": now,
                  "claimed_until": now + lease, "attempts": 1}
        if driver.usable(self.session):
            rows = await driver.fetch(self.session, _ACCEPT_DRIVER, params)
            return int(rows[0][0]) if rows else None
        row = (await self.session.execute(_accept_statement(self.dialect), params)).first()  # one statement: no read back
        return None if row is None else int(row[0])

    async def done(self, item_id: int, now: datetime) -> None:
        """Mark an update handled. Its payload (what the citizen wrote, possibly personal
        data) is no longer needed and is dropped; the row stays for de-duplication."""
        await self.session.execute(_DONE, {"b_id": item_id, "b_now": now})

    async def claim_stale(self, channel: str, now: datetime, lease: timedelta, *, limit: int = 50,
                          max_attempts: int = 5) -> list[InboxItem]:
        """Updates whose handling did not finish (the process died or failed) and whose
        lease ran out; leased again to the caller. Several workers never get the same row."""
        stmt = (
            select(InboxUpdate)
            .where(InboxUpdate.channel == channel, InboxUpdate.done_at.is_(None),
                   InboxUpdate.claimed_until < now, InboxUpdate.attempts < max_attempts)
            .order_by(InboxUpdate.id).limit(limit)
            .execution_options(populate_existing=True)
        )
        if self.supports_row_locks:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await self.session.execute(stmt)).scalars())
        out = []
        for row in rows:
            row.claimed_until = now + lease
            row.attempts += 1
            out.append(InboxItem(row.id, row.channel, row.update_id, dict(row.payload), row.attempts))
        await self.session.flush()
        return out

    async def pending(self, channel: str) -> int:
        rows = await self.session.execute(
            select(InboxUpdate.id).where(InboxUpdate.channel == channel, InboxUpdate.done_at.is_(None)))
        return len(rows.all())

    async def purge_done_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(InboxUpdate).where(InboxUpdate.done_at.is_not(None), InboxUpdate.done_at < cutoff))
        return result.rowcount or 0


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None
    refresh_count: int


class ZaloTokens(Repository):
    async def seed(self, app_id: str, pair: TokenPair, now: datetime) -> bool:
        """Store the first pair (from the configuration) unless one is stored already:
        the database copy is newer, since refresh tokens work once."""
        stmt = self.insert(ZaloOAToken).values(
            app_id=app_id, access_token=pair.access_token, refresh_token=pair.refresh_token,
            access_expires_at=pair.access_expires_at, refresh_expires_at=pair.refresh_expires_at,
            refresh_count=0, updated_at=now,
        ).on_conflict_do_nothing()
        return (await self.session.execute(stmt)).rowcount == 1

    async def get(self, app_id: str, *, lock: bool = False) -> TokenPair | None:
        """The stored pair; ``lock`` holds the row (PostgreSQL FOR UPDATE; SQLite's write
        transaction already serialises) until the transaction ends."""
        stmt = select(ZaloOAToken).where(ZaloOAToken.app_id == app_id) \
            .execution_options(populate_existing=True)
        if lock and self.supports_row_locks:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            return None
        return TokenPair(row.access_token, row.refresh_token, row.access_expires_at,
                         row.refresh_expires_at, row.refresh_count)

    async def store(self, app_id: str, pair: TokenPair, now: datetime) -> None:
        await self.session.execute(
            update(ZaloOAToken).where(ZaloOAToken.app_id == app_id).values(
                access_token=pair.access_token, refresh_token=pair.refresh_token,
                access_expires_at=pair.access_expires_at, refresh_expires_at=pair.refresh_expires_at,
                refreshed_at=now, refresh_count=ZaloOAToken.refresh_count + 1, updated_at=now))


@dataclass(frozen=True)
class IdentityReach:
    """What decides whether a channel user can be messaged now."""

    reachable: bool
    reason: str
    last_inbound_at: datetime | None


class Reachabilities(Repository):
    async def get(self, channel: str, user_id: str) -> IdentityReach | None:
        from storage.models.core import ChannelIdentity

        row = (await self.session.execute(
            select(ChannelIdentity.reachable, ChannelIdentity.unreachable_reason,
                   ChannelIdentity.last_inbound_at)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id))).first()
        if row is None:
            return None
        return IdentityReach(bool(row[0]), row[1] or "", row[2])
