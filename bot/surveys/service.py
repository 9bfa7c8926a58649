"""Surveys after every resolved case: queue once, ask at a decent hour, take answers one by
one, remind once, expire, respect opt-outs.

Life of a survey (table ``surveys``, one row per case — the unique (case_type, case_id)
makes any replay of the resolution event a no-op):

1. ``on_case_resolved`` (subscribed to :class:`bot.events.CaseResolved`, runs in the
   resolving transaction) records the case and, unless the citizen is unknown or opted
   out, queues the first question in the outbox for ``resolved_at + delay`` moved out of the
   quiet hours (``survey:<id>:ask``); status ``scheduled``.
2. The ``surveys.tick`` job sees the outbox has sent it (status ``sent``) and queues the
   one reminder for ``sent_at + reminder_hours`` (``survey:<id>:reminder``); a first message
   the outbox could not deliver makes the survey ``not_sent``.
3. Each answer (a button ``sv:<id>:<n>:<value>``, a typed number or label, or the comment
   text) is validated — this citizen's survey, still open, question ``n`` is the one
   expected — stored at once, cancels the pending reminder, and the next question is asked;
   after the last one the survey is ``completed``.
4. The tick job marks open surveys ``expired`` after ``expire_days`` (answers given count).
5. "Không nhận khảo sát" (typed or button) records the opt-out: open surveys become
   ``opted_out`` and their messages are cancelled; no survey is queued for them again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import UserFacingError
from bot.events import CaseResolved
from bot.messages import Choice, Reply
from bot.outbox import Outbox, enqueue
from bot.surveys.questionnaire import Question, Questionnaire, load_questionnaire, parse_questionnaire
from kb.normalize import fold
from storage.models import Survey
from storage.repos.outbox import OutboxRepo
from storage.repos.surveys import OPEN, SurveyRepo

if TYPE_CHECKING:
    from bot.config import Config
    from storage.db import Database
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

PREFIX = "sv:"
SKIP = "s"
STOP = "stop"
CASE_LABELS = {"dossier": "hồ sơ", "pakn": "phản ánh, kiến nghị"}

STOP_LABEL = "Không nhận khảo sát"
SKIP_LABEL = "Bỏ qua"
# How long a process trusts the list of stored questionnaire versions it read (for the
# labels a typed answer can match) before reading it again.
LABELS_TTL_SECONDS = 60.0
THANKS = ("Cảm ơn bạn đã dành thời gian trả lời khảo sát! Ý kiến của bạn giúp chúng tôi "
          "phục vụ tốt hơn.")
OPTED_OUT = ("Chúng tôi đã ghi nhận: từ nay bạn sẽ không nhận tin nhắn khảo sát nữa. "
             "Những câu bạn đã trả lời vẫn được giữ lại. Xin cảm ơn bạn.")
ALREADY_OPTED_OUT = "Bạn đã chọn không nhận khảo sát trước đây; chúng tôi sẽ không gửi khảo sát nữa."
CLOSED = "Khảo sát này đã kết thúc, cảm ơn bạn. Bạn cần hỗ trợ gì thêm, xin chọn \"Menu\"."
NOT_YOURS = "Không tìm thấy khảo sát này. Bạn cần hỗ trợ gì thêm, xin chọn \"Menu\"."


@dataclass(frozen=True)
class Answered:
    """What happened to an answer: the replies to show and whether the survey goes on."""

    replies: list[Reply]
    next_question: Question | None  # the question asked now, or None when finished


def first_text(case_type: str, case_id: str, total: int, expire_days: int) -> str:
    label = CASE_LABELS.get(case_type, "hồ sơ")
    done = "đã có kết quả" if case_type == "dossier" else "đã được trả lời"
    # "bạn", as every question and every other message of the bot says (the same message once
    # opened with "Kính gửi Quý ông/bà" and asked on "Bạn hài lòng thế nào …")
    return (f"Chào bạn, {label} {case_id} của bạn {done}. Để chúng tôi phục vụ "
            f"tốt hơn, mời bạn dành 1–2 phút trả lời {total} câu hỏi ngắn "
            f"(trả lời trong {expire_days} ngày, bấm nút hoặc gõ số thứ tự).")


class SurveyService:
    def __init__(self, db: "Database", config: "Config", outbox: Outbox,
                 questionnaire: Questionnaire | None = None) -> None:
        self.db = db
        self.config = config
        self.cfg = config.surveys
        self.outbox = outbox
        self.questionnaire = questionnaire or load_questionnaire(self.cfg.questionnaire or None)
        self._qid: int | None = None
        self._versions: dict[int, Questionnaire] = {}
        self._labels: frozenset[str] = frozenset()
        self._labels_read_at = float("-inf")

    # -- questionnaire versions ------------------------------------------------------------
    async def current_questionnaire_id(self, uow: "UnitOfWork", now: datetime) -> int:
        if self._qid is None:
            q = self.questionnaire
            self._qid = await uow.repo(SurveyRepo).ensure_questionnaire(
                code=q.code, version=q.version, digest=q.digest, content=q.raw, now=now)
            self._versions[self._qid] = q
        return self._qid

    async def questionnaire_of(self, uow: "UnitOfWork", survey: Survey) -> Questionnaire:
        qid = survey.questionnaire_id
        assert qid is not None
        if qid not in self._versions:
            content = (await uow.repo(SurveyRepo).questionnaires([qid]))[qid]
            self._versions[qid] = parse_questionnaire(content)
            self._labels_read_at = float("-inf")  # a version stored after answer_labels read them
        return self._versions[qid]

    async def answer_labels(self, uow: "UnitOfWork") -> frozenset[str]:
        """The folded labels of every answer button of every questionnaire version (and
        "Bỏ qua", "Không nhận khảo sát"): text that is none of them (nor a number) answers no
        survey, so the typed-answer check needs no query. The stored versions are read again
        after LABELS_TTL_SECONDS (another worker may have stored a new one)."""
        if time.monotonic() - self._labels_read_at > LABELS_TTL_SECONDS:
            versions = [self.questionnaire]
            for qid, content in (await uow.repo(SurveyRepo).all_questionnaires()).items():
                if qid not in self._versions:
                    self._versions[qid] = parse_questionnaire(content)
                versions.append(self._versions[qid])
            self._labels = frozenset({fold(SKIP_LABEL), fold(STOP_LABEL)} | {
                fold(o.label) for q in versions for question in q.questions for o in question.options})
            self._labels_read_at = time.monotonic()
        return self._labels

    # -- 1. a case is resolved -------------------------------------------------------------
    async def on_case_resolved(self, uow: "UnitOfWork", event: CaseResolved) -> None:
        """Record the case and queue its survey (once, whatever is replayed)."""
        repo = uow.repo(SurveyRepo)
        # Scheduled from when we learn of it: a result imported days late still gets its survey.
        now = max(event.resolved_at, self.outbox.clock.now())
        qid = await self.current_questionnaire_id(uow, now)
        questions = self.questionnaire.questions_for(event.case_type)
        reason = None
        if not self.cfg.enabled:
            reason = "disabled"
        elif event.citizen_id is None:
            reason = "no_citizen"
        elif await repo.is_opted_out(event.citizen_id):
            reason = "opted_out"
        elif not questions:
            reason = "no_questions"
        send_at = self.outbox.next_allowed(now + timedelta(minutes=self.cfg.delay_minutes))
        expires_at = send_at + timedelta(days=self.cfg.expire_days)
        survey_id = await repo.create(
            case_type=event.case_type, case_id=event.case_id[:64], citizen_id=event.citizen_id,
            questionnaire_id=qid, agency=event.agency[:64], procedure_code=event.procedure_code[:64],
            field=event.field[:200], channel=event.channel[:32], resolved_at=event.resolved_at,
            resolved_month=event.resolved_at.astimezone(self.config.tz).strftime("%Y-%m"),
            received_at=event.received_at, on_time=event.on_time,
            status="not_sent" if reason else "scheduled", not_sent_reason=reason,
            question_count=len(questions), next_question=1, send_at=None if reason else send_at,
            expires_at=None if reason else expires_at, created_at=now)
        if survey_id is None:
            log.info("survey already recorded for case", extra={"case_type": event.case_type})
            return
        if reason:
            log.info("survey not sent", extra={"survey_id": survey_id, "reason": reason})
            return
        assert event.citizen_id is not None
        intro = first_text(event.case_type, event.case_id, len(questions), self.cfg.expire_days)
        reply = self.ask(survey_id, event.case_type, 1, self.questionnaire, intro=intro)
        outbox_id = await enqueue(
            uow, replies=[reply], kind="survey", now=now, citizen_id=event.citizen_id,
            dedupe_key=f"survey:{survey_id}:ask", not_before=send_at, expires_at=expires_at,
            template=self._template(event.case_id, event.case_type))
        await repo.set(survey_id, outbox_id=outbox_id)
        log.info("survey scheduled", extra={"survey_id": survey_id, "case_type": event.case_type,
                                            "send_at": send_at.isoformat()})

    def _template(self, case_id: str, case_type: str) -> dict | None:
        """Zalo OA fallback outside the messaging window: an approved template whose
        parameters are ``ma_ho_so`` (the case code) and ``loai`` ("hồ sơ" / "phản ánh,
        kiến nghị") [I: match them to the template the province registers]."""
        if not self.cfg.zalo_template_id:
            return None
        return {"template_id": self.cfg.zalo_template_id,
                "params": {"ma_ho_so": case_id, "loai": CASE_LABELS.get(case_type, "hồ sơ")}}

    # -- the question message --------------------------------------------------------------
    def ask(self, survey_id: int, case_type: str, number: int, q: Questionnaire, *,
            intro: str = "") -> Reply:
        question = q.question(case_type, number)
        assert question is not None
        total = len(q.questions_for(case_type))
        text = f"Câu {number}/{total}: {question.text_for(case_type)}"
        if intro:
            text = f"{intro}\n\n{text}"
        choices = [Choice(o.label, f"{PREFIX}{survey_id}:{number}:{o.value}") for o in question.options]
        if question.is_optional(case_type):
            choices.append(Choice(SKIP_LABEL, f"{PREFIX}{survey_id}:{number}:{SKIP}"))
        choices.append(Choice(STOP_LABEL, f"{PREFIX}{survey_id}:{STOP}"))
        return Reply(text, tuple(choices))

    # -- 3. answers ------------------------------------------------------------------------
    async def answer(self, uow: "UnitOfWork", *, citizen_id: int, survey_id: int, number: int,
                     value: str, now: datetime) -> Answered:
        """Store the answer to question ``number`` (a point/score, ``s`` to skip, or the
        comment text) and return the next question. UserFacingError for a survey that is
        not this citizen's or no longer open."""
        repo = uow.repo(SurveyRepo)
        survey = await repo.get(survey_id, lock=True)
        if survey is None or survey.citizen_id != citizen_id:
            raise UserFacingError(NOT_YOURS)
        if survey.status not in OPEN or (survey.expires_at and survey.expires_at <= now):
            raise UserFacingError(CLOSED)
        q = await self.questionnaire_of(uow, survey)
        expected = survey.next_question
        if number != expected:  # an old button, or one pressed twice
            return Answered([Reply("Câu này bạn đã trả lời rồi, cảm ơn bạn. Mời bạn trả lời câu tiếp theo."
                                   if number < expected else "Mời bạn trả lời lần lượt từng câu."),
                             self.ask(survey.id, survey.case_type, expected, q)],
                            q.question(survey.case_type, expected))
        question = q.question(survey.case_type, number)
        assert question is not None
        score: int | None = None
        text: str | None = None
        if value == SKIP:
            if not question.is_optional(survey.case_type):
                raise UserFacingError("Câu này cần bạn chọn một mức trả lời.")
        elif question.kind == "comment":
            text = value.strip()[:2000]
        else:
            try:
                score = int(value)
            except ValueError:
                score = None
            if score is None or not question.accepts(score):
                raise UserFacingError("Lựa chọn không hợp lệ, mời bạn chọn một nút trong danh sách.")
        await repo.save_answer(survey_id=survey.id, question_no=number, question_key=question.key,
                               kind=question.kind, factor=question.factor, value=score, text=text,
                               answered_at=now)
        await uow.repo(OutboxRepo).cancel(dedupe_prefix=f"survey:{survey.id}:reminder")
        nxt = number + 1
        values: dict = {"next_question": nxt, "first_answer_at": survey.first_answer_at or now}
        if nxt > survey.question_count:
            values.update(status="completed", completed_at=now)
        else:
            values["status"] = "answering"
        await repo.set(survey.id, **values)
        log.info("survey answer", extra={"survey_id": survey.id, "question": number})
        if nxt > survey.question_count:
            return Answered([Reply(THANKS)], None)
        return Answered([self.ask(survey.id, survey.case_type, nxt, q)], q.question(survey.case_type, nxt))

    async def expected_question(self, uow: "UnitOfWork", survey: Survey) -> Question | None:
        q = await self.questionnaire_of(uow, survey)
        return q.question(survey.case_type, survey.next_question)

    # -- 5. opt-out ------------------------------------------------------------------------
    async def opt_out(self, uow: "UnitOfWork", *, citizen_id: int, channel: str, now: datetime) -> str:
        repo = uow.repo(SurveyRepo)
        new = await repo.opt_out(citizen_id, channel, now)
        outbox = uow.repo(OutboxRepo)
        for survey in await repo.open_of(citizen_id):
            await repo.set(survey.id, status="opted_out")
            await outbox.cancel(dedupe_prefix=f"survey:{survey.id}:")
        await uow.audit.record(actor=f"citizen:{citizen_id}", action="survey.opt_out",
                               entity_type="citizen", entity_id=str(citizen_id),
                               details={"channel": channel, "new": new}, now=now)
        log.info("survey opt-out", extra={"citizen_id": citizen_id, "new": new})
        return OPTED_OUT if new else ALREADY_OPTED_OUT

    # -- 2 and 4. the periodic job ---------------------------------------------------------
    async def tick(self, now: datetime) -> dict[str, int]:
        """Follow first messages the outbox finished with (queue the reminder, or record
        that the survey could not be sent) and expire old surveys. Safe in every worker:
        the reminder's dedupe key and conditional updates make a second run a no-op."""
        done = {"sent": 0, "not_sent": 0, "expired": 0}
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(SurveyRepo)
            for survey, status, sent_at in await repo.first_messages_done():
                if status == "sent" and sent_at is not None:
                    if await repo.mark_sent(survey.id, sent_at):  # not answered yet
                        await self._queue_reminder(uow, survey, sent_at, now)
                    else:
                        await repo.set(survey.id, sent_at=sent_at)
                    done["sent"] += 1
                elif survey.status != "scheduled":
                    await repo.set(survey.id, sent_at=sent_at or now)  # answered: it reached them
                elif status == "expired":
                    await repo.set(survey.id, status="expired")
                    done["expired"] += 1
                else:
                    await repo.set(survey.id, status="not_sent", not_sent_reason=status)
                    done["not_sent"] += 1
            for survey_id in await repo.expire_due(now):
                await uow.repo(OutboxRepo).cancel(dedupe_prefix=f"survey:{survey_id}:")
                done["expired"] += 1
        if any(done.values()):
            log.info("surveys tick", extra=done)
        return done

    async def _queue_reminder(self, uow: "UnitOfWork", survey: Survey, sent_at: datetime,
                              now: datetime) -> None:
        q = await self.questionnaire_of(uow, survey)
        label = CASE_LABELS.get(survey.case_type, "hồ sơ")
        intro = (f"Nhắc lại: chúng tôi rất mong nhận được ý kiến của bạn về việc giải quyết "
                 f"{label} {survey.case_id}. Nếu không muốn nhận khảo sát, xin bấm "
                 f"\"{STOP_LABEL}\".")
        reply = self.ask(survey.id, survey.case_type, 1, q, intro=intro)
        await enqueue(uow, replies=[reply], kind="survey_reminder", now=now,
                      citizen_id=survey.citizen_id, dedupe_key=f"survey:{survey.id}:reminder",
                      not_before=sent_at + timedelta(hours=self.cfg.reminder_hours),
                      expires_at=survey.expires_at,
                      template=self._template(survey.case_id, survey.case_type))
        await uow.repo(SurveyRepo).set(survey.id, reminder_queued_at=now)
