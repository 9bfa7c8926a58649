"""Answering a survey: buttons from any state, typed answers, validation, PAKN questions."""

from __future__ import annotations

import pytest

from bot.surveys.service import CLOSED, NOT_YOURS, THANKS
from storage.repos.surveys import SurveyRepo
from tests.conftest import payloads_of, texts_of
from tests.surveys.helpers import make_env


@pytest.fixture
async def env(make_app, sqlite_url, clock):
    return await make_env(make_app, sqlite_url, clock)


async def _sent(env, case_id, **kw):
    await env.resolve(case_id, **kw)
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    return await env.survey(case_id)


async def _answers(env, survey_id):
    async with env.app.db.unit_of_work() as uow:
        return [(a.question_no, a.question_key, a.value, a.text)
                for a in await uow.repo(SurveyRepo).answers_of(survey_id)]


async def test_whole_dossier_survey_by_buttons(env):
    s = await _sent(env, "D-1")
    values = ["2", "1", "2", "2", "5", "4", "3", "5", "s"]
    for n, v in enumerate(values, start=1):
        replies = await env.ch.press(f"sv:{s.id}:{n}:{v}")
        assert f"Câu {n + 1}/10" in texts_of(replies)
    assert f"sv:{s.id}:10:s" in payloads_of(replies)  # the comment can be skipped
    replies = await env.ch.say("Cán bộ hướng dẫn rất tận tình")
    assert texts_of(replies) == THANKS
    after = await env.survey("D-1")
    assert after.status == "completed" and after.completed_at == env.clock.now()
    assert await _answers(env, s.id) == [
        (1, "tt01_time", 2, None), (2, "tt01_contacts", 1, None), (3, "tt01_agencies", 2, None),
        (4, "tt01_attitude", 2, None), (5, "sipas_access", 5, None), (6, "sipas_procedure", 4, None),
        (7, "sipas_officials", 3, None), (8, "sipas_result", 5, None), (9, "sipas_feedback", None, None),
        (10, "comment", None, "Cán bộ hướng dẫn rất tận tình")]
    # the conversation is back outside any flow: free text is not taken as a comment
    async with env.app.db.unit_of_work() as uow:
        assert (await uow.states.load(env.ch.key)).state == ""
    assert "Cảm ơn" not in texts_of(await env.ch.say("abc xyz"))
    assert len(await _answers(env, s.id)) == 10


async def test_pakn_asks_only_its_questions(env):
    s = await _sent(env, "PAKN-1", case_type="pakn")
    first = env.pushed_texts()[0]
    assert "phản ánh, kiến nghị PAKN-1" in first and "Câu 1/4" in first
    assert "Quý ông/bà" not in first and "của bạn đã được trả lời" in first  # one form of address
    assert "công chức" in first
    r = await env.ch.press(f"sv:{s.id}:1:4")
    assert "Câu 2/4" in texts_of(r) and "xử lý phản ánh" in texts_of(r)
    assert f"sv:{s.id}:2:s" not in payloads_of(r)  # not optional for a PAKN
    r = await env.ch.press(f"sv:{s.id}:2:5")
    r = await env.ch.press(f"sv:{s.id}:3:2")
    r = await env.ch.press(f"sv:{s.id}:4:s")
    assert texts_of(r) == THANKS
    assert [a[1] for a in await _answers(env, s.id)] == ["sipas_officials", "sipas_feedback",
                                                          "sipas_feedback_time", "comment"]


async def test_typed_number_answers_the_question_the_outbox_sent(env):
    s = await _sent(env, "D-1")
    replies = await env.ch.say("2")  # second choice of question 1: "Đúng hạn" = 1 point
    assert "Câu 2/10" in texts_of(replies)
    replies = await env.ch.say("Từ 2 lần trở lên")  # a label, typed
    assert "Câu 3/10" in texts_of(replies)
    assert await _answers(env, s.id) == [(1, "tt01_time", 1, None), (2, "tt01_contacts", 0, None)]


async def test_typed_answer_of_another_question_asks_this_one_again(env):
    s = await _sent(env, "D-1")
    await env.ch.say("1")
    await env.ch.say("2")  # question 3 now: how many agencies
    for typed in ("hài lòng", "9"):  # a label of question 5, a number beyond the list
        replies = await env.ch.say(typed)
        text = texts_of(replies)
        assert "chưa khớp" in text and "Câu 3/10" in text and "thủ tục" not in text
        assert f"sv:{s.id}:3:2" in payloads_of(replies)
    assert "Câu 4/10" in texts_of(await env.ch.say("1"))  # the list shown again: "1" answers it
    assert [a[0] for a in await _answers(env, s.id)] == [1, 2, 3]


async def test_a_typed_number_does_not_opt_out(env):
    """"4" typed under three answers pressed the fourth button, "Không nhận khảo sát": one
    mistyped score ended every future survey."""
    s = await _sent(env, "D-1")
    replies = await env.ch.say("4")
    text = texts_of(replies)
    assert "Không nhận khảo sát" in text and "Câu 1/10" in text and "không nhận tin nhắn khảo sát" not in text
    assert (await env.survey("D-1")).status == "sent"
    assert "Câu 2/10" in texts_of(await env.ch.say("1"))  # still answering
    assert "không nhận tin nhắn khảo sát" in texts_of(await env.ch.press(f"sv:{s.id}:stop"))  # the button does


async def test_typed_number_without_an_open_survey_is_not_an_answer(env):
    await env.resolve("D-1")  # scheduled, not sent yet
    replies = await env.ch.say("2")
    assert "Câu" not in texts_of(replies)
    assert await _answers(env, (await env.survey("D-1")).id) == []


def _other_flow(env):
    """A flow of another feature: one state that echoes what it gets."""
    seen = []

    async def step(ctx, msg):
        seen.append((msg.text, dict(ctx.data)))
        ctx.reply("other flow got it")

    if "test.other" not in env.app.router.states:
        env.app.router.state("test.other")(step)
    return seen


async def _enter_other_flow(env):
    async with env.app.db.unit_of_work() as uow:
        await uow.states.save(env.ch.key, "test.other", {"draft": "nửa chừng"}, env.clock.now())


async def test_buttons_work_from_the_middle_of_another_flow(env):
    seen = _other_flow(env)
    s = await _sent(env, "D-1")
    await _enter_other_flow(env)
    replies = await env.ch.press(f"sv:{s.id}:1:2")
    assert "Câu 2/10" in texts_of(replies)
    await env.ch.say("tiếp tục")  # the other flow still has the text and its data
    assert seen == [("tiếp tục", {"draft": "nửa chừng"})]


async def test_comment_returns_to_the_flow_the_citizen_was_in(env):
    seen = _other_flow(env)
    s = await _sent(env, "PAKN-1", case_type="pakn")
    await _enter_other_flow(env)
    for n, v in ((1, "4"), (2, "4"), (3, "4")):
        await env.ch.press(f"sv:{s.id}:{n}:{v}")
    async with env.app.db.unit_of_work() as uow:
        state = await uow.states.load(env.ch.key)
    assert state.state == "survey.comment" and state.data["resume"] == ["test.other", {"draft": "nửa chừng"}]
    assert texts_of(await env.ch.say("Nên có chỗ đỗ xe")) == THANKS
    await env.ch.say("tiếp tục")
    assert seen == [("tiếp tục", {"draft": "nửa chừng"})]
    assert (await _answers(env, s.id))[-1] == (4, "comment", None, "Nên có chỗ đỗ xe")


async def test_opt_out_typed_at_the_comment_question(env):
    s = await _sent(env, "PAKN-1", case_type="pakn")
    for n, v in ((1, "4"), (2, "4"), (3, "4")):
        await env.ch.press(f"sv:{s.id}:{n}:{v}")
    assert texts_of(await env.ch.say("Không nhận khảo sát")).startswith("Chúng tôi đã ghi nhận")
    assert (await env.survey("PAKN-1")).status == "opted_out"
    assert len(await _answers(env, s.id)) == 3  # what was answered stays
    async with env.app.db.unit_of_work() as uow:
        assert (await uow.states.load(env.ch.key)).state == ""


async def test_someone_elses_survey_is_refused(env):
    s = await _sent(env, "D-1")
    other = env.ch.as_user("u2")
    replies = await other.press(f"sv:{s.id}:1:2")
    assert texts_of(replies) == NOT_YOURS and "g:menu" in payloads_of(replies)  # "chọn Menu": it is there
    assert await _answers(env, s.id) == []


async def test_wrong_question_number_asks_the_expected_one(env):
    s = await _sent(env, "D-1")
    replies = await env.ch.press(f"sv:{s.id}:3:2")
    assert "lần lượt" in texts_of(replies) and "Câu 1/10" in texts_of(replies)
    await env.ch.press(f"sv:{s.id}:1:2")
    replies = await env.ch.press(f"sv:{s.id}:1:0")  # the same button again, or an old message
    assert "đã trả lời" in texts_of(replies) and "Câu 2/10" in texts_of(replies)
    assert await _answers(env, s.id) == [(1, "tt01_time", 2, None)]


@pytest.mark.parametrize("payload", ["sv:{id}:1:7", "sv:{id}:1:s", "sv:{id}:x:1", "sv:abc"])
async def test_invalid_payloads_get_a_clear_message_and_store_nothing(env, payload):
    s = await _sent(env, "D-1")
    replies = await env.ch.press(payload.format(id=s.id))
    assert "Lựa chọn không hợp lệ" in texts_of(replies) or "cần bạn chọn" in texts_of(replies)
    assert await _answers(env, s.id) == []


async def test_closed_survey(env):
    s = await _sent(env, "D-1")
    env.clock.advance(days=8)
    await env.tick()
    closed = await env.ch.press(f"sv:{s.id}:1:2")
    assert texts_of(closed) == CLOSED and payloads_of(closed)  # a way on: the buttons on offer, or Menu


async def test_a_survey_sent_while_a_form_waits_is_answered_by_typed_numbers_and_the_form_is_kept(env):
    """A PAKN form left half done; two hours later a survey question arrives. The typed "1" was
    swallowed by the form's resume offer and the next "2" pressed "Bỏ bản nháp" (found by QA)."""
    from tests.pakn.conftest import CONTENT, pakn_from_the_name, pakn_up_to_the_name, seed_agencies

    await seed_agencies(env.app)
    ch = env.ch
    assert "họ và tên" in texts_of(await pakn_up_to_the_name(ch.say, ch.press)).lower()
    s = await _sent(env, "D-1")  # the resolution, two hours, the outbox: question 1 is pushed
    assert "Câu 1/10" in env.pushed_texts()[-1]
    assert "Câu 2/10" in texts_of(await ch.say("1"))  # typed: the survey's first answer
    assert "Câu 3/10" in texts_of(await ch.say("2"))
    assert [a[:2] for a in await _answers(env, s.id)] == [(1, "tt01_time"), (2, "tt01_contacts")]
    # the form is still there: offered back at the first other message, and filed in the end
    offer = await ch.say("xin chào")
    assert "Bạn đang soạn dở phản ánh, kiến nghị" in texts_of(offer)
    assert "họ và tên" in texts_of(await ch.press("g:resume")).lower()
    await pakn_from_the_name(ch.say, ch.press)
    from sqlalchemy import select

    from storage.models import PaknItem

    async with env.app.db.unit_of_work() as uow:
        [item] = (await uow.session.execute(select(PaknItem))).scalars().all()
    assert item.content == CONTENT and item.full_name == "Nguyễn Văn An"
