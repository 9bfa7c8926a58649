"""Fixtures for PAKN: an app with two agencies and staff accounts, uploads in a temp dir."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from bot.channels.memory import MemoryChannel
from bot.dashboard.auth import add_user, hasher_for
from storage.repos.pakn import PaknRepo

PASSWORD = "mat-khau-2026"
# Cheap argon2 parameters so that logins in tests take milliseconds (production: config defaults).
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 8192}
# Monday 2 Nov 2026, 09:00 in Hà Nội.
MONDAY_9AM = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)


async def seed_agencies(app) -> None:
    now = app.services.clock.now()
    async with app.db.unit_of_work() as uow:
        repo = uow.repo(PaknRepo)
        await repo.save_agency("STP", "Sở Tư pháp", True, now)
        await repo.save_agency("SXD", "Sở Xây dựng", True, now)


async def seed_staff(app) -> None:
    """An administrator and one officer per agency (argon2 hashing: ~0.25 s each)."""
    now = app.services.clock.now()
    hasher = hasher_for(app.config)
    await add_user(app.db, username="admin", password=PASSWORD, role="admin", agency_code=None,
                   full_name="Quản trị", now=now, hasher=hasher)
    await add_user(app.db, username="stp", password=PASSWORD, role="officer", agency_code="STP",
                   full_name="Cán bộ Tư pháp", now=now, hasher=hasher)
    await add_user(app.db, username="sxd", password=PASSWORD, role="officer", agency_code="SXD",
                   full_name="Cán bộ Xây dựng", now=now, hasher=hasher)


@pytest.fixture
async def papp(make_app, db_url, tmp_path, clock):
    clock.set(MONDAY_9AM)
    app = make_app(db_url, pakn={"upload_dir": str(tmp_path / "uploads")}, staff=FAST_HASH)
    await seed_agencies(app)
    return app


@pytest.fixture
async def pchat(papp) -> MemoryChannel:
    channel = MemoryChannel(papp.core.handle, name="memory")
    papp.add_channel(channel)
    await papp.start()
    return channel


CONTENT = ("Hồ sơ đăng ký khai sinh của con tôi nộp tại bộ phận một cửa đã quá hẹn 5 ngày "
           "mà chưa có kết quả, cán bộ không giải thích lý do.")


async def file_pakn(say: Any, press: Any, *, content: str = CONTENT, name: str = "Nguyễn Văn An",
                    phone: str = "0912 345 678") -> list:
    """Walk the whole form with buttons and typed answers; returns the last replies."""
    await pakn_up_to_the_name(say, press, content=content)
    return await pakn_from_the_name(say, press, name=name, phone=phone)


async def pakn_up_to_the_name(say: Any, press: Any, *, kind: str = "phan_anh", content: str = CONTENT) -> list:
    """The form's first half, up to the place; returns the replies asking for the name."""
    await press("m:pakn")
    await press(f"pf:k:{kind}")
    await press("pf:s:procedure")
    offered = await say("đăng ký khai sinh")
    picks = [c.payload for r in offered for c in r.choices if c.payload.startswith("pf:p:")]
    if picks:  # the knowledge base is loaded: pick its first match
        await press(picks[0])
    await press("pf:a:STP")
    await say(content)
    await press("pf:skip")  # no attachments
    return await say("Bộ phận một cửa UBND xã Tân Hội")


async def pakn_from_the_name(say: Any, press: Any, *, name: str = "Nguyễn Văn An",
                             phone: str = "0912 345 678") -> list:
    """The form's second half, from the name to "Gửi"; returns the acknowledgement."""
    await say(name)
    await say(phone)
    await press("pf:skip")  # address
    await press("pf:skip")  # e-mail
    await press("pf:y")  # consent
    return await press("pf:send")
