"""Dossier status: lookups with a deadline, ownership proof, throttling, subscriptions and
the change check that tells following citizens (through the outbox) and publishes events.

Everything that counts (wrong answers, lookups, misses) is a row in the database, so the
limits hold across worker processes. Notifications are queued in the same transaction
that records what the citizen was last told, with a dedupe key per (dossier, status,
citizen): a replayed check or webhook never notifies twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.config import Config
from bot.dossiers import texts as T
from bot.dossiers.model import Dossier, Status
from bot.dossiers.sources import DossierSource, LocalSource, SourceUnavailable, store_record
from bot.errors import ServiceUnavailable, UserFacingError
from bot.events import DossierResultReturned, EventBus
from bot.outbox import enqueue
from storage.repos.dossiers import DossierOwners, DossierSubscriptions, RateEvents, Subscription

if TYPE_CHECKING:
    from bot.clock import Clock
    from storage.db import Database
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# Throttling kinds (dossier_rate_events.kind)
PROOF_FAIL_CITIZEN = "proof_fail_citizen"
PROOF_FAIL_DOSSIER = "proof_fail_dossier"
LOOKUP = "lookup"
LOOKUP_MISS = "lookup_miss"

NOTIFY_KIND = "dossier_status"
# Of a citizen's lookup deadline, what is kept for recording the lookup and replying
REPLY_MARGIN = 0.2


@dataclass(frozen=True)
class ProofResult:
    ok: bool
    malformed: bool = False  # neither 4 digits nor an ID number: not counted
    remaining: int = 0  # tries left before the block
    blocked_for: timedelta | None = None  # set when no more tries are allowed now
    method: str = ""


def status_key(d: Dossier) -> str:
    """What identifies "this status, this time": a second request for papers is a new event."""
    return f"{int(d.status)}@{d.status_at.isoformat()}" if d.status_at else str(int(d.status))


class DossierService:
    def __init__(self, config: Config, db: "Database", clock: "Clock", source: DossierSource,
                 events: EventBus) -> None:
        self.config = config
        self.cfg = config.dossiers
        self.db = db
        self.clock = clock
        self.source = source
        self.events = events
        self.tz = config.tz

    # -- lookups -----------------------------------------------------------------------
    async def fetch(self, code: str, uow: "UnitOfWork | None" = None, *,
                    arrived: float | None = None) -> Dossier | None:
        """The dossier, within the lookup deadline; :class:`ServiceUnavailable` otherwise.
        ``arrived``: the time.monotonic() when the citizen's message reached us: the
        deadline counts from then (time spent waiting for the database before the call is
        the citizen's wait too), less :data:`REPLY_MARGIN` for writing the answer."""
        now = time.monotonic()
        deadline = (now if arrived is None else min(arrived, now)) + self.cfg.lookup_deadline_seconds
        if arrived is not None:
            deadline -= REPLY_MARGIN
        try:
            if deadline - now <= 0.05:
                raise TimeoutError("no time left for the source")
            return await asyncio.wait_for(self.source.fetch(code, uow, deadline=deadline), deadline - now)
        except (SourceUnavailable, TimeoutError) as exc:
            log.warning("dossier source unavailable", extra={"code": code, "source": self.source.name,
                                                             "problem": type(exc).__name__})
            raise ServiceUnavailable(T.BUSY) from None

    async def lookup(self, uow: "UnitOfWork", citizen_id: int, code: str, now: datetime, *,
                     arrived: float | None = None) -> Dossier | None:
        """A citizen's lookup: throttled (all lookups, and especially codes that do not
        exist), then fetched. Raises :class:`UserFacingError` when over a limit."""
        rates = uow.repo(RateEvents)
        subject = f"c{citizen_id}"
        hour_ago = now - timedelta(hours=1)
        counts = await rates.counts((LOOKUP_MISS, LOOKUP), subject, hour_ago)  # one statement
        for kind, limit in ((LOOKUP_MISS, self.cfg.lookup_max_misses_per_hour),
                            (LOOKUP, self.cfg.lookup_max_per_hour)):
            if counts[kind] >= limit:
                oldest = await rates.oldest(kind, subject, hour_ago) or now
                wait = _minutes(oldest + timedelta(hours=1) - now)
                log.info("dossier lookups throttled", extra={"citizen_id": citizen_id, "kind": kind})
                raise UserFacingError(T.TOO_MANY_LOOKUPS.format(minutes=wait))
        dossier = await self.fetch(code, uow, arrived=arrived)
        await rates.add_many([(LOOKUP, subject)] + ([(LOOKUP_MISS, subject)] if dossier is None else []), now)
        return dossier

    # -- ownership ---------------------------------------------------------------------
    async def is_owner(self, uow: "UnitOfWork", citizen_id: int, code: str, now: datetime) -> bool:
        since = now - timedelta(days=self.cfg.proof_valid_days)
        return await uow.repo(DossierOwners).proven_since(citizen_id, code, since)

    async def proof_blocked_for(self, uow: "UnitOfWork", citizen_id: int, code: str,
                                now: datetime) -> timedelta | None:
        rates = uow.repo(RateEvents)
        window = timedelta(minutes=self.cfg.proof_window_minutes)
        since = now - window
        for kind, subject, limit in (
                (PROOF_FAIL_CITIZEN, f"c{citizen_id}", self.cfg.proof_max_failures_per_citizen),
                (PROOF_FAIL_DOSSIER, code, self.cfg.proof_max_failures_per_dossier)):
            if await rates.count(kind, subject, since) >= limit:
                oldest = await rates.oldest(kind, subject, since) or now
                return max(oldest + window - now, timedelta(minutes=1))
        return None

    async def prove(self, uow: "UnitOfWork", citizen_id: int, dossier: Dossier, answer: str,
                    now: datetime) -> ProofResult:
        blocked = await self.proof_blocked_for(uow, citizen_id, dossier.code, now)
        if blocked is not None:
            return ProofResult(False, blocked_for=blocked)
        verdict = dossier.owned_by(answer)
        if verdict is None:
            return ProofResult(False, malformed=True)
        method = "phone" if len("".join(c for c in answer if c.isdigit())) == 4 else "id"
        if verdict:
            await uow.repo(DossierOwners).record(citizen_id, dossier.code, method, now)
            await uow.audit.record(actor=f"citizen:{citizen_id}", action="dossier.ownership_proved",
                                   entity_type="dossier", entity_id=dossier.code,
                                   details={"method": method}, now=now)
            return ProofResult(True, method=method)
        rates = uow.repo(RateEvents)
        await rates.add_many([(PROOF_FAIL_CITIZEN, f"c{citizen_id}"), (PROOF_FAIL_DOSSIER, dossier.code)], now)
        log.info("dossier ownership answer wrong", extra={"citizen_id": citizen_id, "code": dossier.code})
        since = now - timedelta(minutes=self.cfg.proof_window_minutes)
        used_c = await rates.count(PROOF_FAIL_CITIZEN, f"c{citizen_id}", since)
        used_d = await rates.count(PROOF_FAIL_DOSSIER, dossier.code, since)
        remaining = max(0, min(self.cfg.proof_max_failures_per_citizen - used_c,
                               self.cfg.proof_max_failures_per_dossier - used_d))
        blocked = await self.proof_blocked_for(uow, citizen_id, dossier.code, now) if remaining == 0 else None
        return ProofResult(False, remaining=remaining, blocked_for=blocked, method=method)

    # -- subscriptions -----------------------------------------------------------------
    async def subscribe(self, uow: "UnitOfWork", citizen_id: int, dossier: Dossier, now: datetime) -> bool:
        created = await uow.repo(DossierSubscriptions).subscribe(
            citizen_id=citizen_id, code=dossier.code, status=int(dossier.status),
            status_key=status_key(dossier), apology_seen=dossier.apology is not None, now=now)
        if created:
            log.info("dossier followed", extra={"citizen_id": citizen_id, "code": dossier.code})
        return created

    async def unsubscribe(self, uow: "UnitOfWork", citizen_id: int, code: str, now: datetime) -> bool:
        return await uow.repo(DossierSubscriptions).unsubscribe(citizen_id, code, now)

    async def subscriptions(self, uow: "UnitOfWork", citizen_id: int) -> list[Subscription]:
        return await uow.repo(DossierSubscriptions).active_of(citizen_id)

    # -- changes -----------------------------------------------------------------------
    async def apply(self, uow: "UnitOfWork", dossier: Dossier, now: datetime) -> int:
        """Compare ``dossier`` with what each following citizen was last told; queue a
        notification per change (deduplicated), close finished subscriptions and publish
        :class:`DossierResultReturned`. Returns the number of notifications queued."""
        queued = 0
        key = status_key(dossier)
        for sub in await uow.repo(DossierSubscriptions).active_for_code(dossier.code):
            changed = key != sub.last_status_key and (
                int(dossier.status) != sub.last_status or dossier.status_at is not None)
            new_apology = dossier.apology is not None and not sub.apology_seen
            close = "finished" if dossier.status.terminal else None
            if changed:
                if await enqueue(uow, citizen_id=sub.citizen_id, kind=NOTIFY_KIND, now=now,
                                 replies=T.status_notification(dossier, self.tz, now, closed=bool(close)),
                                 dedupe_key=f"dossier:{dossier.code}:{key}:c{sub.citizen_id}"):
                    queued += 1
            if new_apology and not dossier.status.finished:
                assert dossier.apology is not None
                if await enqueue(uow, citizen_id=sub.citizen_id, kind=NOTIFY_KIND, now=now,
                                 replies=T.apology_notification(dossier, self.tz),
                                 dedupe_key=(f"dossier:{dossier.code}:apology:"
                                             f"{dossier.apology.new_due_at:%Y%m%d}:c{sub.citizen_id}")):
                    queued += 1
            await uow.repo(DossierSubscriptions).record_seen(
                sub.id, status=int(dossier.status), status_key=key,
                apology_seen=dossier.apology is not None, now=now, close_reason=close)
            if changed and dossier.status is Status.RETURNED:
                returned = dossier.returned_at or dossier.status_at or now
                await self.events.publish(uow, DossierResultReturned(
                    case_type="dossier", case_id=dossier.code, citizen_id=sub.citizen_id,
                    resolved_at=returned, agency=dossier.agency,
                    procedure_code=dossier.procedure_code, received_at=dossier.received_at,
                    on_time=not dossier.is_late(returned)))
            if changed:
                log.info("dossier status change queued", extra={
                    "code": dossier.code, "citizen_id": sub.citizen_id, "from": sub.last_status,
                    "to": int(dossier.status), "closed": bool(close)})
        return queued

    async def receive(self, dossier: Dossier) -> int:
        """A record pushed by the one-stop system (webhook): kept in the local table when
        that is the source, then applied to the followers, in one transaction."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            if isinstance(self.source, LocalSource):
                await store_record(uow, dossier, now)
            return await self.apply(uow, dossier, now)

    async def check_due(self) -> dict[str, int]:
        """The scheduled check: fetch each followed dossier not checked for one interval
        and apply it. A source failure leaves the dossier for the next run."""
        now = self.clock.now()
        stats = {"checked": 0, "queued": 0, "missing": 0, "unavailable": 0}
        async with self.db.unit_of_work() as uow:
            await uow.repo(RateEvents).purge_before(now - timedelta(days=2, minutes=self.cfg.proof_window_minutes))
            codes = await uow.repo(DossierSubscriptions).due_codes(
                now - timedelta(seconds=self.cfg.check_interval_seconds * 0.9), self.cfg.check_batch)
        for code in codes:
            try:
                dossier = await self.fetch(code)  # outside our transaction: the source may be slow
            except ServiceUnavailable:
                stats["unavailable"] += 1
                if getattr(getattr(self.source, "breaker", None), "state", "closed") == "open":
                    break  # the source is down: stop hammering it, try next run
                continue
            async with self.db.unit_of_work() as uow:
                if dossier is None:
                    stats["missing"] += 1
                    await uow.repo(DossierSubscriptions).touch(code, now)
                    continue
                stats["queued"] += await self.apply(uow, dossier, now)
                await uow.repo(DossierSubscriptions).touch(code, now)
            stats["checked"] += 1
        if codes:
            log.info("followed dossiers checked", extra=stats)
        return stats


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() // 60) + 1)
