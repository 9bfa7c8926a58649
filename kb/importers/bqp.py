"""Ministry of Defence detail records (``tthc-bqp-*.jsonl[.gz]``): ``metadata`` / ``content`` /
``tables`` objects parsed from the official detail documents; tables are already split."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Iterator

from ..model import InvalidProcedure, LegalRef, Procedure, RequiredDocument, SubmissionChannel, base_code
from .common import RowError, clean, clean_fields
from .io import parse_json_lines
from .national import parse_time, split_list, split_steps

__all__ = ["parse_file", "parse_record"]

SOURCE = "bqp"


# Procedure field -> key of the record's "metadata" / "content", for cells that need only cleaning.
_METADATA_FIELDS = {
    "name": "tên_thủ_tục",
    "field": "lĩnh_vực",
    "procedure_type": "loại_thủ_tục",
    "decision": "số_quyết_định",
}
_CONTENT_FIELDS = {
    "implementing_agency": "cơ_quan_thực_hiện",
    "competent_agency": "cơ_quan_có_thẩm_quyền",
    "authorised_agency": "cơ_quan_được_ủy_quyền",
    "coordinating_agency": "cơ_quan_phối_hợp",
    "where_to_submit": "địa_chỉ_tiếp_nhận_hs",
    "conditions": "yêu_cầu_điều_kiện_thực_hiện",
    "result": "kết_quả_thực_hiện",
}


def _level(text: str) -> str:
    # "Cấp Bộ, Cấp Tỉnh" -> "Cấp bộ, Cấp tỉnh" (the national portal's spelling)
    return ", ".join(p.strip().capitalize() for p in clean(text).split(",") if p.strip())


def _fee(text: str) -> str:
    fee = clean(text)
    if re.fullmatch(r"(?:Lệ phí|Phí)\s*:\s*(?:0|không)\s*Đồng", fee, re.I):
        return "Miễn phí"
    return fee


def _copies(text: str) -> str:
    c = clean(text)
    m = re.match(r"Bản chính:\s*(\d+)\s*\n?\s*Bản sao:\s*(\d+)", c)
    return f"Bản chính: {m.group(1)}, Bản sao: {m.group(2)}" if m else c.replace("\n", ", ")


def _date(text: str) -> str:
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})-(\d{4})", clean(text))
    return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}" if m else ""


def parse_record(obj: dict[str, Any]) -> Procedure:
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        raise InvalidProcedure("not a Defence record (no 'metadata')")
    md, ct, tb = obj["metadata"], obj.get("content") or {}, obj.get("tables") or {}
    code = clean(md.get("mã_thủ_tục") or obj.get("thu_tuc_id"))
    if base_code(code) is None:
        raise InvalidProcedure(f"mã_thủ_tục: '{code}' is not a procedure code")
    channels = []
    for row in tb.get("hinh_thuc_nop") or []:
        time = clean(row.get("thoi_han_giai_quyet"))
        days, unit = parse_time(time)
        channels.append(
            SubmissionChannel(clean(row.get("hinh_thuc")) or "Khác", time, days, unit,
                              _fee(row.get("phi_le_phi")), clean(row.get("mo_ta")))
        )
    documents = [
        RequiredDocument(clean(r.get("ten_giay_to")), clean(r.get("so_luong")), _copies(r.get("ghi_chu")))
        for r in tb.get("thanh_phan_ho_so") or []
        if clean(r.get("ten_giay_to"))
    ]
    legal = []
    for r in tb.get("can_cu_phap_ly") or []:
        title = clean(r.get("trich_yeu"))
        number = clean(r.get("so_ky_hieu"))
        m = re.search(r"\d+/\d{4}/[A-ZĐ][\w-]*", title)
        if m and (not number or number.isdigit()):
            number = m.group(0)  # so_ky_hieu is sometimes just "12"
        number = re.sub(r"^(?:Thông tư|Nghị định|Luật|Quyết định|Nghị quyết)\s*(?:số\s*)?", "", number)
        if title or number:
            legal.append(LegalRef(title or number, number, _date(r.get("ngay_ban_hanh")),
                                  clean(r.get("co_quan_ban_hanh"))))
    keywords = [k for k in split_list(ct.get("từ_khóa", "")) if k]
    proc = Procedure.from_dict(
        {
            **clean_fields(md, _METADATA_FIELDS),
            **clean_fields(ct, _CONTENT_FIELDS),
            "code": code,
            "level": _level(md.get("cấp_thực_hiện")),
            "subjects": split_list(ct.get("đối_tượng_thực_hiện", "")),
            "steps": split_steps(ct.get("trình_tự_thực_hiện", "")),
            "keywords": keywords,
            "source": SOURCE,
        }
    )
    return replace(proc, channels=tuple(channels), documents=tuple(documents), legal_basis=tuple(legal))


def parse_file(path: str) -> Iterator[Procedure | RowError]:
    return parse_json_lines(path, parse_record)
