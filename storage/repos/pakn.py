"""Repositories for PAKN items and the staff dashboard (users, sessions, login throttling)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Sequence

from sqlalchemy import delete, func, or_, select, update

from storage.models.pakn import (
    PaknAgency,
    PaknAttachment,
    PaknItem,
    PaknMessage,
    PaknNotice,
    StaffLoginFailure,
    StaffSession,
    StaffUser,
)
from storage.repos.base import Repository, like_escaped


@dataclass(frozen=True)
class ItemFilter:
    states: tuple[str, ...] = ()
    agency_code: str | None = None  # exact agency; "" = items with no agency yet
    agency_codes: tuple[str, ...] | None = None  # restrict to these (an officer's scope)
    subject: str | None = None
    kind: str | None = None
    query: str = ""  # code, content, name, phone or procedure contains (see search_terms)
    due_before: date | None = None  # the stage's due date on or before (overdue / due soon)
    due_from: date | None = None  # ... and on or after (due soon, not yet overdue)
    paused_while_waiting: bool = False  # needs_info has no due date (pakn.pause_while_waiting)


def _like(text: str) -> str:
    return "%" + like_escaped(text) + "%"


def search_terms(query: str) -> tuple[list[str], str, str]:
    """What a staff search is matched with: (spellings of the query for the stored text, the
    folded query for ``content_key``, the digits of a phone number or "").

    Staff type the citizen's words as they remember them: in capitals or without
    diacritics ("DEN DUONG" for "đèn đường"), a phone number with spaces ("0912 345 678"),
    the name in lower case. SQLite's ILIKE folds only ASCII letters, so the lower-case and
    the capitalised spellings are tried too (names are stored capitalised); the content is
    also matched folded, on the key kept for duplicates."""
    from bot.pakn.rules import content_key

    raw = " ".join(unicodedata.normalize("NFC", query).split())
    if not raw:
        return [], "", ""
    lower = raw.lower()
    spellings = list(dict.fromkeys([raw, lower, " ".join(w[:1].upper() + w[1:] for w in lower.split())]))
    folded = content_key(raw)  # as the content's key is made
    digits = re.sub(r"\D", "", raw) if re.fullmatch(r"[+\d\s.\-()]+", raw) else ""
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return spellings, folded, digits if len(digits) >= 4 else ""


# The due date that counts in each open state (see PaknService.current_due): none while
# waiting for the citizen's information when that wait does not count.
def current_due_column(paused_while_waiting: bool = False):
    from sqlalchemy import case

    answer_states = ("accepted", "in_progress") if paused_while_waiting else ("accepted", "in_progress", "needs_info")
    return case(
        (PaknItem.state == "new", PaknItem.accept_due),
        (PaknItem.state.in_(answer_states), PaknItem.answer_due),
        (PaknItem.state == "answered", PaknItem.publish_due),
        else_=None,
    )


class PaknRepo(Repository):
    # -- agencies ------------------------------------------------------------------------
    async def agencies(self, *, active_only: bool = True) -> list[PaknAgency]:
        stmt = select(PaknAgency).order_by(PaknAgency.name)
        if active_only:
            stmt = stmt.where(PaknAgency.active.is_(True))
        return list((await self.session.execute(stmt)).scalars())

    async def agency(self, code: str) -> PaknAgency | None:
        return await self.session.get(PaknAgency, code)

    async def save_agency(self, code: str, name: str, active: bool, now: datetime) -> None:
        stmt = self.insert(PaknAgency).values(code=code, name=name, active=active, created_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["code"], set_={"name": name, "active": active})
        await self.session.execute(stmt)

    # -- items ---------------------------------------------------------------------------
    async def code_taken(self, code: str) -> bool:
        return (await self.session.execute(
            select(PaknItem.id).where(PaknItem.code == code))).first() is not None

    async def add_item(self, **values: Any) -> PaknItem:
        item = PaknItem(**values)
        self.session.add(item)
        await self.session.flush()
        return item

    async def by_code(self, code: str, *, lock: bool = False) -> PaknItem | None:
        stmt = select(PaknItem).where(PaknItem.code == code).execution_options(populate_existing=True)
        if lock and self.supports_row_locks:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_id(self, item_id: int) -> PaknItem | None:
        return await self.session.get(PaknItem, item_id)

    async def update_item(self, item_id: int, **values: Any) -> None:
        await self.session.execute(update(PaknItem).where(PaknItem.id == item_id).values(**values))

    async def recent_of(self, citizen_id: int, since: datetime, *, phone: str = "") -> list[PaknItem]:
        """Items by this citizen (or with this phone number) filed since ``since``."""
        cond = PaknItem.citizen_id == citizen_id
        if phone:
            cond = or_(cond, PaknItem.phone == phone)
        stmt = select(PaknItem).where(cond, PaknItem.created_at >= since).order_by(PaknItem.id.desc())
        return list((await self.session.execute(stmt)).scalars())

    async def of_citizen(self, citizen_id: int, limit: int = 5) -> list[PaknItem]:
        stmt = (select(PaknItem).where(PaknItem.citizen_id == citizen_id)
                .order_by(PaknItem.id.desc()).limit(limit))
        return list((await self.session.execute(stmt)).scalars())

    def _filtered(self, stmt, f: ItemFilter):
        if f.states:
            stmt = stmt.where(PaknItem.state.in_(f.states))
        if f.agency_codes is not None:
            stmt = stmt.where(PaknItem.agency_code.in_(f.agency_codes))
        if f.agency_code is not None:
            stmt = stmt.where(PaknItem.agency_code.is_(None) if f.agency_code == ""
                              else PaknItem.agency_code == f.agency_code)
        if f.subject:
            stmt = stmt.where(PaknItem.subject == f.subject)
        if f.kind:
            stmt = stmt.where(PaknItem.kind == f.kind)
        spellings, folded, digits = search_terms(f.query)
        if spellings:
            conds = [column.ilike(_like(text), escape="\\") for text in spellings
                     for column in (PaknItem.code, PaknItem.content, PaknItem.full_name, PaknItem.phone,
                                    PaknItem.procedure_name)]
            if folded:
                conds.append(PaknItem.content_key.like(_like(folded), escape="\\"))
            if digits:
                conds.append(PaknItem.phone.like(_like(digits), escape="\\"))
            stmt = stmt.where(or_(*conds))
        if f.due_before is not None:
            stmt = stmt.where(current_due_column(f.paused_while_waiting) <= f.due_before)
        if f.due_from is not None:
            stmt = stmt.where(current_due_column(f.paused_while_waiting) >= f.due_from)
        return stmt

    async def list_items(self, f: ItemFilter, *, limit: int, offset: int = 0) -> tuple[list[PaknItem], int]:
        total = (await self.session.execute(
            self._filtered(select(func.count(PaknItem.id)), f))).scalar_one()
        stmt = self._filtered(select(PaknItem), f)
        due = current_due_column(f.paused_while_waiting)
        stmt = stmt.order_by(due.is_(None), due, PaknItem.id).limit(limit).offset(offset)
        return list((await self.session.execute(stmt)).scalars()), total

    async def open_with_due(self) -> list[PaknItem]:
        stmt = select(PaknItem).where(PaknItem.state.in_(("new", "accepted", "in_progress",
                                                          "needs_info", "answered")))
        return list((await self.session.execute(stmt.order_by(PaknItem.id))).scalars())

    async def unanswered_since(self, before: datetime) -> list[PaknItem]:
        """Items filed before ``before`` and still waiting for an answer from the system
        (not those waiting for the citizen's information, nor forwarded elsewhere)."""
        stmt = select(PaknItem).where(PaknItem.state.in_(("new", "accepted", "in_progress")),
                                      PaknItem.created_at <= before)
        return list((await self.session.execute(stmt.order_by(PaknItem.id))).scalars())

    async def published(self, query: str = "", *, limit: int | None = 50,
                        offset: int = 0) -> tuple[list[PaknItem], int]:
        """Published items, newest first. With ``query`` these are candidates matched on the
        stored (unmasked) answer and procedure name: the public page must check the match
        again on the masked text it shows (``limit=None``: every candidate)."""
        cond = [PaknItem.state.in_(("published", "closed")), PaknItem.published_at.is_not(None)]
        if query.strip():
            pattern = _like(query.strip())
            cond.append(or_(PaknItem.code.ilike(pattern, escape="\\"),
                            PaknItem.public_summary.ilike(pattern, escape="\\"),
                            PaknItem.answer.ilike(pattern, escape="\\"),
                            PaknItem.procedure_name.ilike(pattern, escape="\\")))
        total = (await self.session.execute(select(func.count(PaknItem.id)).where(*cond))).scalar_one()
        rows = (await self.session.execute(
            select(PaknItem).where(*cond).order_by(PaknItem.published_at.desc(), PaknItem.id.desc())
            .limit(limit).offset(offset))).scalars()
        return list(rows), total

    async def answer_times(self, agency_codes: Sequence[str] | None = None) -> list[tuple[datetime, date]]:
        """(answered_at, answer_due) of every answered item, for the on-time rate."""
        cond = [PaknItem.answered_at.is_not(None)]
        if agency_codes is not None:
            cond.append(PaknItem.agency_code.in_(agency_codes))
        rows = (await self.session.execute(
            select(PaknItem.answered_at, PaknItem.answer_due).where(*cond))).all()
        return [(r[0], r[1]) for r in rows]

    # -- attachments and messages ----------------------------------------------------------
    async def add_attachment(self, **values: Any) -> PaknAttachment:
        att = PaknAttachment(**values)
        self.session.add(att)
        await self.session.flush()
        return att

    async def attachments(self, item_id: int) -> list[PaknAttachment]:
        stmt = select(PaknAttachment).where(PaknAttachment.item_id == item_id).order_by(PaknAttachment.id)
        return list((await self.session.execute(stmt)).scalars())

    async def attachment(self, attachment_id: int) -> PaknAttachment | None:
        return await self.session.get(PaknAttachment, attachment_id)

    async def add_message(self, item_id: int, *, author: str, kind: str, text: str, at: datetime) -> int:
        msg = PaknMessage(item_id=item_id, author=author, kind=kind, text=text, at=at)
        self.session.add(msg)
        await self.session.flush()
        return msg.id

    async def last_message_at(self, item_id: int, kind: str) -> datetime | None:
        stmt = select(func.max(PaknMessage.at)).where(PaknMessage.item_id == item_id, PaknMessage.kind == kind)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def messages(self, item_id: int) -> list[PaknMessage]:
        stmt = select(PaknMessage).where(PaknMessage.item_id == item_id).order_by(PaknMessage.id)
        return list((await self.session.execute(stmt)).scalars())

    # -- notices (staff group, citizen progress) -----------------------------------------
    async def claim_notice(self, item_id: int, notice: str, at: datetime, details: dict | None = None,
                           *, sent: bool = True) -> bool:
        """Record a notice once per (item, notice); False when it already was. ``sent=True``:
        it is done within this transaction (a message queued in the outbox); ``sent=False``:
        it is still to be sent (``notice_sent`` / ``notice_failed`` after the attempt)."""
        stmt = self.insert(PaknNotice).values(item_id=item_id, notice=notice, at=at, details=details or {},
                                              attempts=1, sent_at=at if sent else None)
        return (await self.session.execute(stmt.on_conflict_do_nothing())).rowcount == 1

    async def unsent_notices(self) -> list[PaknNotice]:
        stmt = (select(PaknNotice).where(PaknNotice.sent_at.is_(None), PaknNotice.gave_up_at.is_(None))
                .order_by(PaknNotice.id))
        return list((await self.session.execute(stmt)).scalars())

    def _unsent(self, notice: PaknNotice, attempts: int):
        """The row as it was read: still unsent, not given up, nobody retried it since."""
        return update(PaknNotice).where(PaknNotice.id == notice.id, PaknNotice.sent_at.is_(None),
                                        PaknNotice.gave_up_at.is_(None), PaknNotice.attempts == attempts)

    async def retake_notice(self, notice: PaknNotice, at: datetime) -> bool:
        """Claim another attempt at an unsent notice read earlier (compare-and-set on its
        attempt count: of several workers, exactly one gets it)."""
        details = {k: v for k, v in notice.details.items() if k != "error"}
        stmt = self._unsent(notice, notice.attempts).values(at=at, attempts=notice.attempts + 1, details=details)
        return (await self.session.execute(stmt)).rowcount == 1

    async def notice_sent(self, item_id: int, notice: str, at: datetime) -> None:
        await self.session.execute(update(PaknNotice).where(
            PaknNotice.item_id == item_id, PaknNotice.notice == notice, PaknNotice.sent_at.is_(None))
            .values(sent_at=at))

    async def notice_failed(self, item_id: int, notice: str, attempts: int, error: str) -> None:
        """The attempt ``attempts`` ended without sending: the next reminder run may retry it
        without waiting for the lease."""
        row = (await self.session.execute(select(PaknNotice).where(
            PaknNotice.item_id == item_id, PaknNotice.notice == notice))).scalar_one_or_none()
        if row is not None:
            await self.session.execute(self._unsent(row, attempts).values(details={**row.details, "error": error}))

    async def give_up_notice(self, notice: PaknNotice, at: datetime, reason: str) -> bool:
        stmt = self._unsent(notice, notice.attempts).values(gave_up_at=at,
                                                            details={**notice.details, "gave_up": reason})
        return (await self.session.execute(stmt)).rowcount == 1


class StaffRepo(Repository):
    # -- users ---------------------------------------------------------------------------
    async def add_user(self, **values: Any) -> StaffUser:
        user = StaffUser(**values)
        self.session.add(user)
        await self.session.flush()
        return user

    async def user(self, user_id: int) -> StaffUser | None:
        return await self.session.get(StaffUser, user_id)

    async def by_username(self, username: str) -> StaffUser | None:
        stmt = select(StaffUser).where(StaffUser.username == username)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def users(self) -> list[StaffUser]:
        return list((await self.session.execute(select(StaffUser).order_by(StaffUser.username))).scalars())

    async def update_user(self, user_id: int, **values: Any) -> None:
        await self.session.execute(update(StaffUser).where(StaffUser.id == user_id).values(**values))

    # -- sessions ------------------------------------------------------------------------
    async def add_session(self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime,
                          expires_at: datetime) -> None:
        self.session.add(StaffSession(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                      created_at=now, expires_at=expires_at))
        await self.session.flush()

    async def session_user(self, token_hash: str, now: datetime) -> tuple[StaffSession, StaffUser] | None:
        stmt = (select(StaffSession, StaffUser).join(StaffUser, StaffUser.id == StaffSession.user_id)
                .where(StaffSession.token_hash == token_hash, StaffSession.expires_at > now,
                       StaffUser.active.is_(True)))
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def end_session(self, token_hash: str) -> None:
        await self.session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))

    async def end_sessions_of(self, user_id: int) -> None:
        await self.session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))

    async def purge_sessions(self, now: datetime) -> int:
        result = await self.session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
        return result.rowcount or 0

    # -- failed logins -------------------------------------------------------------------
    async def record_failure(self, key: str, at: datetime) -> int:
        row = StaffLoginFailure(key=key[:200], at=at)
        self.session.add(row)
        await self.session.flush()
        return row.id

    async def forget_failures(self, ids: list[int]) -> None:
        """Take back attempts recorded as failures before the password was checked."""
        if ids:
            await self.session.execute(delete(StaffLoginFailure).where(StaffLoginFailure.id.in_(ids)))

    async def failures_since(self, key: str, since: datetime) -> int:
        stmt = select(func.count(StaffLoginFailure.id)).where(
            StaffLoginFailure.key == key[:200], StaffLoginFailure.at > since)
        return (await self.session.execute(stmt)).scalar_one()

    async def clear_failures(self, key: str) -> None:
        await self.session.execute(delete(StaffLoginFailure).where(StaffLoginFailure.key == key[:200]))
