"""National public-service portal detail pages (``tthc-national-portal-*.jsonl[.gz]``).

One JSON object per line with Vietnamese keys (ma_thu_tuc, ten_thu_tuc, cach_thuc_thuc_hien, ...).
The table cells of three sections were squashed together without separators when the pages
were scraped; this module splits them back:

* ``cach_thuc_thuc_hien`` = "Hình thức nộpThời gianPhí, lệ phíMô tả" + per channel
  ``<channel><time><fee>[(fee note)]<description>``, e.g.
  "Trực tiếp20 Ngày làm việcKhông có thông tinThời hạn giải quyết ...". A unit-less time runs
  into a fee amount ("Trực tuyến1100 VNĐ(Phí công bố ... 100.000 đồng)"): the portal's unit-less
  times are one digit, so the first digit is the time.
* ``thanh_phan_ho_so`` = [group heading] "Tên giấy tờMẫu đơn, tờ khaiSố lượng" + rows
  ``<name><form file(s)><copies>`` where copies is "1 bản chính" or "0 bản chính,1 bản sao".
* ``can_cu_phap_ly`` = "Tên văn bản pháp lýMã văn bản" + rows ``<title><number>``.
* ``ket_qua_xu_ly`` ends with the portal's agency picker ("Chọn cơ quan thực hiện … Nộp hồ sơ").

"Không có thông tin" means empty. The code is ``ma_thu_tuc`` (codes inside ``raw_text`` are not
trusted). :func:`parse_record` also returns the parts that could not be split cleanly, so the
share of cleanly parsed records can be measured (``python -m kb.importers stats FILE``).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Iterator

from ..model import InvalidProcedure, LegalRef, Procedure, RequiredDocument, SubmissionChannel, base_code
from .common import RowError, clean, clean_fields, is_empty_value
from .io import parse_json_lines

__all__ = [
    "parse_file",
    "parse_record",
    "split_channels",
    "split_documents",
    "split_legal",
    "clean_result",
    "split_steps",
    "split_list",
    "parse_time",
]

SOURCE = "national-portal"
CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
NO_INFO = "Không có thông tin"

_CHANNEL_NAMES = "Dịch vụ bưu chính|Trực tuyến|Trực tiếp"
_CHANNEL_START = re.compile(rf"({_CHANNEL_NAMES})(?=\d|{NO_INFO}|Miễn phí|Không quy định|Không phải)")
_UNITS = "Ngày làm việc|Ngày|Giờ làm việc|Giờ|Tháng|Năm|Tuần|Phút"
_CURRENCY = r"(?:Việt Nam Đồng|VNĐ|VND|USD|EUR|Đồng|đồng)"
_GLUED_TIME_FEE = re.compile(rf"^(\d)(\d[\d.,]*\s*{_CURRENCY})")
_TIME = re.compile(rf"^(\d+(?:[.,]\d+)?)\s*({_UNITS})?")
_FEE_AMOUNT = re.compile(rf"^\d[\d.,]*\s*{_CURRENCY}")
_TEXT_TIME = re.compile(rf"^(.{{1,120}}?)(?={NO_INFO}|Miễn phí|\d[\d.,]*\s*{_CURRENCY})", re.S)


def parse_time(text: str) -> tuple[float | None, str]:
    """"20 Ngày làm việc" -> (20.0, "ngày làm việc"); days only for day units."""
    m = re.match(rf"^\s*(\d+(?:[.,]\d+)?)\s*({_UNITS})?", text or "", re.I)
    if not m:
        return None, ""
    unit = (m.group(2) or "").lower()
    num = float(m.group(1).replace(",", "."))
    return (num if unit in ("ngày làm việc", "ngày") else None), unit


def _balanced(text: str, start: int) -> int:
    """End (exclusive) of the parenthesised group opening at ``start``; -1 if it never closes."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def split_channels(text: str) -> tuple[list[SubmissionChannel], list[str]]:
    """The squashed submission table -> channels, plus problems found (empty when clean)."""
    problems: list[str] = []
    text = (text or "").strip()
    if not text or is_empty_value(text):
        return [], []
    if text.startswith(CHANNEL_HEADER):
        body = text[len(CHANNEL_HEADER) :]
    else:
        body = text
        problems.append("channels: table header missing")
    starts = [m.start() for m in _CHANNEL_START.finditer(body)]
    m0 = re.match(_CHANNEL_NAMES, body)
    if m0 and (not starts or starts[0] != 0):
        starts.insert(0, 0)
    if not starts:
        return [], problems + ["channels: no channel found"]
    if starts[0] != 0 and body[: starts[0]].strip():
        problems.append("channels: text before the first channel")
    out = []
    for k, s in enumerate(starts):
        seg = body[s : starts[k + 1] if k + 1 < len(starts) else len(body)]
        m = re.match(_CHANNEL_NAMES, seg)
        channel = m.group(0)
        rest = seg[m.end() :]
        time = ""
        g = _GLUED_TIME_FEE.match(rest)
        if g:
            time = g.group(1)
            rest = rest[1:]
        elif rest.startswith(NO_INFO):
            rest = rest[len(NO_INFO) :]
        else:
            t = _TIME.match(rest)
            if t:
                time = t.group(0).strip()
                rest = rest[t.end() :]
            else:
                tt = _TEXT_TIME.match(rest)  # "Không quy định", "Không phải trả kết quả ..."
                if tt:
                    time = tt.group(1).strip()
                    rest = rest[tt.end() :]
                else:
                    problems.append(f"channels: no time for {channel}")
        fee = ""
        if rest.startswith(NO_INFO):
            rest = rest[len(NO_INFO) :]
        elif rest.startswith("Miễn phí"):
            fee = "Miễn phí"
            rest = rest[len("Miễn phí") :]
        else:
            a = _FEE_AMOUNT.match(rest)
            if a:
                fee = a.group(0).strip()
                rest = rest[a.end() :]
            elif time:
                problems.append(f"channels: no fee for {channel}")
        if rest.startswith("(") and (fee or time):
            end = _balanced(rest, 0)
            if end < 0:  # unbalanced in the source: end at the last ")" (or take all)
                end = rest.rfind(")") + 1 or len(rest)
            note = rest[1 : end - 1].strip()
            if note and not is_empty_value(note):
                fee = f"{fee} ({note})" if fee else note
            rest = rest[end:]
        days, unit = parse_time(time)
        desc = clean(rest)
        out.append(SubmissionChannel(channel, time, days, unit, fee, desc))
    return out, problems


# A copies cell: "1 bản chính" or "0 bản chính,1 bản sao" (single digits). Not a mention inside
# a name such as "(01 bản chính)" / ": 01 bản chính hoặc ...".
_COPIES = re.compile(r"(\d) bản chính(?:,(\d) bản sao)?")
_EXT = re.compile(r"\.(?:docx?|pdf|xlsx?|rar|zip|odt|rtf)(?![A-Za-z])", re.I)
_LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴĐ"
# where a form file name starts, glued to the document name: "…NĐ-CP;Mẫu số 01.docx",
# "…sinh họcDu an.docx", "…TT-BTPMẫu TP-CC-08.docx", "…NĐ -CP.mau so 6.doc"
_FORM_START = re.compile(
    rf"(?<=[{_LOWER}0-9)\]])(?=[{_UPPER}])"
    rf"|(?<=[;:.)])(?=[{_UPPER}{_LOWER}])"
    rf"|(?<=[{_UPPER}]{{2}})(?=[{_UPPER}][{_LOWER}])"
)


def _is_copies_cell(text: str, m: re.Match[str]) -> bool:
    s = m.start()
    before = text[max(0, s - 2) : s]
    if len(before) == 2 and before[1] == "0" and not before[0].isalnum():
        return False  # "(01 bản chính)", ": 01 bản chính" - a mention in the name
    if len(before) == 1 and before == "0":
        return False
    after = text[m.end() : m.end() + 6]
    if after.startswith((" hoặc", " tờ", " và", ")", " (", " để", " kèm")):
        return False
    return True


def _copies_label(m: re.Match[str]) -> str:
    main, copy = m.group(1), m.group(2)
    return f"Bản chính: {main}, Bản sao: {copy}" if copy is not None else f"Bản chính: {main}"


def _split_form(row: str) -> tuple[str, str]:
    """``"<name><file>.docx[<file>.docx…]"`` -> (name, "file.docx; file2.docx")."""
    ends = [m.end() for m in _EXT.finditer(row)]
    if not ends or ends[-1] != len(row.rstrip()):
        return row, ""
    first_end = ends[0]
    prefix = row[:first_end]
    window_start = max(0, first_end - 160)
    start = None
    for m in _FORM_START.finditer(prefix, window_start):
        if m.start() > 0:
            start = m.start()
            break
    if start is None:
        return row, ""
    name = row[:start].strip(" ;")
    files = []
    prev = start
    for e in ends:
        if e > prev:
            files.append(row[prev:e].strip())
            prev = e
    if not name:
        return row, ""
    return name, "; ".join(f for f in files if f)


def split_documents(text: str) -> tuple[list[RequiredDocument], list[str]]:
    """The squashed documents table -> documents (group headings kept as name-only rows)."""
    problems: list[str] = []
    text = (text or "").strip()
    if not text or is_empty_value(text):
        return [], []
    if DOC_HEADER not in text:
        return [RequiredDocument(clean(text))] if clean(text) else [], ["documents: table header missing"]
    parts = text.split(DOC_HEADER)
    out: list[RequiredDocument] = []
    heading = parts[0].strip()
    for k, part in enumerate(parts[1:], 1):
        if heading and heading != "--" and clean(heading.strip("-")):
            out.append(RequiredDocument(clean(heading)))
        pos = 0
        cells = [m for m in _COPIES.finditer(part) if _is_copies_cell(part, m)]
        for m in cells:
            row = part[pos : m.start()].strip()
            pos = m.end()
            if not row:
                problems.append("documents: copies without a document name")
                continue
            name, form = _split_form(row)
            out.append(RequiredDocument(clean(name) or row, form, _copies_label(m)))
        tail = part[pos:].strip()
        if k < len(parts) - 1:
            heading = tail  # the next group's heading, glued before its table header
        else:
            heading = ""
            if tail:
                name, form = _split_form(tail)
                out.append(RequiredDocument(clean(name) or tail, form))
                problems.append("documents: last row has no copies")
        if not cells:
            problems.append("documents: a table without rows")
    return out, problems


# issuer parts of legal numbers, longest first; an unknown one falls back to an upper-case run
_KNOWN_SEG = sorted(
    """TTg CP BTC BCA BTP NHNN BNNMT BNNPTNT BGTVT BXD BKHĐT BKHDT BTNMT BLĐTBXH BCT BYT BQP BHXH UBND
    VPCP BNV BGDĐT BVHTTDL BTTTT BKHCN BNG TANDTC VKSNDTC KTNN UBTVQH TT NĐ ND QĐ NQ TTLT PL HĐTP
    HĐND BTC-BCA UBCKNN BCĐ BKHĐT-BTC""".split(),
    key=len,
    reverse=True,
)
_SEG = (
    rf"(?:[{_UPPER}]*?QH\d{{1,2}}|(?:{'|'.join(_KNOWN_SEG)})(?![{_UPPER}]{{2}})"
    rf"|(?:[{_UPPER}](?![{_LOWER}]))+)"
)
# "68/2013/TT-BCA", "02/2011/QH13", "12/2021/QĐ-TTg", "Luật số 146/2025/QH15"; an upper-case
# letter followed by a lower-case one starts the next title ("…TT-BCALuật Khiếu nại").
_LEGAL_NUMBER = re.compile(
    r"(?:(?:Luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết|Pháp lệnh|Lệnh)\s*(?:số\s*)?)?"
    rf"\d+(?:[.,]\d+)?/(?:\d{{4}}/)?{_SEG}(?:-{_SEG})*"
)


def split_legal(text: str) -> tuple[list[LegalRef], list[str]]:
    """The squashed legal-basis table -> (title, number) references."""
    problems: list[str] = []
    text = (text or "").strip()
    if not text or is_empty_value(text):
        return [], []
    if text.startswith(LEGAL_HEADER):
        body = text[len(LEGAL_HEADER) :]
    else:
        body = text
        problems.append("legal basis: table header missing")
    out: list[LegalRef] = []
    pos = 0
    for m in _LEGAL_NUMBER.finditer(body):
        nxt = body[m.end() : m.end() + 1]
        if nxt and (nxt.isspace() or nxt.isdigit() or nxt in ",;.)/-(:"):
            continue  # a number mentioned inside a title
        row = body[pos : m.end()]
        pos = m.end()
        number = m.group(0)
        title = row[: len(row) - len(number)].strip()
        number = re.sub(r"^(?:Luật|Nghị định|Thông tư liên tịch|Thông tư|Quyết định|Nghị quyết|Pháp lệnh|Lệnh)\s*(?:số\s*)?",
                        "", number).strip()
        y = re.match(r"((?:19|20)\d\d)(\d{1,3}(?:[.,]\d+)?/)", number)
        if y and m.group(0).startswith(y.group(1)):  # "…năm 2011" + "02/2011/QH13" glued
            title = f"{title} {y.group(1)}"
            number = number[4:]
        if not title:
            title = m.group(0).strip()
        out.append(LegalRef(clean(title), number))
    tail = body[pos:].strip()
    if tail:
        inner = list(_LEGAL_NUMBER.finditer(tail))
        number = ""
        if inner:
            number = re.sub(r"^\D*?(?=\d)", "", inner[-1].group(0))
        out.append(LegalRef(clean(tail), number))
        if not number:
            problems.append("legal basis: a title without a number")
    return out, problems


_RESULT_CODE = re.compile(r"Mã: KQ\.[A-Z0-9]+\.\d+")
_PORTAL_PICKER = "Chọn cơ quan thực hiện"


def clean_result(text: str) -> str:
    """Result names without result codes, empty keyword/description cells and portal boilerplate."""
    text = (text or "")
    cut = text.find(_PORTAL_PICKER)
    if cut >= 0:
        text = text[:cut]
    pieces = _RESULT_CODE.split(text)
    names = [pieces[0]]
    for p in pieces[1:]:
        p = re.sub(rf"^Từ khóa(?:{NO_INFO})?", "", p)
        m = re.match(rf"^(.*?)Mô tả(?:{NO_INFO})?", p, re.S)
        if m:
            kw = m.group(1).strip()
            p = p[m.end() :]
            if kw and names:
                names[-1] = f"{names[-1]} ({kw})"
        names.append(p)
    out = [clean(n) for n in names]
    return "; ".join(n for n in out if n)


_STEP = re.compile(r"(?=Bước\s*\d+\s*[:.\-)])")


def split_steps(text: str) -> list[str]:
    text = clean(text)
    if not text:
        return []
    parts = [p.strip() for p in _STEP.split(text) if p.strip()]
    return parts if len(parts) > 1 else [text]


def split_list(text: str) -> list[str]:
    """"A, B (x, y), C" -> ["A", "B (x, y)", "C"] (commas inside brackets kept)."""
    text = clean(text)
    out, depth, cur = [], 0, []
    for c in text:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth = max(0, depth - 1)
        if (c == "," or c == "\n") and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur).strip())
    return [x for x in dict.fromkeys(out) if x]


# Procedure field -> portal key, for the cells that need only cleaning.
_TEXT_FIELDS = {
    "level": "cap_thuc_hien",
    "field": "linh_vuc",
    "procedure_type": "loai_thu_tuc",
    "implementing_agency": "co_quan_thuc_hien",
    "competent_agency": "co_quan_co_tham_quyen",
    "authorised_agency": "co_quan_duoc_uy_quyen",
    "coordinating_agency": "co_quan_phoi_hop",
    "where_to_submit": "dia_chi_tiep_nhan",
    "conditions": "yeu_cau_dieu_kien",
    "decision": "so_quyet_dinh",
    "source_url": "detail_url",
}


def parse_record(obj: dict[str, Any], source: str = SOURCE) -> tuple[Procedure, list[str]]:
    """One portal object -> (Procedure, problems). Raises InvalidProcedure when unusable."""
    if not isinstance(obj, dict):
        raise InvalidProcedure("not a JSON object")
    code = clean(obj.get("ma_thu_tuc"))
    if base_code(code) is None:
        raise InvalidProcedure(f"ma_thu_tuc: '{code}' is not a procedure code")
    name = clean(obj.get("ten_thu_tuc"))
    if not name:
        raise InvalidProcedure("ten_thu_tuc: empty")
    channels, p1 = split_channels(obj.get("cach_thuc_thuc_hien", ""))
    documents, p2 = split_documents(obj.get("thanh_phan_ho_so", ""))
    legal, p3 = split_legal(obj.get("can_cu_phap_ly", ""))
    proc = Procedure.from_dict(
        {
            **clean_fields(obj, _TEXT_FIELDS),
            "code": code,
            "name": name,
            "subjects": split_list(obj.get("doi_tuong_thuc_hien", "")),
            "steps": split_steps(obj.get("trinh_tu_thuc_hien", "")),
            "result": clean_result(obj.get("ket_qua_xu_ly", "")),
            "source": source,
        }
    )
    proc = replace(proc, channels=tuple(channels), documents=tuple(documents), legal_basis=tuple(legal))
    return proc, p1 + p2 + p3


def parse_file(path: str, *, stats: dict[str, int] | None = None) -> Iterator[Procedure | RowError]:
    """Yield a Procedure per line, or a RowError(source, line, reason) for a line that is not one.

    ``stats`` (optional dict) receives counts: records, clean (split without problems), errors.
    """
    st = stats if stats is not None else {}
    for key in ("records", "clean", "errors"):
        st.setdefault(key, 0)
    for rec in parse_json_lines(path, parse_record):
        if isinstance(rec, RowError):
            st["errors"] += 1
            yield rec
            continue
        proc, problems = rec
        st["records"] += 1
        if not problems:
            st["clean"] += 1
        yield proc
