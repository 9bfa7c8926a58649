"""Periodic jobs (APScheduler): claiming due outbox rows, reminders, polling sources.

Jobs are plain async functions taking no argument; they must be safe to run in several
processes at once (they claim work with row locks), so every worker can run them.
Tests call the job functions directly with a manual clock instead of waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
FIRST_RUN_MAX_DELAY = 60.0  # seconds after the start by which every job has run once


@dataclass(frozen=True)
class JobSpec:
    name: str
    seconds: float
    fn: Job


class Scheduler:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.jobs: list[JobSpec] = []
        self._aps: AsyncIOScheduler | None = None

    def every(self, seconds: float, name: str) -> Callable[[Job], Job]:
        """Register ``fn`` to run every ``seconds`` (never two runs of it at once)."""

        def deco(fn: Job) -> Job:
            if any(j.name == name for j in self.jobs):
                raise ValueError(f"job {name!r} registered twice")
            self.jobs.append(JobSpec(name, seconds, fn))
            return fn

        return deco

    async def run_once(self, name: str) -> None:
        """Run one job now (tests, CLI)."""
        job = next(j for j in self.jobs if j.name == name)
        await job.fn()

    def start(self) -> None:
        if not self.enabled or self._aps is not None:
            return
        self._aps = AsyncIOScheduler(timezone="UTC")
        now = datetime.now(timezone.utc)
        for job in self.jobs:
            # The first run comes soon after the start, not one whole interval later: a
            # daily job (the privacy purge) of a worker restarted every night would never run.
            first = now + timedelta(seconds=min(job.seconds, FIRST_RUN_MAX_DELAY))
            self._aps.add_job(_guard(job), "interval", seconds=job.seconds, id=job.name,
                              max_instances=1, coalesce=True, misfire_grace_time=None, next_run_time=first)
        self._aps.start()
        log.info("scheduler started", extra={"jobs": [j.name for j in self.jobs]})

    def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None


def _guard(job: JobSpec) -> Job:
    async def run() -> None:
        try:
            await job.fn()
        except Exception:
            log.exception("scheduled job failed", extra={"job": job.name})

    return run
