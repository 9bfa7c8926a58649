"""The periodic jobs' timing: a long-interval job (the privacy purge, every 24 h) must run
soon after a start, not only one whole interval later — a worker restarted every night
would otherwise never purge anything."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.scheduler import FIRST_RUN_MAX_DELAY, Scheduler


async def test_every_job_first_runs_soon_after_the_start():
    sched = Scheduler()

    @sched.every(24 * 3600, "daily")
    async def daily() -> None:
        return None

    @sched.every(5, "often")
    async def often() -> None:
        return None

    sched.start()
    try:
        now = datetime.now(timezone.utc)
        daily_next = sched._aps.get_job("daily").next_run_time
        often_next = sched._aps.get_job("often").next_run_time
        assert daily_next <= now + timedelta(seconds=FIRST_RUN_MAX_DELAY + 1)
        assert often_next <= now + timedelta(seconds=6)
    finally:
        sched.stop()
