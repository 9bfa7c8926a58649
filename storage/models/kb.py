"""Procedures (TTHC) of the knowledge base, shared by every worker and (later) staff edits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class ProcedureRow(Base):
    __tablename__ = "procedures"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # base code N.NNNNNN
    name: Mapped[str] = mapped_column(String(1000))
    field: Mapped[str] = mapped_column(String(300), default="", index=True)
    level: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict[str, Any]] = mapped_column()  # Procedure.to_dict()
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbVersion(Base):
    """One row: bumped on every change, so each worker knows when to rebuild its index."""

    __tablename__ = "kb_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
