"""Faults (``pytest -m faults``): a worker killed with SIGKILL in the middle of a load,
PostgreSQL restarted during a load, a slow or failing one-stop system and platform API.

PostgreSQL here is our own throwaway server (initdb in a temporary directory, its own
port), never the machine's cluster; the tests skip with the reason when the server
binaries are missing. Only processes started by the test are killed, by pid."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import signal
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.messages import ConversationKey, Reply
from bot.outbox import enqueue
from storage.db import Database
from storage.migrate import upgrade
from storage.models import MessageLog, ProcessedUpdate
from storage.models.outbox import OutboxMessage
from tests.channels.conftest import TG_SECRET
from tests.fakes import FakeTelegram
from tests.hardening.procs import Service, ThrowawayPostgres

pytestmark = pytest.mark.faults


@pytest.fixture
def own_pg():
    try:
        pg = ThrowawayPostgres()
    except FileNotFoundError as exc:
        pytest.skip(f"own PostgreSQL for fault tests unavailable: {exc}")
    try:
        pg.init()
        pg.start()
    except Exception as exc:
        pg.destroy()
        pytest.skip(f"own PostgreSQL for fault tests could not start: {exc}")
    upgrade(pg.url)
    yield pg
    pg.destroy()


class GatedTelegram(FakeTelegram):
    """A fake Telegram whose sendMessage can be held: held requests are recorded only when
    released *and* their connection is still open (a sender killed meanwhile never
    delivered the message)."""

    def __init__(self) -> None:
        super().__init__()
        self.free_sends = 0  # sends let through before holding the rest
        self.gate = asyncio.Event()
        self.held = 0
        self.dropped = 0

        @web.middleware
        async def hold(request: web.Request, handler):
            if request.match_info.get("method") == "sendMessage":
                if self.free_sends > 0:
                    self.free_sends -= 1
                elif not self.gate.is_set():
                    self.held += 1
                    await self.gate.wait()
                    if request.transport is None or request.transport.is_closing():
                        self.dropped += 1
                        return web.Response(status=499)
            return await handler(request)

        self.app.middlewares.append(hold)


def _service_env(url: str, tg: FakeTelegram) -> dict[str, str]:
    return {
        "TTHC_DATABASE_URL": url,
        "TTHC__TELEGRAM__ENABLED": "true", "TTHC__TELEGRAM__TOKEN": tg.token,
        "TTHC__TELEGRAM__WEBHOOK_SECRET": TG_SECRET, "TTHC__TELEGRAM__API_BASE_URL": tg.api_base_url,
        "TTHC__TELEGRAM__FILE_BASE_URL": tg.base_url + "/file/bot",
        "TTHC__TELEGRAM__OVERALL_MESSAGES_PER_SECOND": "1000",
        "TTHC__TELEGRAM__PER_CHAT_MESSAGES_PER_SECOND": "100",
        "TTHC__OUTBOX__POLL_SECONDS": "0.2", "TTHC__OUTBOX__LEASE_SECONDS": "10",
        "TTHC__OUTBOX__BATCH_SIZE": "6", "TTHC__OUTBOX__CONCURRENCY": "3",
        "TTHC__OUTBOX__QUIET_START": "00:00", "TTHC__OUTBOX__QUIET_END": "00:00",
        "TTHC__WEB__RATE_LIMIT_PER_MINUTE": "100000", "TTHC__WEB__RATE_LIMIT_BURST": "1000",
        "TTHC__OPS__RESTART_BACKOFF_SECONDS": "0.5", "TTHC__LOGGING__LEVEL": "INFO",
    }


async def _seed_outbox(url: str, n: int) -> None:
    from datetime import datetime, timezone

    db = Database(url)
    now = datetime.now(timezone.utc)
    try:
        async with db.unit_of_work() as uow:
            for i in range(n):
                key = ConversationKey("telegram", str(7000000 + i), str(7000000 + i))
                await uow.citizens.resolve(key, now)
                await enqueue(uow, replies=[Reply(f"Thông báo số {i}")], kind="fault_test", now=now,
                              key=key, dedupe_key=f"fault:{i}")
    finally:
        await db.dispose()


async def _rows(url: str, stmt) -> list[Any]:
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            return list((await uow.session.execute(stmt)).all())
    finally:
        await db.dispose()


async def _web_load(base: str, stop: asyncio.Event, acked: list[tuple[str, str, str]],
                    refused: list[str], sessions: int = 6) -> None:
    """Simulated citizens on the web chat; records every acknowledged message."""
    counter = itertools.count()
    texts = ["menu", "Tra cứu thủ tục", "đăng ký khai sinh", "1", "Menu", "cấp lại cccd"]

    async def citizen(n: int) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=10)) as s:
            i = 0
            while not stop.is_set():
                cid = f"c{n}x{next(counter)}"
                text = texts[i % len(texts)]
                i += 1
                try:
                    async with s.post(base + "/api/chat", json={"text": text, "id": cid}) as r:
                        body = await r.json()
                        if r.status == 200 and body.get("messages"):
                            sid = next(c.value for c in jar if c.key == "tthc_sid")
                            acked.append((sid, cid, text))
                        else:
                            refused.append(body.get("error", ""))
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    refused.append("connection")  # the worker died under this request: not acknowledged
                await asyncio.sleep(0.01)

    await asyncio.gather(*(citizen(n) for n in range(sessions)))


async def test_worker_killed_mid_load_loses_nothing_and_resends_only_its_in_flight_rows(own_pg):
    url = own_pg.url
    n_out = 36
    await _seed_outbox(url, n_out)
    tg = GatedTelegram()
    tg.free_sends = 6
    await tg.start()
    svc = Service(_service_env(url, tg), workers=2)
    stop = asyncio.Event()
    acked: list[tuple[str, str, str]] = []
    refused: list[str] = []
    try:
        await asyncio.to_thread(svc.start)
        load = asyncio.create_task(_web_load(svc.base_url, stop, acked, refused))
        # wait until both workers hold outbox rows in flight
        deadline = time.monotonic() + 20
        claimers: set[str] = set()
        while time.monotonic() < deadline:
            rows = await _rows(url, select(OutboxMessage.claimed_by).where(OutboxMessage.status == "sending"))
            claimers = {r[0] for r in rows}
            if len(claimers) >= 2 and tg.held >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(claimers) >= 2, f"both workers should be sending: {claimers}, held={tg.held}"
        victim = int(sorted(claimers)[0].split(":")[1])
        assert victim in svc.worker_pids()
        acked_before = len(acked)
        os.kill(victim, signal.SIGKILL)
        victim_rows = await _rows(url, select(OutboxMessage.id).where(
            OutboxMessage.status == "sending", OutboxMessage.claimed_by.like(f"%:{victim}:%")))
        await asyncio.sleep(0.5)
        tg.gate.set()  # the survivor's held sends go through; the victim's were cut off
        # the supervisor starts a replacement; the load goes on meanwhile
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pids = svc.worker_pids()
            if len(pids) == 2 and victim not in pids:
                break
            await asyncio.sleep(0.2)
        assert victim not in svc.worker_pids() and len(svc.worker_pids()) == 2
        if importlib.util.find_spec("uvloop") is not None:
            # the replacement is forked at once but logs its start only once it has loaded
            # (seconds on a busy machine): wait for it before counting its event loop below
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and svc.log().count('event_loop="uvloop"') < 3:
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        stop.set()
        await load
        assert len(acked) > acked_before + 10, "the load must go on after the kill"
        # every outbox row is sent exactly once (the victim's rows after their lease)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses = [r[0] for r in await _rows(url, select(OutboxMessage.status))]
            if statuses.count("sent") == n_out:
                break
            await asyncio.sleep(0.5)
        assert statuses.count("sent") == n_out, statuses
        # the rows the victim held were taken over by another worker after their lease
        retaken = await _rows(url, select(OutboxMessage.id).where(OutboxMessage.attempts >= 2))
        assert victim_rows and {r[0] for r in victim_rows} <= {r[0] for r in retaken}, \
            (victim_rows, retaken, tg.dropped)
        from collections import Counter

        sent = Counter(t for t in tg.sent_texts() if t.startswith("Thông báo số"))
        assert set(sent) == {f"Thông báo số {i}" for i in range(n_out)}, "a message was lost"
        # At least once, and twice only in the one window no platform lets us close: the
        # killed worker's send was accepted but it died before recording it. So a message
        # sent twice must be one of the rows the victim held in flight; every other row is
        # sent exactly once.
        held = {r[0] for r in victim_rows}
        held_texts = {r[0].replies[0]["text"] for r in await _rows(
            url, select(OutboxMessage).where(OutboxMessage.id.in_(held)))} if held else set()
        twice = {t for t, n in sent.items() if n > 1}
        assert twice <= held_texts, f"sent twice outside the crash window: {sorted(twice - held_texts)}"
        assert all(n <= 2 for n in sent.values()), sent
        # every acknowledged message was handled and is in the database
        done = {r[0] for r in await _rows(url, select(ProcessedUpdate.update_id)
                                          .where(ProcessedUpdate.channel == "web"))}
        missing = [(sid, cid) for sid, cid, _t in acked if f"{sid}:{cid}" not in done]
        assert not missing, f"{len(missing)} acknowledged messages are not in the database"
        inbound = await _rows(url, select(MessageLog.chat_id).where(MessageLog.direction == "in"))
        assert len(inbound) >= len(acked)
        assert all(r in ("connection", "") or "đang bận" in r for r in refused), set(refused)
        if importlib.util.find_spec("uvloop") is not None:  # the workers ran on uvloop (ops.event_loop)
            assert svc.log().count('event_loop="uvloop"') >= 3, "two workers and the replacement"
    finally:
        stop.set()
        await asyncio.to_thread(svc.stop)
        await tg.close()


async def test_postgres_restart_during_load_recovers_by_itself(own_pg, make_app):
    from aiohttp.test_utils import TestClient, TestServer

    app = make_app(own_pg.url, web={"rate_limit_per_minute": 100000.0, "rate_limit_burst": 1000})
    client = TestClient(TestServer(app.web))
    await client.start_server()
    results: list[tuple[float, int, str]] = []
    try:
        async def send(text: str) -> tuple[int, str]:
            started = time.monotonic()
            r = await client.post("/api/chat", json={"text": text})
            body = await r.json()
            msg = body.get("error") or " ".join(m["text"] for m in body.get("messages", []))
            results.append((time.monotonic() - started, r.status, msg))
            return r.status, msg

        for _ in range(5):
            assert (await send("menu"))[0] == 200
        await asyncio.to_thread(own_pg.stop, "fast")
        during = [await send("menu") for _ in range(5)]
        health = await client.get("/healthz")
        assert health.status == 503 and (await health.json())["database"] == "unavailable"
        for status, msg in during:
            assert status in (200, 503), during
            assert "đang bận" in msg or "sự cố" in msg, during  # polite, in Vietnamese
            assert "Traceback" not in msg and "asyncpg" not in msg
        await asyncio.to_thread(own_pg.start)
        deadline = time.monotonic() + 15
        ok = False
        while time.monotonic() < deadline and not ok:
            status, msg = await send("menu")
            ok = status == 200 and "Bạn cần hỗ trợ gì" in msg
            if not ok:
                await asyncio.sleep(0.2)
        assert ok, results[-5:]
        assert (await client.get("/healthz")).status == 200
        assert max(t for t, _s, _m in results) < 5.0  # nobody waited long for the answer
    finally:
        await client.close()


async def test_slow_one_stop_system_answers_everyone_within_3s_and_stops_calling(make_app, own_pg):
    """On PostgreSQL: concurrent citizens wait in parallel. (On SQLite every message holds
    the single write lock for its whole transaction, so citizens queue behind a slow call;
    the circuit breaker bounds that queue — see the README's "Faults" notes.)"""
    from bot.channels.memory import MemoryChannel
    from tests.conftest import texts_of
    from tests.dossiers.conftest import CODE, FakeOneStop, http_settings, make_record

    fake = FakeOneStop()
    from aiohttp.test_utils import TestServer

    fake.server = TestServer(fake.app, host="127.0.0.1")
    await fake.server.start_server()
    try:
        app = make_app(own_pg.url, dossiers=http_settings(fake, breaker_failures=5),
                       web={"rate_limit_per_minute": 100000.0})
        fake.add(make_record())
        fake.delay[CODE] = 30
        base = MemoryChannel(app.core.handle)
        app.add_channel(base)
        citizens = [base.as_user(f"u{i}") for i in range(20)]
        started = time.monotonic()
        replies = await asyncio.gather(*(c.say(CODE) for c in citizens))
        elapsed = time.monotonic() - started
        assert all("Hệ thống đang bận" in texts_of(r) for r in replies)
        calls = len(fake.calls)
        assert calls <= 20 * app.config.dossiers.max_attempts
        # the breaker is open now: further citizens get the answer at once, no new calls
        started = time.monotonic()
        more = await asyncio.gather(*(base.as_user(f"v{i}").say(CODE) for i in range(20)))
        refused = time.monotonic() - started
        assert all("Hệ thống đang bận" in texts_of(r) for r in more)
        assert len(fake.calls) == calls
        # Every citizen had the answer within the configured deadline (the slow system would
        # answer after 30 s), plus what answering 20 citizens costs right now without any
        # wait: the same answer given by the open breaker (~0.2 s on a quiet machine, several
        # times that on a loaded one; a fixed "3.5 s" failed there at 3.6 s).
        deadline = app.config.dossiers.lookup_deadline_seconds
        assert elapsed < deadline + refused, (elapsed, refused)
        # and the open breaker's answers waited for no call: a fraction of the first wait
        assert refused < elapsed / 2, (refused, elapsed)
    finally:
        await fake.server.close()


async def test_slow_platform_does_not_pile_up_background_work(make_app, sqlite_url, monkeypatch, clock):
    import bot.channels.common as common
    from tests.channels.conftest import channel_sections
    from tests.fakes.telegram import text_update

    monkeypatch.setattr(common, "MAX_BACKGROUND", 10)
    tg = FakeTelegram()
    slow = asyncio.Event()

    @web.middleware
    async def delay(request, handler):
        if request.match_info.get("method") == "sendMessage" and not slow.is_set():
            await asyncio.sleep(2.0)
        return await handler(request)

    tg.app.middlewares.append(delay)
    await tg.start()
    from aiohttp.test_utils import TestClient, TestServer

    app = make_app(sqlite_url, **channel_sections(tg, telegram={"overall_messages_per_second": 1000.0,
                                                                "per_chat_messages_per_second": 100.0}))
    client = TestClient(TestServer(app.web))
    await client.start_server()
    try:
        ch = app.services.channels.get("telegram")
        peak = 0
        started = time.monotonic()
        for i in range(40):
            r = await client.post("/webhooks/telegram", json=text_update(1000 + i, "menu", user_id=6000 + i),
                                  headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
            assert r.status == 200
            peak = max(peak, len(ch._tasks))
        assert time.monotonic() - started < 3.0  # the webhook answers at once, whatever the platform does
        assert peak <= 10
        slow.set()
        await ch.drain()
        # the updates left in the inbox are handled by the inbox job after their lease
        clock.advance(minutes=3)
        handled = await ch.redrive()
        assert handled == 30
        users = {c.params.get("chat_id") for c in tg.calls_to("sendMessage")}
        assert len(users) == 40  # every citizen got the answer
    finally:
        await client.close()
        await tg.close()
