"""Dossier status: "Tra cứu hồ sơ" (code → public summary → details after proof of
ownership) and "Theo dõi hồ sơ" (follow / unfollow status changes).

Buttons (valid on older messages too; the code in the payload is re-validated):
``dos:det:<code>`` details, ``dos:sub:<code>`` follow, ``dos:uns:<code>`` unfollow,
``dos:new`` follow another dossier. A dossier code typed outside any flow is looked up.
"""

from __future__ import annotations

import re

from bot.dossiers import texts as T
from bot.dossiers.code import InvalidCode, looks_like_code, parse_code
from bot.dossiers.model import Dossier
from bot.dossiers.service import DossierService
from bot.errors import UserFacingError
from bot.messages import Choice, Incoming, Kind
from bot.router import CANCEL_CHOICE, MENU_CHOICE, Context, Router
from bot.texts import STALE_CHOICE
from kb.normalize import fold
from storage.repos.dossiers import DossierSubscriptions

router = Router("dossiers")

LOOKUP, FOLLOW = "lookup", "follow"
DETAILS, SUBSCRIBE = "det", "sub"
ANOTHER = Choice(T.LABEL_ANOTHER, "m:dossier")


def _svc(ctx: Context) -> DossierService:
    svc = ctx.services.dossiers
    if svc is None:  # the feature is switched off ([dossiers] enabled = false): say so politely
        c = ctx.config.contact
        where = f" trên {c.portal_url}" if c.portal_url else ""
        raise UserFacingError(T.OFF.format(where=where, hotline_label=c.hotline_label, hotline=c.hotline))
    return svc


def _ask_code(ctx: Context, intent: str) -> None:
    ctx.goto("dossier.code", {"intent": intent})
    ctx.reply(T.ASK_CODE.format(example=ctx.config.dossiers.code_example), [CANCEL_CHOICE])


@router.menu_entry("dossier", "Tra cứu hồ sơ", order=20)
async def start_lookup(ctx: Context, msg: Incoming) -> None:
    _svc(ctx)
    _ask_code(ctx, LOOKUP)


@router.menu_entry("dossier_follow", "Theo dõi hồ sơ", order=21)
async def start_follow(ctx: Context, msg: Incoming) -> None:
    subs = await _svc(ctx).subscriptions(ctx.uow, ctx.citizen_id)
    if not subs:
        ctx.reply(T.NO_SUBSCRIPTIONS)
        _ask_code(ctx, FOLLOW)
        return
    lines = "\n".join(f"{i}. {s.dossier_code}" for i, s in enumerate(subs, 1))
    choices = [Choice(f"{T.LABEL_UNFOLLOW} {s.dossier_code}", f"dos:uns:{s.dossier_code}") for s in subs[:8]]
    ctx.reply(T.SUBSCRIPTIONS.format(lines=lines),
              choices + [Choice(T.LABEL_FOLLOW_ANOTHER, "dos:new"), MENU_CHOICE])


@router.action("dos:new")
async def follow_another(ctx: Context, msg: Incoming) -> None:
    _svc(ctx)
    _ask_code(ctx, FOLLOW)


@router.state("dossier.code")
async def got_code(ctx: Context, msg: Incoming) -> None:
    if msg.kind is not Kind.TEXT:
        ctx.reply(T.ASK_CODE.format(example=ctx.config.dossiers.code_example), [CANCEL_CHOICE])
        return
    code = _parse(ctx, msg.text)
    if code is None:
        return
    await _show(ctx, code, ctx.data.get("intent", LOOKUP))


@router.fallback(order=20)
async def typed_code(ctx: Context, msg: Incoming) -> bool:
    """A dossier code typed outside any flow: look it up."""
    if ctx.services.dossiers is None or not looks_like_code(msg.text):
        return False
    code = _parse(ctx, msg.text)
    if code is not None:  # "theo dõi hồ sơ …" follows it at once ("bỏ / hủy theo dõi" does not)
        said = fold(msg.text)
        follow = _FOLLOW_WORDS.search(said) and not _UNFOLLOW_WORDS.search(said)
        await _show(ctx, code, FOLLOW if follow else LOOKUP)
    return True


_FOLLOW_WORDS = re.compile(r"\b(theo doi|dang ky theo doi|bao cho toi khi|nhan thong bao)\b")
_UNFOLLOW_WORDS = re.compile(r"\b(bo|huy|ngung|thoi|dung) (dang ky )?theo doi\b")


def _parse(ctx: Context, text: str) -> str | None:
    try:
        return str(parse_code(text, today=ctx.now.astimezone(ctx.config.tz).date(),
                              example=ctx.config.dossiers.code_example))
    except InvalidCode as exc:
        ctx.goto("dossier.code", {"intent": ctx.data.get("intent", LOOKUP)})
        ctx.reply(exc.message_vi, [CANCEL_CHOICE])
        return None


async def _find(ctx: Context, code: str) -> Dossier | None:
    """Throttled lookup; on a miss the citizen is asked for the code again."""
    dossier = await _svc(ctx).lookup(ctx.uow, ctx.citizen_id, code, ctx.now, arrived=ctx.arrived)
    if dossier is None:
        ctx.goto("dossier.code", {"intent": ctx.data.get("intent", LOOKUP)})
        ctx.reply(T.NOT_FOUND.format(code=code), [CANCEL_CHOICE])
    return dossier


async def _show(ctx: Context, code: str, intent: str) -> None:
    dossier = await _find(ctx, code)
    if dossier is None:
        return
    ctx.end()
    if intent == FOLLOW:
        ctx.reply(T.summary(dossier, ctx.config.tz, ctx.now))
        await _follow(ctx, dossier)
        return
    ctx.reply(T.summary(dossier, ctx.config.tz, ctx.now), await _summary_choices(ctx, dossier))


async def _summary_choices(ctx: Context, d: Dossier) -> list[Choice]:
    choices = [Choice(T.LABEL_DETAILS, f"dos:det:{d.code}")]
    sub = await ctx.uow.repo(DossierSubscriptions).get(ctx.citizen_id, d.code)
    if sub is not None and sub.active:
        choices.append(Choice(T.LABEL_UNFOLLOW, f"dos:uns:{d.code}"))
    elif not d.status.terminal:
        choices.append(Choice(T.LABEL_FOLLOW, f"dos:sub:{d.code}"))
    return choices + [ANOTHER, MENU_CHOICE]


def _payload_code(ctx: Context, msg: Incoming, prefix: str) -> str | None:
    try:
        return str(parse_code(msg.choice[len(prefix):]))
    except InvalidCode:
        ctx.reply(STALE_CHOICE, ctx.router.menu_choices())
        return None


async def _owner_or_ask(ctx: Context, d: Dossier, then: str) -> bool:
    svc = _svc(ctx)
    if await svc.is_owner(ctx.uow, ctx.citizen_id, d.code, ctx.now):
        return True
    blocked = await svc.proof_blocked_for(ctx.uow, ctx.citizen_id, d.code, ctx.now)
    if blocked is not None:
        ctx.end()
        ctx.reply(T.PROOF_BLOCKED.format(hours=T.days_text(blocked)), [ANOTHER, MENU_CHOICE])
        return False
    ctx.goto("dossier.proof", {"code": d.code, "then": then})
    ctx.reply(T.ASK_PROOF.format(code=d.code), [CANCEL_CHOICE])
    return False


@router.action("dos:det:")
async def show_details(ctx: Context, msg: Incoming) -> None:
    code = _payload_code(ctx, msg, "dos:det:")
    if code is None:
        return
    dossier = await _find(ctx, code)
    if dossier is not None and await _owner_or_ask(ctx, dossier, DETAILS):
        ctx.end()
        await _details(ctx, dossier)


async def _details(ctx: Context, d: Dossier) -> None:
    choices = [c for c in await _summary_choices(ctx, d) if not c.payload.startswith("dos:det:")]
    ctx.reply(T.details(d, ctx.config.tz, ctx.now), choices)


@router.action("dos:sub:")
async def follow(ctx: Context, msg: Incoming) -> None:
    code = _payload_code(ctx, msg, "dos:sub:")
    if code is None:
        return
    dossier = await _find(ctx, code)
    if dossier is not None:
        ctx.end()
        await _follow(ctx, dossier)


async def _follow(ctx: Context, d: Dossier) -> None:
    if d.status.terminal:
        ctx.reply(T.FINISHED_NO_FOLLOW.format(code=d.code, status=d.status.label.lower()), [ANOTHER, MENU_CHOICE])
        return
    if not await _owner_or_ask(ctx, d, SUBSCRIBE):
        return
    created = await _svc(ctx).subscribe(ctx.uow, ctx.citizen_id, d, ctx.now)
    text = T.FOLLOWED if created else T.ALREADY_FOLLOWED
    ctx.reply(text.format(code=d.code), [Choice(T.LABEL_DETAILS, f"dos:det:{d.code}"),
                                         Choice(T.LABEL_UNFOLLOW, f"dos:uns:{d.code}"), MENU_CHOICE])


@router.action("dos:uns:")
async def unfollow(ctx: Context, msg: Incoming) -> None:
    code = _payload_code(ctx, msg, "dos:uns:")
    if code is None:
        return
    done = await _svc(ctx).unsubscribe(ctx.uow, ctx.citizen_id, code, ctx.now)
    ctx.reply((T.UNFOLLOWED if done else T.NOT_FOLLOWING).format(code=code), [ANOTHER, MENU_CHOICE])


@router.state("dossier.proof", sensitive=True)
async def got_proof(ctx: Context, msg: Incoming) -> None:
    ctx.redact_inbound()  # phone digits or an ID number: never kept in the message log
    code, then = ctx.data.get("code", ""), ctx.data.get("then", DETAILS)
    svc = _svc(ctx)
    dossier = await svc.fetch(code, ctx.uow, arrived=ctx.arrived)
    if dossier is None:
        ctx.end()
        ctx.reply(T.NOT_FOUND.format(code=code), [ANOTHER, MENU_CHOICE])
        return
    result = await svc.prove(ctx.uow, ctx.citizen_id, dossier, msg.text if msg.kind is Kind.TEXT else "", ctx.now)
    if result.ok:
        ctx.end()
        if then == SUBSCRIBE:
            await _follow(ctx, dossier)
        else:
            await _details(ctx, dossier)
    elif result.blocked_for is not None:
        ctx.end()
        ctx.reply(T.PROOF_BLOCKED.format(hours=T.days_text(result.blocked_for)), [ANOTHER, MENU_CHOICE])
    elif result.malformed:
        ctx.reply(T.PROOF_MALFORMED, [CANCEL_CHOICE])
    else:
        ctx.reply(T.PROOF_WRONG.format(remaining=result.remaining), [CANCEL_CHOICE])
