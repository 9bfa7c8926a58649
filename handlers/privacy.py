"""The citizen's erasure request: "xóa dữ liệu của tôi" (or ``/xoadulieu``) outside a
form → what will be erased and what is kept → "Đồng ý xóa" erases in the same transaction
(:func:`bot.retention.erase_citizen`); anything else leaves everything as it was.
The help text mentions the phrase."""

from __future__ import annotations

import dataclasses
import re

from bot.messages import Choice, Incoming, Kind
from bot.retention import erase_citizen
from bot.router import CANCEL_CHOICE, MENU_CHOICE, Context, Router
from kb.normalize import fold, tokens

router = Router("privacy")

PHRASES = {"xoa du lieu cua toi", "xoa du lieu", "xoa thong tin cua toi", "/xoadulieu",
           "xoa toan bo du lieu cua toi", "xoa lich su tro chuyen"}
CONFIRM = "prv:erase"

ASK = ("Bạn muốn xóa dữ liệu cá nhân của mình. Sau khi xóa:\n"
       "• Lịch sử trò chuyện, các tin nhắn chờ gửi, việc theo dõi và xác minh hồ sơ của bạn "
       "sẽ bị xóa;\n"
       "• Các phản ánh, kiến nghị và đánh giá đã gửi được giữ lại ở dạng ẩn danh (không còn "
       "tên, số điện thoại) để cơ quan thống kê và trả lời đúng hạn;\n"
       "• Nếu bạn đã chọn không nhận khảo sát, lựa chọn đó vẫn được giữ.\n"
       "Việc xóa không thể hoàn tác. Bạn có đồng ý không?")
DONE = ("Đã xóa dữ liệu cá nhân của bạn. Bạn vẫn có thể tiếp tục sử dụng dịch vụ như một "
        "người dùng mới.")
KEPT = "Dữ liệu của bạn được giữ nguyên."
OFF = "Chức năng xóa dữ liệu trên kênh này chưa được bật. Vui lòng liên hệ {hotline} để được hỗ trợ."


# ... and as citizens put it: "tôi muốn xóa dữ liệu", "hãy xóa hết dữ liệu của tôi đi", "xin xoá
# dữ liệu cá nhân" (folded words). Only the citizen's own data: "xóa đăng ký thường trú" is a procedure.
_REQUEST = re.compile(
    r"^(?:(?:toi|minh|em|chau|xin|hay|cho toi|vui long|lam on|muon|can|yeu cau|de nghi|ban)\s+)*"
    r"(?:xoa|xoa bo|huy)\s+(?:het\s+|toan bo\s+|tat ca\s+)?"
    r"(?:du lieu|thong tin ca nhan|thong tin cua (?:toi|minh|em)|lich su tro chuyen|lich su chat)"
    r"(?:\s+ca nhan)?(?:\s+cua\s+(?:toi|minh|em))?(?:\s+(?:di|giup|toi|voi|nhe|a|duoc khong))*$")


def is_request(text: str) -> bool:
    return fold(text).strip(" .!?") in PHRASES or bool(_REQUEST.match(" ".join(tokens(text))))


@router.fallback(order=1)
async def erase_request(ctx: Context, msg: Incoming) -> bool:
    if not is_request(msg.text):
        return False
    if not ctx.config.privacy.erase_enabled:
        ctx.reply(OFF.format(hotline=ctx.config.contact.hotline), [MENU_CHOICE])
        return True
    ctx.goto("privacy.confirm", {})
    ctx.reply(ASK, [Choice("Đồng ý xóa", CONFIRM), CANCEL_CHOICE])
    return True


@router.state("privacy.confirm")
async def confirm(ctx: Context, msg: Incoming) -> None:
    ctx.end()
    if msg.kind is Kind.CHOICE and msg.choice == CONFIRM:
        erasure = await erase_citizen(ctx.uow, ctx.citizen_id, ctx.now)
        # the rest of this message (the confirmation reply) belongs to the new record
        ctx.identity = dataclasses.replace(ctx.identity, citizen_id=erasure.new_citizen_id)
        ctx.reply(DONE, [MENU_CHOICE])
        return
    ctx.show_menu(KEPT + " " + "Bạn cần hỗ trợ gì?")
