"""The report as a file a clerk can send upward: XLSX (a summary sheet and a raw-answers
sheet, Vietnamese headers) or CSV (the summary, UTF-8 with BOM so Excel reads the
diacritics). Comments are masked (phone numbers, ID numbers, e-mails)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from bot.privacy import mask_pii
from bot.surveys.report import CASE_LABELS, CHANNEL_LABELS, Figure, Row, SipasReport

SUMMARY_HEADER = ["Nhóm", "Chỉ tiêu", "Số lượng", "Tỷ lệ (%)", "Điểm trung bình",
                  "Mục tiêu (%)", "Chênh lệch (điểm %)"]
RAW_HEADER = ["Mã khảo sát", "Loại việc", "Mã hồ sơ / PAKN", "Cơ quan", "Lĩnh vực", "Mã thủ tục",
              "Kênh", "Ngày giải quyết", "Câu số", "Mã câu hỏi", "Câu hỏi", "Loại câu hỏi", "Yếu tố",
              "Điểm", "Góp ý", "Thời điểm trả lời"]
KIND_LABELS = {"index": "Chỉ số TT 01/2018 (0–2)", "rating": "Mức hài lòng (1–5)", "comment": "Góp ý"}


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _figure_row(group: str, f: Figure) -> list[Any]:
    return [group, f.label, f.count, _r(f.value), None, _r(f.target), _r(f.gap)]


def _score_rows(group: str, rows: list[Row]) -> list[list[Any]]:
    return [[group, r.label, r.score.n, _r(r.score.share), _r(r.score.mean, 2), None, None] for r in rows]


def summary_rows(report: SipasReport) -> list[list[Any]]:
    """The summary table: one row per figure, grouped; the same rows in CSV and XLSX."""
    rows: list[list[Any]] = [_figure_row("Chỉ tiêu chính", f) for f in report.headline]
    rows += _score_rows("Theo yếu tố SIPAS", report.by_factor)
    rows += _score_rows("Theo câu hỏi", report.by_question)
    rows += _score_rows("Theo cơ quan", report.by_agency)
    rows += _score_rows("Theo lĩnh vực", report.by_field)
    rows += _score_rows("Theo kênh", report.by_channel)
    rows += _score_rows("Theo loại việc", report.by_case_type)
    rows += _score_rows("Theo tháng", report.by_month)
    for ix in report.indices:
        rows.append(["Chỉ số TT 01/2018 (điểm/hồ sơ, tối đa 2)", f"({ix.index}) {ix.label}", ix.n, None,
                     _r(ix.mean_points, 2), None, None])
    for g in report.grades:
        rows.append(["Xếp loại TT 01/2018 (ước tính trên 18 điểm)", f"{g.agency}: {g.band}", g.dossiers,
                     None, _r(g.estimated_total, 2), None, None])
    p = report.pakn
    rows.append(["PAKN", "Số PAKN đã trả lời", p.answered, None, None, None, None])
    rows.append(["PAKN", "Thời gian trả lời trung bình (ngày)", p.answered, None, _r(p.mean_days, 1), None, None])
    rows.append(["PAKN", "Thời gian trả lời trung vị (ngày)", p.answered, None, _r(p.median_days, 1), None, None])
    r = report.response
    for label, n in (("Số việc đã giải quyết", r.resolved), ("Số khảo sát đã xếp lịch", r.queued),
                     ("Số khảo sát đã gửi tới người dân", r.reached), ("Số khảo sát có trả lời", r.answered),
                     ("Số khảo sát trả lời đủ", r.completed), ("Số người từ chối khảo sát", r.opted_out)):
        rows.append(["Khảo sát", label, n, None, None, None, None])
    rows.append(["Khảo sát", "Tỷ lệ trả lời đủ", r.reached, _r(r.completion), None, None, None])
    return rows


def raw_rows(report: SipasReport, tz: ZoneInfo) -> Iterator[list[Any]]:
    for a in report.answers:
        yield [
            a.survey_id, CASE_LABELS.get(a.case_type, a.case_type), a.case_id, a.agency, a.field,
            a.procedure_code, CHANNEL_LABELS.get(a.channel, a.channel),
            a.resolved_at.astimezone(tz).strftime("%d/%m/%Y"), a.question_no, a.question_key,
            report.question_texts.get(a.question_key, ""), KIND_LABELS.get(a.kind, a.kind),
            report.factor_names.get(a.factor, a.factor), a.value, mask_pii(a.text or "") or None,
            a.answered_at.astimezone(tz).strftime("%d/%m/%Y %H:%M")]


def title_lines(report: SipasReport) -> list[str]:
    return ["BÁO CÁO KẾT QUẢ KHẢO SÁT MỨC ĐỘ HÀI LÒNG (SIPAS)",
            f"Từ ngày {report.start:%d/%m/%Y} đến ngày {report.end:%d/%m/%Y}",
            f"Cơ quan: {report.agency or 'Tất cả'}"]


# What a spreadsheet takes for the start of a formula: free text (a citizen's comment, an
# agency name) must never run as one when staff open the file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_START)


def write_csv(report: SipasReport, path: str | Path) -> Path:
    p = Path(path)
    with p.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        for line in title_lines(report):
            w.writerow([line])
        w.writerow([])
        w.writerow(SUMMARY_HEADER)
        w.writerows([["" if v is None else ("'" + v if _is_formula_like(v) else v) for v in row]
                     for row in summary_rows(report)])
    return p


def write_xlsx(report: SipasReport, path: str | Path, tz: ZoneInfo) -> Path:
    """Write-only workbook: rows stream to the file, so a year of answers stays small."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")

    def styled(ws, value, **style):
        cell = WriteOnlyCell(ws, value=value)
        for k, v in style.items():
            setattr(cell, k, v)
        return cell

    def safe(ws, row: list[Any]) -> list[Any]:
        out = []
        for value in row:
            if _is_formula_like(value):
                value = WriteOnlyCell(ws, value=value)
                value.data_type = "s"  # text, not a formula
            out.append(value)
        return out

    ws = wb.create_sheet("Tổng hợp")
    for col, width in enumerate((34, 60, 11, 11, 15, 13, 18), start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    lines = title_lines(report)
    ws.freeze_panes = f"A{len(lines) + 3}"
    for i, line in enumerate(lines):
        ws.append([styled(ws, line, font=Font(bold=(i == 0), size=13 if i == 0 else 11))])
    ws.append([])
    ws.append([styled(ws, name, font=bold, fill=fill, alignment=Alignment(wrap_text=True, vertical="center"))
               for name in SUMMARY_HEADER])
    for row in summary_rows(report):
        ws.append(safe(ws, row))

    raw = wb.create_sheet("Câu trả lời")
    for col, width in enumerate((11, 18, 26, 16, 22, 14, 12, 14, 8, 18, 50, 20, 26, 7, 40, 17), start=1):
        raw.column_dimensions[get_column_letter(col)].width = width
    raw.freeze_panes = "A2"
    raw.append([styled(raw, name, font=bold, fill=fill) for name in RAW_HEADER])
    for row in raw_rows(report, tz):
        raw.append(safe(raw, row))
    p = Path(path)
    wb.save(p)
    return p
