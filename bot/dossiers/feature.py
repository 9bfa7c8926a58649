"""Wiring of dossier status: the source chosen by config, the service on
``app.services.dossiers``, the scheduled check of followed dossiers, and the signed
webhook the one-stop system can push changes to."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.dossiers.service import DossierService
from bot.dossiers.sources import build_source

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)


def setup(app: "App") -> None:
    cfg = app.config.dossiers
    if not cfg.enabled:
        # not in the menu; a typed code, the label or an old button still answers politely
        # that the one-stop system is not connected (handlers/dossiers.py)
        app.router.hide_menu_entries("dossier", "dossier_follow")
        return
    from bot.dossiers.keys import configure

    configure(app.config)  # the key of the ID-number fingerprints
    source = build_source(cfg, app.db, app.config.tz)
    service = DossierService(app.config, app.db, app.services.clock, source, app.services.events)
    app.services.dossiers = service

    @app.scheduler.every(cfg.check_interval_seconds, "dossiers.check")
    async def _check() -> None:
        await service.check_due()

    if cfg.webhook_secret:
        from bot.dossiers.webhook import routes

        app.web.add_routes(routes(service, cfg))
    app.on_shutdown(source.close)
