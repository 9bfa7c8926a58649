"""Repositories for dossier status: local records, subscriptions, ownership, throttling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, delete, func, insert, select, update

from storage.models.dossiers import (
    DossierOwnership,
    DossierRateEvent,
    DossierRecord,
    DossierSubscription,
)
from storage.repos.base import Repository


# Statements of a citizen's lookup, built once (found at once in the compiled cache instead of
# being built and given a cache key on every lookup: about 0.1 ms of CPU each)
_RECORD_GET = select(DossierRecord.record).where(DossierRecord.code == bindparam("b_code"))
_SUBSCRIPTION_GET = (select(DossierSubscription)
                     .where(DossierSubscription.citizen_id == bindparam("b_citizen_id"),
                            DossierSubscription.dossier_code == bindparam("b_code"))
                     .execution_options(populate_existing=True))


class DossierRecords(Repository):
    async def get(self, code: str) -> dict[str, Any] | None:
        row = (await self.session.execute(_RECORD_GET, {"b_code": code})).scalar_one_or_none()
        return dict(row) if row is not None else None

    async def upsert(self, *, code: str, status: int, record: dict[str, Any], fingerprint: str,
                     source_updated_at: datetime | None, now: datetime) -> str:
        """Store a record; returns "inserted", "updated" or "unchanged" (same fingerprint)."""
        current = (await self.session.execute(
            select(DossierRecord.fingerprint).where(DossierRecord.code == code))).scalar_one_or_none()
        if current == fingerprint:
            return "unchanged"
        values = dict(status=status, record=record, fingerprint=fingerprint,
                      source_updated_at=source_updated_at, stored_at=now)
        stmt = self.insert(DossierRecord).values(code=code, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["code"], set_=values)
        await self.session.execute(stmt)
        return "inserted" if current is None else "updated"

    async def count(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(DossierRecord))).scalar_one())


@dataclass(frozen=True)
class Subscription:
    id: int
    citizen_id: int
    dossier_code: str
    active: bool
    last_status: int
    last_status_key: str
    apology_seen: bool
    created_at: datetime
    closed_reason: str | None


def _sub(r: DossierSubscription) -> Subscription:
    return Subscription(r.id, r.citizen_id, r.dossier_code, r.active, r.last_status, r.last_status_key,
                        r.apology_seen, r.created_at, r.closed_reason)


class DossierSubscriptions(Repository):
    async def get(self, citizen_id: int, code: str) -> Subscription | None:
        row = (await self.session.execute(_SUBSCRIPTION_GET, {"b_citizen_id": citizen_id, "b_code": code})
               ).scalar_one_or_none()
        return _sub(row) if row else None

    async def subscribe(self, *, citizen_id: int, code: str, status: int, status_key: str,
                        apology_seen: bool, now: datetime) -> bool:
        """Start (or restart) following; False when already followed."""
        existing = await self.get(citizen_id, code)
        if existing is not None and existing.active:
            return False
        values = dict(active=True, created_at=now, closed_at=None, closed_reason=None,
                      last_status=status, last_status_key=status_key, apology_seen=apology_seen,
                      last_checked_at=now)
        stmt = self.insert(DossierSubscription).values(citizen_id=citizen_id, dossier_code=code, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["citizen_id", "dossier_code"], set_=values)
        await self.session.execute(stmt)
        return True

    async def unsubscribe(self, citizen_id: int, code: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(DossierSubscription)
            .where(DossierSubscription.citizen_id == citizen_id, DossierSubscription.dossier_code == code,
                   DossierSubscription.active.is_(True))
            .values(active=False, closed_at=now, closed_reason="citizen"))
        return (result.rowcount or 0) > 0

    async def active_of(self, citizen_id: int) -> list[Subscription]:
        rows = (await self.session.execute(
            select(DossierSubscription).where(DossierSubscription.citizen_id == citizen_id,
                                              DossierSubscription.active.is_(True))
            .order_by(DossierSubscription.created_at, DossierSubscription.id))).scalars()
        return [_sub(r) for r in rows]

    async def due_codes(self, checked_before: datetime, limit: int) -> list[str]:
        """Followed dossiers not checked since ``checked_before``, least recently checked first."""
        oldest = func.min(DossierSubscription.last_checked_at)
        rows = await self.session.execute(
            select(DossierSubscription.dossier_code)
            .where(DossierSubscription.active.is_(True),
                   DossierSubscription.last_checked_at < checked_before)
            .group_by(DossierSubscription.dossier_code)
            .order_by(oldest, DossierSubscription.dossier_code).limit(limit))
        return [r[0] for r in rows]

    async def active_for_code(self, code: str, *, lock: bool = True) -> list[Subscription]:
        """The active subscriptions of a dossier, locked (PostgreSQL) so that two workers
        applying the same change take turns and the second sees the first's result."""
        stmt = (select(DossierSubscription)
                .where(DossierSubscription.dossier_code == code, DossierSubscription.active.is_(True))
                .order_by(DossierSubscription.id).execution_options(populate_existing=True))
        if lock and self.supports_row_locks:
            stmt = stmt.with_for_update()
        return [_sub(r) for r in (await self.session.execute(stmt)).scalars()]

    async def record_seen(self, sub_id: int, *, status: int, status_key: str, apology_seen: bool,
                          now: datetime, close_reason: str | None = None) -> None:
        values: dict[str, Any] = dict(last_status=status, last_status_key=status_key,
                                      apology_seen=apology_seen, last_checked_at=now)
        if close_reason:
            values.update(active=False, closed_at=now, closed_reason=close_reason)
        await self.session.execute(
            update(DossierSubscription).where(DossierSubscription.id == sub_id).values(**values))

    async def touch(self, code: str, now: datetime) -> None:
        await self.session.execute(
            update(DossierSubscription)
            .where(DossierSubscription.dossier_code == code, DossierSubscription.active.is_(True))
            .values(last_checked_at=now))


class DossierOwners(Repository):
    async def record(self, citizen_id: int, code: str, method: str, now: datetime) -> None:
        values = dict(method=method, verified_at=now)
        stmt = self.insert(DossierOwnership).values(citizen_id=citizen_id, dossier_code=code, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["citizen_id", "dossier_code"], set_=values)
        await self.session.execute(stmt)

    async def proven_since(self, citizen_id: int, code: str, since: datetime) -> bool:
        row = (await self.session.execute(
            select(DossierOwnership.verified_at).where(DossierOwnership.citizen_id == citizen_id,
                                                       DossierOwnership.dossier_code == code))
               ).scalar_one_or_none()
        return row is not None and row >= since


_RATES = DossierRateEvent.__table__
# Built once (found at once in the compiled cache): a lookup counts and logs its events on
# every dossier message, so no ORM flush and no statement built per call.
_RATE_COUNT = (select(func.count()).select_from(_RATES)
               .where(_RATES.c.kind == bindparam("b_kind"), _RATES.c.subject == bindparam("b_subject"),
                      _RATES.c.at >= bindparam("b_since")))
_RATE_COUNTS = (select(_RATES.c.kind, func.count())
                .where(_RATES.c.kind.in_(bindparam("b_kinds", expanding=True)),
                       _RATES.c.subject == bindparam("b_subject"), _RATES.c.at >= bindparam("b_since"))
                .group_by(_RATES.c.kind))
_RATE_ADD = insert(_RATES)


class RateEvents(Repository):
    """A sliding-window counter in the database, so every worker sees the same counts."""

    async def count(self, kind: str, subject: str, since: datetime) -> int:
        return int((await self.session.execute(
            _RATE_COUNT, {"b_kind": kind, "b_subject": subject, "b_since": since})).scalar_one())

    async def counts(self, kinds: Sequence[str], subject: str, since: datetime) -> dict[str, int]:
        """The counts of several kinds for one subject, in one statement (0 for none)."""
        rows = await self.session.execute(
            _RATE_COUNTS, {"b_kinds": list(kinds), "b_subject": subject, "b_since": since})
        found = {kind: int(n) for kind, n in rows}
        return {kind: found.get(kind, 0) for kind in kinds}

    async def oldest(self, kind: str, subject: str, since: datetime) -> datetime | None:
        return (await self.session.execute(
            select(func.min(DossierRateEvent.at))
            .where(DossierRateEvent.kind == kind, DossierRateEvent.subject == subject,
                   DossierRateEvent.at >= since))).scalar_one_or_none()

    async def add(self, kind: str, subject: str, now: datetime) -> None:
        await self.add_many([(kind, subject)], now)

    async def add_many(self, events: Sequence[tuple[str, str]], now: datetime) -> None:
        """Count (kind, subject) events at ``now``, in one statement."""
        if events:
            await self.session.execute(_RATE_ADD, [{"kind": kind, "subject": subject, "at": now}
                                                   for kind, subject in events])

    async def clear(self, kind: str, subject: str) -> None:
        await self.session.execute(delete(DossierRateEvent).where(
            DossierRateEvent.kind == kind, DossierRateEvent.subject == subject))

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(DossierRateEvent).where(DossierRateEvent.at < cutoff))
        return result.rowcount or 0
