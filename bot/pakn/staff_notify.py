"""Optional staff notifications in a Telegram group: new items, due soon, overdue.

Messages carry the tracking code, kind, agency and deadline and a link to the dashboard —
never the citizen's name, phone or the content (a group is not the place for personal
data). Each notice is recorded (``pakn_notices``) before it is sent, so several workers
never send the same one twice; a send Telegram refuses (or that fails) is logged and its
record given back, and the reminder job (``staff.reminder_interval_seconds``) sends the
"Mới", "Sắp đến hạn" and "Quá hạn" notices it finds missing.
"""

from __future__ import annotations

import logging

import aiohttp

from bot.pakn.service import KIND_LABELS, STATE_LABELS, PaknService
from bot.workdays import Urgency
from storage.db import Database
from storage.models.pakn import PaknItem
from storage.repos.pakn import PaknRepo

log = logging.getLogger(__name__)


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

    async def _send(self, text: str) -> bool:
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
                    return False
                return True
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("staff group notice failed", extra={"error": type(exc).__name__})
            return False

    async def _notice(self, item_id: int, notice: str, headline: str) -> bool:
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            item = await repo.by_id(item_id)
            if item is None or not await repo.claim_notice(item_id, notice, self.clock.now()):
                return False
            agency = await repo.agency(item.agency_code) if item.agency_code else None
            text = self._text(item, headline, agency.name if agency else "")
        if await self._send(text):
            return True
        # not sent (Telegram down, a network error): the next reminder run tries again
        async with self.db.unit_of_work() as uow:
            await uow.repo(PaknRepo).release_notice(item_id, notice)
        return False

    async def new_item(self, item_id: int) -> None:
        """After a citizen files (or supplies information for) an item."""
        async with self.db.unit_of_work() as uow:
            item = await uow.repo(PaknRepo).by_id(item_id)
        if item is None:
            return
        if item.state == "new" and item.created_at == item.updated_at:
            await self._notice(item_id, "new", "Mới")
        else:  # information supplied: one notice per supply
            await self._notice(item_id, f"info:{item.updated_at.isoformat()}", "Đã bổ sung thông tin")

    async def item_event(self, code: str, what: str) -> None:
        async with self.db.unit_of_work() as uow:
            item = await uow.repo(PaknRepo).by_code(code)
        if item is not None:
            await self._notice(item.id, f"{what}:{item.agency_code}", "Được giao")

    async def remind(self) -> int:
        """The reminder job: one notice per item and stage when due soon and when overdue,
        and the "Mới" notice of a new item that could not be sent when it was filed (while
        the item is still new and not yet due soon: after that the due notices say it)."""
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            items = await uow.repo(PaknRepo).open_with_due()
        sent = 0
        for item in items:
            sla = self.pakn.sla(item, now)
            if sla.urgency == Urgency.OVERDUE:
                sent += await self._notice(item.id, f"overdue:{sla.stage}", "Quá hạn")
            elif sla.urgency == Urgency.DUE_SOON:
                sent += await self._notice(item.id, f"due_soon:{sla.stage}", "Sắp đến hạn")
            elif item.state == "new":
                sent += await self._notice(item.id, "new", "Mới")
        return sent
