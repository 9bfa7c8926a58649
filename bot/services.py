"""The services handlers can use, built once by :func:`bot.app.build_app`.

Each capability adds its service as a field here (default None) and builds it in
``build_app``; tests pass the same ``build_app`` fakes where the outside world is involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.channels.base import ChannelRegistry
from bot.clock import Clock
from bot.config import Config
from bot.events import EventBus
from storage.db import Database

if TYPE_CHECKING:
    from bot.notify import Notifier
    from bot.outbox import Outbox


@dataclass
class Services:
    config: Config
    db: Database
    clock: Clock
    channels: ChannelRegistry = field(default_factory=ChannelRegistry)
    notifier: "Notifier | None" = None
    outbox: "Outbox | None" = None
    events: EventBus = field(default_factory=EventBus)
    # Capabilities add theirs below.
    extras: dict[str, Any] = field(default_factory=dict)
