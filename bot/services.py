"""The services handlers can use, built once by :func:`bot.app.build_app`.

Each capability adds its service as a field here (default None) and builds it in
``build_app``; tests pass the same ``build_app`` fakes where the outside world is involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot.channels.base import ChannelRegistry
from bot.clock import Clock
from bot.config import Config
from bot.events import EventBus
from storage.db import Database

if TYPE_CHECKING:
    from bot.dossiers.service import DossierService
    from bot.notify import Notifier
    from bot.outbox import Outbox
    from kb.service import KnowledgeBase


@dataclass
class Services:
    config: Config
    db: Database
    clock: Clock
    channels: ChannelRegistry = field(default_factory=ChannelRegistry)
    notifier: "Notifier | None" = None
    outbox: "Outbox | None" = None
    events: EventBus = field(default_factory=EventBus)
    kb: "KnowledgeBase | None" = None
    # Hand a citizen's question to staff: ask_staff(ctx, procedure_code) (set by the PAKN feature).
    ask_staff: Callable[..., Awaitable[None]] | None = None
    dossiers: "DossierService | None" = None  # dossier status (bot/dossiers), when enabled
    # Capabilities add theirs below.
    extras: dict[str, Any] = field(default_factory=dict)
