"""PAKN: filing, deadlines, the state machine, telling the citizen, publishing.

States (every transition is written to the audit log with who, when and why):

    new ──accept──► accepted ──start──► in_progress ──answer──► answered ──publish──► published
     │  ──reject──► rejected            │   ▲                      │                     │
     │  ──request_info──► needs_info ───┘   │ (citizen supplies)   └──────close──► closed ◄┘
     └──forward──► forwarded (to the competent agency outside the system) ──answer/close──►

``assign`` moves an open item to another agency of the system without changing its state.
A staff question (kind ``question``) uses the same queue and may be answered while new.

Deadlines are counted in working days (bot/workdays.py) from the day of receipt:
accept/reject, forward, answer; publish counts from the answer. The due date that
matters depends on the state (``current_due``).
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from bot.events import PaknAnswered
from bot.messages import Choice, Reply
from bot.outbox import enqueue
from bot.pakn.rules import content_key, similarity
from bot.privacy import mask_name, mask_name_parts, mask_person_names, redact_house_numbers, redact_pii
from bot.workdays import WorkCalendar, urgency
from storage.models.pakn import PaknItem, StaffUser
from storage.repos.pakn import PaknRepo
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

KIND_LABELS = {"phan_anh": "Phản ánh", "kien_nghi": "Kiến nghị", "question": "Câu hỏi"}
SUBJECT_LABELS = {
    "procedure": "Thủ tục hành chính",
    "official": "Thái độ, cách làm việc của cán bộ",
    "rule": "Quy định hành chính",
    "other": "Nội dung khác",
    "question": "Câu hỏi cho cán bộ",
}
STATE_LABELS = {
    "new": "Mới tiếp nhận",
    "accepted": "Đã tiếp nhận",
    "rejected": "Không tiếp nhận",
    "needs_info": "Chờ bổ sung thông tin",
    "in_progress": "Đang xử lý",
    "forwarded": "Đã chuyển cơ quan có thẩm quyền",
    "answered": "Đã trả lời",
    "published": "Đã công khai",
    "closed": "Đã đóng",
}
OPEN_STATES = ("new", "accepted", "needs_info", "in_progress", "forwarded", "answered")

# action -> (states it is allowed from, state it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({"new", "needs_info"}), "accepted"),
    "reject": (frozenset({"new", "needs_info"}), "rejected"),
    "request_info": (frozenset({"new", "accepted", "in_progress"}), "needs_info"),
    "start": (frozenset({"accepted"}), "in_progress"),
    "forward": (frozenset({"new", "accepted", "in_progress"}), "forwarded"),
    "assign": (frozenset({"new", "accepted", "needs_info", "in_progress"}), None),
    "answer": (frozenset({"accepted", "in_progress", "forwarded"}), "answered"),
    "publish": (frozenset({"answered"}), "published"),
    "close": (frozenset({"answered", "published", "rejected", "forwarded"}), "closed"),
}
ACTION_LABELS = {
    "accept": "Tiếp nhận", "reject": "Không tiếp nhận", "request_info": "Yêu cầu bổ sung",
    "start": "Bắt đầu xử lý", "forward": "Chuyển cơ quan có thẩm quyền", "assign": "Giao cơ quan",
    "answer": "Trả lời", "publish": "Công khai", "close": "Đóng",
}
NEEDS_TEXT = {"reject", "request_info", "forward", "answer"}
# Outbox / message-log kinds (at most 16 characters) of what the citizen is told.
NOTICE_KINDS = {"accept": "pakn_accepted", "reject": "pakn_rejected", "request_info": "pakn_info_req",
                "forward": "pakn_forwarded", "answer": "pakn_answer"}

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read over the phone


class TransitionError(Exception):
    """A staff action that is not allowed now; ``message`` is shown on the dashboard."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Sla:
    due: date | None
    urgency: str  # ok | due_soon | overdue
    left: int | None  # working days left (negative: overdue)
    stage: str  # accept | answer | publish | paused (waiting for the citizen) | ""


class PaknService:
    def __init__(self, config, clock, bus) -> None:
        self.config = config
        self.cfg = config.pakn
        self.clock = clock
        self.bus = bus
        self.calendar = WorkCalendar.from_config(config)

    # -- deadlines -------------------------------------------------------------------
    def current_due(self, item: PaknItem) -> tuple[date | None, str]:
        """(the due date that counts now, its stage). While the citizen is asked for
        information and the wait does not count (``pause_while_waiting``), there is none:
        stage "paused" (the deadlines move when the information comes)."""
        if item.state == "new":
            return item.accept_due, "accept"
        if item.state == "needs_info" and self.cfg.pause_while_waiting:
            return None, "paused"
        if item.state in ("accepted", "in_progress", "needs_info"):
            return item.answer_due, "answer"
        if item.state == "answered":
            return item.publish_due, "publish"
        return None, ""

    def sla(self, item: PaknItem, now: datetime) -> Sla:
        due, stage = self.current_due(item)
        level, left = urgency(self.calendar, now, due, soon=self.cfg.due_soon_days)
        return Sla(due, level, left, stage)

    def on_time(self, answered_at: datetime, answer_due: date) -> bool:
        return self.calendar.local_date(answered_at) <= answer_due

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.config.tz)

    # -- filing ------------------------------------------------------------------------
    async def new_code(self, uow: UnitOfWork, now: datetime) -> str:
        repo = uow.repo(PaknRepo)
        stamp = self.local(now).strftime("%y%m")
        for _ in range(20):
            code = f"{self.cfg.code_prefix}-{stamp}-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4))
            if not await repo.code_taken(code):
                return code
        raise RuntimeError("no free tracking code after 20 tries")

    async def find_duplicate(self, uow: UnitOfWork, *, citizen_id: int, phone: str, content: str,
                             now: datetime) -> PaknItem | None:
        """A recent item by the same sender with near-identical content."""
        if self.cfg.duplicate_days <= 0:
            return None
        key = content_key(content)
        since = now - timedelta(days=self.cfg.duplicate_days)
        for item in await uow.repo(PaknRepo).recent_of(citizen_id, since, phone=phone):
            if item.state != "rejected" and similarity(key, item.content_key) >= self.cfg.duplicate_similarity:
                return item
        return None

    async def file(self, uow: UnitOfWork, *, citizen_id: int, channel: str, draft: dict[str, Any],
                   now: datetime) -> PaknItem:
        """Store a complete PAKN (or staff question) with its deadlines and attachments."""
        repo = uow.repo(PaknRepo)
        received = self.calendar.receipt_day(now)
        add = self.calendar.add_working_days
        location = draft.get("location") or {}
        item = await repo.add_item(
            code=await self.new_code(uow, now), kind=draft["kind"], subject=draft["subject"],
            procedure_code=draft.get("procedure_code"), procedure_name=draft.get("procedure_name"),
            agency_code=draft.get("agency_code"), content=draft["content"],
            content_key=content_key(draft["content"]),
            latitude=location.get("lat"), longitude=location.get("lon"), place=draft.get("place"),
            full_name=draft.get("full_name", ""), phone=draft.get("phone", ""),
            address=draft.get("address"), email=draft.get("email"),
            consent_at=datetime.fromisoformat(draft["consent_at"]) if draft.get("consent_at") else None,
            citizen_id=citizen_id, channel=channel, state="new", created_at=now, updated_at=now,
            received_on=received, accept_due=add(received, self.cfg.accept_days),
            forward_due=add(received, self.cfg.forward_days),
            answer_due=add(received, self.cfg.answer_days))
        for att in draft.get("attachments", []):
            await repo.add_attachment(item_id=item.id, channel=att.get("channel", channel),
                                      kind=att.get("kind", "file"), ref=att["ref"],
                                      name=att.get("name", ""), mime_type=att.get("mime_type", ""),
                                      size=att.get("size"), created_at=now)
        await uow.audit.record(actor=f"citizen:{citizen_id}", action="pakn.filed", entity_type="pakn",
                               entity_id=item.code, details={"kind": item.kind, "agency": item.agency_code,
                                                             "attachments": len(draft.get("attachments", []))},
                               now=now)
        log.info("pakn filed", extra={"code": item.code, "kind": item.kind, "citizen_id": citizen_id})
        return item

    # -- citizen side after filing ----------------------------------------------------
    async def supply_info(self, uow: UnitOfWork, item: PaknItem, *, citizen_id: int, text: str,
                          attachments: Sequence[dict[str, Any]], now: datetime) -> date | None:
        """The citizen answers a request for information: back to where it was, with the
        deadlines moved by the working days spent waiting (``pause_while_waiting``).
        Returns the answer deadline now in force."""
        repo = uow.repo(PaknRepo)
        requested_at = await repo.last_message_at(item.id, "info_request")
        msg_id = await repo.add_message(item.id, author="citizen", kind="info", text=text, at=now)
        for att in attachments:
            await repo.add_attachment(item_id=item.id, message_id=msg_id, channel=att.get("channel", ""),
                                      kind=att.get("kind", "file"), ref=att["ref"], name=att.get("name", ""),
                                      mime_type=att.get("mime_type", ""), size=att.get("size"),
                                      created_at=now)
        back = item.resume_state or "new"
        values: dict[str, Any] = {"state": back, "resume_state": None, "updated_at": now}
        details: dict[str, Any] = {"from": "needs_info", "to": back}
        paused = 0
        if self.cfg.pause_while_waiting and requested_at is not None:
            paused = max(0, self.calendar.working_days_between(self.calendar.local_date(requested_at),
                                                               self.calendar.local_date(now)))
        if paused:
            for column in ("accept_due", "forward_due", "answer_due"):
                due = getattr(item, column)
                if due is not None:
                    values[column] = self.calendar.add_working_days(due, paused)
            details.update(paused_working_days=paused, answer_due=str(values.get("answer_due")))
        await repo.update_item(item.id, **values)
        await uow.audit.record(actor=f"citizen:{citizen_id}", action="pakn.info_supplied",
                               entity_type="pakn", entity_id=item.code, details=details, now=now)
        return values.get("answer_due", item.answer_due)

    # -- staff actions ------------------------------------------------------------------
    @staticmethod
    def can_see(staff: StaffUser, item: PaknItem) -> bool:
        return staff.role == "admin" or (item.agency_code is not None and item.agency_code == staff.agency_code)

    @staticmethod
    def allowed_actions(item: PaknItem) -> list[str]:
        """The actions the item's state allows (a staff question may be answered while new)."""
        return [action for action, (sources, _target) in TRANSITIONS.items()
                if item.state in sources or (action == "answer" and item.kind == "question" and item.state == "new")]

    async def act(self, uow: UnitOfWork, item: PaknItem, action: str, *, staff: StaffUser, now: datetime,
                  text: str = "", agency_code: str | None = None) -> PaknItem:
        """Apply a staff action to ``item`` (locked by the caller) and tell the citizen."""
        if action not in TRANSITIONS:
            raise TransitionError("Thao tác không hợp lệ.")
        if not self.can_see(staff, item):
            raise PermissionError(item.code)
        if action not in self.allowed_actions(item):
            raise TransitionError(f"Không thể “{ACTION_LABELS[action]}” khi phản ánh đang ở trạng thái "
                                  f"“{STATE_LABELS[item.state]}”.")
        text = (text or "").strip()
        if action in NEEDS_TEXT and not text:
            raise TransitionError("Vui lòng nhập nội dung (lý do, yêu cầu, nơi chuyển đến hoặc câu trả lời).")
        if len(text) > 10000:
            raise TransitionError("Nội dung quá dài (tối đa 10.000 ký tự).")
        repo = uow.repo(PaknRepo)
        source = item.state
        target = TRANSITIONS[action][1] or item.state
        values: dict[str, Any] = {"state": target, "updated_at": now}
        details: dict[str, Any] = {"from": source, "to": target}
        notify: list[Reply] = []
        code = item.code
        label = KIND_LABELS.get(item.kind, "Phản ánh")
        if action == "accept":
            values["accepted_at"] = now
            notify = [Reply(f"{label} {code} của bạn đã được tiếp nhận. Thời hạn trả lời: "
                            f"{item.answer_due:%d/%m/%Y}.")]
        elif action == "reject":
            values["reason"] = text
            details["reason"] = text
            notify = [Reply(f"{label} {code} của bạn không được tiếp nhận.\nLý do: {text}")]
        elif action == "request_info":
            values.update(reason=text, resume_state=source)
            details["request"] = text
            await repo.add_message(item.id, author=f"staff:{staff.id}", kind="info_request", text=text, at=now)
            notify = [Reply(f"Cơ quan giải quyết cần bạn bổ sung thông tin cho {label.lower()} {code}:\n"
                            f"{text}\n\nBấm “Bổ sung thông tin” để trả lời.",
                            (Choice("Bổ sung thông tin", f"pakn:i:{code}"),))]
        elif action == "forward":
            values["forwarded_to"] = text
            details["to_agency"] = text
            await repo.add_message(item.id, author=f"staff:{staff.id}", kind="forward", text=text, at=now)
            notify = [Reply(f"{label} {code} của bạn không thuộc thẩm quyền của cơ quan đã nhận nên đã "
                            f"được chuyển đến: {text}. Cơ quan này sẽ trả lời bạn theo quy định.")]
        elif action == "assign":
            agency = await repo.agency(agency_code or "") if agency_code else None
            if agency is None or not agency.active:
                raise TransitionError("Vui lòng chọn cơ quan được giao.")
            if agency.code == item.agency_code:
                raise TransitionError("Phản ánh đã thuộc cơ quan này.")
            values["agency_code"] = agency.code
            details.update(agency_from=item.agency_code, agency_to=agency.code, note=text)
        elif action == "answer":
            values.update(answer=text, answered_at=now, answered_by=staff.id,
                          publish_due=self.calendar.deadline(now, self.cfg.publish_days))
            await repo.add_message(item.id, author=f"staff:{staff.id}", kind="answer", text=text, at=now)
            details["on_time"] = self.on_time(now, item.answer_due)
            notify = [Reply(f"Trả lời {label.lower()} {code}:\n\n{text}\n\n"
                            f"Cảm ơn bạn đã gửi {label.lower()}.")]
        elif action == "publish":
            summary = text or self.public_text(item, item.content)
            values.update(published_at=now, public_summary=self.public_text(item, summary))
        elif action == "close":
            values["closed_at"] = now
        if notify:
            delivered = await self._notify_citizen(uow, item, notify, kind=NOTICE_KINDS[action], now=now)
            if action == "answer":
                values["delivery"] = "queued" if delivered else "undeliverable"
                details["delivery"] = values["delivery"]
        await repo.update_item(item.id, **values)
        await uow.audit.record(actor=f"staff:{staff.id}", action=f"pakn.{action}", entity_type="pakn",
                               entity_id=code, details=details, now=now)
        if action == "answer":
            await self.bus.publish(uow, PaknAnswered(
                case_type="pakn", case_id=code, citizen_id=item.citizen_id, resolved_at=now,
                agency=item.agency_code or "", procedure_code=item.procedure_code or "",
                channel=item.channel, received_at=item.created_at,
                on_time=self.on_time(now, item.answer_due)))
        log.info("pakn action", extra={"code": code, "action": action, "staff_id": staff.id,
                                       "from": source, "to": target})
        refreshed = await repo.by_code(code)
        assert refreshed is not None
        return refreshed

    async def _notify_citizen(self, uow: UnitOfWork, item: PaknItem, replies: list[Reply], *, kind: str,
                              now: datetime) -> bool:
        """Queue a message to the sender; False (nothing queued) when no channel reaches them."""
        identities = await uow.citizens.identities_of(item.citizen_id)
        if not any(i.reachable for i in identities):
            log.warning("pakn citizen unreachable", extra={"code": item.code, "kind": kind})
            return False
        # The answer has a stable key (the dashboard shows its delivery); other notices may
        # repeat (information asked twice), so theirs include the time.
        key = f"{kind}:{item.code}" if kind == "pakn_answer" else f"{kind}:{item.code}:{now.isoformat()}"
        await enqueue(uow, citizen_id=item.citizen_id, replies=replies, kind=kind, now=now, dedupe_key=key)
        return True

    # -- progress while unanswered (TT 02/2017/TT-VPCP) ----------------------------------
    async def send_progress_updates(self, uow: UnitOfWork, now: datetime) -> int:
        """Tell each sender whose item is still unanswered how it stands, once per period of
        ``progress_update_days`` since filing. Returns the number of messages queued.

        Each (item, period) is claimed once (``pakn_notice``), so workers running the job at
        the same time, or a job run twice, never send it twice; after a long stop only the
        current period is sent, not a backlog."""
        every = self.cfg.progress_update_days
        if every <= 0:
            return 0
        repo = uow.repo(PaknRepo)
        queued = 0
        for item in await repo.unanswered_since(now - timedelta(days=every)):
            period = (now - item.created_at).days // every
            if period < 1 or not await repo.claim_notice(item.id, f"citizen_progress:{period}", now):
                continue
            if await self._notify_citizen(uow, item, [self._progress_text(item, now)],
                                          kind="pakn_progress", now=now):
                queued += 1
        return queued

    def _progress_text(self, item: PaknItem, now: datetime) -> Reply:
        label = KIND_LABELS.get(item.kind, "Phản ánh")
        filed = self.local(item.created_at)
        lines = [f"{label} {item.code} bạn gửi ngày {filed:%d/%m/%Y} đang được giải quyết "
                 f"(trạng thái: {STATE_LABELS[item.state].lower()})."]
        answer_due = item.answer_due
        if answer_due is not None and self.calendar.local_date(now) > answer_due:
            lines.append(f"Thời hạn trả lời ({answer_due:%d/%m/%Y}) đã qua; chúng tôi thành thật xin "
                         "lỗi vì sự chậm trễ.")
        elif answer_due is not None:
            lines.append(f"Thời hạn trả lời: {answer_due:%d/%m/%Y}.")
        lines.append("Chúng tôi sẽ nhắn cho bạn ngay khi có kết quả.")
        return Reply("\n".join(lines), (Choice("Tra cứu phản ánh", f"pakn:l:{item.code}"),))

    # -- publication ------------------------------------------------------------------
    def public_text(self, item: PaknItem, text: str) -> str:
        """Text fit for the public page: see :func:`public_text`."""
        return public_text(item, text)

    # -- statistics --------------------------------------------------------------------
    async def on_time_rate(self, uow: UnitOfWork, agency_codes: Sequence[str] | None = None) -> tuple[int, int]:
        rows = await uow.repo(PaknRepo).answer_times(agency_codes)
        return sum(1 for answered_at, due in rows if self.on_time(answered_at, due)), len(rows)


def public_text(item, text: str) -> str:
    """Text fit for the public page: the sender's name as initials (also when written in
    part, see :func:`bot.privacy.mask_name_parts`), other people's full names as initials
    (:func:`bot.privacy.mask_person_names`), their phone, e-mail and address, and any
    phone number, ID number, e-mail address or house number ("số 12 ngõ 34") removed. ``item`` gives the sender's details
    (``full_name``, ``phone``, ``email``, ``address``)."""
    def norm(value: str | None) -> str:
        return " ".join(unicodedata.normalize("NFC", value or "").split())

    out = unicodedata.normalize("NFC", text or "")
    name = norm(item.full_name)
    for value in (name, norm(item.phone), norm(item.email), norm(item.address)):
        if len(value) >= 3:
            # whatever the case and spacing the citizen (or staff) wrote it in
            pattern = r"\s+".join(re.escape(word) for word in value.split())
            masked = mask_name(value) if value == name else "[đã ẩn]"
            out = re.sub(pattern, lambda _m: masked, out, flags=re.IGNORECASE)
    out = mask_name_parts(out, name)  # "ông An", "Văn An": the name written in part
    out = mask_person_names(out)  # other people's full names: "hàng xóm tôi là Đỗ Quang Hải"
    return redact_pii(redact_house_numbers(out))
