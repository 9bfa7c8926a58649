"""One scripted conversation on every channel (web, console, Telegram, Zalo OA, Zalo Bot):
each platform renders it its own way (buttons, numbered text), and read back as plain text
every channel shows the same content."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

from bot.channels.console import ConsoleChannel
from bot.messages import Choice, Link, Reply
from tests.channels.conftest import OA_SECRET_KEY, TG_SECRET, ZB_SECRET, channel
from tests.fakes.telegram import FakeTelegram, callback_update, text_update
from tests.fakes.zalo import signed_event, text_event
from tests.fakes.zalo_bot import text_update as zb_text

# ("start",) | ("say", text) | ("choose", button label)
SCRIPT = [
    ("start",),
    ("choose", "Liên hệ / đường dây nóng"),
    ("say", "hướng dẫn"),
    ("say", "xin chào bot"),
    ("choose", "Hướng dẫn"),
    ("say", "Hủy"),
    ("say", "menu"),
]

NUMBERED = re.compile(r"^(\d+)\. (.+)$")


def number_of(label: str, text: str) -> str:
    """The number a text-only channel showed for ``label`` in its last list."""
    for line in reversed(text.splitlines()):
        m = NUMBERED.match(line.strip())
        if m and m.group(2) == label:
            return m.group(1)
    raise AssertionError(f"{label!r} is not offered in {text!r}")


def as_text(text: str, choices: list[tuple[str, str]], links: list[tuple[str, str]]) -> str:
    return Reply(text, tuple(Choice(label, p) for label, p in choices),
                 tuple(Link(label, url) for label, url in links)).as_text()


async def run_web(client) -> list[str]:
    out: list[str] = []
    after = 0
    offered: dict[str, str] = {}
    for step in SCRIPT:
        body: dict[str, Any] = {"after": after}
        if step[0] == "start":
            body["event"] = "start"
        elif step[0] == "say":
            body["text"] = step[1]
        else:
            body["choice"] = offered[step[1]]
        data = await (await client.post("/api/chat", json=body)).json()
        after = data["last_id"]
        for m in data["messages"]:
            choices = [(c["label"], c["payload"]) for c in m["choices"]]
            out.append(as_text(m["text"], choices, [(x["label"], x["url"]) for x in m["links"]]))
            if choices:
                offered = dict(choices)
    return out


async def run_console(app) -> list[str]:
    buf = io.StringIO()
    steps = list(SCRIPT[1:])  # the console sends the start event itself

    def read() -> str:
        if not steps:
            raise EOFError
        kind, value = steps.pop(0)
        return number_of(value, buf.getvalue()) if kind == "choose" else value

    await ConsoleChannel(app.core.handle, user="contract", read=read, out=buf).run()
    blocks = [b for b in buf.getvalue().split("Bot: ") if b.strip()]
    return [b.rstrip("\n").replace("\n     ", "\n") for b in blocks]


async def run_telegram(app, client, tg: FakeTelegram) -> list[str]:
    chat, out, seen, offered = 6660001, [], 0, {}
    for n, step in enumerate(SCRIPT, 1):
        if step[0] == "start":
            update = text_update(n, "/start", chat)
        elif step[0] == "say":
            update = text_update(n, step[1], chat)
        else:
            update = callback_update(n, offered[step[1]], chat)
        await client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        await channel(app, "telegram").drain()
        for call in tg.sent(chat)[seen:]:
            buttons = [b for row in FakeTelegram.keyboard(call) for b in row]
            choices = [(b["text"], b["callback_data"]) for b in buttons if "callback_data" in b]
            links = [(b["text"], b["url"]) for b in buttons if "url" in b]
            out.append(as_text(call.params["text"], choices, links))
            if choices:
                offered = dict(choices)
        seen = len(tg.sent(chat))
    return out


async def run_zalo_oa(app, client, zoa) -> list[str]:
    user, out = "1357924680", []
    for n, step in enumerate(SCRIPT, 1):
        if step[0] == "start":
            event = {"oa_id": "oa", "follower": {"id": user}, "event_name": "follow",
                     "app_id": zoa.app_id, "timestamp": str(1767225600000 + n)}
        else:
            text = step[1] if step[0] == "say" else number_of(step[1], out[-1] if out else "")
            event = text_event(user, text, f"c-{n}", app_id=zoa.app_id)
        raw, headers = signed_event(event, zoa.app_id, OA_SECRET_KEY)
        await client.post("/webhooks/zalo-oa", data=raw, headers=headers)
        await channel(app, "zalo_oa").drain()
        out = zoa.sent_texts(user)
    return out


async def run_zalo_bot(app, client, zbot) -> list[str]:
    chat, out = "contract-zb", []
    for n, step in enumerate(SCRIPT, 1):
        text = "/start" if step[0] == "start" else step[1] if step[0] == "say" else number_of(step[1], out[-1])
        await client.post("/webhooks/zalo-bot", json=zb_text(chat, text, f"zb-{n}"),
                          headers={"X-Bot-Api-Secret-Token": ZB_SECRET})
        await channel(app, "zalo_bot").drain()
        out = zbot.sent_texts(chat)
    return out


async def test_same_conversation_same_content_on_every_channel(platforms, tg, zoa, zbot):
    app, client = platforms
    transcripts = {
        "web": await run_web(client),
        "console": await run_console(app),
        "telegram": await run_telegram(app, client, tg),
        "zalo_oa": await run_zalo_oa(app, client, zoa),
        "zalo_bot": await run_zalo_bot(app, client, zbot),
    }
    web = transcripts["web"]
    # the script did what it meant to: greeting, contact, help twice, not understood, cancel
    assert "Xin chào" in web[0]
    assert app.config.contact.hotline in web[1]
    assert sum("Hướng dẫn sử dụng" in t for t in web) == 2
    assert len(web) == len(SCRIPT)
    for name, transcript in transcripts.items():
        assert transcript == web, f"{name} differs from the web chat"
    await asyncio.sleep(0)
