"""The staff dashboard over real HTTP: the whole loop (citizen files → staff answer →
citizen receives it → published), access control, CSRF, login throttling, the public page,
staff questions and the staff group's reminders."""

from __future__ import annotations

import asyncio
import contextlib
import re
from urllib.parse import quote

import pytest
from aiohttp import web
import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.events import PaknAnswered
from storage.models.pakn import PaknItem, PaknNotice, StaffUser
from storage.repos.pakn import PaknRepo, StaffRepo
from tests.conftest import payloads_of, texts_of
from tests.pakn.conftest import FAST_HASH, PASSWORD, file_pakn, seed_staff

CODE = re.compile(r"PAKN-\d{4}-[A-Z0-9]{4}")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class StaffBrowser:
    """A staff member's browser: its own HTTP session and cookies, against the test server."""

    def __init__(self, server: TestServer) -> None:
        self.client = aiohttp.ClientSession(base_url=server.make_url(""),
                                            cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def login(self, username: str, password: str = PASSWORD) -> int:
        page = await self.client.get("/staff/login")
        token = CSRF.search(await page.text()).group(1)
        resp = await self.client.post("/staff/login", data={"csrf": token, "username": username,
                                                             "password": password}, allow_redirects=False)
        return resp.status

    async def get(self, path: str) -> tuple[int, str]:
        resp = await self.client.get(path, allow_redirects=False)
        return resp.status, await resp.text()

    async def csrf(self, path: str = "/staff") -> str:
        _status, html = await self.get(path)
        return CSRF.search(html).group(1)

    async def act(self, code: str, action: str, text: str = "", **extra: str) -> tuple[int, str]:
        token = await self.csrf("/staff")
        resp = await self.client.post(f"/staff/items/{code}", allow_redirects=False,
                                      data={"csrf": token, "action": action, "text": text, **extra})
        return resp.status, await resp.text()


@pytest.fixture
async def staff_app(papp, pchat):
    await seed_staff(papp)
    return papp


@pytest.fixture
async def server(staff_app):
    async with TestServer(staff_app.web) as srv:
        yield srv


async def browser(server) -> StaffBrowser:
    return StaffBrowser(server)


async def _item(app, code: str) -> PaknItem:
    async with app.db.unit_of_work() as uow:
        return (await uow.session.execute(select(PaknItem).where(PaknItem.code == code))).scalar_one()


async def test_the_whole_loop_filed_answered_received_published(staff_app, pchat, server):
    answered: list[PaknAnswered] = []

    async def on_answered(uow, event):
        answered.append(event)

    staff_app.services.events.subscribe(PaknAnswered, on_answered)
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        assert await officer.login("stp") == 303
        status, queue = await officer.get("/staff")
        assert status == 200 and code in queue and "Còn 2 ngày làm việc" in queue
        status, detail = await officer.get(f"/staff/items/{code}")
        assert status == 200 and "Nguyễn Văn An" in detail and "0912345678" in detail
        assert "quá hẹn 5 ngày" in detail and "Tân Hội" in detail
        assert (await officer.act(code, "accept"))[0] == 303
        assert (await officer.act(code, "answer", "Sở đã yêu cầu UBND xã trả kết quả ngay; "
                                                  "xin lỗi ông vì sự chậm trễ."))[0] == 303
        item = await _item(staff_app, code)
        assert item.state == "answered" and item.delivery == "queued"
        assert item.publish_due is not None and item.answered_by is not None
        # the citizen receives the answer on their channel through the outbox
        stats = await staff_app.services.outbox.drain()
        assert stats.sent == 2  # "đã tiếp nhận" and the answer
        pushed = "\n".join(r.text for _key, replies in pchat.pushed for r in replies)
        assert f"{code} của bạn đã được tiếp nhận" in pushed
        assert "xin lỗi ông vì sự chậm trễ" in pushed
        assert [(e.case_type, e.case_id, e.citizen_id) for e in answered] == [("pakn", code, item.citizen_id)]
        assert answered[0].on_time is True and answered[0].received_at == item.created_at
        # the answer queued exactly one satisfaction survey, counted as on time
        from sqlalchemy import select

        from storage.models.surveys import Survey

        async with staff_app.db.unit_of_work() as uow:
            surveys = (await uow.session.execute(
                select(Survey).where(Survey.case_type == "pakn", Survey.case_id == code))).scalars().all()
        assert [(s.on_time, s.received_at) for s in surveys] == [(True, item.created_at)]
        _status, detail = await officer.get(f"/staff/items/{code}")
        assert "Đã gửi đến người gửi" in detail
        # the citizen's lookup shows the answer too
        await pchat.press(f"pakn:l:{code}")
        # publish with the suggested (masked) summary, then the public page shows it
        assert (await officer.act(code, "publish", ""))[0] == 303
        status, public = await officer.get("/cong-khai")
        assert status == 200 and code in public and "xin lỗi ông vì sự chậm trễ" in public
        assert "Nguyễn Văn An" not in public and "N. V. A." in public and "0912345678" not in public
        assert (await officer.act(code, "close"))[0] == 303
        async with staff_app.db.unit_of_work() as uow:
            history = [a.action for a in await uow.audit.for_entity("pakn", code)]
        assert history == ["pakn.filed", "pakn.accept", "pakn.answer", "pakn.publish", "pakn.close"]
    finally:
        await officer.client.close()


async def test_another_agencys_item_is_invisible(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # agency STP
    other = await browser(server)
    try:
        assert await other.login("sxd") == 303
        _status, queue = await other.get("/staff")
        assert code not in queue
        assert (await other.get(f"/staff/items/{code}"))[0] == 404
        status, _ = await other.act(code, "answer", "Trả lời trái thẩm quyền")
        assert status == 404
        assert (await _item(staff_app, code)).state == "new"
        assert (await other.get("/staff/admin"))[0] == 403
    finally:
        await other.client.close()


async def test_posts_without_the_csrf_token_are_refused(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        assert await officer.login("stp") == 303
        for data in ({"action": "accept"}, {"action": "accept", "csrf": "forged-token"}):
            resp = await officer.client.post(f"/staff/items/{code}", data=data, allow_redirects=False)
            assert resp.status == 403
        assert (await _item(staff_app, code)).state == "new"
        # the login form needs its token too
        fresh = StaffBrowser(server).client
        resp = await fresh.post("/staff/login", data={"username": "stp", "password": PASSWORD},
                                allow_redirects=False)
        assert resp.status == 403
        await fresh.close()
    finally:
        await officer.client.close()


async def test_brute_force_is_throttled(staff_app, server, clock):
    attacker = await browser(server)
    try:
        for _ in range(staff_app.config.staff.login_max_failures):
            assert await attacker.login("stp", "sai-mat-khau-1") == 401
        # now even the right password is refused until the window has passed
        assert await attacker.login("stp") == 429
        _status, page = await attacker.get("/staff/login")
        clock.advance(minutes=staff_app.config.staff.login_window_minutes + 1)
        assert await attacker.login("stp") == 303
    finally:
        await attacker.client.close()


async def test_unknown_users_count_against_the_address(staff_app, server):
    attacker = await browser(server)
    try:
        for i in range(staff_app.config.staff.login_max_failures):
            assert await attacker.login(f"khong-co-{i}", "abc") == 401
        assert await attacker.login("admin") == 429
    finally:
        await attacker.client.close()


async def test_public_page_hides_personal_data(staff_app, pchat, server):
    content = ("Tôi là Nguyễn Văn An, CCCD 079123456789, điện thoại 0912345678, email an.nguyen@gmail.com. "
               "Bộ phận một cửa xã yêu cầu nộp thêm giấy xác nhận không có trong quy định.")
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press, content=content))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        await officer.act(code, "answer", "Đã chấn chỉnh bộ phận một cửa; ông An liên hệ số 0912345678 nếu còn vướng.")
        await officer.act(code, "publish", "")
        anonymous = StaffBrowser(server).client
        resp = await anonymous.get("/cong-khai", params={"q": "giấy xác nhận"})
        public = await resp.text()
        await anonymous.close()
        assert resp.status == 200 and code in public and "giấy xác nhận không có trong quy định" in public
        for secret in ("Nguyễn Văn An", "079123456789", "0912345678", "an.nguyen@gmail.com", "456789"):
            assert secret not in public, secret
        assert "N. V. A." in public and "[đã ẩn]" in public
        assert "ông An" not in public and "ông A." in public  # the given name alone, in the answer
        resp_none = await officer.client.get("/cong-khai", params={"q": "không có chữ này"})
        assert code not in await resp_none.text()
    finally:
        await officer.client.close()


async def test_public_search_does_not_reveal_what_it_masks(staff_app, pchat, server):
    """Searching the public page for a sender's name or phone number must not find their
    item: the page masks them, so matching the raw text would tell who sent what."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        await officer.act(code, "answer", "Kính gửi ông Nguyễn Văn An (0912345678): đã chấn chỉnh bộ phận một cửa.")
        await officer.act(code, "publish", "")
        anonymous = StaffBrowser(server).client
        try:
            for probe in ("Nguyễn Văn An", "0912345678", "345678"):
                resp = await anonymous.get("/cong-khai", params={"q": probe})
                assert code not in await resp.text(), probe
            resp = await anonymous.get("/cong-khai", params={"q": "chấn chỉnh"})  # masked answer text
            assert code in await resp.text()
        finally:
            await anonymous.close()
    finally:
        await officer.client.close()


async def test_admin_locks_an_account_from_the_dashboard(staff_app, pchat, server):
    admin, officer = await browser(server), await browser(server)
    try:
        assert await admin.login("admin") == 303 and await officer.login("stp") == 303
        assert (await officer.get("/staff"))[0] == 200
        async with staff_app.db.unit_of_work() as uow:
            users = {u.username: u for u in await uow.repo(StaffRepo).users()}
        token = await admin.csrf("/staff/admin")
        resp = await admin.client.post(f"/staff/admin/users/{users['stp'].id}/disable", data={"csrf": token},
                                       allow_redirects=False)
        assert resp.status == 303
        status, _ = await officer.get("/staff")  # the officer's session ended at once
        assert status == 303
        stranger = await browser(server)
        try:
            assert await stranger.login("stp") == 401
        finally:
            await stranger.client.close()
        # without the CSRF token nothing happens; an unknown account answers in Vietnamese
        resp = await admin.client.post(f"/staff/admin/users/{users['sxd'].id}/disable", data={},
                                       allow_redirects=False)
        assert resp.status == 403
        resp = await admin.client.post("/staff/admin/users/999999/disable", data={"csrf": token},
                                       allow_redirects=False)
        assert resp.status == 404 and "Không tìm thấy tài khoản" in await resp.text()
        resp = await admin.client.post(f"/staff/admin/users/{users['admin'].id}/disable", data={"csrf": token},
                                       allow_redirects=False)
        assert resp.status == 400 and "Không thể tự khóa" in await resp.text()
    finally:
        await admin.client.close()
        await officer.client.close()


async def test_request_information_round_trip(staff_app, pchat, server, clock):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # Mon 2/11
    assert (await _item(staff_app, code)).answer_due.isoformat() == "2026-11-23"
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        clock.advance(days=1)  # asked on Tuesday 3/11 (a new working day: a new login)
        await officer.login("stp")
        await officer.act(code, "request_info", "Vui lòng cho biết số biên nhận hồ sơ.")
        assert (await _item(staff_app, code)).state == "needs_info"
        await staff_app.services.outbox.drain()
        [(_key, replies)] = [p for p in pchat.pushed if "bổ sung" in p[1][0].text]
        assert "số biên nhận" in replies[0].text and f"pakn:i:{code}" in payloads_of(replies)
        # a stranger cannot answer it
        stranger = pchat.as_user("u9")
        assert "Không tìm thấy" in texts_of(await stranger.press(f"pakn:i:{code}"))
        clock.advance(days=3)  # supplied on Friday 6/11: three working days of waiting
        await pchat.press(f"pakn:i:{code}")
        await pchat.send_photo("tg-bien-nhan", name="bien-nhan.jpg")
        done = texts_of(await pchat.say("Số biên nhận 000.00.12.H36-261030-0042"))
        # 23/11 + 3 working days, 24/11 (Ngày Văn hóa Việt Nam) being a day off
        assert "Đã gửi thông tin bổ sung" in done and "Thời hạn trả lời: 27/11/2026" in done
        item = await _item(staff_app, code)
        assert item.state == "accepted"  # back where it was
        assert item.answer_due.isoformat() == "2026-11-27"
        await officer.login("stp")
        _status, detail = await officer.get(f"/staff/items/{code}")
        assert "000.00.12.H36-261030-0042" in detail and "bien-nhan.jpg" in detail
    finally:
        await officer.client.close()


async def test_answer_to_an_unreachable_citizen_is_recorded(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    async with staff_app.db.unit_of_work() as uow:
        await uow.citizens.mark_unreachable("memory", "u1", "blocked")
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        await officer.act(code, "answer", "Kết quả đã được trả.")
        item = await _item(staff_app, code)
        assert item.state == "answered" and item.delivery == "undeliverable"
        _status, detail = await officer.get(f"/staff/items/{code}")
        assert "Không gửi được đến người gửi" in detail
    finally:
        await officer.client.close()


async def test_actions_out_of_order_are_refused_with_a_reason(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        status, page = await officer.act(code, "publish")
        assert status == 409 and "Không thể “Công khai”" in page
        status, page = await officer.act(code, "reject", "")
        assert status == 409 and "Vui lòng nhập nội dung" in page
        assert (await officer.act(code, "reject", "Nội dung là khiếu nại, đề nghị gửi Thanh tra tỉnh."))[0] == 303
        await staff_app.services.outbox.drain()
        assert any("không được tiếp nhận" in r.text and "Thanh tra tỉnh" in r.text
                   for _k, replies in pchat.pushed for r in replies)
    finally:
        await officer.client.close()


async def test_staff_question_goes_through_the_same_queue(staff_app, pchat, server):
    await pchat.press("m:ask_staff")
    replies = await pchat.say("Làm lại giấy khai sinh bản sao ở xã khác được không?")
    code = CODE.search(texts_of(replies)).group(0)
    # from a procedure card's "Hỏi cán bộ" button (the knowledge base calls services.ask_staff)
    await pchat.press("kb:open:1.001193")
    card = await pchat.press("kb:ask:1.001193")
    assert "về thủ tục “Thủ tục đăng ký khai sinh” (mã 1.001193)" in texts_of(card)  # a name citizens know
    second = CODE.search(texts_of(await pchat.say("Có cần mang sổ hộ khẩu không?"))).group(0)
    assert (await _item(staff_app, second)).procedure_code == "1.001193"
    assert (await _item(staff_app, second)).procedure_name == "Thủ tục đăng ký khai sinh"
    # a question the search could not answer is offered as it was typed
    await pchat.say("xin cấp phép nuôi rồng ở ao làng")
    offer = await pchat.press("kb:ask:")
    assert "pf:ask:prev" in payloads_of(offer)
    third = CODE.search(texts_of(await pchat.press("pf:ask:prev"))).group(0)
    assert (await _item(staff_app, third)).content == "xin cấp phép nuôi rồng ở ao làng"
    officer, admin = await browser(server), await browser(server)
    try:
        await officer.login("stp")
        assert code not in (await officer.get("/staff"))[1]  # no agency yet: the office triages
        await admin.login("admin")
        assert code in (await admin.get("/staff?subject=question"))[1]
        assert (await admin.act(code, "answer", "Được, bạn đến UBND xã bất kỳ nơi đã đăng ký."))[0] == 303
        await staff_app.services.outbox.drain()
        assert any("UBND xã bất kỳ" in r.text for _k, replies in pchat.pushed for r in replies)
    finally:
        await officer.client.close()
        await admin.client.close()


async def test_admin_assigns_to_another_agency_and_manages_accounts(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    admin = await browser(server)
    try:
        await admin.login("admin")
        assert (await admin.act(code, "assign", "Thuộc lĩnh vực xây dựng", agency="SXD"))[0] == 303
        assert (await _item(staff_app, code)).agency_code == "SXD"
        token = await admin.csrf("/staff/admin")
        resp = await admin.client.post("/staff/admin/users", allow_redirects=False, data={
            "csrf": token, "username": "moi", "full_name": "Cán bộ mới", "password": "ngan",
            "role": "officer", "agency": "SXD"})
        assert resp.status == 400 and "ít nhất 10 ký tự" in await resp.text()
        resp = await admin.client.post("/staff/admin/agencies", allow_redirects=False, data={
            "csrf": token, "code": "SYT", "name": "Sở Y tế", "active": "1"})
        assert resp.status == 303
        _s, page = await admin.get("/staff/admin")
        assert "Sở Y tế" in page
    finally:
        await admin.client.close()
    sxd = await browser(server)
    try:
        await sxd.login("sxd")
        assert code in (await sxd.get("/staff"))[1]
    finally:
        await sxd.client.close()


# -- the staff group on Telegram (a fake Bot API over real HTTP) -----------------------------


@pytest.fixture
async def telegram():
    calls: list[dict] = []

    async def send_message(request: web.Request) -> web.Response:
        calls.append({"path": request.path, **(await request.json())})
        return web.json_response({"ok": True, "result": {"message_id": len(calls)}})

    tg = web.Application()
    tg.router.add_post("/bot{token}/sendMessage", send_message)
    async with TestServer(tg) as srv:
        yield srv, calls


async def test_staff_group_gets_new_due_soon_and_overdue_once(make_app, sqlite_url, tmp_path, clock, telegram):
    from bot.channels.memory import MemoryChannel
    from tests.pakn.conftest import MONDAY_9AM, seed_agencies

    srv, calls = telegram
    clock.set(MONDAY_9AM)
    app = make_app(sqlite_url, pakn={"upload_dir": str(tmp_path / "up")},
                   staff={**FAST_HASH, "telegram_token": "123:ABC", "telegram_chat_id": "-100200",
                          "telegram_api_url": str(srv.make_url(""))},
                   web={"public_url": "https://tthc.example.gov.vn"})
    await seed_agencies(app)
    chat = MemoryChannel(app.core.handle)
    app.add_channel(chat)
    await app.start()
    code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
    assert len(calls) == 1 and calls[0]["path"] == "/bot123:ABC/sendMessage"
    assert calls[0]["chat_id"] == "-100200" and code in calls[0]["text"]
    assert f"https://tthc.example.gov.vn/staff/items/{code}" in calls[0]["text"]
    await app.scheduler.run_once("pakn.staff_reminders")
    assert len(calls) == 1  # accept due Wednesday: not yet due soon
    clock.advance(days=1)  # Tuesday: one working day left
    await app.scheduler.run_once("pakn.staff_reminders")
    await app.scheduler.run_once("pakn.staff_reminders")
    assert len(calls) == 2 and "Sắp đến hạn" in calls[1]["text"]
    clock.advance(days=2)  # Thursday: overdue
    await app.scheduler.run_once("pakn.staff_reminders")
    await app.scheduler.run_once("pakn.staff_reminders")
    assert len(calls) == 3 and "Quá hạn" in calls[2]["text"]
    for call in calls:  # no personal data in a group chat
        assert "Nguyễn" not in call["text"] and "0912345678" not in call["text"]


@contextlib.asynccontextmanager
async def _staff_group(make_app, url, tmp_path, clock, refusal, *, delay: float = 0.0, **staff):
    """An app whose staff group is a local Telegram-like server; ``fail["n"]`` sendMessage calls
    are answered with ``refusal()``, the others accepted and their texts kept in ``calls``
    (each after ``delay`` seconds). ``fail["tries"]`` counts every sendMessage call."""
    from bot.channels.memory import MemoryChannel
    from tests.pakn.conftest import MONDAY_9AM, seed_agencies

    calls: list[str] = []
    fail = {"n": 0, "tries": 0}

    async def send_message(request: web.Request) -> web.Response:
        fail["tries"] += 1
        if fail["n"]:
            fail["n"] -= 1
            return refusal()
        text = (await request.json())["text"]
        if delay:
            await asyncio.sleep(delay)
        calls.append(text)
        return web.json_response({"ok": True, "result": {"message_id": len(calls)}})

    tg = web.Application()
    tg.router.add_post("/bot{token}/sendMessage", send_message)
    async with TestServer(tg) as srv:
        clock.set(MONDAY_9AM)
        app = make_app(url, pakn={"upload_dir": str(tmp_path / "up")},
                       staff={**FAST_HASH, "telegram_token": "123:ABC", "telegram_chat_id": "-100200",
                              "telegram_api_url": str(srv.make_url("")), **staff})
        await seed_agencies(app)
        chat = MemoryChannel(app.core.handle)
        app.add_channel(chat)
        await app.start()
        yield app, chat, calls, fail


def _bad_gateway() -> web.Response:
    return web.json_response({"ok": False, "description": "Bad Gateway"}, status=502)


async def test_a_staff_group_notice_telegram_refused_is_sent_at_the_next_run(make_app, sqlite_url, tmp_path,
                                                                            clock):
    """Telegram down for a moment must not lose the "Quá hạn" notice for good."""
    async with _staff_group(make_app, sqlite_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, fail):
        await file_pakn(chat.say, chat.press)
        assert len(calls) == 1
        clock.advance(days=3)  # Thursday: overdue
        fail["n"] = 1
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 1  # refused
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2 and "Quá hạn" in calls[1]
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2  # and still only once


async def test_a_new_item_notice_telegram_refused_is_sent_at_the_next_run(make_app, sqlite_url, tmp_path,
                                                                          clock):
    """The "Mới" notice is sent when the citizen files; refused then, the reminder job sends
    it later (once), as it does for "Sắp đến hạn" and "Quá hạn"."""
    def too_many() -> web.Response:
        return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                  "parameters": {"retry_after": 3}}, status=429)

    async with _staff_group(make_app, sqlite_url, tmp_path, clock, too_many) as (app, chat, calls, fail):
        fail["n"] = 1
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        assert calls == []  # refused
        clock.advance(minutes=15)
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 1 and calls[0].startswith("Mới:") and code in calls[0]
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 1  # and only once


async def _request_info(app, code: str) -> None:
    """Staff ask the citizen for information (the service, as the dashboard does)."""
    async with app.db.unit_of_work() as uow:
        admin = StaffUser(username="admin", password_hash="x", role="admin", agency_code=None,
                          full_name="Quản trị", created_at=app.services.clock.now())
        uow.session.add(admin)
        await uow.session.flush()
        item = await uow.repo(PaknRepo).by_code(code, lock=True)
        await app.services.extras["pakn"].act(uow, item, "request_info", staff=admin,
                                              now=app.services.clock.now(), text="Xin số biên nhận.")


async def _notices(app, code: str) -> dict[str, PaknNotice]:
    async with app.db.unit_of_work() as uow:
        item = await uow.repo(PaknRepo).by_code(code)
        rows = (await uow.session.execute(select(PaknNotice).where(PaknNotice.item_id == item.id))).scalars()
        return {row.notice: row for row in rows}


async def test_a_refused_information_supplied_notice_is_sent_at_the_next_run(make_app, db_url, tmp_path,
                                                                              clock):
    """"Đã bổ sung thông tin" is not one the reminder job would make again: refused, it must
    be kept and sent by the next run, once."""
    async with _staff_group(make_app, db_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, fail):
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        assert len(calls) == 1
        await _request_info(app, code)
        clock.advance(hours=2)
        fail["n"] = 1
        await chat.press(f"pakn:i:{code}")
        assert "Đã gửi thông tin bổ sung" in texts_of(await chat.say("Số biên nhận 000.00.12.H36-261030-0042"))
        assert len(calls) == 1 and fail["tries"] == 2  # refused
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2 and calls[1].startswith("Đã bổ sung thông tin:") and code in calls[1]
        assert "000.00.12" not in calls[1]  # still no content in the group
        await app.scheduler.run_once("pakn.staff_reminders")
        clock.advance(minutes=15)
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2  # and only once
        [info] = [n for key, n in (await _notices(app, code)).items() if key.startswith("info:")]
        assert info.sent_at is not None and info.attempts == 2


async def test_a_refused_assignment_notice_is_sent_at_the_next_run(make_app, db_url, tmp_path, clock):
    async with _staff_group(make_app, db_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, fail):
        await seed_staff(app)
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        assert len(calls) == 1
        async with TestServer(app.web) as server:
            admin = await browser(server)
            try:
                await admin.login("admin")
                fail["n"] = 1
                status, _html = await admin.act(code, "assign", agency="SXD")
                assert status == 303
            finally:
                await admin.client.close()
        assert len(calls) == 1 and fail["tries"] == 2  # refused
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2 and calls[1].startswith("Được giao:") and "Sở Xây dựng" in calls[1]
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2  # and only once


async def _claim_without_sending(app, code: str, notice: str, headline: str) -> None:
    """What a worker stopped between the claim and the send leaves behind."""
    async with app.db.unit_of_work() as uow:
        item = await uow.repo(PaknRepo).by_code(code)
        uow.session.add(PaknNotice(item_id=item.id, notice=notice, at=app.services.clock.now(),
                                   details={"headline": headline}))


async def test_a_notice_claimed_but_never_sent_is_sent_after_the_lease(make_app, db_url, tmp_path, clock):
    async with _staff_group(make_app, db_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, fail):
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        assert len(calls) == 1
        await _claim_without_sending(app, code, "assigned:STP", "Được giao")
        await app.scheduler.run_once("pakn.staff_reminders")
        clock.advance(seconds=50)
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 1  # its worker may still be sending it
        clock.advance(seconds=15)
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2 and calls[1].startswith("Được giao:") and code in calls[1]
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 2


async def test_two_workers_reminding_at_once_send_an_unsent_notice_once(make_app, db_url, tmp_path, clock):
    from bot.pakn.staff_notify import StaffNotifier

    async with _staff_group(make_app, db_url, tmp_path, clock, _bad_gateway, delay=0.05) as (app, chat, calls,
                                                                                              fail):
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        assert len(calls) == 1
        await _claim_without_sending(app, code, "assigned:STP", "Được giao")
        clock.advance(minutes=2)
        first = app.services.extras["pakn_staff_notifier"]
        second = StaffNotifier(app.config, app.db, app.services.clock, app.services.extras["pakn"])
        try:
            sent = await asyncio.gather(first.remind(), second.remind(), first.remind())
        finally:
            await second.close()
        assert sum(sent) == 1 and len(calls) == 2 and calls[1].startswith("Được giao:")
        assert fail["tries"] == 2


async def test_a_notice_refused_every_time_is_given_up_after_the_attempts(make_app, sqlite_url, tmp_path,
                                                                         clock, caplog):
    async with _staff_group(make_app, sqlite_url, tmp_path, clock, _bad_gateway,
                            notice_max_attempts=3) as (app, chat, calls, fail):
        fail["n"] = 100
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        for _run in range(5):
            clock.advance(minutes=15)
            await app.scheduler.run_once("pakn.staff_reminders")
        assert calls == [] and fail["tries"] == 3
        new = (await _notices(app, code))["new"]
        assert new.sent_at is None and new.gave_up_at is not None and new.details["gave_up"] == "too many attempts"
        assert any(r.getMessage() == "staff group notice given up" for r in caplog.records)


async def test_a_refused_notice_of_an_item_no_longer_open_is_given_up(make_app, db_url, tmp_path, clock):
    async with _staff_group(make_app, db_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, fail):
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        await _request_info(app, code)
        clock.advance(hours=2)
        fail["n"] = 1
        await chat.press(f"pakn:i:{code}")
        await chat.say("Số biên nhận 000.00.12.H36-261030-0042")
        async with app.db.unit_of_work() as uow:
            admin = (await uow.session.execute(select(StaffUser))).scalar_one()
            item = await uow.repo(PaknRepo).by_code(code, lock=True)
            await app.services.extras["pakn"].act(uow, item, "reject", staff=admin, now=clock.now(),
                                                  text="Không thuộc phạm vi tiếp nhận.")
        await app.scheduler.run_once("pakn.staff_reminders")
        assert len(calls) == 1 and fail["tries"] == 2  # the "Mới" notice only
        [info] = [n for key, n in (await _notices(app, code)).items() if key.startswith("info:")]
        assert info.sent_at is None and info.details["gave_up"] == "item no longer open"


async def test_queue_filters_due_soon_and_overdue(staff_app, pchat, server, clock):
    first = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # Mon: accept due Wed
    clock.advance(days=2)  # Wednesday
    second = CODE.search(texts_of(await file_pakn(pchat.as_user("u7").say, pchat.as_user("u7").press,
                                                  content="Bộ phận một cửa thu thêm phí photo giấy tờ "
                                                          "không có trong quy định của thủ tục."))).group(0)
    clock.advance(days=1)  # Thursday: the first is overdue, the second due Friday (soon)
    admin = await browser(server)
    try:
        await admin.login("admin")
        _s, overdue = await admin.get("/staff?due=overdue")
        _s, soon = await admin.get("/staff?due=soon")
        _s, both = await admin.get("/staff")
        assert first in overdue and second not in overdue
        assert second in soon and first not in soon
        assert "sla-overdue" in both and "sla-due_soon" in both and "Quá hạn" in both
        _s, found = await admin.get("/staff?q=phí photo")
        assert second in found and first not in found
    finally:
        await admin.client.close()


async def test_behind_a_proxy_addresses_are_told_apart(make_app, sqlite_url, tmp_path, clock):
    app = make_app(sqlite_url, pakn={"upload_dir": str(tmp_path / "up")},
                   staff={**FAST_HASH, "client_ip_header": "X-Forwarded-For"})
    await seed_staff_for(app)
    async with TestServer(app.web) as srv:
        attacker, colleague = StaffBrowser(srv), StaffBrowser(srv)
        attacker.client.headers["X-Forwarded-For"] = "203.0.113.9, 10.0.0.1"
        colleague.client.headers["X-Forwarded-For"] = "10.0.0.2"
        try:
            for i in range(app.config.staff.login_max_failures):
                assert await attacker.login(f"doan-{i}", "abc") == 401
            assert await attacker.login("admin") == 429
            assert await colleague.login("admin") == 303  # same proxy, another office PC
        finally:
            await attacker.client.close()
            await colleague.client.close()


async def seed_staff_for(app):
    from tests.pakn.conftest import seed_agencies

    await seed_agencies(app)
    await seed_staff(app)


def test_public_text_masks_the_senders_details_whatever_their_case(papp):
    from types import SimpleNamespace

    item = SimpleNamespace(full_name="Nguyễn Văn An", phone="0912345678", email="an@gmail.com",
                           address="12 Lê Lợi, phường 1")
    text = papp.services.extras["pakn"].public_text(
        item, "Tôi là NGUYỄN VĂN AN, nhà ở 12 lê lợi, phường 1; nguyễn văn an xin cảm ơn.")
    assert "NGUYỄN VĂN AN" not in text and "nguyễn văn an" not in text and "lê lợi" not in text
    assert text.count("N. V. A.") == 2 and "[đã ẩn]" in text


class HeldHasher:
    """The real argon2 hasher, whose verify and hash, once done, wait (in their thread) for
    the test to let them return: the test knows the login is inside the password check
    while it acts, instead of guessing it from a timing taken earlier (on a busy machine the
    login sometimes finished first). ``worked`` is the CPU-bound part, timed as it ran."""

    HOLD_LIMIT = 30.0  # a check run on the event loop itself would block it this long, then fail the test

    def __init__(self, real) -> None:
        import threading

        self.real = real
        self.inside = threading.Event()
        self.release = threading.Event()
        self.worked = 0.0

    def _held(self, fn, *args):
        import time as _time

        self.inside.set()
        started = _time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.worked = _time.perf_counter() - started
            self.release.wait(self.HOLD_LIMIT)

    def verify(self, *args):
        return self._held(self.real.verify, *args)

    def hash(self, *args):
        return self._held(self.real.hash, *args)

    def __getattr__(self, name):  # check_needs_rehash, ...
        return getattr(self.real, name)

    def reset(self) -> None:
        self.inside.clear()
        self.release.clear()


async def test_password_check_runs_off_the_event_loop_and_outside_the_transaction(make_app, sqlite_url, clock):
    """argon2 takes ~0.1 s of CPU by design: while a login verifies a password, the worker keeps
    answering (the event loop runs) and other transactions are not held up (on SQLite one
    open transaction holds the write lock)."""
    import asyncio
    import time as _time

    from bot.dashboard.auth import StaffAuth, add_user, hasher_for
    from storage.models import AuditEntry

    app = make_app(sqlite_url, staff={"argon2_time_cost": 6, "argon2_memory_kib": 65536})
    real = hasher_for(app.config)
    await add_user(app.db, username="canbo", password="mat-khau-2026", role="admin", agency_code=None,
                   full_name="", now=clock.now(), hasher=real)
    started = _time.perf_counter()
    real.verify(real.hash("x-123456789"), "x-123456789")
    assert _time.perf_counter() - started > 0.1  # the test means nothing with a cheap hash
    held = HeldHasher(real)
    auth = StaffAuth(app.db, app.config)
    auth.hasher = held

    gaps: list[float] = []

    async def ticker() -> None:
        last = _time.perf_counter()
        while True:
            await asyncio.sleep(0.005)
            now = _time.perf_counter()
            gaps.append(now - last)
            last = now

    async def inside() -> None:
        """Until the password check has started in its thread (the loop runs meanwhile)."""
        while not held.inside.is_set():
            await asyncio.sleep(0.002)

    async def write_meanwhile(work: asyncio.Task) -> None:
        await asyncio.wait_for(inside(), HeldHasher.HOLD_LIMIT / 2)
        async with app.db.unit_of_work() as uow:  # another transaction meanwhile
            await uow.audit.record(actor="test", action="test.write", now=clock.now())
        # the check has not returned (it waits for us): the write did not wait for it
        assert not work.done(), "the write had to wait for the whole login (event loop or lock held)"
        held.release.set()

    for password, ok in (("mat-khau-2026", True), ("sai-mat-khau-1", False)):
        held.reset()
        gaps.clear()
        tick = asyncio.create_task(ticker())
        login = asyncio.create_task(auth.login("canbo", password, "10.0.0.1", clock.now()))
        await write_meanwhile(login)
        try:
            token, user = await login
            assert ok and token and user.username == "canbo"
        except Exception as exc:
            assert not ok and type(exc).__name__ == "LoginFailed"
        tick.cancel()
        # the loop never stalled for half of the hashing it ran beside (timed as it ran, so
        # a busy machine slows both alike); a check on the loop or holding the GIL would
        # stall it for all of it
        assert held.worked > 0.05 and max(gaps) < held.worked / 2, (max(gaps), held.worked)
    # an administrator adding an account (the admin page) hashes the same way
    held.reset()
    gaps.clear()
    tick = asyncio.create_task(ticker())
    adding = asyncio.create_task(add_user(app.db, username="canbo2", password="mat-khau-2027", role="admin",
                                          agency_code=None, full_name="", now=clock.now(), hasher=held))
    await write_meanwhile(adding)
    await adding
    tick.cancel()
    assert held.worked > 0.05 and max(gaps) < held.worked / 2, (max(gaps), held.worked)
    async with app.db.unit_of_work() as uow:
        actions = [a for (a,) in (await uow.session.execute(select(AuditEntry.action))).all()]
    assert actions.count("staff.login") == 1 and actions.count("staff.login_failed") == 1


@pytest.mark.parametrize("written, hidden, shown", [
    ("Tôi là An, ở thôn 3.", "là An", "Tôi là A., ở thôn 3."),
    ("Tôi tên Văn An, cán bộ hẹn lại 3 lần.", "Văn An", "Tôi tên V. A., cán bộ"),
    ("Kính gửi ông Nguyễn An: đã chấn chỉnh.", "Nguyễn An", "Kính gửi ông N. A.: đã"),
    ("Gia đình anh An đề nghị xem xét.", "anh An", "Gia đình anh A. đề nghị"),
    ("Bà Nguyễn cho biết hồ sơ bị trả lại.", "Bà Nguyễn", "Bà N. cho biết"),
    ("NGUYỄN AN xin cảm ơn.", "NGUYỄN AN", "N. A. xin cảm ơn."),
])
def test_public_text_masks_a_partial_name_of_the_sender(papp, written, hidden, shown):
    from types import SimpleNamespace

    item = SimpleNamespace(full_name="Nguyễn Văn An", phone="0912345678", email="", address="")
    text = papp.services.extras["pakn"].public_text(item, written)
    assert hidden not in text and shown in text, text


def test_public_text_leaves_ordinary_words_that_are_also_names(papp):
    from types import SimpleNamespace

    item = SimpleNamespace(full_name="Trần Bình An", phone="", email="", address="")
    text = ("An toàn giao thông ở Long An là việc của mọi nhà; người dân bình an, văn minh. "
            "Trần tình của cán bộ một cửa không thuyết phục.")
    assert papp.services.extras["pakn"].public_text(item, text) == text


async def test_information_supplied_at_once_is_announced_as_supplied_not_new(make_app, sqlite_url, tmp_path,
                                                                            clock):
    """Filed, asked for information and supplied within the same instant (the clock does
    not move): the group still hears "Đã bổ sung thông tin", not a second "Mới"."""
    async with _staff_group(make_app, sqlite_url, tmp_path, clock, _bad_gateway) as (app, chat, calls, _fail):
        code = CODE.search(texts_of(await file_pakn(chat.say, chat.press))).group(0)
        await _request_info(app, code)
        await chat.press(f"pakn:i:{code}")
        assert "Đã gửi thông tin bổ sung" in texts_of(await chat.say("Số biên nhận 000.00.12.H36-261030-0042"))
        assert len(calls) == 2 and calls[0].startswith("Mới:") and calls[1].startswith("Đã bổ sung thông tin:")


# -- found in exploratory QA of the dashboard ---------------------------------------------


async def test_an_officer_who_assigns_elsewhere_lands_on_the_queue_not_a_404(staff_app, pchat, server):
    """The item leaves the officer's agency: its page would answer "Không tìm thấy phản ánh"."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # agency STP
    officer, admin = await browser(server), await browser(server)
    try:
        await officer.login("stp")
        await admin.login("admin")
        token = await officer.csrf()
        resp = await officer.client.post(f"/staff/items/{code}", allow_redirects=False,
                                         data={"csrf": token, "action": "assign", "agency": "SXD"})
        assert resp.status == 303 and resp.headers["Location"] == "/staff?ok=assign"
        resp = await officer.client.post(f"/staff/items/{code}", allow_redirects=False, data={
            "csrf": await officer.csrf(), "action": "assign", "agency": "STP"})
        assert resp.status == 404  # it is no longer theirs
        async with officer.client.get("/staff?ok=assign") as page:
            assert page.status == 200 and "Đã giao cho cơ quan khác." in await page.text()
        assert (await _item(staff_app, code)).agency_code == "SXD"
        # the administrator still sees it, so lands on the item itself
        token = await admin.csrf()
        resp = await admin.client.post(f"/staff/items/{code}", allow_redirects=False, data={
            "csrf": token, "action": "assign", "agency": "STP"})
        assert resp.status == 303 and resp.headers["Location"] == f"/staff/items/{code}?ok=assign"
    finally:
        await officer.client.close()
        await admin.client.close()


async def test_the_history_names_people_and_actions_in_vietnamese(staff_app, pchat, server, clock):
    """Not "staff:2 · pakn.accept", "citizen:1 · pakn.filed", "· queued", "· SXD", "qua telegram"."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    svc = staff_app.services.extras["pakn"]
    async with staff_app.db.unit_of_work() as uow:  # one filed on Telegram, as the channel stores it
        citizen = (await _item(staff_app, code)).citizen_id
        tg = await svc.file(uow, citizen_id=citizen, channel="telegram", now=clock.now(), draft={
            "kind": "kien_nghi", "subject": "other", "agency_code": "STP", "full_name": "Nguyễn Văn An",
            "phone": "0912345678", "content": "Đề nghị lắp thêm đèn chiếu sáng ở ngõ 5 thôn Đông."})
    officer, admin = await browser(server), await browser(server)
    try:
        await officer.login("stp")
        await admin.login("admin")
        await officer.act(code, "accept")
        await officer.act(code, "request_info", "Xin gửi ảnh giấy hẹn trả kết quả.")
        clock.advance(days=1)  # the sessions have expired: log in again
        await officer.login("stp")
        await admin.login("admin")
        await pchat.press(f"pakn:i:{code}")
        await pchat.say("Giấy hẹn ngày 20/10/2026.")
        await officer.act(code, "answer", "Đã chấn chỉnh bộ phận một cửa.")
        await officer.act(tg.code, "assign", agency="SXD")
        _s, page = await officer.get(f"/staff/items/{code}")
        history = page[page.index("Lịch sử"):]
        for technical in ("staff:", "citizen:", "pakn.", "queued", "undeliverable"):
            assert technical not in history
        assert "Người gửi · Người dân gửi" in history
        assert "Cán bộ Tư pháp · Tiếp nhận (Mới tiếp nhận → Đã tiếp nhận)" in history
        assert "Yêu cầu bổ sung (Đã tiếp nhận → Chờ bổ sung thông tin) · Xin gửi ảnh giấy hẹn" in history
        assert "Người gửi · Người dân bổ sung thông tin (Chờ bổ sung thông tin → Đã tiếp nhận)" in history
        assert "hạn lùi 1 ngày làm việc" in history
        assert "Trả lời (Đã tiếp nhận → Đã trả lời) · đã xếp gửi cho người gửi" in history
        _s, page = await admin.get(f"/staff/items/{tg.code}")
        assert "qua Telegram" in page and "qua telegram" not in page
        history = page[page.index("Lịch sử"):]
        assert "Cán bộ Tư pháp · Giao cơ quan · Giao cho Sở Xây dựng" in history
        assert "→ Mới tiếp nhận" not in history  # assigning does not change the state
    finally:
        await officer.client.close()
        await admin.client.close()


async def test_the_queue_search_finds_the_citizens_words_however_typed(staff_app, pchat, server):
    """Capitals and missing diacritics (SQLite's ILIKE folds ASCII only), a phone number with
    spaces or +84, a name in lower case."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    other = CODE.search(texts_of(await file_pakn(pchat.as_user("u8").say, pchat.as_user("u8").press,
                                                 content="Đèn đường thôn Đông hỏng hai tháng chưa được sửa.",
                                                 name="Đỗ Thị Hoa", phone="0987 654 321"))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        for query, found in [("HỒ SƠ ĐĂNG KÝ KHAI SINH", code), ("ho so dang ky khai sinh", code),
                             ("QUA HEN 5 NGAY", code), ("0912 345 678", code), ("+84 912 345 678", code),
                             ("nguyễn văn an", code), ("ĐÈN ĐƯỜNG", other), ("den duong thon dong", other),
                             ("đỗ thị hoa", other), ("0987.654.321", other), (other.lower(), other)]:
            _s, page = await officer.get("/staff?q=" + quote(query))
            missed = code if found == other else other
            assert f"/staff/items/{found}" in page and f"/staff/items/{missed}" not in page, query
        _s, page = await officer.get("/staff?q=" + quote("không có ở đâu cả"))
        assert "Không có mục nào." in page
    finally:
        await officer.client.close()


async def test_a_refused_action_keeps_what_the_clerk_typed(staff_app, pchat, server):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        for action in ("reject", "request_info", "forward"):
            typed = f"Nội dung {action} rất dài " + "x" * 10000
            status, page = await officer.act(code, action, typed)
            assert status == 409 and "Nội dung quá dài" in page
            assert typed in page, action
        assert (await _item(staff_app, code)).state == "new"
    finally:
        await officer.client.close()


async def test_overdue_items_say_by_how_many_working_days(staff_app, pchat, server, clock):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # Mon: accept due Wed
    clock.advance(days=4)  # Friday: Thursday and Friday have passed
    officer = await browser(server)
    try:
        await officer.login("stp")
        _s, queue = await officer.get("/staff?due=overdue")
        assert code in queue and "Quá hạn 2 ngày làm việc" in queue
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "(quá hạn 2 ngày làm việc)" in page
    finally:
        await officer.client.close()


async def test_waiting_for_the_citizen_is_not_shown_overdue(staff_app, pchat, server, clock):
    """While the citizen is asked for information the wait does not count
    (pakn.pause_while_waiting): the item is not red, not in "Quá hạn", and the group gets no
    due notice; once supplied, the moved deadline counts again."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        await officer.act(code, "request_info", "Xin gửi ảnh giấy hẹn trả kết quả.")
        clock.advance(days=30)  # well past the answer deadline (23/11)
        await officer.login("stp")
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "Thời hạn tạm dừng chờ người gửi bổ sung" in page and "quá hạn" not in page
        assert "sla-overdue" not in page
        _s, overdue = await officer.get("/staff?due=overdue")
        assert code not in overdue
        _s, queue = await officer.get("/staff")
        assert code in queue and "Tạm dừng, chờ bổ sung" in queue and "sla-overdue" not in queue
        await pchat.press(f"pakn:i:{code}")
        await pchat.say("Giấy hẹn ngày 20/10/2026.")
        item = await _item(staff_app, code)
        assert item.state == "accepted" and item.answer_due > clock.now().date()
        _s, page = await officer.get(f"/staff/items/{code}")
        assert f"Hạn trả lời: {item.answer_due:%d/%m/%Y}" in page and "Thời hạn tạm dừng" not in page
    finally:
        await officer.client.close()


async def test_a_wrong_dashboard_address_answers_in_vietnamese(staff_app, server):
    officer = await browser(server)
    try:
        await officer.login("stp")
        for path, status, said in [("/staff/hang-doi", 404, "Không tìm thấy trang"),
                                   ("/staff/logout", 405, "chỉ dùng để gửi biểu mẫu"),
                                   ("/cong-khai/abc", 404, "Không tìm thấy trang")]:
            got, page = await officer.get(path)
            assert got == status and said in page and "Not Found" not in page and "Method Not Allowed" not in page
        # our own refusals keep their words; other addresses are left alone
        got, page = await officer.get("/staff/items/PAKN-0000-XXXX")
        assert got == 404 and page == "Không tìm thấy phản ánh."
        resp = await officer.client.get("/khong-co")
        assert resp.status == 404
    finally:
        await officer.client.close()


async def test_the_public_page_hides_a_house_number_the_citizen_wrote(staff_app, pchat, server):
    content = ("Nhà tôi ở số 12 ngõ 34 phố Hàng Bạc, phường Hàng Đào; nước thải từ công trình "
               "bên cạnh tràn vào ngõ đã hai tháng, theo Quyết định số 15 phải có rãnh thoát.")
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press, content=content))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "số 12 ngõ 34 phố Hàng Bạc" in page  # staff see it all
        await officer.act(code, "accept")
        await officer.act(code, "answer", "Đoàn kiểm tra đã đến nhà số 12 ngõ 34 và yêu cầu làm rãnh thoát.")
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "[đã ẩn] phố Hàng Bạc" in page  # the suggested public summary
        await officer.act(code, "publish", "")
        _s, public = await officer.get("/cong-khai")
        assert code in public and "số 12" not in public and "ngõ 34" not in public
        assert "[đã ẩn] phố Hàng Bạc, phường Hàng Đào" in public and "Quyết định số 15" in public
        assert "đến [đã ẩn] và yêu cầu" in public
    finally:
        await officer.client.close()


@pytest.mark.parametrize("written, shown", [
    ("Hàng xóm tôi là Đỗ Quang Hải lấn chiếm lối đi.", "Hàng xóm tôi là Đ. Q. H. lấn chiếm lối đi."),
    ("Chủ tịch xã Lê Văn Tám hứa mà không làm.", "Chủ tịch xã L. V. T. hứa"),
    ("ông TRẦN VĂN BA ở thôn Đông", "ông T. V. B. ở thôn Đông"),
    # streets, wards, schools and places named after people, and ordinary words, stay
    ("đường Trần Hưng Đạo, phường Nguyễn Trãi, trường Lê Quý Đôn", "đường Trần Hưng Đạo, phường Nguyễn Trãi, trường Lê Quý Đôn"),
    ("từ Hà Nội vào TP Hồ Chí Minh. Trần tình của cán bộ", "từ Hà Nội vào TP Hồ Chí Minh. Trần tình của cán bộ"),
])
def test_public_text_masks_other_peoples_full_names(papp, written, shown):
    """A neighbour named in the content was shown in full on /cong-khai (only the sender's own
    name was masked)."""
    from types import SimpleNamespace

    item = SimpleNamespace(full_name="Nguyễn Văn An", phone="0912345678", email="", address="")
    assert shown in papp.services.extras["pakn"].public_text(item, written)


@pytest.mark.parametrize("written, shown", [
    ("ở số nhà 15, tổ 3, thôn Đông", "ở [đã ẩn], tổ 3, thôn Đông"),
    ("Nhà số 7 ngõ 5 ngách 2 đường Láng bị ngập.", "[đã ẩn] đường Láng bị ngập."),
    ("Số 5/2 đường Lê Lợi có quán lấn chiếm vỉa hè.", "[đã ẩn] đường Lê Lợi có quán"),
    ("Quyết định số 12 ngày 3/4 và văn bản số 8, đường dây nóng", "Quyết định số 12 ngày 3/4 và văn bản số 8, đường dây nóng"),
    ("thôn số 3 xã Tân Hội", "thôn số 3 xã Tân Hội"),
])
def test_public_text_removes_house_numbers_only(papp, written, shown):
    from types import SimpleNamespace

    item = SimpleNamespace(full_name="Nguyễn Văn An", phone="0912345678", email="", address="")
    assert shown in papp.services.extras["pakn"].public_text(item, written)


async def test_the_item_says_when_a_request_for_information_did_not_reach_the_citizen(staff_app, pchat, server):
    """The item waits for the citizen (its deadline paused): staff must see that the citizen
    never got the request, as they see it for the answer."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    officer = await browser(server)
    try:
        await officer.login("stp")
        await officer.act(code, "accept")
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "Báo đã tiếp nhận" in page and "Đang chờ gửi" in page
        await staff_app.services.outbox.drain()
        _s, page = await officer.get(f"/staff/items/{code}")
        assert "Đã gửi đến người gửi" in page
        pchat.blocked.add("u1")  # the citizen blocked the bot meanwhile
        await officer.act(code, "request_info", "Xin gửi ảnh giấy hẹn trả kết quả.")
        await staff_app.services.outbox.drain()
        _s, page = await officer.get(f"/staff/items/{code}")
        notice = page[page.index("<dt>Yêu cầu bổ sung</dt>"):]
        assert notice.index("Không gửi được đến người gửi") < notice.index("</dd>")
    finally:
        await officer.client.close()
