from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.events import CaseResolved, DossierResultReturned, EventBus, PaknAnswered
from storage.db import Database

AT = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)


async def test_base_subscribers_get_subclasses_in_order():
    bus = EventBus()
    seen: list[tuple[str, str]] = []

    async def on_any(uow, e):
        seen.append(("any", e.case_id))

    async def on_pakn(uow, e):
        seen.append(("pakn", e.case_id))

    bus.subscribe(CaseResolved, on_any)
    bus.subscribe(PaknAnswered, on_pakn)
    await bus.publish(None, DossierResultReturned("dossier", "000.00.01.H50-250101-0001", 1, AT))
    await bus.publish(None, PaknAnswered("pakn", "PAKN-2611-7KQ3", 2, AT))
    assert seen == [("any", "000.00.01.H50-250101-0001"), ("pakn", "PAKN-2611-7KQ3"),
                    ("any", "PAKN-2611-7KQ3")]


async def test_handler_work_rolls_back_with_the_publisher(sqlite_url):
    bus = EventBus()
    db = Database(sqlite_url)

    async def audit(uow, e):
        await uow.audit.record(actor="system", action="survey.queued", entity_type=e.case_type,
                               entity_id=e.case_id, now=e.resolved_at)

    bus.subscribe(CaseResolved, audit)
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            await bus.publish(uow, PaknAnswered("pakn", "P-1", 1, AT))
            raise RuntimeError("answer not saved")
    async with db.unit_of_work() as uow:
        await bus.publish(uow, PaknAnswered("pakn", "P-2", 1, AT))
    async with db.unit_of_work() as uow:
        assert await uow.audit.for_entity("pakn", "P-1") == []
        assert [a.action for a in await uow.audit.for_entity("pakn", "P-2")] == ["survey.queued"]
    await db.dispose()
