"""The core: one incoming message in, replies out, in one database transaction.

Pipeline for each :class:`Incoming` (``BotCore.handle``):
1. per-conversation lock in this process (and a row lock on PostgreSQL), so messages of
   one conversation are handled in order;
2. de-duplication by the platform's update id (a re-delivered update is handled once);
3. the citizen's identity (created on first contact) and the conversation state, reset
   after the idle timeout (a long form, ``Router.resumable_form``, is offered back instead);
4. typed answers ("2", or a button's label) resolved to the offered button;
5. global words ("Hủy", "Menu") from any state, then buttons (actions, menu entries),
   then the handler for the current state, then free-text fallbacks;
6. the new state and the offered buttons saved and the message and its replies logged
   (one statement on PostgreSQL, which also returns the web chat's page and marks the
   platform's inbox row done when the ``within`` hook asks for it); the caller's ``within``
   hook (a channel's own bookkeeping: the web chat's page of new messages, the platforms'
   inbox row marked done); commit; after-commit hooks.
A handler error rolls back only the handler's work (a savepoint): the citizen gets a
polite message and the error is logged with context, never shown as a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import weakref
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot import texts
from bot.errors import UserFacingError
from bot.messages import Choice, Incoming, Kind, Reply
from bot.ops import metrics
from bot.router import CANCEL_PAYLOAD, IDLE, MENU_CHOICE, MENU_PAYLOAD, MENU_PREFIX, Context, Router, typed_number
from bot.services import Services
from kb.normalize import fold

from storage.repos.core import NewMessage

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# A channel's work in the message's transaction, after the replies were logged; it runs for
# a duplicate update too (the message was handled before), and commits with the message. When
# the transaction does not commit, it is called once more with None: what it read or noted
# was rolled back and must not be shown (an acknowledgement never stored is never sent).
# A hook may carry a ``close_with`` attribute (storage.repos.core.CloseWith): on PostgreSQL
# the closing statement then does that work too (the web page's rows, the inbox row marked
# done) and fills it in, and the hook only does what was not done.
Within = Callable[["UnitOfWork | None"], Awaitable[None]]

CANCEL_WORDS = {"huy", "/huy", "/cancel", "huy bo", "thoat", "dung lai"}
MENU_WORDS = {"menu", "/menu", "/start", "bat dau", "quay lai", "trang chu", "menu chinh"}
BACK_WORDS = {"quay lai", "tro lai", "lui lai", "quay lai buoc truoc"}  # in a form: the step before
# "có", "ok" typed where one button says yes ("Đồng ý", "Gửi", "Có", "Xác nhận"), "không"
# where one says no: that button (folded, punctuation as spaces)
YES_WORDS = {"co", "ok", "oke", "okay", "vang", "da", "da vang", "vang a", "dong y", "toi dong y", "u", "uh",
             "duoc", "co a", "yes", "chac chan", "xac nhan", "gui di", "gui luon", "dong y gui"}
NO_WORDS = {"khong", "ko", "k", "khong a", "no", "khong dong y", "toi khong dong y"}
YES_LABELS = {"dong y", "gui", "co", "xac nhan", "tiep tuc", "tiep tuc soan"}
NO_LABELS = {"khong", "khong dong y"}
START_EVENTS = {"start", "follow"}
OFFERED_KEY = "_offered"
# the buttons of a message the outbox sent while a long form waited to be offered back (a survey
# question): what the citizen sees last, so a typed "1" answers it instead of being swallowed
SENT_OFFERED_KEY = "_sent_offered"
# A long form found expired (Router.resumable_form) waits in this state, its draft kept in the
# data, for the citizen to press "Tiếp tục soạn"; anything else drops it and is handled as usual.
RESUME_STATE = "core.resume"
RESUME_PAYLOAD = "g:resume"
REDACTED = "[đã ẩn: thông tin xác minh]"  # what the message log keeps of a sensitive message


class BotCore:
    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        if RESUME_STATE not in router.states:
            router.state(RESUME_STATE)(self._on_resume)

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.services.config.conversation.idle_timeout_minutes)

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, msg: Incoming, within: Within | None = None) -> list[Reply]:
        """The replies to one message ([] for a duplicate update). ``within`` runs in the
        message's transaction (see :data:`Within`); when the message could not be handled
        (database down) the citizen gets the polite busy reply and ``within(None)`` is called."""
        started, arrived = time.perf_counter(), time.monotonic()
        lock = self._lock(str(msg.key))
        async with lock:
            try:
                replies, hooks = await self._handle(msg, within, arrived)
            except Exception:
                log.exception("message failed before reaching a handler",
                              extra={"channel": msg.channel, "update_id": msg.update_id,
                                     "kind": msg.kind.value})
                metrics.HANDLER_ERRORS.labels(msg.channel, "core").inc()
                if within is not None:
                    await within(None)
                return [Reply(texts.BUSY)]
        for hook in hooks:
            try:
                await hook()
            except Exception:
                log.exception("after-commit hook failed", extra={"channel": msg.channel})
        elapsed = time.perf_counter() - started
        metrics.observe_message(msg.channel, elapsed)
        log.debug("handled", extra={"channel": msg.channel, "kind": msg.kind.value,
                                    "ms": round(elapsed * 1000, 2)})
        return replies

    async def _handle(self, msg: Incoming, within: Within | None = None,
                      arrived: float | None = None) -> tuple[list[Reply], list[Any]]:
        now = self.services.clock.now()
        async with self.services.db.unit_of_work() as uow:
            opened = await uow.conversations.open(msg.key, msg.update_id, now, msg.display_name)
            if not opened.claimed:
                log.info("duplicate update ignored",
                         extra={"channel": msg.channel, "update_id": msg.update_id})
                if within is not None:
                    await within(uow)
                return [], []
            identity, stored = opened.identity, opened.state
            assert identity is not None
            state, data, expired = IDLE, {}, False
            if stored is not None:
                idle = now - stored.updated_at
                if idle > self.idle_timeout:
                    expired = stored.state != IDLE
                    if expired and self._resumable(stored.state, idle):
                        # a long form: offered back instead of lost (see _dispatch)
                        state, expired = RESUME_STATE, False
                        data = {"state": stored.state, "since": stored.updated_at.isoformat(), "new": True,
                                "data": {k: v for k, v in stored.data.items()
                                         if k not in (OFFERED_KEY, SENT_OFFERED_KEY)}}
                        if stored.data.get(SENT_OFFERED_KEY):
                            data[OFFERED_KEY] = stored.data[SENT_OFFERED_KEY]
                else:
                    state, data = stored.state, dict(stored.data)
            offered = [Choice(label, payload) for label, payload in data.pop(OFFERED_KEY, [])]
            msg = self._resolve_typed_choice(msg, offered)
            ctx = Context(key=msg.key, identity=identity, state=state, data=data, uow=uow,
                          services=self.services, now=now, router=self.router, offered=offered,
                          arrived=arrived)
            first_ctx = ctx
            if expired:
                ctx.reply(texts.EXPIRED.format(minutes=self.services.config.conversation.idle_timeout_minutes))
            try:
                async with uow.session.begin_nested():
                    await self._dispatch(ctx, msg, offered)
            except UserFacingError as exc:
                ctx = self._restart_ctx(ctx, state, data)
                ctx.reply(exc.message, offered or [MENU_CHOICE])  # never a dead end
            except Exception:
                metrics.HANDLER_ERRORS.labels(msg.channel, "handler").inc()
                log.exception("handler failed", extra={
                    "channel": msg.channel, "state": state, "kind": msg.kind.value,
                    "citizen_id": identity.citizen_id, "update_id": msg.update_id})
                ctx = self._restart_ctx(ctx, state, data)
                ctx.reply(texts.ERROR, offered)
            offered_now = [[c.label, c.payload] for r in ctx.replies for c in r.choices]
            # The new state is saved and the message logged with its replies once the handler
            # is done (so a sensitive message is written redacted, never in clear): one
            # statement on PostgreSQL (Conversations.close).
            # ctx.identity: an erasure moves the account to a new citizen and deletes the
            # conversation's log, the message that asked for it included.
            logged = []
            if ctx.identity.citizen_id == identity.citizen_id:
                if first_ctx.redact or ctx.redact or (state in self.router.sensitive_states
                                                      and msg.kind is not Kind.CHOICE):
                    logged.append(NewMessage(identity.citizen_id, "in", msg.kind.value, REDACTED,
                                             {"redacted": True}))
                else:
                    logged.append(NewMessage(identity.citizen_id, "in", msg.kind.value,
                                             msg.text or msg.choice, _inbound_payload(msg)))
            logged.extend(NewMessage(ctx.identity.citizen_id, "out", "reply", reply.text, reply_payload(reply))
                          for reply in ctx.replies)
            await uow.conversations.close(msg.key, ctx.next_state, {**ctx.data, OFFERED_KEY: offered_now},
                                          logged, now, getattr(within, "close_with", None))
            if within is not None:
                await within(uow)
        return ctx.replies, ctx._after_commit

    def state_is_live(self, state: str, updated_at: datetime, now: datetime) -> bool:
        """Whether a stored flow state still holds something: within the idle timeout, or a
        long form that would be offered back (the outbox leaves such a state alone)."""
        idle = now - updated_at
        return idle <= self.idle_timeout or self._resumable(state, idle)

    def _resumable(self, state: str, idle: timedelta) -> bool:
        hours = self.services.config.conversation.resume_within_hours
        return state in self.router.resumable and state in self.router.states and idle <= timedelta(hours=hours)

    def _offer_resume(self, ctx: Context) -> None:
        what, _ = self.router.resumable[ctx.data["state"]]
        since = datetime.fromisoformat(ctx.data["since"]).astimezone(self.services.config.tz)
        ctx.reply(texts.RESUME_OFFER.format(what=what, since=f"{since:%H:%M} ngày {since:%d/%m}"),
                  [Choice(texts.RESUME_LABEL, RESUME_PAYLOAD), Choice(texts.DROP_DRAFT_LABEL, CANCEL_PAYLOAD)])

    async def _on_resume(self, ctx: Context, msg: Incoming) -> None:
        """The state of an offered-back form: "Tiếp tục soạn" restores it and asks its step's
        question again; anything else drops it and is handled as outside any flow."""
        draft_state, draft = ctx.data.get("state", ""), ctx.data.get("data", {})
        if msg.choice == RESUME_PAYLOAD and draft_state in self.router.resumable:
            ctx.goto(draft_state, draft)
            await self.router.resumable[draft_state][1](ctx, draft_state)
            return
        ctx.end()
        ctx.state = IDLE
        await self._dispatch(ctx, msg, [])

    def _restart_ctx(self, ctx: Context, state: str, data: dict[str, Any]) -> Context:
        """A fresh context after a rolled-back handler: state and data as they were."""
        return Context(key=ctx.key, identity=ctx.identity, state=state, data=data, uow=ctx.uow,
                       services=self.services, now=ctx.now, router=self.router, offered=ctx.offered,
                       arrived=ctx.arrived)

    # -- typed answers -----------------------------------------------------------------
    def _resolve_typed_choice(self, msg: Incoming, offered: list[Choice]) -> Incoming:
        if msg.kind is not Kind.TEXT or not msg.text.strip():
            return msg
        typed = fold(msg.text).strip(" .)")
        number = typed_number(msg)
        payload = ""
        if offered:
            if number is not None and 1 <= number <= len(offered):
                payload = offered[number - 1].payload
            else:
                payload = _match_label(typed, offered) or _match_yes_no(typed, offered)
        if not payload:
            payload = _match_label(typed, self.router.menu_choices(include_hidden=True))
        if not payload:
            return msg
        return Incoming(key=msg.key, kind=Kind.CHOICE, text=msg.text, choice=payload,
                        update_id=msg.update_id, display_name=msg.display_name,
                        locale=msg.locale, received_at=msg.received_at)

    # -- dispatch ------------------------------------------------------------------------
    async def _dispatch(self, ctx: Context, msg: Incoming, offered: list[Choice]) -> None:
        router = self.router
        if msg.kind is Kind.EVENT:
            if msg.event in START_EVENTS:
                ctx.end()
                greeting = texts.GREETING.format(bot_name=ctx.config.province.bot_name,
                                                 province=ctx.config.province.name)
                ctx.show_menu(greeting + " " + texts.MENU_PROMPT)
            elif msg.event == "unfollow":
                await ctx.uow.citizens.mark_unreachable(msg.channel, msg.key.user_id, "unfollowed")
            return
        folded = fold(msg.text) if msg.kind is Kind.TEXT else ""
        if folded in BACK_WORDS and ctx.state in router.form_back:
            await router.form_back[ctx.state](ctx, ctx.state)
            return
        if msg.choice in (CANCEL_PAYLOAD, MENU_PAYLOAD) or folded in CANCEL_WORDS or folded in MENU_WORDS:
            # "Hủy" and "Menu" alike: mid-flow, say the flow was dropped rather than lose it silently
            was_busy = ctx.state != IDLE
            ctx.end()
            ctx.show_menu(texts.CANCELLED + " " + texts.MENU_PROMPT if was_busy else texts.MENU_PROMPT)
            return
        if ctx.state == RESUME_STATE and ctx.data.get("new") and (
                msg.kind is not Kind.CHOICE or router.find_action(msg.choice) is None):
            del ctx.data["new"]
            self._offer_resume(ctx)  # the first message after the timeout: go on with the form?
            return
        # (a button with its own action, e.g. a survey's answer, is handled and the offer still
        # waits for the first other message)
        if msg.kind is Kind.CHOICE:
            action = router.find_action(msg.choice)
            if action is not None:
                if msg.choice.startswith(MENU_PREFIX):
                    ctx.end()  # a menu entry starts over
                await action(ctx, msg)
                return
            if msg.choice not in {c.payload for c in offered}:
                log.info("stale or unknown button", extra={"channel": msg.channel, "state": ctx.state})
                ctx.reply(texts.STALE_CHOICE, offered or router.menu_choices())
                return
        if ctx.state != IDLE:
            handler = router.states.get(ctx.state)
            if handler is None:  # a state from an older version of the bot
                ctx.end()
                ctx.show_menu()
                return
            await handler(ctx, msg)
            return
        if msg.kind is Kind.TEXT and folded:
            for _order, fallback in router.fallbacks:
                if await fallback(ctx, msg):
                    return
            ctx.show_menu(texts.NOT_UNDERSTOOD)
            return
        if msg.kind is Kind.TEXT:
            ctx.show_menu()
            return
        ctx.show_menu(texts.UNSUPPORTED_CONTENT)


def _match_label(typed: str, choices: list[Choice] | tuple[Choice, ...]) -> str:
    """The payload of the button whose label the citizen typed: the whole label, or the
    start of it ("lien he" for "Liên hệ / đường dây nóng") when only one label fits."""
    typed = _words(typed)
    if not typed:
        return ""
    labels = [(_label_words(c.label), c.payload) for c in choices]
    exact = [payload for label, payload in labels if label == typed]
    if exact:
        return exact[0]
    if len(typed) >= 4:
        starts = [payload for label, payload in labels if label.startswith(typed + " ")]
        if len(starts) == 1:
            return starts[0]
    return ""


def _match_yes_no(typed: str, choices: list[Choice] | tuple[Choice, ...]) -> str:
    """The one yes (or no) button for a typed yes (or no): "có" under "Gửi / Sửa / Hủy"."""
    typed = _words(typed)
    for words, labels in ((YES_WORDS, YES_LABELS), (NO_WORDS, NO_LABELS)):
        if typed in words:
            fits = [c.payload for c in choices if _label_words(c.label) in labels]
            return fits[0] if len(fits) == 1 else ""
    return ""


_NOT_WORD = re.compile(r"[^\w]+")


@functools.lru_cache(maxsize=4096)
def _label_words(label: str) -> str:
    """A button label as typed words (the menu's and the offered buttons' labels recur)."""
    return _words(fold(label))


def _words(text: str) -> str:
    """Folded text with punctuation as spaces: 'gui phan anh, kien nghi' -> 'gui phan anh kien nghi'."""
    return " ".join(_NOT_WORD.sub(" ", text).split())


def _inbound_payload(msg: Incoming) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if msg.choice:
        out["choice"] = msg.choice
    if msg.attachments:
        out["attachments"] = [
            {"kind": a.kind, "ref": a.ref, "name": a.name, "mime_type": a.mime_type, "size": a.size,
             "url": a.url} for a in msg.attachments]
    if msg.location:
        out["location"] = {"lat": msg.location.latitude, "lon": msg.location.longitude,
                           "address": msg.location.address}
    if msg.contact:
        out["contact"] = {"phone": msg.contact.phone, "name": msg.contact.name}
    if msg.event:
        out["event"] = msg.event
    if msg.update_id:
        out["update_id"] = msg.update_id
    return out


def reply_payload(reply: Reply) -> dict[str, Any]:
    """How a reply is kept in the message log (and read back by the web chat)."""
    out: dict[str, Any] = {}
    if reply.choices:
        out["choices"] = [[c.label, c.payload] for c in reply.choices]
    if reply.links:
        out["links"] = [[link.label, link.url] for link in reply.links]
    if reply.attachments:
        out["attachments"] = [{"kind": a.kind, "url": a.url, "name": a.name, "caption": a.caption}
                              for a in reply.attachments]
    return out


def reply_from_payload(text: str, payload: dict[str, Any]) -> Reply:
    from bot.messages import Link, OutAttachment

    return Reply(
        text=text,
        choices=tuple(Choice(label, p) for label, p in payload.get("choices", [])),
        links=tuple(Link(label, url) for label, url in payload.get("links", [])),
        attachments=tuple(OutAttachment(a["kind"], a["url"], a.get("name", ""), a.get("caption", ""))
                          for a in payload.get("attachments", [])),
    )
