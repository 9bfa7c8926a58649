"""Report pages over real HTTP, inside the staff dashboard: the dashboard's login (and back
to the page asked for), who sees which agency, the report with its charts, the file
download, the outbox page, no personal data."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from yarl import URL

from bot.surveys.charts import bar_chart, line_chart
from tests.pakn.conftest import FAST_HASH, PASSWORD, seed_agencies, seed_staff
from tests.surveys.helpers import local, make_env

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PERIOD = "from=2026-11-01&to=2026-11-30"
COMMENT = "Cán bộ Nguyễn Văn Bình gọi số 0912345678 của tôi để hẹn trả kết quả"


async def _client(env) -> TestClient:
    client = TestClient(TestServer(env.app.web))  # its own cookie jar: one person's browser
    await client.start_server()
    return client


async def _login(client: TestClient, username: str, next_path: str = "") -> str:
    """Log in through the dashboard's form; returns where it sends the browser."""
    page = await client.get("/staff/login" + (f"?next={quote(next_path)}" if next_path else ""))
    form = {"csrf": CSRF.search(await page.text()).group(1), "username": username, "password": PASSWORD}
    if next_path:
        form["next"] = next_path
    resp = await client.post("/staff/login", data=form, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"]


async def _as(env, username: str) -> TestClient:
    client = await _client(env)
    await _login(client, username)
    return client


async def _answer(env, case_id: str, values: list[str], comment: str | None = None) -> None:
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    s = await env.survey(case_id)
    for n, v in enumerate(values, start=1):
        await env.ch.press(f"sv:{s.id}:{n}:{v}")
    if comment is not None:
        await env.ch.say(comment)


@pytest.fixture
async def env(make_app, sqlite_url, clock):
    env = await make_env(make_app, sqlite_url, clock, staff=FAST_HASH)
    await seed_agencies(env.app)  # STP, SXD
    await seed_staff(env.app)  # admin; officers stp (STP) and sxd (SXD)
    env.clock.set(local(2026, 11, 3))
    await env.resolve("D-1", agency="SXD <b>", channel="memory")
    await _answer(env, "D-1", ["2", "1", "2", "2", "5", "4"])
    return env


@pytest.fixture
async def two_agencies(env):
    """D-1 at "SXD <b>" (5 and 4: 100 % satisfied) and D-2 at STP (2, 1, 2, 1: none satisfied)
    with a comment holding a name and a phone number."""
    await env.resolve("D-2", agency="STP", channel="memory")
    await _answer(env, "D-2", ["0", "0", "1", "1", "2", "1", "2", "1", "s"], comment=COMMENT)
    return env


async def test_not_logged_in_goes_to_the_dashboard_login_and_back(env):
    client = await _client(env)
    try:
        asked = f"/staff/bao-cao?{PERIOD}"
        for path in (asked, f"/staff/bao-cao/xuat?{PERIOD}&format=csv", "/staff/bao-cao/gui-tin"):
            r = await client.get(path, allow_redirects=False)
            location = URL(r.headers["Location"])
            assert r.status == 303 and location.path == "/staff/login" and location.query["next"] == path
        # the old temporary pages and their token are gone
        for path in ("/bao-cao", "/bao-cao/dang-nhap", "/staff/bao-cao/dang-nhap"):
            assert (await client.get(path, allow_redirects=False)).status == 404
        r = await client.get("/staff/bao-cao", headers={"Authorization": "Bearer bao-cao-tam-thoi-0123456789"},
                             allow_redirects=False)
        assert r.status == 303
        # the login form carries the page asked for, and the login goes back to it
        page = await client.get("/staff/login?next=" + quote(asked))
        assert f'name="next" value="{asked.replace("&", "&amp;")}"' in await page.text()
        assert await _login(client, "admin", next_path=asked) == asked
        r = await client.get(asked)
        assert r.status == 200 and "Mức độ hài lòng" in await r.text()
        # one login system: the dashboard's cookie (path /staff) and nothing else
        assert {c.key for c in client.session.cookie_jar} <= {"tthc_staff", "tthc_staff_pre"}
        # logging out of the dashboard closes the reports too
        csrf = CSRF.search(await r.text()).group(1)
        await client.post("/staff/logout", data={"csrf": csrf}, allow_redirects=False)
        assert (await client.get(asked, allow_redirects=False)).status == 303
    finally:
        await client.close()


async def test_login_never_sends_the_browser_elsewhere(env):
    for evil in ("https://evil.example/staff", "//evil.example/staff", "/\\evil.example", "/staff/../cong-khai",
                 "/staff/%2e%2e/cong-khai", "/cong-khai", "/staffx"):
        client = await _client(env)
        try:
            assert await _login(client, "admin", next_path=evil) == "/staff", evil
        finally:
            await client.close()


async def test_admin_sees_every_agency_and_may_filter(two_agencies):
    admin = await _as(two_agencies, "admin")
    try:
        r = await admin.get(f"/staff/bao-cao?{PERIOD}")
        html = await r.text()
        assert r.status == 200
        # 5, 4, 2, 1, 2, 1 -> 2 of 6 satisfied = 33.3 %, target 93 %, gap -59.7
        assert "33,3 %" in html and "−59,7 điểm %" in html and "Tính trên 6" in html
        assert "SXD &lt;b&gt;" in html and "<td>STP</td>" in html
        assert '<option value="STP">Sở Tư pháp</option>' in html  # the filter names dashboard agencies
        r = await admin.get(f"/staff/bao-cao?{PERIOD}&agency=STP")
        html = await r.text()
        assert "0,0 %" in html and "Cơ quan: Sở Tư pháp." in html and "<td>SXD &lt;b&gt;</td>" not in html
        r = await admin.get(f"/staff/bao-cao/xuat?{PERIOD}&agency={quote('SXD <b>')}&format=xlsx")
        assert len(list(load_workbook(io.BytesIO(await r.read()))["Câu trả lời"].iter_rows(min_row=2))) == 6
    finally:
        await admin.close()


async def test_officer_sees_only_their_agency(two_agencies):
    officer = await _as(two_agencies, "stp")
    try:
        r = await officer.get(f"/staff/bao-cao?{PERIOD}")
        html = await r.text()
        assert r.status == 200
        # STP only: 2, 1, 2, 1 -> none satisfied, mean 1.5; D-1 at "SXD <b>" is not counted
        assert "0,0 %" in html and "−93,0 điểm %" in html and "Tính trên 4" in html
        assert "Cơ quan: <strong>Sở Tư pháp</strong>" in html and '<select name="agency">' not in html
        assert "SXD" not in html and "Xuất sắc" not in html  # D-1 (graded 15.75 of 18) is not there
        # another agency's figures, on the page or as a file: refused
        for path in (f"/staff/bao-cao?{PERIOD}&agency={quote('SXD <b>')}", "/staff/bao-cao?agency=SXD",
                     f"/staff/bao-cao/xuat?{PERIOD}&agency={quote('SXD <b>')}&format=xlsx",
                     f"/staff/bao-cao/xuat?{PERIOD}&agency=SXD&format=csv"):
            r = await officer.get(path, allow_redirects=False)
            assert r.status == 403 and "cơ quan mình" in await r.text(), path
        # their own agency, named or not, as a file: only their rows
        r = await officer.get(f"/staff/bao-cao/xuat?{PERIOD}&format=xlsx")
        rows = list(load_workbook(io.BytesIO(await r.read()))["Câu trả lời"].iter_rows(min_row=2, values_only=True))
        assert len(rows) == 10 and {row[3] for row in rows} == {"STP"}
        r = await officer.get(f"/staff/bao-cao/xuat?{PERIOD}&agency=STP&format=csv")
        summary = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        by_agency = [row for row in summary if row and row[0] == "Theo cơ quan"]
        assert by_agency == [["Theo cơ quan", "STP", "4", "0.0", "1.5", "", ""]]
        # the outbox spans every agency: administrators only
        assert (await officer.get("/staff/bao-cao/gui-tin", allow_redirects=False)).status == 403
    finally:
        await officer.close()


async def test_report_page_shows_figures_targets_and_charts(env):
    admin = await _as(env, "admin")
    try:
        r = await admin.get(f"/staff/bao-cao?{PERIOD}")
        html = await r.text()
        assert r.status == 200
        assert "style-src 'self'" in r.headers["Content-Security-Policy"] and r.headers["Cache-Control"] == "no-store"
        assert "<style" not in html and "style=" not in html  # the dashboard's stylesheet, no inline CSS
        # 5-point answers: 5 and 4 -> 100 % satisfied, target 93 %, gap +7
        assert "100,0 %" in html and "Mục tiêu: 93 %" in html and "+7,0 điểm %" in html
        assert html.count("<svg") == 3 and 'role="img"' in html
        assert "SXD &lt;b&gt;" in html and "SXD <b>" not in html  # escaped everywhere
        assert "Tiếp cận dịch vụ" in html and "Xuất sắc" in html  # 7/8 -> 15.75 of 18
        r = await admin.get("/staff/bao-cao?from=2026-13-01")
        assert r.status == 200 and "Ngày không hợp lệ" in await r.text()
    finally:
        await admin.close()


async def test_dashboard_and_reports_link_each_other(env):
    admin, officer = await _as(env, "admin"), await _as(env, "stp")
    try:
        queue = await (await admin.get("/staff")).text()
        assert '<a href="/staff/bao-cao">Báo cáo hài lòng</a>' in queue
        assert '<a href="/staff/bao-cao/gui-tin">Hàng đợi tin nhắn</a>' in queue
        report = await (await admin.get("/staff/bao-cao")).text()
        assert '<a href="/staff">Hàng đợi</a>' in report and '<a href="/staff/admin">Quản trị</a>' in report
        assert '/staff/static/dashboard.css' in report
        officer_queue = await (await officer.get("/staff")).text()
        assert '<a href="/staff/bao-cao">Báo cáo hài lòng</a>' in officer_queue
        assert "/staff/bao-cao/gui-tin" not in officer_queue
    finally:
        await admin.close()
        await officer.close()


async def test_download_xlsx_and_csv(env):
    admin = await _as(env, "admin")
    try:
        r = await admin.get(f"/staff/bao-cao/xuat?{PERIOD}&format=xlsx")
        assert r.status == 200 and "bao-cao-sipas-20261101-20261130.xlsx" in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(await r.read()))
        assert len(list(wb["Câu trả lời"].iter_rows(min_row=2))) == 6
        r = await admin.get(f"/staff/bao-cao/xuat?{PERIOD}&format=csv")
        assert r.status == 200 and "Tỷ lệ hài lòng chung" in (await r.read()).decode("utf-8-sig")
        assert (await admin.get("/staff/bao-cao/xuat?format=pdf")).status == 400
    finally:
        await admin.close()


async def test_no_personal_data_on_the_pages(two_agencies):
    admin = await _as(two_agencies, "admin")
    try:
        html = await (await admin.get(f"/staff/bao-cao?{PERIOD}")).text()
        text = (await (await admin.get(f"/staff/bao-cao/xuat?{PERIOD}&format=csv")).read()).decode("utf-8-sig")
        outbox = await (await admin.get("/staff/bao-cao/gui-tin")).text()
        for body in (html, text, outbox):
            assert "0912345678" not in body and "Nguyễn Văn Bình" not in body
        wb = load_workbook(io.BytesIO(await (await admin.get(f"/staff/bao-cao/xuat?{PERIOD}&format=xlsx")).read()))
        comments = [row[14] for row in wb["Câu trả lời"].iter_rows(min_row=2, values_only=True) if row[14]]
        assert len(comments) == 1 and "0912345678" not in comments[0] and "hẹn trả kết quả" in comments[0]
    finally:
        await admin.close()


async def test_outbox_page_shows_queue_rates_and_failures(env):
    env.ch.blocked.add("u1")
    await env.resolve("D-2")
    env.clock.advance(hours=2)
    await env.drain()  # unreachable now
    await env.resolve("D-3")  # queued, due in 2 hours
    admin = await _as(env, "admin")
    try:
        r = await admin.get("/staff/bao-cao/gui-tin")
        html = await r.text()
        assert r.status == 200
        assert "survey_reminder" in html and "unreachable" in html and "channel says unreachable" in html
        assert "Đã gửi trong 1 giờ" in html
    finally:
        await admin.close()


def test_charts_are_valid_accessible_svg():
    svg = bar_chart([("Sở <Xây dựng>", 91.5, 40), ("Sở Tư pháp", None, 0)], title="Theo cơ quan", target=93)
    root = ET.fromstring(str(svg))
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img"
    assert root.find(f"{ns}title").text == "Theo cơ quan"
    desc = root.find(f"{ns}desc").text
    assert "Sở <Xây dựng>: 91,5% (40 câu trả lời)" in desc and "Sở Tư pháp: không có dữ liệu" in desc
    assert "Mục tiêu 93,0%" in desc
    assert len(root.findall(f"{ns}rect")) == 1
    line = ET.fromstring(str(line_chart([("10/2026", 80.0, 5), ("11/2026", 95.0, 7)], title="Xu hướng",
                                        target=93)))
    assert len(line.findall(f"{ns}circle")) == 2 and line.find(f"{ns}polyline") is not None
