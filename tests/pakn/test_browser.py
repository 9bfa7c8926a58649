"""The real thing in a real browser (Debian's headless Chromium driven by Playwright): a
citizen files a PAKN in the web chat with a photo, an officer logs in on a tablet-sized
screen and answers it, and the answer appears in the citizen's chat; an administrator
opens the satisfaction report from the dashboard's navigation."""

from __future__ import annotations

import os
import re

import pytest
from aiohttp.test_utils import TestServer

from tests.pakn.conftest import CONTENT, FAST_HASH, MONDAY_9AM, PASSWORD, seed_agencies, seed_staff

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is missing (apt-get install chromium); browser tests skipped"),
]

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
async def browser():
    playwright = pytest.importorskip("playwright.async_api")
    async with playwright.async_playwright() as pw:
        try:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        except Exception as exc:  # a broken install must say why, not fail obscurely
            pytest.skip(f"cannot start {CHROMIUM}: {exc}")
        try:
            yield chromium
        finally:
            await chromium.close()


async def test_officer_answers_in_the_dashboard_and_the_citizen_sees_it(make_app, sqlite_url, tmp_path, clock,
                                                                      browser):
    clock.set(MONDAY_9AM)
    app = make_app(sqlite_url, pakn={"upload_dir": str(tmp_path / "uploads")}, staff=FAST_HASH,
                   web={"poll_interval_seconds": 1})
    await seed_agencies(app)
    await seed_staff(app)
    photo = tmp_path / "bien-nhan.png"
    photo.write_bytes(PNG)
    async with TestServer(app.web) as server:
        base = str(server.make_url("")).rstrip("/")
        citizen = await (await browser.new_context(viewport={"width": 390, "height": 800})).new_page()
        await citizen.goto(base + "/")
        log = citizen.locator("#log")

        async def click(label: str) -> None:
            await citizen.locator(".choices").last.get_by_role("button", name=label, exact=True).click()

        async def type_(text: str) -> None:
            await citizen.fill("#text", text)
            await citizen.click("#send")

        async def expect_bot(text: str) -> None:
            await log.locator(".msg.bot", has_text=text).last.wait_for(timeout=10000)

        await expect_bot("Xin chào")
        await click("Gửi phản ánh, kiến nghị")
        await expect_bot("Bạn muốn gửi")
        await click("Phản ánh")
        await expect_bot("liên quan đến")
        await click("Thái độ, cách làm việc của cán bộ")
        await expect_bot("Cơ quan, đơn vị")
        await click("Sở Tư pháp")
        await expect_bot("Vui lòng nhập nội dung")
        await type_(CONTENT)
        await expect_bot("tối đa 5 ảnh")
        await citizen.set_input_files("#file", str(photo))
        await expect_bot("Đã nhận 1/5 tệp")
        await click("Xong")
        await expect_bot("Sự việc xảy ra ở đâu")
        await click("Bỏ qua")
        await expect_bot("họ và tên")
        await type_("Nguyễn Văn An")
        await expect_bot("số điện thoại")
        await type_("0912 345 678")
        await expect_bot("Địa chỉ liên hệ")
        await click("Bỏ qua")
        await expect_bot("Thư điện tử")
        await click("Bỏ qua")
        await expect_bot("Luật Bảo vệ dữ liệu cá nhân 2025")
        await click("Đồng ý")
        await expect_bot("kiểm tra lại")
        await click("Gửi")
        await expect_bot("Mã tra cứu")
        code = re.search(r"PAKN-\d{4}-[A-Z0-9]{4}", await log.inner_text()).group(0)

        staff = await (await browser.new_context(viewport={"width": 800, "height": 1280})).new_page()
        await staff.goto(base + "/staff")
        await staff.fill("input[name=username]", "stp")
        await staff.fill("input[name=password]", PASSWORD)
        await staff.click("#login button[type=submit]")
        await staff.locator("table.queue", has_text=code).wait_for()
        await staff.click(f"text={code}")
        await staff.locator("#item", has_text="Nguyễn Văn An").wait_for()
        assert "bien-nhan.png" in await staff.inner_text("#item")
        await staff.click(".action-accept button")
        await staff.locator(".flash", has_text="Đã tiếp nhận").wait_for()
        await staff.fill(".action-answer textarea", "Sở đã làm việc với UBND xã; kết quả sẽ được trả trong ngày mai.")
        await staff.click(".action-answer button")
        await staff.locator("#state", has_text="Đã trả lời").wait_for()

        await app.services.outbox.drain()  # the dispatcher job, run by hand (manual clock)
        await expect_bot("kết quả sẽ được trả trong ngày mai")
        # and the photo the citizen sent is there for staff, not for anyone else
        href = await staff.locator("ul.files a").first.get_attribute("href")
        image = await staff.request.get(base + href)
        assert image.status == 200 and await image.body() == PNG
        anonymous = await browser.new_context()
        assert (await anonymous.request.get(base + href, max_redirects=0)).status == 303


async def test_admin_opens_the_reports_from_the_dashboard(make_app, sqlite_url, clock, browser):
    """The report pages live inside the dashboard: a link asked for before login comes back
    after it, and the navigation goes both ways."""
    from tests.surveys.helpers import local, make_env

    env = await make_env(make_app, sqlite_url, clock, staff=FAST_HASH)
    await seed_agencies(env.app)
    await seed_staff(env.app)
    env.clock.set(local(2026, 11, 3))
    await env.resolve("D-1", agency="STP", channel="memory")
    env.clock.advance(hours=2)
    await env.drain()
    await env.tick()
    survey = await env.survey("D-1")
    for n, v in enumerate(["2", "1", "2", "2", "5", "4"], start=1):  # ratings 5 and 4: 100 % satisfied
        await env.ch.press(f"sv:{survey.id}:{n}:{v}")
    async with TestServer(env.app.web) as server:
        base = str(server.make_url("")).rstrip("/")
        page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
        await page.goto(base + "/staff/bao-cao?from=2026-11-01&to=2026-11-30")
        assert page.url.startswith(base + "/staff/login?next=")
        await page.fill("input[name=username]", "admin")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("#login button[type=submit]")
        headline = page.locator("#headline")
        await headline.wait_for()
        assert page.url == base + "/staff/bao-cao?from=2026-11-01&to=2026-11-30"
        assert "100,0 %" in await headline.inner_text() and "Mục tiêu: 93 %" in await headline.inner_text()
        nav = page.locator("header nav")
        await nav.get_by_role("link", name="Hàng đợi", exact=True).click()  # back to the dashboard's queue
        await page.locator("table.queue").wait_for()
        await nav.get_by_role("link", name="Báo cáo hài lòng").click()  # and to the reports from its navigation
        await headline.wait_for()
        assert page.url == base + "/staff/bao-cao"
        assert "Tỷ lệ hài lòng chung" in await headline.inner_text()
        assert await page.locator("svg.chart").count() == 3
        # the dashboard's stylesheet applies (the CSP allows no inline style)
        assert await headline.evaluate("e => getComputedStyle(e).display") == "grid"
