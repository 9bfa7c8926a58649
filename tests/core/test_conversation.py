"""Conversations driven through the real router and core, with an in-memory channel."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.errors import UserFacingError
from bot.messages import Choice, Incoming
from bot.router import CANCEL_CHOICE, MENU_CHOICE, Context, Router
from tests.conftest import payloads_of, texts_of

# A small two-step flow used to exercise the core from inside a flow.
flow = Router("test-flow")


@flow.menu_entry("ask", "Đặt câu hỏi thử", order=5)
async def start(ctx: Context, msg: Incoming) -> None:
    ctx.goto("t.name", {"step": 1})
    ctx.reply("Bạn tên là gì?", [CANCEL_CHOICE])


@flow.state("t.name")
async def got_name(ctx: Context, msg: Incoming) -> None:
    if msg.text == "boom":
        raise RuntimeError("handler bug 0912345678")
    if msg.text == "sai":
        raise UserFacingError("Tên không hợp lệ, vui lòng nhập lại.")
    ctx.data["name"] = msg.text
    ctx.goto("t.color")
    ctx.reply(f"Chào {msg.text}. Bạn thích màu nào?", [Choice("Đỏ", "t:red"), Choice("Xanh", "t:blue")])


@flow.state("t.color")
async def got_color(ctx: Context, msg: Incoming) -> None:
    ctx.reply(f"{ctx.data['name']} chọn {msg.choice or msg.text}.")
    ctx.end()


@pytest.fixture
async def fchat(app, chat):
    app.router.include(flow)
    return chat


async def test_start_shows_menu_with_help_and_contact(chat):
    replies = await chat.event("start")
    assert "Xin chào" in texts_of(replies)
    assert {"m:help", "m:contact"} <= set(payloads_of(replies))


async def test_menu_entry_by_number_label_and_button(chat, app):
    menu = await chat.say("menu")
    number = payloads_of(menu).index("m:contact") + 1
    by_number = await chat.say(str(number))
    assert app.config.contact.hotline in texts_of(by_number)
    by_label = await chat.say("hướng dẫn")
    assert "Hướng dẫn sử dụng" in texts_of(by_label)
    by_prefix = await chat.say("lien he")
    assert app.config.contact.hotline in texts_of(by_prefix)
    by_button = await chat.press("m:help")
    assert "Hướng dẫn sử dụng" in texts_of(by_button)


async def test_flow_keeps_state_between_messages(fchat):
    await fchat.press("m:ask")
    assert "Chào An" in texts_of(await fchat.say("An"))
    assert texts_of(await fchat.say("1")) == "An chọn t:red."


@pytest.mark.parametrize("word", ["Hủy", "huy", "HỦY", "/huy"])
async def test_cancel_from_inside_a_flow(fchat, word):
    await fchat.press("m:ask")
    replies = await fchat.say(word)
    assert "Đã hủy" in texts_of(replies)
    assert "m:help" in payloads_of(replies)
    # the flow is over: a name is now free text, not an answer to the flow
    assert "Chào" not in texts_of(await fchat.say("An"))


async def test_cancel_button_and_menu_word_from_any_state(fchat):
    await fchat.press("m:ask")
    assert "Đã hủy" in texts_of(await fchat.press("g:cancel"))
    await fchat.press("m:ask")
    await fchat.say("Bình")
    replies = await fchat.say("Menu")  # typed mid-flow: the flow is dropped, and the citizen told
    assert "m:ask" in payloads_of(replies) and "Đã hủy thao tác đang làm" in texts_of(replies)
    assert "Đã hủy" not in texts_of(await fchat.say("menu"))  # nothing was going on
    assert "Chào" not in texts_of(await fchat.say("2"))


async def test_idle_timeout_resets_the_flow(fchat, clock, app):
    await fchat.press("m:ask")
    clock.advance(minutes=app.config.conversation.idle_timeout_minutes + 1)
    replies = await fchat.say("An")
    assert "hết hạn" in texts_of(replies) or "kết thúc" in texts_of(replies)
    assert "Chào An" not in texts_of(replies)


async def test_within_idle_timeout_the_flow_continues(fchat, clock, app):
    await fchat.press("m:ask")
    clock.advance(minutes=app.config.conversation.idle_timeout_minutes - 1)
    assert "Chào An" in texts_of(await fchat.say("An"))


async def test_handler_error_is_polite_and_logged_and_state_kept(fchat, caplog):
    await fchat.press("m:ask")
    with caplog.at_level(logging.ERROR):
        replies = await fchat.say("boom")
    text = texts_of(replies)
    assert "Xin lỗi" in text and "Traceback" not in text and "RuntimeError" not in text
    assert any(r.levelno == logging.ERROR and "handler failed" in r.getMessage() for r in caplog.records)
    # still in the same step
    assert "Chào An" in texts_of(await fchat.say("An"))


async def test_user_facing_error_message_shown_and_state_kept(fchat):
    await fchat.press("m:ask")
    assert texts_of(await fchat.say("sai")) == "Tên không hợp lệ, vui lòng nhập lại."
    assert "Chào An" in texts_of(await fchat.say("An"))


async def test_duplicate_update_handled_once(fchat, app):
    await fchat.press("m:ask")
    first = await fchat.say("An", update_id="dup-1")
    second = await fchat.say("An", update_id="dup-1")
    assert "Chào An" in texts_of(first)
    assert second == []
    async with app.db.unit_of_work() as uow:
        ins = [m for m in await uow.messages.since("memory", "u1", 0, direction="in") if m.text == "An"]
    assert len(ins) == 1


async def test_stale_or_forged_button_is_refused(fchat):
    await fchat.press("m:ask")
    replies = await fchat.press("t:red")  # offered only at the next step
    assert "không còn hiệu lực" in texts_of(replies)
    assert "Chào" not in texts_of(await fchat.press("x" * 60))
    assert "Chào An" in texts_of(await fchat.say("An"))


async def test_free_text_outside_flows_is_not_understood_politely(chat):
    replies = await chat.say("??? !!!")
    assert "chưa hiểu" in texts_of(replies)
    assert "m:help" in payloads_of(replies)


async def test_attachment_outside_a_flow(chat):
    replies = await chat.send_photo("file-1")
    assert "chưa xử lý được" in texts_of(replies)


async def test_two_citizens_have_separate_state(fchat):
    other = fchat.as_user("u2")
    await fchat.press("m:ask")
    assert "Chào" not in texts_of(await other.say("An"))
    assert "Chào An" in texts_of(await fchat.say("An"))


async def test_unfollow_marks_identity_unreachable(chat, app):
    await chat.say("menu")
    assert await chat.event("unfollow") == []
    async with app.db.unit_of_work() as uow:
        ident = await uow.citizens.identity("memory", "u1")
    assert ident is not None and ident.reachable is False


async def test_state_of_removed_handler_falls_back_to_menu(chat, app):
    async with app.db.unit_of_work() as uow:
        from bot.messages import ConversationKey

        await uow.states.save(ConversationKey("memory", "u1", "u1"), "gone.step", {}, app.services.clock.now())
    replies = await chat.say("xin chào")
    assert "m:help" in payloads_of(replies)


async def test_every_message_in_and_out_is_logged(chat, app):
    menu = await chat.say("menu")
    await chat.say(str(payloads_of(menu).index("m:help") + 1))
    async with app.db.unit_of_work() as uow:
        rows = await uow.messages.since("memory", "u1", 0)
    assert [r.direction for r in rows] == ["in", "out", "in", "out"]
    assert rows[2].payload["choice"] == "m:help"


async def test_restart_continues_conversation_on_same_database(make_app, sqlite_url):
    from bot.channels.memory import MemoryChannel

    first = make_app(sqlite_url)
    first.router.include(flow)
    ch1 = MemoryChannel(first.core.handle)
    await ch1.press("m:ask")
    await first.stop()

    second = make_app(sqlite_url)
    second.router.include(flow)
    ch2 = MemoryChannel(second.core.handle)
    assert "Chào An" in texts_of(await ch2.say("An", update_id="after-restart-1"))


@pytest.mark.parametrize("typed", ["gửi phản ánh", "gui phan anh kien nghi", "Gửi phản ánh, kiến nghị!"])
async def test_menu_label_typed_without_its_punctuation(chat, typed):
    replies = await chat.say(typed)
    assert "m:pakn" not in payloads_of(replies)  # not the menu again: the form started
    assert "Mã thủ tục" not in texts_of(replies) and "chưa tìm thấy" not in texts_of(replies)


@pytest.mark.parametrize("typed", ["4", "2.", " 3 "])
async def test_a_number_typed_with_no_list_on_offer_shows_the_menu(chat, typed):
    """A first message "4", or a number typed back at a list the citizen still sees from
    before the idle timeout, is not searched as a procedure ("4" gave "trợ cấp một lần")."""
    replies = await chat.say(typed)
    assert "m:kb" in payloads_of(replies) and "kb:open:" not in " ".join(payloads_of(replies))
    assert "chọn lại một mục" in texts_of(replies)


async def test_a_number_for_the_menu_after_the_idle_timeout_shows_the_menu_again(chat, clock, app):
    await chat.press("m:kb")  # in a flow when the citizen leaves
    clock.advance(minutes=app.config.conversation.idle_timeout_minutes + 1)
    replies = await chat.say("2")
    assert "kết thúc" in texts_of(replies) and "m:kb" in payloads_of(replies)
    assert not [p for p in payloads_of(replies) if p.startswith("kb:open:")]
    # and the menu now on screen answers its numbers
    number = payloads_of(replies).index("m:contact") + 1
    assert app.config.contact.hotline in texts_of(await chat.say(str(number)))


async def _push(app, key, *choices: Choice) -> None:
    """A proactive message (a status change, a staff request) through the outbox."""
    from bot.messages import Reply
    from bot.outbox import enqueue

    async with app.db.unit_of_work() as uow:
        await enqueue(uow, replies=[Reply("Cán bộ cần bạn bổ sung thông tin.", choices)], kind="test",
                      now=app.services.clock.now(), key=key, respect_quiet_hours=False)
    await app.services.outbox.drain()


async def test_a_number_typed_after_a_pushed_message_picks_its_choice(make_app, db_url):
    """On Zalo a pushed message's buttons are a numbered list: "1" must be its first one."""
    from bot.channels.memory import MemoryChannel

    app = make_app(db_url)
    chat = MemoryChannel(app.core.handle)
    app.add_channel(chat)
    await app.start()
    await chat.say("menu")
    await _push(app, chat.key, Choice("Xem thủ tục khai sinh", "kb:open:1.001193"), MENU_CHOICE)
    assert "Mã thủ tục: 1.001193" in texts_of(await chat.say("1"))


async def test_a_pushed_message_leaves_the_list_of_a_flow_in_progress(chat, app, clock):
    await chat.press("m:kb")  # the lookup prompt offers "Xem theo lĩnh vực" first
    await _push(app, chat.key, Choice("Xem thủ tục khai sinh", "kb:open:1.001193"))
    assert "Xem các thủ tục theo lĩnh vực" in texts_of(await chat.say("1"))
    await chat.press("m:kb")
    clock.advance(minutes=app.config.conversation.idle_timeout_minutes + 1)  # the flow was left
    await _push(app, chat.key, Choice("Xem thủ tục khai sinh", "kb:open:1.001193"))
    assert "Mã thủ tục: 1.001193" in texts_of(await chat.say("1"))
