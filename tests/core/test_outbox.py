"""The outbox: enqueue in the causing transaction, dispatch once, retries, quiet hours."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.base import Reachability, SendError
from bot.channels.memory import MemoryChannel
from bot.clock import ManualClock
from bot.messages import Choice, ConversationKey, Reply
from bot.notify import Notifier
from bot.outbox import Outbox, enqueue
from bot.channels.base import ChannelRegistry
from storage.db import Database
from storage.repos.outbox import OutboxRepo
from tests.conftest import make_config

# 10:00 in Hà Nội (UTC+7)
DAY = datetime(2026, 11, 3, 3, 0, tzinfo=timezone.utc)


class FlakyChannel(MemoryChannel):
    """A memory channel whose sends fail as told."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.fail_next: list[SendError] = []
        self.how = Reachability.DIRECT
        self.templates: list[tuple[ConversationKey, str, dict]] = []

    async def send(self, key, replies):
        if self.fail_next:
            raise self.fail_next.pop(0)
        return await super().send(key, replies)

    async def reachability(self, key):
        return self.how

    async def send_template(self, key, template_id, params):
        self.templates.append((key, template_id, params))


@pytest.fixture
async def env(db_url):
    clock = ManualClock(DAY)
    db = Database(db_url)
    channels = ChannelRegistry()
    ch = FlakyChannel(lambda m: None, name="memory")
    channels.add(ch)
    notifier = Notifier(db, channels, clock)
    outbox = Outbox(db, notifier, clock, make_config(db_url), worker="w1")
    async with db.unit_of_work() as uow:
        ident = await uow.citizens.resolve(ch.key, clock.now())
    yield clock, db, ch, outbox, ident.citizen_id
    await db.dispose()


async def _enqueue(db, clock, **kw):
    async with db.unit_of_work() as uow:
        return await enqueue(uow, replies=[Reply("Hồ sơ của bạn đã có kết quả.", (Choice("Menu", "g:menu"),))],
                             kind="test", now=clock.now(), **kw)


async def _status(db, row_id):
    async with db.unit_of_work() as uow:
        return (await uow.repo(OutboxRepo).get(row_id)).status


async def test_sent_once_logged_and_marked(env):
    clock, db, ch, outbox, citizen = env
    row = await _enqueue(db, clock, citizen_id=citizen)
    stats = await outbox.drain()
    assert (stats.sent, stats.claimed) == (1, 1)
    assert [(k, [r.text for r in rs]) for k, rs in ch.pushed] == [(ch.key, ["Hồ sơ của bạn đã có kết quả."])]
    assert ch.pushed[0][1][0].choices == (Choice("Menu", "g:menu"),)
    assert await _status(db, row) == "sent"
    async with db.unit_of_work() as uow:
        logged = await uow.messages.since("memory", "u1", 0, direction="out")
    assert [m.text for m in logged] == ["Hồ sơ của bạn đã có kết quả."]
    assert (await outbox.drain()).claimed == 0


async def test_dedupe_key_enqueues_once(env):
    clock, db, ch, outbox, citizen = env
    first = await _enqueue(db, clock, citizen_id=citizen, dedupe_key="dossier:1:status:10")
    again = await _enqueue(db, clock, citizen_id=citizen, dedupe_key="dossier:1:status:10")
    assert first is not None and again is None
    await outbox.drain()
    assert len(ch.pushed) == 1


async def test_rolled_back_cause_enqueues_nothing(env):
    clock, db, ch, outbox, citizen = env
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            await enqueue(uow, replies=[Reply("x")], kind="test", now=clock.now(), citizen_id=citizen)
            raise RuntimeError("the status change failed")
    assert (await outbox.drain()).claimed == 0


async def test_not_before_and_quiet_hours(env):
    clock, db, ch, outbox, citizen = env
    clock.set(datetime(2026, 11, 3, 14, 30, tzinfo=timezone.utc))  # 21:30 local
    await _enqueue(db, clock, citizen_id=citizen)
    await _enqueue(db, clock, citizen_id=citizen, respect_quiet_hours=False)
    assert (await outbox.drain()).sent == 1  # only the one allowed at night
    clock.set(datetime(2026, 11, 3, 23, 59, tzinfo=timezone.utc))  # 06:59 local
    assert (await outbox.drain()).sent == 0
    clock.advance(minutes=2)  # 07:01 local
    assert (await outbox.drain()).sent == 1
    later = await _enqueue(db, clock, citizen_id=citizen, not_before=clock.now() + timedelta(hours=2))
    assert (await outbox.drain()).sent == 0
    clock.advance(hours=2)
    assert (await outbox.drain()).sent == 1 and await _status(db, later) == "sent"


def test_next_allowed_moves_to_end_of_quiet_hours():
    outbox = Outbox.__new__(Outbox)
    cfg = make_config("sqlite:///x.sqlite3")
    Outbox.__init__(outbox, None, None, ManualClock(DAY), cfg)
    night = datetime(2026, 11, 3, 16, 0, tzinfo=timezone.utc)  # 23:00 local
    assert outbox.next_allowed(night) == datetime(2026, 11, 4, 0, 0, tzinfo=timezone.utc)  # 07:00 local
    assert outbox.next_allowed(DAY) == DAY


async def test_temporary_failure_retried_with_backoff_then_failed(env):
    clock, db, ch, outbox, citizen = env
    row = await _enqueue(db, clock, citizen_id=citizen)
    ch.fail_next = [SendError("timeout", code="timeout")]
    assert (await outbox.drain()).retried == 1
    assert await _status(db, row) == "pending"
    assert (await outbox.drain()).claimed == 0  # not due yet
    clock.advance(seconds=outbox.cfg.backoff_seconds + 1)
    assert (await outbox.drain()).sent == 1
    assert len(ch.pushed) == 1

    row2 = await _enqueue(db, clock, citizen_id=citizen, respect_quiet_hours=False)
    for _ in range(outbox.cfg.max_attempts):
        ch.fail_next = [SendError("down", code="down")]
        await outbox.drain()
        clock.advance(hours=7)
    assert await _status(db, row2) == "failed"


async def test_retry_after_from_platform_is_honoured(env):
    clock, db, ch, outbox, citizen = env
    await _enqueue(db, clock, citizen_id=citizen)
    ch.fail_next = [SendError("429", retry_after=600, code="429")]
    await outbox.drain()
    clock.advance(seconds=599)
    assert (await outbox.drain()).claimed == 0
    clock.advance(seconds=2)
    assert (await outbox.drain()).sent == 1


async def test_blocked_citizen_recorded_unreachable_not_retried(env):
    clock, db, ch, outbox, citizen = env
    row = await _enqueue(db, clock, citizen_id=citizen)
    ch.fail_next = [SendError("Forbidden: bot was blocked by the user", permanent=True, code="blocked")]
    assert (await outbox.drain()).unreachable == 1
    assert await _status(db, row) == "unreachable"
    async with db.unit_of_work() as uow:
        assert (await uow.citizens.identity("memory", "u1")).reachable is False
    assert (await _enqueue(db, clock, citizen_id=citizen)) is not None
    assert (await outbox.drain()).unreachable == 1  # no reachable channel left
    assert ch.pushed == []


async def test_template_used_when_window_closed(env):
    clock, db, ch, outbox, citizen = env
    ch.how = Reachability.TEMPLATE
    with_t = await _enqueue(db, clock, citizen_id=citizen,
                            template={"template_id": "survey-1", "params": {"code": "PAKN-1"}})
    without = await _enqueue(db, clock, citizen_id=citizen)
    await outbox.drain()
    assert await _status(db, with_t) == "sent" and await _status(db, without) == "unreachable"
    assert ch.templates == [(ch.key, "survey-1", {"code": "PAKN-1"})]
    assert ch.pushed == []


async def test_expired_rows_are_not_sent(env):
    clock, db, ch, outbox, citizen = env
    row = await _enqueue(db, clock, citizen_id=citizen, not_before=clock.now() + timedelta(days=1),
                         expires_at=clock.now() + timedelta(hours=12))
    clock.advance(days=1)
    assert (await outbox.drain()).claimed == 0
    assert await _status(db, row) == "expired"


async def test_dead_worker_lease_runs_out_and_row_is_sent_by_another(env, db_url):
    clock, db, ch, outbox, citizen = env
    row = await _enqueue(db, clock, citizen_id=citizen)
    async with db.unit_of_work() as uow:  # worker "dead" claims and never finishes
        claimed = await uow.repo(OutboxRepo).claim(now=clock.now(), worker="dead",
                                                   lease_until=clock.now() + timedelta(seconds=300),
                                                   limit=10, quiet=False)
    assert [c.id for c in claimed] == [row]
    assert (await outbox.drain()).claimed == 0
    clock.advance(seconds=301)
    assert (await outbox.drain()).sent == 1
    async with db.unit_of_work() as uow:  # the dead worker can no longer record an outcome
        assert await uow.repo(OutboxRepo).finish(row, "dead", status="sent", now=clock.now()) is False


async def test_two_dispatchers_send_a_backlog_exactly_once(db_url):
    """5,000 rows, two dispatchers (separate engines, like two processes) at once."""
    clock = ManualClock(DAY)
    cfg = make_config(db_url, outbox={"batch_size": 50})  # 100 batches to share
    setup_db = Database(db_url)
    users = [f"u{i}" for i in range(50)]
    async with setup_db.unit_of_work() as uow:
        for u in users:
            await uow.citizens.resolve(ConversationKey("memory", u, u), clock.now())
    async with setup_db.unit_of_work() as uow:
        for i in range(5000):
            u = users[i % 50]
            await enqueue(uow, replies=[Reply(f"msg-{i}")], kind="load", now=clock.now(),
                          key=ConversationKey("memory", u, u))
    await setup_db.dispose()

    sent: Counter[str] = Counter()

    class CountingChannel(MemoryChannel):
        async def send(self, key, replies):
            for r in replies:
                sent[r.text] += 1
            await asyncio.sleep(0.0005)  # a send takes a little time: the other dispatcher runs
            return await super().send(key, replies)

    dbs, outboxes = [], []
    for w in ("w1", "w2"):
        db = Database(db_url)
        channels = ChannelRegistry()
        channels.add(CountingChannel(lambda m: None, name="memory"))
        dbs.append(db)
        outboxes.append(Outbox(db, Notifier(db, channels, clock), clock, cfg, worker=w))
    try:
        a, b = await asyncio.gather(outboxes[0].drain(), outboxes[1].drain())
    finally:
        for db in dbs:
            await db.dispose()
    assert a.sent + b.sent == 5000
    assert a.sent > 0 and b.sent > 0
    assert len(sent) == 5000 and set(sent.values()) == {1}


async def test_template_reaches_an_identity_marked_unreachable(env):
    """Zalo -230 (window closed) marks the identity unreachable; a template may still go."""
    clock, db, ch, outbox, citizen = env
    async with db.unit_of_work() as uow:
        await uow.citizens.mark_unreachable("memory", "u1", "-230")
    ch.how = Reachability.TEMPLATE
    plain = await _enqueue(db, clock, citizen_id=citizen)
    templ = await _enqueue(db, clock, citizen_id=citizen, template={"template_id": "t1", "params": {}})
    await outbox.drain()
    assert await _status(db, plain) == "unreachable" and await _status(db, templ) == "sent"
    assert [t[1] for t in ch.templates] == ["t1"]
