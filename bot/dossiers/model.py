"""The dossier record as the bot sees it, whatever the source, and the "late" rule.

Statuses are the ten used by the national portal [U: the same ten labels in many
codebases; the numbers are the portal's]. Each has the portal's label (what staff and the
source say) and the plain words a citizen reads.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

from kb.normalize import fold


class Status(IntEnum):
    REGISTERED = 1  # Mới đăng ký
    RECEIVED = 2  # Được tiếp nhận
    REJECTED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUIRED = 5  # Yêu cầu bổ sung giấy tờ
    PAYMENT_REQUIRED = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    DONE = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def citizen_text(self) -> str:
        return CITIZEN_TEXT[self]

    @property
    def terminal(self) -> bool:
        """Nothing more will happen: a subscription ends here."""
        return self in TERMINAL

    @property
    def finished(self) -> bool:
        """The handling is over (for the "late" rule the clock stops)."""
        return self in (Status.DONE, Status.RETURNED, Status.REJECTED, Status.WITHDRAWN, Status.STOPPED)

    @classmethod
    def parse(cls, value: object) -> "Status":
        """From a number (1..10), an enum name, or the portal's label with or without accents."""
        if isinstance(value, Status):
            return value
        if isinstance(value, bool):
            raise ValueError(f"unknown dossier status {value!r}")
        if isinstance(value, (int, float)) and int(value) == value:
            return cls(int(value))
        text = str(value or "").strip()
        if text.isdigit():
            return cls(int(text))
        if text.upper() in cls.__members__:
            return cls[text.upper()]
        folded = fold(text).strip(" .")
        for st, label in LABELS.items():
            if fold(label) == folded:
                return st
        raise ValueError(f"unknown dossier status {value!r}")


LABELS = {
    Status.REGISTERED: "Mới đăng ký",
    Status.RECEIVED: "Được tiếp nhận",
    Status.REJECTED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUIRED: "Yêu cầu bổ sung giấy tờ",
    Status.PAYMENT_REQUIRED: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.STOPPED: "Dừng xử lý",
    Status.DONE: "Đã xử lý xong",
    Status.RETURNED: "Đã trả kết quả",
}

CITIZEN_TEXT = {
    Status.REGISTERED: "Hồ sơ đã được đăng ký, đang chờ cơ quan kiểm tra và tiếp nhận.",
    Status.RECEIVED: "Hồ sơ đã được tiếp nhận và sẽ được chuyển đến bộ phận giải quyết.",
    Status.REJECTED: "Hồ sơ không được tiếp nhận.",
    Status.PROCESSING: "Hồ sơ đang được giải quyết.",
    Status.SUPPLEMENT_REQUIRED: "Cơ quan giải quyết đề nghị bạn bổ sung giấy tờ.",
    Status.PAYMENT_REQUIRED: "Bạn cần nộp phí, lệ phí hoặc nghĩa vụ tài chính để hồ sơ được tiếp tục giải quyết.",
    Status.WITHDRAWN: "Hồ sơ đã được rút theo đề nghị của bạn.",
    Status.STOPPED: "Hồ sơ đã dừng giải quyết.",
    Status.DONE: "Hồ sơ đã có kết quả, đang chờ bạn đến nhận.",
    Status.RETURNED: "Kết quả đã được trả cho bạn.",
}

TERMINAL = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.STOPPED, Status.RETURNED})


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    step: str
    unit: str = ""
    note: str = ""


@dataclass(frozen=True)
class Fee:
    name: str
    amount: int  # VND
    paid: bool = False


@dataclass(frozen=True)
class Pause:
    """Time the citizen spent supplying missing papers (the clock stops meanwhile)."""

    start: datetime
    end: datetime | None = None  # None: still waiting for the papers


@dataclass(frozen=True)
class Apology:
    """The "Phiếu xin lỗi và hẹn lại ngày trả kết quả" (TT 01/2018, form 04)."""

    new_due_at: datetime
    issued_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class Dossier:
    code: str
    status: Status
    procedure_name: str
    received_at: datetime
    due_at: datetime | None
    procedure_code: str = ""
    agency: str = ""  # the agency competent for the procedure (the one-stop office's agency)
    status_at: datetime | None = None  # when it entered the current status
    finished_at: datetime | None = None  # handling finished (result ready, or stopped)
    returned_at: datetime | None = None
    current_step: str = ""
    handling_unit: str = ""
    applicant_name: str = ""
    owner_phone_last4: str = ""  # only the last 4 digits are ever kept
    owner_id_hash: str = ""  # see hash_id_number
    history: tuple[HistoryEntry, ...] = ()
    fees: tuple[Fee, ...] = ()
    missing_papers: tuple[str, ...] = ()
    pickup: str = ""  # where and how to collect the result
    pauses: tuple[Pause, ...] = ()
    apology: Apology | None = None
    note: str = ""  # the office's note to the citizen (reason for rejection, ...)
    source_updated_at: datetime | None = None
    extra: dict = field(default_factory=dict, compare=False)

    # -- the "late" rule -------------------------------------------------------------
    def paused(self, until: datetime) -> timedelta:
        total = timedelta(0)
        for p in self.pauses:
            end = min(p.end or until, until)
            if end > p.start:
                total += end - p.start
        return total

    def lateness(self, now: datetime) -> timedelta:
        """How late the dossier is (zero when on time): the finish date (or now, while
        unfinished) less the time spent supplying papers, past the promised date."""
        if self.due_at is None or self.status in (Status.REJECTED, Status.WITHDRAWN):
            return timedelta(0)
        end = self.finished_at if (self.status.finished and self.finished_at) else now
        if self.status.finished and self.finished_at is None and self.returned_at is not None:
            end = self.returned_at
        late = end - self.paused(end) - self.due_at
        return late if late > timedelta(0) else timedelta(0)

    def is_late(self, now: datetime) -> bool:
        return self.lateness(now) > timedelta(0)

    @property
    def fees_due(self) -> tuple[Fee, ...]:
        return tuple(f for f in self.fees if not f.paid)

    # -- ownership -------------------------------------------------------------------
    def owned_by(self, answer: str) -> bool | None:
        """True/False when ``answer`` is the last 4 digits of the phone or the applicant's
        ID number; None when it is neither shape (not counted as a wrong answer)."""
        digits = re.sub(r"\D", "", answer or "")
        if len(digits) == 4 and len(re.sub(r"[\s.\-]", "", answer)) == 4:
            return bool(self.owner_phone_last4) and hmac.compare_digest(digits, self.owner_phone_last4)
        if len(digits) in (9, 12):
            if not self.owner_id_hash:
                return False
            expected = (hash_id_number(digits) if self.owner_id_hash.startswith(KEYED_PREFIX)
                        else _legacy_hash(digits))
            return hmac.compare_digest(expected, self.owner_id_hash)
        return None


def phone_last4(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 8 else ""


# The key of the ID-number fingerprints: one per process, set at start-up from
# ``dossiers.id_hash_key`` or its key file (bot/dossiers/keys.py).
_id_hash_key: bytes | None = None
KEYED_PREFIX = "k1:"  # HMAC-SHA256 under the key; no prefix: the unkeyed SHA-256 of older versions


def use_id_hash_key(key: bytes) -> None:
    global _id_hash_key
    if len(key) < 16:
        raise ValueError("the ID hash key must have at least 16 bytes")
    _id_hash_key = key


def hash_id_number(id_number: str) -> str:
    """A one-way fingerprint of the applicant's ID number (CCCD 12 digits / CMND 9 digits):
    the bot can check an answer without keeping the number. Keyed (HMAC-SHA256 under a
    secret kept out of the database): a CCCD has only 12 digits, many of them guessable, so
    a plain hash of it is found by trying them all."""
    digits = re.sub(r"\D", "", id_number or "")
    if len(digits) not in (9, 12):
        return ""
    if _id_hash_key is None:
        raise RuntimeError("no ID hash key: call use_id_hash_key() at start-up")
    return KEYED_PREFIX + hmac.new(_id_hash_key, digits.encode(), hashlib.sha256).hexdigest()


def _legacy_hash(digits: str) -> str:
    """The unkeyed fingerprint stored by versions before the key (still accepted)."""
    return hashlib.sha256(("tthc-bot/id/" + digits).encode()).hexdigest()
