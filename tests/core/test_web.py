"""The web chat over real HTTP against the real app (aiohttp test server on loopback)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.web import COOKIE
from bot.messages import ConversationKey, Reply


@pytest.fixture
async def client(app):
    async with TestClient(TestServer(app.web)) as c:
        yield c


async def post(client, **body):
    resp = await client.post("/api/chat", json=body)
    return resp.status, await resp.json()


async def test_page_sets_session_cookie_and_is_mobile_friendly(client, app):
    resp = await client.get("/")
    assert resp.status == 200
    html = await resp.text()
    assert 'name="viewport"' in html and app.config.province.name in html
    assert COOKIE in resp.cookies
    assert "HttpOnly" in resp.headers["Set-Cookie"] and "SameSite=Lax" in resp.headers["Set-Cookie"]
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    js = await client.get("/static/chat.js")
    assert js.status == 200 and "textContent" in await js.text()


async def test_conversation_over_http(client, app):
    await client.get("/")
    status, data = await post(client, event="start", id="c1")
    assert status == 200
    first = data["messages"][0]
    assert "Xin chào" in first["text"]
    assert {"label": "Hướng dẫn", "payload": "m:help"} in first["choices"]
    number = [c["payload"] for c in first["choices"]].index("m:contact") + 1
    status, data = await post(client, text=str(number), id="c2", after=data["last_id"])
    assert status == 200 and len(data["messages"]) == 1
    assert app.config.contact.hotline in data["messages"][0]["text"]
    status, data = await post(client, choice="m:help", id="c3", after=data["last_id"])
    assert "Hướng dẫn sử dụng" in data["messages"][0]["text"]


async def test_cookie_keeps_the_conversation_and_other_browsers_are_separate(app, client):
    await client.get("/")
    await post(client, text="menu", id="a1")
    async with TestClient(TestServer(app.web)) as other:
        await other.get("/")
        _, data = await post(other, text="menu", id="a1")  # same client id, other session
        assert len(data["messages"]) == 1
        _, mine = await client.get("/api/messages?after=0"), None
    resp = await client.get("/api/messages?after=0")
    assert len((await resp.json())["messages"]) == 1


async def test_retried_post_is_handled_once(client, app):
    await client.get("/")
    await post(client, text="menu", id="same")
    _, data = await post(client, text="menu", id="same")
    resp = await client.get("/api/messages?after=0")
    assert len((await resp.json())["messages"]) == 1
    sid = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    async with app.db.unit_of_work() as uow:
        ins = await uow.messages.since("web", sid, 0, direction="in")
    assert len(ins) == 1


async def test_too_long_message_rejected_politely(client, app):
    limit = app.config.web.max_message_chars
    status, data = await post(client, text="a" * (limit + 1), id="x")
    assert status == 413 and f"tối đa {limit} ký tự" in data["error"]


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"text": 5}', b'{"text": "a", "after": "x"}',
                                  b'{"event": "drop"}', b'{"text": "a", "id": "../../etc"}',
                                  b'{"text": "   "}'])
async def test_bad_requests_get_a_clear_message(client, body):
    resp = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert "Traceback" not in await resp.text()
    assert (await resp.json())["error"]


async def test_oversized_body_refused(client, app):
    resp = await client.post("/api/chat", data=b"{" + b" " * (app.config.web.max_body_bytes + 10) + b"}",
                             headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_invisible_characters_are_dropped(client, app):
    await client.get("/")
    _, data = await post(client, text="\u200bmenu\u202e", id="z1")
    assert "m:help" in [c["payload"] for c in data["messages"][0]["choices"]]


async def test_pushed_message_reaches_the_page_by_polling(client, app):
    await client.get("/")
    _, data = await post(client, text="menu", id="p1")
    sid = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    result = await app.services.notifier.deliver(ConversationKey("web", sid, sid),
                                              [Reply("Cán bộ đã trả lời phản ánh của bạn.")])
    assert result.status.value == "sent"
    resp = await client.get(f"/api/messages?after={data['last_id']}")
    got = await resp.json()
    assert [m["text"] for m in got["messages"]] == ["Cán bộ đã trả lời phản ánh của bạn."]


async def test_unsafe_links_are_not_served_to_the_page(client, app):
    await client.get("/")
    sid = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    from bot.messages import Link

    await app.services.notifier.deliver(ConversationKey("web", sid, sid), [
        Reply("x", links=(Link("ok", "https://dichvucong.gov.vn"), Link("bad", "javascript:alert(1)")))])
    data = await (await client.get("/api/messages?after=0")).json()
    assert data["messages"][0]["links"] == [{"label": "ok", "url": "https://dichvucong.gov.vn"}]


async def test_messages_without_session_are_empty(client):
    resp = await client.get("/api/messages?after=0")
    assert (await resp.json()) == {"messages": [], "last_id": 0}


async def test_healthz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200 and (await resp.json())["database"] == "ok"


async def test_healthz_reports_a_broken_database(make_app, tmp_path):
    broken = make_app(f"sqlite:///{tmp_path}/missing-dir-is-a-file")
    (tmp_path / "missing-dir-is-a-file").mkdir()  # a directory where the database file should be
    async with TestClient(TestServer(broken.web)) as c:
        resp = await c.get("/healthz")
        assert resp.status == 503 and (await resp.json())["database"] == "unavailable"


async def test_two_app_instances_share_the_conversation(make_app, sqlite_url):
    """A restart (or a second worker): state written by one instance is continued by the next."""
    first = make_app(sqlite_url)
    async with TestClient(TestServer(first.web)) as c1:
        await c1.get("/")
        menu = (await (await c1.post("/api/chat", json={"text": "menu", "id": "r1"})).json())["messages"]
        help_no = [c["payload"] for c in menu[-1]["choices"]].index("m:help") + 1
        sid = c1.session.cookie_jar.filter_cookies(c1.make_url("/"))[COOKIE].value
    second = make_app(sqlite_url)
    async with TestClient(TestServer(second.web), cookies={COOKIE: sid}) as c2:
        resp = await c2.post("/api/chat", json={"text": "Hướng dẫn", "id": "r2", "after": 0})
        texts = [m["text"] for m in (await resp.json())["messages"]]
    assert len(texts) == 2 and "Hướng dẫn sử dụng" in texts[1]


async def test_real_network_is_blocked_in_tests():
    import aiohttp

    from tests.fakes.network import ExternalNetworkBlocked

    with pytest.raises((ExternalNetworkBlocked, aiohttp.ClientConnectorError)):
        async with aiohttp.ClientSession() as session:
            await session.get("https://api.telegram.org/")


async def test_replies_whose_transaction_fails_at_commit_are_never_shown(client, app):
    """The page is read inside the message's transaction: if that transaction does not commit
    (here a deferred foreign key that SQLite checks only at COMMIT), the citizen gets the polite
    busy answer, not replies that were never stored - and a retry is handled afresh."""
    from sqlalchemy import text

    await client.get("/")
    status, first = await post(client, text="menu", id="m1")
    assert status == 200 and first["messages"]
    async with app.db.unit_of_work() as uow:
        for ddl in ("CREATE TABLE t_parent (id INTEGER PRIMARY KEY)",
                    "CREATE TABLE t_child (pid INTEGER REFERENCES t_parent(id) DEFERRABLE INITIALLY DEFERRED)",
                    "CREATE TRIGGER t_fail AFTER INSERT ON message_log BEGIN INSERT INTO t_child VALUES (42); END"):
            await uow.session.execute(text(ddl))
    status, data = await post(client, text="đăng ký khai sinh", id="m2", after=first["last_id"])
    assert status == 503 and "đang bận" in data["error"] and "messages" not in data
    async with app.db.unit_of_work() as uow:
        await uow.session.execute(text("DROP TRIGGER t_fail"))
    page = await (await client.get(f"/api/messages?after={first['last_id']}")).json()
    assert page["messages"] == []  # nothing of the failed message was stored
    status, retry = await post(client, text="đăng ký khai sinh", id="m2", after=first["last_id"])
    assert status == 200 and any("khai sinh" in m["text"] for m in retry["messages"])
