"""Hostile input, property-based (hypothesis): random Unicode, control and zero-width
characters, huge messages, emoji, mixed scripts, SQL and HTML/JS injection, forged
buttons, replayed and reordered updates, oversized and mislabelled attachments — through
the core and through the HTTP endpoints (web chat, signed webhooks).

Properties: never a 5xx, never an exception or an ERROR log line, every handled message
gets a reply, the stored state is always one the router knows, a re-delivered update is
handled once, nothing stored comes back as markup.

The suite runs a short pass (``FUZZ_EXAMPLES``, default 40 per property); the long run:
``FUZZ_EXAMPLES=3000 .venv/bin/python -m pytest tests/hardening/test_fuzz.py -p no:randomly``
(about 15 minutes). ``PAYLOADS`` holds every router action and menu entry and the payloads
of the conversation steps; hostile PAKN content on the dashboard and the public page:
``test_pakn_hardening.py``.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels.memory import MemoryChannel
from bot.router import IDLE
from handlers import build_router
from storage.models import ConversationState
from tests.channels.conftest import OA_SECRET_KEY, TG_SECRET, ZB_SECRET
from tests.fakes.telegram import callback_update, message_update, text_update
from tests.fakes.zalo import signed_event

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_SEED" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

INJECTIONS = [
    "' OR 1=1 --", "'; DROP TABLE citizens; --", "Robert'); DELETE FROM message_log;--",
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "\"><svg onload=alert(1)>",
    "{{7*7}}", "${7*7}", "{% raw %}", "javascript:alert(1)", "../../etc/passwd", "%00%0d%0a",
    "\x00", "\u202egnp.exe", "０９１２３４５６７８", "1.004227' UNION SELECT * FROM citizens--",
    "m:kb", "g:cancel", "/start", "/xoadulieu", "xóa dữ liệu của tôi", "Hủy", "Menu", "2", "99", "-1",
]
SPECIAL = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u0301", "\r\n", "\t",
           "👍🏽", "🇻🇳", "👨‍👩‍👧", "ǅ", "ﷺ", "𝔸", "\U0010ffff", "đ", "Đ", "ư̛"]
SCRIPTS = ["Đăng ký khai sinh", "cấp lại cccd", "gplx", "户口", "регистрация", "تسجيل", "ลงทะเบียน",
           "000.00.01.H50-261020-0001", "1.000419"]

texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(INJECTIONS),
    st.lists(st.sampled_from(SPECIAL + SCRIPTS + INJECTIONS), min_size=1, max_size=12).map("".join),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3f), max_size=40),  # controls
    st.integers(3000, 30000).map(lambda n: ("ấ" + "🇻🇳" + "x ") * (n // 5)),  # huge
)
# Every action and menu payload the router knows (so a new handler is fuzzed without editing
# this list), plus the payloads that only a conversation step reads.
_ROUTER = build_router()
STEP_PAYLOADS = ["g:cancel", "g:menu", "kb:f", "kb:f0", "pf:k:phan_anh", "pf:k:complaint", "pf:k:",
                 "pf:s:", "pf:p:", "pf:a:", "pf:e:", "pf:skip", "pf:done", "pf:y", "pf:n", "pf:edit",
                 "pf:send", "pf:c:keep", "pf:ask:prev", "pf:intent:form", "pf:intent:kb", "sv:",
                 "dos:new", "prv:erase", "kb:fld:0:", "kb:fld:1:9"]
PAYLOADS = sorted(set(STEP_PAYLOADS) | set(_ROUTER.actions) | {c.payload for c in _ROUTER.menu_choices()})
payloads = st.one_of(
    st.sampled_from(PAYLOADS),
    st.builds(lambda p, t: (p + t)[:64], st.sampled_from(PAYLOADS), st.text(max_size=60)),
    st.text(max_size=64),
)
ops = st.one_of(
    st.tuples(st.just("say"), texts),
    st.tuples(st.just("press"), payloads),
    st.tuples(st.just("photo"), st.tuples(st.sampled_from(["image/jpeg", "application/x-msdownload",
                                                            "text/html", "", "image/svg+xml"]),
                                          st.integers(-1, 2**40))),
    st.tuples(st.just("event"), st.sampled_from(["start", "follow", "unfollow", "weird", ""])),
    st.tuples(st.just("replay"), st.integers(0, 5)),
)


@pytest.fixture
def errors(caplog):
    caplog.set_level(logging.ERROR)
    return caplog


def _errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


@FUZZ
@given(script=st.lists(ops, min_size=1, max_size=8))
async def test_core_survives_any_conversation(fuzz_chat, errors, script):
    app, chat = fuzz_chat
    sent_ids: list[str] = []
    for op, arg in script:
        fuzz_chat_counter[0] += 1
        uid = f"f{fuzz_chat_counter[0]}"
        if op == "say":
            replies = await chat.say(arg, update_id=uid)
        elif op == "press":
            replies = await chat.press(arg, update_id=uid)
        elif op == "photo":
            mime, size = arg
            replies = await chat.send_photo(f"ref-{uid}", mime_type=mime, size=size)
        elif op == "event":
            replies = await chat.event(arg)
            if arg not in ("start", "follow"):
                assert all(r.text.strip() for r in replies)
                continue  # nothing to say to someone who left, or to an unknown event
        else:  # a re-delivered update: handled once, answered with nothing
            if not sent_ids:
                continue
            replies = await chat.say("lặp lại", update_id=sent_ids[arg % len(sent_ids)])
            assert replies == []
            continue
        if op in ("say", "press"):
            sent_ids.append(uid)
        assert replies, (op, arg)
        for r in replies:
            assert r.text.strip() and "Traceback" not in r.text
            assert all(len(c.payload.encode()) <= 64 for c in r.choices)
    async with app.db.unit_of_work() as uow:
        states = (await uow.session.execute(select(ConversationState.state))).scalars().all()
    assert all(s == IDLE or s in app.router.states for s in states), states
    assert _errors(errors) == []


fuzz_chat_counter = [0]


@pytest.fixture
async def fuzz_chat(app):
    chat = MemoryChannel(app.core.handle)
    app.add_channel(chat)
    from tests.dossiers.conftest import make_record, put

    await put(app, make_record())
    return app, chat


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=8)
chat_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"text": texts | json_values, "choice": payloads | json_values,
                                        "id": st.text(max_size=80) | json_values,
                                        "after": st.integers(-2**70, 2**70) | json_values,
                                        "event": st.sampled_from(["start", "", "x"]) | json_values}),
    json_values,
)


@FUZZ
@given(body=chat_bodies, raw=st.one_of(st.none(), st.binary(max_size=300)),
       cookie=st.one_of(st.none(), st.text(max_size=80)))
async def test_web_chat_api_never_fails(fuzz_http, errors, body, raw, cookie):
    app, client = fuzz_http
    headers = {"Content-Type": "application/json"}
    if cookie is not None:
        headers["Cookie"] = "tthc_sid=" + "".join(ch for ch in cookie if ch.isascii() and ch.isalnum())
    data = raw if raw is not None else json.dumps(body).encode()
    r = await client.post("/api/chat", data=data, headers=headers)
    assert r.status in (200, 400, 413, 429), r.status
    out = await r.json()
    if r.status == 200:
        for m in out["messages"]:
            assert isinstance(m["text"], str)
            assert all(link["url"].startswith(("https://", "http://", "/")) for link in m["links"])
    else:
        assert out["error"]
    r = await client.get("/api/messages", params={"after": str(body)[:30]}, headers=headers)
    assert r.status in (200, 400)
    assert _errors(errors) == []


def _mangle(update: dict, field_value) -> dict:
    """Replace one nested value of a real update shape with an arbitrary one."""
    out = json.loads(json.dumps(update))
    path, value = field_value
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


TG_PATHS = [("message", "text"), ("message", "from", "id"), ("message", "chat", "id"), ("update_id",),
            ("message", "photo"), ("message", "document"), ("message", "location"), ("message", "contact"),
            ("callback_query", "data"), ("message", "date"), ("message",)]


@FUZZ
@given(kind=st.sampled_from(["text", "callback", "photo", "document"]), text=texts, data=payloads,
       mangle=st.one_of(st.none(), st.tuples(st.sampled_from(TG_PATHS), json_values)),
       size=st.integers(-5, 2**41), mime=st.sampled_from(["application/pdf", "image/png", "text/html",
                                                         "application/x-sh", ""]))
async def test_telegram_webhook_never_fails(fuzz_http, errors, kind, text, data, mangle, size, mime):
    app, client = fuzz_http
    fuzz_chat_counter[0] += 1
    uid = 10_000 + fuzz_chat_counter[0]
    if kind == "text":
        update = text_update(uid, text)
    elif kind == "callback":
        update = callback_update(uid, data)
    elif kind == "photo":
        update = message_update(uid, photo=[{"file_id": "p", "file_unique_id": "u", "width": 10**6,
                                             "height": -1, "file_size": size}], caption=text[:100])
    else:
        update = message_update(uid, document={"file_id": "d", "file_unique_id": "v", "file_name": text[:300],
                                               "mime_type": mime, "file_size": size})
    if mangle is not None:
        update = _mangle(update, mangle)
    r = await client.post("/webhooks/telegram", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert r.status in (200, 400, 413), r.status
    await app.services.channels.get("telegram").drain()
    assert _errors(errors) == []


@FUZZ
@given(event_name=st.sampled_from(["user_send_text", "user_send_image", "user_send_file", "follow",
                                   "user_send_location", "user_submit_info", "nonsense"]),
       text=texts, mangle=st.one_of(st.none(), st.tuples(
           st.sampled_from([("message", "text"), ("sender", "id"), ("timestamp",), ("message",),
                            ("message", "attachments"), ("event_name",)]), json_values)))
async def test_zalo_webhooks_never_fail(fuzz_http, errors, event_name, text, mangle):
    app, client = fuzz_http
    fuzz_chat_counter[0] += 1
    event = {"app_id": "4100000000000000001", "event_name": event_name, "sender": {"id": "9001"},
             "recipient": {"id": "oa-1"}, "timestamp": "1767225600000",
             "message": {"text": text, "msg_id": f"z{fuzz_chat_counter[0]}"}}
    if mangle is not None:
        event = _mangle(event, mangle)
    raw, headers = signed_event(event, "4100000000000000001", OA_SECRET_KEY)
    r = await client.post("/webhooks/zalo-oa", data=raw, headers=headers)
    assert r.status in (200, 400, 413), r.status
    zb = {"ok": True, "result": {"event_name": "message.text.received",
                                 "message": {"from": {"id": "z1"}, "chat": {"id": "z1"}, "text": text,
                                             "message_id": f"b{fuzz_chat_counter[0]}", "date": 1}}}
    if mangle is not None:
        zb = _mangle(zb, mangle)
    r = await client.post("/webhooks/zalo-bot", json=zb, headers={"X-Bot-Api-Secret-Token": ZB_SECRET})
    assert r.status in (200, 400, 413), r.status
    for name in ("zalo_oa", "zalo_bot"):
        await app.services.channels.get(name).drain()
    assert _errors(errors) == []


@settings(max_examples=max(EXAMPLES // 4, 10), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(list(range(8))), dups=st.lists(st.integers(0, 7), max_size=6))
async def test_replayed_and_reordered_updates_are_handled_once(fuzz_http, order, dups):
    app, client = fuzz_http
    tg = fuzz_http_fakes["tg"]
    fuzz_chat_counter[0] += 1
    user_id = 880_000 + fuzz_chat_counter[0]
    base = 500_000 + fuzz_chat_counter[0] * 100
    before = len(tg.calls_to("sendMessage"))
    for i in list(order) + list(dups):
        r = await client.post("/webhooks/telegram", json=text_update(base + i, "menu", user_id=user_id),
                              headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert r.status == 200
    await app.services.channels.get("telegram").drain()
    sends = [c for c in tg.calls_to("sendMessage")[before:] if str(c.params.get("chat_id")) == str(user_id)]
    assert len(sends) == 8  # one menu per distinct update, none for the re-deliveries


fuzz_http_fakes: dict = {}


@pytest.fixture
async def fuzz_http(everything, tg):
    fuzz_http_fakes["tg"] = tg
    return everything


async def test_stored_text_is_never_rendered_as_markup(everything):
    """What a citizen typed comes back from the web chat API as data, and the page renders
    it with textContent only (no innerHTML anywhere in the client)."""
    app, client = everything
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    r = await client.post("/api/chat", json={"text": evil})
    assert r.status == 200
    page = await (await client.get("/")).text()
    assert evil not in page and "<script>alert" not in page
    assert "script-src 'self'" in (await client.get("/")).headers["Content-Security-Policy"]
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "bot/web/static/chat.js").read_text()
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
