"""Surveys: one per resolved case, answers one by one, opt-outs, questionnaire versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, case, func, or_, select, update

from storage.models import OutboxMessage, Survey, SurveyAnswer, SurveyOptOut, SurveyQuestionnaire
from storage.repos.base import Repository

# Built once: an answer reads its survey first (found at once in the compiled cache)
_SURVEY_GET = select(Survey).where(Survey.id == bindparam("b_id")).execution_options(populate_existing=True)
_SURVEY_GET_LOCKED = _SURVEY_GET.with_for_update()

OPEN = ("scheduled", "sent", "answering")


class QuestionnaireChanged(Exception):
    """A questionnaire's content changed but its version number did not."""


@dataclass(frozen=True)
class AnswerRow:
    """An answer with the case it belongs to (reports and the raw export)."""

    survey_id: int
    case_type: str
    case_id: str
    agency: str
    field: str
    procedure_code: str
    channel: str
    resolved_at: datetime
    questionnaire_id: int | None
    question_no: int
    question_key: str
    kind: str
    factor: str
    value: int | None
    text: str | None
    answered_at: datetime


@dataclass(frozen=True)
class AnswerCount:
    """How many answers with this value, for cases with these attributes."""

    case_type: str
    agency: str
    field: str
    channel: str
    month: str
    question_key: str
    kind: str
    factor: str
    value: int
    n: int


class SurveyRepo(Repository):
    # -- questionnaires ----------------------------------------------------------------
    async def ensure_questionnaire(self, *, code: str, version: int, digest: str,
                                   content: dict[str, Any], now: datetime) -> int:
        """The id of this questionnaire version, stored on first use. Raises
        QuestionnaireChanged when the stored version has different content."""
        await self.session.execute(
            self.insert(SurveyQuestionnaire).values(code=code, version=version, digest=digest,
                                                    content=content, created_at=now)
            .on_conflict_do_nothing(index_elements=["code", "version"]))
        row = (await self.session.execute(
            select(SurveyQuestionnaire).where(SurveyQuestionnaire.code == code,
                                              SurveyQuestionnaire.version == version))).scalar_one()
        if row.digest != digest:
            raise QuestionnaireChanged(f"questionnaire {code} version {version} was changed "
                                       "without a new version number")
        return row.id

    async def questionnaires(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        rows = await self.session.execute(
            select(SurveyQuestionnaire.id, SurveyQuestionnaire.content)
            .where(SurveyQuestionnaire.id.in_(list(ids))))
        return {i: c for i, c in rows.all()}

    async def all_questionnaires(self) -> dict[int, dict[str, Any]]:
        """Every stored questionnaire version (a handful: one per configured version)."""
        rows = await self.session.execute(select(SurveyQuestionnaire.id, SurveyQuestionnaire.content))
        return {i: c for i, c in rows.all()}

    # -- surveys -----------------------------------------------------------------------
    async def create(self, **values: Any) -> int | None:
        """A survey row for a case; None when the case already has one."""
        stmt = (self.insert(Survey).values(**values)
                .on_conflict_do_nothing(index_elements=["case_type", "case_id"]))
        return (await self.session.execute(stmt.returning(Survey.id))).scalar_one_or_none()

    async def get(self, survey_id: int, *, lock: bool = False) -> Survey | None:
        stmt = _SURVEY_GET_LOCKED if lock and self.supports_row_locks else _SURVEY_GET
        return (await self.session.execute(stmt, {"b_id": survey_id})).scalar_one_or_none()

    async def by_case(self, case_type: str, case_id: str) -> Survey | None:
        return (await self.session.execute(
            select(Survey).where(Survey.case_type == case_type, Survey.case_id == case_id))
        ).scalar_one_or_none()

    async def set(self, survey_id: int, **values: Any) -> None:
        await self.session.execute(update(Survey).where(Survey.id == survey_id).values(**values))

    async def awaiting_answer(self, citizen_id: int, now: datetime) -> Survey | None:
        """The citizen's most recently sent survey still taking answers (including one
        the outbox sent that the survey job has not seen yet)."""
        return (await self.session.execute(
            select(Survey).outerjoin(OutboxMessage, OutboxMessage.id == Survey.outbox_id)
            .where(Survey.citizen_id == citizen_id, Survey.expires_at > now,
                   or_(Survey.status.in_(("sent", "answering")),
                       and_(Survey.status == "scheduled", OutboxMessage.status == "sent")))
            .order_by(Survey.id.desc()).limit(1))).scalar_one_or_none()

    async def open_of(self, citizen_id: int) -> list[Survey]:
        return list((await self.session.execute(
            select(Survey).where(Survey.citizen_id == citizen_id, Survey.status.in_(OPEN))
        )).scalars())

    async def first_messages_done(self, limit: int = 500) -> list[tuple[Survey, str, datetime | None]]:
        """Surveys not yet known as sent whose first message the outbox has finished
        with: the survey, the outbox status and when it was sent."""
        rows = await self.session.execute(
            select(Survey, OutboxMessage.status, OutboxMessage.sent_at)
            .join(OutboxMessage, OutboxMessage.id == Survey.outbox_id)
            .where(Survey.sent_at.is_(None), Survey.status.in_(OPEN + ("completed",)),
                   OutboxMessage.status.in_(("sent", "unreachable", "failed", "expired", "cancelled")))
            .order_by(Survey.id).limit(limit))
        return [(s, st, at) for s, st, at in rows.all()]

    async def mark_sent(self, survey_id: int, sent_at: datetime) -> bool:
        """``scheduled`` -> ``sent``; False when the survey moved on meanwhile (answered)."""
        result = await self.session.execute(
            update(Survey).where(Survey.id == survey_id, Survey.status == "scheduled")
            .values(status="sent", sent_at=sent_at))
        return result.rowcount == 1

    async def expire_due(self, now: datetime, limit: int = 1000) -> list[int]:
        """Open surveys past their expiry become ``expired`` (their answers still count)."""
        ids = list((await self.session.execute(
            select(Survey.id).where(Survey.status.in_(OPEN), Survey.expires_at <= now)
            .order_by(Survey.id).limit(limit))).scalars())
        if ids:
            await self.session.execute(update(Survey).where(Survey.id.in_(ids), Survey.status.in_(OPEN))
                                       .values(status="expired"))
        return ids

    # -- answers -----------------------------------------------------------------------
    async def save_answer(self, **values: Any) -> bool:
        """Store one answer; False when that question was already answered."""
        stmt = (self.insert(SurveyAnswer).values(**values)
                .on_conflict_do_nothing(index_elements=["survey_id", "question_key"]))
        return (await self.session.execute(stmt.returning(SurveyAnswer.id))).scalar_one_or_none() is not None

    async def answers_of(self, survey_id: int) -> list[SurveyAnswer]:
        return list((await self.session.execute(
            select(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id)
            .order_by(SurveyAnswer.question_no))).scalars())

    # -- opt-out -----------------------------------------------------------------------
    async def is_opted_out(self, citizen_id: int) -> bool:
        return await self.session.get(SurveyOptOut, citizen_id) is not None

    async def opt_out(self, citizen_id: int, channel: str, now: datetime) -> bool:
        """Record the opt-out; False when the citizen had already opted out."""
        stmt = (self.insert(SurveyOptOut).values(citizen_id=citizen_id, channel=channel, at=now)
                .on_conflict_do_nothing(index_elements=["citizen_id"]))
        return (await self.session.execute(stmt.returning(SurveyOptOut.citizen_id))).scalar_one_or_none() is not None

    # -- reports -----------------------------------------------------------------------
    async def answers(self, start: datetime, end: datetime, agency: str | None = None) -> list[AnswerRow]:
        """Answers to surveys about cases resolved in [start, end)."""
        stmt = (select(Survey.id, Survey.case_type, Survey.case_id, Survey.agency, Survey.field,
                       Survey.procedure_code, Survey.channel, Survey.resolved_at, Survey.questionnaire_id,
                       SurveyAnswer.question_no, SurveyAnswer.question_key, SurveyAnswer.kind,
                       SurveyAnswer.factor, SurveyAnswer.value, SurveyAnswer.text, SurveyAnswer.answered_at)
                .join(SurveyAnswer, SurveyAnswer.survey_id == Survey.id)
                .where(Survey.resolved_at >= start, Survey.resolved_at < end))
        if agency:
            stmt = stmt.where(Survey.agency == agency)
        rows = await self.session.execute(stmt.order_by(Survey.resolved_at, Survey.id, SurveyAnswer.question_no))
        return [AnswerRow(*r) for r in rows.all()]

    async def answer_counts(self, start: datetime, end: datetime, agency: str | None = None) -> list[AnswerCount]:
        """Scored answers (index and rating) counted per case attributes, question and value."""
        cols = (Survey.case_type, Survey.agency, Survey.field, Survey.channel, Survey.resolved_month,
                SurveyAnswer.question_key, SurveyAnswer.kind, SurveyAnswer.factor, SurveyAnswer.value)
        stmt = (select(*cols, func.count()).join(SurveyAnswer, SurveyAnswer.survey_id == Survey.id)
                .where(Survey.resolved_at >= start, Survey.resolved_at < end, SurveyAnswer.value.is_not(None),
                       SurveyAnswer.kind.in_(("index", "rating")))
                .group_by(*cols))
        if agency:
            stmt = stmt.where(Survey.agency == agency)
        return [AnswerCount(*r) for r in (await self.session.execute(stmt)).all()]

    async def index_dossiers(self, start: datetime, end: datetime, agency: str | None = None) -> dict[str, int]:
        """Dossiers with at least one Circular 01/2018 index answered, per agency."""
        stmt = (select(Survey.agency, func.count(func.distinct(Survey.id)))
                .join(SurveyAnswer, SurveyAnswer.survey_id == Survey.id)
                .where(Survey.resolved_at >= start, Survey.resolved_at < end, SurveyAnswer.kind == "index",
                       SurveyAnswer.value.is_not(None))
                .group_by(Survey.agency))
        if agency:
            stmt = stmt.where(Survey.agency == agency)
        return {a: n for a, n in (await self.session.execute(stmt)).all()}

    async def case_counts(self, start: datetime, end: datetime, agency: str | None = None) -> dict[str, int]:
        """How many cases were resolved, surveyed, reached, answered, completed, opted out."""
        reached = Survey.sent_at.is_not(None)
        one = lambda cond: func.coalesce(func.sum(case((cond, 1), else_=0)), 0)  # noqa: E731
        stmt = select(func.count(), one(Survey.status != "not_sent"), one(reached),
                      one(and_(reached, Survey.first_answer_at.is_not(None))),
                      one(and_(reached, Survey.status == "completed")),
                      one(or_(Survey.status == "opted_out", Survey.not_sent_reason == "opted_out"))
                      ).where(Survey.resolved_at >= start, Survey.resolved_at < end)
        if agency:
            stmt = stmt.where(Survey.agency == agency)
        row = (await self.session.execute(stmt)).one()
        keys = ("resolved", "queued", "reached", "answered", "completed", "opted_out")
        return {k: int(v or 0) for k, v in zip(keys, row)}

    async def pakn_times(self, start: datetime, end: datetime, agency: str | None = None
                         ) -> list[tuple[datetime, datetime | None, bool | None]]:
        """(resolved_at, received_at, on_time) of every PAKN resolved in the period."""
        stmt = (select(Survey.resolved_at, Survey.received_at, Survey.on_time)
                .where(Survey.case_type == "pakn", Survey.resolved_at >= start, Survey.resolved_at < end))
        if agency:
            stmt = stmt.where(Survey.agency == agency)
        return [tuple(r) for r in (await self.session.execute(stmt)).all()]  # type: ignore[misc]

    async def questionnaire_ids(self, start: datetime, end: datetime) -> list[int]:
        return [i for i in (await self.session.execute(
            select(Survey.questionnaire_id).where(Survey.resolved_at >= start, Survey.resolved_at < end,
                                                  Survey.questionnaire_id.is_not(None)).distinct())).scalars()]

    async def agencies(self) -> list[str]:
        return [a for a in (await self.session.execute(
            select(Survey.agency).where(Survey.agency != "").distinct().order_by(Survey.agency))).scalars()]

    async def status_counts(self) -> dict[str, int]:
        rows = await self.session.execute(select(Survey.status, func.count()).group_by(Survey.status))
        return {s: n for s, n in rows.all()}
