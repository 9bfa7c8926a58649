"""A channel's bookkeeping in the message's closing statement (``CloseWith``), on both backends.

On PostgreSQL the web chat's page comes from the rows the close statement returns (the
replies just logged, plus older outgoing rows newer than the page's cursor: pushed messages)
and the platform inbox row is marked done by the same statement; on SQLite the channel does
both itself in the same transaction. Either way: what a transaction that fails at COMMIT
read or marked is never shown or kept."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, text

from bot.channels.web import COOKIE
from bot.messages import ConversationKey, Reply
from storage.models import InboxUpdate
from storage.repos.channels import ChannelInbox
from storage.repos.core import Messages
from tests.channels.conftest import OA_SECRET_KEY, channel, channel_sections
from tests.fakes.zalo import signed_event, text_event

USER = "2468013579"


@asynccontextmanager
async def failing_commits(app):
    """Every transaction that logs a message fails at COMMIT (a deferred foreign key,
    checked only then, broken by a trigger on the message log)."""
    pg = app.db.is_postgres
    setup = ["CREATE TABLE t_parent (id INTEGER PRIMARY KEY)",
             "CREATE TABLE t_child (pid INTEGER REFERENCES t_parent(id) DEFERRABLE INITIALLY DEFERRED)"]
    if pg:
        setup += ["CREATE FUNCTION t_fail_fn() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN INSERT INTO t_child VALUES (42); RETURN NEW; END $$",
                  "CREATE TRIGGER t_fail AFTER INSERT ON message_log FOR EACH ROW EXECUTE FUNCTION t_fail_fn()"]
    else:
        setup += ["CREATE TRIGGER t_fail AFTER INSERT ON message_log BEGIN INSERT INTO t_child VALUES (42); END"]
    async with app.db.unit_of_work() as uow:
        for ddl in setup:
            await uow.session.execute(text(ddl))
    try:
        yield
    finally:
        async with app.db.unit_of_work() as uow:
            await uow.session.execute(text("DROP TRIGGER t_fail" + (" ON message_log" if pg else "")))
            if pg:
                await uow.session.execute(text("DROP FUNCTION t_fail_fn()"))
            await uow.session.execute(text("DROP TABLE t_child"))
            await uow.session.execute(text("DROP TABLE t_parent"))


def count_calls(monkeypatch, cls, name) -> list[int]:
    calls: list[int] = []
    real = getattr(cls, name)

    async def counted(self, *args, **kwargs):
        calls.append(1)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


# -- web chat -----------------------------------------------------------------------------------

async def test_web_page_has_the_pushed_messages_after_the_cursor_then_the_replies(make_app, db_url, monkeypatch):
    app = make_app(db_url)
    async with TestClient(TestServer(app.web)) as client:
        await client.get("/")
        first = await (await client.post("/api/chat", json={"text": "menu", "id": "p1"})).json()
        assert len(first["messages"]) == 1
        sid = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
        key = ConversationKey("web", sid, sid)
        await app.web_channel.send(key, [Reply("Cán bộ trả lời: hồ sơ đã xong.")])
        await app.web_channel.send(key, [Reply("Thông báo thứ hai.")])
        reads = count_calls(monkeypatch, Messages, "since")
        resp = await client.post("/api/chat", json={"choice": "m:help", "id": "p2", "after": first["last_id"]})
        page = await resp.json()
        assert resp.status == 200
        texts = [m["text"] for m in page["messages"]]
        assert texts[:2] == ["Cán bộ trả lời: hồ sơ đã xong.", "Thông báo thứ hai."]
        assert len(texts) == 3 and "Hướng dẫn sử dụng" in texts[2]
        ids = [m["id"] for m in page["messages"]]
        assert ids == sorted(ids) and ids[0] > first["last_id"] and page["last_id"] == ids[-1]
        # PostgreSQL: the page came with the closing statement; SQLite read it separately
        assert len(reads) == (0 if app.db.is_postgres else 1)
        # the same as the page would read now (the web chat's poll), inbound rows left out
        polled = await (await client.get(f"/api/messages?after={first['last_id']}")).json()
        assert polled == page

        # a retried POST (same id) gets what the first one produced, read (not re-handled)
        again = await (await client.post("/api/chat", json={"choice": "m:help", "id": "p2",
                                                            "after": first["last_id"]})).json()
        assert again == page
        # the cursor counts: nothing before it, and after=0 is the whole conversation's outgoing rows
        third = await (await client.post("/api/chat", json={"text": "menu", "id": "p3",
                                                            "after": page["last_id"]})).json()
        assert len(third["messages"]) == 1 and third["messages"][0]["id"] > page["last_id"]
        whole = await (await client.post("/api/chat", json={"text": "menu", "id": "p4", "after": 0})).json()
        assert len(whole["messages"]) == 1 + 3 + 1 + 1


async def test_web_replies_whose_transaction_fails_at_commit_are_never_shown(make_app, db_url):
    app = make_app(db_url)
    async with TestClient(TestServer(app.web)) as client:
        await client.get("/")
        first = await (await client.post("/api/chat", json={"text": "menu", "id": "f1"})).json()
        async with failing_commits(app):
            resp = await client.post("/api/chat", json={"text": "đăng ký khai sinh", "id": "f2",
                                                         "after": first["last_id"]})
            data = await resp.json()
            assert resp.status == 503 and "đang bận" in data["error"] and "messages" not in data
        page = await (await client.get(f"/api/messages?after={first['last_id']}")).json()
        assert page["messages"] == []  # nothing of the failed message was stored
        resp = await client.post("/api/chat", json={"text": "đăng ký khai sinh", "id": "f2",
                                                     "after": first["last_id"]})
        assert resp.status == 200 and any("khai sinh" in m["text"] for m in (await resp.json())["messages"])


# -- platform inbox -------------------------------------------------------------------------------

async def post_event(client, event, app_id):
    raw, headers = signed_event(event, app_id, OA_SECRET_KEY)
    return await client.post("/webhooks/zalo-oa", data=raw, headers=headers)


async def inbox_rows(app) -> list[tuple]:
    async with app.db.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(InboxUpdate.update_id, InboxUpdate.done_at, InboxUpdate.payload).order_by(InboxUpdate.id))
        return [tuple(r) for r in rows]


@pytest.fixture
async def oa_app(make_app, db_url, zoa, serve):
    app = make_app(db_url, **channel_sections(zoa=zoa))
    return app, await serve(app)


async def test_inbox_row_is_done_after_a_handled_update(oa_app, zoa, monkeypatch):
    app, client = oa_app
    separate = count_calls(monkeypatch, ChannelInbox, "done")
    assert (await post_event(client, text_event(USER, "menu", "d-1"), zoa.app_id)).status == 200
    await channel(app, "zalo_oa").drain()
    assert len(zoa.sent_texts(USER)) == 1
    [(update_id, done_at, payload)] = await inbox_rows(app)
    assert update_id == "d-1" and done_at is not None and payload == {}
    # PostgreSQL: marked done by the message's closing statement; SQLite: by the hook
    assert len(separate) == (0 if app.db.is_postgres else 1)
    # a re-delivery is stored once and not handled again
    assert (await post_event(client, text_event(USER, "menu", "d-1"), zoa.app_id)).status == 200
    await channel(app, "zalo_oa").drain()
    assert len(zoa.sent_texts(USER)) == 1 and len(await inbox_rows(app)) == 1


async def test_inbox_row_stays_open_after_a_rolled_back_update_and_the_job_handles_it(oa_app, zoa, clock):
    app, client = oa_app
    async with failing_commits(app):
        assert (await post_event(client, text_event(USER, "menu", "r-1"), zoa.app_id)).status == 200
        await channel(app, "zalo_oa").drain()
        [(_, done_at, payload)] = await inbox_rows(app)
        assert done_at is None and payload  # still open, with the update to handle again
    clock.advance(minutes=3)  # the lease has run out
    await app.scheduler.run_once("zalo_oa.inbox")
    [(_, done_at, payload)] = await inbox_rows(app)
    assert done_at is not None and payload == {}
    menus = [t for t in zoa.sent_texts(USER) if "Hướng dẫn" in t]
    assert len(menus) == 1  # the polite busy reply first, then the menu once
    async with app.db.unit_of_work() as uow:
        from storage.models import MessageLog

        logged = (await uow.session.execute(select(func.count()).select_from(MessageLog))).scalar_one()
    assert logged == 2  # the message and its reply, once


async def test_single_statement_insert_is_stored_at_once(make_app, db_url, clock):
    """The webhook's inbox insert: committed by itself (on PostgreSQL without BEGIN/COMMIT)."""
    from datetime import timedelta

    app = make_app(db_url)
    async with app.db.single_statement() as conn:
        item = await ChannelInbox(conn).accept("zalo_oa", "s-1", {"a": 1}, clock.now(), timedelta(minutes=2))
    assert item is not None
    async with app.db.single_statement() as conn:  # a re-delivery
        assert await ChannelInbox(conn).accept("zalo_oa", "s-1", {"a": 1}, clock.now(), timedelta(minutes=2)) is None
    assert await inbox_rows(app) == [("s-1", None, {"a": 1})]
