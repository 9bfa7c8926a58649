"""Files citizens send on Telegram and Zalo stay on the platform (a file id, a CDN URL);
staff open them from the dashboard, which fetches them from the platform on demand."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.channels.base import FetchError
from storage.models.pakn import PaknAttachment
from tests.channels.conftest import TG_SECRET, channel, channel_sections
from tests.fakes.telegram import FakeTelegram, callback_update, message_update, text_update
from tests.pakn.conftest import FAST_HASH, MONDAY_9AM, seed_agencies, seed_staff
from tests.pakn.test_dashboard import StaffBrowser

CHAT = 5550001
CODE = re.compile(r"PAKN-\d{4}-[A-Z0-9]{4}")
JPEG = b"\xff\xd8\xff\xe0" + b"anh-giay-hen" * 200  # what the citizen photographed


class TelegramCitizen:
    """A citizen on Telegram: every message is a real webhook post, handled before returning."""

    def __init__(self, app, client) -> None:
        self.app, self.client, self.update_id = app, client, 100

    async def _post(self, update) -> None:
        resp = await self.client.post("/webhooks/telegram", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert resp.status == 200
        await channel(self.app, "telegram").drain()

    def _next(self) -> int:
        self.update_id += 1
        return self.update_id

    async def say(self, text: str) -> None:
        await self._post(text_update(self._next(), text, CHAT))

    async def press(self, payload: str) -> None:
        await self._post(callback_update(self._next(), payload, CHAT))

    async def photo(self, file_id: str, size: int) -> None:
        await self._post(message_update(self._next(), CHAT, photo=[
            {"file_id": file_id + "-small", "file_unique_id": "s", "width": 90, "height": 120, "file_size": 900},
            {"file_id": file_id, "file_unique_id": "b", "width": 960, "height": 1280, "file_size": size}]))


@pytest.fixture
async def files_app(make_app, sqlite_url, tg, zoa, zbot, serve, tmp_path, clock):
    clock.set(MONDAY_9AM)
    app = make_app(sqlite_url, **channel_sections(tg, zoa, zbot), staff=FAST_HASH,
                   pakn={"upload_dir": str(tmp_path / "uploads")})
    await seed_agencies(app)
    client = await serve(app)
    await seed_staff(app)
    return app, client


async def _file_with_photo(app, client, tg: FakeTelegram) -> str:
    tg.files["AgACAgIAAx-photo-1"] = (JPEG, "image/jpeg")
    citizen = TelegramCitizen(app, client)
    await citizen.press("m:pakn")
    await citizen.press("pf:k:phan_anh")
    await citizen.press("pf:s:procedure")
    await citizen.say("đăng ký khai sinh")
    picks = [b["callback_data"] for row in FakeTelegram.keyboard(tg.sent(CHAT)[-1]) for b in row
             if b.get("callback_data", "").startswith("pf:p:")]
    await citizen.press(picks[0])
    await citizen.press("pf:a:STP")
    await citizen.say("Bộ phận một cửa hẹn trả kết quả khai sinh đã quá 5 ngày mà chưa có, "
                      "cán bộ không giải thích lý do.")
    await citizen.photo("AgACAgIAAx-photo-1", len(JPEG))
    await citizen.press("pf:done")
    await citizen.say("Bộ phận một cửa UBND xã Tân Hội")
    await citizen.say("Nguyễn Văn An")
    await citizen.say("0912 345 678")
    await citizen.press("pf:skip")
    await citizen.press("pf:skip")
    await citizen.press("pf:y")
    await citizen.press("pf:send")
    return CODE.search(tg.sent_texts(CHAT)[-1]).group(0)


async def test_staff_open_a_photo_sent_on_telegram(files_app, tg):
    app, client = files_app
    code = await _file_with_photo(app, client, tg)
    async with app.db.unit_of_work() as uow:
        [att] = (await uow.session.execute(select(PaknAttachment))).scalars()
    assert (att.channel, att.ref, att.mime_type) == ("telegram", "AgACAgIAAx-photo-1", "image/jpeg")
    officer = StaffBrowser(client.server)
    try:
        assert await officer.login("stp") == 303
        _status, page = await officer.get(f"/staff/items/{code}")
        assert f'href="/staff/files/{att.id}"' in page and "gửi qua Telegram" in page
        resp = await officer.client.get(f"/staff/files/{att.id}")
        assert resp.status == 200 and await resp.read() == JPEG
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert resp.headers["Content-Disposition"].startswith("inline")
        assert resp.headers["Cache-Control"] == "private, no-store"
        assert [c.params["file_id"] for c in tg.calls_to("getFile")] == ["AgACAgIAAx-photo-1"]
        # the platform lost it (or is down): a polite page, not a traceback
        del tg.files["AgACAgIAAx-photo-1"]
        resp = await officer.client.get(f"/staff/files/{att.id}")
        assert resp.status == 502 and "Chưa tải được tệp từ Telegram" in await resp.text()
    finally:
        await officer.client.close()
    other = StaffBrowser(client.server)  # another agency's officer does not get it
    try:
        await other.login("sxd")
        assert (await other.client.get(f"/staff/files/{att.id}")).status == 404
        assert (await other.client.get("/staff/files/not-a-number")).status == 404
    finally:
        await other.client.close()


async def test_telegram_refuses_files_over_the_limit(files_app, tg):
    app, _client = files_app
    tg.files["BQAC-big"] = (b"x" * 2048, "application/pdf")
    with pytest.raises(FetchError):
        await channel(app, "telegram").fetch_file("BQAC-big", max_bytes=1024)
    got = await channel(app, "telegram").fetch_file("BQAC-big", max_bytes=4096)
    assert got.data == b"x" * 2048


@pytest.mark.parametrize("name", ["zalo_oa", "zalo_bot"])
async def test_zalo_files_are_fetched_from_their_cdn_url(files_app, zoa, zbot, name):
    app, _client = files_app
    fake = zoa if name == "zalo_oa" else zbot
    url = fake.put_file("a1b2.jpg", JPEG)
    got = await channel(app, name).fetch_file(url, max_bytes=len(JPEG))
    assert got.data == JPEG and got.mime_type == "image/jpeg"
    with pytest.raises(FetchError):  # larger than allowed
        await channel(app, name).fetch_file(url, max_bytes=len(JPEG) - 1)
    with pytest.raises(FetchError):  # gone from the CDN
        await channel(app, name).fetch_file(fake.base_url + "/cdn/missing.jpg", max_bytes=10**6)
    with pytest.raises(FetchError):  # no URL was given by the platform (message id ref)
        await channel(app, name).fetch_file("msgid123:0", max_bytes=10**6)
