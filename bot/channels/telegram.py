"""Telegram (python-telegram-bot v22). The only module that imports ``telegram``.

Two ways in:
- **webhook** (default): Telegram posts updates to ``<telegram.webhook_path>`` on our own
  aiohttp server with ``X-Telegram-Bot-Api-Secret-Token``; a good update is stored, answered
  200 and handled in the background (:mod:`bot.channels.common`). The PTB ``Application``
  is built without an updater and only provides the bot and its rate limiter. Register the
  URL with ``tthc-bot telegram set-webhook``.
- **polling**: PTB's updater long-polls ``getUpdates`` (small deployments, local tests).

Rendering: choices → an inline keyboard (callback data = the choice payload, ≤ 64 bytes),
https links → URL buttons, images → ``sendPhoto``, files → ``sendDocument``; text longer
than 4,096 characters is split at paragraph boundaries (the keyboard goes on the last part).
Inbound: text (``/start`` → the start event), button presses, photos, documents, audio,
video, location and shared contacts.

Sending goes through PTB's ``AIORateLimiter`` (about 30 messages/s overall, 20/min per
group) plus a per-chat limiter (about 1/s with a small burst); a 429 is retried after its
``retry_after`` up to ``max_retries`` times; a 403 (the citizen blocked the bot) is a
permanent :class:`SendError` that marks the identity unreachable.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
import os
import warnings
from typing import Any, Sequence

# Opt in to PTB's coming behaviour (durations such as RetryAfter.retry_after as timedelta);
# the code below reads both forms, and the opt-in silences the deprecation warnings.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from aiolimiter import AsyncLimiter  # noqa: E402
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.warnings import PTBDeprecationWarning
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram._utils.defaultvalue import DefaultValue
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, TypeHandler

from bot.channels.base import FetchedFile, FetchError, Handle, SendError, SendResult
from bot.channels.common import PlatformChannel
from bot.clock import Clock
from bot.config import Config
from bot.messages import (
    Attachment,
    Contact,
    ConversationKey,
    Incoming,
    Kind,
    Location,
    Reply,
    split_text,
)
from storage.db import Database

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024
ALLOWED_UPDATES = ["message", "callback_query"]


class ChatRateLimiter(AIORateLimiter):
    """PTB's limiter (overall and per group) plus a per-private-chat limit."""

    def __init__(self, *, per_chat_rate: float, per_chat_burst: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._per_chat_burst = per_chat_burst
        self._per_chat_period = per_chat_burst / per_chat_rate
        self._chat_limiters: dict[int, AsyncLimiter] = {}

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        if len(self._chat_limiters) > 1024:
            for cid, lim in list(self._chat_limiters.items()):
                if cid != chat_id and lim.has_capacity(lim.max_rate):
                    del self._chat_limiters[cid]
        lim = self._chat_limiters.get(chat_id)
        if lim is None:
            lim = self._chat_limiters[chat_id] = AsyncLimiter(self._per_chat_burst, self._per_chat_period)
        return lim

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # type: ignore[override]
        try:
            chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = 0
        if chat_id > 0:  # a private chat (groups are negative and limited by the parent)
            async with self._chat_limiter(chat_id):
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


_JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """PTB's networking backend for the Bot API calls (sendMessage, answerCallbackQuery,
    getFile, ...) on aiohttp, which the service already runs on, instead of httpx: the
    same requests for a fraction of the CPU (httpx was the largest cost of a Telegram
    message). PTB keeps everything else: types, rate limiter, retries, error mapping.
    Webhook mode; long polling keeps PTB's default backend."""

    def __init__(self, timeout: float, pool_size: int = 256) -> None:
        self._timeout = timeout
        self._pool_size = pool_size
        self._session: Any = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE,
                         write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        def pick(value: Any) -> float | None:
            return self._timeout if isinstance(value, DefaultValue) else value

        read, write, connect, pool = (pick(v) for v in (read_timeout, write_timeout, connect_timeout,
                                                        pool_timeout))
        # aiohttp's "connect" covers waiting for a pooled connection and opening one
        timeout = aiohttp.ClientTimeout(
            total=None, connect=None if connect is None or pool is None else connect + pool,
            sock_read=max(x for x in (read, write) if x is not None) if (read or write) else None)
        data: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            files = request_data.multipart_data
            fields = request_data.json_parameters
            if files:
                data = aiohttp.FormData()
                for name, value in fields.items():
                    data.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    data.add_field(name, content, filename=filename, content_type=mime)
            elif fields:
                # JSON, which the Bot API takes for every method without a file: one C-level
                # encode instead of percent-encoding each character of the (Vietnamese) text
                # and of the JSON-encoded keyboard, which was the largest part of a send's CPU
                data = json.dumps(request_data.parameters, ensure_ascii=False,
                                  separators=(",", ":")).encode()
                headers = _JSON_HEADERS
        try:
            async with self._session.request(method, url, data=data, headers=headers,
                                             timeout=timeout) as resp:
                return resp.status, await resp.read()
        except asyncio.TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def build_application(config: Config, *, with_updater: bool) -> Application:
    t = config.telegram
    limiter = ChatRateLimiter(
        overall_max_rate=t.overall_messages_per_second, overall_time_period=1,
        group_max_rate=t.group_messages_per_minute, group_time_period=60,
        max_retries=t.max_retries,
        per_chat_rate=t.per_chat_messages_per_second, per_chat_burst=t.per_chat_burst)
    builder: ApplicationBuilder = (
        ApplicationBuilder().token(t.token).base_url(t.api_base_url).base_file_url(t.file_base_url)
        .rate_limiter(limiter).job_queue(None)
    )
    if with_updater:  # polling (small deployments): PTB's own backend for both
        builder = (builder.connect_timeout(t.request_timeout_seconds).read_timeout(t.request_timeout_seconds)
                   .write_timeout(t.request_timeout_seconds).pool_timeout(t.request_timeout_seconds)
                   .get_updates_read_timeout(t.poll_timeout_seconds + 10))
    else:
        builder = builder.request(AiohttpRequest(t.request_timeout_seconds)).updater(None)
    return builder.build()


class TelegramChannel(PlatformChannel):
    name = "telegram"

    def __init__(self, handle: Handle, db: Database, clock: Clock, config: Config) -> None:
        super().__init__(handle, db, clock)
        self.config = config
        self.cfg = config.telegram
        self.polling = self.cfg.mode == "polling"
        self.application = build_application(config, with_updater=self.polling)
        self._initialized = False

    @property
    def bot(self) -> Bot:
        return self.application.bot

    # -- lifecycle ---------------------------------------------------------------------
    async def _ensure_initialized(self) -> None:
        if not self._initialized:
            await self.application.initialize()  # getMe: checks the token
            self._initialized = True

    async def start(self) -> None:
        self._stopping = False
        try:
            await self._ensure_initialized()
        except TelegramError as exc:
            log.error("telegram: the Bot API refused or is unreachable; will retry on first send",
                      extra={"error": type(exc).__name__})
            if not self.polling:
                return
            raise
        if self.polling:
            self.application.add_handler(TypeHandler(Update, self._on_polled_update))
            await self.application.start()
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                timeout=self.cfg.poll_timeout_seconds, allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False)
            log.info("telegram polling started")

    async def stop(self) -> None:
        if self.polling and self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.stop_tasks()
        if self._initialized:
            await self.application.shutdown()
            self._initialized = False

    async def fetch_file(self, ref: str, *, max_bytes: int) -> FetchedFile:
        """A file the citizen sent, by its file id (``getFile``, then the file URL; the
        Bot API serves files up to 20 MB)."""
        try:
            await self._ensure_initialized()
            tg_file = await self.bot.get_file(ref)
            if (tg_file.file_size or 0) > max_bytes:
                raise FetchError("too large")
            data = await tg_file.download_as_bytearray()
        except TelegramError as exc:
            raise FetchError(f"telegram: {type(exc).__name__}") from None
        if len(data) > max_bytes:
            raise FetchError("too large")
        return FetchedFile(bytes(data), mimetypes.guess_type(tg_file.file_path or "")[0] or "")

    def routes(self) -> list[web.RouteDef]:
        return [] if self.polling else [web.post(self.cfg.webhook_path, self.webhook)]

    # -- inbound -----------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.cfg.webhook_secret or not hmac.compare_digest(given.encode(), self.cfg.webhook_secret.encode()):
            log.warning("telegram webhook with a bad or missing secret", extra={"ip": request.remote})
            return web.Response(status=401)
        try:
            data = json.loads(await request.read())
            update_id = int(data["update_id"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return web.Response(status=400)
        incoming = self.parse(data)
        if incoming is None:
            return web.Response(status=200)
        await self.accept(str(update_id), data, incoming)
        query_id = _callback_query_id(data)
        if query_id:
            # A button press is answered in the webhook's own response (the Bot API runs a
            # method given there): the spinner stops at once, and no answerCallbackQuery
            # request of its own. Telegram reports nothing back, which is fine: the answer
            # only stops the spinner. Polling has no response to carry it (after_handled).
            return web.json_response({"method": "answerCallbackQuery", "callback_query_id": query_id})
        return web.Response(status=200)

    async def _on_polled_update(self, update: object, _context: Any) -> None:
        """Polling: PTB hands us each update; handled like a webhook update but with no
        inbox (Telegram keeps it until the next getUpdates confirms it)."""
        if isinstance(update, Update):
            self.spawn(self.process(update.to_dict()), "update")

    def parse(self, data: dict[str, Any]) -> Incoming | None:
        try:
            update = Update.de_json(data, self.bot)
            msg = to_incoming(update, self.name) if update is not None else None
        except Exception as exc:  # wrong types anywhere in a hostile or broken update
            log.warning("telegram update not understood", extra={"error": type(exc).__name__})
            return None
        if msg is not None and not msg.key.chat_id.lstrip("-").isdigit():
            log.warning("telegram update not understood", extra={"error": "chat id"})
            return None
        return msg

    async def after_handled(self, payload: dict[str, Any], incoming: Incoming) -> None:
        query_id = _callback_query_id(payload) if self.polling else ""  # webhook: answered in its response
        if query_id:
            try:  # stops the button's spinner; not essential
                await self.bot.answer_callback_query(query_id)
            except TelegramError as exc:
                log.info("answerCallbackQuery failed", extra={"error": type(exc).__name__})

    # -- outbound ----------------------------------------------------------------------
    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        try:
            await self._ensure_initialized()
        except TelegramError as exc:
            raise _send_error(exc) from None
        chat_id = int(key.chat_id)
        ids: list[str] = []
        for reply in replies:
            for att in reply.attachments:
                caption = (att.caption or "")[:CAPTION_LIMIT] or None
                ids.append(await self._call(
                    self.bot.send_photo(chat_id, photo=att.url, caption=caption) if att.kind == "image"
                    else self.bot.send_document(chat_id, document=att.url, caption=caption)))
            text, markup = render(reply)
            if not text and markup is None:
                continue
            chunks = split_text(text or "…", TEXT_LIMIT)
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                ids.append(await self._call(self.bot.send_message(
                    chat_id, chunk, reply_markup=markup if last else None)))
        return SendResult(tuple(ids))

    async def _call(self, coro: Any) -> str:
        try:
            message = await coro
        except TelegramError as exc:
            raise _send_error(exc) from None
        return str(getattr(message, "message_id", ""))


def _callback_query_id(update: dict[str, Any]) -> str:
    query = update.get("callback_query")
    return str(query.get("id") or "") if isinstance(query, dict) else ""


def render(reply: Reply) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and inline keyboard of a reply: one button per row (Vietnamese labels are
    long); https links as URL buttons, other links as text lines."""
    rows: list[list[InlineKeyboardButton]] = [
        [InlineKeyboardButton(c.label, callback_data=c.payload)] for c in reply.choices]
    text_links = []
    for link in reply.links:
        if link.url.startswith("https://"):
            rows.append([InlineKeyboardButton(link.label, url=link.url)])
        else:
            text_links.append(f"{link.label}: {link.url}")
    text = "\n\n".join(p for p in (reply.text, "\n".join(text_links)) if p)
    return text, Keyboard(rows) if rows else None


class Keyboard(InlineKeyboardMarkup):
    """An inline keyboard of :func:`render`'s buttons (text with callback data or a URL), whose
    ``to_dict`` builds the Bot API's JSON directly: PTB's generic one walks every slot of
    every button and was a quarter of a send's CPU. The same dict PTB gives for such
    buttons (their set fields only)."""

    __slots__ = ()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        return {"inline_keyboard": [[_button_dict(b) for b in row] for row in self.inline_keyboard]}


def _button_dict(button: InlineKeyboardButton) -> dict[str, Any]:
    if button.callback_data is not None:
        return {"text": button.text, "callback_data": button.callback_data}
    return {"text": button.text, "url": button.url}


def _send_error(exc: TelegramError) -> SendError:
    if isinstance(exc, Forbidden):  # "bot was blocked by the user", "user is deactivated"
        return SendError(str(exc), permanent=True, code="blocked")
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # v22.2+: the type moves to timedelta; accept both
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            retry = exc.retry_after
        seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
        return SendError("rate limited", retry_after=seconds, code="rate_limited")
    if isinstance(exc, InvalidToken):
        return SendError("the bot token was refused", code="invalid_token")
    if isinstance(exc, BadRequest) and "chat not found" in str(exc).lower():
        return SendError(str(exc), permanent=True, code="chat_not_found")
    if isinstance(exc, BadRequest):
        return SendError(str(exc), code="bad_request")
    return SendError(f"telegram: {type(exc).__name__}", code="network")


def to_incoming(update: Update, channel: str = "telegram") -> Incoming | None:
    """A PTB update as a platform-neutral message (None: nothing for the core)."""
    uid = str(update.update_id)
    query = update.callback_query
    if query is not None:
        user = query.from_user
        chat_id = query.message.chat.id if query.message is not None else user.id
        return Incoming(ConversationKey(channel, str(chat_id), str(user.id)), Kind.CHOICE,
                        choice=query.data or "", update_id=uid, display_name=user.full_name,
                        locale=user.language_code or "")
    msg = update.message
    if msg is None or msg.from_user is None:
        return None  # edits, channel posts, member updates: nothing to answer
    user = msg.from_user
    base: dict[str, Any] = {
        "key": ConversationKey(channel, str(msg.chat.id), str(user.id)), "update_id": uid,
        "display_name": user.full_name, "locale": user.language_code or "", "received_at": msg.date}
    if msg.text is not None:
        if msg.text == "/start" or msg.text.startswith("/start "):
            return Incoming(kind=Kind.EVENT, event="start", **base)
        return Incoming(kind=Kind.TEXT, text=msg.text.strip(), **base)
    caption = (msg.caption or "").strip()
    if msg.photo:
        p = msg.photo[-1]  # the largest size
        att = Attachment("image", p.file_id, mime_type="image/jpeg", size=p.file_size)
        return Incoming(kind=Kind.ATTACHMENT, text=caption, attachments=(att,), **base)
    for media, kind in ((msg.document, "file"), (msg.audio, "audio"), (msg.voice, "audio"),
                        (msg.video, "video")):
        if media is not None:
            att = Attachment(kind, media.file_id, name=getattr(media, "file_name", None) or "",
                             mime_type=getattr(media, "mime_type", None) or "",
                             size=getattr(media, "file_size", None))
            return Incoming(kind=Kind.ATTACHMENT, text=caption, attachments=(att,), **base)
    if msg.location is not None:
        loc = msg.location
        address = msg.venue.address if msg.venue is not None else ""
        return Incoming(kind=Kind.LOCATION, location=Location(loc.latitude, loc.longitude, address), **base)
    if msg.contact is not None:
        c = msg.contact
        name = " ".join(p for p in (c.first_name, c.last_name) if p)
        return Incoming(kind=Kind.CONTACT, contact=Contact(c.phone_number, name,
                                                          str(c.user_id) if c.user_id else ""), **base)
    if msg.sticker is not None:
        att = Attachment("image", msg.sticker.file_id, mime_type="image/webp")
        return Incoming(kind=Kind.ATTACHMENT, attachments=(att,), **base)
    return None


async def set_webhook(config: Config, url: str, *, drop_pending: bool = False) -> bool:
    app = build_application(config, with_updater=False)
    async with app.bot as bot:
        return await bot.set_webhook(url, secret_token=config.telegram.webhook_secret or None,
                                     allowed_updates=ALLOWED_UPDATES, drop_pending_updates=drop_pending)


async def delete_webhook(config: Config, *, drop_pending: bool = False) -> bool:
    app = build_application(config, with_updater=False)
    async with app.bot as bot:
        return await bot.delete_webhook(drop_pending_updates=drop_pending)


async def webhook_info(config: Config) -> dict[str, Any]:
    app = build_application(config, with_updater=False)
    async with app.bot as bot:
        info = await bot.get_webhook_info()
    return {"url": info.url, "pending_update_count": info.pending_update_count,
            "last_error_message": info.last_error_message or ""}


