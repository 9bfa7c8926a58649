"""Report arithmetic on a known set of answers (expectations computed by hand below),
the XLSX and CSV files read back, the CLI."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.surveys.export import RAW_HEADER, SUMMARY_HEADER, write_csv, write_xlsx
from bot.surveys.report import build_report, grade
from tests.surveys.helpers import TZ, local, make_env

START, END = date(2026, 10, 1), date(2026, 11, 30)


async def _answer_all(env, case_id, values):
    s = await env.survey(case_id)
    async with env.app.db.unit_of_work() as uow:
        for n, v in enumerate(values, start=1):
            await env.service.answer(uow, citizen_id=env.citizen_id, survey_id=s.id, number=n, value=v,
                                     now=env.clock.now())


async def _case(env, case_id, at, answers, **kw):
    env.clock.set(at)
    await env.resolve(case_id, **kw)
    survey = await env.survey(case_id)
    if survey.send_at is not None:
        env.clock.set(survey.send_at)
        await env.drain()
        await env.tick()
        await _answer_all(env, case_id, answers)


@pytest.fixture
async def env(make_app, db_url, clock):
    env = await make_env(make_app, db_url, clock)
    # S1: dossier, SXD, Xây dựng, Telegram, October.
    await _case(env, "S1", local(2026, 10, 5), ["2", "1", "2", "2", "5", "4", "3", "5", "s"],
                agency="SXD", field="Xây dựng", channel="telegram")
    # S2: dossier, STP, Hộ tịch, Zalo OA, November; left halfway.
    await _case(env, "S2", local(2026, 11, 10), ["1", "0", "2", "1", "2", "4"],
                agency="STP", field="Hộ tịch", channel="zalo_oa")
    # S3: PAKN, SXD, web, received 10 days before the answer, on time; completed with a comment.
    await _case(env, "S3", local(2026, 11, 12), ["5", "4", "1", "Cán bộ nhiệt tình, gọi tôi 0912345678"],
                case_type="pakn", agency="SXD", channel="web", received_at=local(2026, 11, 2), on_time=True)
    # S4: PAKN, STP, no citizen known, 15 days, late; 23:30 on the last day: in the period.
    await _case(env, "S4", local(2026, 11, 30, 23, 30), [], case_type="pakn", citizen_id=None, agency="STP",
                received_at=local(2026, 11, 15, 23, 30), on_time=False)
    # S5: after the period (00:10 local on 1 December is still 30 November in UTC).
    await _case(env, "S5", local(2026, 12, 1, 0, 10), ["0", "0", "0", "0", "1"], agency="STP")
    return env


async def _report(env, agency=None):
    async with env.app.db.unit_of_work() as uow:
        return await build_report(uow, start=START, end=END, agency=agency,
                                  targets=env.app.config.reports, tz=TZ, with_answers=True)


def _by(rows):
    return {r.key: (r.score.n, round(r.score.share, 2), round(r.score.mean, 3)) for r in rows}


async def test_report_arithmetic(env):
    r = await _report(env)
    # 5-point answers in the period: S1 5,4,3,5 · S2 2,4 · S3 5,4,1 -> 9 answers, 6 satisfied, sum 33.
    overall, pakn_sat, on_time, response = r.headline
    assert (overall.count, round(overall.value, 2), overall.target, round(overall.gap, 2)) == (9, 66.67, 93.0, -26.33)
    assert (pakn_sat.count, round(pakn_sat.value, 2), pakn_sat.target) == (3, 66.67, 92.0)
    assert (on_time.count, on_time.value, on_time.target, on_time.gap) == (2, 50.0, 96.0, -46.0)
    assert (response.count, response.value) == (3, 100.0)
    assert _by(r.by_factor) == {"access": (2, 50.0, 3.5), "procedure": (2, 100.0, 4.0),
                                "officials": (2, 50.0, 4.0), "result": (1, 100.0, 5.0),
                                "feedback": (2, 50.0, 2.5)}
    assert [row.key for row in r.by_factor] == ["access", "procedure", "officials", "result", "feedback"]
    assert _by(r.by_agency) == {"SXD": (7, 71.43, 3.857), "STP": (2, 50.0, 3.0)}
    assert _by(r.by_channel) == {"telegram": (4, 75.0, 4.25), "zalo_oa": (2, 50.0, 3.0), "web": (3, 66.67, 3.333)}
    assert _by(r.by_field) == {"Xây dựng": (4, 75.0, 4.25), "Hộ tịch": (2, 50.0, 3.0), "(chưa rõ)": (3, 66.67, 3.333)}
    assert _by(r.by_month) == {"2026-10": (4, 75.0, 4.25), "2026-11": (5, 60.0, 3.2)}
    assert _by(r.by_case_type) == {"dossier": (6, 66.67, 3.833), "pakn": (3, 66.67, 3.333)}
    assert _by(r.by_question)["sipas_feedback_time"] == (1, 0.0, 1.0)
    # Circular 01/2018 indices (S1, S2): time 2,1 · contacts 1,0 · agencies 2,2 · attitude 2,1.
    assert [(ix.index, ix.n, ix.mean_points) for ix in r.indices] == [(1, 2, 1.5), (3, 2, 0.5), (4, 2, 2.0),
                                                                     (7, 2, 1.5)]
    grades = {g.agency: (g.dossiers, g.subtotal, g.estimated_total, g.band) for g in r.grades}
    assert grades == {"SXD": (1, 7.0, 15.75, "Xuất sắc"), "STP": (1, 4.0, 9.0, "Khá")}
    # PAKN S3 (10 days, on time), S4 (15 days, late).
    assert (r.pakn.answered, r.pakn.on_time, r.pakn.on_time_known) == (2, 1, 2)
    assert (r.pakn.mean_days, r.pakn.median_days) == (12.5, 12.5)
    resp = r.response
    assert (resp.resolved, resp.queued, resp.reached, resp.answered, resp.completed) == (4, 3, 3, 3, 1)
    assert round(resp.completion, 2) == 33.33
    assert len(r.answers) == 9 + 6 + 4  # S5 is outside the period


async def test_report_for_one_agency(env):
    r = await _report(env, agency="STP")
    assert r.headline[0].count == 2 and r.headline[0].value == 50.0
    assert r.pakn.answered == 1 and r.pakn.on_time_share == 0.0
    assert {row.key for row in r.by_agency} == {"STP"}


def test_grade_bands_of_circular_01_2018():
    assert [grade(x) for x in (18, 15, 14.99, 12, 11.9, 9, 8.99, 6, 5.99, 0)] == [
        "Xuất sắc", "Xuất sắc", "Tốt", "Tốt", "Khá", "Khá", "Trung bình", "Trung bình", "Yếu", "Yếu"]


async def test_xlsx_read_back(env, tmp_path):
    r = await _report(env)
    path = write_xlsx(r, tmp_path / "r.xlsx", TZ)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Tổng hợp", "Câu trả lời"]
    ws = wb["Tổng hợp"]
    assert ws["A1"].value.startswith("BÁO CÁO KẾT QUẢ KHẢO SÁT")
    assert ws["A2"].value == "Từ ngày 01/10/2026 đến ngày 30/11/2026"
    assert [c.value for c in ws[5]] == SUMMARY_HEADER
    rows = {(row[0], row[1]): row for row in ws.iter_rows(min_row=6, values_only=True)}
    assert rows[("Chỉ tiêu chính", "Tỷ lệ hài lòng chung")][2:] == (9, 66.7, None, 93, -26.3)
    assert rows[("Chỉ tiêu chính", "Tỷ lệ PAKN giải quyết đúng hạn")][2:] == (2, 50, None, 96, -46)
    assert rows[("Theo cơ quan", "SXD")][2:5] == (7, 71.4, 3.86)
    assert rows[("Xếp loại TT 01/2018 (ước tính trên 18 điểm)", "STP: Khá")][4] == 9
    raw = wb["Câu trả lời"]
    assert [c.value for c in raw[1]] == RAW_HEADER
    data = list(raw.iter_rows(min_row=2, values_only=True))
    assert len(data) == 19
    comment = [row for row in data if row[9] == "comment"]
    assert len(comment) == 1 and comment[0][14] == "Cán bộ nhiệt tình, gọi tôi *******678"
    assert comment[0][1] == "Phản ánh, kiến nghị" and comment[0][7] == "12/11/2026"
    first = data[0]
    assert first[2:8] == ("S1", "SXD", "Xây dựng", None, "Telegram", "05/10/2026") and first[13] == 2


async def test_csv_read_back(env, tmp_path):
    path = write_csv(await _report(env), tmp_path / "r.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the diacritics
    with path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[4] == SUMMARY_HEADER
    assert ["Chỉ tiêu chính", "Tỷ lệ hài lòng chung", "9", "66.7", "", "93.0", "-26.3"] in rows


async def test_cli_writes_the_xlsx(env, db_url, tmp_path, monkeypatch):
    import asyncio

    from bot.cli import main as cli_main

    async def main(argv):  # the command runs its own event loop, as from a shell
        return await asyncio.to_thread(cli_main, argv)

    monkeypatch.delenv("TTHC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bc.xlsx"
    assert await main(["report", "sipas", "--from", "2026-10-01", "--to", "30/11/2026", "--agency", "SXD",
                 "--format", "xlsx", "-o", str(out), "--db", db_url]) == 0
    wb = load_workbook(out)
    assert wb["Tổng hợp"]["A3"].value == "Cơ quan: SXD"
    assert len(list(wb["Câu trả lời"].iter_rows(min_row=2))) == 9 + 4
    assert await main(["report", "sipas", "--from", "2026-10-01", "--to", "2026-11-30", "--format", "csv",
                 "--db", db_url]) == 0
    assert Path(tmp_path / "bao-cao-sipas-20261001-20261130.csv").exists()
    assert await main(["report", "sipas", "--from", "2026-12-01", "--to", "2026-11-30", "--db", db_url]) == 2


async def test_cli_says_so_in_one_line_when_the_file_cannot_be_written(env, db_url, tmp_path, monkeypatch, capsys):
    import asyncio

    from bot.cli import main as cli_main

    monkeypatch.delenv("TTHC_CONFIG", raising=False)
    out = tmp_path / "no-such-folder" / "bc.xlsx"
    assert await asyncio.to_thread(cli_main, ["report", "sipas", "--from", "2026-10-01", "--to", "2026-11-30",
                                              "-o", str(out), "--db", db_url]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: cannot write {out}: No such file or directory"


async def test_a_comment_that_looks_like_a_formula_stays_text_in_the_xlsx(make_app, db_url, clock, tmp_path):
    """A citizen's comment is opened by staff in Excel: "=HYPERLINK(...)" must be shown as
    text, never run as a formula."""
    env = await make_env(make_app, db_url, clock)
    evil = '=HYPERLINK("http://example.invalid/x","Bấm vào đây")'
    await _case(env, "F1", local(2026, 11, 12), ["5", "4", "1", evil], case_type="pakn", agency="SXD",
                channel="web", received_at=local(2026, 11, 2), on_time=True)
    path = write_xlsx(await _report(env), tmp_path / "r.xlsx", TZ)
    raw = load_workbook(path)["Câu trả lời"]
    cells = [row[14] for row in raw.iter_rows(min_row=2) if row[9].value == "comment"]
    assert len(cells) == 1 and cells[0].data_type == "s" and cells[0].value == evil
