"""The always-there menu entries: how to use the bot, and how to reach a person."""

from __future__ import annotations

from bot.messages import Incoming, Link
from bot.router import MENU_CHOICE, Context, Router

router = Router("menu")

HELP = (
    "Hướng dẫn sử dụng:\n"
    "• Chọn một mục trong menu, hoặc gõ câu hỏi ngắn gọn, có dấu hoặc không dấu "
    "(ví dụ: \"đăng ký khai sinh cần giấy tờ gì\").\n"
    "• Khi có danh sách lựa chọn, bạn có thể bấm nút hoặc gõ số thứ tự.\n"
    "• Gõ \"Hủy\" để dừng việc đang làm, \"Menu\" để quay về menu chính, bất cứ lúc nào.\n"
    "• Thông tin cá nhân bạn cung cấp chỉ dùng để giải quyết yêu cầu của bạn; gõ "
    "\"xóa dữ liệu của tôi\" (khi không làm dở việc gì) để yêu cầu xóa."
)


@router.menu_entry("help", "Hướng dẫn", order=900)
async def show_help(ctx: Context, msg: Incoming) -> None:
    ctx.reply(HELP, [MENU_CHOICE])


@router.menu_entry("contact", "Liên hệ / đường dây nóng", order=910)
async def show_contact(ctx: Context, msg: Incoming) -> None:
    c = ctx.config.contact
    lines = [f"{c.hotline_label}: {c.hotline}"]
    if c.email:
        lines.append(f"Thư điện tử: {c.email}")
    if c.address:
        lines.append(f"Địa chỉ: {c.address}")
    if c.office_hours:
        lines.append(f"Giờ làm việc: {c.office_hours}")
    links = [Link("Cổng dịch vụ công", c.portal_url)] if c.portal_url else []
    ctx.reply(f"Liên hệ {ctx.config.province.name}:\n" + "\n".join(lines), [MENU_CHOICE], links)
