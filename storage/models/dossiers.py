"""Dossier status tables: the local copy of the one-stop system's dossiers (fed by the
CSV/XLSX import or the webhook), citizens' subscriptions, proven ownership, and the
throttling log shared by every worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.core import BigId


class DossierRecord(Base):
    """One dossier as last received from the one-stop system (the ``record`` JSON is the
    contract's form without the applicant's phone or ID number; see bot/dossiers/wire.py)."""

    __tablename__ = "dossier_records"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column()
    fingerprint: Mapped[str] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None] = mapped_column()
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class DossierSubscription(Base):
    """A citizen following a dossier; what they were last told about it."""

    __tablename__ = "dossier_subscriptions"
    __table_args__ = (
        UniqueConstraint("citizen_id", "dossier_code"),
        Index("ix_dossier_subscriptions_due", "active", "last_checked_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    dossier_code: Mapped[str] = mapped_column(String(40), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_reason: Mapped[str | None] = mapped_column(String(32))  # "citizen" | "finished"
    last_status: Mapped[int] = mapped_column(Integer)
    last_status_key: Mapped[str] = mapped_column(String(64), default="")
    apology_seen: Mapped[bool] = mapped_column(default=False)
    last_checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class DossierOwnership(Base):
    """A citizen proved they own a dossier (phone digits or ID number), and when."""

    __tablename__ = "dossier_ownership"

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))  # "phone" | "id"
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)


class DossierRateEvent(Base):
    """Throttling log: one row per counted attempt (a wrong ownership answer, a lookup,
    a lookup of a code that does not exist); limits count rows in a sliding window."""

    __tablename__ = "dossier_rate_events"
    __table_args__ = (Index("ix_dossier_rate_events_lookup", "kind", "subject", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
