"""The always-there menu entries: how to use the bot, and how to reach a person."""

from __future__ import annotations

import re

from bot import texts
from bot.messages import Incoming, Kind, Link
from bot.pakn.rules import wants_to_report
from bot.router import MENU_CHOICE, MENU_PREFIX, Context, Router, typed_number
from kb.normalize import content_tokens, tokens

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


# -- a menu entry asked for in so many words ---------------------------------------------
# "tôi muốn hỏi cán bộ", "cho xin số đường dây nóng", "hồ sơ của tôi đến đâu rồi": short free
# text that names what a menu entry does goes to that entry, not to the procedure search
# (which would answer "hỏi cán bộ" with a procedure about *cán bộ xã*). Folded text; a question
# about what a procedure needs ("hồ sơ … gồm những gì") is left to the search.
_INTENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pakn_lookup", re.compile(r"\b(tra cuu|kiem tra|xem|theo doi) (lai )?(phan anh|kien nghi|pakn)\b"
                               r"|\b(phan anh|kien nghi) (cua toi|toi da gui|da gui)\b")),
    ("dossier_follow", re.compile(r"\b(theo doi|dang ky theo doi|nhan thong bao( ve)?) (tinh trang )?ho so\b")),
    ("dossier", re.compile(r"\b(tra cuu|kiem tra|xem) (tinh trang |tien do )?ho so\b"
                           r"|\b(tinh trang|tien do) (giai quyet )?(cua )?ho so\b"
                           r"|\bho so cua toi\b")),
    ("ask_staff", re.compile(r"\b(hoi|gap|noi chuyen voi|lien he voi|ket noi voi|chuyen cho|chuyen sang|"
                             r"can) (mot |voi )?(can bo|nguoi that|nhan vien|tong dai vien|nguoi ho tro|"
                             r"tu van vien|nguoi tu van)\b"
                             r"|^(tu van vien|nguoi that|nhan vien ho tro|co ai (o day |o do |truc )?khong)$"
                             # "gọi lại cho tôi", "liên hệ lại với em": only a person can
                             r"|\b(goi|goi dien|lien he|lien lac) lai (cho |voi )?(toi|minh|em|chau)\b")),
    ("contact", re.compile(r"\b(duong day nong|hotline|so tong dai|so dien thoai (lien he|ho tro|tong dai)|"
                           r"dia chi lien he|thong tin lien he|gio lam viec|lam viec (may gio|gio nao)|"
                           r"may gio (mo cua|lam viec))\b|^(lien he|tong dai)$")),
    ("help", re.compile(r"\b(huong dan su dung|cach su dung|cach dung)( (bot|tro ly|chatbot|dich vu nay))?$"
                        r"|\b(ban lam duoc gi|ban giup duoc gi)\b"
                        r"|^(huong dan|tro giup|help|giup toi voi|giup toi)$"
                        r"|^((toi|minh|em|chau) )?(khong hieu|chua hieu|kho hieu|khong biet dung|"
                        r"khong biet lam sao|khong biet hoi gi)( gi| lam| a| ban oi)?$")),
)
_PROCEDURE_QUESTION = re.compile(r"\b(can chuan bi|gom nhung|giay to gi|can nhung|nhung giay|can gi|"
                                 r"bao gom|thu tuc)\b")
_POLITE = re.compile(r"^(cho (toi|minh|em|chau) (hoi|xin)|toi muon|minh muon|em muon|xin|vui long|lam on|"
                     r"ban oi|ad oi|admin oi|cho hoi)\s+")
_MAX_WORDS = 12  # a longer text is a question, not a menu choice ...
_MAX_WORDS_STAFF = 25  # ... except a question addressed to staff


def menu_intent(text: str) -> str | None:
    """The key of the menu entry a short text asks for, or None."""
    folded = " ".join(tokens(text))
    if not folded or len(folded.split()) > _MAX_WORDS_STAFF or re.search(r"\d{4}", folded):
        return None  # too long, or it holds a code (a dossier's, a PAKN's): other handlers read those
    short = len(folded.split()) <= _MAX_WORDS
    bare = folded
    while (m := _POLITE.match(bare)) is not None:
        bare = bare[m.end():]
    for key, pattern in _INTENTS:
        if not (pattern.search(bare) or pattern.search(folded)):
            continue
        if key == "ask_staff":  # a question for staff may be about a procedure
            # ... but "tôi muốn phản ánh cán bộ …" is a report, not a question for staff
            return None if wants_to_report(text) else key
        return key if short and not _PROCEDURE_QUESTION.search(folded) else None
    return None


def staff_question_in(text: str) -> bool:
    """Whether text that asks for staff also says what about: "cho tôi gặp cán bộ, tôi cần hỏi
    về việc tách thửa" does (it can be sent as the question), "cho em xin gặp người hỗ trợ ạ"
    does not (sending it would give staff nothing to answer)."""
    folded = " ".join(tokens(text))
    m = dict(_INTENTS)["ask_staff"].search(folded)
    if m is None:
        return bool(content_tokens(text))
    rest = folded[:m.start()] + " " + folded[m.end():]
    return len([w for w in content_tokens(rest) if w not in _NOT_A_SUBJECT]) >= 2


_NOT_A_SUBJECT = frozenset("em anh chi chau con minh toi viec gap ho tro giup chut lat".split())


@router.fallback(order=8)
async def asked_menu_entry(ctx: Context, msg: Incoming) -> bool:
    if msg.kind is not Kind.TEXT:
        return False
    key = menu_intent(msg.text)
    if key is None and _is_hotline(msg.text, ctx.config.contact.hotline):
        key = "contact"  # "1022" typed alone: the hotline entry, not a procedure search
    if key is None:
        return False
    handler = ctx.router.find_action(MENU_PREFIX + key)
    if handler is None:
        return False  # no such entry in this deployment
    # a switched-off feature's entry (hidden from the menu) still answers that it is off
    if key == "ask_staff" and staff_question_in(msg.text):
        ctx.data = {"q": msg.text.strip()}  # offered as "Gửi câu hỏi vừa nhập"
    await handler(ctx, msg)
    return True


def _is_hotline(text: str, hotline: str) -> bool:
    digits = re.sub(r"\D", "", hotline or "")
    typed = re.sub(r"[\s.\-]", "", text or "")
    return len(digits) >= 3 and typed == digits


NUMBER_WITHOUT_LIST = ("Vui lòng chọn lại một mục trong danh sách dưới đây "
                       "(bấm nút hoặc gõ số thứ tự), hoặc nhập câu hỏi của bạn.")


DIGITS_ALONE = ("Tôi chưa rõ dãy số bạn gửi dùng để làm gì. Để tra cứu hồ sơ, vui lòng nhập đủ mã hồ sơ "
                "như trên giấy hẹn (ví dụ: {example}); để tìm thủ tục, vui lòng gõ tên thủ tục. "
                "Hoặc chọn một mục dưới đây.")
_DIGITS = re.compile(r"^\+?\d[\d\s\-]{2,}$")  # "123456", "0912 345 678", "001088012345"; not "1.001193"


@router.fallback(order=9)
async def number_without_a_list(ctx: Context, msg: Incoming) -> bool:
    """A bare "2" that matched no button on offer (a first message, a list from before the
    idle timeout, a number beyond the list) shows the menu rather than searching procedures
    for "2". After the surveys' fallback, which reads typed answers. Longer digits alone
    (a phone or ID number, part of a code) are not searched either: the citizen is told
    what the bot can look up, without the number said back."""
    if typed_number(msg) is not None:
        ctx.show_menu(texts.MENU_PROMPT if ctx.replies else NUMBER_WITHOUT_LIST)  # after "phiên đã kết thúc"
        return True
    if msg.kind is Kind.TEXT and _DIGITS.match(msg.text.strip()):
        ctx.show_menu(DIGITS_ALONE.format(example=ctx.config.dossiers.code_example))
        return True
    return False
