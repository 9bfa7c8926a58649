"""Repositories for the foundation tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Integer, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

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


_UPDATES = ProcessedUpdate.__table__
_CITIZENS = Citizen.__table__
_IDENTITIES = ChannelIdentity.__table__
_STATES = ConversationState.__table__
_MESSAGES = MessageLog.__table__

# The statements of the message path, built once: Core statements on the tables (no ORM
# unit of work, no identity map) with bound parameters, so SQLAlchemy's compiled cache
# finds them at once instead of building and hashing a new statement for each message.
_IDENTITY_COLS = (_IDENTITIES.c.id, _IDENTITIES.c.citizen_id, _IDENTITIES.c.channel, _IDENTITIES.c.user_id,
                  _IDENTITIES.c.chat_id, _IDENTITIES.c.reachable, _IDENTITIES.c.last_inbound_at)
_TOUCH_IDENTITY = (
    update(_IDENTITIES)
    .where(_IDENTITIES.c.channel == bindparam("b_channel"), _IDENTITIES.c.user_id == bindparam("b_user_id"))
    .values(chat_id=bindparam("b_chat_id"), last_inbound_at=bindparam("b_now"), reachable=True,
            unreachable_reason=None)
    .returning(*_IDENTITY_COLS)
)
_SELECT_IDENTITY = select(*_IDENTITY_COLS).where(
    _IDENTITIES.c.channel == bindparam("b_channel"), _IDENTITIES.c.user_id == bindparam("b_user_id"))
_NEW_CITIZEN = insert(_CITIZENS).returning(_CITIZENS.c.id)
_DELETE_CITIZEN = delete(_CITIZENS).where(_CITIZENS.c.id == bindparam("b_id"))
_STATE_WHERE = (_STATES.c.channel == bindparam("b_channel"), _STATES.c.chat_id == bindparam("b_chat_id"),
                _STATES.c.user_id == bindparam("b_user_id"))
_LOAD_STATE = select(_STATES.c.state, _STATES.c.data, _STATES.c.updated_at).where(*_STATE_WHERE)
_LOAD_STATE_LOCKED = _LOAD_STATE.with_for_update()
_APPEND_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_APPEND_MESSAGES = insert(_MESSAGES)
_REDACT_MESSAGE = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("b_id"))
                   .values(text=bindparam("b_text"), payload={"redacted": True}))
_SINCE_WHERE = (_MESSAGES.c.channel == bindparam("b_channel"), _MESSAGES.c.chat_id == bindparam("b_chat_id"),
                _MESSAGES.c.id > bindparam("b_after"))
_SINCE_COLS = (_MESSAGES.c.id, _MESSAGES.c.at, _MESSAGES.c.direction, _MESSAGES.c.kind, _MESSAGES.c.text,
               _MESSAGES.c.payload)
_SINCE = (select(*_SINCE_COLS).where(*_SINCE_WHERE)
          .order_by(_MESSAGES.c.id).limit(bindparam("b_limit", type_=Integer)))
_SINCE_DIRECTION = (select(*_SINCE_COLS).where(*_SINCE_WHERE, _MESSAGES.c.direction == bindparam("b_direction"))
                    .order_by(_MESSAGES.c.id).limit(bindparam("b_limit", type_=Integer)))


@functools.cache
def _dialect_statements(dialect: str) -> dict[str, Any]:
    """The upserts, which differ by dialect (ON CONFLICT is not in SQLAlchemy's generic insert)."""
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    claim = ins(_UPDATES).on_conflict_do_nothing()
    identity = ins(_IDENTITIES).on_conflict_do_nothing().returning(*_IDENTITY_COLS)
    state = ins(_STATES)
    state = state.on_conflict_do_update(
        index_elements=["channel", "chat_id", "user_id"],
        set_={"state": state.excluded.state, "data": state.excluded.data,
              "updated_at": state.excluded.updated_at})
    return {"claim": claim, "identity": identity, "state": state}


class UpdateLog(Repository):
    async def claim(self, channel: str, update_id: str, now: datetime) -> bool:
        """Record an inbound update id; False when it was already recorded (a duplicate).
        Concurrent claims of one id: the second waits for the first's transaction and
        then gets False."""
        result = await self.session.execute(
            _dialect_statements(self.dialect)["claim"],
            {"channel": channel, "update_id": update_id, "processed_at": now})
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
        Records the time of this inbound message (the messaging windows count from it).
        A returning citizen costs one statement (UPDATE ... RETURNING)."""
        touch = {"b_channel": key.channel, "b_user_id": key.user_id, "b_chat_id": key.chat_id, "b_now": now}
        row = (await self.session.execute(_TOUCH_IDENTITY, touch)).first()
        if row is not None:
            return Identity(*row)
        citizen_id = (await self.session.execute(
            _NEW_CITIZEN, {"display_name": display_name or None, "created_at": now, "updated_at": now}
        )).scalar_one()
        row = (await self.session.execute(
            _dialect_statements(self.dialect)["identity"],
            {"citizen_id": citizen_id, "channel": key.channel, "user_id": key.user_id,
             "chat_id": key.chat_id, "reachable": True, "last_inbound_at": now, "created_at": now},
        )).first()
        if row is None:  # another worker created it meanwhile (its transaction has committed)
            await self.session.execute(_DELETE_CITIZEN, {"b_id": citizen_id})
            row = (await self.session.execute(_TOUCH_IDENTITY, touch)).first()
            assert row is not None
        return Identity(*row)

    async def _identity(self, channel: str, user_id: str) -> ChannelIdentity | None:
        return (
            await self.session.execute(
                select(ChannelIdentity)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.user_id == user_id)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def identity(self, channel: str, user_id: str) -> Identity | None:
        row = (await self.session.execute(_SELECT_IDENTITY, {"b_channel": channel, "b_user_id": user_id})).first()
        return Identity(*row) if row is not None else None

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
        stmt = _LOAD_STATE_LOCKED if lock and self.supports_row_locks else _LOAD_STATE
        row = (await self.session.execute(
            stmt, {"b_channel": key.channel, "b_chat_id": key.chat_id, "b_user_id": key.user_id})).first()
        if row is None:
            return None
        return StoredState(row[0], dict(row[1] or {}), row[2])

    async def save(self, key: ConversationKey, state: str, data: dict[str, Any], now: datetime) -> None:
        await self.session.execute(
            _dialect_statements(self.dialect)["state"],
            {"channel": key.channel, "chat_id": key.chat_id, "user_id": key.user_id,
             "state": state, "data": data, "updated_at": now})

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


@dataclass(frozen=True)
class NewMessage:
    """A message to log with :meth:`Messages.append_many`."""

    citizen_id: int | None
    direction: str
    kind: str
    text: str
    payload: dict[str, Any] | None


class Messages(Repository):
    async def append(self, *, key: ConversationKey, citizen_id: int | None, direction: str,
                     kind: str, text: str, payload: dict[str, Any] | None, now: datetime) -> int:
        return (await self.session.execute(_APPEND_MESSAGE, {
            "at": now, "citizen_id": citizen_id, "channel": key.channel, "chat_id": key.chat_id,
            "direction": direction, "kind": kind, "text": text, "payload": payload or {}})).scalar_one()

    async def append_many(self, key: ConversationKey, messages: Sequence[NewMessage], now: datetime) -> None:
        """Log several messages of one conversation in one statement, ids in their order."""
        if not messages:
            return
        if len(messages) == 1:
            m = messages[0]
            await self.append(key=key, citizen_id=m.citizen_id, direction=m.direction, kind=m.kind,
                              text=m.text, payload=m.payload, now=now)
            return
        # One multi-row INSERT (SQLAlchemy's "insertmanyvalues"); the rows get ascending ids
        # in list order, which is the order the web chat shows them in.
        await self.session.execute(_APPEND_MESSAGES, [
            {"at": now, "citizen_id": m.citizen_id, "channel": key.channel, "chat_id": key.chat_id,
             "direction": m.direction, "kind": m.kind, "text": m.text, "payload": m.payload or {}}
            for m in messages])

    async def redact(self, message_id: int, placeholder: str) -> None:
        """Replace a logged message's text (and anything it carried) by a placeholder."""
        await self.session.execute(_REDACT_MESSAGE, {"b_id": message_id, "b_text": placeholder})

    async def since(self, channel: str, chat_id: str, after_id: int, *, direction: str | None = None,
                    limit: int = 100) -> list[LoggedMessage]:
        params: dict[str, Any] = {"b_channel": channel, "b_chat_id": chat_id, "b_after": after_id,
                                  "b_limit": limit}
        if direction:
            params["b_direction"] = direction
        rows = await self.session.execute(_SINCE_DIRECTION if direction else _SINCE, params)
        return [LoggedMessage(r[0], r[1], r[2], r[3], r[4], dict(r[5] or {})) for r in rows]

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
