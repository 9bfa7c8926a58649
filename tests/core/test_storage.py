"""The storage suite, on SQLite and on PostgreSQL (same tests, parametrized)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.messages import ConversationKey
from storage.db import Database

NOW = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
KEY = ConversationKey("telegram", "chat-1", "user-1")


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()


async def test_update_claimed_once(db):
    async with db.unit_of_work() as uow:
        assert await uow.updates.claim("telegram", "100", NOW) is True
        assert await uow.updates.claim("telegram", "100", NOW) is False
        assert await uow.updates.claim("zalo", "100", NOW) is True
    async with db.unit_of_work() as uow:
        assert await uow.updates.claim("telegram", "100", NOW) is False


async def test_concurrent_claims_of_one_update_give_one_winner(db):
    async def claim() -> bool:
        async with db.unit_of_work() as uow:
            won = await uow.updates.claim("zalo", "evt-1", NOW)
            await asyncio.sleep(0.05)  # hold the transaction open
            return won

    results = await asyncio.gather(*(claim() for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]


async def test_rolled_back_claim_is_not_kept(db):
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as uow:
            await uow.updates.claim("web", "x", NOW)
            raise RuntimeError("crash before commit")
    async with db.unit_of_work() as uow:
        assert await uow.updates.claim("web", "x", NOW) is True


async def test_purge_old_updates(db):
    async with db.unit_of_work() as uow:
        await uow.updates.claim("web", "old", NOW - timedelta(days=10))
        await uow.updates.claim("web", "new", NOW)
        assert await uow.updates.purge_before(NOW - timedelta(days=7)) == 1


async def test_citizen_created_once_and_identity_updated(db):
    async with db.unit_of_work() as uow:
        first = await uow.citizens.resolve(KEY, NOW, "Nguyễn Văn An")
    async with db.unit_of_work() as uow:
        moved = ConversationKey("telegram", "chat-2", "user-1")
        again = await uow.citizens.resolve(moved, NOW + timedelta(hours=1))
    assert again.citizen_id == first.citizen_id and again.id == first.id
    assert again.chat_id == "chat-2"
    assert again.last_inbound_at == NOW + timedelta(hours=1)


async def test_concurrent_first_contact_creates_one_identity(db):
    async def resolve():
        async with db.unit_of_work() as uow:
            return await uow.citizens.resolve(KEY, NOW)

    found = await asyncio.gather(*(resolve() for _ in range(4)))
    assert len({i.id for i in found}) == 1


async def test_unreachable_and_back(db):
    async with db.unit_of_work() as uow:
        ident = await uow.citizens.resolve(KEY, NOW)
        await uow.citizens.mark_unreachable("telegram", "user-1", "blocked")
    async with db.unit_of_work() as uow:
        assert (await uow.citizens.identity("telegram", "user-1")).reachable is False
        assert [i.id for i in await uow.citizens.identities_of(ident.citizen_id)] == [ident.id]
        await uow.citizens.resolve(KEY, NOW)  # the citizen wrote again
    async with db.unit_of_work() as uow:
        assert (await uow.citizens.identity("telegram", "user-1")).reachable is True


async def test_state_save_load_clear(db):
    async with db.unit_of_work() as uow:
        assert await uow.states.load(KEY) is None
        await uow.states.save(KEY, "pakn.content", {"kind": "phản ánh", "n": 1}, NOW)
    async with db.unit_of_work() as uow:
        got = await uow.states.load(KEY)
        assert (got.state, got.data, got.updated_at) == ("pakn.content", {"kind": "phản ánh", "n": 1}, NOW)
        await uow.states.save(KEY, "pakn.phone", {"n": 2}, NOW + timedelta(minutes=1))
    async with db.unit_of_work() as uow:
        assert (await uow.states.load(KEY)).state == "pakn.phone"
        await uow.states.clear(KEY)
    async with db.unit_of_work() as uow:
        assert await uow.states.load(KEY) is None


async def test_message_log_since_and_of_citizen(db):
    async with db.unit_of_work() as uow:
        ident = await uow.citizens.resolve(KEY, NOW)
        a = await uow.messages.append(key=KEY, citizen_id=ident.citizen_id, direction="in", kind="text",
                                      text="xin chào", payload={}, now=NOW)
        b = await uow.messages.append(key=KEY, citizen_id=ident.citizen_id, direction="out", kind="reply",
                                      text="Chào bạn", payload={"choices": [["Menu", "g:menu"]]}, now=NOW)
    async with db.unit_of_work() as uow:
        assert [m.id for m in await uow.messages.since("telegram", "chat-1", 0)] == [a, b]
        outs = await uow.messages.since("telegram", "chat-1", a, direction="out")
        assert [(m.text, m.payload) for m in outs] == [("Chào bạn", {"choices": [["Menu", "g:menu"]]})]
        assert [m.id for m in await uow.messages.of_citizen(ident.citizen_id)] == [a, b]


async def test_audit_log(db):
    async with db.unit_of_work() as uow:
        await uow.audit.record(actor="staff:1", action="pakn.accept", entity_type="pakn", entity_id="7",
                               details={"reason": "đủ thông tin"}, now=NOW)
    async with db.unit_of_work() as uow:
        rows = await uow.audit.for_entity("pakn", "7")
    assert [(r.actor, r.action, r.details, r.at) for r in rows] == [
        ("staff:1", "pakn.accept", {"reason": "đủ thông tin"}, NOW)]


async def test_datetimes_come_back_timezone_aware_utc(db):
    local = datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=7)))
    async with db.unit_of_work() as uow:
        await uow.states.save(KEY, "", {}, local)
    async with db.unit_of_work() as uow:
        got = (await uow.states.load(KEY)).updated_at
    assert got == local and got.tzinfo is not None and got.utcoffset() == timedelta(0)


async def test_ping(db):
    await db.ping()


async def test_the_driver_path_is_taken_on_postgresql_only(db, db_url):
    """storage/driver.py runs the per-message statements on asyncpg directly; if a
    SQLAlchemy upgrade switched it off (its version guard), this says so."""
    from storage import driver

    async with db.unit_of_work() as uow:
        assert driver.usable(uow.session) is db_url.startswith("postgresql")
        opened = await uow.conversations.open(KEY, "u-drv-1", NOW, "")
        assert opened.claimed
