"""Tables of the platform channels: the webhook inbox and the Zalo OA token pair."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow
from storage.models.core import BigId


class InboxUpdate(Base):
    """A platform update accepted by a webhook, kept until it has been handled.

    Webhooks answer at once (Zalo wants 200 within 2 s) and handle the update afterwards;
    the row makes the update survive a crash between the two, and its unique key turns a
    re-delivered update into a no-op."""

    __tablename__ = "channel_inbox"
    __table_args__ = (UniqueConstraint("channel", "update_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    update_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    done_at: Mapped[datetime | None] = mapped_column(index=True)


class ZaloOAToken(Base):
    """The Zalo OA token pair, one row per app. Refresh tokens work once, so the pair
    lives here (not in a process) and is rotated under a row lock."""

    __tablename__ = "zalo_oa_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")
    refresh_token: Mapped[str] = mapped_column(Text, default="")
    access_expires_at: Mapped[datetime] = mapped_column()
    refresh_expires_at: Mapped[datetime | None] = mapped_column()
    refreshed_at: Mapped[datetime | None] = mapped_column()
    refresh_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
