"""The HTTP adapter against a fake one-stop system over real HTTP: answers, retries,
timeouts inside the citizen's deadline, the circuit breaker, contract violations."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest

from bot.config import DossiersConfig
from bot.dossiers.model import Status
from bot.dossiers.sources import CircuitBreaker, HttpSource, SourceUnavailable
from tests.dossiers.conftest import CODE, TOKEN, make_record
from tests.timing import loop_lateness

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OTHER = "000.00.01.H50-261020-0002"


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def source(fake, **over) -> HttpSource:
    values = dict(backend="http", api_base_url=fake.url, api_token=TOKEN, request_timeout_seconds=0.5,
                  max_attempts=2, retry_backoff_seconds=0.05, lookup_deadline_seconds=3.0,
                  breaker_failures=3, breaker_reset_seconds=30)
    values.update(over)
    return HttpSource(DossiersConfig(**values), TZ)


@pytest.fixture
async def src(onestop):
    s = source(onestop)
    yield s
    await s.close()


async def test_every_status_is_read(onestop, src):
    for st in Status:
        code = f"000.00.01.H50-261020-{int(st):04d}"
        onestop.add(make_record(code, int(st)))
        d = await src.fetch(code)
        assert d is not None and d.status is st and d.code == code
    assert all(auth == TOKEN for _, auth in onestop.calls)  # the auth header is sent every time


async def test_unknown_dossier_is_none_and_not_a_failure(onestop, src):
    assert await src.fetch(CODE) is None
    assert src.breaker.failures == 0


async def test_server_error_is_retried_once_then_answers(onestop, src):
    onestop.add(make_record())
    onestop.fail[CODE] = [503]
    d = await src.fetch(CODE)
    assert d is not None and [c for c, _ in onestop.calls] == [CODE, CODE]


async def test_persistent_errors_give_up_after_the_bounded_attempts(onestop):
    # generous timeouts: this is about the number of attempts, and a busy machine (the
    # whole suite on two cores) once made an attempt time out before reaching the fake
    s = source(onestop, request_timeout_seconds=2.0, lookup_deadline_seconds=6.0)
    onestop.add(make_record())
    onestop.fail[CODE] = [500, 500, 500, 500]
    try:
        with pytest.raises(SourceUnavailable):
            await s.fetch(CODE)
    finally:
        await s.close()
    assert len(onestop.calls) == 2


async def test_slow_source_answers_busy_within_three_seconds(onestop):
    s = source(onestop, request_timeout_seconds=1.2, max_attempts=3, retry_backoff_seconds=0.2)
    onestop.add(make_record())
    onestop.delay[CODE] = 10
    started = time.perf_counter()
    try:
        async with loop_lateness() as late:
            with pytest.raises(SourceUnavailable):
                await s.fetch(CODE)
    finally:
        await s.close()
    elapsed = time.perf_counter() - started
    # The source gives up at its 3 s deadline (less its own 0.05 s), a timer away from it:
    # only that timer's lateness (milliseconds on a quiet machine) is allowed on top. The
    # slow server would answer after 10 s; a source that ignored its deadline would make
    # three full attempts (4.2 s).
    assert 1.0 < elapsed < 3.0 + late.worst, (elapsed, late)
    assert len(onestop.calls) == 2  # a third attempt would not fit in the deadline


async def test_wrong_credentials_are_not_retried(onestop):
    s = source(onestop, api_token="Bearer wrong")
    onestop.add(make_record())
    try:
        with pytest.raises(SourceUnavailable):
            await s.fetch(CODE)
    finally:
        await s.close()
    assert len(onestop.calls) == 1


@pytest.mark.parametrize("body", ["<html>Bảo trì</html>", '{"code": "000.00.01.H50-261020-0001", "status": 99}',
                                  '{"code": "000.00.01.H50-261020-0002", "status": 4, "received_at": "2026-10-20"}'])
async def test_answers_outside_the_contract_are_unavailable(onestop, src, body):
    onestop.raw[CODE] = body
    with pytest.raises(SourceUnavailable):
        await src.fetch(CODE)


async def test_circuit_breaker_opens_fails_fast_then_recovers(onestop):
    clock = FakeTime()
    s = source(onestop, max_attempts=1)
    s.breaker = CircuitBreaker(3, 30, now=clock)
    onestop.add(make_record())
    onestop.fail[CODE] = [500, 500, 500]
    try:
        for _ in range(3):
            with pytest.raises(SourceUnavailable):
                await s.fetch(CODE)
        assert s.breaker.state == "open"
        calls = len(onestop.calls)
        started = time.perf_counter()
        with pytest.raises(SourceUnavailable):
            await s.fetch(CODE)
        assert len(onestop.calls) == calls  # not even tried
        assert time.perf_counter() - started < 0.05
        clock.t += 31  # after the reset time one trial call goes through
        assert (await s.fetch(CODE)) is not None
        assert s.breaker.state == "closed"
    finally:
        await s.close()


def test_half_open_failure_reopens():
    clock = FakeTime()
    b = CircuitBreaker(2, 10, now=clock)
    b.failure()
    assert b.allow()
    b.failure()
    assert not b.allow()
    clock.t += 10
    assert b.allow() and not b.allow()  # one trial at a time
    b.failure()
    assert b.state == "open" and not b.allow()


async def test_a_cancelled_trial_call_does_not_leave_the_breaker_half_open_for_ever(onestop):
    """The trial call after the reset time may be cancelled (the citizen's lookup deadline
    around it, a shutdown): the breaker must not wait for its outcome for ever, refusing
    every later lookup of the worker."""
    import asyncio

    clock = FakeTime()
    s = source(onestop, max_attempts=1)
    s.breaker = CircuitBreaker(1, 30, now=clock)
    onestop.add(make_record())
    onestop.fail[CODE] = [500]
    try:
        with pytest.raises(SourceUnavailable):
            await s.fetch(CODE)
        assert s.breaker.state == "open"
        clock.t += 31
        onestop.delay[CODE] = 5
        trial = asyncio.create_task(s.fetch(CODE))
        await asyncio.sleep(0.1)
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        del onestop.delay[CODE]
        clock.t += 31  # after another reset time, a new trial goes through and recovers
        assert (await s.fetch(CODE)) is not None
        assert s.breaker.state == "closed"
    finally:
        await s.close()
