"""Phản ánh, kiến nghị (PAKN): the citizen's guided form, tracking, supplying information,
and questions for staff — on every channel.

Form: kind → subject → (procedure) → agency → content → photos/files → place → full name →
phone → (address) → (e-mail) → consent → summary (send / edit / cancel). Each step checks
its answer and says clearly what is wrong; nothing is lost on a bad answer. The item is
stored in the same transaction as the acknowledgement, so a code is never given for
something that was not saved.

For other modules: :func:`ask_staff` turns a citizen's question into a staff question
(same queue, the answer comes back on the citizen's channel); :func:`start_ask` (installed
as ``services.ask_staff``, which the knowledge base's "Hỏi cán bộ" buttons call) asks the
citizen for the question first.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from bot import texts
from bot.messages import Choice, Incoming, Kind, Link, choice_label, clip
from bot.pakn.rules import (
    check_attachment,
    looks_like_complaint,
    wants_to_report,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from bot.pakn.service import KIND_LABELS, STATE_LABELS, SUBJECT_LABELS, PaknService
from bot.router import CANCEL_CHOICE, MENU_CHOICE, Context, Router
from handlers.kb import lookup, small_talk_kind
from handlers.menu import menu_intent, staff_question_in
from kb.normalize import fold
from storage.repos.pakn import PaknRepo

router = Router("pakn")

SKIP = Choice("Bỏ qua", "pf:skip")
DONE = Choice("Xong", "pf:done")
SKIP_WORDS = {"bo qua", "khong", "khong co", "skip", "-"}


def _is_skip(msg: Incoming) -> bool:
    """“Bỏ qua” pressed or typed (an optional step left empty)."""
    return msg.choice == "pf:skip" or (msg.kind is Kind.TEXT and fold(msg.text) in SKIP_WORDS)
DONE_WORDS = {"xong", "het", "da xong", "xong roi"}
ANON_WORDS = {"an danh", "giau ten", "khong muon", "khong cung cap", "khong muon cung cap"}
CODE_RE = re.compile(r"^[A-Z0-9]{1,8}-\d{4}-[A-Z0-9]{4}$")
PROC_CODE_RE = re.compile(r"^\d\.\d{6}(\.[A-Za-z0-9]{1,8})*$")

INTRO = (
    "Phản ánh, kiến nghị là ý kiến của bạn về quy định hành chính hoặc cách cơ quan, cán bộ "
    "giải quyết thủ tục (chậm trễ, gây phiền hà, yêu cầu giấy tờ ngoài quy định…).\n"
    "Theo Nghị định 20/2008/NĐ-CP, phản ánh cần có họ tên và số điện thoại của người gửi; "
    "phản ánh ẩn danh không được tiếp nhận.\n\nBạn muốn gửi:")
NO_ANONYMOUS = (
    "Theo Nghị định 20/2008/NĐ-CP (Điều 7), phản ánh, kiến nghị phải ghi rõ họ tên và cách liên hệ "
    "của người gửi để cơ quan trả lời và xác minh; phản ánh ẩn danh không được tiếp nhận. Thông tin "
    "của bạn chỉ dùng để giải quyết phản ánh và được che khi công khai kết quả.\n"
    "Nếu chỉ cần hỏi thông tin chung, bạn có thể gọi {hotline_label} {hotline}.")
CONSENT = (
    "Đồng ý xử lý dữ liệu cá nhân (Luật Bảo vệ dữ liệu cá nhân 2025): họ tên, số điện thoại, địa chỉ, "
    "thư điện tử và tệp bạn gửi được dùng để tiếp nhận, xác minh, trả lời phản ánh và thống kê; "
    "khi công khai kết quả, thông tin cá nhân được che. Bạn có đồng ý không?")
NO_CONSENT = (
    "Không có sự đồng ý của bạn, cơ quan không thể xử lý thông tin cá nhân nên không tiếp nhận "
    "được phản ánh. Bạn có thể chọn “Đồng ý” để tiếp tục, hoặc “Hủy” — thông tin đã nhập sẽ không "
    "được lưu.")

EDITABLE = [("kind", "Loại"), ("subject", "Nội dung liên quan"), ("agency", "Cơ quan"),
            ("content", "Nội dung"), ("attachments", "Ảnh/tệp"), ("location", "Địa điểm"),
            ("name", "Họ tên"), ("phone", "Điện thoại"), ("address", "Địa chỉ"), ("email", "Thư điện tử")]


def _svc(ctx: Context) -> PaknService:
    return ctx.services.extras["pakn"]


# ---------------------------------------------------------------------------------------
# Starting, and the step machinery
# ---------------------------------------------------------------------------------------


@router.menu_entry("pakn", "Gửi phản ánh, kiến nghị", order=40)
async def start(ctx: Context, msg: Incoming) -> None:
    draft: dict[str, Any] = {"attachments": []}
    offered = str(ctx.data.get("q", "")) if ctx.state == INTENT else ""
    if len(offered.strip()) >= ctx.config.pakn.content_min_chars:
        draft["content_offer"] = offered.strip()  # what they wrote before choosing the form
    ctx.goto("pakn.kind", draft)
    ctx.reply(INTRO, [Choice("Phản ánh", "pf:k:phan_anh"), Choice("Kiến nghị", "pf:k:kien_nghi"),
                      Choice("Khiếu nại, tố cáo", "pf:k:complaint"), CANCEL_CHOICE])


INTENT = "pakn.intent"


@router.fallback(order=30)
async def reporting_intent(ctx: Context, msg: Incoming) -> bool:
    """Free text outside any flow that wants to report something ("tôi muốn phản ánh cán
    bộ xã …", "cán bộ một cửa nhũng nhiễu …"): offer the form rather than procedures —
    and for a khiếu nại / tố cáo say where it goes; the related procedures stay one tap away."""
    if msg.kind is not Kind.TEXT or not wants_to_report(msg.text):
        return False
    ctx.goto(INTENT, {"q": msg.text})  # whole: it may become the content (up to content_max_chars)
    text = ("Có vẻ bạn muốn phản ánh, kiến nghị. Bạn có thể gửi ngay tại đây: chọn “Gửi phản ánh, "
            "kiến nghị”, cơ quan có thẩm quyền sẽ trả lời bạn trong thời hạn quy định.")
    if looks_like_complaint(msg.text):
        text += "\n\nLưu ý: " + ctx.config.pakn.complaint_info
    cfg = ctx.config.pakn
    links = [Link("Hướng dẫn gửi khiếu nại, tố cáo", cfg.complaint_url)] \
        if cfg.complaint_url and looks_like_complaint(msg.text) else []
    ctx.reply(text, [Choice("Gửi phản ánh, kiến nghị", "pf:intent:form"),
                     Choice("Tìm thủ tục liên quan", "pf:intent:kb"), MENU_CHOICE], links)
    return True


@router.state(INTENT)
async def on_intent(ctx: Context, msg: Incoming) -> None:
    """After the offer: "Tìm thủ tục liên quan" searches what they wrote; anything typed is a
    new question."""
    if msg.choice == "pf:intent:form":
        await start(ctx, msg)
        return
    if msg.choice == "pf:intent:kb":
        await lookup(ctx, str(ctx.data.get("q", "")))
        return
    if msg.kind is Kind.TEXT and msg.text.strip():
        await lookup(ctx, msg.text)
        return
    ctx.end()
    ctx.show_menu("Bạn cần hỗ trợ gì?")


STEP_ORDER = ["kind", "subject", "procedure", "agency", "content", "attachments", "location",
              "name", "phone", "address", "email", "consent", "confirm"]


async def _advance(ctx: Context, done_step: str) -> None:
    """Go to the step after ``done_step`` (or back to the summary when editing)."""
    if ctx.data.get("editing"):
        if done_step == "subject" and ctx.data.get("subject") == "procedure" \
                and not (ctx.data.get("procedure_code") or ctx.data.get("procedure_name")):
            await PROMPTS["procedure"](ctx)
            return
        await _confirm_prompt(ctx)
        return
    i = STEP_ORDER.index(done_step) + 1
    while _skipped(ctx, STEP_ORDER[i]):
        i += 1
    await PROMPTS[STEP_ORDER[i]](ctx)


def _skipped(ctx: Context, step: str) -> bool:
    """A step this form passes over: the procedure unless the subject is one, the consent
    once given."""
    return ((step == "procedure" and ctx.data.get("subject") != "procedure")
            or (step == "consent" and bool(ctx.data.get("consent_at"))))


# -- kind --------------------------------------------------------------------------------

async def _kind_prompt(ctx: Context) -> None:
    ctx.goto("pakn.kind")
    ctx.reply("Bạn muốn gửi:", [Choice("Phản ánh", "pf:k:phan_anh"), Choice("Kiến nghị", "pf:k:kien_nghi"),
                                Choice("Khiếu nại, tố cáo", "pf:k:complaint"), CANCEL_CHOICE])


def _redirect_complaint(ctx: Context) -> None:
    cfg = ctx.config.pakn
    links = [Link("Hướng dẫn gửi khiếu nại, tố cáo", cfg.complaint_url)] if cfg.complaint_url else []
    ctx.end()
    ctx.reply("Khiếu nại, tố cáo không phải là phản ánh, kiến nghị.\n" + cfg.complaint_info, [MENU_CHOICE],
              links)


@router.state("pakn.kind")
async def on_kind(ctx: Context, msg: Incoming) -> None:
    choice = msg.choice
    if not choice and msg.kind is Kind.TEXT:
        folded = fold(msg.text)
        if looks_like_complaint(msg.text):
            choice = "pf:k:complaint"
        elif "kien nghi" in folded:
            choice = "pf:k:kien_nghi"
        elif "phan anh" in folded:
            choice = "pf:k:phan_anh"
    if choice == "pf:k:complaint":
        _redirect_complaint(ctx)
        return
    if choice in ("pf:k:phan_anh", "pf:k:kien_nghi"):
        ctx.data["kind"] = choice.rsplit(":", 1)[1]
        await _advance(ctx, "kind")
        return
    _choose_first(ctx, msg)
    await _kind_prompt(ctx)


def _choose_first(ctx: Context, msg: Incoming) -> None:
    """Text typed where a choice is asked (the kind, the subject): a description of what
    happened is kept, offered back at the content step, and the choice asked again."""
    kept = str(ctx.data.get("content_offer") or "")
    if (msg.kind is Kind.TEXT and len(msg.text.strip()) >= ctx.config.pakn.content_min_chars
            and not ctx.data.get("content") and len(msg.text.strip()) > len(kept)):
        # a description already kept is not replaced by a shorter line typed after it (a name
        # and phone number typed too early once took the place of the whole account)
        ctx.data["content_offer"] = msg.text.strip()
        ctx.reply("Tôi đã ghi lại nội dung bạn vừa nhập. Trước hết, vui lòng chọn một mục trong danh sách.")
    else:
        ctx.reply("Vui lòng chọn một mục trong danh sách.")


# -- subject -----------------------------------------------------------------------------

async def _subject_prompt(ctx: Context) -> None:
    ctx.goto("pakn.subject")
    choices = [Choice(label, f"pf:s:{key}") for key, label in SUBJECT_LABELS.items() if key != "question"]
    ctx.reply(f"{KIND_LABELS[ctx.data['kind']]} của bạn liên quan đến:", [*choices, CANCEL_CHOICE])


@router.state("pakn.subject")
async def on_subject(ctx: Context, msg: Incoming) -> None:
    if msg.choice.startswith("pf:s:") and msg.choice[5:] in SUBJECT_LABELS:
        subject = msg.choice[5:]
        if subject != ctx.data.get("subject"):
            ctx.data.pop("procedure_code", None)
            ctx.data.pop("procedure_name", None)
        ctx.data["subject"] = subject
        await _advance(ctx, "subject")
        return
    _choose_first(ctx, msg)
    await _subject_prompt(ctx)


# -- procedure (searched in the knowledge base when it is loaded) ---------------------------

def _kb_search(ctx: Context, text: str) -> list[tuple[str, str]] | None:
    """(code, name) of the best procedures for ``text``; None when no knowledge base is
    loaded (then the typed name or code is kept as it is)."""
    kb = ctx.services.kb
    if kb is None or not len(kb):
        return None
    result = kb.search(text, limit=5)
    hits = result.hits[:1] if result.confident else result.hits  # a clear match: offer just that one
    return [(h.code, h.name) for h in hits if len(f"pf:p:{h.code}".encode()) <= 64]


async def _procedure_prompt(ctx: Context) -> None:
    ctx.goto("pakn.procedure")
    ctx.reply("Vui lòng nhập tên hoặc mã thủ tục hành chính (ví dụ: “đăng ký khai sinh” hoặc 1.001193).",
              [CANCEL_CHOICE])


@router.state("pakn.procedure")
async def on_procedure(ctx: Context, msg: Incoming) -> None:
    hits: dict[str, str] = ctx.data.get("proc_hits", {})
    if msg.choice.startswith("pf:p:"):
        code = msg.choice[5:]
        if code == "-":
            ctx.data["procedure_code"] = None
            ctx.data["procedure_name"] = ctx.data.get("proc_typed", "")
        elif code in hits:
            ctx.data["procedure_code"], ctx.data["procedure_name"] = code, hits[code]
        else:
            await _procedure_prompt(ctx)
            return
        ctx.data.pop("proc_hits", None)
        ctx.data.pop("proc_typed", None)
        await _advance(ctx, "procedure")
        return
    text = " ".join(msg.text.split()) if msg.kind is Kind.TEXT else ""
    if len(text) < 3 or len(text) > 300:
        ctx.reply("Vui lòng nhập tên thủ tục (từ 3 đến 300 ký tự) hoặc mã thủ tục.", [CANCEL_CHOICE])
        return
    found = _kb_search(ctx, text)
    if found is None or not found:  # no knowledge base, or nothing matched: keep what was typed
        is_code = bool(PROC_CODE_RE.match(text))
        ctx.data["procedure_code"] = text if is_code else None
        ctx.data["procedure_name"] = None if is_code else text
        await _advance(ctx, "procedure")
        return
    ctx.data["proc_hits"] = dict(found)
    ctx.data["proc_typed"] = text
    ctx.reply("Bạn muốn nói về thủ tục nào dưới đây?",
              [*(Choice(choice_label(name), f"pf:p:{code}") for code, name in found),
               Choice("Không có trong danh sách", "pf:p:-"), CANCEL_CHOICE])


# -- agency ------------------------------------------------------------------------------

async def _agency_prompt(ctx: Context) -> None:
    agencies = await ctx.uow.repo(PaknRepo).agencies()
    if not agencies:  # none configured: the office's administrators triage everything
        ctx.data["agency_code"] = None
        await _advance(ctx, "agency")
        return
    ctx.goto("pakn.agency")
    choices = [Choice(choice_label(a.name), f"pf:a:{a.code}") for a in agencies[:12]]
    ctx.reply("Cơ quan, đơn vị bạn phản ánh là cơ quan nào? Chọn trong danh sách hoặc gõ tên cơ quan.",
              [*choices, Choice("Không rõ cơ quan", "pf:a:-"), CANCEL_CHOICE])


@router.state("pakn.agency")
async def on_agency(ctx: Context, msg: Incoming) -> None:
    agencies = await ctx.uow.repo(PaknRepo).agencies()
    chosen = None
    if msg.choice == "pf:a:-":
        ctx.data["agency_code"] = None
        await _advance(ctx, "agency")
        return
    if msg.choice.startswith("pf:a:"):
        chosen = next((a for a in agencies if a.code == msg.choice[5:]), None)
    elif msg.kind is Kind.TEXT and len(fold(msg.text)) >= 3:
        typed = fold(msg.text)
        matches = [a for a in agencies if typed in fold(a.name) or typed == fold(a.code)]
        chosen = matches[0] if len(matches) == 1 else None
    if chosen is None:
        ctx.reply("Chưa xác định được cơ quan. Vui lòng chọn trong danh sách, hoặc chọn “Không rõ cơ quan”.")
        await _agency_prompt(ctx)
        return
    ctx.data["agency_code"] = chosen.code
    ctx.data["agency_name"] = chosen.name
    await _advance(ctx, "agency")


# -- content -----------------------------------------------------------------------------

async def _content_prompt(ctx: Context) -> None:
    ctx.goto("pakn.content")
    cfg = ctx.config.pakn
    offer = ctx.data.pop("content_offer", None)
    choices = [CANCEL_CHOICE]
    text = (f"Vui lòng nhập nội dung {KIND_LABELS[ctx.data['kind']].lower()}: sự việc, thời gian, "
            f"địa điểm, mong muốn của bạn (từ {cfg.content_min_chars} đến {cfg.content_max_chars} ký tự).")
    if offer and len(offer) <= cfg.content_max_chars:
        ctx.data["content_pending"] = offer
        text += f"\n\nHoặc dùng nội dung bạn vừa nhập: “{offer}”"
        choices = [Choice("Dùng nội dung vừa nhập", "pf:c:keep"), CANCEL_CHOICE]
    ctx.reply(text, choices)


@router.state("pakn.content")
async def on_content(ctx: Context, msg: Incoming) -> None:
    cfg = ctx.config.pakn
    if msg.choice == "pf:c:keep" and ctx.data.get("content_pending"):
        ctx.data["content"] = ctx.data.pop("content_pending")
        await _advance(ctx, "content")
        return
    if msg.kind is not Kind.TEXT:
        ctx.reply("Vui lòng nhập nội dung bằng chữ trước; ảnh, tệp và vị trí bạn gửi ở các bước sau.",
                  [CANCEL_CHOICE])
        return
    text = msg.text.strip()
    if len(text) < cfg.content_min_chars:
        ctx.reply(f"Nội dung quá ngắn (cần ít nhất {cfg.content_min_chars} ký tự). Vui lòng mô tả rõ hơn "
                  "sự việc.", [CANCEL_CHOICE])
        return
    if _too_long(ctx, text, "Nội dung"):
        return
    if looks_like_complaint(text):
        ctx.data["content_pending"] = text
        ctx.reply("Nội dung của bạn có nhắc đến khiếu nại hoặc tố cáo.\n" + cfg.complaint_info +
                  "\n\nNếu đây là phản ánh về thủ tục hoặc cách giải quyết thủ tục, bạn vẫn có thể gửi.",
                  [Choice("Vẫn gửi phản ánh", "pf:c:keep"), CANCEL_CHOICE],
                  [Link("Hướng dẫn gửi khiếu nại, tố cáo", cfg.complaint_url)] if cfg.complaint_url else [])
        return
    ctx.data.pop("content_pending", None)
    ctx.data["content"] = text
    await _advance(ctx, "content")


def _too_long(ctx: Context, text: str, what: str) -> bool:
    """Text over ``pakn.content_max_chars`` is refused with its length (never cut, never
    answered as if it were not text); the citizen stays at the step."""
    limit = ctx.config.pakn.content_max_chars
    if len(text) <= limit:
        return False
    ctx.reply(f"{what} quá dài ({len(text)} ký tự, tối đa {limit}). Vui lòng rút gọn rồi gửi lại.",
              [CANCEL_CHOICE])
    return True


# -- attachments ---------------------------------------------------------------------------

def _types_text(types: tuple[str, ...]) -> str:
    names = {"image/jpeg": "JPG", "image/png": "PNG", "image/webp": "WEBP", "application/pdf": "PDF",
             "image/heic": "HEIC"}
    return ", ".join(names.get(t, t) for t in types)


async def _attachments_prompt(ctx: Context) -> None:
    cfg = ctx.config.pakn
    if cfg.max_attachments == 0:
        await _advance(ctx, "attachments")
        return
    ctx.goto("pakn.attachments")
    have = len(ctx.data.get("attachments", []))
    ctx.reply(f"Bạn có thể gửi tối đa {cfg.max_attachments} ảnh hoặc tệp ({_types_text(cfg.attachment_types)}, "
              f"mỗi tệp không quá {cfg.max_attachment_bytes // 1_000_000} MB)"
              + (f"; đã nhận {have}" if have else "") + ". Gửi xong bấm “Xong”, hoặc “Bỏ qua”.",
              [DONE if have else SKIP, CANCEL_CHOICE])


def _take_attachments(ctx: Context, msg: Incoming, into: list[dict[str, Any]]) -> list[str]:
    """Check and keep the message's attachments; returns the problems (Vietnamese)."""
    cfg = ctx.config.pakn
    problems = []
    for att in msg.attachments:
        check = check_attachment(att.mime_type, att.size, allowed=cfg.attachment_types,
                                 max_bytes=cfg.max_attachment_bytes, already=len(into),
                                 max_count=cfg.max_attachments)
        label = att.name or "Tệp"
        if check.problem == "count":
            problems.append(f"Đã đủ {cfg.max_attachments} tệp; “{label}” không được nhận thêm.")
        elif check.problem == "type":
            problems.append(f"“{label}” không đúng định dạng cho phép ({_types_text(cfg.attachment_types)}).")
        elif check.problem == "size":
            problems.append(f"“{label}” quá lớn (tối đa {cfg.max_attachment_bytes // 1_000_000} MB mỗi tệp).")
        else:
            into.append({"channel": msg.channel, "kind": att.kind, "ref": att.ref, "name": att.name[:300],
                         "mime_type": att.mime_type[:100], "size": att.size})
    return problems


@router.state("pakn.attachments")
async def on_attachments(ctx: Context, msg: Incoming) -> None:
    cfg = ctx.config.pakn
    atts: list[dict[str, Any]] = ctx.data.setdefault("attachments", [])
    if msg.kind is Kind.ATTACHMENT:
        problems = _take_attachments(ctx, msg, atts)
        lines = problems + [f"Đã nhận {len(atts)}/{cfg.max_attachments} tệp."]
        more = "Gửi thêm, hoặc bấm “Xong”." if len(atts) < cfg.max_attachments else "Bấm “Xong” để tiếp tục."
        ctx.reply("\n".join(lines) + " " + more, [DONE if atts else SKIP, CANCEL_CHOICE])
        return
    if msg.choice == "pf:done" or _is_skip(msg) or (msg.kind is Kind.TEXT and fold(msg.text) in DONE_WORDS):
        await _advance(ctx, "attachments")
        return
    if msg.kind is Kind.LOCATION and not ctx.data.get("editing"):
        await on_location(ctx, msg)  # the next question's answer, sent early: kept, not dropped
        return
    ctx.reply("Vui lòng gửi ảnh hoặc tệp, hoặc bấm “Xong” để tiếp tục.", [DONE if atts else SKIP, CANCEL_CHOICE])


# -- location ------------------------------------------------------------------------------

async def _location_prompt(ctx: Context) -> None:
    ctx.goto("pakn.location")
    ctx.reply("Sự việc xảy ra ở đâu? Bạn có thể gửi vị trí, nhập địa điểm (ví dụ: “Bộ phận một cửa "
              "UBND xã A”), hoặc bấm “Bỏ qua”.", [SKIP, CANCEL_CHOICE])


@router.state("pakn.location")
async def on_location(ctx: Context, msg: Incoming) -> None:
    if msg.kind is Kind.LOCATION and msg.location is not None:
        ctx.data["location"] = {"lat": msg.location.latitude, "lon": msg.location.longitude}
        if msg.location.address:
            ctx.data["place"] = msg.location.address[:500]
        await _advance(ctx, "location")
        return
    if _is_skip(msg):
        ctx.data.pop("location", None)
        ctx.data.pop("place", None)
        await _advance(ctx, "location")
        return
    if msg.kind is Kind.TEXT and 3 <= len(msg.text.strip()) <= 500:
        ctx.data["place"] = " ".join(msg.text.split())
        ctx.data.pop("location", None)
        await _advance(ctx, "location")
        return
    ctx.reply("Vui lòng gửi vị trí, nhập địa điểm (3 đến 500 ký tự) hoặc bấm “Bỏ qua”.", [SKIP, CANCEL_CHOICE])


# -- name, phone, address, e-mail ------------------------------------------------------------

# "tôi không muốn cho tên", "xin giấu tên": a refusal, which would pass for a name of five words
_REFUSAL = re.compile(r"\b(khong muon|khong the|khong cung cap|khong cho|khong de lai|khong khai|"
                      r"an danh|giau ten|giu bi mat|xin phep khong)\b")


def _is_anonymous_wish(msg: Incoming) -> bool:
    if msg.kind is not Kind.TEXT:
        return False
    folded = fold(msg.text)
    return folded in ANON_WORDS | SKIP_WORDS or (len(folded.split()) <= 12 and bool(_REFUSAL.search(folded)))


def _no_anonymous(ctx: Context) -> None:
    c = ctx.config.contact
    ctx.reply(NO_ANONYMOUS.format(hotline_label=c.hotline_label, hotline=c.hotline), [CANCEL_CHOICE])


async def _name_prompt(ctx: Context) -> None:
    ctx.goto("pakn.name")
    ctx.reply("Vui lòng nhập họ và tên của bạn (ví dụ: Nguyễn Văn An).", [CANCEL_CHOICE])


@router.state("pakn.name")
async def on_name(ctx: Context, msg: Incoming) -> None:
    if _is_anonymous_wish(msg):
        _no_anonymous(ctx)
        return
    name = normalize_name(msg.text) if msg.kind is Kind.TEXT else None
    if name is None:
        ctx.reply("Họ tên chưa hợp lệ. Vui lòng nhập đầy đủ họ và tên, chỉ gồm chữ cái "
                  "(ví dụ: Nguyễn Văn An).", [CANCEL_CHOICE])
        return
    ctx.data["full_name"] = name
    await _advance(ctx, "name")


async def _phone_prompt(ctx: Context) -> None:
    ctx.goto("pakn.phone")
    ctx.reply("Vui lòng nhập số điện thoại liên hệ (di động hoặc cố định có mã vùng).", [CANCEL_CHOICE])


@router.state("pakn.phone")
async def on_phone(ctx: Context, msg: Incoming) -> None:
    if _is_anonymous_wish(msg):
        _no_anonymous(ctx)
        return
    raw = msg.contact.phone if msg.kind is Kind.CONTACT and msg.contact else msg.text
    phone = normalize_phone(raw)
    if phone is None:
        ctx.reply("Số điện thoại chưa đúng. Vui lòng nhập số di động 10 chữ số (ví dụ: 0912 345 678) "
                  "hoặc số cố định có mã vùng (ví dụ: 0263 3822 123).", [CANCEL_CHOICE])
        return
    ctx.data["phone"] = phone
    await _advance(ctx, "phone")


def _optional_text_step(key: str, prompt: str, parse: Callable[[str], str | None], invalid: str):
    """Register an optional one-line step (address, e-mail): a value, or “Bỏ qua” for none.

    Returns the step's prompt function for ``PROMPTS``.
    """
    state_name = f"pakn.{key}"

    async def ask(ctx: Context) -> None:
        ctx.goto(state_name)
        ctx.reply(prompt, [SKIP, CANCEL_CHOICE])

    async def on_answer(ctx: Context, msg: Incoming) -> None:
        if _is_skip(msg):
            ctx.data[key] = None
            await _advance(ctx, key)
            return
        value = parse(msg.text) if msg.kind is Kind.TEXT else None
        if value is None:
            ctx.reply(invalid, [SKIP, CANCEL_CHOICE])
            return
        ctx.data[key] = value
        await _advance(ctx, key)

    on_answer.__name__ = f"on_{key}"
    router.state(state_name)(on_answer)
    return ask


def _parse_address(text: str) -> str | None:
    text = " ".join(text.split())
    return text if 5 <= len(text) <= 300 else None


_address_prompt = _optional_text_step(
    "address", "Địa chỉ liên hệ của bạn (không bắt buộc). Nhập địa chỉ hoặc bấm “Bỏ qua”.",
    _parse_address, "Địa chỉ cần từ 5 đến 300 ký tự. Vui lòng nhập lại hoặc bấm “Bỏ qua”.")

_email_prompt = _optional_text_step(
    "email", "Thư điện tử của bạn (không bắt buộc). Nhập địa chỉ thư hoặc bấm “Bỏ qua”.",
    normalize_email, "Địa chỉ thư điện tử chưa đúng (ví dụ: ten@gmail.com). Vui lòng nhập lại hoặc bấm “Bỏ qua”.")


# -- consent -----------------------------------------------------------------------------------

async def _consent_prompt(ctx: Context) -> None:
    ctx.goto("pakn.consent")
    url = ctx.config.contact.privacy_notice_url
    ctx.reply(CONSENT, [Choice("Đồng ý", "pf:y"), Choice("Không đồng ý", "pf:n"), CANCEL_CHOICE],
              [Link("Thông báo xử lý dữ liệu cá nhân", url)] if url else [])


@router.state("pakn.consent")
async def on_consent(ctx: Context, msg: Incoming) -> None:
    if msg.choice == "pf:y":
        ctx.data["consent_at"] = ctx.now.isoformat()
        await _advance(ctx, "consent")
        return
    if msg.choice == "pf:n":
        ctx.reply(NO_CONSENT, [Choice("Đồng ý", "pf:y"), CANCEL_CHOICE])
        return
    ctx.reply("Vui lòng chọn “Đồng ý” hoặc “Không đồng ý”.",
              [Choice("Đồng ý", "pf:y"), Choice("Không đồng ý", "pf:n"), CANCEL_CHOICE])


# -- summary, edit, send ---------------------------------------------------------------------

def _summary(ctx: Context) -> str:
    d = ctx.data
    lines = [f"Loại: {KIND_LABELS[d['kind']]}", f"Liên quan đến: {SUBJECT_LABELS[d['subject']]}"]
    if d.get("procedure_name") or d.get("procedure_code"):
        lines.append("Thủ tục: " + " – ".join(x for x in (d.get("procedure_code"), d.get("procedure_name")) if x))
    lines.append("Cơ quan: " + (d.get("agency_name") if d.get("agency_code") else
                                "Chưa rõ (văn phòng sẽ chuyển đúng nơi)"))
    lines.append(f"Nội dung: {d['content']}")
    if d.get("attachments"):
        lines.append(f"Tệp đính kèm: {len(d['attachments'])}")
    if d.get("place"):
        lines.append(f"Địa điểm: {d['place']}")
    elif d.get("location"):
        lines.append(f"Vị trí: {d['location']['lat']:.5f}, {d['location']['lon']:.5f}")
    lines.append(f"Họ tên: {d['full_name']}")
    lines.append(f"Điện thoại: {d['phone']}")
    if d.get("address"):
        lines.append(f"Địa chỉ: {d['address']}")
    if d.get("email"):
        lines.append(f"Thư điện tử: {d['email']}")
    return "\n".join(lines)


async def _confirm_prompt(ctx: Context) -> None:
    ctx.data.pop("editing", None)
    ctx.goto("pakn.confirm")
    ctx.reply("Vui lòng kiểm tra lại trước khi gửi:\n\n" + _summary(ctx),
              [Choice("Gửi", "pf:send"), Choice("Sửa", "pf:edit"), CANCEL_CHOICE])


@router.state("pakn.confirm")
async def on_confirm(ctx: Context, msg: Incoming) -> None:
    if msg.choice == "pf:edit":
        # "Quay lại" (or typing it) goes back to the summary: the global "quay lại" would
        # drop the whole form for a citizen who only opened this list by mistake
        ctx.reply("Bạn muốn sửa mục nào?",
                  [*(Choice(label, f"pf:e:{key}") for key, label in EDITABLE),
                   Choice("Quay lại", "pf:back"), CANCEL_CHOICE])
        return
    if msg.choice.startswith("pf:e:") and msg.choice[5:] in PROMPTS:
        ctx.data["editing"] = True
        step = msg.choice[5:]
        if step == "attachments":
            ctx.data["attachments"] = []
        await PROMPTS[step](ctx)
        return
    if msg.choice == "pf:send":
        await _send(ctx)
        return
    if msg.kind is Kind.TEXT and (field := _field_to_edit(msg.text)):
        # "sửa số điện thoại", "đổi địa chỉ": that field's question at once
        ctx.data["editing"] = True
        if field == "attachments":
            ctx.data["attachments"] = []
        await PROMPTS[field](ctx)
        return
    if msg.kind is Kind.TEXT:  # not a word the buttons understand: say what they do
        ctx.reply(f"{KIND_LABELS[ctx.data['kind']]} chưa được gửi. Bấm “Gửi” để gửi, “Sửa” để sửa một mục, "
                  "hoặc “Hủy” để bỏ.")
    await _confirm_prompt(ctx)


_EDIT_VERB = re.compile(r"^(?:(?:cho )?(?:toi|minh|em) )?(?:muon |can |xin )?(?:sua|doi|thay doi|thay|chinh sua|"
                        r"sua lai|nhap lai|ghi lai) (?:lai )?(?:cho )?(?:phan |muc )?(?P<what>.+)$")
_FIELD_WORDS = {"kind": ("loai",), "subject": ("noi dung lien quan", "lien quan"),
                "agency": ("co quan", "don vi"), "content": ("noi dung",),
                "attachments": ("anh", "tep", "anh tep", "file", "hinh anh"),
                "location": ("dia diem", "vi tri", "noi xay ra"), "name": ("ho ten", "ten", "ho va ten"),
                "phone": ("dien thoai", "so dien thoai", "sdt", "so dt", "so"),
                "address": ("dia chi",), "email": ("thu dien tu", "email", "mail", "e mail")}


def _field_to_edit(text: str) -> str:
    """The summary's field that "sửa số điện thoại", "cho tôi đổi địa chỉ" names, or ""."""
    m = _EDIT_VERB.match(" ".join(fold(text).replace("-", " ").split()).strip(" .!?"))
    if m is None:
        return ""
    what = re.sub(r"\b(cua toi|cua minh|giup toi|giup|di|nhe|a|voi)\b", " ", m.group("what"))
    what = " ".join(what.split())
    return next((field for field, words in _FIELD_WORDS.items() if what in words), "")


async def _send(ctx: Context) -> None:
    svc = _svc(ctx)
    d = ctx.data
    if not all(d.get(k) for k in ("kind", "subject", "content", "full_name", "phone", "consent_at")):
        # only a conversation saved by an older version can get here: start the form again
        ctx.goto("pakn.kind", {"attachments": []})
        ctx.reply("Thông tin phản ánh chưa đầy đủ, vui lòng nhập lại từ đầu.")
        await _kind_prompt(ctx)
        return
    dup = await svc.find_duplicate(ctx.uow, citizen_id=ctx.citizen_id, phone=d["phone"],
                                   content=d["content"], now=ctx.now)
    if dup is not None:
        await ctx.uow.audit.record(actor=f"citizen:{ctx.citizen_id}", action="pakn.duplicate",
                                   entity_type="pakn", entity_id=dup.code, now=ctx.now)
        ctx.end()
        where = ("đang được xử lý" if dup.state in ("new", "accepted", "needs_info", "in_progress")
                 else f"hiện ở trạng thái “{STATE_LABELS[dup.state].lower()}”")
        ctx.reply(f"Bạn đã gửi một phản ánh có nội dung gần giống ngày "
                  f"{svc.local(dup.created_at):%d/%m/%Y} (mã {dup.code}). Phản ánh đó {where} "
                  f"nên chúng tôi không tạo phản ánh mới. Bạn có thể tra cứu bằng mã {dup.code}.",
                  [Choice("Tra cứu phản ánh", f"pakn:l:{dup.code}"), MENU_CHOICE])
        return
    item = await svc.file(ctx.uow, citizen_id=ctx.citizen_id, channel=ctx.key.channel,
                          draft=d, now=ctx.now)
    ctx.end()
    ctx.reply(f"Đã tiếp nhận {KIND_LABELS[item.kind].lower()} của bạn.\n"
              f"Mã tra cứu: {item.code}\n"
              f"Thời hạn trả lời: {item.answer_due:%d/%m/%Y} ({ctx.config.pakn.answer_days} ngày làm việc).\n"
              f"Để theo dõi, chọn “Tra cứu phản ánh” trong menu và nhập mã trên. Khi có kết quả, "
              f"chúng tôi sẽ nhắn cho bạn tại đây.",
              [Choice("Tra cứu phản ánh", f"pakn:l:{item.code}"), MENU_CHOICE])
    _notify_staff_later(ctx, item.id)


def _notify_staff_later(ctx: Context, item_id: int, supplied: bool = False) -> None:
    staff_notifier = ctx.services.extras.get("pakn_staff_notifier")
    if staff_notifier is not None:
        ctx.after_commit(lambda: staff_notifier.new_item(item_id, supplied))


PROMPTS = {
    "kind": _kind_prompt, "subject": _subject_prompt, "procedure": _procedure_prompt,
    "agency": _agency_prompt, "content": _content_prompt, "attachments": _attachments_prompt,
    "location": _location_prompt, "name": _name_prompt, "phone": _phone_prompt,
    "address": _address_prompt, "email": _email_prompt, "consent": _consent_prompt,
    "confirm": _confirm_prompt,
}


async def _resume_form(ctx: Context, state: str) -> None:
    await PROMPTS[state.split(".", 1)[1]](ctx)


async def _step_back(ctx: Context, state: str) -> None:
    """"Quay lại" typed at a step: the step before asked again (its answer kept until
    replaced); while editing, the summary; at the first step, the form is cancelled."""
    step = state.split(".", 1)[1]
    if ctx.data.get("editing") and step != "confirm":
        await _confirm_prompt(ctx)
        return
    i = STEP_ORDER.index(step) - 1
    while i >= 0 and _skipped(ctx, STEP_ORDER[i]):
        i -= 1
    if i < 0:
        ctx.end()
        ctx.show_menu(texts.CANCELLED + " " + texts.MENU_PROMPT)
        return
    await PROMPTS[STEP_ORDER[i]](ctx)


# left past the idle timeout, the form is offered back rather than lost (bot.core: RESUME_STATE);
# "quay lại" typed at a step goes back one step
router.resumable_form([f"pakn.{key}" for key in PROMPTS], "phản ánh, kiến nghị", _resume_form,
                      back=_step_back)


# ---------------------------------------------------------------------------------------
# Tracking: "Tra cứu phản ánh" (only the sender sees the details)
# ---------------------------------------------------------------------------------------

NOT_FOUND = ("Không tìm thấy phản ánh có mã này trong các phản ánh bạn đã gửi từ tài khoản này. "
             "Vui lòng kiểm tra lại mã (ví dụ: {example}).")


@router.menu_entry("pakn_lookup", "Tra cứu phản ánh", order=41)
async def lookup_start(ctx: Context, msg: Incoming) -> None:
    items = await ctx.uow.repo(PaknRepo).of_citizen(ctx.citizen_id, limit=5)
    ctx.goto("pakn.lookup", {})
    choices = [Choice(f"{i.code} · {STATE_LABELS[i.state]}", f"pakn:l:{i.code}") for i in items]
    ctx.reply("Vui lòng nhập mã phản ánh (ví dụ: " + _example(ctx) + ")"
              + (", hoặc chọn một phản ánh bạn đã gửi:" if items else "."), [*choices, CANCEL_CHOICE])


def _example(ctx: Context) -> str:
    return f"{ctx.config.pakn.code_prefix}-{ctx.now.astimezone(ctx.config.tz):%y%m}-7KQ3"


@router.state("pakn.lookup")
async def on_lookup(ctx: Context, msg: Incoming) -> None:
    code = re.sub(r"\s+", "", msg.text).upper() if msg.kind is Kind.TEXT else ""
    await _show_item(ctx, code)


@router.action("pakn:l:")
async def lookup_button(ctx: Context, msg: Incoming) -> None:
    await _show_item(ctx, msg.choice[len("pakn:l:"):])


async def _show_item(ctx: Context, code: str) -> None:
    item = await ctx.uow.repo(PaknRepo).by_code(code) if CODE_RE.match(code) else None
    if item is None or item.citizen_id != ctx.citizen_id:
        ctx.goto("pakn.lookup", {})
        ctx.reply(NOT_FOUND.format(example=_example(ctx)), [CANCEL_CHOICE])
        return
    svc = _svc(ctx)
    ctx.end()
    lines = [f"{KIND_LABELS[item.kind]} {item.code}",
             f"Ngày gửi: {svc.local(item.created_at):%d/%m/%Y}",
             f"Trạng thái: {STATE_LABELS[item.state]}"]
    choices = [MENU_CHOICE]
    if item.state in ("new", "accepted", "in_progress", "needs_info"):
        lines.append(f"Thời hạn trả lời: {item.answer_due:%d/%m/%Y}")
    if item.state == "needs_info":
        lines.append(f"Cần bổ sung: {item.reason}")
        choices.insert(0, Choice("Bổ sung thông tin", f"pakn:i:{item.code}"))
    if item.state == "rejected" and item.reason:
        lines.append(f"Lý do: {item.reason}")
    if item.state == "forwarded" and item.forwarded_to:
        lines.append(f"Đã chuyển đến: {item.forwarded_to}")
    if item.answer:
        lines.append(f"Trả lời ngày {svc.local(item.answered_at):%d/%m/%Y}:\n{item.answer}")
    ctx.reply("\n".join(lines), choices)


# ---------------------------------------------------------------------------------------
# Supplying information staff asked for
# ---------------------------------------------------------------------------------------

@router.action("pakn:i:")
async def info_start(ctx: Context, msg: Incoming) -> None:
    code = msg.choice[len("pakn:i:"):]
    item = await ctx.uow.repo(PaknRepo).by_code(code) if CODE_RE.match(code) else None
    if item is None or item.citizen_id != ctx.citizen_id:
        ctx.reply(NOT_FOUND.format(example=_example(ctx)), [MENU_CHOICE])
        return
    if item.state != "needs_info":
        ctx.reply(f"Phản ánh {code} hiện không cần bổ sung thông tin (trạng thái: {STATE_LABELS[item.state]}).",
                  [MENU_CHOICE])
        return
    ctx.goto("pakn.info", {"code": code, "attachments": []})
    ctx.reply(f"Cơ quan cần bổ sung: {item.reason}\n\nVui lòng nhập thông tin bổ sung. Bạn có thể gửi "
              "kèm ảnh hoặc tệp trước, rồi nhập nội dung.", [CANCEL_CHOICE])


@router.state("pakn.info")
async def on_info(ctx: Context, msg: Incoming) -> None:
    atts: list[dict[str, Any]] = ctx.data.setdefault("attachments", [])
    if msg.kind is Kind.ATTACHMENT:
        problems = _take_attachments(ctx, msg, atts)
        ctx.reply("\n".join(problems + [f"Đã nhận {len(atts)} tệp. Vui lòng nhập nội dung bổ sung để gửi."]),
                  [CANCEL_CHOICE])
        return
    text = msg.text.strip() if msg.kind is Kind.TEXT else ""
    if _too_long(ctx, text, "Nội dung bổ sung"):
        return
    if len(text) < 2:
        ctx.reply("Vui lòng nhập nội dung bổ sung bằng chữ.", [CANCEL_CHOICE])
        return
    repo = ctx.uow.repo(PaknRepo)
    item = await repo.by_code(ctx.data["code"], lock=True)
    if item is None or item.citizen_id != ctx.citizen_id or item.state != "needs_info":
        ctx.end()
        ctx.reply("Phản ánh này hiện không cần bổ sung thông tin.", [MENU_CHOICE])
        return
    answer_due = await _svc(ctx).supply_info(ctx.uow, item, citizen_id=ctx.citizen_id, text=text,
                                             attachments=atts, now=ctx.now)
    ctx.end()
    due = f" Thời hạn trả lời: {answer_due:%d/%m/%Y}." if answer_due else ""
    ctx.reply(f"Đã gửi thông tin bổ sung cho phản ánh {item.code}. Cảm ơn bạn.{due}",
              [Choice("Tra cứu phản ánh", f"pakn:l:{item.code}"), MENU_CHOICE])
    _notify_staff_later(ctx, item.id, supplied=True)


# ---------------------------------------------------------------------------------------
# Questions for staff ("Hỏi cán bộ", and what the knowledge base cannot answer)
# ---------------------------------------------------------------------------------------

@router.menu_entry("ask_staff", "Hỏi cán bộ", order=45)
async def ask_menu(ctx: Context, msg: Incoming) -> None:
    await start_ask(ctx)


async def start_ask(ctx: Context, procedure_code: str = "") -> None:
    """Start "Hỏi cán bộ" (the ``services.ask_staff`` hook: the knowledge base's "Hỏi cán bộ"
    buttons call it). A question the citizen just typed (``ctx.data["q"]``, kept by the
    lookup when nothing matched) can be sent as it is."""
    previous = str(ctx.data.get("q", "")).strip() if ctx.data else ""
    if not 5 <= len(previous) <= ctx.config.pakn.content_max_chars:
        previous = ""  # offered only as a whole: never a question cut short
    code = procedure_code if PROC_CODE_RE.match(procedure_code or "") else ""
    ctx.goto("pakn.ask", {"procedure_code": code, "q": previous})
    procedure = ctx.services.kb.get(code) if code and ctx.services.kb is not None else None
    about = (f" về thủ tục “{procedure.name}” (mã {code})" if procedure  # the name, not only a code
             else f" về thủ tục {code}" if code else "")
    choices = [Choice("Gửi câu hỏi vừa nhập", "pf:ask:prev")] if previous else []
    ctx.reply(f"Vui lòng nhập câu hỏi của bạn{about}. Cán bộ sẽ trả lời tại đây trong giờ làm việc."
              + (f"\nHoặc gửi câu hỏi vừa nhập: “{clip(previous, 200)}”." if choices else ""),
              [*choices, CANCEL_CHOICE])


@router.state("pakn.ask")
async def on_ask(ctx: Context, msg: Incoming) -> None:
    text = ctx.data.get("q", "") if msg.choice == "pf:ask:prev" else (msg.text.strip() if msg.kind is Kind.TEXT else "")
    if msg.choice != "pf:ask:prev" and small_talk_kind(text) in ("done", "thanks"):
        ctx.end()  # "thôi", "bỏ qua", "cảm ơn": nothing to ask, and nothing filed for staff
        ctx.show_menu("Vâng ạ, câu hỏi chưa được gửi. " + texts.MENU_PROMPT)
        return
    if msg.choice != "pf:ask:prev" and menu_intent(text) == "ask_staff" and not staff_question_in(text):
        # "gặp nhân viên", "có ai không" typed again: the question itself is still to come
        ctx.reply("Vâng, cán bộ sẽ trả lời bạn tại đây. Bạn vui lòng nhập nội dung cần hỏi.", [CANCEL_CHOICE])
        return
    if len(text) < 5:
        ctx.reply("Vui lòng nhập câu hỏi (ít nhất 5 ký tự).", [CANCEL_CHOICE])
        return
    if _too_long(ctx, text, "Câu hỏi"):
        return
    procedure_code = ctx.data.get("procedure_code") or None
    ctx.end()
    await ask_staff(ctx, text, procedure_code)


async def ask_staff(ctx: Context, question_text: str, procedure_code: str | None = None) -> str:
    """Turn a citizen's question into a staff question in the PAKN queue, inside the
    current message's transaction, and tell the citizen (code, expected answer date).
    The answer is delivered on the citizen's channel like a PAKN answer. Returns the code.
    A near-identical question from the same citizen in the last few days is not filed
    again: the citizen is given the existing code."""
    svc = _svc(ctx)
    cfg = ctx.config.pakn
    text = question_text.strip()[: cfg.content_max_chars]
    dup = await svc.find_duplicate(ctx.uow, citizen_id=ctx.citizen_id, phone="", content=text, now=ctx.now)
    if dup is not None and dup.kind == "question":
        ctx.reply(f"Câu hỏi này bạn đã gửi (mã {dup.code}); cán bộ sẽ trả lời tại đây.",
                  [Choice("Tra cứu", f"pakn:l:{dup.code}"), MENU_CHOICE])
        return dup.code
    procedure = ctx.services.kb.get(procedure_code) if procedure_code and ctx.services.kb is not None else None
    name = procedure.name if procedure else None
    item = await svc.file(ctx.uow, citizen_id=ctx.citizen_id, channel=ctx.key.channel, now=ctx.now, draft={
        "kind": "question", "subject": "question", "content": text, "procedure_code": procedure_code,
        "procedure_name": name, "agency_code": None, "attachments": []})
    ctx.reply(f"Đã chuyển câu hỏi của bạn đến cán bộ (mã {item.code}). Bạn sẽ nhận được trả lời tại đây, "
              f"chậm nhất ngày {item.answer_due:%d/%m/%Y}.",
              [Choice("Tra cứu", f"pakn:l:{item.code}"), MENU_CHOICE])
    _notify_staff_later(ctx, item.id)
    return item.code
