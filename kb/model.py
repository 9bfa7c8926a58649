"""The procedure record (thủ tục hành chính, TTHC) shared by importers, storage and search.

Fields follow the national TTHC database (Decree 63/2010 Art. 8, amended by Decree 92/2017).
A record is plain, frozen data: importers build it, storage persists it as JSON, the search
index reads it. ``Procedure.to_dict`` / ``Procedure.from_dict`` are the canonical
(YAML/JSON) shape documented in the README ("Canonical knowledge-base format").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# N.NNNNNN, optionally followed by a provincial suffix such as .H36 (Lâm Đồng) or .H50.
CODE_RE = re.compile(r"^(?P<base>\d\.\d{6})(?:\.(?P<suffix>[A-Za-z0-9]{1,8}))?$")

ONLINE_FULL = "toan_trinh"  # dịch vụ công trực tuyến toàn trình
ONLINE_PARTIAL = "mot_phan"  # dịch vụ công trực tuyến một phần
ONLINE_LEVELS = (ONLINE_FULL, ONLINE_PARTIAL)
ONLINE_LABELS = {ONLINE_FULL: "Toàn trình", ONLINE_PARTIAL: "Một phần"}


class InvalidProcedure(ValueError):
    """A record that cannot be accepted; the message says which field and why."""


def base_code(code: str) -> str | None:
    """``1.012275.H36`` -> ``1.012275``; ``None`` when the text is not a procedure code."""
    m = CODE_RE.match(code.strip())
    return m.group("base") if m else None


@dataclass(frozen=True)
class SubmissionChannel:
    """One way of submitting (Trực tiếp, Trực tuyến, Dịch vụ bưu chính) with its time and fee."""

    channel: str
    time: str = ""  # as published, e.g. "05 Ngày làm việc"
    time_days: float | None = None  # the number of days in ``time`` when it has one
    time_unit: str = ""  # "ngày làm việc", "ngày", "giờ", ... as published
    fee: str = ""  # e.g. "Lệ phí: 50.000 đồng" or "Miễn phí"
    note: str = ""


@dataclass(frozen=True)
class RequiredDocument:
    name: str
    form: str = ""  # template / form name (mẫu đơn, tờ khai), if any
    copies: str = ""  # e.g. "Bản chính: 1, Bản sao: 0"


@dataclass(frozen=True)
class LegalRef:
    title: str
    number: str = ""  # e.g. "60/2014/QH13"
    date: str = ""  # ISO date when known
    issuer: str = ""


@dataclass(frozen=True)
class Procedure:
    code: str  # base code N.NNNNNN
    name: str
    level: str = ""  # cấp thực hiện: "Cấp tỉnh", "Cấp xã", "Cấp bộ", ...
    field: str = ""  # lĩnh vực
    procedure_type: str = ""  # loại thủ tục
    subjects: tuple[str, ...] = ()  # đối tượng thực hiện
    implementing_agency: str = ""  # cơ quan thực hiện
    competent_agency: str = ""  # cơ quan có thẩm quyền
    authorised_agency: str = ""  # cơ quan được ủy quyền
    coordinating_agency: str = ""  # cơ quan phối hợp
    where_to_submit: str = ""  # địa chỉ tiếp nhận
    steps: tuple[str, ...] = ()  # trình tự thực hiện
    channels: tuple[SubmissionChannel, ...] = ()  # cách thức thực hiện
    documents: tuple[RequiredDocument, ...] = ()  # thành phần hồ sơ
    conditions: str = ""  # yêu cầu, điều kiện
    result: str = ""  # kết quả thực hiện
    legal_basis: tuple[LegalRef, ...] = ()  # căn cứ pháp lý
    online_level: str | None = None  # ONLINE_FULL / ONLINE_PARTIAL / None
    online_url: str = ""
    source_url: str = ""
    updated: str = ""  # ISO date of the last check of this record
    keywords: tuple[str, ...] = ()  # citizens' words for it ("sổ đỏ", "làm giấy khai sinh")
    local_codes: tuple[str, ...] = ()  # provincial codes seen for it ("1.012275.H36")
    decision: str = ""  # quyết định công bố
    source: str = ""  # which importer or file the record came from

    def __post_init__(self) -> None:
        if base_code(self.code) != self.code:
            raise InvalidProcedure(f"code: '{self.code}' is not a procedure code like 1.000419")
        if not self.name.strip():
            raise InvalidProcedure("name: must not be empty")
        if self.online_level is not None and self.online_level not in ONLINE_LEVELS:
            raise InvalidProcedure(
                f"online_level: '{self.online_level}' is not one of {', '.join(ONLINE_LEVELS)}"
            )

    # -- canonical shape -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The canonical dict: empty values left out, tuples as lists."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ("", (), None):
                continue
            if f.name in ("channels", "documents", "legal_basis"):
                value = [_compact(asdict(v)) for v in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Procedure":
        """Build from the canonical dict; unknown keys and wrong shapes raise InvalidProcedure."""
        if not isinstance(data, dict):
            raise InvalidProcedure("a procedure must be a mapping of field names to values")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidProcedure(f"{unknown[0]}: unknown field")
        kw: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            if name == "channels":
                kw[name] = tuple(_build(SubmissionChannel, v, name) for v in _as_list(value, name))
            elif name == "documents":
                kw[name] = tuple(_build(RequiredDocument, v, name) for v in _as_list(value, name))
            elif name == "legal_basis":
                kw[name] = tuple(_build(LegalRef, v, name) for v in _as_list(value, name))
            elif name in ("subjects", "steps", "keywords", "local_codes"):
                kw[name] = tuple(_text(v) for v in _as_list(value, name))
            elif name == "online_level":
                kw[name] = _text(value) or None
            else:
                if isinstance(value, (list, dict)):
                    raise InvalidProcedure(f"{name}: must be a single value")
                kw[name] = _text(value)
        if "code" not in kw or "name" not in kw:
            raise InvalidProcedure(("code" if "code" not in kw else "name") + ": required field is missing")
        code = kw["code"].strip()
        base = base_code(code)
        if base is None:
            raise InvalidProcedure(f"code: '{code}' is not a procedure code like 1.000419")
        if base != code:  # a provincial code: keep it as a local code of the base record
            kw["local_codes"] = tuple(dict.fromkeys((*kw.get("local_codes", ()), code)))
        kw["code"] = base
        return cls(**kw)

    @property
    def is_online(self) -> bool:
        return self.online_level is not None


def web_address(url: str) -> bool:
    """An http(s) address with no spaces: what may be shown to citizens as a link (button
    on Telegram, <a href> in the web chat). Imported data may hold 'dichvucong.gov.vn/…'
    without a scheme (a link to our own site) or worse ('javascript:…')."""
    url = url.strip()
    return url.lower().startswith(("https://", "http://")) and len(url) > 8 and len(url.split()) == 1


def _as_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [value]
    raise InvalidProcedure(f"{name}: must be a list")


def _text(value: Any) -> str:
    """Stored and shown text is NFC: a hand-edited file may hold decomposed accents
    ("Â" + combining acute for "Ấ"), which some screens draw apart."""
    return unicodedata.normalize("NFC", str(value))


def _build(kind: type, value: Any, name: str) -> Any:
    if isinstance(value, str) and kind is not SubmissionChannel:
        return kind(_text(value))
    if not isinstance(value, dict):
        raise InvalidProcedure(f"{name}: each item must be a mapping")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise InvalidProcedure(f"{name}.{unknown[0]}: unknown field")
    try:
        args = {k: (v if k == "time_days" else ("" if v is None else _text(v))) for k, v in value.items()}
        if args.get("time_days") is not None:
            args["time_days"] = float(args["time_days"])
        return kind(**args)
    except (TypeError, ValueError) as exc:
        raise InvalidProcedure(f"{name}: {exc}") from exc


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", None)}
