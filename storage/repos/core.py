"""Repositories for the foundation tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import delete, select, update

from bot.messages import ConversationKey
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Citizen,
    ConversationState,
    MessageLog,
    ProcessedUpdate,
)
from storage.repos.base import Repository


class UpdateLog(Repository):
    async def claim(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an inbound update id; False when it was already recorded (a duplicate).
        Concurrent claims of one id: the second waits for the first's transaction and
        then gets False."""
        stmt = (
            self.insert(ProcessedUpdate)
            .values(channel=channel, update_id=update_id, processed_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.session.execute(stmt)
        return result.rowcount == 1

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        return result.rowcount or 0


@dataclass(frozen=True)
class Identity:
    id: int
    citizen_id: int
    channel: str
    user_id: str
    chat_id: str
    reachable: bool
    last_inbound_at: datetime | None


class Citizens(Repository):
    async def resolve(self, key: ConversationKey, now: datetime, display_name: str = "") -> Identity:
        """The identity for a channel user, creating the citizen on first contact.
        Records the time of this inbound message (the messaging windows count from it)."""
        row = await self._identity(key.channel, key.user_id)
        if row is None:
            citizen = Citizen(display_name=display_name or None, created_at=now, updated_at=now)
            self.session.add(citizen)
            await self.session.flush()
            stmt = (
                self.insert(ChannelIdentity)
                .values(citizen_id=citizen.id, channel=key.channel, user_id=key.user_id,
                        chat_id=key.chat_id, reachable=True, last_inbound_at=now, created_at=now)
                .on_conflict_do_nothing()
            )
            inserted = (await self.session.execute(stmt)).rowcount == 1
            if not inserted:  # another worker created it meanwhile
                await self.session.delete(citizen)
            row = await self._identity(key.channel, key.user_id)
            assert row is not None
        else:
            await self.session.execute(
                update(ChannelIdentity)
                .where(ChannelIdentity.id == row.id)
                .values(chat_id=key.chat_id, last_inbound_at=now, reachable=True,
                        unreachable_reason=None)
            )
            row = await self._identity(key.channel, key.user_id)
        return _identity(row)

    async def _identity(self, channel: str, user_id: str) -> ChannelIdentity | None:
        return (
            await self.session.execute(
                select(ChannelIdentity)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def identity(self, channel: str, user_id: str) -> Identity | None:
        row = await self._identity(channel, user_id)
        return _identity(row) if row else None

    async def identities_of(self, citizen_id: int) -> list[Identity]:
        rows = (
            await self.session.execute(
                select(ChannelIdentity).where(ChannelIdentity.citizen_id == citizen_id)
                .order_by(ChannelIdentity.last_inbound_at.desc())
            )
        ).scalars()
        return [_identity(r) for r in rows]

    async def mark_unreachable(self, channel: str, user_id: str, reason: str) -> None:
        await self.session.execute(
            update(ChannelIdentity)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id)
            .values(reachable=False, unreachable_reason=reason[:200])
        )


def _identity(row: ChannelIdentity) -> Identity:
    return Identity(row.id, row.citizen_id, row.channel, row.user_id, row.chat_id,
                    row.reachable, row.last_inbound_at)


@dataclass(frozen=True)
class StoredState:
    state: str
    data: dict[str, Any]
    updated_at: datetime


class ConversationStates(Repository):
    """Conversation state persisted per (channel, chat, user)."""

    async def load(self, key: ConversationKey, *, lock: bool = True) -> StoredState | None:
        stmt = select(ConversationState).where(
            ConversationState.channel == key.channel,
            ConversationState.chat_id == key.chat_id,
            ConversationState.user_id == key.user_id,
        ).execution_options(populate_existing=True)
        if lock and self.supports_row_locks:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        if row is None:
            return None
        return StoredState(row.state, dict(row.data or {}), row.updated_at)

    async def save(self, key: ConversationKey, state: str, data: dict[str, Any], now: datetime) -> None:
        stmt = self.insert(ConversationState).values(
            channel=key.channel, chat_id=key.chat_id, user_id=key.user_id,
            state=state, data=data, updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["channel", "chat_id", "user_id"],
            set_={"state": state, "data": data, "updated_at": now},
        )
        await self.session.execute(stmt)

    async def clear(self, key: ConversationKey) -> None:
        await self.session.execute(
            delete(ConversationState).where(
                ConversationState.channel == key.channel,
                ConversationState.chat_id == key.chat_id,
                ConversationState.user_id == key.user_id,
            )
        )


@dataclass(frozen=True)
class LoggedMessage:
    id: int
    at: datetime
    direction: str
    kind: str
    text: str
    payload: dict[str, Any]


class Messages(Repository):
    async def append(self, *, key: ConversationKey, citizen_id: int | None, direction: str,
                     kind: str, text: str, payload: dict[str, Any] | None, now: datetime) -> int:
        row = MessageLog(at=now, citizen_id=citizen_id, channel=key.channel, chat_id=key.chat_id,
                         direction=direction, kind=kind, text=text, payload=payload or {})
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def redact(self, message_id: int, placeholder: str) -> None:
        """Replace a logged message's text (and anything it carried) by a placeholder."""
        await self.session.execute(
            update(MessageLog).where(MessageLog.id == message_id)
            .values(text=placeholder, payload={"redacted": True}))

    async def since(self, channel: str, chat_id: str, after_id: int, *, direction: str | None = None,
                    limit: int = 100) -> list[LoggedMessage]:
        stmt = select(MessageLog).where(
            MessageLog.channel == channel, MessageLog.chat_id == chat_id, MessageLog.id > after_id
        )
        if direction:
            stmt = stmt.where(MessageLog.direction == direction)
        rows = (await self.session.execute(stmt.order_by(MessageLog.id).limit(limit))).scalars()
        return [LoggedMessage(r.id, r.at, r.direction, r.kind, r.text, dict(r.payload or {})) for r in rows]

    async def of_citizen(self, citizen_id: int, limit: int = 200) -> list[LoggedMessage]:
        rows = (
            await self.session.execute(
                select(MessageLog).where(MessageLog.citizen_id == citizen_id)
                .order_by(MessageLog.id.desc()).limit(limit)
            )
        ).scalars()
        out = [LoggedMessage(r.id, r.at, r.direction, r.kind, r.text, dict(r.payload or {})) for r in rows]
        return out[::-1]


class Audit(Repository):
    async def record(self, *, actor: str, action: str, entity_type: str = "", entity_id: str = "",
                     details: dict[str, Any] | None = None, now: datetime) -> None:
        self.session.add(AuditEntry(at=now, actor=actor, action=action, entity_type=entity_type,
                                    entity_id=str(entity_id), details=details or {}))

    async def for_entity(self, entity_type: str, entity_id: str) -> Sequence[AuditEntry]:
        rows = await self.session.execute(
            select(AuditEntry).where(AuditEntry.entity_type == entity_type,
                                     AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.id)
        )
        return rows.scalars().all()
