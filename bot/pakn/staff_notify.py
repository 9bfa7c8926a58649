"""Optional staff notifications in a Telegram group: new items, information supplied,
assignment to an agency, due soon, overdue.

Messages carry the tracking code, kind, agency and deadline and a link to the dashboard —
never the citizen's name, phone or the content (a group is not the place for personal
data).

Delivery. A notice is recorded in ``pakn_notices`` (``sent_at`` empty) before it is sent:
the INSERT is the claim, so several workers never send the same one twice. After the send
``sent_at`` is set; a send Telegram refuses (or that fails) is logged and the row stays
unsent, with the error in ``details``. Its headline is kept in ``details``; the text is
rebuilt from the item when it is sent again. The reminder job
(``staff.reminder_interval_seconds``) sends every unsent notice that is still due:

- one whose last attempt failed, at the next run;
- one claimed but never finished (the worker stopped between claim and send), once
  ``NOTICE_LEASE`` has passed since that claim (``at``) — well beyond the 10 s a send may
  take, so a send still in progress is not duplicated.

Each retry is claimed again atomically (an UPDATE on the row as read: still unsent and the
same attempt count; exactly one worker gets rowcount 1), so two workers never both send it.
A crash after Telegram accepted but before ``sent_at`` was written can still send it twice
after the lease: delivery is at least once, not exactly once.

Giving up (``gave_up_at`` and ``details["gave_up"]``, logged as a warning): after
``staff.notice_max_attempts`` attempts; when the item is no longer open (closed, published,
rejected); and when the notice no longer applies — "Mới", "Sắp đến hạn" and
"Quá hạn" are replaced by the one the item's stage calls for now (a later stage, or overdue
after due soon), "Được giao" by a later assignment to another agency. "Đã bổ sung thông tin"
applies while the item is open.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp

from bot.pakn.service import KIND_LABELS, OPEN_STATES, STATE_LABELS, PaknService
from bot.workdays import Urgency
from storage.db import Database
from storage.models.pakn import PaknItem, PaknNotice
from storage.repos.pakn import PaknRepo

log = logging.getLogger(__name__)

NOTICE_LEASE = timedelta(seconds=60)  # a claimed notice not sent by then is sent by the reminder job
STAGE_NOTICES = ("new", "due_soon:", "overdue:")


class StaffNotifier:
    def __init__(self, config, db: Database, clock, pakn: PaknService) -> None:
        self.cfg = config.staff
        self.base_url = config.web.public_url.rstrip("/")
        self.db = db
        self.clock = clock
        self.pakn = pakn
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _link(self, code: str) -> str:
        return f"{self.base_url}/staff/items/{code}" if self.base_url else f"/staff/items/{code}"

    def _text(self, item: PaknItem, headline: str, agency_name: str) -> str:
        due, _stage = self.pakn.current_due(item)
        lines = [f"{headline}: {KIND_LABELS.get(item.kind, '')} {item.code}",
                 f"Cơ quan: {agency_name or 'Chưa giao'}",
                 f"Trạng thái: {STATE_LABELS.get(item.state, item.state)}"]
        if due:
            lines.append(f"Hạn: {due:%d/%m/%Y}")
        lines.append(self._link(item.code))
        return "\n".join(lines)

    async def _send(self, text: str) -> str | None:
        """Send to the group; None when Telegram accepted it, else why not."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        url = f"{self.cfg.telegram_api_url.rstrip('/')}/bot{self.cfg.telegram_token}/sendMessage"
        try:
            async with self._session.post(url, json={"chat_id": self.cfg.telegram_chat_id, "text": text,
                                                     "disable_web_page_preview": True}) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not body.get("ok"):
                    log.warning("staff group notice refused", extra={"status": resp.status,
                                                                     "description": str(body.get("description", ""))[:200]})
                    return f"refused: {resp.status}"
                return None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("staff group notice failed", extra={"error": type(exc).__name__})
            return f"failed: {type(exc).__name__}"

    async def _deliver(self, item_id: int, notice: str, attempts: int, text: str) -> bool:
        """Send a claimed notice and record the outcome; an unsent one stays for the next run."""
        error = await self._send(text)
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            if error is None:
                await repo.notice_sent(item_id, notice, self.clock.now())
            else:
                await repo.notice_failed(item_id, notice, attempts, error)
        return error is None

    async def _notice(self, item_id: int, notice: str, headline: str) -> bool:
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            item = await repo.by_id(item_id)
            if item is None or not await repo.claim_notice(item_id, notice, self.clock.now(),
                                                           {"headline": headline}, sent=False):
                return False
            agency = await repo.agency(item.agency_code) if item.agency_code else None
            text = self._text(item, headline, agency.name if agency else "")
        return await self._deliver(item_id, notice, 1, text)

    async def _retry(self, row: PaknNotice, item: PaknItem) -> bool:
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            if not await repo.retake_notice(row, self.clock.now()):
                return False  # another worker has it
            agency = await repo.agency(item.agency_code) if item.agency_code else None
            text = self._text(item, row.details.get("headline", ""), agency.name if agency else "")
        return await self._deliver(row.item_id, row.notice, row.attempts + 1, text)

    async def _give_up(self, row: PaknNotice, item: PaknItem | None, reason: str) -> None:
        async with self.db.unit_of_work() as uow:
            if not await uow.repo(PaknRepo).give_up_notice(row, self.clock.now(), reason):
                return
        log.warning("staff group notice given up", extra={
            "code": item.code if item else "", "notice": row.notice, "reason": reason,
            "attempts": row.attempts, "error": str(row.details.get("error", ""))})

    def _stage_notice(self, item: PaknItem, now) -> tuple[str, str] | None:
        """The due notice the item's stage calls for now, (notice, headline)."""
        sla = self.pakn.sla(item, now)
        if sla.urgency == Urgency.OVERDUE:
            return f"overdue:{sla.stage}", "Quá hạn"
        if sla.urgency == Urgency.DUE_SOON:
            return f"due_soon:{sla.stage}", "Sắp đến hạn"
        if item.state == "new":
            return "new", "Mới"
        return None

    def _stale(self, row: PaknNotice, item: PaknItem | None, stage: tuple[str, str] | None) -> str | None:
        """Why an unsent notice should not be sent any more, or None."""
        if item is None or item.state not in OPEN_STATES:
            return "item no longer open"
        if row.notice.startswith(STAGE_NOTICES) and (stage is None or stage[0] != row.notice):
            return "superseded"
        if row.notice.startswith("assigned:") and row.notice != f"assigned:{item.agency_code}":
            return "superseded"
        if row.attempts >= self.cfg.notice_max_attempts:
            return "too many attempts"
        return None

    async def new_item(self, item_id: int, supplied: bool = False) -> None:
        """After a citizen files an item, or (``supplied``) supplies information for one."""
        async with self.db.unit_of_work() as uow:
            item = await uow.repo(PaknRepo).by_id(item_id)
        if item is None:
            return
        if not supplied:
            await self._notice(item_id, "new", "Mới")
        else:  # information supplied: one notice per supply
            await self._notice(item_id, f"info:{item.updated_at.isoformat()}", "Đã bổ sung thông tin")

    async def item_event(self, code: str, what: str) -> None:
        async with self.db.unit_of_work() as uow:
            item = await uow.repo(PaknRepo).by_code(code)
        if item is not None:
            await self._notice(item.id, f"{what}:{item.agency_code}", "Được giao")

    async def remind(self) -> int:
        """The reminder job. First the notices not sent earlier (see the module docstring);
        then one notice per item and stage when due soon and when overdue, and the "Mới"
        notice of a new item not yet due soon (items already waiting when the group is first
        configured get theirs then; an existing one, sent or not, is never claimed twice).
        Returns the number sent."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            items = {item.id: item for item in await repo.open_with_due()}
            unsent = [row for row in await repo.unsent_notices()
                      if row.details.get("headline") is not None]  # staff group notices
            others = {row.item_id: await repo.by_id(row.item_id) for row in unsent if row.item_id not in items}
        stages = {item_id: self._stage_notice(item, now) for item_id, item in items.items()}
        sent = 0
        for row in unsent:
            item = items.get(row.item_id) or others.get(row.item_id)
            if "error" not in row.details and row.at > now - NOTICE_LEASE:
                continue  # its send may still be in progress
            reason = self._stale(row, item, stages.get(row.item_id))
            if reason is not None:
                await self._give_up(row, item, reason)
            else:
                sent += await self._retry(row, item)
        for item_id, stage in stages.items():
            if stage is not None:
                sent += await self._notice(item_id, *stage)
        return sent
