"""Domain events: a small in-process bus whose handlers run inside the publishing
transaction, so what they do (queue a survey, an audit row) commits or rolls back with
the change that caused it.

    bus.subscribe(CaseResolved, queue_survey)        # async def queue_survey(uow, event)
    await bus.publish(uow, DossierResultReturned(...))

A handler subscribed to a base class receives its subclasses too (``CaseResolved`` gets
both ``DossierResultReturned`` and ``PaknAnswered``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[["UnitOfWork", Any], Awaitable[None]]


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class CaseResolved(Event):
    """A citizen's case reached its end: the moment a satisfaction survey starts from."""

    case_type: str  # "dossier" | "pakn"
    case_id: str  # dossier code or PAKN tracking code
    citizen_id: int | None  # who to ask, when known
    resolved_at: datetime
    agency: str = ""
    procedure_code: str = ""
    field: str = ""  # lĩnh vực of the procedure, when known
    channel: str = ""  # the channel the citizen used for this case, when known
    # For the on-time figures (PAKN on-time rate, answer time); None when not known.
    received_at: datetime | None = None  # when the case was received
    on_time: bool | None = None  # resolved within its legal deadline (the publisher's rules)


@dataclass(frozen=True)
class DossierResultReturned(CaseResolved):
    """A dossier reached "đã trả kết quả" (status 10)."""


@dataclass(frozen=True)
class PaknAnswered(CaseResolved):
    """Staff answered a PAKN (or a staff question) and the answer went to the citizen."""


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[EventHandler]] = {}

    def subscribe(self, event_type: type, handler: EventHandler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    async def publish(self, uow: "UnitOfWork", event: Event) -> None:
        """Run every handler for the event's type and its bases, in the caller's
        transaction; a handler's error propagates (the caller's change rolls back)."""
        for kind in type(event).__mro__:
            for handler in self._handlers.get(kind, ()):
                await handler(uow, event)
