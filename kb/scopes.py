"""Who a procedure is for, read from its name, and whether a citizen's question says so.

Many procedures come in sibling variants whose names differ only by a scope: *… lần đầu đối
với tổ chức* / *… đối với hộ gia đình, cá nhân*; *đăng ký khai sinh* / *… có yếu tố nước
ngoài*; *căn cước cho người dưới 14 tuổi* / *… từ đủ 14 tuổi trở lên*; *chuyển mục đích …
không phải xin phép*. Word matching cannot choose between them (the shorter name usually wins),
but the bot's audience can: a citizen who does not mention a company, a foreign element or "no
permit" means the individual, domestic, ordinary variant. kb.search prefers a scoped variant
when the query mentions its scope and penalises it when it does not.

Everything here works on folded text (kb.normalize.fold); the rules are general word patterns,
never per-procedure lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["NameScope", "QueryScope", "name_scope", "query_scope", "age_fits", "scope_mismatch",
           "strip_scope", "group_mismatch"]

# -- names ------------------------------------------------------------------------------------
# An organisation as the party the procedure is for: "đối với tổ chức", "cho cơ quan, tổ chức",
# "theo đề nghị của cơ quan, tổ chức", "người nộp thuế là tổ chức", "chủ rừng là tổ chức".
_NAME_ORG = re.compile(
    r"\b(?:doi voi|cho|cua|la)\s+(?:cac\s+)?(?:co quan,?\s+|co quan nha nuoc,?\s+)?"
    r"(?:to chuc|doanh nghiep|co quan|don vi)\b")
# ...unless individuals are named as well ("tổ chức, cá nhân", "tổ chức, hộ gia đình/cá nhân")
_NAME_INDIVIDUAL = re.compile(r"\b(?:ca nhan|ho gia dinh|ho kinh doanh)\b")
# A foreign element: "có yếu tố nước ngoài", "người nước ngoài", "tổ chức, cá nhân nước ngoài",
# "ở nước ngoài", "quốc tịch nước ngoài", "không quốc tịch".
_NAME_FOREIGN = re.compile(
    r"\b(?:yeu to nuoc ngoai|nguoi nuoc ngoai|(?:to chuc|ca nhan|doanh nghiep|cong dan|cong ty|tau)"
    r"(?:,?\s+ca nhan)?\s+nuoc ngoai|(?:o|tai|ra) nuoc ngoai|quoc tich nuoc ngoai|khong quoc tich)\b")
# ...unless domestic persons are named as well ("hộ gia đình, cá nhân, …, người Việt Nam định cư ở
# nước ngoài"; "cho công dân Việt Nam, người nước ngoài …"; "trong nước")
_NAME_DOMESTIC = re.compile(r"\b(?:ho gia dinh|cong dan viet nam|trong nuoc)\b")
# "without a permit" variants
_NAME_NO_PERMIT = re.compile(r"\bkhong (?:phai|can) (?:xin phep|cap phep|xin giay phep|cap giay phep)\b")
# age bounds: "dưới 14 tuổi", "từ đủ 14 tuổi trở lên", "đủ 18 tuổi", "trên 60 tuổi"
_NAME_AGE = re.compile(r"\b(duoi|tu du|du|tu|tren)\s+(\d{1,3})\s+tuoi\b")


@dataclass(frozen=True)
class NameScope:
    org: bool = False  # for organisations only
    foreign: bool = False  # with a foreign element only
    no_permit: bool = False  # the "no permit needed" variant
    age: tuple[int, int] | None = None  # (youngest, oldest) the procedure is for

    @property
    def any(self) -> bool:
        return self.org or self.foreign or self.no_permit or self.age is not None


_NO_SCOPE = NameScope()


def name_scope(folded_name: str) -> NameScope:
    """Scopes of a procedure name (folded)."""
    n = folded_name
    # substring checks first: most names need no regex at all (index build speed at 50k)
    org = (("to chuc" in n or "doanh nghiep" in n or "co quan" in n or "don vi" in n)
           and bool(_NAME_ORG.search(n)) and not _NAME_INDIVIDUAL.search(n))
    foreign = (("nuoc ngoai" in n or "quoc tich" in n)
               and bool(_NAME_FOREIGN.search(n)) and not _NAME_DOMESTIC.search(n))
    no_permit = "khong" in n and "phep" in n and bool(_NAME_NO_PERMIT.search(n))
    if "tuoi" not in n:
        return NameScope(org, foreign, no_permit) if org or foreign or no_permit else _NO_SCOPE
    lo, hi = 0, 200
    for word, num in _NAME_AGE.findall(n):
        v = int(num)
        if word == "duoi":
            hi = min(hi, v - 1)
        elif word == "tren":
            lo = max(lo, v + 1)
        else:
            lo = max(lo, v)
    age = (lo, hi) if (lo, hi) != (0, 200) and lo <= hi else None
    return NameScope(org, foreign, no_permit, age)


# -- queries ----------------------------------------------------------------------------------
_Q_ORG = re.compile(
    r"\b(?:to chuc|doanh nghiep|dn|cong ty|cty|co quan|don vi|hop tac xa|htx|tnhh|co phan|"
    r"chi nhanh|van phong dai dien|phap nhan|nha dau tu|chu dau tu|du an|hiep hoi)\b")
_COUNTRY = (r"han quoc|trung quoc|nhat ban|dai loan|campuchia|thai lan|singapore|malaysia|"
            r"philippines|indonesia|canada|hoa ky|an do|anh quoc|hong kong|ma cao")
# a single-syllable country is a cue only after a person or "nước" ("người Nhật", "chồng Mỹ"):
# alone "nhật" is also "cập nhật", "lào" folds like "lao động", "pháp" like "tư pháp"
_PERSON = r"(?:nguoi|nuoc|chong|vo|bo|me|cha|ban trai|ban gai|quoc tich)"
_SHORT_COUNTRY = r"(?:nhat|my|lao(?! dong)|uc|nga|phap(?! luat| ly| nhan)|duc|tay|han|thai|trung|hoa)"
_Q_FOREIGN = re.compile(
    rf"\b(?:nuoc ngoai|ngoai quoc|viet kieu|kieu bao|quoc tich|dinh cu|ngoai kieu|{_COUNTRY}|"
    rf"{_PERSON} {_SHORT_COUNTRY})\b")
_Q_NO_PERMIT = re.compile(
    r"\b(?:khong|ko|k|khoi|chang) (?:phai |can |)(?:xin phep|cap phep|xin giay phep|giay phep)\b")
_Q_AGE = re.compile(r"\b(?:(duoi|chua du|chua den|chua toi|nho hon|tren|lon hon|hon)\s+)?(\d{1,3})\s*tuoi\b")


@dataclass(frozen=True)
class QueryScope:
    org: bool = False
    foreign: bool = False
    no_permit: bool = False
    age: int | None = None  # the age the question is about ("con 15 tuổi" -> 15; "dưới 14" -> 13)


def query_scope(folded_query: str) -> QueryScope:
    """Scopes a citizen's question (folded, filler words included) mentions."""
    q = folded_query
    age = None
    m = _Q_AGE.search(q)
    if m:
        v = int(m.group(2))
        word = m.group(1)
        if word in ("duoi", "chua du", "chua den", "chua toi", "nho hon"):
            v -= 1
        elif word in ("tren", "lon hon", "hon"):
            v += 1
        age = v
    return QueryScope(bool(_Q_ORG.search(q)), bool(_Q_FOREIGN.search(q)), bool(_Q_NO_PERMIT.search(q)), age)


_PARTY = (r"(?:to chuc|ho gia dinh|ca nhan|cong dong dan cu|doanh nghiep|co quan|"
          r"nguoi (?:goc )?viet nam dinh cu o nuoc ngoai)")
_SCOPE_PHRASE = re.compile(
    rf"\s*\b(?:(?:doi voi|cua|cho|la)\s+{_PARTY}(?:\s*(?:,|/|va|hoac)\s*{_PARTY})*|co yeu to nuoc ngoai)\b")


_STRIP_HINT = re.compile(r"to chuc|ho gia dinh|ca nhan|cong dong dan cu|doanh nghiep|co quan|dinh cu|yeu to")


def strip_scope(folded_name: str) -> str:
    """The name without its scope phrase ("… lần đầu đối với tổ chức" -> "… lần đầu"; "… có yếu
    tố nước ngoài" dropped): siblings then compare equally on words, and the scope rule alone
    decides between them."""
    if not _STRIP_HINT.search(folded_name):
        return folded_name
    out = _SCOPE_PHRASE.sub("", folded_name).strip(" ,;.-")
    return out if out and out != folded_name else folded_name  # unchanged: the same object


def scope_mismatch(q: QueryScope, folded_name: str) -> bool:
    """The query names an organisation or a foreign element and the name mentions none: the
    right variant is probably missing from the knowledge base (or ranked lower) - kb.search is
    then never confident."""
    if not (q.org or q.foreign):
        return False
    sc = name_scope(folded_name)
    said = query_scope(folded_name)
    if q.org and not (sc.org or said.org):
        return True
    return q.foreign and not (sc.foreign or said.foreign or _NAME_FOREIGN.search(folded_name))


# Groups of people with procedures of their own (people with merit, people with disabilities, poor
# households …): (what a question says, what a name for that group says). A question about such a
# group answered by a name that names none of it (*chế độ tử tuất* for "mai táng phí người có
# công") is probably about a procedure the knowledge base lacks.
_GROUPS = tuple((re.compile(q), re.compile(n)) for q, n in (
    (r"\b(?:nguoi co cong|co cong voi cach mang|thuong binh|benh binh|liet si|me viet nam anh hung|"
     r"chat doc hoa hoc|da cam|dan cong hoa tuyen)\b",
     r"\b(?:nguoi co cong|co cong|thuong binh|benh binh|liet si|me viet nam anh hung|chat doc hoa hoc|"
     r"dan cong hoa tuyen|khang chien|chien truong|chien tranh)\b"),
    (r"\b(?:khuyet tat|tan tat)\b", r"\b(?:khuyet tat|tan tat)\b"),
    (r"\b(?:ho ngheo|can ngheo|ho can ngheo)\b", r"\b(?:ngheo)\b"),
    (r"\b(?:mo coi)\b", r"\b(?:mo coi|hoan canh dac biet|bao tro xa hoi)\b"),
))


def group_mismatch(folded_query: str, folded_name: str) -> bool:
    """The question names a group of people with procedures of their own (kb.scopes._GROUPS) and
    the procedure name names none of that group."""
    return any(q.search(folded_query) and not n.search(folded_name) for q, n in _GROUPS)


def age_fits(age: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= age <= bounds[1]
