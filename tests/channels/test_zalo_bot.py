"""Zalo Bot platform over real HTTP: webhook (wrapped and bare), numbered text, polling."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.channels.base import Reachability
from bot.messages import ConversationKey, Reply
from bot.notify import Delivery
from storage.models import InboxUpdate
from tests.channels.conftest import ZB_SECRET, channel, channel_sections
from tests.fakes.zalo_bot import text_update

CHAT = "e4ea2cd5189df1c3a88c"
KEY = ConversationKey("zalo_bot", CHAT, CHAT)


async def post(client, body, secret=ZB_SECRET):
    headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await client.post("/webhooks/zalo-bot", json=body, headers=headers)


@pytest.mark.parametrize("wrapped", [True, False])
async def test_webhook_wrapped_or_bare_gets_numbered_choices(platforms, zbot, wrapped):
    app, client = platforms
    assert (await post(client, text_update(CHAT, "menu", "zm-1", wrapped=wrapped))).status == 200
    await channel(app, "zalo_bot").drain()
    (text,) = zbot.sent_texts(CHAT)
    assert _numbered("Hướng dẫn", text) and _numbered("Liên hệ / đường dây nóng", text)
    await post(client, text_update(CHAT, _number_of("Liên hệ / đường dây nóng", text), "zm-2", wrapped=wrapped))
    await channel(app, "zalo_bot").drain()
    assert app.config.contact.hotline in zbot.sent_texts(CHAT)[-1]


async def test_numbers_run_on_across_the_messages_of_one_answer(platforms, zbot):
    app, client = platforms
    await post(client, text_update(CHAT, "dang ky khai sinh", "zm-1"))
    await channel(app, "zalo_bot").drain()
    card, others = zbot.sent_texts(CHAT)
    number = _number_of("Thủ tục đăng ký lại khai sinh", others)
    assert int(number) > int(_number_of("Menu", card))
    await post(client, text_update(CHAT, number, "zm-2"))
    await channel(app, "zalo_bot").drain()
    assert "Mã thủ tục: 1.004884" in zbot.sent_texts(CHAT)[-1]


@pytest.mark.parametrize("secret", [None, "wrong-secret-1"])
async def test_bad_secret_is_refused(platforms, zbot, secret):
    app, client = platforms
    assert (await post(client, text_update(CHAT, "menu", "zm-1"), secret=secret)).status == 401
    await channel(app, "zalo_bot").drain()
    async with app.db.unit_of_work() as uow:
        assert (await uow.session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one() == 0
    assert zbot.sent_texts() == []


async def test_duplicate_is_handled_once(platforms, zbot):
    app, client = platforms
    for _ in range(2):
        await post(client, text_update(CHAT, "menu", "same-id"))
    await channel(app, "zalo_bot").drain()
    assert len(zbot.sent_texts(CHAT)) == 1


async def test_text_over_2000_characters_is_split(platforms, zbot):
    app, _ = platforms
    text = "\n\n".join("Giấy tờ cần chuẩn bị gồm bản sao căn cước. " * 8 for _ in range(12))
    await channel(app, "zalo_bot").send(KEY, [Reply(text)])
    sent = zbot.sent_texts(CHAT)
    assert len(sent) >= 2 and all(1 <= len(t) <= 2000 for t in sent)


async def test_blocked_user_is_unreachable(platforms, zbot):
    app, client = platforms
    await post(client, text_update(CHAT, "menu", "zm-1"))
    await channel(app, "zalo_bot").drain()
    zbot.blocked.add(CHAT)
    result = await app.services.notifier.deliver(KEY, [Reply("x")])
    assert result.status is Delivery.UNREACHABLE
    assert await channel(app, "zalo_bot").reachability(KEY) is Reachability.UNREACHABLE


async def test_polling_deletes_the_webhook_and_answers(make_app, sqlite_url, zbot):
    zbot.webhook = {"url": "https://old.example/hook"}
    app = make_app(sqlite_url, **channel_sections(zbot=zbot, zalo_bot={"mode": "polling", "poll_timeout_seconds": 1}))
    await app.start()
    bot = channel(app, "zalo_bot")
    assert bot.routes() == []
    assert zbot.calls_to("deleteWebhook")
    zbot.push_update(text_update(CHAT, "menu", "poll-1")["result"])
    for _ in range(100):
        if zbot.sent_texts(CHAT):
            break
        await asyncio.sleep(0.05)
    await bot.drain()
    assert _numbered("Hướng dẫn", zbot.sent_texts(CHAT)[0])
    await app.stop()


async def test_set_webhook_command(zbot, tmp_path, sqlite_url):
    from bot.cli import main

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[province]\nname = "Tỉnh Thử"\n[database]\nurl = "{sqlite_url}"\n'
        f'[web]\npublic_url = "https://bot.tinh.gov.vn/"\n'
        f'[zalo_bot]\nenabled = true\ntoken = "{zbot.token}"\nwebhook_secret = "{ZB_SECRET}"\n'
        f'api_base_url = "{zbot.base_url}"\n', encoding="utf-8")
    assert await asyncio.to_thread(main, ["--config", str(cfg), "zalo-bot", "set-webhook"]) == 0
    assert zbot.webhook == {"url": "https://bot.tinh.gov.vn/webhooks/zalo-bot", "secret_token": ZB_SECRET}


def _numbered(label: str, text: str) -> bool:
    """``label`` is shown as a numbered choice ("N. label") in ``text``."""
    import re as _re

    return _re.search(rf"^\d+\. {_re.escape(label)}$", text, _re.M) is not None


def _number_of(label: str, text: str) -> str:
    """The number a numbered list in ``text`` shows for ``label``."""
    import re as _re

    m = _re.search(rf"^(\d+)\. {_re.escape(label)}$", text, _re.M)
    assert m, f"{label!r} not offered in {text!r}"
    return m.group(1)
