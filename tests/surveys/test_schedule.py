"""When surveys go out: delay, quiet hours, one reminder, expiry, opt-out, replays."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import build_app
from bot.channels.memory import MemoryChannel
from bot.clock import ManualClock
from bot.events import DossierResultReturned
from bot.surveys.service import OPTED_OUT
from tests.conftest import make_config, payloads_of, texts_of
from tests.surveys.helpers import DAY, local, make_env


@pytest.fixture
async def env(make_app, sqlite_url, clock):
    return await make_env(make_app, sqlite_url, clock)


async def test_sent_after_the_delay_with_the_first_question(env):
    await env.resolve("000.00.01.H50-261103-0001", agency="SXD", field="Xây dựng", channel="memory")
    survey = await env.survey("000.00.01.H50-261103-0001")
    assert survey.status == "scheduled" and survey.send_at == DAY + timedelta(hours=2)
    assert survey.expires_at == DAY + timedelta(hours=2, days=7)
    env.clock.advance(hours=1, minutes=59)
    assert (await env.drain()).sent == 0
    env.clock.advance(minutes=1)
    assert (await env.drain()).sent == 1
    (key, replies), = env.ch.pushed
    assert key == env.ch.key
    assert "000.00.01.H50-261103-0001" in replies[0].text and "Câu 1/10" in replies[0].text
    assert payloads_of(replies) == [f"sv:{survey.id}:1:2", f"sv:{survey.id}:1:1", f"sv:{survey.id}:1:0",
                                    f"sv:{survey.id}:stop"]
    assert all(len(p.encode()) <= 64 for p in payloads_of(replies))
    await env.tick()
    assert (await env.survey("000.00.01.H50-261103-0001")).status == "sent"


async def test_delay_is_configurable(make_app, sqlite_url, clock):
    env = await make_env(make_app, sqlite_url, clock, surveys={"delay_minutes": 30})
    await env.resolve("D-1")
    assert (await env.survey("D-1")).send_at == DAY + timedelta(minutes=30)


async def test_never_in_quiet_hours(env):
    env.clock.set(local(2026, 11, 3, 20, 0))  # resolved 20:00, due 22:00 -> 07:00 next day
    await env.resolve("D-night")
    survey = await env.survey("D-night")
    assert survey.send_at == local(2026, 11, 4, 7, 0)
    env.clock.set(local(2026, 11, 3, 22, 0))
    assert (await env.drain()).sent == 0
    env.clock.set(local(2026, 11, 4, 6, 59))
    assert (await env.drain()).sent == 0
    env.clock.set(local(2026, 11, 4, 7, 0))
    assert (await env.drain()).sent == 1


async def test_one_reminder_after_24_hours_if_unanswered(env):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    await env.tick()  # a second run (another worker) queues nothing more
    env.clock.advance(hours=23, minutes=59)
    assert (await env.drain()).sent == 0
    env.clock.advance(minutes=1)  # 24 h after it was sent: 12:00 next day
    assert (await env.drain()).sent == 1
    assert "Nhắc lại" in env.pushed_texts()[-1]
    env.clock.advance(days=2)
    await env.tick()
    assert (await env.drain()).sent == 0  # only one reminder
    kinds = [r.kind for r in await env.outbox_rows()]
    assert kinds == ["survey", "survey_reminder"]


async def test_reminder_pushed_out_of_quiet_hours(env):
    env.clock.set(local(2026, 11, 3, 19, 0))  # due 21:00, in the quiet hours -> 07:00
    await env.resolve("D-2")
    env.clock.set(local(2026, 11, 4, 7, 0))
    await env.drain()
    await env.tick()
    env.clock.set(local(2026, 11, 5, 7, 0))
    assert (await env.drain()).sent == 1  # reminder at 07:00 the day after


async def test_answer_cancels_the_reminder(env):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    survey = await env.survey("D-1")
    replies = await env.ch.press(f"sv:{survey.id}:1:2")
    assert "Câu 2/10" in texts_of(replies)
    env.clock.advance(days=1, minutes=1)
    assert (await env.drain()).sent == 0
    statuses = {r.kind: r.status for r in await env.outbox_rows()}
    assert statuses == {"survey": "sent", "survey_reminder": "cancelled"}


async def test_answer_before_the_job_saw_the_send_means_no_reminder(env):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    survey = await env.survey("D-1")
    await env.ch.press(f"sv:{survey.id}:1:1")  # the tick has not run yet
    await env.tick()
    after = await env.survey("D-1")
    assert after.status == "answering" and after.sent_at == DAY + timedelta(hours=2)
    assert [r.kind for r in await env.outbox_rows()] == ["survey"]


async def test_expires_after_seven_days_and_partial_answers_stay(env):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    survey = await env.survey("D-1")
    await env.ch.press(f"sv:{survey.id}:1:2")
    await env.ch.press(f"sv:{survey.id}:2:1")
    env.clock.advance(days=7)
    await env.tick()
    after = await env.survey("D-1")
    assert after.status == "expired" and after.next_question == 3
    replies = await env.ch.press(f"sv:{survey.id}:3:2")
    assert "đã kết thúc" in texts_of(replies)
    from storage.repos.surveys import SurveyRepo

    async with env.app.db.unit_of_work() as uow:
        answers = await uow.repo(SurveyRepo).answers_of(survey.id)
    assert [(a.question_key, a.value) for a in answers] == [("tt01_time", 2), ("tt01_contacts", 1)]


async def test_unanswered_survey_expires_and_the_pending_reminder_is_dropped(env):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    env.clock.advance(days=7)
    await env.tick()
    assert (await env.survey("D-1")).status == "expired"
    assert [r.status for r in await env.outbox_rows()] == ["sent", "cancelled"]  # never dispatched
    assert (await env.drain()).sent == 0


@pytest.mark.parametrize("how", ["text", "button"])
async def test_opt_out_stops_this_and_every_future_survey(env, how):
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    survey = await env.survey("D-1")
    if how == "text":
        replies = await env.ch.say("Không nhận khảo sát")
    else:
        replies = await env.ch.press(f"sv:{survey.id}:stop")
    assert texts_of(replies) == OPTED_OUT
    assert (await env.survey("D-1")).status == "opted_out"
    await env.resolve("D-2")
    later = await env.survey("D-2")
    assert later.status == "not_sent" and later.not_sent_reason == "opted_out"
    env.clock.advance(days=3)
    await env.tick()
    assert (await env.drain()).sent == 0
    assert len(env.ch.pushed) == 1  # only the first survey, before opting out
    assert "trước đây" in texts_of(await env.ch.say("khong nhan khao sat"))  # typed without accents


async def test_case_without_a_citizen_is_recorded_not_surveyed(env):
    await env.resolve("P-1", case_type="pakn", citizen_id=None, on_time=True)
    survey = await env.survey("P-1")
    assert (survey.status, survey.not_sent_reason, survey.on_time) == ("not_sent", "no_citizen", True)
    assert await env.outbox_rows() == []


async def test_unreachable_citizen_makes_the_survey_not_sent(env):
    env.ch.blocked.add("u1")
    await env.resolve("D-1")
    env.clock.advance(hours=2)
    assert (await env.drain()).unreachable == 1
    await env.tick()
    survey = await env.survey("D-1")
    assert (survey.status, survey.not_sent_reason) == ("not_sent", "unreachable")


async def test_zalo_template_attached_when_configured(make_app, sqlite_url, clock):
    env = await make_env(make_app, sqlite_url, clock, surveys={"zalo_template_id": "tpl-khao-sat"})
    await env.resolve("D-1")
    row, = await env.outbox_rows()
    assert row.template == {"template_id": "tpl-khao-sat", "params": {"ma_ho_so": "D-1", "loai": "hồ sơ"}}


async def test_replayed_event_queues_one_survey(env):
    for _ in range(5):
        await env.resolve("D-1", agency="SXD")
    rows = await env.outbox_rows()
    assert len(rows) == 1
    env.clock.advance(hours=2)
    assert (await env.drain()).sent == 1
    await env.resolve("D-1", agency="SXD")  # replayed after the send, too
    env.clock.advance(hours=3)
    assert (await env.drain()).sent == 0


async def test_replays_across_two_processes_make_one_survey_and_one_message(db_url):
    """Two apps with their own engines (two workers) publish the same resolution event
    many times at once, then both dispatch: one survey row, one message sent."""
    clock = ManualClock(DAY)
    apps = [build_app(make_config(db_url), clock=clock, scheduler=False) for _ in range(2)]
    channels = []
    try:
        for app in apps:
            ch = MemoryChannel(app.core.handle)
            app.add_channel(ch)
            channels.append(ch)
        async with apps[0].db.unit_of_work() as uow:
            citizen = (await uow.citizens.resolve(channels[0].key, clock.now())).citizen_id

        async def publish(app):
            event = DossierResultReturned("dossier", "000.00.01.H50-261103-0042", citizen, clock.now(),
                                          agency="SXD")
            async with app.db.unit_of_work() as uow:
                await app.services.events.publish(uow, event)

        await asyncio.gather(*(publish(apps[i % 2]) for i in range(20)))
        clock.advance(hours=2)
        await asyncio.gather(*(app.services.outbox.drain() for app in apps))
        await asyncio.gather(*(app.services.extras["surveys"].tick(clock.now()) for app in apps))
        from sqlalchemy import func, select

        from storage.models import OutboxMessage, Survey

        async with apps[0].db.unit_of_work() as uow:
            surveys = (await uow.session.execute(select(func.count()).select_from(Survey))).scalar_one()
            kinds = list((await uow.session.execute(select(OutboxMessage.kind))).scalars())
        assert surveys == 1
        assert sorted(kinds) == ["survey", "survey_reminder"]
        assert sum(len(ch.pushed) for ch in channels) == 1
    finally:
        for app in apps:
            await app.stop()


async def test_a_resolution_learned_late_is_scheduled_from_now(env):
    await env.resolve("D-late", at=DAY - timedelta(days=9))  # returned 9 days ago, imported today
    survey = await env.survey("D-late")
    assert survey.resolved_at == DAY - timedelta(days=9)
    assert survey.send_at == DAY + timedelta(hours=2)
    env.clock.advance(hours=2)
    assert (await env.drain()).sent == 1


async def test_opt_out_survives_the_erasure_of_the_citizens_data(env):
    """"Không nhận khảo sát" is the citizen's wish: "xóa dữ liệu của tôi" must not turn the
    surveys back on (the channel accounts move to a fresh record; so does the opt-out)."""
    from sqlalchemy import select

    from storage.models.surveys import SurveyOptOut

    assert texts_of(await env.ch.say("Không nhận khảo sát")) == OPTED_OUT
    await env.ch.say("xóa dữ liệu của tôi")
    assert "Đã xóa" in texts_of(await env.ch.press("prv:erase"))
    async with env.app.db.unit_of_work() as uow:
        new_id = (await uow.citizens.identity("memory", "u1")).citizen_id
        optouts = list((await uow.session.execute(select(SurveyOptOut))).scalars())
    assert new_id != env.citizen_id
    assert [o.citizen_id for o in optouts] == [new_id]  # nothing left on the anonymous shell
    await env.resolve("D-9", citizen_id=new_id)
    later = await env.survey("D-9")
    assert later.status == "not_sent" and later.not_sent_reason == "opted_out"
    env.clock.advance(hours=3)
    assert (await env.drain()).sent == 0 and env.ch.pushed == []
