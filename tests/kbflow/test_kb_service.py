"""Knowledge base in the database: imports (idempotent, atomic per file), seeding, rebuilds."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.clock import ManualClock
from kb.canonical import load_bundled
from kb.service import KnowledgeBase, import_paths
from storage.db import Database
from storage.repos.kb import ProcedureRepo
from tests.conftest import ROOT, cli_env, shared_data

NOW = datetime(2026, 11, 2, 3, 0, tzinfo=timezone.utc)

DETAIL = """\
- code: "1.001193"
  name: "Đăng ký khai sinh"
  level: "Cấp xã"
  field: "Hộ tịch"
  implementing_agency: "Ủy ban nhân dân cấp xã"
  channels:
    - channel: "Trực tiếp"
      time: "01 ngày làm việc"
      fee: "Miễn lệ phí"
  documents:
    - name: "Tờ khai đăng ký khai sinh"
      copies: "Bản chính: 1"
  keywords: ["làm giấy khai sinh"]
"""


@pytest.fixture
async def db(db_url):
    database = Database(db_url)
    yield database
    await database.dispose()


async def stored(db, code):
    async with db.unit_of_work() as uow:
        return await uow.repo(ProcedureRepo).get(code)


async def test_import_is_idempotent_and_updates(db, tmp_path):
    f = tmp_path / "kb.yaml"
    f.write_text(DETAIL, encoding="utf-8")
    [first] = await import_paths(db, [f], NOW)
    assert (first.added, first.updated, first.unchanged, first.error) == (1, 0, 0, "")
    [again] = await import_paths(db, [f], NOW)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    f.write_text(DETAIL.replace("Miễn lệ phí", "Miễn lệ phí khi đăng ký đúng hạn"), encoding="utf-8")
    [changed] = await import_paths(db, [f], NOW)
    assert (changed.added, changed.updated) == (0, 1)
    assert (await stored(db, "1.001193")).channels[0].fee == "Miễn lệ phí khi đăng ký đúng hạn"
    async with db.unit_of_work() as uow:
        assert await uow.repo(ProcedureRepo).version() == 2


async def test_catalogue_row_merges_into_details_without_losing_them(db, tmp_path):
    detail = tmp_path / "kb.yaml"
    detail.write_text(DETAIL, encoding="utf-8")
    await import_paths(db, [detail], NOW)
    catalogue = tmp_path / "catalog.csv"
    catalogue.write_text("Mã thủ tục,Tên thủ tục,Lĩnh vực,Cơ quan thực hiện,Mức độ\n"
                         "1.001193.H36,Đăng ký khai sinh,Hộ tịch,UBND cấp xã,Toàn trình\n", encoding="utf-8")
    [rep] = await import_paths(db, [catalogue], NOW)
    assert rep.error == "" and rep.updated == 1
    p = await stored(db, "1.001193")
    assert p.documents and p.channels  # kept
    assert p.online_level == "toan_trinh" and "1.001193.H36" in p.local_codes


async def test_bad_rows_reported_and_broken_file_imports_nothing(db, tmp_path):
    rows = tmp_path / "kb.jsonl"
    rows.write_text(json.dumps({"code": "1.001193", "name": "Đăng ký khai sinh"}, ensure_ascii=False) + "\n"
                    + json.dumps({"code": "abc", "name": "x"}) + "\n"
                    + json.dumps({"code": "1.000001", "name": ""}) + "\n", encoding="utf-8")
    [rep] = await import_paths(db, [rows], NOW)
    assert rep.added == 1 and len(rep.skipped) == 2
    assert [e.line for e in rep.skipped] == [2, 3]
    assert all(e.reason for e in rep.skipped)

    broken = tmp_path / "portal.jsonl.gz"
    good = shared_data("tthc-national-portal-2026.jsonl.gz").read_bytes()
    broken.write_bytes(good[: len(good) // 2])  # a truncated download
    [rep] = await import_paths(db, [broken], NOW)
    assert rep.error and rep.added == 0
    async with db.unit_of_work() as uow:
        assert await uow.repo(ProcedureRepo).count() == 1


async def test_bundled_seed_once_and_rebuild_on_version_change(db, tmp_path):
    clock = ManualClock(NOW)
    one, two = KnowledgeBase(db, clock), KnowledgeBase(db, clock)
    assert await one.ensure_seeded() >= 150
    assert await two.ensure_seeded() == 0
    assert await one.refresh() and await two.refresh()
    assert len(one) == len(two) >= 150
    assert not await one.refresh()  # nothing changed
    f = tmp_path / "kb.yaml"
    f.write_text(DETAIL.replace("1.001193", "9.999999").replace("Đăng ký khai sinh", "Thủ tục thử nghiệm riêng"),
                 encoding="utf-8")
    await import_paths(db, [f], NOW)  # as if another worker imported
    assert await two.refresh()
    assert two.get("9.999999") is not None and two.search("thu tuc thu nghiem rieng").top.code == "9.999999"


async def test_browsing_fields_follows_the_index(db, tmp_path):
    kb = KnowledgeBase(db, ManualClock(NOW))
    await kb.ensure_seeded()
    await kb.refresh()
    # the configured fields the knowledge base has, in the configured order, accents ignored
    assert [f for f, _ in kb.browse_fields(["dat dai", "Không có lĩnh vực này", "HỘ TỊCH", "Đất đai"])] \
        == ["Đất đai", "Hộ tịch"]
    largest = kb.browse_fields([], limit=3)  # nothing configured: the largest fields
    assert [n for _, n in largest] == sorted((n for _, n in largest), reverse=True)
    ho_tich = kb.in_field("Hộ tịch")
    assert len(ho_tich) == dict(kb.browse_fields(["Hộ tịch"]))["Hộ tịch"]
    levels = ["xã" in p.level.lower() for p in ho_tich]
    assert levels == sorted(levels, reverse=True)  # commune-level procedures first
    f = tmp_path / "kb.yaml"
    f.write_text(DETAIL.replace("1.001193", "9.999998").replace('field: "Hộ tịch"', 'field: "Lĩnh vực thử"'),
                 encoding="utf-8")
    await import_paths(db, [f], NOW)
    await kb.refresh()
    assert [p.code for p in kb.in_field("Lĩnh vực thử")] == ["9.999998"]


def test_bundled_knowledge_base_is_complete():
    procs = load_bundled()
    codes = [p.code for p in procs]
    assert len(procs) >= 150 and len(set(codes)) == len(codes)
    for p in procs:
        missing = [f for f in ("level", "field", "implementing_agency", "where_to_submit", "steps", "channels",
                               "documents", "result", "legal_basis", "updated", "keywords") if not getattr(p, f)]
        assert not missing, f"{p.code} lacks {missing}"
        assert all(ch.channel and (ch.time or ch.fee) for ch in p.channels), p.code
    fields = {p.field for p in procs}
    for needed in ("Hộ tịch", "Đất đai", "Thú y"):
        assert needed in fields


def _cli(*args, cwd, stdin=None):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(), input=stdin, timeout=300)


def test_cli_import_stats_and_search_on_the_same_database(tmp_path):
    data = shared_data("tthc-bqp-2026.jsonl.gz")
    url = f"sqlite:///{tmp_path}/eval.sqlite3"
    imp = _cli("kb", "import", str(data), "--db", url, "--without-bundled", cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr
    # a fresh database without the bundled procedures: every record is new (the former
    # `or "added" in ...` passed on "0 added")
    counts = re.search(r"(\d+) records: (\d+) added, (\d+) updated, (\d+) unchanged", imp.stdout)
    assert counts is not None, imp.stdout
    records, added, updated, unchanged = (int(g) for g in counts.groups())
    assert added >= 200 and added == records and updated == unchanged == 0
    stats = _cli("kb", "stats", "--db", url, cwd=tmp_path)
    assert stats.returncode == 0 and "procedures:" in stats.stdout
    total = int(stats.stdout.split("procedures:")[1].split()[0])
    assert total >= 200
    out = _cli("kb", "search", "--db", url, "--limit", "3", cwd=tmp_path,
               stdin="dang ky nghia vu quan su\n\n1.013124\n")
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["dang ky nghia vu quan su", "1.013124"]
    assert lines[1]["confident"] is True and lines[1]["results"][0]["code"] == "1.013124"
    assert all(set(r) == {"code", "name", "score"} for line in lines for r in line["results"])


def test_cli_import_reports_a_refused_file(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("- code: [unclosed\n", encoding="utf-8")
    proc = _cli("kb", "import", str(bad), "--db", f"sqlite:///{tmp_path}/k.sqlite3", cwd=tmp_path)
    assert proc.returncode == 1 and "NOT IMPORTED" in proc.stdout


ONE_LOCAL = """\
- code: "1.099999.H50"
  name: "Cấp giấy phép khai thác nước mặt quy mô nhỏ của tỉnh"
  level: "Cấp tỉnh"
  field: "Tài nguyên nước"
  implementing_agency: "Sở Nông nghiệp và Môi trường"
"""


def _total(stats_out: str) -> int:
    return int(stats_out.split("procedures:")[1].split()[0])


def test_cli_import_on_a_fresh_database_loads_the_bundled_knowledge_base_first(tmp_path):
    """The bundled knowledge base is the default: on an empty database `kb import` adds the
    file to it, as the bot, `kb stats` and `kb search` see an empty database; otherwise the
    bot, finding the database no longer empty, would never load the bundled procedures."""
    f = tmp_path / "local.yaml"
    f.write_text(ONE_LOCAL, encoding="utf-8")
    bundled = len(load_bundled())
    url = f"sqlite:///{tmp_path}/fresh.sqlite3"
    imp = _cli("kb", "import", str(f), "--db", url, cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr
    assert f"bundled knowledge base loaded first: {bundled} procedures" in imp.stdout
    assert "1 records: 1 added, 0 updated, 0 unchanged, 0 skipped" in imp.stdout
    stats = _cli("kb", "stats", "--db", url, cwd=tmp_path)
    assert _total(stats.stdout) == bundled + 1
    again = _cli("kb", "import", str(f), "--db", url, cwd=tmp_path)  # not empty any more: file only
    assert "bundled" not in again.stdout and "1 unchanged" in again.stdout
    out = _cli("kb", "search", "--db", url, "--json", "đăng ký khai sinh", cwd=tmp_path)
    assert json.loads(out.stdout)["results"], out.stdout
    # a province that wants only its own procedures says so
    own = f"sqlite:///{tmp_path}/own.sqlite3"
    imp = _cli("kb", "import", str(f), "--db", own, "--without-bundled", cwd=tmp_path)
    assert imp.returncode == 0 and "bundled" not in imp.stdout, imp.stderr
    assert _total(_cli("kb", "stats", "--db", own, cwd=tmp_path).stdout) == 1
