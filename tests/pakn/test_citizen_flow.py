"""The citizen's PAKN form end to end through the real core and router: the in-memory
channel, and the web chat over real HTTP (with the upload endpoint)."""

from __future__ import annotations

import re
from datetime import date

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from storage.models.pakn import PaknAttachment, PaknItem, StaffUser
from storage.repos.pakn import PaknRepo
from tests.conftest import payloads_of, texts_of
from tests.pakn.conftest import CONTENT, file_pakn, pakn_from_the_name, pakn_up_to_the_name

CODE = re.compile(r"PAKN-2611-[23456789A-HJKMNP-Z]{4}")


async def _items(app) -> list[PaknItem]:
    async with app.db.unit_of_work() as uow:
        return list((await uow.session.execute(select(PaknItem).order_by(PaknItem.id))).scalars())


async def test_full_form_is_stored_then_acknowledged_with_code_and_deadline(papp, pchat):
    replies = await file_pakn(pchat.say, pchat.press)
    text = texts_of(replies)
    code = CODE.search(text).group(0)
    # Monday 2/11/2026 09:00 → 15 working days; 24/11 (Ngày Văn hóa Việt Nam) is not one of them.
    assert "23/11/2026" in text and "15 ngày làm việc" in text
    assert f"pakn:l:{code}" in payloads_of(replies)
    [item] = await _items(papp)
    assert (item.code, item.kind, item.subject, item.state) == (code, "phan_anh", "procedure", "new")
    # the bundled knowledge base is loaded: the procedure was picked from its search
    assert (item.procedure_code, item.procedure_name) == ("1.001193", "Thủ tục đăng ký khai sinh")
    assert item.agency_code == "STP" and item.content == CONTENT
    assert (item.full_name, item.phone, item.place) == ("Nguyễn Văn An", "0912345678",
                                                        "Bộ phận một cửa UBND xã Tân Hội")
    assert item.consent_at == papp.services.clock.now()
    assert (item.received_on, item.accept_due, item.forward_due, item.answer_due) == (
        date(2026, 11, 2), date(2026, 11, 4), date(2026, 11, 9), date(2026, 11, 23))
    async with papp.db.unit_of_work() as uow:
        audit = await uow.audit.for_entity("pakn", code)
    assert [a.action for a in audit] == ["pakn.filed"]


async def test_lookup_shows_details_to_the_sender_only(papp, pchat):
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    other = pchat.as_user("u2")
    await other.press("m:pakn_lookup")
    denied = texts_of(await other.say(code.lower()))
    assert "Không tìm thấy" in denied and "Nguyễn" not in denied and "khai sinh" not in denied
    await pchat.press("m:pakn_lookup")
    mine = texts_of(await pchat.say(code))
    assert code in mine and "Mới tiếp nhận" in mine and "23/11/2026" in mine


async def test_summary_can_be_edited_before_sending(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:kien_nghi")
    await pchat.press("pf:s:rule")
    await pchat.press("pf:a:-")
    await pchat.say("Đề nghị bỏ yêu cầu nộp bản sao chứng thực khi đã có dữ liệu dân cư.")
    await pchat.say("xong")
    await pchat.press("pf:skip")
    await pchat.say("tran thi binh")
    await pchat.say("+84 987 654 321")
    await pchat.say("12 Lê Lợi, phường 1")
    await pchat.say("Binh.Tran@Example.vn")
    summary = texts_of(await pchat.press("pf:y"))
    assert "Kiến nghị" in summary and "Trần Thi Binh" not in summary and "Tran Thi Binh" in summary
    assert "0987654321" in summary and "binh.tran@example.vn" in summary
    assert "pf:e:content" in payloads_of(await pchat.press("pf:edit"))
    await pchat.press("pf:e:content")
    back = texts_of(await pchat.say("Đề nghị bỏ yêu cầu nộp bản sao giấy khai sinh khi làm căn cước cho trẻ."))
    assert "kiểm tra lại" in back and "giấy khai sinh khi làm căn cước" in back  # straight back to the summary
    await pchat.press("pf:edit")
    await pchat.press("pf:e:phone")
    bad = texts_of(await pchat.say("12345"))
    assert "Số điện thoại chưa đúng" in bad
    assert "0281234567" not in texts_of(await pchat.say("028 3822 1234"))
    await pchat.press("pf:send")
    [item] = await _items(papp)
    assert item.kind == "kien_nghi" and item.agency_code is None
    assert item.content.startswith("Đề nghị bỏ yêu cầu nộp bản sao giấy khai sinh")
    assert (item.phone, item.address, item.email) == ("02838221234", "12 Lê Lợi, phường 1", "binh.tran@example.vn")


async def test_cancel_midway_stores_nothing(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    await pchat.press("pf:a:SXD")
    await pchat.say(CONTENT)
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.say("Lê Văn Cường")
    replies = await pchat.say("Hủy")
    assert "Đã hủy" in texts_of(replies) and "m:pakn" in payloads_of(replies)
    assert await _items(papp) == []
    # after cancelling, a phone number is just free text again, not an answer to the form
    assert "Số điện thoại" not in texts_of(await pchat.say("0912345678"))


async def test_attachments_checked_for_type_size_and_count(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:other")
    await pchat.press("pf:a:STP")
    early = texts_of(await pchat.send_photo("tg-early"))
    assert "nhập nội dung bằng chữ trước" in early
    await pchat.say(CONTENT)
    gif = texts_of(await pchat.send_photo("tg-gif", mime_type="image/gif", name="anh.gif"))
    assert "không đúng định dạng" in gif and "Đã nhận 0/5" in gif
    big = texts_of(await pchat.send_photo("tg-big", size=25_000_000, name="to.jpg"))
    assert "quá lớn" in big and "10 MB" in big
    for i in range(5):
        ok = texts_of(await pchat.send_photo(f"tg-ok-{i}", name=f"anh{i}.jpg"))
        assert f"Đã nhận {i + 1}/5" in ok
    sixth = texts_of(await pchat.send_photo("tg-6"))
    assert "Đã đủ 5 tệp" in sixth
    await pchat.press("pf:done")
    await pchat.press("pf:skip")
    await pchat.say("Phạm Thị Dung")
    await pchat.say("0903000111")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    summary = texts_of(await pchat.press("pf:y"))
    assert "Tệp đính kèm: 5" in summary
    await pchat.press("pf:send")
    async with papp.db.unit_of_work() as uow:
        refs = [a.ref for a in (await uow.session.execute(select(PaknAttachment))).scalars()]
    assert refs == [f"tg-ok-{i}" for i in range(5)]


async def test_invalid_phone_name_and_anonymity_are_explained(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:other")
    await pchat.press("pf:a:STP")
    await pchat.say(CONTENT)
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    anon = texts_of(await pchat.say("ẩn danh"))
    assert "Nghị định 20/2008" in anon and "ẩn danh không được tiếp nhận" in anon
    assert "Họ tên chưa hợp lệ" in texts_of(await pchat.say("An"))
    assert "Họ tên chưa hợp lệ" in texts_of(await pchat.say("Nguyen Van 123"))
    await pchat.say("Võ Thị Em")
    for bad in ("091234567", "0112345678", "+1 202 555 0199", "số của tôi"):
        assert "Số điện thoại chưa đúng" in texts_of(await pchat.say(bad)), bad
    assert "Địa chỉ liên hệ" in texts_of(await pchat.say("0391234567"))


async def test_no_consent_no_filing(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:other")
    await pchat.press("pf:a:STP")
    await pchat.say(CONTENT)
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.say("Võ Thị Em")
    await pchat.say("0391234567")
    await pchat.press("pf:skip")
    ask = await pchat.press("pf:skip")
    assert "Luật Bảo vệ dữ liệu cá nhân 2025" in texts_of(ask) and "pf:y" in payloads_of(ask)
    refused = await pchat.press("pf:n")
    assert "không tiếp nhận" in texts_of(refused) and "pf:send" not in payloads_of(refused)
    assert "Vui lòng chọn" in texts_of(await pchat.say("gửi luôn đi"))
    await pchat.say("Hủy")
    assert await _items(papp) == []


async def test_complaints_and_denunciations_are_redirected(papp, pchat):
    await pchat.press("m:pakn")
    replies = await pchat.press("pf:k:complaint")
    assert "Luật Khiếu nại" in texts_of(replies) and "m:pakn" not in payloads_of(replies)
    await pchat.press("m:pakn")
    typed = texts_of(await pchat.say("Tôi muốn tố cáo cán bộ xã"))
    assert "không phải là phản ánh" in typed
    # in the content: warned, and may still send it as a PAKN
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    await pchat.press("pf:a:STP")
    warn = await pchat.say("Tôi đã khiếu nại nhiều lần về việc cán bộ hẹn lại hồ sơ mà không ai trả lời.")
    assert "Luật Khiếu nại" in texts_of(warn) and "pf:c:keep" in payloads_of(warn)
    assert "ảnh hoặc tệp" in texts_of(await pchat.press("pf:c:keep"))
    assert await _items(papp) == []


async def test_near_identical_content_within_days_is_a_duplicate(papp, pchat, clock):
    first = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    clock.advance(days=1)
    again = texts_of(await file_pakn(pchat.say, pchat.press, content=CONTENT.replace("5 ngày", "5 ngày!!")))
    assert f"mã {first}" in again and "không tạo phản ánh mới" in again
    assert len(await _items(papp)) == 1
    # different content is a new PAKN; the same content after the window is too
    other = texts_of(await file_pakn(pchat.say, pchat.press, content="Cán bộ tiếp nhận yêu cầu nộp thêm "
                                     "giấy xác nhận cư trú không có trong thủ tục đã công bố."))
    assert CODE.search(other).group(0) != first
    clock.advance(days=papp.config.pakn.duplicate_days + 1)
    later = texts_of(await file_pakn(pchat.say, pchat.press))
    assert "Đã tiếp nhận" in later
    assert len(await _items(papp)) == 3


async def test_a_duplicate_of_an_answered_item_is_not_said_to_be_in_progress(papp, pchat, clock):
    """The existing item may already be answered: the citizen is told its real state, not
    "đang được xử lý"."""
    first = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    async with papp.db.unit_of_work() as uow:
        item = await uow.repo(PaknRepo).by_code(first)
        await uow.repo(PaknRepo).update_item(item.id, state="answered", answer="Đã xử lý.",
                                             answered_at=clock.now())
    clock.advance(days=1)
    again = texts_of(await file_pakn(pchat.say, pchat.press))
    assert f"mã {first}" in again and "không tạo phản ánh mới" in again
    assert "đang được xử lý" not in again and "đã trả lời" in again.lower()
    assert len(await _items(papp)) == 1


async def test_procedure_from_the_knowledge_base_or_as_typed(papp, pchat):
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:procedure")
    offered = await pchat.say("lam giay khai sinh cho con")
    assert payloads_of(offered)[0] == "pf:p:1.001193" and "pf:p:-" in payloads_of(offered)
    assert "Cơ quan" in texts_of(await pchat.say("1"))  # typed number picks the first
    await pchat.say("Hủy")
    # not in the list: what was typed is kept
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:procedure")
    await pchat.say("thủ tục xin giấy phép bắn pháo hoa")
    await pchat.press("pf:p:-")
    await pchat.press("pf:a:STP")
    await pchat.say(CONTENT)
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.say("Nguyễn Văn An")
    await pchat.say("0912345678")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    assert "Thủ tục: thủ tục xin giấy phép bắn pháo hoa" in texts_of(await pchat.press("pf:y"))
    await pchat.press("pf:send")
    # no knowledge base at all (not loaded, or another deployment): a typed code is kept as a code
    papp.services.kb = None
    await pchat.press("m:pakn")
    await pchat.press("pf:k:kien_nghi")
    await pchat.press("pf:s:procedure")
    assert "Cơ quan" in texts_of(await pchat.say("1.004227"))
    items = await _items(papp)
    assert (items[0].procedure_code, items[0].procedure_name) == (None, "thủ tục xin giấy phép bắn pháo hoa")


# -- the web chat over HTTP, with uploads -------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


class WebCitizen:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.after = 0
        self.n = 0

    async def _post(self, body: dict) -> list[dict]:
        self.n += 1
        resp = await self.client.post("/api/chat", json={**body, "id": f"c{self.n}", "after": self.after})
        assert resp.status == 200, await resp.text()
        data = await resp.json()
        self.after = data["last_id"]
        return data["messages"]

    async def say(self, text: str) -> list[dict]:
        return await self._post({"text": text})

    async def press(self, payload: str) -> list[dict]:
        return await self._post({"choice": payload})

    async def upload(self, data: bytes, name: str, content_type: str) -> tuple[int, list[dict]]:
        self.n += 1
        form = aiohttp.FormData()
        form.add_field("id", f"u{self.n}")
        form.add_field("after", str(self.after))
        form.add_field("file", data, filename=name, content_type=content_type)
        resp = await self.client.post("/api/upload", data=form)
        body = await resp.json()
        if resp.status == 200:
            self.after = body["last_id"]
            return resp.status, body["messages"]
        return resp.status, [body]


def _texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", m.get("error", "")) for m in messages)


async def test_web_chat_form_with_uploads(papp, tmp_path):
    async with TestClient(TestServer(papp.web)) as client:
        await client.get("/")  # the session cookie
        web = WebCitizen(client)
        await web.press("m:pakn")
        await web.press("pf:k:phan_anh")
        await web.press("pf:s:official")
        await web.press("pf:a:SXD")
        await web.say(CONTENT)
        status, ok = await web.upload(PNG, "bien-nhan.png", "image/png")
        assert status == 200 and "Đã nhận 1/5" in _texts(ok)
        # claims to be a JPEG but is not an image: refused by its content, nothing saved
        status, fake = await web.upload(b"MZ\x90\x00 not an image" * 10, "anh.jpg", "image/jpeg")
        assert status == 200 and "không đúng định dạng" in _texts(fake)
        limit = papp.config.pakn.max_attachment_bytes
        status, big = await web.upload(PNG + b"\x00" * limit, "to.png", "image/png")
        assert status == 200 and "quá lớn" in _texts(big)
        await web.press("pf:done")
        await web.press("pf:skip")
        await web.say("Đặng Văn Giang")
        await web.say("0977123456")
        await web.press("pf:skip")
        await web.press("pf:skip")
        await web.press("pf:y")
        done = _texts(await web.press("pf:send"))
        code = CODE.search(done).group(0)
    [item] = await _items(papp)
    assert item.code == code and item.channel == "web" and item.agency_code == "SXD"
    async with papp.db.unit_of_work() as uow:
        [att] = list((await uow.session.execute(select(PaknAttachment))).scalars())
    assert att.mime_type == "image/png" and att.size == len(PNG) and att.name == "bien-nhan.png"
    saved = list((tmp_path / "uploads").iterdir())
    assert [p.name for p in saved] == [att.ref.removeprefix("upload:")]
    assert saved[0].read_bytes() == PNG


async def test_upload_without_chat_session_is_refused(papp):
    async with TestClient(TestServer(papp.web)) as client:
        form = aiohttp.FormData()
        form.add_field("file", PNG, filename="a.png", content_type="image/png")
        resp = await client.post("/api/upload", data=form)
        assert resp.status == 400
    async with papp.db.unit_of_work() as uow:
        assert (await uow.session.execute(select(func.count(PaknAttachment.id)))).scalar_one() == 0


async def test_unanswered_items_get_a_progress_message_every_seven_days(papp, pchat, clock):
    """TT 02/2017/TT-VPCP: while unanswered, the sender hears how it stands every 7 days —
    once per period, whoever runs the job and however often; not while the system waits
    for the citizen, nor after the answer."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    other = pchat.as_user("u2")
    other_code = CODE.search(texts_of(await file_pakn(
        other.say, other.press, name="Trần Thị Bình", phone="0987 654 321",
        content="Cán bộ tiếp nhận hồ sơ yêu cầu nộp thêm giấy tờ không có trong quy định thủ tục."))).group(0)
    pakn = papp.services.extras["pakn"]
    now = clock.now()
    async with papp.db.unit_of_work() as uow:  # the second waits for the citizen's information
        admin = StaffUser(username="admin", password_hash="x", role="admin", agency_code=None,
                          full_name="Quản trị", created_at=now)
        uow.session.add(admin)
        await uow.session.flush()
        item = await uow.repo(PaknRepo).by_code(other_code, lock=True)
        await pakn.act(uow, item, "request_info", staff=admin, now=now, text="Xin gửi ảnh giấy hẹn.")
    await papp.services.outbox.drain()
    pchat.pushed.clear()

    async def run_job() -> list[str]:
        await papp.scheduler.run_once("pakn.progress_updates")
        await papp.scheduler.run_once("pakn.progress_updates")  # a second run sends nothing more
        await papp.services.outbox.drain()
        texts = ["\n".join(r.text for r in replies) for _key, replies in pchat.pushed]
        pchat.pushed.clear()
        return [t for t in texts if "đang được giải quyết" in t]  # not the survey after the answer

    clock.advance(days=6, hours=23)
    assert await run_job() == []
    clock.advance(hours=1)  # Monday 9/11, seven days after filing
    [first] = await run_job()
    assert code in first and "02/11/2026" in first and "Thời hạn trả lời: 23/11/2026" in first
    assert other_code not in first
    clock.advance(days=3)
    assert await run_job() == []
    clock.advance(days=4)  # 16/11: the second period
    [second] = await run_job()
    assert code in second and "đã qua" not in second
    clock.advance(days=14)  # 30/11: the answer is overdue; one message, not a backlog of two
    [late] = await run_job()
    assert "Thời hạn trả lời (23/11/2026) đã qua" in late and "xin lỗi" in late
    async with papp.db.unit_of_work() as uow:
        item = await uow.repo(PaknRepo).by_code(code, lock=True)
        admin = (await uow.session.execute(select(StaffUser))).scalar_one()
        await pakn.act(uow, item, "accept", staff=admin, now=clock.now())
        await pakn.act(uow, await uow.repo(PaknRepo).by_code(code, lock=True), "answer", staff=admin,
                       now=clock.now(), text="Sở đã chỉ đạo trả kết quả.")
    await papp.services.outbox.drain()
    pchat.pushed.clear()
    clock.advance(days=7)
    assert await run_job() == []


async def test_progress_messages_can_be_turned_off(make_app, sqlite_url, tmp_path, clock):
    from tests.pakn.conftest import MONDAY_9AM, seed_agencies
    from bot.channels.memory import MemoryChannel
    clock.set(MONDAY_9AM)
    app = make_app(sqlite_url, pakn={"upload_dir": str(tmp_path / "up"), "progress_update_days": 0})
    await seed_agencies(app)
    chat = MemoryChannel(app.core.handle, name="memory")
    app.add_channel(chat)
    await app.start()
    await file_pakn(chat.say, chat.press)
    await app.services.outbox.drain()
    chat.pushed.clear()
    clock.advance(days=8)
    await app.scheduler.run_once("pakn.progress_updates")
    await app.services.outbox.drain()
    assert chat.pushed == []


async def test_free_text_that_wants_to_report_is_offered_the_form_with_its_words(papp, pchat):
    said = "Tôi muốn phản ánh cán bộ bộ phận một cửa xã Tân Hội hẹn trả kết quả khai sinh quá 5 ngày"
    offer = await pchat.say(said)
    assert "Có vẻ bạn muốn phản ánh, kiến nghị" in texts_of(offer)
    assert {"pf:intent:form", "pf:intent:kb"} <= set(payloads_of(offer))
    await pchat.press("pf:intent:form")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    prompt = await pchat.press("pf:a:STP")  # the content step offers what they wrote
    assert "pf:c:keep" in payloads_of(prompt) and said in texts_of(prompt)
    await pchat.press("pf:c:keep")
    await pchat.press("pf:skip")  # attachments
    await pchat.press("pf:skip")  # location
    await pchat.say("Nguyễn Văn An")
    await pchat.say("0912 345 678")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.press("pf:y")
    done = await pchat.press("pf:send")
    code = CODE.search(texts_of(done)).group(0)
    [item] = await _items(papp)
    assert item.code == code and item.content == said and item.subject == "official"


async def test_complaints_are_told_where_they_go_and_may_still_search(papp, pchat):
    offer = texts_of(await pchat.say("toi muon khieu nai quyet dinh thu hoi dat cua xa"))
    assert "Có vẻ bạn muốn phản ánh, kiến nghị" in offer and "Luật Khiếu nại 2011" in offer
    results = await pchat.press("pf:intent:kb")
    assert any(p.startswith("kb:open:") for p in payloads_of(results))


@pytest.mark.parametrize("text", [
    "Cán bộ một cửa nhũng nhiễu, đòi tiền bồi dưỡng mới nhận hồ sơ",
    "xin kiến nghị về việc sửa quy định đăng ký tạm trú",
    "em muốn gửi đơn tố cáo cán bộ địa chính",
    # grievances told as what happened, without the words "phản ánh" / "kiến nghị"
    "Cán bộ một cửa xã yêu cầu tôi nộp thêm bản sao sổ hộ khẩu, hẹn tôi quay lại 3 lần.",
    "ho so dat cua toi qua han 2 thang ma van chua tra ket qua",
    "xã không tiếp nhận hồ sơ của tôi vì bảo thiếu giấy xác nhận",
    "phường đòi giấy tờ ngoài quy định",
    "cán bộ hẹn đi hẹn lại mãi không xong",
    "tôi nộp hồ sơ bảo hiểm xã hội từ tháng 3, rất lâu rồi mà không ai giải quyết, gọi điện không ai nghe máy",
    "chờ 2 tháng nay mà vẫn chưa được trả lời",
])
async def test_reporting_intents(papp, pchat, text):
    assert "Có vẻ bạn muốn phản ánh, kiến nghị" in texts_of(await pchat.say(text))


@pytest.mark.parametrize("text", [
    "thủ tục giải quyết khiếu nại lần đầu",
    "mẫu đơn kiến nghị",
    "đăng ký khai sinh cần giấy tờ gì",
    "muốn phản ánh thì làm thế nào",
    "hồ sơ quá hạn thì làm thế nào",
    "trả kết quả trễ hẹn có được bồi thường không?",
    "đăng ký khai sinh quá hạn",
    "doi tien rach o ngan hang nha nuoc",  # đổi tiền (exchange), not đòi tiền (extortion)
    "nộp hồ sơ bảo hiểm xã hội bao lâu thì được giải quyết",
])
async def test_questions_about_procedures_are_not_mistaken_for_reports(papp, pchat, text):
    assert "Có vẻ bạn muốn phản ánh" not in texts_of(await pchat.say(text))


async def test_what_was_typed_at_the_kind_step_is_kept_for_the_content_step(papp, pchat):
    await pchat.press("m:pakn")
    typed = "Đường ở thôn Nà Sản bị sạt lở, rất nguy hiểm, đề nghị xã sửa chữa sớm."
    again = texts_of(await pchat.say(typed))
    assert "vui lòng chọn một mục" in again and "Bạn muốn gửi" in again
    await pchat.press("pf:k:kien_nghi")
    await pchat.press("pf:s:rule")
    prompt = await pchat.press("pf:a:-")
    assert typed in texts_of(prompt) and "pf:c:keep" in payloads_of(prompt)
    await pchat.press("pf:c:keep")
    await pchat.say("xong")
    await pchat.press("pf:skip")
    await pchat.say("Trần Thị Bình")
    await pchat.say("0987654321")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    summary = texts_of(await pchat.press("pf:y"))
    assert typed in summary


async def test_a_short_unknown_answer_at_the_kind_step_asks_again(papp, pchat):
    await pchat.press("m:pakn")
    again = await pchat.say("ừ")
    assert "Vui lòng chọn một mục trong danh sách" in texts_of(again)
    assert "pf:k:phan_anh" in payloads_of(again) and "pf:c:keep" not in payloads_of(again)


@pytest.mark.parametrize("back", ["press", "quay lại", "quay lai"])
async def test_the_edit_list_goes_back_to_the_summary_without_losing_the_form(papp, pchat, back):
    await file_pakn_to_summary(pchat)
    edit = await pchat.press("pf:edit")
    assert "pf:back" in payloads_of(edit)
    summary = texts_of(await (pchat.press("pf:back") if back == "press" else pchat.say(back)))
    assert "kiểm tra lại" in summary and CONTENT in summary
    assert CODE.search(texts_of(await pchat.press("pf:send")))
    [item] = await _items(papp)
    assert item.content == CONTENT


async def file_pakn_to_summary(pchat) -> None:
    """The whole form up to the summary (file_pakn without the final "Gửi")."""
    sent = []

    async def press(payload):
        if payload == "pf:send":  # stop at the summary
            sent.append(payload)
            return []
        return await pchat.press(payload)

    await file_pakn(pchat.say, press)
    assert sent == ["pf:send"]


LONG_ACCOUNT = ("Tôi muốn phản ánh cán bộ bộ phận một cửa xã Tân Hội. Ngày 02/10 tôi nộp hồ sơ đăng ký "
                "khai sinh cho con, được hẹn trả kết quả sau một ngày làm việc. Đến nay đã quá hẹn năm "
                "ngày, tôi đã quay lại ba lần, lần nào cũng được trả lời là chưa ký, không ai giải thích lý "
                "do, cũng không có phiếu xin lỗi và hẹn lại ngày trả kết quả. Lần thứ ba cán bộ còn yêu cầu "
                "tôi nộp thêm bản sao giấy đăng ký kết hôn có chứng thực, trong khi giấy này không có trong "
                "thành phần hồ sơ đã công bố. Đề nghị xã trả kết quả cho tôi và chấn chỉnh cách làm việc.")


async def test_a_long_account_typed_before_the_form_is_offered_whole(papp, pchat):
    """What a citizen wrote outside the form was kept to 300 characters: "dùng nội dung vừa
    nhập" then filed the start of it."""
    assert len(LONG_ACCOUNT) > 300
    await pchat.say(LONG_ACCOUNT)
    await pchat.press("pf:intent:form")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    prompt = await pchat.press("pf:a:STP")
    assert "pf:c:keep" in payloads_of(prompt) and LONG_ACCOUNT in texts_of(prompt)
    location = await pchat.press("pf:c:keep")  # accepted as the content: on to the next steps
    assert "Nội dung quá" not in texts_of(location) and "pf:skip" in payloads_of(location)


@pytest.mark.parametrize("refusal", ["tôi không muốn cho tên", "xin giấu tên ạ", "Không muốn cung cấp"])
async def test_a_refusal_is_not_taken_as_the_name_or_the_phone(papp, pchat, refusal):
    """"tôi không muốn cho tên" was accepted as the full name "Tôi Không Muốn Cho Tên"."""
    await pakn_up_to_the_name(pchat.say, pchat.press)
    answer = texts_of(await pchat.say(refusal))
    assert "ẩn danh không được tiếp nhận" in answer and "số điện thoại liên hệ" not in answer
    assert "số điện thoại liên hệ" in texts_of(await pchat.say("Nguyễn Văn An"))  # still at the name
    assert "ẩn danh không được tiếp nhận" in texts_of(await pchat.say("tôi không muốn cho số điện thoại"))


async def test_a_description_kept_before_the_choice_is_not_replaced_by_a_shorter_line(papp, pchat):
    await pchat.press("m:pakn")
    kept = await pchat.say(CONTENT)  # typed where the kind is asked: kept for the content step
    assert "đã ghi lại" in texts_of(kept)
    later = await pchat.say("Nguyen Van An 0912345678")  # typed too early: not the account
    assert "đã ghi lại" not in texts_of(later)
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    prompt = await pchat.press("pf:a:STP")
    assert CONTENT in texts_of(prompt) and "0912345678" not in texts_of(prompt)


async def test_a_field_named_at_the_summary_is_asked_at_once(papp, pchat):
    """"cho tôi sửa số điện thoại" at the summary only got "Phản ánh chưa được gửi" (for a kiến nghị too)."""
    await pakn_up_to_the_name(pchat.say, pchat.press, kind="kien_nghi")
    await pchat.say("Nguyễn Văn An")
    await pchat.say("0912 345 678")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.press("pf:y")
    unclear = texts_of(await pchat.say("không biết nữa"))
    assert unclear.startswith("Kiến nghị chưa được gửi")
    asked = texts_of(await pchat.say("cho tôi sửa số điện thoại"))
    assert "Vui lòng nhập số điện thoại" in asked
    summary = texts_of(await pchat.say("0987 654 321"))
    assert "kiểm tra lại" in summary and "Điện thoại: 0987654321" in summary
    assert "Vui lòng nhập địa chỉ" not in summary


async def test_asking_for_staff_again_or_never_mind_files_no_question(papp, pchat):
    """At the question prompt "gặp nhân viên" and "bỏ qua" were filed as questions for staff."""
    await pchat.press("m:ask_staff")
    for typed in ("gặp nhân viên", "có ai không"):
        again = texts_of(await pchat.say(typed))
        assert "nhập nội dung cần hỏi" in again and "Đã chuyển" not in again
    dropped = await pchat.say("bỏ qua")
    assert "chưa được gửi" in texts_of(dropped) and "m:ask_staff" in payloads_of(dropped)
    await pchat.press("m:ask_staff")
    assert "chưa được gửi" in texts_of(await pchat.say("cảm ơn"))
    assert await _items(papp) == []
    await pchat.press("m:ask_staff")  # a real question still goes, however it starts
    assert "Đã chuyển câu hỏi" in texts_of(await pchat.say("Cho gặp cán bộ hỏi về tách thửa đất nông nghiệp"))
    [item] = await _items(papp)
    assert item.kind == "question" and "tách thửa" in item.content


async def test_a_long_question_the_search_could_not_answer_reaches_staff_whole(papp, pchat):
    question = ("Xin hỏi cán bộ: " + "gia đình tôi có ao làng nuôi cá rồng và cá koi, " * 12).strip()
    assert 300 < len(question) <= papp.config.pakn.content_max_chars
    await pchat.press("m:kb")
    await pchat.say(question)
    offer = await pchat.press("kb:ask:")
    assert "pf:ask:prev" in payloads_of(offer)
    await pchat.press("pf:ask:prev")
    [item] = await _items(papp)
    assert item.kind == "question" and item.content == question


async def test_a_question_over_the_limit_is_refused_with_its_length_not_cut(papp, pchat):
    limit = papp.config.pakn.content_max_chars
    await pchat.press("m:ask_staff")
    refused = texts_of(await pchat.say("Xin hỏi " + "a" * limit))
    assert f"Câu hỏi quá dài ({limit + 8} ký tự, tối đa {limit})" in refused
    assert await _items(papp) == []


async def test_information_over_the_limit_is_refused_with_its_length(papp, pchat, clock):
    """A long answer to "Bổ sung thông tin" was told "Vui lòng nhập nội dung bổ sung bằng chữ"."""
    code = CODE.search(texts_of(await file_pakn(pchat.say, pchat.press))).group(0)
    now = clock.now()
    async with papp.db.unit_of_work() as uow:
        admin = StaffUser(username="admin", password_hash="x", role="admin", agency_code=None,
                          full_name="Quản trị", created_at=now)
        uow.session.add(admin)
        await uow.session.flush()
        item = await uow.repo(PaknRepo).by_code(code, lock=True)
        await papp.services.extras["pakn"].act(uow, item, "request_info", staff=admin, now=now,
                                               text="Xin gửi số biên nhận.")
    await pchat.press(f"pakn:i:{code}")
    limit = papp.config.pakn.content_max_chars
    refused = texts_of(await pchat.say("Số biên nhận " + "1" * limit))
    assert f"Nội dung bổ sung quá dài ({limit + 13} ký tự, tối đa {limit})" in refused
    done = texts_of(await pchat.say("Số biên nhận 000.00.12.H36-261030-0042"))  # still at the step
    assert "Đã gửi thông tin bổ sung" in done


async def test_a_location_sent_at_the_attachments_step_is_kept_as_the_place(papp, pchat):
    """Sent one question early, it was dropped ("Vui lòng gửi ảnh hoặc tệp") and asked for again."""
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:other")
    await pchat.press("pf:a:STP")
    early = texts_of(await pchat.send_location(10.77, 106.70))  # at the content step: text first
    assert "nội dung bằng chữ trước" in early and "vị trí" in early
    await pchat.say(CONTENT)
    await pchat.send_photo("tg-anh-1", name="giay-hen.jpg")
    name_prompt = texts_of(await pchat.send_location(10.77, 106.70))
    assert "họ và tên" in name_prompt  # the location step is answered
    await pchat.say("Nguyễn Văn An")
    await pchat.say("0912 345 678")
    await pchat.press("pf:skip")
    await pchat.press("pf:skip")
    await pchat.press("pf:y")
    await pchat.press("pf:send")
    [item] = await _items(papp)
    assert (item.latitude, item.longitude) == (10.77, 106.70)


async def _form_up_to_the_name(pchat) -> None:
    replies = await pakn_up_to_the_name(pchat.say, pchat.press, kind="kien_nghi")
    assert "họ và tên" in texts_of(replies).lower()


async def test_a_form_left_past_the_idle_timeout_is_offered_back_and_goes_on(papp, pchat):
    await _form_up_to_the_name(pchat)
    papp.services.clock.advance(hours=5)  # gone to look for a paper
    offer = await pchat.say("Nguyễn Văn An")
    assert "Bạn đang soạn dở phản ánh, kiến nghị (lần cuối lúc 09:00 ngày 02/11)" in texts_of(offer)
    assert payloads_of(offer) == ["g:resume", "g:cancel"]
    again = await pchat.say("1")  # typed: the first button
    assert "họ và tên" in texts_of(again).lower()
    assert CODE.search(texts_of(await pakn_from_the_name(pchat.say, pchat.press)))
    [item] = await _items(papp)  # what was typed before the pause is filed
    assert (item.kind, item.agency_code, item.content) == ("kien_nghi", "STP", CONTENT)
    assert item.place == "Bộ phận một cửa UBND xã Tân Hội" and item.full_name == "Nguyễn Văn An"


async def test_something_else_typed_at_the_offer_drops_the_draft_and_is_answered(papp, pchat):
    await _form_up_to_the_name(pchat)
    papp.services.clock.advance(hours=2)
    assert "g:resume" in payloads_of(await pchat.say("xin chào"))
    replies = await pchat.say("cấp lại căn cước")  # moved on: a procedure question
    assert "1.014064" in texts_of(replies) or "kb:open:1.014064" in payloads_of(replies)
    assert "g:resume" not in payloads_of(await pchat.say("menu"))  # the draft is gone
    assert await _items(papp) == []


async def test_the_draft_can_be_dropped_and_is_not_offered_after_the_resume_window(papp, pchat):
    await _form_up_to_the_name(pchat)
    papp.services.clock.advance(hours=1)
    assert "g:resume" in payloads_of(await pchat.say("Nguyễn Văn An"))
    dropped = await pchat.press("g:cancel")  # "Bỏ bản nháp"
    assert "Đã hủy thao tác đang làm" in texts_of(dropped) and "m:pakn" in payloads_of(dropped)
    await _form_up_to_the_name(pchat)
    papp.services.clock.advance(hours=papp.config.conversation.resume_within_hours + 1)
    late = await pchat.say("Nguyễn Văn An")
    assert "g:resume" not in payloads_of(late) and "đã kết thúc" in texts_of(late)


async def test_a_message_pushed_meanwhile_does_not_wipe_the_draft(papp, pchat):
    from bot.messages import Choice, Reply
    from bot.outbox import enqueue

    await _form_up_to_the_name(pchat)
    papp.services.clock.advance(hours=3)
    async with papp.db.unit_of_work() as uow:  # e.g. a dossier status change, with a button
        await enqueue(uow, replies=[Reply("Hồ sơ của bạn đã có kết quả.", (Choice("Menu", "g:menu"),))],
                      kind="test", now=papp.services.clock.now(), key=pchat.key, respect_quiet_hours=False)
    await papp.services.outbox.drain()
    assert "g:resume" in payloads_of(await pchat.say("Nguyễn Văn An"))
    assert "họ và tên" in texts_of(await pchat.press("g:resume")).lower()


@pytest.mark.parametrize("back", ["quay lại", "Quay lai", "trở lại"])
async def test_quay_lai_typed_in_the_form_goes_back_one_step(papp, pchat, back):
    await _form_up_to_the_name(pchat)
    location = texts_of(await pchat.say(back))  # at the name: back to the place
    assert "địa điểm" in location.lower() and "họ và tên" not in location.lower()
    assert "họ và tên" in texts_of(await pchat.say("Bộ phận một cửa UBND xã Tân Hội")).lower()
    assert CODE.search(texts_of(await pakn_from_the_name(pchat.say, pchat.press)))
    [item] = await _items(papp)
    assert item.place == "Bộ phận một cửa UBND xã Tân Hội" and item.content == CONTENT


async def test_quay_lai_at_the_first_step_cancels_and_skips_steps_that_do_not_apply(papp, pchat):
    await pchat.press("m:pakn")
    first = await pchat.say("quay lại")
    assert "Đã hủy thao tác đang làm" in texts_of(first) and "m:pakn" in payloads_of(first)
    await pchat.press("m:pakn")
    await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")  # an official's conduct: no procedure step
    back = await pchat.say("quay lại")  # from the agency step: the subject again, not the procedure
    assert "pf:s:procedure" in payloads_of(back)


@pytest.mark.parametrize("step", ["kind", "subject"])
async def test_a_description_typed_where_a_choice_is_asked_is_kept_for_the_content_step(papp, pchat, step):
    said = "Cán bộ một cửa xã Tân An hẹn trả kết quả sổ đỏ đã quá hai tuần mà vẫn chưa có."
    await pchat.press("m:pakn")
    if step == "subject":
        await pchat.press("pf:k:phan_anh")
    kept = await pchat.say(said)
    assert "Tôi đã ghi lại nội dung bạn vừa nhập" in texts_of(kept)
    if step == "kind":
        await pchat.press("pf:k:phan_anh")
    await pchat.press("pf:s:official")
    offer = await pchat.press("pf:a:STP")
    assert "pf:c:keep" in payloads_of(offer) and said in texts_of(offer)
    await pchat.press("pf:c:keep")
    await pchat.press("pf:skip")  # no attachments
    await pchat.say("Bộ phận một cửa UBND xã Tân An")
    ack = await pakn_from_the_name(pchat.say, pchat.press)
    (item,) = await _items(papp)
    assert item.code in texts_of(ack) and CODE.search(texts_of(ack))
    assert item.content == said and item.subject == "official"


async def test_yes_and_no_typed_at_consent_and_review_act_as_the_buttons(papp, pchat):
    await pakn_up_to_the_name(pchat.say, pchat.press)
    await pchat.say("Nguyễn Văn An")
    await pchat.say("0912 345 678")
    await pchat.press("pf:skip")  # address
    await pchat.press("pf:skip")  # e-mail
    refused = await pchat.say("không")  # consent: "Không đồng ý"
    assert "pf:send" not in payloads_of(refused) and "pf:y" in payloads_of(refused)
    review = await pchat.say("vâng")  # "Đồng ý"
    assert "Vui lòng kiểm tra lại" in texts_of(review) and "pf:send" in payloads_of(review)
    unclear = await pchat.say("để tôi xem lại đã")  # not a yes: nothing sent, the buttons explained
    assert "chưa được gửi" in texts_of(unclear) and "pf:send" in payloads_of(unclear)
    async with papp.db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PaknItem)) == 0
    done = await pchat.say("có")  # "Gửi"
    assert "Đã tiếp nhận" in texts_of(done)
    async with papp.db.unit_of_work() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PaknItem)) == 1
