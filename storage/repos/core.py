"""Repositories for the foundation tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import JSON, Boolean, Integer, String, bindparam, column, delete, insert, select, text, update
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
from storage import driver
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
        return await self.create(key, now, display_name)

    async def create(self, key: ConversationKey, now: datetime, display_name: str = "") -> Identity:
        """A new citizen and their identity on this channel (first contact); the identity
        another worker created meanwhile if it won the race."""
        touch = {"b_channel": key.channel, "b_user_id": key.user_id, "b_chat_id": key.chat_id, "b_now": now}
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


# PostgreSQL: what a message needs first (claim its update id, touch the identity, load and
# lock the conversation state) in one statement, i.e. one round trip instead of three. The
# identity and the state are only touched when the claim succeeded (not for a duplicate).
_OPEN_SQL = """
WITH claim AS ({claim}),
touched AS (
    UPDATE channel_identities
       SET chat_id = :chat_id, last_inbound_at = :now, reachable = true, unreachable_reason = NULL
     WHERE channel = :channel AND user_id = :user_id AND EXISTS (SELECT 1 FROM claim)
 RETURNING id, citizen_id, channel, user_id, chat_id, reachable, last_inbound_at
),
st AS (
    SELECT state, data, updated_at FROM conversation_states
     WHERE channel = :channel AND chat_id = :chat_id AND user_id = :user_id
       AND EXISTS (SELECT 1 FROM claim)
       FOR UPDATE
)
SELECT (SELECT count(*) FROM claim) AS claimed,
       t.id AS i_id, t.citizen_id AS i_citizen_id, t.channel AS i_channel, t.user_id AS i_user_id,
       t.chat_id AS i_chat_id, t.reachable AS i_reachable, t.last_inbound_at AS i_last_inbound_at,
       s.state AS s_state, s.data AS s_data, s.updated_at AS s_updated_at
  FROM (SELECT 1) AS one LEFT JOIN touched AS t ON true LEFT JOIN st AS s ON true
"""
_CLAIM_SQL = ("INSERT INTO processed_updates (channel, update_id, processed_at) "
              "VALUES (:channel, :update_id, :now) ON CONFLICT DO NOTHING RETURNING 1")


def _cols(**types: Any) -> list:
    """A textual statement's result columns, positionally, in the order of its SELECT list:
    SQLAlchemy then caches the result's metadata with the statement (matched by name, with
    keyword types, it built it again for every execution: a tenth of the message path's
    SQLAlchemy work)."""
    return [column(name, type_) for name, type_ in types.items()]


def _open_statement(claim: str):
    from storage.models.base import UTCDateTime

    return (text(_OPEN_SQL.format(claim=claim))
            .bindparams(bindparam("now", type_=UTCDateTime()))
            .columns(*_cols(claimed=Integer, i_id=Integer, i_citizen_id=Integer, i_channel=String,
                            i_user_id=String, i_chat_id=String, i_reachable=Boolean,
                            i_last_inbound_at=UTCDateTime(), s_state=String, s_data=JSON,
                            s_updated_at=UTCDateTime())))


_OPEN_CLAIMED = _open_statement(_CLAIM_SQL)
_OPEN_UNCLAIMED = _open_statement("SELECT 1")  # a message without an update id
# The same, run on the driver's connection (storage.driver): about 0.1 ms of CPU less each
_OPEN_CLAIMED_DRIVER = driver.Compiled(_OPEN_CLAIMED)
_OPEN_UNCLAIMED_DRIVER = driver.Compiled(_OPEN_UNCLAIMED)


# PostgreSQL: what a message writes last (the conversation state, upserted, and the message
# with its replies in the log) in one statement: the state upsert as a data-modifying CTE of
# the log's multi-row INSERT. What the channel asked for with a CloseWith is folded in too: the
# platform inbox row marked done (another DML CTE), and the web chat's page (the log INSERT's
# RETURNING of the replies with a UNION ALL of the older outgoing rows newer than the page's
# cursor: the pushed messages). The outer query's read of message_log sees the table as it was
# before the statement, so the new rows come only from RETURNING, never twice. One statement
# per (number of logged rows, page, inbox), built once.
_CLOSE_MAX_ROWS = 16
_MESSAGE_ROW_COLS = ("citizen_id", "direction", "kind", "text", "payload")
_PAGE_LIMIT = 100  # as Messages.since


@functools.lru_cache(maxsize=_CLOSE_MAX_ROWS * 4)
def _close_statement(rows: int, page: bool = False, inbox: bool = False):
    # Text, not a Core insert: SQLAlchemy does not cache a multi-row INSERT with a DML CTE
    # (no cache key), so it would be compiled again for every message.
    from storage.models.base import UTCDateTime

    values = ", ".join(f"(:b_now, :m{i}_citizen_id, :b_channel, :b_chat_id, :m{i}_direction, "
                       f":m{i}_kind, :m{i}_text, :m{i}_payload)" for i in range(rows))
    ctes = ["saved_state AS ("
            "INSERT INTO conversation_states (channel, chat_id, user_id, state, data, updated_at) "
            "VALUES (:b_channel, :b_chat_id, :b_user_id, :b_state, :b_data, :b_now) "
            "ON CONFLICT (channel, chat_id, user_id) DO UPDATE SET state = excluded.state, "
            "data = excluded.data, updated_at = excluded.updated_at)"]
    if inbox:
        ctes.append("inbox_done AS (UPDATE channel_inbox SET done_at = :b_now, payload = '{}' "
                    "WHERE id = :b_inbox_id)")
    log = ("INSERT INTO message_log (at, citizen_id, channel, chat_id, direction, kind, text, payload) "
           f"VALUES {values}")
    binds = [bindparam("b_now", type_=UTCDateTime()), bindparam("b_data", type_=JSON())]
    binds += [bindparam(f"m{i}_payload", type_=JSON()) for i in range(rows)]
    if not page:
        return text(f"WITH {', '.join(ctes)} {log}").bindparams(*binds)
    cols = "id, at, direction, kind, text, payload"
    ctes.append(f"logged AS ({log} RETURNING {cols})")
    sql = (f"WITH {', '.join(ctes)} "
           f"SELECT {cols} FROM logged WHERE direction = 'out' AND id > :b_after "
           f"UNION ALL SELECT {cols} FROM message_log "
           "WHERE channel = :b_channel AND chat_id = :b_chat_id AND direction = 'out' AND id > :b_after "
           "ORDER BY id LIMIT :b_limit")
    binds.append(bindparam("b_limit", type_=Integer()))
    return (text(sql).bindparams(*binds)
            .columns(*_cols(id=Integer, at=UTCDateTime(), direction=String, kind=String, text=String,
                            payload=JSON)))


@functools.lru_cache(maxsize=_CLOSE_MAX_ROWS * 4)
def _close_driver(rows: int, page: bool = False, inbox: bool = False) -> driver.Compiled:
    return driver.Compiled(_close_statement(rows, page, inbox))


@dataclass
class CloseWith:
    """A channel's bookkeeping that :meth:`Conversations.close` may fold into the message's
    closing statement (PostgreSQL, up to 16 logged rows), filled in when it did:

    - ``page_after``: the page's cursor; ``page`` gets the conversation's outgoing rows newer
      than it (the replies just logged and anything pushed meanwhile), oldest first, at most
      ``page_limit`` — what :meth:`Messages.since` with ``direction="out"`` reads;
    - ``inbox_id``: a platform inbox row to mark done (as :meth:`ChannelInbox.done`);
      ``inbox_done`` is set when the statement did it.

    Both count only once the transaction commits. When close could not fold them (SQLite, a
    duplicate update, many rows) they stay None / False and the channel does the work itself."""

    page_after: int | None = None
    page_limit: int = _PAGE_LIMIT
    inbox_id: int | None = None
    page: "list[LoggedMessage] | None" = None
    inbox_done: bool = False


@dataclass(frozen=True)
class Opened:
    """A message's start: False for a re-delivered update (nothing else was touched)."""

    claimed: bool
    identity: Identity | None = None
    state: StoredState | None = None


def _utc(value: datetime | None) -> datetime | None:
    """As UTCDateTime reads a timestamp (the driver's rows come without its processing)."""
    if value is None or value.tzinfo is timezone.utc:
        return value
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Conversations(Repository):
    async def open(self, key: ConversationKey, update_id: str, now: datetime, display_name: str = "") -> Opened:
        """Claim the update id (when there is one), then the citizen's identity (created on
        first contact) and the conversation state, locked (on PostgreSQL) for this
        transaction. On PostgreSQL one round trip for a returning citizen."""
        if not self.supports_row_locks:  # SQLite: local calls, the whole database is locked
            if update_id and not await UpdateLog(self.session).claim(key.channel, update_id, now):
                return Opened(False)
            identity = await Citizens(self.session).resolve(key, now, display_name)
            return Opened(True, identity, await ConversationStates(self.session).load(key))
        params = {"channel": key.channel, "chat_id": key.chat_id, "user_id": key.user_id, "now": now}
        if update_id:
            params["update_id"] = update_id
        if driver.usable(self.session):
            # columns by position: claimed, the identity's 7, the state's 3 (see _OPEN_SQL)
            row = (await driver.fetch(self.session, _OPEN_CLAIMED_DRIVER if update_id else _OPEN_UNCLAIMED_DRIVER,
                                      params))[0]
        else:
            row = (await self.session.execute(_OPEN_CLAIMED if update_id else _OPEN_UNCLAIMED, params)).one()
        if not row[0]:
            return Opened(False)
        stored = StoredState(row[8], dict(row[9] or {}), _utc(row[10])) if row[8] is not None else None
        if row[1] is None:  # first contact
            return Opened(True, await Citizens(self.session).create(key, now, display_name), stored)
        identity = Identity(row[1], row[2], row[3], row[4], row[5], row[6], _utc(row[7]))
        return Opened(True, identity, stored)

    async def close(self, key: ConversationKey, state: str, data: dict[str, Any],
                    messages: Sequence["NewMessage"], now: datetime, with_: CloseWith | None = None) -> None:
        """Save the conversation state and log the message with its replies (ids in list
        order). On PostgreSQL one statement, with ``with_``'s page and inbox row folded in (see
        :class:`CloseWith`); on SQLite (local calls) the two of :meth:`ConversationStates.save`
        and :meth:`Messages.append_many`, and ``with_`` is left to the caller."""
        if self.supports_row_locks and 0 < len(messages) <= _CLOSE_MAX_ROWS:
            params: dict[str, Any] = {"b_channel": key.channel, "b_chat_id": key.chat_id,
                                      "b_user_id": key.user_id, "b_state": state, "b_data": data,
                                      "b_now": now}
            for i, m in enumerate(messages):
                params[f"m{i}_citizen_id"] = m.citizen_id
                params[f"m{i}_direction"] = m.direction
                params[f"m{i}_kind"] = m.kind
                params[f"m{i}_text"] = m.text
                params[f"m{i}_payload"] = m.payload or {}
            page = with_ is not None and with_.page_after is not None
            inbox = with_ is not None and with_.inbox_id is not None
            if inbox:
                params["b_inbox_id"] = with_.inbox_id
            if page:
                params["b_after"] = with_.page_after
                params["b_limit"] = with_.page_limit
            if driver.usable(self.session):
                result = await driver.fetch(self.session, _close_driver(len(messages), page, inbox), params)
            else:
                result = await self.session.execute(_close_statement(len(messages), page, inbox), params)
            if page:
                with_.page = [LoggedMessage(r[0], _utc(r[1]), r[2], r[3], r[4], dict(r[5] or {})) for r in result]
            if inbox:
                with_.inbox_done = True
            return
        await ConversationStates(self.session).save(key, state, data, now)
        await Messages(self.session).append_many(key, messages, now)


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
