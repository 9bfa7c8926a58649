"""The web chat in a real browser (Debian's Chromium driven by Playwright; no download)."""

from __future__ import annotations

import os
import shutil

import pytest
from aiohttp.test_utils import TestServer

CHROMIUM = os.environ.get("TTHC_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.browser


@pytest.fixture
async def browser_page():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium): browser tests skipped")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = await browser.new_page(viewport={"width": 390, "height": 800})  # a phone
        yield page
        await browser.close()


async def test_citizen_chats_on_a_phone_sized_page(app, browser_page):
    server = TestServer(app.web, host="127.0.0.1")
    await server.start_server()
    try:
        page = browser_page
        await page.goto(str(server.make_url("/")))
        await page.wait_for_selector(".choices button")
        greeting = await page.locator(".msg.bot").first.inner_text()
        assert "Xin chào" in greeting
        await page.get_by_role("button", name="Tra cứu thủ tục").click()
        await page.locator(".msg.bot", has_text="Bạn muốn tìm thủ tục gì").wait_for()
        await page.fill("#text", "đăng ký khai sinh")
        await page.click("#send")
        await page.locator(".msg.me", has_text="đăng ký khai sinh").wait_for()
        await page.locator(".msg.bot").nth(2).wait_for()
        # an unsure answer lists choices: open the birth registration card
        if not await page.locator(".msg.bot", has_text="Mã thủ tục: 1.001193").count():
            await page.get_by_role("button", name="Thủ tục đăng ký khai sinh", exact=True).click()
        await page.wait_for_selector(".msg.bot >> text=Mã thủ tục: 1.001193")
        # the card's own buttons stay on the page, and they work
        await page.get_by_role("button", name="Hồ sơ cần chuẩn bị").click()
        await page.wait_for_selector(".msg.bot >> text=Tờ khai đăng ký khai sinh")
        # text is rendered as text, never as HTML
        await page.fill("#text", "<img src=x onerror=alert(1)>")
        await page.click("#send")
        await page.wait_for_selector(".msg.me >> text=<img src=x onerror=alert(1)>")
        assert await page.locator("img").count() == 0
    finally:
        await server.close()
