"""Operations: /metrics, /healthz, web chat rate limit, load shedding, several workers."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.messages import Reply
from bot.ops.limits import TokenBuckets
from bot.outbox import enqueue
from tests.conftest import ROOT, TEST_ID_HASH_KEY


def _value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    found = re.findall(pattern, text)
    assert found, f"{name}{{{labels}}} not in /metrics"
    return float(found[-1])


async def _client(app) -> TestClient:
    client = TestClient(TestServer(app.web))
    await client.start_server()
    return client


async def test_metrics_count_messages_latency_and_outbox(make_app, sqlite_url, clock):
    app = make_app(sqlite_url)
    client = await _client(app)
    try:
        before = await (await client.get("/metrics")).text()
        base = _value(before, "tthc_inbound_messages_total", 'channel="web"') if 'channel="web"' in before else 0
        for text in ("menu", "khai sinh", "xin chào"):
            r = await client.post("/api/chat", json={"text": text})
            assert r.status == 200
        async with app.db.unit_of_work() as uow:
            await enqueue(uow, replies=[Reply("x")], kind="t", now=clock.now(),
                          key=__import__("bot.messages", fromlist=["ConversationKey"]).ConversationKey("web", "s", "s"))
        r = await client.get("/metrics")
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
        assert _value(text, "tthc_inbound_messages_total", 'channel="web"') == base + 3
        assert _value(text, "tthc_handler_seconds_count", 'channel="web"') >= 3
        assert _value(text, "tthc_outbox_messages", 'status="pending"') == 1
        assert _value(text, "tthc_outbox_due") == 1
        assert _value(text, "tthc_database_up") == 1
        assert "# TYPE tthc_handler_seconds histogram" in text
    finally:
        await client.close()


async def test_metrics_token_and_healthz_worker(make_app, sqlite_url):
    app = make_app(sqlite_url, ops={"metrics_token": "scrape-token-123"})
    client = await _client(app)
    try:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
        r = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
        assert r.status == 200
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["worker"] == os.getpid()
    finally:
        await client.close()


async def test_web_chat_rate_limit_is_polite_and_per_session(make_app, sqlite_url):
    app = make_app(sqlite_url, web={"rate_limit_per_minute": 6.0, "rate_limit_burst": 3})
    client = await _client(app)
    try:
        statuses = []
        for i in range(5):
            r = await client.post("/api/chat", json={"text": f"xin chào {i}"})
            statuses.append(r.status)
        assert statuses == [200, 200, 200, 429, 429]
        body = await r.json()
        assert "gửi tin nhắn hơi nhanh" in body["error"] and int(r.headers["Retry-After"]) >= 1
        # another session is not affected
        other = TestClient(TestServer(app.web))
        await other.start_server()
        try:
            assert (await other.post("/api/chat", json={"text": "xin chào"})).status == 200
        finally:
            await other.close()
        # refused messages were not handled (nothing logged for them)
        async with app.db.unit_of_work() as uow:
            from sqlalchemy import func, select

            from storage.models import MessageLog

            n = (await uow.session.execute(select(func.count()).select_from(MessageLog)
                                           .where(MessageLog.direction == "in"))).scalar_one()
        assert n == 4
    finally:
        await client.close()


def test_token_buckets_refill_and_stay_bounded():
    now = [0.0]
    tb = TokenBuckets(60.0, 2, max_keys=100, clock=lambda: now[0])
    assert tb.take("a") == 0 and tb.take("a") == 0
    assert tb.take("a") == pytest.approx(1.0)
    now[0] += 1.0
    assert tb.take("a") == 0
    for i in range(1000):
        tb.take(f"k{i}")
    assert len(tb) == 100


async def test_requests_beyond_the_in_flight_limit_get_a_polite_503(make_app, sqlite_url, monkeypatch):
    app = make_app(sqlite_url, ops={"max_inflight_requests": 2})
    gate = asyncio.Event()
    real = app.web_channel._handle

    async def slow(msg, *within):
        await gate.wait()
        return await real(msg, *within)

    app.web_channel._handle = slow
    client = await _client(app)
    try:
        first = [asyncio.create_task(client.post("/api/chat", json={"text": f"a{i}"})) for i in range(2)]
        await asyncio.sleep(0.2)
        r = await client.post("/api/chat", json={"text": "b"})
        assert r.status == 503 and "đang bận" in (await r.json())["error"]
        assert r.headers["Retry-After"] == "5"
        assert (await client.get("/healthz")).status == 200  # never shed
        gate.set()
        assert [x.status for x in await asyncio.gather(*first)] == [200, 200]
    finally:
        await client.close()


def _run_cli(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "TTHC__DOSSIERS__ID_HASH_KEY": TEST_ID_HASH_KEY, **env_extra}
    env.pop("TTHC_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_several_workers_on_sqlite_are_refused_clearly(sqlite_url):
    out = _run_cli("run", "--workers", "2", env_extra={"TTHC_DATABASE_URL": sqlite_url})
    assert out.returncode == 2
    assert "several workers need PostgreSQL" in out.stderr
    out = _run_cli("config", "check", env_extra={"TTHC_DATABASE_URL": sqlite_url, "TTHC__OPS__WORKERS": "3"})
    assert out.returncode == 2 and "ops.workers: several workers need PostgreSQL" in out.stderr


def test_event_loop_is_uvloop_on_postgres_and_asyncio_on_sqlite():
    from bot.ops.workers import install_event_loop

    before = asyncio.get_event_loop_policy()
    try:
        assert install_event_loop("auto", is_postgres=False) == "asyncio"
        assert install_event_loop("asyncio", is_postgres=True) == "asyncio"
        assert asyncio.get_event_loop_policy() is before
        uvloop = pytest.importorskip("uvloop", reason="uvloop comes with the postgres extra")
        assert install_event_loop("auto", is_postgres=True) == "uvloop"
        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
        asyncio.set_event_loop_policy(before)
        assert install_event_loop("uvloop", is_postgres=False) == "uvloop"
    finally:
        asyncio.set_event_loop_policy(before)


def test_an_unknown_event_loop_is_refused_at_start(sqlite_url):
    out = _run_cli("run", "--port", "0", env_extra={"TTHC_DATABASE_URL": sqlite_url,
                                                     "TTHC__OPS__EVENT_LOOP": "tokio"})
    assert out.returncode == 2 and "ops.event_loop: must be one of auto, asyncio, uvloop" in out.stderr
