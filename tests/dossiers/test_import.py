"""``tthc-bot dossiers import``: CSV and XLSX exports with bad rows, idempotent."""

from __future__ import annotations

import asyncio
import csv
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from bot.cli import main
from bot.dossiers.importer import ImportFileError, import_file
from bot.dossiers.model import Status
from bot.dossiers.sources import LocalSource
from storage.db import Database
from storage.repos.dossiers import DossierRecords

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)
HEADER = ["code", "status", "procedure_code", "procedure_name", "agency", "received_at", "due_at",
          "phone", "id_number", "missing_papers", "fees", "supplement_periods", "history", "pickup",
          "apology_new_due_at"]
GOOD = [
    ["000.00.01.H50-261020-0001", "4", "1.001193", "Đăng ký khai sinh", "UBND xã Mẫu", "20/10/2026 08:30",
     "20/11/2026", "0912 345 678", "001088012345", "", "Lệ phí=50.000; Phí bản sao=8000 (đã nộp)", "", 
     "20/10/2026 08:30 | Tiếp nhận hồ sơ | Một cửa\n21/10/2026 09:00 | Thẩm định", "Một cửa xã Mẫu", ""],
    ["000.00.01.h50 261020 0002", "Yêu cầu bổ sung giấy tờ", "1.000894", "Đăng ký kết hôn", "UBND xã Mẫu",
     "2026-10-20T09:00:00+07:00", "2026-10-27", "0987654321", "", "Bản sao CCCD; Giấy xác nhận tình trạng hôn nhân",
     "", "25/10/2026 08:00 - 28/10/2026 10:00; 30/10/2026 08:00 -", "", "", "05/11/2026"],
]
BAD = [
    ["000.00.01.H50-261320-0003", "4", "", "Thủ tục X", "", "20/10/2026", "", "", "", "", "", "", "", "", ""],  # month 13
    ["000.00.01.H50-261020-0004", "xong rồi", "", "Thủ tục X", "", "20/10/2026", "", "", "", "", "", "", "", "", ""],
    ["000.00.01.H50-261020-0005", "4", "", "Thủ tục X", "", "hôm qua", "", "", "", "", "", "", "", "", ""],
    ["000.00.01.H50-261020-0006", "4", "", "", "", "20/10/2026", "", "", "", "", "", "", "", "", ""],  # no name
    ["000.00.01.H50-261020-0007", "4", "", "Thủ tục X", "", "20/10/2026", "", "", "", "", "Lệ phí: năm mươi nghìn", "", "", "", ""],
    ["000.00.01.H50-261020-0001", "9", "", "Trùng mã", "", "20/10/2026", "", "", "", "", "", "", "", "", ""],  # duplicate
]


def write_csv(path: Path, rows, delimiter=",") -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()


async def test_csv_with_bad_rows(db, tmp_path):
    path = write_csv(tmp_path / "export.csv", GOOD + BAD)
    report = await import_file(db, path, TZ, NOW)
    assert (report.inserted, report.updated, report.unchanged) == (2, 0, 0)
    assert [n for n, _ in report.errors] == [4, 5, 6, 7, 8, 9]
    messages = dict(report.errors)
    assert "received" not in messages[4] and "code" in messages[4]
    assert "status" in messages[5] and "received_at" in messages[6] and "procedure_name" in messages[7]
    assert "fees" in messages[8] and "row 2" in messages[9]

    src = LocalSource(db, TZ)
    first = await src.fetch("000.00.01.H50-261020-0001")
    assert first.fees[0].amount == 50000 and first.fees[1].paid and first.fees_due == (first.fees[0],)
    assert [h.step for h in first.history] == ["Tiếp nhận hồ sơ", "Thẩm định"]
    assert first.owned_by("5678") and first.owned_by("001088012345")
    second = await src.fetch("000.00.01.H50-261020-0002")
    assert second.status is Status.SUPPLEMENT_REQUIRED
    assert second.missing_papers == ("Bản sao CCCD", "Giấy xác nhận tình trạng hôn nhân")
    assert len(second.pauses) == 2 and second.pauses[1].end is None
    assert second.apology is not None


async def test_reimport_is_idempotent_and_updates_changes(db, tmp_path):
    path = write_csv(tmp_path / "a.csv", GOOD)
    await import_file(db, path, TZ, NOW)
    again = await import_file(db, path, TZ, NOW)
    assert (again.inserted, again.updated, again.unchanged, again.errors) == (0, 0, 2, [])
    changed = [list(GOOD[0]), GOOD[1]]
    changed[0][1] = "9"
    report = await import_file(db, write_csv(tmp_path / "b.csv", changed, delimiter=";"), TZ, NOW)
    assert (report.updated, report.unchanged) == (1, 1)
    assert (await LocalSource(db, TZ).fetch("000.00.01.H50-261020-0001")).status is Status.DONE


async def test_xlsx_with_numbers_dates_and_bad_rows(db, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["Mã hồ sơ", "Trạng thái", "Tên thủ tục", "Ngày tiếp nhận", "Ngày hẹn trả", "Số CCCD", "Số điện thoại"])
    ws.append(["000.00.01.H50-261020-0011", 4, "Cấp bản sao trích lục", datetime(2026, 10, 20, 8, 0),
               datetime(2026, 10, 23), 1088012345, 912345678])  # leading zeros lost by the spreadsheet
    ws.append(["000.00.01.H50-261020-0012", 15, "Thủ tục Y", datetime(2026, 10, 20), None, None, None])
    ws.append([None, None, None, None, None, None, None])  # blank rows are skipped silently
    wb.save(tmp_path / "export.xlsx")
    report = await import_file(db, tmp_path / "export.xlsx", TZ, NOW)
    assert report.inserted == 1 and [n for n, _ in report.errors] == [3]
    d = await LocalSource(db, TZ).fetch("000.00.01.H50-261020-0011")
    assert d.received_at == datetime(2026, 10, 20, 1, 0, tzinfo=timezone.utc)
    assert d.owned_by("001088012345") is True and d.owned_by("5678") is True


async def test_dry_run_stores_nothing(db, tmp_path):
    report = await import_file(db, write_csv(tmp_path / "a.csv", GOOD), TZ, NOW, dry_run=True)
    assert report.inserted == 2
    async with db.unit_of_work() as uow:
        assert await uow.repo(DossierRecords).count() == 0


async def test_unusable_files(db, tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ImportFileError):
        await import_file(db, tmp_path / "x.txt", TZ, NOW)
    (tmp_path / "h.csv").write_text("ma,trang thai\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="missing required column"):
        await import_file(db, tmp_path / "h.csv", TZ, NOW)
    (tmp_path / "l.csv").write_bytes("code,status\n".encode("utf-16"))
    with pytest.raises(ImportFileError):
        await import_file(db, tmp_path / "l.csv", TZ, NOW)


def test_cli_reports_bad_rows_and_exit_code(sqlite_url, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TTHC_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    path = write_csv(tmp_path / "export.csv", GOOD + BAD[:1])
    assert main(["dossiers", "import", str(path), "--db", sqlite_url]) == 3
    out = capsys.readouterr().out
    assert "2 new, 0 updated, 0 unchanged, 1 bad rows" in out and "row 4: code" in out
    assert main(["dossiers", "import", str(write_csv(tmp_path / "ok.csv", GOOD)), "--db", sqlite_url]) == 0
    assert "0 new, 0 updated, 2 unchanged, 0 bad rows" in capsys.readouterr().out
    assert main(["dossiers", "import", str(tmp_path / "missing.csv"), "--db", sqlite_url]) == 2
