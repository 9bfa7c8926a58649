"""Zalo OA over real HTTP: signed webhooks, sending, error codes, tokens, the window."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.channels.base import Reachability, SendError
from bot.channels.zalo_oa import ZaloOAChannel
from bot.messages import Choice, ConversationKey, Reply
from bot.notify import Delivery
from storage.models import ChannelIdentity, InboxUpdate, MessageLog
from storage.repos.channels import ChannelInbox, ZaloTokens
from tests.channels.conftest import OA_SECRET_KEY, channel, channel_sections
from tests.fakes.zalo import signed_event, text_event

USER = "2468013579"
KEY = ConversationKey("zalo_oa", USER, USER)


async def post_event(client, event, *, secret=OA_SECRET_KEY, app_id="4100000000000000001", headers=None):
    raw, hdrs = signed_event(event, app_id, secret)
    if headers is not None:
        hdrs = headers
    return await client.post("/webhooks/zalo-oa", data=raw, headers=hdrs)


async def count(app, model, *where) -> int:
    async with app.db.unit_of_work() as uow:
        return (await uow.session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_signed_text_is_acknowledged_then_answered(platforms, zoa):
    app, client = platforms
    resp = await post_event(client, text_event(USER, "menu", "m-1"))
    assert resp.status == 200
    await channel(app, "zalo_oa").drain()
    texts = zoa.sent_texts(USER)
    assert len(texts) == 1
    # choices are a numbered list the citizen can answer with a number or the label
    assert _numbered("Hướng dẫn", texts[0]) and _numbered("Liên hệ / đường dây nóng", texts[0])
    assert zoa.sends(USER)[0].headers["access_token"] == "at-0"
    assert await count(app, InboxUpdate, InboxUpdate.done_at.is_not(None)) == 1

    await post_event(client, text_event(USER, _number_of("Liên hệ / đường dây nóng", texts[0]), "m-2"))
    await channel(app, "zalo_oa").drain()
    assert app.config.contact.hotline in zoa.sent_texts(USER)[-1]


async def test_numbers_run_on_across_the_messages_of_one_answer(platforms, zoa):
    """A card and "Nếu chưa đúng thủ tục…" come as two messages: the second one's list goes
    on from the card's numbers, and the number it shows opens that procedure."""
    app, client = platforms
    await post_event(client, text_event(USER, "dang ky khai sinh", "m-1"))
    await channel(app, "zalo_oa").drain()
    card, others = zoa.sent_texts(USER)
    assert "Mã thủ tục: 1.001193" in card and _number_of("Hồ sơ cần chuẩn bị", card) == "1"
    number = _number_of("Thủ tục đăng ký lại khai sinh", others)
    assert int(number) > int(_number_of("Menu", card))
    await post_event(client, text_event(USER, number, "m-2"))
    await channel(app, "zalo_oa").drain()
    assert "Mã thủ tục: 1.004884" in zoa.sent_texts(USER)[-1]


@pytest.mark.parametrize("how", ["bad", "missing", "other_secret", "tampered"])
async def test_bad_signature_is_refused_and_nothing_is_stored(platforms, zoa, how):
    app, client = platforms
    event = text_event(USER, "menu", "m-1")
    if how == "bad":
        raw, headers = signed_event(event, "4100000000000000001", OA_SECRET_KEY)
        headers["X-ZEvent-Signature"] = "mac=" + "0" * 64
        resp = await client.post("/webhooks/zalo-oa", data=raw, headers=headers)
    elif how == "missing":
        resp = await client.post("/webhooks/zalo-oa", data=json.dumps(event), headers={"Content-Type": "application/json"})
    elif how == "other_secret":
        resp = await post_event(client, event, secret="not-the-secret")
    else:  # signed, then the body changed on the way
        raw, headers = signed_event(event, "4100000000000000001", OA_SECRET_KEY)
        resp = await client.post("/webhooks/zalo-oa", data=raw.replace(b"menu", b"xoa "), headers=headers)
    assert resp.status == 401
    await channel(app, "zalo_oa").drain()
    assert await count(app, InboxUpdate) == 0
    assert await count(app, MessageLog) == 0
    assert zoa.sends() == []


async def test_duplicate_deliveries_are_handled_once(platforms, zoa):
    app, client = platforms
    event = text_event(USER, "menu", "dup-1")
    answers = await asyncio.gather(*(post_event(client, event) for _ in range(3)))
    assert [r.status for r in answers] == [200, 200, 200]
    await channel(app, "zalo_oa").drain()
    await post_event(client, event)  # Zalo's retry 30 s later
    await channel(app, "zalo_oa").drain()
    assert await count(app, InboxUpdate) == 1
    assert await count(app, MessageLog, MessageLog.direction == "in") == 1
    assert len(zoa.sent_texts(USER)) == 1


async def test_unknown_and_echo_events_are_acknowledged_and_ignored(platforms, zoa):
    app, client = platforms
    unknown = {"app_id": "4100000000000000001", "event_name": "shop_has_order", "sender": {"id": USER},
               "timestamp": "1767225600000"}
    echo = {"app_id": "4100000000000000001", "event_name": "oa_send_text", "sender": {"id": "oa"},
            "recipient": {"id": USER}, "message": {"text": "x", "msg_id": "e1"}, "timestamp": "1767225600000"}
    assert (await post_event(client, unknown)).status == 200
    assert (await post_event(client, echo)).status == 200
    await channel(app, "zalo_oa").drain()
    assert await count(app, InboxUpdate) == 0
    assert zoa.sends() == []


async def test_follow_greets_and_unfollow_marks_unreachable(platforms, zoa):
    app, client = platforms
    follow = {"oa_id": "oa", "follower": {"id": USER}, "event_name": "follow", "app_id": "4100000000000000001",
              "timestamp": "1767225600000"}
    await post_event(client, follow)
    await channel(app, "zalo_oa").drain()
    assert "Xin chào" in zoa.sent_texts(USER)[0]
    await post_event(client, {**follow, "event_name": "unfollow", "timestamp": "1767229200000"})
    await channel(app, "zalo_oa").drain()
    zalo = channel(app, "zalo_oa")
    assert await zalo.reachability(KEY) is Reachability.UNREACHABLE
    assert len(zoa.sent_texts(USER)) == 1  # nothing sent after the unfollow


async def test_image_out_is_a_media_attachment_and_long_text_is_split(platforms, zoa):
    app, client = platforms
    zalo = channel(app, "zalo_oa")
    from bot.messages import OutAttachment

    long = "\n\n".join(f"Đoạn {i}: " + "giấy tờ cần nộp " * 20 for i in range(12))
    await zalo.send(KEY, [Reply(long, choices=(Choice("Có", "y"), Choice("Không", "n")),
                                attachments=(OutAttachment("image", "https://example.gov.vn/mau.png"),))])
    messages = zoa.sent_messages(USER)
    media = messages[0]["attachment"]["payload"]
    assert media["template_type"] == "media" and media["elements"][0]["url"] == "https://example.gov.vn/mau.png"
    texts = [m["text"] for m in messages[1:]]
    assert len(texts) > 1 and all(len(t) <= 2000 for t in texts)
    assert texts[-1].endswith("1. Có\n2. Không")
    assert all(t.startswith("Đoạn ") for t in texts)  # cut at paragraph boundaries
    assert " ".join(" ".join(texts).split()) == " ".join((long + " 1. Có 2. Không").split())


# -- error codes ---------------------------------------------------------------------------------

async def _known_citizen(app, client, zoa):
    await post_event(client, text_event(USER, "xin chào", "hello-1"))
    await channel(app, "zalo_oa").drain()
    zoa.calls.clear()


async def test_no_interaction_for_7_days_is_permanent_and_marks_the_identity(platforms, zoa):
    app, client = platforms
    await _known_citizen(app, client, zoa)
    zoa.user_errors[USER] = -230
    result = await app.services.notifier.deliver(KEY, [Reply("Hồ sơ của bạn đã có kết quả.")])
    assert result.status is Delivery.UNREACHABLE and result.detail == "zalo_window_closed"
    assert await count(app, ChannelIdentity, ChannelIdentity.user_id == USER,
                       ChannelIdentity.reachable.is_(False)) == 1
    # no template configured: unreachable; with a template the core may still use it
    assert await channel(app, "zalo_oa").reachability(KEY) is Reachability.UNREACHABLE


async def test_night_ban_error_retries_after_the_morning(platforms, zoa, clock):
    from datetime import datetime, timezone

    app, client = platforms
    await _known_citizen(app, client, zoa)
    # 21:30 in Viet Nam: before the configured ban (22:00), yet Zalo answers -234 (its clock,
    # or a ban that starts earlier): retry when the ban ends
    clock.set(datetime(2026, 11, 2, 14, 30, tzinfo=timezone.utc))
    zoa.fail_next(-234)
    result = await app.services.notifier.deliver(KEY, [Reply("Nhắc lịch hẹn")])
    assert len(zoa.sends(USER)) == 1
    assert result.status is Delivery.FAILED and result.detail == "zalo_night_ban"
    assert result.retry_after == 8.5 * 3600  # until 06:00 local


@pytest.mark.parametrize("ban_start, held", [("22:00", True), ("23:00", False)])
async def test_proactive_messages_wait_for_the_end_of_the_night_ban(make_app, sqlite_url, zoa, clock, serve,
                                                                    ban_start, held):
    """Zalo refuses OA messages at night (-234, zalo_oa.night_ban_start–night_ban_end): the
    outbox does not try inside that window, even when its own quiet hours allow it, and sends
    at its end; replies to a citizen who writes at night are not held."""
    from datetime import datetime, timezone

    from storage.models.outbox import OutboxMessage

    app = make_app(sqlite_url, **channel_sections(zoa=zoa, zalo_oa={"night_ban_start": ban_start}),
                   outbox={"quiet_start": "00:00", "quiet_end": "00:00"})  # no quiet hours of its own
    client = await serve(app)
    clock.set(datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc))  # 15:00 local
    await _known_citizen(app, client, zoa)
    async with app.db.unit_of_work() as uow:
        citizen_id = (await uow.citizens.identity("zalo_oa", USER)).citizen_id
    clock.set(datetime(2026, 11, 2, 15, 30, tzinfo=timezone.utc))  # 22:30 local
    async with app.db.unit_of_work() as uow:
        await app.services.outbox.enqueue(uow, citizen_id=citizen_id, kind="status", now=clock.now(),
                                          replies=[Reply("Hồ sơ của bạn đã có kết quả.")])
    await app.services.outbox.drain()
    if not held:
        assert zoa.sent_texts(USER) == ["Hồ sơ của bạn đã có kết quả."]
        return
    assert zoa.sends(USER) == []  # Zalo not even asked
    async with app.db.unit_of_work() as uow:
        row = (await uow.session.execute(select(OutboxMessage))).scalar_one()
    assert row.status == "pending" and row.last_error == "zalo_night_ban" and row.attempts == 1
    morning = datetime(2026, 11, 2, 23, 0, tzinfo=timezone.utc)  # 06:00 local
    assert row.not_before.replace(tzinfo=timezone.utc) == morning
    await post_event(client, text_event(USER, "menu", "night-1"))  # the citizen writes at night
    await channel(app, "zalo_oa").drain()
    assert len(zoa.sends(USER)) == 1  # answered at once
    clock.set(morning - timedelta(minutes=1))
    await app.services.outbox.drain()
    assert "Hồ sơ của bạn đã có kết quả." not in zoa.sent_texts(USER)
    clock.set(morning)
    await app.services.outbox.drain()
    assert "Hồ sơ của bạn đã có kết quả." in zoa.sent_texts(USER)


async def test_rate_limit_asks_to_wait(platforms, zoa):
    app, client = platforms
    await _known_citizen(app, client, zoa)
    zoa.fail_next(-32)
    result = await app.services.notifier.deliver(KEY, [Reply("x")])
    assert result.status is Delivery.FAILED and result.retry_after == 60


async def test_rejected_token_is_refreshed_once_and_the_send_retried(platforms, zoa):
    app, client = platforms
    await _known_citizen(app, client, zoa)
    zoa.expire_access_tokens()
    result = await app.services.notifier.deliver(KEY, [Reply("Kết quả đã có.")])
    assert result.status is Delivery.SENT
    assert len(zoa.token_calls) == 1
    assert [c.headers["access_token"] for c in zoa.sends(USER)] == ["at-0", "at-1"]
    async with app.db.unit_of_work() as uow:
        pair = await uow.repo(ZaloTokens).get(zoa.app_id)
    assert (pair.access_token, pair.refresh_token) == ("at-1", "rt-1")


# -- tokens ----------------------------------------------------------------------------------------

async def test_concurrent_refreshes_make_one_call(make_app, db_url, zoa, clock):
    zoa.refresh_delay = 0.2
    app = make_app(db_url, **channel_sections(zoa=zoa))
    await app.start()
    first: ZaloOAChannel = channel(app, "zalo_oa")
    # a second worker process: its own channel object, same database
    second = ZaloOAChannel(app.core.handle, app.db, clock, app.config)
    try:
        clock.advance(hours=2)  # the seeded access token (trusted 1 h) is due
        tokens = await asyncio.gather(first.tokens.access_token(), first.tokens.access_token(),
                                      second.tokens.access_token(), second.tokens.access_token())
        assert tokens == ["at-1"] * 4
        assert len(zoa.token_calls) == 1
        assert zoa.used_refresh == ["rt-0"]
        # a restarted process reads the stored pair: no refresh
        third = ZaloOAChannel(app.core.handle, app.db, clock, app.config)
        await third.start()
        assert await third.tokens.access_token() == "at-1"
        assert len(zoa.token_calls) == 1
        # refreshed early: 60 min before the 25 h expiry, not after it
        clock.advance(hours=24, minutes=1)
        assert await third.tokens.access_token() == "at-2"
        assert zoa.used_refresh == ["rt-0", "rt-1"]
        await third.stop()
    finally:
        await second.stop()


async def test_refresh_failure_is_a_send_error_and_keeps_the_pair(make_app, sqlite_url, zoa, clock):
    zoa.valid_refresh.clear()  # the stored refresh token was revoked
    app = make_app(sqlite_url, **channel_sections(zoa=zoa))
    await app.start()
    clock.advance(hours=2)
    with pytest.raises(SendError) as err:
        await channel(app, "zalo_oa").tokens.access_token()
    assert err.value.code == "zalo_token_refresh_failed"
    async with app.db.unit_of_work() as uow:
        assert (await uow.repo(ZaloTokens).get(zoa.app_id)).refresh_token == "rt-0"


# -- messaging window -------------------------------------------------------------------------------

@pytest.mark.parametrize("template", ["", "tpl-2981"])
async def test_reachability_follows_the_messaging_window(make_app, sqlite_url, zoa, clock, serve, template):
    app = make_app(sqlite_url, **channel_sections(zoa=zoa, zalo_oa={"template_id": template}))
    client = await serve(app)
    zalo: ZaloOAChannel = channel(app, "zalo_oa")
    assert await zalo.reachability(KEY) is Reachability.UNREACHABLE  # never wrote to us
    await post_event(client, text_event(USER, "xin chào", "w-1"))
    await zalo.drain()
    reach = await zalo.reach(KEY)
    assert reach.reachability is Reachability.DIRECT and not reach.paid
    clock.advance(hours=72)
    reach = await zalo.reach(KEY)
    assert reach.reachability is Reachability.DIRECT and reach.paid
    clock.advance(days=5)
    expected = Reachability.TEMPLATE if template else Reachability.UNREACHABLE
    assert await zalo.reachability(KEY) is expected
    if template:
        result = await zalo.send_template(KEY, template, {"ma_ho_so": "000.00.01.H50-250101-0001"})
        assert len(result.message_ids) == 1 and result.message_ids[0].startswith("zns")
        call = zoa.calls_to("message/template")[0]
        assert call.params["template_id"] == "tpl-2981" and call.params["user_id"] == USER
        assert call.params["template_data"] == {"ma_ho_so": "000.00.01.H50-250101-0001"}


async def test_extended_window_can_be_turned_off(make_app, sqlite_url, zoa, clock, serve):
    app = make_app(sqlite_url, **channel_sections(zoa=zoa, zalo_oa={"use_extended_window": False,
                                                                    "template_id": "tpl"}))
    client = await serve(app)
    await post_event(client, text_event(USER, "xin chào", "w-1"))
    await channel(app, "zalo_oa").drain()
    clock.advance(hours=49)
    assert await channel(app, "zalo_oa").reachability(KEY) is Reachability.TEMPLATE


# -- crash between acknowledgement and handling ----------------------------------------------------

async def test_an_update_left_unhandled_is_handled_by_the_inbox_job(platforms, zoa, clock):
    app, _client = platforms
    event = text_event(USER, "menu", "lost-1")
    async with app.db.unit_of_work() as uow:  # stored and acknowledged, then the process died
        await uow.repo(ChannelInbox).accept("zalo_oa", "lost-1", event, clock.now(), timedelta(minutes=2))
    await app.scheduler.run_once("zalo_oa.inbox")
    assert zoa.sends() == []  # still leased to the process that accepted it
    clock.advance(minutes=3)
    await app.scheduler.run_once("zalo_oa.inbox")
    assert len(zoa.sent_texts(USER)) == 1
    assert await count(app, InboxUpdate, InboxUpdate.done_at.is_not(None)) == 1
    clock.advance(minutes=3)
    await app.scheduler.run_once("zalo_oa.inbox")
    assert len(zoa.sent_texts(USER)) == 1


async def test_webhook_answers_before_the_slow_work(platforms, zoa):
    import asyncio

    app, client = platforms
    # The platform holds every send until released: a webhook that waited for the send
    # would never answer (the time limit is only there to fail instead of hanging; it
    # answers in milliseconds). No timing to guess on a busy machine.
    zoa.send_gate = asyncio.Event()
    resp = await asyncio.wait_for(post_event(client, text_event(USER, "menu", "slow-1")), 30)
    assert resp.status == 200
    # stored before the answer; the row is marked done in the message's own transaction,
    # which may already have committed while the slow send is still under way
    assert zoa.sends() == [] and await count(app, InboxUpdate) == 1
    zoa.send_gate.set()
    await channel(app, "zalo_oa").drain()
    assert len(zoa.sent_texts(USER)) == 1
    assert await count(app, InboxUpdate, InboxUpdate.done_at.is_not(None)) == 1


async def test_outbox_uses_the_template_after_the_window(make_app, sqlite_url, zoa, clock, serve):
    app = make_app(sqlite_url, **channel_sections(zoa=zoa, zalo_oa={"template_id": "tpl-ketqua"}),
                   outbox={"quiet_start": "23:59", "quiet_end": "00:00"})
    client = await serve(app)
    await post_event(client, text_event(USER, "xin chào", "o-1"))
    await channel(app, "zalo_oa").drain()
    async with app.db.unit_of_work() as uow:
        citizen_id = (await uow.citizens.identity("zalo_oa", USER)).citizen_id
    clock.advance(days=10)
    async with app.db.unit_of_work() as uow:
        await app.services.outbox.enqueue(
            uow, citizen_id=citizen_id, kind="status", now=clock.now(),
            replies=[Reply("Hồ sơ của bạn đã có kết quả.")],
            template={"template_id": "tpl-ketqua", "params": {"ma_ho_so": "H50-250101-0001"}})
    await app.services.outbox.drain()
    (call,) = zoa.calls_to("message/template")
    assert call.params["template_id"] == "tpl-ketqua" and call.params["user_id"] == USER
    assert call.params["template_data"] == {"ma_ho_so": "H50-250101-0001"}
    assert "Hồ sơ của bạn đã có kết quả." not in zoa.sent_texts(USER)


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
