"""Satisfaction surveys: one row per resolved case (dossier returned, PAKN answered), its
answers (saved one by one), citizens who opted out, and the questionnaire versions used.

Cases and citizens of other features are referenced by code/id only (no foreign keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.core import BigId


class SurveyQuestionnaire(Base):
    """A questionnaire version as it was first used (the YAML's content, kept forever)."""

    __tablename__ = "survey_questionnaires"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column()
    digest: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    """A resolved case and the survey about it: at most one per case, whatever is replayed.

    Every resolved case gets a row, surveyed or not (no citizen, opted out), so the on-time
    figures count all of them."""

    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("case_type", "case_id"),
        Index("ix_surveys_status", "status", "expires_at"),
        Index("ix_surveys_resolved", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_type: Mapped[str] = mapped_column(String(16))  # dossier | pakn
    case_id: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int | None] = mapped_column(BigId, index=True)
    questionnaire_id: Mapped[int | None] = mapped_column(BigId)
    agency: Mapped[str] = mapped_column(String(64), default="")
    procedure_code: Mapped[str] = mapped_column(String(64), default="")
    field: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(32), default="")
    resolved_at: Mapped[datetime] = mapped_column()
    resolved_month: Mapped[str] = mapped_column(String(7))  # local "YYYY-MM", for grouping in SQL
    received_at: Mapped[datetime | None] = mapped_column()
    on_time: Mapped[bool | None] = mapped_column()
    # scheduled -> sent -> answering -> completed; or expired, opted_out, not_sent
    status: Mapped[str] = mapped_column(String(16))
    not_sent_reason: Mapped[str | None] = mapped_column(String(32))
    question_count: Mapped[int] = mapped_column(default=0)
    next_question: Mapped[int] = mapped_column(default=1)  # the answer expected next (1-based)
    outbox_id: Mapped[int | None] = mapped_column(BigId)  # the first message
    send_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    reminder_queued_at: Mapped[datetime | None] = mapped_column()
    first_answer_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("survey_id", "question_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    question_no: Mapped[int] = mapped_column()
    question_key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # index | rating | comment
    factor: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[int | None] = mapped_column()  # None: skipped, or a comment
    text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column()


class SurveyOptOut(Base):
    """"Không nhận khảo sát": no survey is ever sent to this citizen again."""

    __tablename__ = "survey_optouts"

    citizen_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[datetime] = mapped_column()
