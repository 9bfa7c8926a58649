"""Wiring of the operations features (a ``bot.app.FEATURES`` module):

- load shedding middleware (``ops.max_inflight_requests`` per worker);
- ``GET /metrics`` (Prometheus text format; optional bearer token) with the database
  gauges every deployment has: outbox messages by status and due now, platform inbox
  backlog; features add theirs with :func:`bot.ops.metrics.add_gauge_source`;
- the personal-data purge job (``privacy.purge_interval_hours``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

from aiohttp import web

from bot.ops import metrics
from bot.ops.limits import shedding_middleware
from bot.ops.metrics import Sample

if TYPE_CHECKING:
    from bot.app import App
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_SECONDS = 5.0


async def _outbox_gauges(uow: "UnitOfWork", now: datetime) -> Iterable[Sample]:
    from storage.repos.outbox import OutboxRepo

    repo = uow.repo(OutboxRepo)
    counts = await repo.counts()
    out = [Sample("tthc_outbox_messages", {"status": status}, n,
                  "Outbox messages by status (failed/unreachable: given up)")
           for status, n in counts.items()]
    out.append(Sample("tthc_outbox_due", {}, await repo.due_count(now),
                      "Outbox messages due now and not yet sent (the depth)"))
    return out


async def _inbox_gauges(uow: "UnitOfWork", now: datetime) -> Iterable[Sample]:
    from storage.repos.ops import OpsQueries

    return [Sample("tthc_inbox_pending", {"channel": ch}, n,
                   "Accepted platform updates not handled yet") for ch, n in
            (await uow.repo(OpsQueries).inbox_pending()).items()]


def _pakn_gauges(tz):
    async def gauges(uow: "UnitOfWork", now: datetime) -> Iterable[Sample]:
        from storage.repos.ops import PAKN_OPEN, PaknPersonalData

        repo = uow.repo(PaknPersonalData)
        counts = await repo.open_by_state()
        out = [Sample("tthc_pakn_open", {"state": state}, counts.get(state, 0),
                      "Open feedback items (PAKN) by state") for state in PAKN_OPEN]
        out.append(Sample("tthc_pakn_overdue", {}, await repo.overdue(now.astimezone(tz).date()),
                          "Open PAKN past the due date of their current stage (accept, answer, publish)"))
        return out

    return gauges


def setup(app: "App") -> None:
    cfg = app.config.ops
    app.web.middlewares.append(shedding_middleware(cfg.max_inflight_requests))
    metrics.add_gauge_source("outbox", _outbox_gauges)
    metrics.add_gauge_source("inbox", _inbox_gauges)
    from bot.app import FEATURES

    if "bot.pakn.feature" in FEATURES:
        metrics.add_gauge_source("pakn", _pakn_gauges(app.config.tz))
    if cfg.metrics_enabled:
        app.web.add_routes([web.get("/metrics", _metrics_handler(app))])
    interval = app.config.privacy.purge_interval_hours
    if interval > 0:
        from bot.retention import purge

        async def purge_job() -> None:
            await purge(app.db, app.config, app.services.clock.now())

        app.scheduler.every(interval * 3600, "privacy.purge")(purge_job)


def _metrics_handler(app: "App"):
    token = app.config.ops.metrics_token

    async def handler(request: web.Request) -> web.Response:
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.Response(status=401, text="unauthorised\n")
        body = metrics.process_text().decode()
        try:
            body += await asyncio.wait_for(_db_text(app), SCRAPE_TIMEOUT_SECONDS)
            up = 1
        except Exception as exc:  # the scrape still answers: the process figures are useful
            log.warning("metrics: database gauges unavailable", extra={"error": type(exc).__name__})
            up = 0
        body += metrics.render_samples([Sample("tthc_database_up", {}, up,
                                               "1 when the database gauges could be read")])
        return web.Response(body=body.encode(), headers={"Content-Type": metrics.CONTENT_TYPE})

    return handler


async def _db_text(app: "App") -> str:
    now = app.services.clock.now()
    samples: list[Sample] = []
    async with app.db.unit_of_work() as uow:
        for name, fn in metrics.gauge_sources():
            try:
                async with uow.session.begin_nested():
                    samples.extend(await fn(uow, now))
            except Exception:
                log.exception("metrics gauge source failed", extra={"source": name})
    return metrics.render_samples(samples)
