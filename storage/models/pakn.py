"""PAKN tables: feedback items, their attachments and conversation, agencies, staff users
and their sessions, failed logins (throttling) and notices (staff group, citizen progress).

Citizens are referenced by id only (no foreign key to another feature's tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.core import BigId


class PaknAgency(Base):
    __tablename__ = "pakn_agencies"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaknItem(Base):
    """One phản ánh / kiến nghị, or a citizen's question for staff (kind ``question``)."""

    __tablename__ = "pakn_items"
    __table_args__ = (
        Index("ix_pakn_items_state_agency", "state", "agency_code"),
        Index("ix_pakn_items_citizen", "citizen_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # phan_anh | kien_nghi | question
    subject: Mapped[str] = mapped_column(String(16))  # procedure | official | rule | other | question
    procedure_code: Mapped[str | None] = mapped_column(String(64))
    procedure_name: Mapped[str | None] = mapped_column(String(500))
    agency_code: Mapped[str | None] = mapped_column(String(32), index=True)
    content: Mapped[str] = mapped_column(Text)
    content_key: Mapped[str] = mapped_column(Text, default="")  # folded content, for duplicates
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str | None] = mapped_column(String(500))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(200))
    consent_at: Mapped[datetime | None] = mapped_column()
    citizen_id: Mapped[int] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="new")
    resume_state: Mapped[str | None] = mapped_column(String(16))  # where needs_info returns to
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_on: Mapped[date] = mapped_column(Date)  # the working day it counts as received
    accept_due: Mapped[date] = mapped_column(Date)
    forward_due: Mapped[date] = mapped_column(Date)
    answer_due: Mapped[date] = mapped_column(Date)
    publish_due: Mapped[date | None] = mapped_column(Date)
    accepted_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)  # rejection reason / information asked for
    forwarded_to: Mapped[str | None] = mapped_column(String(300))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(BigId)
    delivery: Mapped[str | None] = mapped_column(String(16))  # queued | undeliverable
    public_summary: Mapped[str | None] = mapped_column(Text)  # masked content shown when published


class PaknAttachment(Base):
    __tablename__ = "pakn_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pakn_items.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(BigId)  # the pakn_messages row, when sent later
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(Text)  # platform file id / URL, or "upload:<name>"
    name: Mapped[str] = mapped_column(String(300), default="")
    mime_type: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaknMessage(Base):
    """The conversation about an item after filing: information asked and supplied,
    the answer, notes. ``author``: "citizen", "staff:<id>", "system"."""

    __tablename__ = "pakn_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pakn_items.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # info_request | info | answer | note | forward
    text: Mapped[str] = mapped_column(Text, default="")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))  # admin | officer
    agency_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffSession(Base):
    """A logged-in browser. Only the SHA-256 of the cookie value is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class StaffLoginFailure(Base):
    __tablename__ = "staff_login_failures"
    __table_args__ = (Index("ix_staff_login_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))  # "user:<name>" or "ip:<address>"
    at: Mapped[datetime] = mapped_column()


class PaknNotice(Base):
    """A notice due for an item, claimed once per (item, notice): the staff group's notices
    (new, info supplied, assigned, due soon / overdue per stage) and the citizens' progress
    messages. ``sent_at`` is empty while a staff notice is still to be sent; ``at`` is its
    last attempt (the claim), ``attempts`` how many were made; ``gave_up_at`` marks one no
    longer tried (``details["gave_up"]`` says why). ``details["headline"]`` is kept to
    rebuild the message when it is sent again (bot/pakn/staff_notify.py)."""

    __tablename__ = "pakn_notices"
    __table_args__ = (UniqueConstraint("item_id", "notice"),
                      Index("ix_pakn_notices_sent_at", "sent_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("pakn_items.id", ondelete="CASCADE"))
    notice: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=1, server_default="1")
    gave_up_at: Mapped[datetime | None] = mapped_column()
