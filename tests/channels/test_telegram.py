"""Telegram over real HTTP: the webhook, rendering, rate limits, blocked users, polling."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select

from bot.channels.base import Reachability, SendError
from bot.messages import Choice, ConversationKey, Link, OutAttachment, Reply
from bot.notify import Delivery
from storage.models import ChannelIdentity, InboxUpdate, MessageLog
from tests.channels.conftest import TG_SECRET, channel, channel_sections
from tests.fakes.telegram import FakeTelegram, callback_update, text_update

CHAT = 5550001
KEY = ConversationKey("telegram", str(CHAT), str(CHAT))


async def post_update(client, update, secret=TG_SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await client.post("/webhooks/telegram", json=update, headers=headers)


async def count(app, model, *where) -> int:
    async with app.db.unit_of_work() as uow:
        return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_start_gets_the_menu_as_an_inline_keyboard(platforms, tg):
    app, client = platforms
    assert (await post_update(client, text_update(1, "/start"))).status == 200
    await channel(app, "telegram").drain()
    (call,) = tg.sent(CHAT)
    assert call.method == "sendMessage" and "Xin chào" in call.params["text"]
    buttons = [b for row in FakeTelegram.keyboard(call) for b in row]
    assert {"text": "Liên hệ / đường dây nóng", "callback_data": "m:contact"} in buttons
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)


async def test_button_press_is_answered_and_acknowledged(platforms, tg):
    app, client = platforms
    await post_update(client, text_update(1, "/start"))
    await channel(app, "telegram").drain()
    resp = await post_update(client, callback_update(2, "m:contact"))
    await channel(app, "telegram").drain()
    assert app.config.contact.hotline in tg.sent_texts(CHAT)[-1]
    last = tg.sent(CHAT)[-1]
    url_buttons = [b for row in FakeTelegram.keyboard(last) for b in row if "url" in b]
    assert url_buttons == [{"text": "Cổng dịch vụ công", "url": "https://dichvucong.gov.vn"}]
    # the press is answered in the webhook's response (the Bot API runs it), not by a request
    assert resp.status == 200 and await resp.json() == {"method": "answerCallbackQuery", "callback_query_id": "cq2"}
    assert tg.calls_to("answerCallbackQuery") == []


@pytest.mark.parametrize("secret", [None, "", "wrong-secret-000"])
async def test_bad_or_missing_secret_is_refused_and_nothing_stored(platforms, tg, secret):
    app, client = platforms
    resp = await post_update(client, text_update(1, "/start"), secret=secret)
    assert resp.status == 401
    await channel(app, "telegram").drain()
    assert await count(app, InboxUpdate) == 0 and await count(app, MessageLog) == 0
    assert tg.sent() == []


async def test_redelivered_update_is_handled_once(platforms, tg):
    app, client = platforms
    update = text_update(77, "menu")
    statuses = [r.status for r in await asyncio.gather(*(post_update(client, update) for _ in range(3)))]
    assert statuses == [200, 200, 200]
    await channel(app, "telegram").drain()
    assert len(tg.sent(CHAT)) == 1
    assert await count(app, MessageLog, MessageLog.direction == "in") == 1


async def test_malformed_update_is_a_400(platforms):
    _app, client = platforms
    resp = await client.post("/webhooks/telegram", data=b"{not json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert resp.status == 400


@pytest.mark.parametrize("field, value", [("data", ["m:kb"]), ("data", {"x": 1}), ("data", 42)])
async def test_wrongly_typed_button_data_is_ignored_not_stored(platforms, tg, caplog, field, value):
    # found by the long fuzz run: a list as callback data reached the database driver
    app, client = platforms
    update = callback_update(CHAT, "m:kb")
    update["callback_query"][field] = value
    assert (await post_update(client, update)).status == 200
    await channel(app, "telegram").drain()
    assert tg.sent(CHAT) == []
    assert await count(app, MessageLog) == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_long_text_is_split_at_paragraphs_with_the_keyboard_last(platforms, tg):
    app, _ = platforms
    tele = channel(app, "telegram")
    paragraphs = [f"Bước {i}: " + "nộp hồ sơ tại bộ phận một cửa. " * 12 for i in range(30)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    assert len(text) > 2 * 4096
    await tele.send(KEY, [Reply(text, choices=(Choice("Menu", "g:menu"),))])
    calls = tg.sent(CHAT)
    assert len(calls) == 3
    assert all(len(c.params["text"]) <= 4096 for c in calls)
    assert all(c.params["text"].startswith("Bước ") for c in calls)
    assert "\n\n".join(c.params["text"] for c in calls) == text
    assert [bool(FakeTelegram.keyboard(c)) for c in calls] == [False, False, True]


async def test_photos_documents_and_plain_links_out(platforms, tg):
    app, _ = platforms
    await channel(app, "telegram").send(KEY, [Reply(
        "Mẫu đơn", links=(Link("Trang nội bộ", "http://intranet.local/a"),),
        attachments=(OutAttachment("image", "https://example.gov.vn/a.png", caption="Ảnh mẫu"),
                     OutAttachment("file", "https://example.gov.vn/to-khai.pdf", name="to-khai.pdf")))])
    methods = [c.method for c in tg.sent(CHAT)]
    assert methods == ["sendPhoto", "sendDocument", "sendMessage"]
    photo = tg.sent(CHAT)[0].params
    assert photo["photo"] == "https://example.gov.vn/a.png" and photo["caption"] == "Ảnh mẫu"
    assert tg.sent(CHAT)[2].params["text"] == "Mẫu đơn\n\nTrang nội bộ: http://intranet.local/a"


async def test_blocked_user_is_marked_unreachable_not_retried(platforms, tg):
    app, client = platforms
    await post_update(client, text_update(1, "/start"))
    await channel(app, "telegram").drain()
    tg.blocked.add(str(CHAT))
    result = await app.services.notifier.deliver(KEY, [Reply("Hồ sơ đã có kết quả")])
    assert result.status is Delivery.UNREACHABLE and result.detail == "blocked"
    assert await channel(app, "telegram").reachability(KEY) is Reachability.UNREACHABLE
    assert await count(app, ChannelIdentity, ChannelIdentity.reachable.is_(False)) == 1
    sends = len(tg.sent(CHAT))
    again, _key = await app.services.notifier.deliver_to_citizen(1, [Reply("lần nữa")])
    assert again.status is Delivery.UNREACHABLE
    assert len(tg.sent(CHAT)) == sends  # not tried again


async def test_retry_after_is_honoured(platforms, tg):
    app, _ = platforms
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    await channel(app, "telegram").send(KEY, [Reply("Xin chào")])
    assert time.monotonic() - started >= 1.0
    assert [c.params["text"] for c in tg.calls_to("sendMessage")] == ["Xin chào", "Xin chào"]


async def test_retry_after_beyond_the_retries_is_reported(make_app, sqlite_url, tg):
    app = make_app(sqlite_url, **channel_sections(tg, telegram={"max_retries": 0}))
    await app.start()
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 30", retry_after=30)
    with pytest.raises(SendError) as err:
        await channel(app, "telegram").send(KEY, [Reply("Xin chào")])
    assert err.value.retry_after == 30 and not err.value.permanent


async def test_per_chat_rate_limit(make_app, sqlite_url, tg):
    app = make_app(sqlite_url, **channel_sections(tg, telegram={"per_chat_burst": 2,
                                                               "per_chat_messages_per_second": 2.0}))
    await app.start()
    tele = channel(app, "telegram")
    other = ConversationKey("telegram", "5550002", "5550002")
    started = time.monotonic()
    first = asyncio.create_task(tele.send(KEY, [Reply(f"tin {i}") for i in range(4)]))
    while len(tg.sent(KEY.chat_id)) < 2:  # the burst is used: the chat now waits for its limit
        await asyncio.sleep(0.002)
    await tele.send(other, [Reply("khác")])
    # another chat is not held back: it was sent while the first chat still waits (its last
    # message is due 1 s after the burst; one send takes milliseconds, even on a busy machine)
    assert not first.done() and len(tg.sent(KEY.chat_id)) < 4
    await first
    assert time.monotonic() - started >= 0.9  # 2 at once, then 2/s


async def test_polling_mode(make_app, sqlite_url, tg):
    app = make_app(sqlite_url, **channel_sections(tg, telegram={"mode": "polling", "poll_timeout_seconds": 1}))
    await app.start()
    tele = channel(app, "telegram")
    assert tele.routes() == []
    tg.push_update(text_update(10, "/start"))
    tg.push_update(callback_update(11, "m:contact"))
    for _ in range(100):
        if len(tg.sent(CHAT)) >= 2 and tg.calls_to("answerCallbackQuery"):
            break
        await asyncio.sleep(0.05)
    await tele.drain()
    assert "Xin chào" in tg.sent_texts(CHAT)[0]
    assert app.config.contact.hotline in tg.sent_texts(CHAT)[1]
    # no webhook response to carry it: the press is answered by a request of its own
    assert [c.params["callback_query_id"] for c in tg.calls_to("answerCallbackQuery")] == ["cq11"]
    await app.stop()
    assert tg.calls_to("getUpdates")


async def test_set_and_delete_webhook_commands(tg, tmp_path, sqlite_url):
    from bot.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[province]\nname = "Tỉnh Thử"\n[database]\nurl = "{sqlite_url}"\n'
        f'[web]\npublic_url = "https://bot.tinh.gov.vn"\n'
        f'[telegram]\nenabled = true\ntoken = "{tg.token}"\nwebhook_secret = "{TG_SECRET}"\n'
        f'api_base_url = "{tg.api_base_url}"\n', encoding="utf-8")
    code = await asyncio.to_thread(main, ["--config", str(cfg), "telegram", "set-webhook"])
    assert code == 0
    assert tg.webhook == {"url": "https://bot.tinh.gov.vn/webhooks/telegram", "secret_token": TG_SECRET}
    assert await asyncio.to_thread(main, ["--config", str(cfg), "telegram", "delete-webhook"]) == 0
    assert tg.webhook == {"url": ""}
