"""Satisfaction surveys after every resolved case, and the reports leadership reads.

``setup(app)`` (listed in ``bot.app.FEATURES``): the :class:`SurveyService` on
``services.extras["surveys"]``, subscribed to :class:`bot.events.CaseResolved`; the
``surveys.tick`` job (sent / expired surveys, and a log line with the outbox queue); the
report pages under ``/staff/bao-cao`` (behind the staff dashboard's login). The conversation is ``handlers/surveys.py``; the CLI is
``bot/surveys/cli.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import CaseResolved
from bot.surveys.service import SurveyService

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


def setup(app: "App") -> None:
    from bot.surveys.report import delivery_stats
    from bot.surveys.web import setup_routes

    assert app.services.outbox is not None
    service = SurveyService(app.db, app.config, app.services.outbox)
    app.services.extras["surveys"] = service
    app.services.events.subscribe(CaseResolved, service.on_case_resolved)
    clock = app.services.clock

    @app.scheduler.every(app.config.surveys.tick_seconds, "surveys.tick")
    async def _tick() -> None:
        now = clock.now()
        await service.tick(now)
        async with app.db.unit_of_work() as uow:
            stats = await delivery_stats(uow, now)
        totals = stats.totals()
        extra = {"due": stats.due, "sent_last_hour": stats.sent_last_hour,
                 "oldest_due_minutes": round(stats.oldest_due_minutes or 0, 1),
                 "pending": totals.get("pending", 0), "failed": totals.get("failed", 0),
                 "unreachable": totals.get("unreachable", 0)}
        (log.warning if stats.oldest_due_minutes and stats.oldest_due_minutes > 15 else log.info)(
            "outbox queue", extra=extra)

    setup_routes(app)
