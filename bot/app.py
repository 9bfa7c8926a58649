"""Wiring: ``build_app(config, ...)`` builds the whole service; tests call the same function.

The result holds the services, the router, the core, the channel registry and the aiohttp
application (web chat, webhooks, dashboard, /healthz) ready to be served.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web

from bot.channels.base import Channel
from bot.channels.web import WebChannel
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.core import BotCore
from bot.notify import Notifier
from bot.outbox import Outbox
from bot.router import Router
from bot.scheduler import Scheduler
from bot.services import Services
from handlers import build_router
from storage.db import Database

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("tthc_app", object)

# Capabilities wired after the core, in this order: each module has ``setup(app: App)``
# that adds its services, channels, routes, scheduled jobs and start/stop steps.
FEATURES: list[str] = [
    "kb.service",
    "bot.channels.platforms",
    "bot.dossiers.feature",
    "bot.ops.feature",
    "bot.surveys",
    "bot.pakn.feature",
]


@dataclass
class App:
    config: Config
    services: Services
    router: Router
    core: BotCore
    web: web.Application
    web_channel: WebChannel
    scheduler: Scheduler
    _startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def db(self) -> Database:
        return self.services.db

    def add_channel(self, channel: Channel) -> None:
        self.services.channels.add(channel)
        routes = getattr(channel, "routes", None)
        if routes is not None and channel is not self.web_channel:
            self.web.add_routes(routes())

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(fn)

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(fn)

    async def start(self) -> None:
        for fn in self._startup:
            await fn()
        await self.services.channels.start_all()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop channels and background work, then close the database. Safe to call twice."""
        self.scheduler.stop()
        await self.services.channels.stop_all()
        for fn in reversed(self._shutdown):
            try:
                await fn()
            except Exception:
                log.exception("shutdown step failed")
        self._shutdown.clear()
        await self.services.db.dispose()


def build_app(config: Config, *, clock: Clock | None = None, db: Database | None = None,
              scheduler: bool = True) -> App:
    """The whole service. ``scheduler=False`` leaves the periodic jobs registered but not
    started (tests run them by hand with a manual clock)."""
    db = db or Database(config.database.url, echo=config.database.echo,
                        pool_size=config.database.pool_size,
                        pool_pre_ping=config.database.pool_pre_ping,
                        pool_recycle_seconds=config.database.pool_recycle_seconds)
    services = Services(config=config, db=db, clock=clock or SystemClock())
    services.notifier = Notifier(db, services.channels, services.clock)
    router = build_router()
    core = BotCore(services, router)
    services.outbox = Outbox(db, services.notifier, services.clock, config, state_is_live=core.state_is_live)

    webapp = web.Application(client_max_size=config.web.max_body_bytes,
                             middlewares=[_error_middleware])
    web_channel = WebChannel(core.handle, db, config, services.clock)
    app = App(config=config, services=services, router=router, core=core, web=webapp,
              web_channel=web_channel, scheduler=Scheduler(enabled=scheduler))
    webapp[APP_KEY] = app
    services.channels.add(web_channel)
    webapp.add_routes(web_channel.routes())
    webapp.add_routes([web.get("/healthz", _healthz)])

    async def _on_startup(_app: web.Application) -> None:
        await app.start()

    async def _on_cleanup(_app: web.Application) -> None:
        await app.stop()

    webapp.on_startup.append(_on_startup)
    webapp.on_cleanup.append(_on_cleanup)
    @app.scheduler.every(config.outbox.poll_seconds, "outbox.dispatch")
    async def _dispatch_outbox() -> None:
        await services.outbox.drain(max_batches=20)

    for name in FEATURES:
        importlib.import_module(name).setup(app)
    return app


async def _healthz(request: web.Request) -> web.Response:
    app: App = request.app[APP_KEY]  # type: ignore[assignment]
    try:
        await asyncio.wait_for(app.db.ping(), timeout=2)
    except Exception as exc:  # the check must answer, whatever the failure
        log.warning("health check failed", extra={"error": type(exc).__name__})
        return web.json_response({"status": "error", "database": "unavailable",
                                  "worker": os.getpid()}, status=503)
    return web.json_response({"status": "ok", "database": "ok",
                              "channels": app.services.channels.names(), "worker": os.getpid()})


@web.middleware
async def _error_middleware(request: web.Request, handler):
    """Never a traceback to the client: unexpected errors become a polite 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        if _is_outage(exc):  # the database (or the network to it) is down: say so, briefly
            log.warning("request failed: database unavailable",
                        extra={"path": request.path, "error": type(exc).__name__})
            return web.json_response({"error": "Hệ thống đang bận, vui lòng thử lại sau ít phút."},
                                     status=503, headers={"Retry-After": "10"})
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        return web.json_response(
            {"error": "Hệ thống đang gặp sự cố, vui lòng thử lại sau ít phút."}, status=500)


def _is_outage(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError, OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(getattr(exc, "connection_invalidated", False))
