"""The JSON form of a dossier: the one-stop system's API contract (README, "Dossier status")
and the form kept in the local table.

Dates are ISO 8601. A time without an offset is the province's local time; a bare date is
the start of that day, except for promised dates (``due_at``, ``apology.new_due_at``),
which mean the end of that day. Unknown keys are ignored.

The applicant's phone number and ID number are turned at once into what the ownership
check needs (the last 4 digits of the phone, a one-way hash of the ID number) and are
never kept; the name is kept as initials only.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from bot.dossiers.code import canonical
from bot.dossiers.model import (
    Apology,
    Dossier,
    Fee,
    HistoryEntry,
    Pause,
    Status,
    hash_id_number,
    phone_last4,
)
from bot.privacy import mask_name


class BadRecord(ValueError):
    """A record that does not follow the contract (message names the field)."""


def parse_when(value: Any, tz: ZoneInfo, *, end_of_day: bool = False, field: str = "") -> datetime | None:
    """An aware UTC datetime from ISO text, a datetime or a date (naive = local time)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time(23, 59, 59) if end_of_day else time(0, 0))
    elif isinstance(value, str):
        text = value.strip()
        dt = None
        try:
            if len(text) == 10 and text[4] == "-":
                return parse_when(date.fromisoformat(text), tz, end_of_day=end_of_day)
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            for fmt in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"):
                try:
                    dt = datetime.strptime(text, fmt)
                except ValueError:
                    continue
                if fmt == "%d/%m/%Y":
                    return parse_when(dt.date(), tz, end_of_day=end_of_day)
                break
        if dt is None:
            raise BadRecord(f"{field or 'date'}: not a date/time: {text[:40]!r}")
    else:
        raise BadRecord(f"{field or 'date'}: not a date/time: {value!r}")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(timezone.utc)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat() if dt else None


def _text(value: Any, limit: int = 500) -> str:
    return str(value or "").strip()[:limit]


def from_json(obj: Any, tz: ZoneInfo) -> Dossier:
    """A :class:`Dossier` from the contract's JSON object; :class:`BadRecord` if unusable."""
    if not isinstance(obj, dict):
        raise BadRecord("record: expected a JSON object")
    try:
        code = canonical(str(obj.get("code", "")))
    except ValueError:
        raise BadRecord(f"code: not a dossier code: {str(obj.get('code'))[:40]!r}") from None
    try:
        status = Status.parse(obj.get("status"))
    except ValueError:
        raise BadRecord(f"status: unknown status {str(obj.get('status'))[:40]!r}") from None
    proc = obj.get("procedure") or {}
    if not isinstance(proc, dict):
        proc = {"name": str(proc)}
    received = parse_when(obj.get("received_at"), tz, field="received_at")
    if received is None:
        raise BadRecord("received_at: required")
    applicant = obj.get("applicant") or {}
    if not isinstance(applicant, dict):
        raise BadRecord("applicant: expected an object")
    owner = obj.get("owner") or {}  # the stored form: already reduced
    history, fees, pauses = [], [], []
    try:
        for h in obj.get("history") or []:
            at = parse_when(h.get("at"), tz, field="history.at")
            if at is not None:
                history.append(HistoryEntry(at, _text(h.get("step"), 300), _text(h.get("unit"), 300),
                                            _text(h.get("note"), 500)))
        for f in obj.get("fees") or []:
            fees.append(Fee(_text(f.get("name"), 200), int(f.get("amount") or 0), bool(f.get("paid"))))
        for p in obj.get("supplement_periods") or []:
            start = parse_when(p.get("from"), tz, field="supplement_periods.from")
            if start is not None:
                pauses.append(Pause(start, parse_when(p.get("to"), tz, field="supplement_periods.to")))
    except (AttributeError, TypeError, ValueError) as exc:
        if isinstance(exc, BadRecord):
            raise
        raise BadRecord(f"history/fees/supplement_periods: malformed ({exc})") from None
    apology = None
    ap = obj.get("apology")
    if isinstance(ap, dict) and ap.get("new_due_at"):
        apology = Apology(parse_when(ap.get("new_due_at"), tz, end_of_day=True, field="apology.new_due_at"),
                          parse_when(ap.get("issued_at"), tz, field="apology.issued_at"),
                          _text(ap.get("reason"), 1000))
    missing = obj.get("missing_papers") or []
    if isinstance(missing, str):
        missing = [missing]
    return Dossier(
        code=code,
        status=status,
        procedure_name=_text(proc.get("name"), 500),
        procedure_code=_text(proc.get("code"), 64),
        agency=_text(obj.get("agency"), 300),
        received_at=received,
        due_at=parse_when(obj.get("due_at"), tz, end_of_day=True, field="due_at"),
        status_at=parse_when(obj.get("status_at"), tz, field="status_at"),
        finished_at=parse_when(obj.get("finished_at"), tz, field="finished_at"),
        returned_at=parse_when(obj.get("returned_at"), tz, field="returned_at"),
        current_step=_text(obj.get("current_step"), 300),
        handling_unit=_text(obj.get("handling_unit"), 300),
        applicant_name=owner.get("name_initials") or mask_name(_text(applicant.get("name"), 200)),
        owner_phone_last4=owner.get("phone_last4") or phone_last4(str(applicant.get("phone") or "")),
        owner_id_hash=owner.get("id_hash") or hash_id_number(str(applicant.get("id_number") or "")),
        history=tuple(sorted(history, key=lambda h: h.at)),
        fees=tuple(fees),
        missing_papers=tuple(_text(m, 300) for m in missing if _text(m)),
        pickup=_text(obj.get("pickup"), 1000),
        pauses=tuple(pauses),
        apology=apology,
        note=_text(obj.get("note"), 1000),
        source_updated_at=parse_when(obj.get("updated_at"), tz, field="updated_at"),
    )


def to_json(d: Dossier) -> dict[str, Any]:
    """The stored form (same contract, with ``owner`` instead of ``applicant``)."""
    return {
        "code": d.code,
        "status": int(d.status),
        "procedure": {"code": d.procedure_code, "name": d.procedure_name},
        "agency": d.agency,
        "received_at": _iso(d.received_at),
        "due_at": _iso(d.due_at),
        "status_at": _iso(d.status_at),
        "finished_at": _iso(d.finished_at),
        "returned_at": _iso(d.returned_at),
        "current_step": d.current_step,
        "handling_unit": d.handling_unit,
        "owner": {"name_initials": d.applicant_name, "phone_last4": d.owner_phone_last4,
                  "id_hash": d.owner_id_hash},
        "history": [{"at": _iso(h.at), "step": h.step, "unit": h.unit, "note": h.note} for h in d.history],
        "fees": [{"name": f.name, "amount": f.amount, "paid": f.paid} for f in d.fees],
        "missing_papers": list(d.missing_papers),
        "pickup": d.pickup,
        "supplement_periods": [{"from": _iso(p.start), "to": _iso(p.end)} for p in d.pauses],
        "apology": ({"new_due_at": _iso(d.apology.new_due_at), "issued_at": _iso(d.apology.issued_at),
                     "reason": d.apology.reason} if d.apology else None),
        "note": d.note,
        "updated_at": _iso(d.source_updated_at),
    }


def fingerprint(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
