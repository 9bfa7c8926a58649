"""Hardening of PAKN and the staff pages: the role x route matrix, hostile content
rendered escaped on the dashboard, the citizen's erasure and the retention purge of PAKN
personal data, and the PAKN gauges of /metrics."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.retention import purge
from storage.models.pakn import PaknItem
from storage.repos.pakn import PaknRepo
from tests.conftest import texts_of
from tests.pakn.conftest import file_pakn, papp, pchat, seed_staff  # noqa: F401  (fixtures)
from tests.pakn.test_dashboard import CODE, StaffBrowser

EVIL = "<script>alert('x')</script><img src=x onerror=alert(1)> quá hạn 5 ngày chưa có kết quả"
OK, REFUSED = "ok", "refused"


@pytest.fixture
async def staff_app(papp, pchat):
    await seed_staff(papp)
    return papp


async def _items(app):
    async with app.db.unit_of_work() as uow:
        return list((await uow.session.execute(select(PaknItem))).scalars())


async def test_each_role_on_each_staff_route(staff_app, pchat):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)  # filed to STP
    routes = {  # path: expected per role (anonymous, officer of STP, officer of SXD, admin)
        "/staff": (REFUSED, OK, OK, OK),
        f"/staff/items/{code}": (REFUSED, OK, REFUSED, OK),
        "/staff/admin": (REFUSED, REFUSED, REFUSED, OK),
        "/staff/bao-cao": (REFUSED, OK, OK, OK),
        "/staff/bao-cao/gui-tin": (REFUSED, REFUSED, REFUSED, OK),
        "/staff/files/1": (REFUSED, REFUSED, REFUSED, REFUSED),  # no such file, for anyone
    }
    async with TestServer(staff_app.web) as server:
        browsers = [StaffBrowser(server) for _ in range(4)]
        try:
            for b, user in zip(browsers[1:], ("stp", "sxd", "admin")):
                assert await b.login(user) in (302, 303)
            for path, expected in routes.items():
                got = []
                for b in browsers:
                    status, _html = await b.get(path)
                    got.append(OK if status == 200 else REFUSED if status in (302, 303, 401, 403, 404) else status)
                assert tuple(got) == expected, (path, got)
            # state-changing admin actions: refused to officers even with their own CSRF token
            token = await browsers[1].csrf("/staff")
            r = await browsers[1].client.post("/staff/admin/users", allow_redirects=False,
                                              data={"csrf": token, "username": "x", "role": "admin"})
            assert r.status in (302, 303, 403)
            status, _ = await browsers[0].get("/staff/admin")
            assert status in (302, 303, 401, 403)
        finally:
            for b in browsers:
                await b.client.close()


async def test_hostile_content_is_escaped_on_the_dashboard(staff_app, pchat):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press, content=EVIL))).group(0)
    async with TestServer(staff_app.web) as server:
        b = StaffBrowser(server)
        try:
            await b.login("admin")
            for path in ("/staff", f"/staff/items/{code}"):
                status, html = await b.get(path)
                assert status == 200
                assert "<script>alert" not in html and "<img src=x" not in html
            assert "&lt;script&gt;" in html  # shown, as text
        finally:
            await b.client.close()
        # the public page: nothing unpublished, nothing unescaped
        async with TestClient(server) as c:
            r = await c.get("/cong-khai")
            assert r.status == 200 and "<script>alert" not in await r.text()


async def test_erasure_anonymises_pakn_and_keeps_the_item(staff_app, pchat):
    await file_pakn(pchat.say, pchat.press)
    [item] = await _items(staff_app)
    old = item.citizen_id
    assert item.full_name and item.phone
    await pchat.say("xóa dữ liệu của tôi")
    assert "Đã xóa dữ liệu cá nhân" in texts_of(await pchat.press("prv:erase"))
    [item] = await _items(staff_app)
    assert item.full_name == "[đã ẩn danh]" and item.phone == "" and item.place is None
    assert item.state == "new" and item.agency_code == "STP"  # still counted and still answered
    assert item.citizen_id != old  # an open item follows the person to the new record


async def test_purge_anonymises_closed_pakn_after_the_retention(staff_app, pchat, clock):
    await file_pakn(pchat.say, pchat.press)
    now = clock.now()
    async with staff_app.db.unit_of_work() as uow:
        [item] = list((await uow.session.execute(select(PaknItem))).scalars())
        item.state, item.closed_at = "closed", now
    counts = await purge(staff_app.db, staff_app.config, now + timedelta(days=30))
    assert counts["pakn_items_anonymised"] == 0
    counts = await purge(staff_app.db, staff_app.config, now + timedelta(days=400))
    assert counts["pakn_items_anonymised"] == 1
    [item] = await _items(staff_app)
    assert item.full_name == "[đã ẩn danh]" and item.code.startswith("PAKN-")


async def test_purge_anonymises_published_and_rejected_pakn_too(staff_app, pchat, clock):
    """Most answered items end "published" and rejected ones "rejected", never closed: the
    retention period applies to them as well, not only to closed items."""
    await file_pakn(pchat.say, pchat.press)
    await file_pakn(pchat.say, pchat.press, content="Bộ phận một cửa phường yêu cầu nộp thêm bản sao "
                                                     "không có trong quy định của thủ tục.")
    await file_pakn(pchat.say, pchat.press, content="Cán bộ tiếp nhận hồ sơ xây dựng hẹn tôi quay lại "
                                                     "ba lần mà không nói rõ thiếu giấy tờ gì.")
    now = clock.now()
    async with staff_app.db.unit_of_work() as uow:
        published, rejected, still_open = sorted((await uow.session.execute(select(PaknItem))).scalars(),
                                                 key=lambda i: i.id)
        published.state, published.published_at, published.updated_at = "published", now, now
        rejected.state, rejected.updated_at = "rejected", now
    counts = await purge(staff_app.db, staff_app.config, now + timedelta(days=30))
    assert counts["pakn_items_anonymised"] == 0
    counts = await purge(staff_app.db, staff_app.config, now + timedelta(days=400))
    assert counts["pakn_items_anonymised"] == 2
    by_id = {i.id: i for i in await _items(staff_app)}
    assert by_id[published.id].full_name == "[đã ẩn danh]" and by_id[published.id].phone == ""
    assert by_id[rejected.id].full_name == "[đã ẩn danh]"
    assert by_id[still_open.id].full_name == "Nguyễn Văn An"  # still being handled: kept


async def test_public_page_after_the_purge_names_no_one(staff_app, pchat, clock):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    now = clock.now()
    async with staff_app.db.unit_of_work() as uow:
        [item] = list((await uow.session.execute(select(PaknItem))).scalars())
        item.state, item.answer, item.answered_at = "published", "Đã chấn chỉnh.", now
        item.published_at, item.updated_at, item.public_summary = now, now, "Nội dung đã che."
    await purge(staff_app.db, staff_app.config, now + timedelta(days=400))
    async with TestClient(TestServer(staff_app.web)) as client:
        page = await (await client.get("/cong-khai")).text()
    assert code in page and "Người gửi: Công dân" in page and "[. " not in page


@pytest.mark.parametrize("how", ["purge", "erasure"])
async def test_the_published_answer_names_no_one_after_the_senders_data_is_gone(staff_app, pchat, clock, how):
    """The public page masks the staff answer with the sender's details when it is shown;
    once the purge or "xóa dữ liệu của tôi" has blanked those details, the answer itself must
    already be masked, or the name staff wrote in it would appear in full."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    now = clock.now()
    async with staff_app.db.unit_of_work() as uow:
        [item] = list((await uow.session.execute(select(PaknItem))).scalars())
        item.state, item.answered_at, item.published_at, item.updated_at = "published", now, now, now
        item.answer = "Kính gửi ông Nguyễn Văn An (0912345678): đã chấn chỉnh; ông An có thể liên hệ lại."
        item.public_summary = "Nội dung đã che."
    if how == "purge":
        await purge(staff_app.db, staff_app.config, now + timedelta(days=400))
    else:
        await pchat.say("xóa dữ liệu của tôi")
        await pchat.press("prv:erase")
    async with TestClient(TestServer(staff_app.web)) as client:
        page = await (await client.get("/cong-khai")).text()
    assert code in page and "đã chấn chỉnh" in page
    for leak in ("Nguyễn Văn An", "ông An", "0912345678"):
        assert leak not in page, leak
    assert "N. V. A." in page


async def test_purge_deletes_upload_files_nobody_refers_to(staff_app, pchat, clock):
    """Web-chat uploads are files on disk: those of anonymised items, of erased citizens and
    of forms never sent go with the purge; a file an item still shows stays."""
    await file_pakn(pchat.say, pchat.press)
    upload_dir = Path(staff_app.config.pakn.upload_dir)
    upload_dir.mkdir(parents=True, exist_ok=True)
    now = clock.now()
    kept, gone, abandoned = (upload_dir / ("k" * 24 + ".jpg"), upload_dir / ("g" * 24 + ".jpg"),
                             upload_dir / ("a" * 24 + ".pdf"))
    foreign = upload_dir / "tthc-bot.sqlite3"  # upload_dir pointed at var/ by mistake: never deleted
    for f in (kept, gone, abandoned, foreign):
        f.write_bytes(b"\xff\xd8\xff data")
        os.utime(f, (now.timestamp(), now.timestamp()))
    fresh = upload_dir / ("f" * 24 + ".png")  # a form being filled in right now
    fresh.write_bytes(b"\x89PNG data")
    later = now + timedelta(days=400)
    os.utime(fresh, (later.timestamp(), later.timestamp()))
    async with staff_app.db.unit_of_work() as uow:
        [item] = list((await uow.session.execute(select(PaknItem))).scalars())
        item.state, item.closed_at, item.updated_at = "closed", now, now
        repo = uow.repo(PaknRepo)
        await repo.add_attachment(item_id=item.id, channel="web", kind="image", ref=f"upload:{gone.name}",
                                  name="a.jpg", mime_type="image/jpeg", size=10, created_at=now)
    await file_pakn(pchat.say, pchat.press, content="Bộ phận một cửa phường yêu cầu nộp thêm bản sao "
                                                     "không có trong quy định của thủ tục.")
    async with staff_app.db.unit_of_work() as uow:
        open_item = max((await uow.session.execute(select(PaknItem))).scalars(), key=lambda i: i.id)
        await uow.repo(PaknRepo).add_attachment(item_id=open_item.id, channel="web", kind="image",
                                                ref=f"upload:{kept.name}", name="b.jpg", mime_type="image/jpeg",
                                                size=10, created_at=now)
    counts = await purge(staff_app.db, staff_app.config, later)
    assert counts["pakn_items_anonymised"] == 1
    assert kept.exists() and fresh.exists() and foreign.exists()
    assert not gone.exists() and not abandoned.exists()
    assert counts["pakn_upload_files"] == 2


def _value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    return float(re.findall(pattern, text)[-1])


async def test_metrics_count_open_pakn_by_state_and_overdue(staff_app, pchat, clock):
    await file_pakn(pchat.say, pchat.press)
    async with TestClient(TestServer(staff_app.web)) as c:
        text = await (await c.get("/metrics")).text()
        assert _value(text, "tthc_pakn_open", 'state="new"') == 1
        assert _value(text, "tthc_pakn_overdue") == 0
        clock.advance(days=10)  # past the 2-working-day acceptance deadline
        text = await (await c.get("/metrics")).text()
        assert _value(text, "tthc_pakn_overdue") == 1
