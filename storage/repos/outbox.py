"""Outbox rows: enqueue inside the causing transaction, claim safely across processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, func, or_, select, update

from storage.models import OutboxMessage
from storage.repos.base import Repository, like_escaped

PENDING, SENDING, SENT = "pending", "sending", "sent"
FAILED, UNREACHABLE, EXPIRED, CANCELLED = "failed", "unreachable", "expired", "cancelled"


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    citizen_id: int | None
    channel: str | None
    chat_id: str | None
    user_id: str | None
    replies: list[dict[str, Any]]
    template: dict[str, Any] | None
    attempts: int


class OutboxRepo(Repository):
    async def add(self, *, kind: str, replies: list[dict[str, Any]], not_before: datetime,
                  now: datetime, citizen_id: int | None = None, channel: str | None = None,
                  chat_id: str | None = None, user_id: str | None = None,
                  template: dict[str, Any] | None = None, dedupe_key: str | None = None,
                  respect_quiet_hours: bool = True, expires_at: datetime | None = None) -> int | None:
        stmt = self.insert(OutboxMessage).values(
            kind=kind, citizen_id=citizen_id, channel=channel, chat_id=chat_id, user_id=user_id,
            replies=replies, template=template, dedupe_key=dedupe_key, status=PENDING,
            not_before=not_before, respect_quiet_hours=respect_quiet_hours, expires_at=expires_at,
            attempts=0, created_at=now,
        )
        if dedupe_key is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        result = await self.session.execute(stmt.returning(OutboxMessage.id))
        return result.scalar_one_or_none()

    async def claim(self, *, now: datetime, worker: str, lease_until: datetime, limit: int,
                    quiet: bool) -> list[Claimed]:
        """Take up to ``limit`` due rows for this worker. On PostgreSQL rows locked by
        another worker are skipped (FOR UPDATE SKIP LOCKED); SQLite serialises writers."""
        await self.session.execute(  # leases of workers that died: make the rows due again
            update(OutboxMessage)
            .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_until < now)
            .values(status=PENDING, claimed_by=None, claimed_until=None)
        )
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.expires_at.is_not(None),
                   OutboxMessage.expires_at <= now)
            .values(status=EXPIRED)
        )
        cond = and_(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now)
        if quiet:
            cond = and_(cond, OutboxMessage.respect_quiet_hours.is_(False))
        stmt = (select(OutboxMessage).where(cond)
                .order_by(OutboxMessage.not_before, OutboxMessage.id).limit(limit))
        if self.supports_row_locks:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = (await self.session.execute(stmt)).scalars().all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids))
            .values(status=SENDING, claimed_by=worker, claimed_until=lease_until,
                    attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return [Claimed(r.id, r.kind, r.citizen_id, r.channel, r.chat_id, r.user_id,
                        list(r.replies or []), r.template, r.attempts + 1) for r in rows]

    async def finish(self, row_id: int, worker: str, *, status: str, now: datetime,
                     error: str | None = None, retry_at: datetime | None = None,
                     channel: str | None = None) -> bool:
        """Record the outcome; False when this worker no longer holds the row (its lease
        ran out and another worker took it)."""
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None, "last_error": error}
        if status == SENT:
            values.update(status=SENT, sent_at=now, sent_channel=channel)
        elif retry_at is not None:
            values.update(status=PENDING, not_before=retry_at)
        else:
            values.update(status=status)
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.status == SENDING,
                   OutboxMessage.claimed_by == worker)
            .values(**values)
        )
        return result.rowcount == 1

    async def cancel(self, *, dedupe_prefix: str | None = None, ids: Sequence[int] = ()) -> int:
        conds = []
        if dedupe_prefix:
            conds.append(OutboxMessage.dedupe_key.startswith(dedupe_prefix, autoescape=True))
        if ids:
            conds.append(OutboxMessage.id.in_(list(ids)))
        if not conds:
            return 0
        result = await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.status == PENDING, or_(*conds))
            .values(status=CANCELLED)
        )
        return result.rowcount or 0

    async def get(self, row_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, row_id, populate_existing=True)

    async def by_dedupe_key(self, key: str) -> OutboxMessage | None:
        return (await self.session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == key))).scalar_one_or_none()

    async def latest_with_key_prefix(self, prefixes: Sequence[str]) -> OutboxMessage | None:
        """The most recent message whose dedupe key starts with one of ``prefixes``."""
        if not prefixes:
            return None
        cond = or_(*[OutboxMessage.dedupe_key.like(like_escaped(p) + "%", escape="\\") for p in prefixes])
        return (await self.session.execute(
            select(OutboxMessage).where(cond).order_by(OutboxMessage.id.desc()).limit(1))).scalar_one_or_none()

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: n for status, n in rows.all()}

    async def due_count(self, now: datetime) -> int:
        return (await self.session.execute(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now))).scalar_one()

    async def by_kind_and_status(self) -> dict[tuple[str, str], int]:
        """Row counts per (kind, status): the dashboard's queue table."""
        rows = await self.session.execute(
            select(OutboxMessage.kind, OutboxMessage.status, func.count())
            .group_by(OutboxMessage.kind, OutboxMessage.status))
        return {(k, s): n for k, s, n in rows.all()}

    async def sent_since(self, since: datetime) -> int:
        return (await self.session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at >= since))).scalar_one()

    async def oldest_due(self, now: datetime) -> datetime | None:
        """When the longest-waiting due message became due (the backlog's age)."""
        return (await self.session.execute(
            select(func.min(OutboxMessage.not_before))
            .where(OutboxMessage.status == PENDING, OutboxMessage.not_before <= now))).scalar_one()

    async def recent_errors(self, limit: int = 20) -> list[OutboxMessage]:
        """The latest messages that failed, were unreachable or are being retried."""
        return list((await self.session.execute(
            select(OutboxMessage).where(OutboxMessage.last_error.is_not(None),
                                        OutboxMessage.status != SENT)
            .order_by(OutboxMessage.id.desc()).limit(limit))).scalars())
