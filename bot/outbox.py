"""The outbox: every proactive message is a database row first, then a send.

Enqueue inside the transaction that causes the message (a status change, a staff answer,
a survey) so that both commit or neither does; ``dedupe_key`` makes a replayed cause
enqueue nothing new. The dispatcher job (every worker runs it) claims due rows — with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers — sends them, and
records the outcome: sent, retried with back-off, unreachable (blocked bot, messaging
window closed and no template), failed after the last attempt, or expired.

Guarantee: at least once. A row is marked sent in the transaction after the platform
accepted it; if the worker dies between the two, the row's lease runs out and another
worker sends it again. Nothing else sends a row twice: a worker whose lease ran out can
no longer record an outcome for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Callable, Sequence

from bot.clock import Clock
from bot.config import Config, parse_hhmm
from bot.core import OFFERED_KEY, SENT_OFFERED_KEY, reply_from_payload, reply_payload
from bot.messages import ConversationKey, Reply
from bot.notify import Delivery, Notifier
from bot.router import IDLE
from storage.db import Database
from storage.repos.outbox import FAILED, SENT, UNREACHABLE, Claimed, OutboxRepo
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)  # our own exponential back-off
MAX_PLATFORM_WAIT = timedelta(days=1)  # a wait the platform asked for (retry_after)


async def enqueue(uow: UnitOfWork, *, replies: Sequence[Reply], kind: str, now: datetime,
                  citizen_id: int | None = None, key: ConversationKey | None = None,
                  dedupe_key: str | None = None, not_before: datetime | None = None,
                  respect_quiet_hours: bool = True, template: dict[str, Any] | None = None,
                  expires_at: datetime | None = None) -> int | None:
    """Queue a message in the caller's transaction. Returns the row id, or None when a
    row with ``dedupe_key`` already exists. Give a ``citizen_id`` (sent on their most
    recent reachable channel) or a conversation ``key``."""
    if citizen_id is None and key is None:
        raise ValueError("enqueue needs a citizen_id or a conversation key")
    if not replies:
        raise ValueError("enqueue needs at least one reply")
    return await uow.repo(OutboxRepo).add(
        kind=kind, replies=[{"text": r.text, **reply_payload(r)} for r in replies],
        not_before=not_before or now, now=now, citizen_id=citizen_id,
        channel=key.channel if key else None, chat_id=key.chat_id if key else None,
        user_id=key.user_id if key else None, template=template, dedupe_key=dedupe_key,
        respect_quiet_hours=respect_quiet_hours, expires_at=expires_at)


class Outbox:
    """Enqueue (``Outbox.enqueue``) plus the dispatcher (``dispatch_once``)."""

    enqueue = staticmethod(enqueue)

    def __init__(self, db: Database, notifier: Notifier, clock: Clock, config: Config,
                 worker: str | None = None,
                 state_is_live: Callable[[str, datetime, datetime], bool] | None = None) -> None:
        self.db = db
        self.notifier = notifier
        self.clock = clock
        self.cfg = config.outbox
        self.tz = config.tz
        idle_timeout = self.idle_timeout = timedelta(minutes=config.conversation.idle_timeout_minutes)
        # whether a stored flow state is still in use: build_app gives BotCore.state_is_live
        # (which also keeps a long form the citizen will be offered back); alone, the timeout
        self.state_is_live = state_is_live or (lambda _state, updated_at, now: now - updated_at <= idle_timeout)
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self.quiet_start = parse_hhmm(self.cfg.quiet_start) or time(21)
        self.quiet_end = parse_hhmm(self.cfg.quiet_end) or time(7)
        self.stats = DispatchStats()

    # -- quiet hours -----------------------------------------------------------------
    def in_quiet_hours(self, when: datetime) -> bool:
        local = when.astimezone(self.tz).time()
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end

    def next_allowed(self, when: datetime) -> datetime:
        """``when`` itself, or the end of the quiet hours it falls in."""
        if not self.in_quiet_hours(when):
            return when
        local = when.astimezone(self.tz)
        end = local.replace(hour=self.quiet_end.hour, minute=self.quiet_end.minute, second=0,
                            microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(when.tzinfo)

    # -- dispatch --------------------------------------------------------------------
    async def dispatch_once(self) -> "DispatchStats":
        """Claim one batch of due messages, send them, record the outcomes."""
        now = self.clock.now()
        batch = DispatchStats()
        async with self.db.unit_of_work() as uow:
            rows = await uow.repo(OutboxRepo).claim(
                now=now, worker=self.worker, lease_until=now + timedelta(seconds=self.cfg.lease_seconds),
                limit=self.cfg.batch_size, quiet=self.in_quiet_hours(now))
        if not rows:
            return batch
        sem = asyncio.Semaphore(self.cfg.concurrency)

        async def one(row: Claimed) -> None:
            async with sem:
                result = await self._send(row)
                # Each outcome is committed as soon as the platform answered, not at the end
                # of the batch: a worker killed mid-batch leaves only the rows still in
                # flight to be sent again by another worker after their lease.
                try:
                    await self._record(row, result, batch)
                except Exception:  # database gone: the lease runs out, the row is retried
                    log.exception("outbox outcome not recorded", extra={"outbox_id": row.id})

        await asyncio.gather(*(one(r) for r in rows))
        self.stats.add(batch)
        if batch.failed or batch.unreachable or batch.retried:
            log.warning("outbox batch", extra=batch.as_dict())
        else:
            log.info("outbox batch", extra=batch.as_dict())
        return batch

    async def _record(self, row: Claimed, result: "_Result", batch: "DispatchStats") -> None:
        from bot.ops import metrics

        done = self.clock.now()
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(OutboxRepo)
            if result.status is Delivery.SENT:
                kept = await repo.finish(row.id, self.worker, status=SENT, now=done,
                                         channel=result.channel)
                batch.sent += 1
                if kept and result.key is not None:
                    for reply in result.replies:
                        if result.key.channel != "web":  # the web chat's send is its log
                            await uow.messages.append(
                                key=result.key, citizen_id=row.citizen_id, direction="out",
                                kind=row.kind, text=reply.text, payload=reply_payload(reply),
                                now=done)
                    await self._offer_choices(uow, result.key, result.replies, done)
                outcome = "sent"
            elif result.status is Delivery.UNREACHABLE:
                await repo.finish(row.id, self.worker, status=UNREACHABLE, now=done,
                                  error=result.detail[:500])
                batch.unreachable += 1
                outcome = "unreachable"
            elif row.attempts >= self.cfg.max_attempts:
                await repo.finish(row.id, self.worker, status=FAILED, now=done,
                                  error=result.detail[:500])
                batch.failed += 1
                outcome = "failed"
            else:
                delay = min(timedelta(seconds=self.cfg.backoff_seconds * 2 ** (row.attempts - 1)), MAX_BACKOFF)
                if result.retry_after:  # the platform's own wait (Zalo's night ban: up to 8 h)
                    delay = max(delay, min(timedelta(seconds=result.retry_after), MAX_PLATFORM_WAIT))
                await repo.finish(row.id, self.worker, status="retry", now=done,
                                  error=result.detail[:500], retry_at=done + delay)
                batch.retried += 1
                outcome = "retried"
        metrics.OUTBOX_OUTCOMES.labels(outcome).inc()

    async def _offer_choices(self, uow: UnitOfWork, key: ConversationKey, replies: Sequence[Reply],
                             now: datetime) -> None:
        """A sent message's choices become the ones on offer, as a reply's are, unless the
        citizen is in a flow (its own list stays): on Zalo they are a numbered list, and a
        typed "1" must mean "Bổ sung thông tin", not be searched as a procedure. A long form
        left past the idle timeout, kept to be offered back, keeps its state and its time; the
        sent choices are stored beside it (a typed "1" then answers the survey question, and
        the form is still offered back afterwards)."""
        offered = [[c.label, c.payload] for reply in replies for c in reply.choices]
        if not offered:
            return
        stored = await uow.states.load(key)
        if stored is not None and stored.state != IDLE and self.state_is_live(stored.state, stored.updated_at, now):
            if now - stored.updated_at > self.idle_timeout:  # only kept to be offered back
                await uow.states.save(key, stored.state, {**stored.data, SENT_OFFERED_KEY: offered},
                                      stored.updated_at)
            return
        await uow.states.save(key, IDLE, {OFFERED_KEY: offered}, now)

    async def drain(self, max_batches: int = 1000) -> "DispatchStats":
        """Dispatch until nothing is due (tests, CLI)."""
        total = DispatchStats()
        for _ in range(max_batches):
            batch = await self.dispatch_once()
            total.add(batch)
            if batch.claimed == 0:
                break
        return total

    async def _send(self, row: Claimed) -> "_Result":
        replies = [reply_from_payload(r.get("text", ""), r) for r in row.replies]
        try:
            if row.channel and row.chat_id and row.user_id:
                key = ConversationKey(row.channel, row.chat_id, row.user_id)
                res = await self.notifier.deliver(key, replies, template=row.template)
                return _Result(res.status, res.detail, res.retry_after, res.channel, key, replies)
            assert row.citizen_id is not None
            res, key = await self.notifier.deliver_to_citizen(row.citizen_id, replies,
                                                              template=row.template)
            return _Result(res.status, res.detail, res.retry_after, res.channel, key, replies)
        except Exception as exc:  # a bug or an unexpected platform answer: retry later
            log.exception("outbox send failed", extra={"outbox_id": row.id, "kind": row.kind})
            return _Result(Delivery.FAILED, f"{type(exc).__name__}", None, "", None, replies)


@dataclass
class _Result:
    status: Delivery
    detail: str
    retry_after: float | None
    channel: str
    key: ConversationKey | None
    replies: list[Reply] = field(default_factory=list)


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    unreachable: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.unreachable + self.failed

    def add(self, other: "DispatchStats") -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.unreachable += other.unreachable
        self.failed += other.failed

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "retried": self.retried, "unreachable": self.unreachable,
                "failed": self.failed}
