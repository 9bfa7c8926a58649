"""Report pages over real HTTP: temporary token access, the report with its charts, the
file download, the outbox page."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from bot.surveys.charts import bar_chart, line_chart
from tests.surveys.helpers import local, make_env

TOKEN = "bao-cao-tam-thoi-0123456789"


async def _client(env):
    client = TestClient(TestServer(env.app.web))
    await client.start_server()
    return client


@pytest.fixture
async def env(make_app, sqlite_url, clock):
    env = await make_env(make_app, sqlite_url, clock, reports={"access_token": TOKEN})
    env.clock.set(local(2026, 11, 3))
    await env.resolve("D-1", agency="SXD <b>", channel="memory")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    s = await env.survey("D-1")
    for n, v in enumerate(["2", "1", "2", "2", "5", "4"], start=1):
        await env.ch.press(f"sv:{s.id}:{n}:{v}")
    return env


async def test_pages_need_the_token(env):
    client = await _client(env)
    try:
        r = await client.get("/bao-cao", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/bao-cao/dang-nhap"
        r = await client.post("/bao-cao/dang-nhap", data={"token": "sai-ma-truy-cap-000000"}, allow_redirects=False)
        assert r.status == 403 and "Mã truy cập không đúng" in await r.text()
        assert (await client.get("/bao-cao/xuat", allow_redirects=False)).status == 302
        r = await client.post("/bao-cao/dang-nhap", data={"token": TOKEN}, allow_redirects=False)
        assert r.status == 302
        cookie = r.cookies["tthc_bao_cao"]
        assert cookie.value != TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
        r = await client.get("/bao-cao?from=2026-11-01&to=2026-11-30")
        assert r.status == 200
        r = await client.post("/bao-cao/dang-xuat", allow_redirects=False)
        assert r.status == 302
    finally:
        await client.close()


async def test_bearer_token_for_scripts(env):
    client = await _client(env)
    try:
        r = await client.get("/bao-cao", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200
        r = await client.get("/bao-cao", headers={"Authorization": "Bearer nope"}, allow_redirects=False)
        assert r.status == 302
    finally:
        await client.close()


async def test_disabled_without_a_token(make_app, sqlite_url, clock):
    env = await make_env(make_app, sqlite_url, clock)
    client = await _client(env)
    try:
        for path in ("/bao-cao", "/bao-cao/dang-nhap", "/bao-cao/gui-tin"):
            assert (await client.get(path, headers={"Authorization": "Bearer "})).status == 403
    finally:
        await client.close()


async def test_report_page_shows_figures_targets_and_charts(env):
    client = await _client(env)
    try:
        r = await client.get("/bao-cao?from=2026-11-01&to=2026-11-30",
                             headers={"Authorization": f"Bearer {TOKEN}"})
        html = await r.text()
        assert r.status == 200
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        # 5-point answers: 5 and 4 -> 100 % satisfied, target 93 %, gap +7
        assert "100,0 %" in html and "Mục tiêu: 93 %" in html and "+7,0 điểm %" in html
        assert html.count("<svg") == 3 and 'role="img"' in html
        assert "SXD &lt;b&gt;" in html and "SXD <b>" not in html  # escaped everywhere
        assert "Tiếp cận dịch vụ" in html and "Xuất sắc" in html  # 7/8 -> 15.75 of 18
        r = await client.get("/bao-cao?from=2026-13-01", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200 and "Ngày không hợp lệ" in await r.text()
    finally:
        await client.close()


async def test_download_xlsx_and_csv(env):
    client = await _client(env)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        r = await client.get("/bao-cao/xuat?from=2026-11-01&to=2026-11-30&format=xlsx", headers=auth)
        assert r.status == 200 and "bao-cao-sipas-20261101-20261130.xlsx" in r.headers["Content-Disposition"]
        wb = load_workbook(io.BytesIO(await r.read()))
        assert len(list(wb["Câu trả lời"].iter_rows(min_row=2))) == 6
        r = await client.get("/bao-cao/xuat?from=2026-11-01&to=2026-11-30&format=csv", headers=auth)
        assert r.status == 200 and "Tỷ lệ hài lòng chung" in (await r.read()).decode("utf-8-sig")
        assert (await client.get("/bao-cao/xuat?format=pdf", headers=auth)).status == 400
    finally:
        await client.close()


async def test_outbox_page_shows_queue_rates_and_failures(env):
    env.ch.blocked.add("u1")
    await env.resolve("D-2")
    env.clock.advance(hours=2)
    await env.drain()  # unreachable now
    await env.resolve("D-3")  # queued, due in 2 hours
    client = await _client(env)
    try:
        r = await client.get("/bao-cao/gui-tin", headers={"Authorization": f"Bearer {TOKEN}"})
        html = await r.text()
        assert r.status == 200
        assert "survey_reminder" in html and "unreachable" in html and "channel says unreachable" in html
        assert "Đã gửi trong 1 giờ" in html
    finally:
        await client.close()


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
