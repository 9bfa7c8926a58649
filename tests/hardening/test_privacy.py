"""Personal data: the dossier proof is never kept in the message log, the citizen's
"xóa dữ liệu của tôi" erases (keeping anonymous rows), the retention purge, its command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.channels.memory import MemoryChannel
from bot.core import REDACTED
from bot.messages import ConversationKey
from bot.outbox import enqueue
from bot.messages import Reply
from bot.retention import purge
from storage.models import AuditEntry, ChannelIdentity, Citizen, ConversationState, MessageLog
from storage.models.dossiers import DossierOwnership, DossierRateEvent, DossierSubscription
from storage.models.outbox import OutboxMessage
from tests.conftest import ROOT, payloads_of, texts_of
from tests.dossiers.conftest import CODE, ID_NUMBER, make_record, put


async def _rows(app, model, *where):
    async with app.db.unit_of_work() as uow:
        return list((await uow.session.execute(select(model).where(*where))).scalars())


async def _log_texts(app) -> str:
    return "\n".join(m.text for m in await _rows(app, MessageLog))


async def test_ownership_answers_are_not_kept_in_the_message_log(app, chat):
    await put(app, make_record())
    await chat.say(CODE)
    await chat.press(f"dos:det:{CODE}")
    assert "chưa khớp" in texts_of(await chat.say("1111"))  # wrong: still redacted
    assert "Chi tiết hồ sơ" in texts_of(await chat.say(ID_NUMBER))
    logged = await _log_texts(app)
    assert "1111" not in logged and ID_NUMBER not in logged
    assert logged.count(REDACTED) == 2
    # the rest of the conversation is kept as it was
    assert CODE in logged and "Chi tiết hồ sơ" in logged


async def test_a_failing_handler_still_redacts_a_sensitive_state(app, chat, monkeypatch):
    await put(app, make_record())
    await chat.say(CODE)
    await chat.press(f"dos:det:{CODE}")

    async def boom(*a, **k):
        raise RuntimeError("source down")

    monkeypatch.setattr(app.services.dossiers, "prove", boom)
    replies = await chat.say("0912345678")
    assert "sự cố" in texts_of(replies)
    assert "0912345678" not in await _log_texts(app)


async def _follow_dossier(app, chat) -> None:
    await put(app, make_record())
    await chat.say(CODE)
    await chat.press(f"dos:sub:{CODE}")
    await chat.say("5678")
    assert await _rows(app, DossierSubscription, DossierSubscription.active.is_(True))


async def test_erase_request_removes_personal_data_and_keeps_anonymous_rows(app, chat, clock):
    await _follow_dossier(app, chat)
    async with app.db.unit_of_work() as uow:
        ident = await uow.citizens.identity("memory", "u1")
        old = ident.citizen_id
        await enqueue(uow, replies=[Reply("Hồ sơ của bạn đã có kết quả")], kind="dossier_status",
                      now=clock.now(), citizen_id=old, dedupe_key="t1")
    assert await _rows(app, DossierOwnership, DossierOwnership.citizen_id == old)
    assert await _rows(app, DossierSubscription, DossierSubscription.citizen_id == old)

    ask = await chat.say("Xóa dữ liệu của tôi")
    assert "không thể hoàn tác" in texts_of(ask)
    assert "prv:erase" in [c.payload for r in ask for c in r.choices]
    done = await chat.press("prv:erase")
    assert "Đã xóa dữ liệu cá nhân" in texts_of(done)

    assert not await _rows(app, DossierOwnership, DossierOwnership.citizen_id == old)
    assert not await _rows(app, DossierSubscription, DossierSubscription.citizen_id == old)
    assert not await _rows(app, MessageLog, MessageLog.citizen_id == old)
    logged = await _log_texts(app)
    assert CODE not in logged and "5678" not in logged
    assert [m.text for m in await _rows(app, MessageLog, MessageLog.direction == "out")] == \
        [texts_of(done)]  # only the confirmation, under the new record
    ob = (await _rows(app, OutboxMessage))[0]
    assert ob.status == "cancelled" and "kết quả" not in str(ob.replies)
    new = (await _rows(app, ChannelIdentity))[0].citizen_id
    assert new != old
    shell = (await _rows(app, Citizen, Citizen.id == old))[0]
    assert shell.display_name is None  # the anonymous record stays for statistics
    audit = await _rows(app, AuditEntry, AuditEntry.action == "privacy.erase")
    assert audit and audit[0].entity_id == str(old)
    # throttling counters follow the person: erasing does not reset them
    assert not await _rows(app, DossierRateEvent, DossierRateEvent.subject == f"c{old}")
    assert await _rows(app, DossierRateEvent, DossierRateEvent.subject == f"c{new}")
    # the citizen goes on as a new user
    assert "Tra cứu hồ sơ" in str(await chat.say("menu"))


async def test_erase_request_declined_keeps_everything(app, chat):
    await _follow_dossier(app, chat)
    before = len(await _rows(app, MessageLog))
    await chat.say("xoa du lieu cua toi")
    replies = await chat.press("g:cancel")
    assert "Đã hủy" in texts_of(replies) or "giữ nguyên" in texts_of(replies)
    assert len(await _rows(app, MessageLog)) == before + 4
    assert await _rows(app, DossierSubscription)


@pytest.mark.parametrize("typed", ["tôi muốn xóa dữ liệu", "hãy xóa hết dữ liệu của tôi đi",
                                   "xin xoá dữ liệu cá nhân", "xóa thông tin cá nhân của tôi"])
async def test_erase_request_as_citizens_word_it(chat, typed):
    """These listed procedures (*Xóa đăng ký thường trú* …) instead of the erasure."""
    replies = await chat.say(typed)
    assert "prv:erase" in payloads_of(replies) and "kb:open:" not in " ".join(payloads_of(replies))


@pytest.mark.parametrize("typed", ["xóa đăng ký thường trú", "xóa dữ liệu dân cư của con tôi"])
async def test_procedures_about_erasing_are_still_searched(chat, typed):
    assert "prv:erase" not in payloads_of(await chat.say(typed))


async def test_purge_applies_the_retention_periods(app, chat, clock):
    await _follow_dossier(app, chat)
    clock.advance(days=100)
    other = chat.as_user("u2")
    await other.say("menu")
    counts = await purge(app.db, app.config, clock.now())
    assert counts["dossier_ownership"] == 1  # 90 days for ownership proofs
    assert counts["message_log"] == 0  # 365 days for conversations
    clock.advance(days=300)
    counts = await purge(app.db, app.config, clock.now())
    assert counts["message_log"] >= 6 and counts["conversation_states"] >= 1
    remaining = await _rows(app, MessageLog)
    assert remaining and {m.chat_id for m in remaining} == {"u2"}  # 300 days old: kept
    names = await _rows(app, Citizen, Citizen.display_name.is_not(None))
    assert names == []


def test_privacy_purge_command(sqlite_url):
    env = {**os.environ, "TTHC_DATABASE_URL": sqlite_url, "TTHC__PRIVACY__RETENTION_DAYS": "30"}
    env.pop("TTHC_CONFIG", None)
    out = subprocess.run([sys.executable, "-m", "bot.cli", "privacy", "purge"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "purged (retention 30 days" in out.stdout and "message_log=0" in out.stdout


async def test_purge_drops_old_survey_comments_and_the_link_to_the_person(app, chat, clock):
    """Survey comments are free text (people write their names and numbers in them): after
    the retention period they go with the link to the citizen; the scores stay (SIPAS)."""
    from storage.models.surveys import Survey, SurveyAnswer

    await chat.say("menu")
    now = clock.now()
    async with app.db.unit_of_work() as uow:
        citizen_id = (await uow.citizens.identity("memory", "u1")).citizen_id
        ids = []
        for case_id, resolved in (("PAKN-2611-OLD1", now), ("PAKN-2611-NEW1", now + timedelta(days=200))):
            survey = Survey(case_type="pakn", case_id=case_id, citizen_id=citizen_id, agency="STP",
                            resolved_at=resolved, resolved_month=f"{resolved:%Y-%m}", status="completed",
                            question_count=2, next_question=3, completed_at=resolved, created_at=resolved)
            uow.session.add(survey)
            await uow.session.flush()
            ids.append(survey.id)
            uow.session.add_all([
                SurveyAnswer(survey_id=survey.id, question_no=1, question_key="q1", kind="rating",
                             value=5, answered_at=resolved),
                SurveyAnswer(survey_id=survey.id, question_no=2, question_key="comment", kind="comment",
                             text="Cán bộ Trần Thị Bình, số 0912345678, rất nhiệt tình", answered_at=resolved)])
    counts = await purge(app.db, app.config, now + timedelta(days=400))
    assert counts["survey_comments"] == 1 and counts["surveys_detached"] == 1
    old = (await _rows(app, Survey, Survey.id == ids[0]))[0]
    new = (await _rows(app, Survey, Survey.id == ids[1]))[0]
    assert old.citizen_id is None and new.citizen_id == citizen_id
    old_answers = {a.kind: a for a in await _rows(app, SurveyAnswer, SurveyAnswer.survey_id == ids[0])}
    assert old_answers["comment"].text is None and old_answers["rating"].value == 5  # the score stays
    new_comment = [a for a in await _rows(app, SurveyAnswer, SurveyAnswer.survey_id == ids[1]) if a.kind == "comment"]
    assert new_comment[0].text  # 200 days old: kept
