"""Wiring of the platform channels (a feature module: ``setup(app)`` in ``bot.app.FEATURES``).

Every channel enabled in the configuration starts next to the web chat. One with missing
credentials is reported at start-up (log line, ``/healthz`` stays green, the list is in
``app.services.extras["channels_off"]``) and left off; the others keep running.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.config import Config

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

INBOX_JOB_SECONDS = 60
INBOX_KEEP_DAYS = 7


def missing_credentials(config: Config, channel: str) -> list[str]:
    """The settings a channel needs and lacks (as ``section.key``)."""
    need: dict[str, tuple[str, ...]] = {
        "telegram": ("token",) + (("webhook_secret",) if config.telegram.mode == "webhook" else ()),
        "zalo_oa": ("app_id", "app_secret", "oa_secret_key", "refresh_token"),
        "zalo_bot": ("token",) + (("webhook_secret",) if config.zalo_bot.mode == "webhook" else ()),
    }
    section = getattr(config, channel)
    return [f"{channel}.{key}" for key in need[channel] if not str(getattr(section, key)).strip()]


def enabled_channels(config: Config) -> list[str]:
    return [name for name in ("telegram", "zalo_oa", "zalo_bot") if getattr(config, name).enabled]


def setup(app: "App") -> None:
    cfg = app.config
    off: dict[str, list[str]] = {}
    app.services.extras["channels_off"] = off
    started = []
    for name in enabled_channels(cfg):
        missing = missing_credentials(cfg, name)
        if name == "zalo_oa" and missing == ["zalo_oa.refresh_token"]:
            missing = []  # a pair stored in the database by an earlier run is enough
        if missing:
            off[name] = missing
            log.error("channel left off: missing credentials",
                      extra={"channel": name, "missing": missing})
            continue
        channel = _build(app, name)
        app.add_channel(channel)
        started.append(channel)
        app.scheduler.every(INBOX_JOB_SECONDS, f"{name}.inbox")(channel.redrive)
        if name == "zalo_oa":
            app.scheduler.every(15 * 60, "zalo_oa.token")(channel.tokens.refresh_if_due)
    if started:
        async def purge_inbox() -> None:
            from storage.repos.channels import ChannelInbox

            cutoff = app.services.clock.now() - timedelta(days=INBOX_KEEP_DAYS)
            async with app.db.unit_of_work() as uow:
                await uow.repo(ChannelInbox).purge_done_before(cutoff)

        app.scheduler.every(6 * 3600, "channels.inbox_purge")(purge_inbox)
    app.services.extras["platform_channels"] = {c.name: c for c in started}


def _build(app: "App", name: str):
    args = (app.core.handle, app.db, app.services.clock, app.config)
    if name == "telegram":
        from bot.channels.telegram import TelegramChannel  # PTB is imported only when used

        return TelegramChannel(*args)
    if name == "zalo_oa":
        from bot.channels.zalo_oa import ZaloOAChannel

        return ZaloOAChannel(*args)
    from bot.channels.zalo_bot import ZaloBotChannel

    return ZaloBotChannel(*args)
