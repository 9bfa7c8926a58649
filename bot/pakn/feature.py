"""Wiring of PAKN (``setup(app)``, listed in ``bot.app.FEATURES``): the service, the staff
dashboard and public page, the web-chat upload endpoint, the optional staff Telegram group
and its reminder job, the citizens' 7-day progress messages, and the purge of expired staff sessions."""

from __future__ import annotations

from bot.channels.web_upload import WebUpload
from bot.dashboard.views import Dashboard
from bot.pakn.service import PaknService
from bot.pakn.staff_notify import StaffNotifier
from handlers.pakn import start_ask
from storage.repos.pakn import StaffRepo


def setup(app) -> None:
    services = app.services
    config = app.config
    pakn = PaknService(config, services.clock, services.events)
    services.extras["pakn"] = pakn
    services.ask_staff = start_ask  # "Hỏi cán bộ" on procedure cards and unanswered questions
    dashboard = Dashboard(app)
    app.web.add_routes(dashboard.routes())
    app.web.middlewares.append(dashboard.middleware)
    app.web.add_routes(WebUpload(app.web_channel, config).routes())

    if config.staff.telegram_token and config.staff.telegram_chat_id:
        notifier = StaffNotifier(config, services.db, services.clock, pakn)
        services.extras["pakn_staff_notifier"] = notifier
        app.on_shutdown(notifier.close)

        @app.scheduler.every(config.staff.reminder_interval_seconds, "pakn.staff_reminders")
        async def _remind() -> None:
            await notifier.remind()

    @app.scheduler.every(3600, "pakn.progress_updates")
    async def _progress() -> None:
        async with services.db.unit_of_work() as uow:
            await pakn.send_progress_updates(uow, services.clock.now())

    @app.scheduler.every(3600, "staff.purge_sessions")
    async def _purge_sessions() -> None:
        async with services.db.unit_of_work() as uow:
            await uow.repo(StaffRepo).purge_sessions(services.clock.now())
