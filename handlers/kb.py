"""Procedure lookup: a question (or a code) → up to 5 choices → a detail card with sections.

Buttons on cards are actions (``kb:open:<code>``, ``kb:docs:<code>`` …) so they keep
working on older messages; the clarifying filters are bound to the ``kb.results`` step.
"""

from __future__ import annotations

from bot import texts
import dataclasses
from collections.abc import Sequence
import re
import unicodedata

from bot.messages import Choice, Incoming, Kind, Link, choice_label, clip
from bot.errors import UserFacingError
from bot.router import CANCEL_CHOICE, MENU_CHOICE, Context, Router, typed_number
from kb.model import ONLINE_LABELS, Procedure, base_code, web_address
from kb.normalize import content_tokens, filler_mask, fold, is_stop, tokens, word_pairs
from kb.search import SearchResult

router = Router("kb")

ASK = "kb.ask"
RESULTS = "kb.results"

PROMPT = ("Bạn muốn tìm thủ tục gì? Hãy gõ tên hoặc mô tả ngắn, có dấu hoặc không dấu "
          "(ví dụ: \"đăng ký khai sinh\", \"cấp lại căn cước\", \"sổ đỏ\"), hoặc mã thủ tục như 1.001193.")
NOT_FOUND = "Xin lỗi, tôi chưa tìm thấy thủ tục phù hợp với câu hỏi của bạn."
UNSURE = "Tôi tìm thấy một số thủ tục có thể phù hợp. Bạn vui lòng chọn thủ tục đúng:"
OTHERS = "Nếu chưa đúng thủ tục bạn cần, bạn có thể xem:"
NARROW = "Hoặc chọn lĩnh vực, cấp thực hiện để tôi tìm chính xác hơn:"
FIELDS_PROMPT = "Xem các thủ tục theo lĩnh vực:"
UNKNOWN_CODE = "Không tìm thấy thủ tục có mã {code}. Vui lòng kiểm tra lại mã hoặc gõ tên thủ tục."
KB_EMPTY = "Kho thủ tục đang được cập nhật, vui lòng thử lại sau ít phút."
# the sections of a card, in the order (and so under the numbers) they are always offered
SECTIONS = (("docs", "Hồ sơ cần chuẩn bị"), ("steps", "Trình tự"), ("law", "Căn cứ pháp lý"),
            ("forms", "Biểu mẫu"))
MIN_FALLBACK_SCORE = 0.5  # below this, free text outside a flow is not treated as a lookup
CONTEXT_SHARE = 0.8  # an unsure answer under a card: procedures of its field this close to the best go first
LOOKUP_ORDER = 50  # free text is read as a procedure question after every other fallback

SMALL_TALK_GREETING = {"xin chao", "chao", "chao ban", "hello", "hi", "alo", "chao bot"}
SMALL_TALK_THANKS = {"cam on", "cam on ban", "thanks", "thank you", "ok cam on", "cam on nhieu", "thank",
                     "camon", "cmon", "tks", "thks", "thanks ban", "ok thanks", "ok tks", "thank u",
                     # praise typed outside a survey is a thank-you too, not a question
                     "hai long", "rat hai long", "tot lam", "tot qua", "rat tot", "tuyet voi", "hay qua"}
_THANKS_ENDINGS = ("cam on", "cam on a", "cam on nhieu", "cam on ban", "cam on nhieu a", "xin cam on", "thanks")
# words that make a text ending in thanks a question still ("… lệ phí bao nhiêu, cảm ơn"): read
# on the accents where typed ("cán bộ" is not "cần"), folded otherwise
_QUESTION_CUES = frozenset("gì nào sao bao đâu không chưa mấy hỏi cần muốn giúp làm thế".split())
_QUESTION_CUES_FOLDED = frozenset("gi nao sao bao dau khong chua may hoi muon giup lam the".split())

# a confirmation typed when nothing waits for one ("Đồng ý xóa" after the erasure was done)
SMALL_TALK_CONFIRM = {"dong y", "toi dong y", "dong y xoa", "dong y gui", "xac nhan", "xac nhan xoa", "gui di"}
_GREETING_WORDS = frozenset({"alo", "hello", "hi", "chao", "helo", "hey"})
_THANKS_EMOJI = ("👍", "🙏", "👌", "❤", "🥰", "😊", "🤝")
# "never mind", "ok", "yes" typed alone: nothing to look up ("thôi" is not *thời hạn*)
SMALL_TALK_DONE = {"thoi", "thoi khong can", "thoi khong can nua", "khong can", "khong can nua", "bo qua",
                   "ok", "oke", "okay", "vang", "da", "u", "uh", "um", "duoc roi", "biet roi", "toi biet roi",
                   "vang a", "da vang", "ok ban", "thoi duoc roi"}
# "tôi tên là Lan", "mình tên Hùng": an introduction, not a question (a name is not a procedure)
_INTRODUCTION = re.compile(r"^(?:xin chao )?(?:toi|minh|em|chau|con|anh|chi|tui) ten(?: la)? (?P<a>\w+(?: \w+){0,3})$"
                           r"|^ten (?:toi|minh|em|chau|con|tui) la (?P<b>\w+(?: \w+){0,3})$")
# ... unless "the name" goes on with a request: "tôi tên An cần đổi tên" is a question ("thì"
# is not here: folded it is the middle name Thị)
_NOT_IN_A_NAME = frozenset("muon can lam xin hoi dang ky doi cap nop bi mat sai sao gi nao dau khong "
                           "duoc phai co va o tai cho de ve".split())


def _ask_choice(code: str = "") -> Choice:
    return Choice("Hỏi cán bộ", f"kb:ask:{code}" if code else "kb:ask:")


BROWSE_CHOICE = Choice("Xem theo lĩnh vực", "kb:fields")


@router.menu_entry("kb", "Tra cứu thủ tục", order=10)
async def start_lookup(ctx: Context, msg: Incoming) -> None:
    ctx.goto(ASK, {})
    ctx.reply(PROMPT, [BROWSE_CHOICE, CANCEL_CHOICE])


NO_SUCH_NUMBER = ("Không có lựa chọn số {n} trong danh sách. Vui lòng chọn lại, "
                  "hoặc gõ tên thủ tục cần tìm.")


def _refuse_number_beyond_list(msg: Incoming) -> None:
    """A number typed beyond the list on screen ("12" under ten choices) is a mistaken
    choice, not a question: the list is offered again (the core re-shows it)."""
    n = typed_number(msg)
    if n is not None:
        raise UserFacingError(NO_SUCH_NUMBER.format(n=n))


@router.state(ASK)
async def on_question(ctx: Context, msg: Incoming) -> None:
    if msg.kind is not Kind.TEXT or not msg.text.strip():
        ctx.reply(PROMPT, [BROWSE_CHOICE, CANCEL_CHOICE])
        return
    _refuse_number_beyond_list(msg)
    if await _asks_for_something_else(ctx, msg):
        return
    await lookup(ctx, msg.text)


async def _asks_for_something_else(ctx: Context, msg: Incoming) -> bool:
    """Text typed at the lookup's prompt or under its choices that is not a procedure
    question (a greeting, thanks, a menu entry's name, a dossier code, a complaint,
    "xóa dữ liệu của tôi") is answered as it would be outside the lookup: the fallbacks
    that run before the procedure search, with the lookup left."""
    ctx.end()
    for order, fallback in ctx.router.fallbacks:
        if order >= LOOKUP_ORDER:
            break
        if await fallback(ctx, msg):
            return True
    return False


def _asks_something(text: str) -> bool:
    """Whether a text holds a question word (see _QUESTION_CUES)."""
    low = unicodedata.normalize("NFC", text).lower()
    words = set(re.findall(r"\w+", low))
    return bool((_QUESTION_CUES_FOLDED if low.isascii() else _QUESTION_CUES) & words)


def small_talk_kind(text: str) -> str:
    """What a short social message is: "greeting", "thanks", "done" (never mind, ok),
    "confirm" (a yes with nothing to confirm), "intro" (the citizen says their name), or ""."""
    said = fold(text).strip(" !.?")
    short = len(said.split()) <= 4
    if said in SMALL_TALK_GREETING or (short and said.startswith(("xin chao", "chao "))) \
            or (said and set(said.split()) <= _GREETING_WORDS):  # "alo alo", "hi hi"
        return "greeting"
    if said in SMALL_TALK_THANKS or (short and said.startswith(("cam on", "thank"))):
        return "thanks"
    if said.endswith(_THANKS_ENDINGS) and "?" not in text and not _asks_something(text):
        return "thanks"  # "Cán bộ rất nhiệt tình, cảm ơn!" (not "lệ phí bao nhiêu, cảm ơn")
    if said and not any(c.isalnum() for c in said) and any(e in said for e in _THANKS_EMOJI):
        return "thanks"  # "👍", "🙏🙏": a thumbs-up is an answer, not a question to search
    words = " ".join(tokens(said))
    if words in SMALL_TALK_DONE:
        return "done"
    if words in SMALL_TALK_CONFIRM:
        return "confirm"
    intro = _INTRODUCTION.match(words)
    if intro and not _NOT_IN_A_NAME.intersection((intro.group("a") or intro.group("b")).split()):
        return "intro"
    return ""


@router.fallback(order=10)
async def small_talk(ctx: Context, msg: Incoming) -> bool:
    kind = small_talk_kind(msg.text)
    if kind == "greeting":
        ctx.show_menu(texts.GREETING.format(bot_name=ctx.config.province.bot_name,
                                            province=ctx.config.province.name) + " " + texts.MENU_PROMPT)
    elif kind == "thanks":
        ctx.reply("Rất vui được hỗ trợ bạn. Chúc bạn một ngày tốt lành!", [MENU_CHOICE])
    elif kind == "done":
        ctx.reply("Vâng ạ. Khi cần hỗ trợ, bạn cứ nhắn cho tôi.", [MENU_CHOICE])
    elif kind == "confirm":
        ctx.show_menu("Hiện không có việc nào đang chờ bạn xác nhận. " + texts.MENU_PROMPT)
    elif kind == "intro":
        ctx.show_menu("Rất vui được làm quen với bạn! " + texts.MENU_PROMPT)
    return bool(kind)


@router.fallback(order=LOOKUP_ORDER)
async def free_text_lookup(ctx: Context, msg: Incoming) -> bool:
    """Free text outside any flow is read as a question about a procedure."""
    kb = ctx.services.kb
    if kb is None or not len(kb):
        return False
    if not content_tokens(msg.text):  # "???", "ok", "vâng": not a question about a procedure
        return False
    result = _in_context(ctx, kb.search(msg.text, limit=5))
    if result.by_code and not result.hits:  # "1.999999": say the code is unknown, as the lookup does
        _unknown_code(ctx, result, msg.text)
        return True
    if not result.hits or (not result.confident and result.hits[0].score < MIN_FALLBACK_SCORE):
        _not_found(ctx, msg.text, "Bạn có thể gõ lại ngắn gọn hơn, xem thủ tục theo lĩnh vực hoặc hỏi cán bộ.")
        return True
    await _present(ctx, msg.text, result)
    return True


def _in_context(ctx: Context, result: SearchResult) -> SearchResult:
    """An unsure answer to text typed under a procedure's card is read in that card's field
    first: "thế còn cấp lại thì sao" under *Đổi giấy phép lái xe* means *Cấp lại giấy phép lái
    xe* (sure within the field: its card; close to the best overall: first in the list)."""
    on_screen = _procedure_on_screen(ctx) if not result.confident and result.hits else None
    if on_screen is None or not on_screen.field:
        return result
    narrowed = ctx.services.kb.search(result.query, limit=5, field=on_screen.field)
    if narrowed.confident:
        return narrowed
    if narrowed.names_nothing:  # "cấp lại" under *Đổi giấy phép lái xe*: the card says of what
        return dataclasses.replace(narrowed, confident=True)
    best = result.hits[0].score
    near = [h for h in narrowed.hits if h.score >= CONTEXT_SHARE * best]
    if not near:
        return result
    first = {h.procedure.code for h in near}
    return dataclasses.replace(result, hits=tuple(near + [h for h in result.hits if h.procedure.code not in first])[:5])


async def lookup(ctx: Context, query: str, **filters: str) -> None:
    kb = ctx.services.kb
    if kb is None or not len(kb):
        ctx.end()
        ctx.reply(KB_EMPTY, [MENU_CHOICE])
        return
    result = kb.search(query, limit=5, **filters)
    if result.by_code and not result.hits:
        _unknown_code(ctx, result, query)
        return
    if not result.hits:
        _not_found(ctx, query, "Bạn có thể gõ lại bằng từ khác, xem thủ tục theo lĩnh vực hoặc hỏi cán bộ.")
        return
    await _present(ctx, query, result)


def _unknown_code(ctx: Context, result: SearchResult, query: str) -> None:
    code = result.terms[0] if result.terms else query.strip()
    ctx.goto(ASK, {})
    ctx.reply(UNKNOWN_CODE.format(code=code), [CANCEL_CHOICE])


def _not_found(ctx: Context, query: str, hint: str) -> None:
    """Say so, offer the fields to browse, staff, a new search."""
    ctx.goto(RESULTS, {"q": query, "sugg": []})
    ctx.reply(f"{NOT_FOUND} {hint}", [Choice("Tra cứu lại", "m:kb"), _ask_choice(), MENU_CHOICE])
    fields = _field_choices(ctx)
    if fields:
        ctx.reply(FIELDS_PROMPT, fields)


# -- browsing by field ------------------------------------------------------------------
# Payloads carry the field's place in the configured list (``kb:fld:<i>:<page>``), so they
# fit every platform's button limit and keep working on older messages.


def _browse_fields(ctx: Context) -> list[tuple[str, int]]:
    kb = ctx.services.kb
    if kb is None or not len(kb):
        return []
    return kb.browse_fields(ctx.config.kb.browse_fields)


def _field_choices(ctx: Context) -> list[Choice]:
    return [Choice(choice_label(f"{field} ({n})"), f"kb:fld:{i}:0") for i, (field, n) in enumerate(_browse_fields(ctx))]


@router.action("kb:fields")
async def show_fields(ctx: Context, msg: Incoming) -> None:
    fields = _field_choices(ctx)
    if not fields:
        ctx.end()
        ctx.reply(KB_EMPTY, [MENU_CHOICE])
        return
    ctx.goto(ASK, {})
    ctx.reply(FIELDS_PROMPT, fields + [CANCEL_CHOICE])


@router.action("kb:fld:")
async def browse_field(ctx: Context, msg: Incoming) -> None:
    fields = _browse_fields(ctx)
    try:
        i, page = (int(x) for x in msg.choice[len("kb:fld:"):].split(":"))
        field, _ = fields[i]
    except (ValueError, IndexError):
        ctx.reply("Danh sách lĩnh vực vừa được cập nhật. Vui lòng chọn lại.",
                  [BROWSE_CHOICE, MENU_CHOICE])
        return
    procs = ctx.services.kb.in_field(field)
    size = ctx.config.kb.browse_page_size
    pages = max(1, -(-len(procs) // size))
    page = min(max(page, 0), pages - 1)
    shown = procs[page * size:(page + 1) * size]
    ctx.goto(ASK, {})  # typing a question from here searches as usual
    head = f"Lĩnh vực {field}: {len(procs)} thủ tục"
    if pages > 1:
        head += f" (trang {page + 1}/{pages})"
    choices = _open_choices(shown)
    if page + 1 < pages:
        choices.append(Choice("Xem tiếp", f"kb:fld:{i}:{page + 1}"))
    if page > 0:  # back without starting the field over
        choices.append(Choice("Trang trước", f"kb:fld:{i}:{page - 1}"))
    choices += [Choice("Lĩnh vực khác", "kb:fields"), CANCEL_CHOICE]
    ctx.reply(f"{head}. Chọn thủ tục để xem chi tiết, hoặc gõ tên thủ tục cần tìm:", choices)


def _open_choices(procs: list[Procedure]) -> list[Choice]:
    """A button per procedure; names that would read the same (the same procedure at
    another level) say their level, or else their code."""
    plain = [choice_label(p.name) for p in procs]
    labels = list(plain)
    for i, p in enumerate(procs):
        same = [q for q, label in zip(procs, plain) if label == plain[i]]
        if len(same) > 1:
            tag = p.level if p.level and sum(q.level == p.level for q in same) == 1 else p.code
            labels[i] = choice_label(f"{p.name} ({tag})")
    return [Choice(label, f"kb:open:{p.code}") for label, p in zip(labels, procs)]


async def _present(ctx: Context, query: str, result: SearchResult) -> None:
    hits = list(result.hits)
    if result.confident:
        top = hits[0].procedure
        ctx.end()
        if result.by_code and (aspect := _aspect_besides_the_code(query, result.terms, top)):
            # "2.000815 cần gì": the documents, not the card to press "Hồ sơ cần chuẩn bị" on
            await _answer_aspect(ctx, top, aspect)
            return
        card(ctx, top)
        others = _open_choices([h.procedure for h in hits[1:4] if h.name != top.name])
        if others:
            ctx.reply(OTHERS, others)
        return
    suggestions = [(s.kind, s.value) for s in result.suggestions[:3]]
    ctx.goto(RESULTS, {"q": query, "sugg": suggestions})
    choices = _open_choices([h.procedure for h in hits[:5]])
    ctx.reply(UNSURE, choices)
    if suggestions:
        ctx.reply(NARROW, [Choice(choice_label(value), f"kb:f{i}") for i, (_kind, value) in enumerate(suggestions)]
                  + [_ask_choice(), CANCEL_CHOICE])
    else:
        ctx.reply("Nếu không có thủ tục đúng, bạn có thể gõ lại câu hỏi hoặc hỏi cán bộ.",
                  [_ask_choice(), CANCEL_CHOICE])


@router.state(RESULTS)
async def on_results(ctx: Context, msg: Incoming) -> None:
    """While choices are shown: a narrowing filter, or a new question."""
    if msg.kind is Kind.CHOICE and msg.choice.startswith("kb:f"):
        suggestions = ctx.data.get("sugg", [])
        try:
            kind, value = suggestions[int(msg.choice[4:])]
        except (ValueError, IndexError):
            ctx.reply("Lựa chọn không hợp lệ. Vui lòng gõ lại câu hỏi.", [CANCEL_CHOICE])
            return
        await lookup(ctx, ctx.data.get("q", ""), **{kind: value})
        return
    if msg.kind is Kind.TEXT and msg.text.strip():
        _refuse_number_beyond_list(msg)
        if await _asks_for_something_else(ctx, msg):
            return
        await lookup(ctx, msg.text)
        return
    ctx.reply(PROMPT, [CANCEL_CHOICE])


# -- the card and its sections ----------------------------------------------------------


def _procedure(ctx: Context, msg: Incoming, prefix: str) -> Procedure | None:
    code = msg.choice[len(prefix):]
    kb = ctx.services.kb
    proc = kb.get(code) if kb is not None and base_code(code) else None
    if proc is None:
        ctx.reply("Không tìm thấy thủ tục này nữa (kho thủ tục có thể vừa được cập nhật). "
                  "Vui lòng tra cứu lại.", [Choice("Tra cứu thủ tục", "m:kb"), MENU_CHOICE])
    return proc


@router.action("kb:open:")
async def open_card(ctx: Context, msg: Incoming) -> None:
    proc = _procedure(ctx, msg, "kb:open:")
    if proc is not None:
        ctx.end()
        card(ctx, proc)


def card(ctx: Context, p: Procedure) -> None:
    lines = [p.name, f"Mã thủ tục: {p.code}" + (f" · {p.level}" if p.level else "")]
    if p.field:
        lines.append(f"Lĩnh vực: {p.field}")
    agency = p.implementing_agency or p.competent_agency
    if agency:
        lines.append(f"Cơ quan thực hiện: {agency}")
    if p.where_to_submit:
        lines.append(f"Nơi nộp hồ sơ: {clip(p.where_to_submit, 400)}")
    if p.channels:
        lines.append("Thời hạn giải quyết và phí, lệ phí:")
        lines.extend(_terms_lines(p))
    if p.online_level:
        lines.append(f"Dịch vụ công trực tuyến: {ONLINE_LABELS[p.online_level]}")
    if p.result:
        lines.append(f"Kết quả: {clip(p.result, 300)}")
    links = [Link(label, url.strip()) for label, url in (("Nộp hồ sơ trực tuyến", p.online_url),
                                                         ("Xem trên Cổng Dịch vụ công", p.source_url))
             if web_address(url)]
    choices = [Choice(label, f"kb:{key}:{p.code}") for key, label in SECTIONS]
    choices += [_ask_choice(p.code), Choice("Tra cứu thủ tục khác", "m:kb"), MENU_CHOICE]
    ctx.reply("\n".join(lines), choices, links)


def _terms_lines(p: Procedure) -> list[str]:
    """Processing time and fee per channel; channels with the same terms share one line
    ("• Trực tiếp, Trực tuyến: …")."""
    same: dict[str, list[str]] = {}
    for ch in p.channels:
        parts = [x for x in (ch.time, ch.fee) if x]
        same.setdefault("; ".join(clip(x, 300) for x in parts) or "chưa có thông tin", []).append(ch.channel)
    return [f"• {', '.join(names)}: {terms}" for terms, names in same.items()]


def _section_choices(p: Procedure) -> list[Choice]:
    """The same four sections, in the same places, under the card and under every section:
    "2" is always "Trình tự", and typing the name of the section on screen shows it again."""
    sections = [Choice(label, f"kb:{key}:{p.code}") for key, label in SECTIONS]
    return sections + [_ask_choice(p.code), Choice("Xem lại thủ tục", f"kb:open:{p.code}"), MENU_CHOICE]


@router.action("kb:docs:")
async def show_documents(ctx: Context, msg: Incoming) -> None:
    p = _procedure(ctx, msg, "kb:docs:")
    if p is None:
        return
    lines = [f"Hồ sơ cần chuẩn bị — {p.name}:"]
    if p.documents:
        for i, d in enumerate(p.documents, 1):
            extra = "; ".join(x for x in (d.copies, f"mẫu: {d.form}" if d.form else "") if x)
            lines.append(f"{i}. {d.name}" + (f" ({extra})" if extra else ""))
    else:
        lines.append("Chưa có thông tin về thành phần hồ sơ. Vui lòng liên hệ cơ quan thực hiện hoặc hỏi cán bộ.")
    if p.conditions:
        lines.append("")
        lines.append("Yêu cầu, điều kiện: " + p.conditions)
    ctx.reply("\n".join(lines), _section_choices(p))


@router.action("kb:steps:")
async def show_steps(ctx: Context, msg: Incoming) -> None:
    p = _procedure(ctx, msg, "kb:steps:")
    if p is None:
        return
    body = "\n".join(p.steps) if p.steps else "Chưa có thông tin về trình tự thực hiện."
    ctx.reply(f"Trình tự thực hiện — {p.name}:\n{body}", _section_choices(p))


@router.action("kb:law:")
async def show_legal_basis(ctx: Context, msg: Incoming) -> None:
    p = _procedure(ctx, msg, "kb:law:")
    if p is None:
        return
    lines = [f"Căn cứ pháp lý — {p.name}:"]
    for ref in p.legal_basis:
        number = f" số {ref.number}" if ref.number else ""
        date = f", ngày {_vn_date(ref.date)}" if ref.date else ""
        lines.append(f"• {ref.title}{number}{date}")
    if not p.legal_basis:
        lines.append("Chưa có thông tin về căn cứ pháp lý.")
    ctx.reply("\n".join(lines), _section_choices(p))


@router.action("kb:forms:")
async def show_forms(ctx: Context, msg: Incoming) -> None:
    p = _procedure(ctx, msg, "kb:forms:")
    if p is None:
        return
    forms = [d for d in p.documents if d.form]
    if forms:
        lines = [f"Biểu mẫu — {p.name}:"] + [f"• {d.form} (dùng cho: {d.name})" for d in forms]
        lines.append("Bạn có thể nhận mẫu tại nơi nộp hồ sơ hoặc tải trên Cổng Dịch vụ công.")
    else:
        lines = [f"Thủ tục \"{p.name}\" không có mẫu đơn, tờ khai riêng được công bố."]
    links = [Link("Xem trên Cổng Dịch vụ công", p.source_url.strip())] if web_address(p.source_url) else []
    ctx.reply("\n".join(lines), _section_choices(p), links)


@router.action("kb:ask:")
async def ask_staff(ctx: Context, msg: Incoming) -> None:
    """"Hỏi cán bộ": pass the question to staff (the PAKN queue), or say how to reach them."""
    code = msg.choice[len("kb:ask:"):]
    p = ctx.services.kb.get(code) if code and ctx.services.kb is not None and base_code(code) else None
    handoff = getattr(ctx.services, "ask_staff", None)
    if handoff is not None:
        await handoff(ctx, p.code if p else "")
        return
    c = ctx.config.contact
    about = f" về thủ tục \"{p.name}\" (mã {p.code})" if p else ""
    ctx.reply(f"Để được cán bộ hướng dẫn trực tiếp{about}, bạn vui lòng gọi {c.hotline_label} "
              f"{c.hotline}" + (f" ({c.office_hours})" if c.office_hours else "") + ".", [MENU_CHOICE])


# -- follow-up questions about the procedure on screen ------------------------------------
# Under a card (or one of its sections) citizens ask on in few words: "phí bao nhiêu",
# "mất mấy ngày", "nộp ở đâu", "cần giấy tờ gì", "nộp online được không". Such a question
# names no other procedure, so it is answered from the one on screen instead of searched.

_FOLLOW_UPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("terms", ("le phi", "phi", "bao nhieu tien", "mat tien", "ton tien", "het bao nhieu", "mat bao nhieu",
               "ton bao nhieu", "mien phi", "bao lau", "bao nhieu ngay", "may ngay", "mat may ngay",
               "mat bao nhieu ngay", "mat bao nhieu tien", "mat bao lau", "thoi han",
               "thoi gian", "bao gio co", "khi nao co", "khi nao nhan", "bao gio nhan", "bao gio lay")),
    ("online", ("online", "truc tuyen", "qua mang", "tren mang", "dich vu cong", "vneid")),
    ("where", ("o dau", "tai dau", "cho nao", "noi nao", "noi nop", "nop dau", "co quan nao",
               "don vi nao", "ai giai quyet", "o xa", "o phuong", "o tinh", "tai xa", "tai phuong",
               "tai tinh")),
    ("forms", ("mau don", "bieu mau", "to khai", "mau to khai")),
    ("docs", ("giay to", "thanh phan ho so", "ho so gom", "ho so can", "can chuan bi", "chuan bi gi",
              "mang theo", "mang gi", "can nhung gi", "can gi", "dieu kien")),
    ("steps", ("cac buoc", "trinh tu", "quy trinh", "lam the nao", "lam nhu the nao", "lam sao",
               "cach lam", "nhu the nao", "the nao", "ra sao")),
    ("law", ("can cu", "luat nao", "nghi dinh nao", "thong tu nao", "van ban nao", "quy dinh nao",
             "phap ly")),
)
# words a follow-up may hold besides its question: about "it", not about another procedure
_ABOUT_IT = frozenset("thu tuc ma nay do ho so nop lam giai quyet duoc khong co nhan ket qua tra "
                      "vay thi the con neu minh toi em a oi can phai la bao nhieu lau".split())


def _follow_up(text: str, p: Procedure | None) -> tuple[str, bool]:
    """The aspect of ``p`` a short follow-up asks about ("terms", "where", "docs" …), or ""
    when it asks none; and whether it holds content words besides, not in ``p``'s name
    ("bằng lái", "khai sinh"): then it may be about another procedure. ``p`` None: the
    procedure is not known yet (a choice list is on screen)."""
    pairs = word_pairs(text)
    folded = [f for _, f in pairs]
    if not folded or len(folded) > 12:
        return "", False
    covered = [False] * len(folded)
    aspect = ""
    for name, phrases in _FOLLOW_UPS:
        for phrase in phrases:
            words = phrase.split()
            for i in range(len(folded) - len(words) + 1):
                if folded[i:i + len(words)] == words:
                    covered[i:i + len(words)] = [True] * len(words)
                    aspect = aspect or name
    if not aspect:
        return "", False
    own = set(tokens(p.name)) if p is not None else set()
    filler = filler_mask(folded)
    other = any(not (covered[i] or filler[i] or is_stop(pairs, i) or f in own or f in _ABOUT_IT)
                for i, f in enumerate(folded))
    return aspect, other


def _procedure_on_screen(ctx: Context) -> Procedure | None:
    code = next((c.payload[len("kb:docs:"):] for c in ctx.offered if c.payload.startswith("kb:docs:")), "")
    return ctx.services.kb.get(code) if code and ctx.services.kb is not None else None


@router.fallback(order=40)
async def follow_up_question(ctx: Context, msg: Incoming) -> bool:
    if msg.kind is not Kind.TEXT:
        return False
    p = _procedure_on_screen(ctx)
    if p is None:
        return _follow_up_under_a_list(ctx, msg)
    aspect, other = _follow_up(msg.text, p)
    if not aspect:
        return False
    if other:  # "đổi bằng lái làm thế nào" is about it, "phí đăng ký khai sinh bao nhiêu" is not
        found = ctx.services.kb.search(msg.text, limit=1)
        if not found.hits or found.hits[0].procedure.code != p.code:
            return False
    await _answer_aspect(ctx, p, aspect)
    return True


async def _answer_aspect(ctx: Context, p: Procedure, aspect: str) -> None:
    """One aspect of ``p`` (see :data:`_FOLLOW_UPS`): a section, or the terms, the place or
    the online channel in a few lines, with the section buttons."""
    if aspect in ("docs", "steps", "law", "forms"):
        section = Incoming(key=ctx.key, kind=Kind.CHOICE, choice=f"kb:{aspect}:{p.code}")
        handler = ctx.router.find_action(section.choice)
        assert handler is not None
        await handler(ctx, section)
        return
    links: list[Link] = []
    if aspect == "terms":
        lines = [f"Thời hạn giải quyết và phí, lệ phí — {p.name}:"]
        lines += _terms_lines(p) or ["Chưa có thông tin về thời hạn và lệ phí. Vui lòng hỏi cán bộ."]
    elif aspect == "where":
        lines = [f"Nơi nộp hồ sơ — {p.name}:", clip(p.where_to_submit, 600) if p.where_to_submit
                 else "Chưa có thông tin về nơi nộp hồ sơ."]
        agency = p.implementing_agency or p.competent_agency
        if agency:
            lines.append(f"Cơ quan thực hiện: {agency}")
    else:  # online
        online = [ch for ch in p.channels if fold(ch.channel).startswith("truc tuyen")]
        if p.online_level or online or web_address(p.online_url):
            level = f" (dịch vụ công trực tuyến {ONLINE_LABELS[p.online_level].lower()})" if p.online_level else ""
            lines = [f"Thủ tục \"{p.name}\" nộp được trực tuyến{level}."]
            lines += [f"• Trực tuyến: {t}" for t in ("; ".join(x for x in (ch.time, ch.fee) if x) for ch in online) if t]
            links = [Link(label, url.strip()) for label, url in (("Nộp hồ sơ trực tuyến", p.online_url),
                                                                 ("Xem trên Cổng Dịch vụ công", p.source_url))
                     if web_address(url)]
        else:
            ways = ", ".join(ch.channel for ch in p.channels) or "trực tiếp tại nơi tiếp nhận"
            lines = [f"Theo dữ liệu công bố, thủ tục \"{p.name}\" chưa nộp trực tuyến được. "
                     f"Bạn có thể nộp: {ways}."]
    ctx.reply("\n".join(lines), _section_choices(p), links)


_ASPECT_NAMES = {"terms": "thời hạn và lệ phí", "online": "cách nộp trực tuyến", "where": "nơi nộp hồ sơ",
                 "forms": "biểu mẫu", "docs": "hồ sơ cần chuẩn bị", "steps": "trình tự thực hiện",
                 "law": "căn cứ pháp lý"}


def _aspect_besides_the_code(query: str, codes: Sequence[str], p: Procedure) -> str:
    """The aspect asked with a procedure's code ("1.001193 lệ phí bao nhiêu"), or "";
    ``codes``: the codes as written, which the search found (SearchResult.terms)."""
    rest = query
    for written in codes:
        rest = rest.replace(written, " ")
    aspect, other = _follow_up(rest, p)
    return aspect if not other else ""


def _follow_up_under_a_list(ctx: Context, msg: Incoming) -> bool:
    """"Lệ phí bao nhiêu?", "nộp ở xã được không?" typed under a choice list: the question is
    about one of the listed procedures, not a new search; ask which, with the list again."""
    listed = [c for c in ctx.offered if c.payload.startswith("kb:open:")]
    if not listed:
        return False
    aspect, other = _follow_up(msg.text, None)
    if not aspect or other:
        return False
    ctx.reply(f"Bạn vui lòng chọn thủ tục trong danh sách để xem {_ASPECT_NAMES[aspect]}:",
              listed + [_ask_choice(), CANCEL_CHOICE])
    return True


def _vn_date(iso: str) -> str:
    parts = iso.split("-")
    return f"{parts[2]}/{parts[1]}/{parts[0]}" if len(parts) == 3 else iso
