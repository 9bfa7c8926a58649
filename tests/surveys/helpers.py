"""Shared helpers for the survey tests: an app on a real database with a memory channel,
a manual clock, resolution events published the way the dossier/PAKN features do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.app import App
from bot.channels.memory import MemoryChannel
from bot.clock import ManualClock
from bot.events import DossierResultReturned, PaknAnswered
from storage.models import OutboxMessage, Survey
from storage.repos.surveys import SurveyRepo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2026, 11, 3, 3, 0, tzinfo=timezone.utc)  # Tuesday 10:00 in Hà Nội


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ).astimezone(timezone.utc)


@dataclass
class Env:
    app: App
    clock: ManualClock
    ch: MemoryChannel
    citizen_id: int

    @property
    def service(self):
        return self.app.services.extras["surveys"]

    async def resolve(self, case_id: str, *, case_type: str = "dossier", citizen_id: int | None | str = "me",
                      at: datetime | None = None, **kw) -> None:
        cls = DossierResultReturned if case_type == "dossier" else PaknAnswered
        who = self.citizen_id if citizen_id == "me" else citizen_id
        event = cls(case_type=case_type, case_id=case_id, citizen_id=who,
                    resolved_at=at or self.clock.now(), **kw)
        async with self.app.db.unit_of_work() as uow:
            await self.app.services.events.publish(uow, event)

    async def drain(self):
        return await self.app.services.outbox.drain()

    async def tick(self):
        return await self.service.tick(self.clock.now())

    async def survey(self, case_id: str) -> Survey:
        async with self.app.db.unit_of_work() as uow:
            for case_type in ("dossier", "pakn"):
                found = await uow.repo(SurveyRepo).by_case(case_type, case_id)
                if found is not None:
                    return found
        raise AssertionError(f"no survey for {case_id}")

    async def outbox_rows(self) -> list[OutboxMessage]:
        from sqlalchemy import select

        async with self.app.db.unit_of_work() as uow:
            return list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())

    def pushed_texts(self) -> list[str]:
        return [r.text for _key, replies in self.ch.pushed for r in replies]


async def make_env(make_app, url: str, clock: ManualClock, **sections) -> Env:
    clock.set(DAY)
    app = make_app(url, **sections)
    ch = MemoryChannel(app.core.handle)
    app.add_channel(ch)
    await app.start()
    await ch.say("xin chào")
    async with app.db.unit_of_work() as uow:
        ident = await uow.citizens.identity("memory", "u1")
    assert ident is not None
    return Env(app, clock, ch, ident.citizen_id)
