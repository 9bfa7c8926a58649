"""Rules for what a PAKN must contain, platform-neutral and without I/O.

Legal basis (see also config.example.toml, [pakn]):
- Decree 20/2008/NĐ-CP Art. 7: a PAKN is written in Vietnamese, states its content
  clearly and carries the sender's name, address and phone number; without them it is
  not accepted — so there is no anonymous PAKN.
- Decree 20/2008/NĐ-CP Art. 1, 5: complaints (khiếu nại, Law on Complaints 2011) and
  denunciations (tố cáo, Law on Denunciations 2018) are handled under their own laws,
  not as PAKN.
- Law on Personal Data Protection No. 91/2025/QH15 (in force since 1 January 2026; it
  replaced Decree 13/2023/NĐ-CP): personal data are processed with the data subject's
  consent, given after being told what for, and kept no longer than needed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from kb.normalize import fold

# Mobile: 03x, 05x, 07x, 08x, 09x + 8 digits; landline: 11 digits starting 02 (area codes
# since 2017). +84 / 84 instead of the leading 0.
_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_NAME_CHAR = re.compile(r"^[^\W\d_]+$")  # letters only (any script), per word

# Words that mark a complaint or a denunciation rather than a PAKN (folded).
_COMPLAINT = re.compile(r"\b(khieu nai|khieu kien|to cao|don to|to giac)\b")


def normalize_phone(text: str) -> str | None:
    """A Vietnamese phone number in national form (0xxxxxxxxx), or None."""
    raw = (text or "").strip()
    if not re.fullmatch(r"[+\d\s.\-()]{9,20}", raw):
        return None
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+") and not digits.startswith("84"):
        return None
    if digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


def normalize_email(text: str) -> str | None:
    value = (text or "").strip()
    return value.lower() if len(value) <= 200 and _EMAIL.match(value) else None


def normalize_name(text: str) -> str | None:
    """A person's full name: 2 to 7 words of letters, at most 100 characters."""
    value = " ".join(unicodedata.normalize("NFC", text or "").split())
    words = value.split(" ")
    if not 2 <= len(words) <= 7 or len(value) > 100:
        return None
    if not all(_NAME_CHAR.match(w) for w in words):
        return None
    return " ".join(w[:1].upper() + w[1:] for w in words)


def looks_like_complaint(text: str) -> bool:
    """True when the text calls itself a khiếu nại or tố cáo."""
    return bool(_COMPLAINT.search(fold(text)))


# Free text that says the citizen wants to file something (folded): "tôi muốn phản ánh …",
# "xin kiến nghị …", "muốn khiếu nại …", or an official's misconduct described outright.
_REPORT_WORDS = r"(phan anh|kien nghi|gop y|khieu nai|to cao|to giac)"
_REPORT_INTENT = re.compile(
    r"\b(muon|can|xin|de nghi|se)\s+(gui\s+|lam\s+|viet\s+|nop\s+)?(don\s+|y kien\s+)?" + _REPORT_WORDS + r"\b"
    r"|^(toi|em|minh|chung toi|chau|con)\s+(xin\s+|can\s+)?" + _REPORT_WORDS + r"\b"
    r"|^" + _REPORT_WORDS + r"\s+(ve|viec|can bo|cong chuc|thai do|ubnd|uy ban|bo phan)\b")
_MISCONDUCT = re.compile(r"\b(nhung nhieu|hach sach|gay kho de|voi tien|hoi lo|boi duong|tieu cuc|"
                         # "doi tien" is also "đổi tiền" (exchanging money): only with who asks or what for
                         r"(can bo|cong chuc|nhan vien|ho|xa|phuong) doi tien|doi tien (moi|thi moi|lot tay|ca phe|cafe)|"
                         r"lam kho|thai do (kem|khong tot|hach dich|coi thuong|cau cau|thieu ton trong))\b")
# ... or the grievances ND 20/2008 is for, told as what happened (each needs the citizen's
# side of it: "hẹn tôi quay lại 3 lần", "bắt nộp thêm", "quá hẹn mà chưa trả", "không nhận hồ sơ").
_WHO = r"(toi |em |minh |chung toi |dan |nguoi dan |ba con |gia dinh toi )?"
_GRIEVANCE = re.compile(
    r"\bhen " + _WHO + r"(quay lai|di lai|len|den|ve)( lai)? (\d+|nhieu|may|hai|ba|bon|nam) (lan|buoi|chuyen)\b"
    r"|\b(hen di hen lai|hen lai nhieu lan|hen lan hen lua|tre hen|sai hen|lo hen|qua hen)\b"
    r"|\b(bat|doi|yeu cau) " + _WHO + r"(phai )?(nop|bo sung|lam|xin|photo|cong chung|chung thuc) them\b"
    r"|\b(ngoai quy dinh|khong dung quy dinh|trai quy dinh|khong co trong quy dinh)\b"
    r"|\b(khong (chiu )?(tiep nhan|nhan|giai quyet|tra loi|huong dan)|tu choi (tiep nhan|nhan|giai quyet)) "
    r"(ho so|don|yeu cau)\b"
    r"|\bqua han( \d+ (ngay|tuan|thang|nam)| lau| nhieu ngay)?( ma| nhung)?( van)? chua "
    r"(tra|giai quyet|co ket qua|nhan duoc)\b"
    # "nộp từ tháng 3, rất lâu rồi mà không ai giải quyết", "chờ mãi không ai trả lời"
    r"|\bkhong (ai|co ai|thay ai) (giai quyet|tra loi|xu ly|quan tam|huong dan|nghe may)\b"
    r"|\b(lau|thang|tuan|nam|ngay) (roi |nay )?ma (van )?(chua|khong) (duoc |thay |ai )?"
    r"(giai quyet|tra loi|xu ly|co ket qua|tra ket qua)\b")

# ... unless it asks how to do it: "thủ tục khiếu nại", "mẫu đơn kiến nghị", "… như thế nào".
_ASKS_PROCEDURE = re.compile(r"\b(thu tuc|mau don|bieu mau|giai quyet khieu nai|giai quyet to cao|"
                             r"nhu the nao|lam the nao|the nao|o dau|can gi|giay to gi|bao lau|tra cuu)\b"
                             r"|\bco (duoc|phai|can|bi)\b.*\bkhong$")  # a yes/no question


def wants_to_report(text: str) -> bool:
    """True when free text reads as the wish to send a PAKN (or a khiếu nại / tố cáo),
    not as a question about how such a procedure works."""
    folded = " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())
    if not folded or _ASKS_PROCEDURE.search(folded):
        return False
    return bool(_REPORT_INTENT.search(folded) or _MISCONDUCT.search(folded) or _GRIEVANCE.search(folded))


def content_key(text: str) -> str:
    """The content as compared for duplicates: folded, punctuation dropped."""
    return " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())


def similarity(a: str, b: str) -> float:
    """0-100: how alike two content keys are (word order and repeats ignored)."""
    if not a or not b:
        return 0.0
    return max(fuzz.token_set_ratio(a, b) if min(len(a), len(b)) >= 40 else 0.0, fuzz.ratio(a, b))


@dataclass(frozen=True)
class AttachmentCheck:
    ok: bool
    problem: str = ""  # "type" | "size" | "count"


def check_attachment(mime_type: str, size: int | None, *, allowed: tuple[str, ...], max_bytes: int,
                     already: int, max_count: int) -> AttachmentCheck:
    if already >= max_count:
        return AttachmentCheck(False, "count")
    mime = (mime_type or "").lower().split(";")[0].strip()
    if mime not in allowed:
        return AttachmentCheck(False, "type")
    if size is not None and size > max_bytes:
        return AttachmentCheck(False, "size")
    return AttachmentCheck(True)


def normalize_agency(code: str, name: str) -> tuple[str, str] | None:
    """An agency's code (letters, digits, '.', '_' or '-', at most 32, upper-cased) and name
    (3 to 300 characters, spaces folded), or None when either is not acceptable: the name is
    what citizens read on the agency button of the form."""
    code = code.strip().upper()
    name = " ".join(name.split())
    if not code or len(code) > 32 or not all(c.isalnum() or c in "._-" for c in code):
        return None
    if not 3 <= len(name) <= 300:
        return None
    return code, name
