"""Following a dossier: notifications through the outbox on each status change (once,
at a decent hour), worded as actions, closing on the result, the domain event, the
signed webhook. Storage-heavy parts run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.memory import MemoryChannel
from bot.dossiers.webhook import sign
from bot.events import CaseResolved, DossierResultReturned
from bot.messages import Reply
from bot.outbox import enqueue
from storage.repos.dossiers import DossierSubscriptions
from storage.repos.outbox import OutboxRepo
from tests.conftest import payloads_of, texts_of
from tests.dossiers.conftest import CODE, http_settings, make_record, put

SECRET = "webhook-secret-0123456789"


async def follow(app, user: str = "u1") -> MemoryChannel:
    ch = app.services.channels.get("memory")
    if ch is None:
        ch = MemoryChannel(app.core.handle)
        app.add_channel(ch)
    me = ch.as_user(user) if user != "u1" else ch
    await me.say(CODE)
    replies = await me.press(f"dos:sub:{CODE}")
    assert "4 số cuối" in texts_of(replies)
    assert "Đã đăng ký theo dõi" in texts_of(await me.say("5678"))
    return me


async def check_and_send(app) -> list[list[Reply]]:
    ch = app.services.channels.get("memory")
    before = len(ch.pushed)
    await app.scheduler.run_once("dossiers.check")
    await app.services.outbox.drain()
    return [r for _, r in ch.pushed[before:]]


def advance_past_interval(app, clock) -> None:
    clock.advance(seconds=app.config.dossiers.check_interval_seconds + 1)


@pytest.fixture
async def fapp(make_app, db_url):
    app = make_app(db_url, dossiers={"webhook_secret": SECRET})
    await put(app, make_record())
    return app


async def test_status_changes_notified_once_each_as_actions(fapp, clock):
    ch = await follow(fapp)
    advance_past_interval(fapp, clock)
    assert await check_and_send(fapp) == []  # nothing changed yet

    await put(fapp, make_record(status=5, status_at="2026-11-02T08:00:00+07:00",
                                missing_papers=["Bản sao giấy chứng sinh"]))
    advance_past_interval(fapp, clock)
    sent = await check_and_send(fapp)
    assert len(sent) == 1
    text = texts_of(sent[0])
    assert "Việc bạn cần làm: nộp bổ sung" in text and "• Bản sao giấy chứng sinh" in text
    assert f"dos:uns:{CODE}" in payloads_of(sent[0])

    # a replayed check (another worker, a restart) sends nothing more
    async with fapp.db.unit_of_work() as uow:
        sub = await uow.repo(DossierSubscriptions).get(1, CODE)
    advance_past_interval(fapp, clock)
    assert await check_and_send(fapp) == []
    dossier = await fapp.services.dossiers.fetch(CODE)
    async with fapp.db.unit_of_work() as uow:  # even if the stored "last told" were lost
        await uow.repo(DossierSubscriptions).record_seen(
            sub.id, status=4, status_key="4@x", apology_seen=False, now=clock.now())
        assert await fapp.services.dossiers.apply(uow, dossier, clock.now()) == 0  # dedupe key holds

    await put(fapp, make_record(status=9, status_at="2026-11-02T09:30:00+07:00",
                                finished_at="2026-11-02T09:30:00+07:00"))
    advance_past_interval(fapp, clock)
    sent = await check_and_send(fapp)
    assert len(sent) == 1
    assert "đã có kết quả" in texts_of(sent[0]) and "Việc bạn cần làm: nhận kết quả tại Bộ phận một cửa" in texts_of(sent[0])
    assert all(k == ch.key for k, _ in ch.pushed)


async def test_result_returned_closes_and_publishes_event_in_the_same_transaction(fapp, clock):
    seen: list[DossierResultReturned] = []

    async def queue_survey(uow, event):  # what the survey feature will do
        seen.append(event)
        await enqueue(uow, citizen_id=event.citizen_id, replies=[Reply("Mời bạn đánh giá")],
                      kind="survey", now=clock.now(), dedupe_key=f"survey:{event.case_id}:{event.citizen_id}")

    fapp.services.events.subscribe(CaseResolved, queue_survey)
    await follow(fapp)
    await put(fapp, make_record(status=10, status_at="2026-11-02T10:00:00+07:00",
                                returned_at="2026-11-02T10:00:00+07:00"))
    advance_past_interval(fapp, clock)
    sent = await check_and_send(fapp)
    texts = [texts_of(s) for s in sent]
    assert any("Việc theo dõi hồ sơ này đã kết thúc" in t for t in texts)
    assert "Mời bạn đánh giá" in texts
    assert len(seen) == 1 and seen[0].case_id == CODE and seen[0].case_type == "dossier"
    assert seen[0].procedure_code == "1.001193" and seen[0].agency == "UBND xã Mẫu"
    assert seen[0].resolved_at == datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)
    assert seen[0].received_at is not None and seen[0].received_at < seen[0].resolved_at
    assert seen[0].on_time is True  # returned before the promised date (the report counts it)
    async with fapp.db.unit_of_work() as uow:
        assert await fapp.services.dossiers.subscriptions(uow, 1) == []
    advance_past_interval(fapp, clock)
    assert await check_and_send(fapp) == [] and len(seen) == 1


async def test_failing_event_handler_rolls_the_change_back(fapp, clock):
    async def broken(uow, event):
        raise RuntimeError("survey store down")

    fapp.services.events.subscribe(DossierResultReturned, broken)
    await follow(fapp)
    await put(fapp, make_record(status=10, status_at="2026-11-02T10:00:00+07:00"))
    advance_past_interval(fapp, clock)
    with pytest.raises(RuntimeError):
        await fapp.services.dossiers.check_due()
    async with fapp.db.unit_of_work() as uow:
        assert len(await fapp.services.dossiers.subscriptions(uow, 1)) == 1  # still open, retried next run
        assert await uow.repo(OutboxRepo).counts() == {}  # the "result" notice rolled back too


async def test_notifications_wait_for_a_decent_hour(fapp, clock):
    ch = await follow(fapp)
    clock.set(datetime(2026, 11, 2, 15, 30, tzinfo=timezone.utc))  # 22:30 local
    await put(fapp, make_record(status=6, status_at="2026-11-02T22:00:00+07:00"))
    sent = await check_and_send(fapp)
    assert sent == []
    clock.set(datetime(2026, 11, 3, 0, 5, tzinfo=timezone.utc))  # 07:05 local
    await fapp.services.outbox.drain()
    assert "Việc bạn cần làm: nộp các khoản sau" in texts_of(ch.pushed[-1][1])
    assert "Lệ phí đăng ký: 50.000 đồng" in texts_of(ch.pushed[-1][1])


async def test_apology_letter_notified(fapp, clock):
    await follow(fapp)
    await put(fapp, make_record(due_at="2026-10-30", apology={"new_due_at": "2026-11-06", "reason": "Chờ xác minh"}))
    advance_past_interval(fapp, clock)
    sent = await check_and_send(fapp)
    assert len(sent) == 1 and "hẹn lại ngày trả kết quả là 06/11/2026" in texts_of(sent[0])


async def test_follow_typed_with_the_code_asks_the_proof_at_once(fapp):
    """"theo dõi hồ sơ <mã>" showed the summary with a "Theo dõi" button: one more step."""
    ch = MemoryChannel(fapp.core.handle)
    fapp.add_channel(ch)
    replies = await ch.say(f"theo dõi hồ sơ {CODE}")
    assert f"Hồ sơ {CODE}" in texts_of(replies) and "4 số cuối" in texts_of(replies)
    assert "Đã đăng ký theo dõi" in texts_of(await ch.say("5678"))
    looked = await ch.as_user("u2").say(f"hủy theo dõi hồ sơ {CODE}")  # not a follow
    assert "4 số cuối" not in texts_of(looked) and f"Hồ sơ {CODE}" in texts_of(looked)


async def test_unsubscribe_any_time(fapp, clock):
    ch = await follow(fapp)
    listing = await ch.press("m:dossier_follow")
    assert CODE in texts_of(listing) and f"dos:uns:{CODE}" in payloads_of(listing)
    assert "Đã hủy theo dõi" in texts_of(await ch.press(f"dos:uns:{CODE}"))
    await put(fapp, make_record(status=9, status_at="2026-11-02T09:30:00+07:00"))
    advance_past_interval(fapp, clock)
    assert await check_and_send(fapp) == []
    assert "chưa theo dõi" in texts_of(await ch.press("m:dossier_follow"))


async def test_two_followers_each_told_once(fapp, clock):
    a = await follow(fapp)
    b = await follow(fapp, "u2")
    await put(fapp, make_record(status=9, status_at="2026-11-02T09:30:00+07:00"))
    advance_past_interval(fapp, clock)
    await check_and_send(fapp)
    keys = [k.user_id for k, _ in a.pushed]
    assert sorted(keys) == ["u1", "u2"] and b.pushed is a.pushed


async def test_finished_dossier_cannot_be_followed(fapp):
    await put(fapp, make_record(status=10))
    ch = MemoryChannel(fapp.core.handle)
    fapp.add_channel(ch)
    await ch.say(CODE)
    assert "đã kết thúc" in texts_of(await ch.press(f"dos:sub:{CODE}"))


async def test_source_down_during_check_is_retried_next_run(make_app, sqlite_url, onestop, clock):
    app = make_app(sqlite_url, dossiers=http_settings(onestop))
    onestop.add(make_record())
    await follow(app)
    onestop.fail[CODE] = [500, 500]
    onestop.add(make_record(status=9, status_at="2026-11-02T09:30:00+07:00"))
    advance_past_interval(app, clock)
    stats = await app.services.dossiers.check_due()
    assert stats["unavailable"] == 1 and stats["queued"] == 0
    assert "đã có kết quả" in texts_of((await check_and_send(app))[0])


async def test_signed_webhook_applies_changes_and_refuses_forgeries(fapp, clock):
    ch = await follow(fapp)
    body = json.dumps(make_record(status=9, status_at="2026-11-02T09:30:00+07:00")).encode()
    ts = str(int(clock.now().timestamp()))
    async with TestClient(TestServer(fapp.web)) as client:
        path = fapp.config.dossiers.webhook_path
        bad = await client.post(path, data=body, headers={"X-Tthc-Timestamp": ts,
                                                          "X-Tthc-Signature": sign("wrong" * 4, ts, body)})
        assert bad.status == 401
        old_ts = str(int((clock.now() - timedelta(hours=1)).timestamp()))
        stale = await client.post(path, data=body, headers={"X-Tthc-Timestamp": old_ts,
                                                            "X-Tthc-Signature": sign(SECRET, old_ts, body)})
        assert stale.status == 401
        ok = await client.post(path, data=body, headers={"X-Tthc-Timestamp": ts,
                                                         "X-Tthc-Signature": sign(SECRET, ts, body)})
        assert ok.status == 200 and (await ok.json())["queued"] == 1
        replay = await client.post(path, data=body, headers={"X-Tthc-Timestamp": ts,
                                                             "X-Tthc-Signature": sign(SECRET, ts, body)})
        assert (await replay.json())["queued"] == 0
        junk = json.dumps({"dossiers": [{"code": "x"}]}).encode()
        r = await client.post(path, data=junk, headers={"X-Tthc-Timestamp": ts,
                                                        "X-Tthc-Signature": sign(SECRET, ts, junk)})
        assert (await r.json())["rejected"][0]["error"].startswith("code")
    await fapp.services.outbox.drain()
    assert len(ch.pushed) == 1 and "đã có kết quả" in texts_of(ch.pushed[0][1])
    # the pushed record is now what a lookup shows
    assert "đã có kết quả" in texts_of(await ch.say(CODE))
