"""Zalo Bot platform (bot token API): the second, optional Zalo mode.

API: ``{api_base_url}/bot<TOKEN>/<method>`` — ``getUpdates`` (long polling), ``setWebhook``
(with ``secret_token``), ``deleteWebhook``, ``sendMessage``, ``sendPhoto``. Polling and
webhook exclude each other on the platform: polling mode deletes the webhook first.

Inbound: the webhook checks ``X-Bot-Api-Secret-Token``; an update comes either wrapped
(``{"ok": true, "result": {...}}``) or bare. Events: ``message.text.received``,
``message.image.received``, ``message.sticker.received``, ``message.voice.received``;
``message.unsupported.received`` and unknown events are logged and acknowledged.
Outbound: no buttons on this platform, so choices are a numbered list (the core accepts
"2" or the label); text is at most 2,000 characters per message.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any, Mapping, Sequence

from aiohttp import web

from bot.channels.base import FetchedFile, Handle, SendError, SendResult
from bot.channels.common import PlatformChannel, parse_ms
from bot.channels.zalo_oa import HttpClient
from bot.clock import Clock
from bot.config import Config
from bot.messages import Attachment, ConversationKey, Incoming, Kind, Reply, numbered, split_text
from storage.db import Database

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
MEDIA_EVENTS = {"message.image.received": "image", "message.sticker.received": "image",
                "message.voice.received": "audio"}


def unwrap(body: Any) -> list[dict[str, Any]]:
    """The update(s) in a webhook body or a getUpdates answer: wrapped or bare, one or a list."""
    if isinstance(body, dict) and "result" in body and ("ok" in body or len(body) == 1):
        body = body["result"]
    if isinstance(body, dict):
        return [body] if body else []
    if isinstance(body, list):
        return [u for u in body if isinstance(u, dict)]
    return []


class ZaloBotChannel(PlatformChannel):
    name = "zalo_bot"

    def __init__(self, handle: Handle, db: Database, clock: Clock, config: Config) -> None:
        super().__init__(handle, db, clock)
        self.config = config
        self.cfg = config.zalo_bot
        self.polling = self.cfg.mode == "polling"
        self.http = HttpClient(self.cfg.request_timeout_seconds)
        self._poller: asyncio.Task[None] | None = None

    def url(self, method: str) -> str:
        return f"{self.cfg.api_base_url.rstrip('/')}/bot{self.cfg.token}/{method}"

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        if self.polling and self._poller is None:
            try:
                await self.call("deleteWebhook", {})
            except SendError as exc:
                log.warning("zalo bot: could not delete the webhook before polling",
                            extra={"code": exc.code})
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="zalo_bot:poll")

    async def stop(self) -> None:
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self.stop_tasks()
        await self.http.close()

    async def fetch_file(self, ref: str, *, max_bytes: int) -> FetchedFile:
        """A file the citizen sent: its ref is the platform URL of the upload."""
        return await self.http.download(ref, max_bytes=max_bytes)

    def routes(self) -> list[web.RouteDef]:
        return [] if self.polling else [web.post(self.cfg.webhook_path, self.webhook)]

    # -- inbound -----------------------------------------------------------------------
    async def webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.cfg.webhook_secret or not hmac.compare_digest(given.encode(), self.cfg.webhook_secret.encode()):
            log.warning("zalo bot webhook with a bad or missing secret", extra={"ip": request.remote})
            return web.json_response({"ok": False}, status=401)
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"ok": False}, status=400)
        for update in unwrap(body):
            incoming = self.parse(update)
            if incoming is None:
                log.info("zalo bot event not handled", extra={"event": str(update.get("event_name", ""))})
                continue
            await self.accept(incoming.update_id, update, incoming)
        return web.json_response({"ok": True})

    async def _poll(self) -> None:
        backoff = 1.0
        while not self._stopping:
            try:
                status, body = await self.http.request(
                    "POST", self.url("getUpdates"), json_body={"timeout": str(self.cfg.poll_timeout_seconds)},
                    timeout=self.cfg.poll_timeout_seconds + 10)
                if status == 408 or body.get("error_code") == 408:
                    continue  # the long poll ended without an update
                if status != 200 or body.get("ok") is False:
                    raise SendError(f"getUpdates answered {status}", code=f"http_{status}")
                backoff = 1.0
                for update in unwrap(body):
                    incoming = self.parse(update)
                    if incoming is not None:
                        self.spawn(self.process(update, incoming=incoming), "update")
            except asyncio.CancelledError:
                raise
            except SendError as exc:
                log.warning("zalo bot polling failed", extra={"code": exc.code, "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    def parse(self, update: Mapping[str, Any]) -> Incoming | None:
        try:
            return self._parse(update)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            # wrong types anywhere in a hostile or broken event: ignored, never a 500
            log.warning("zalo bot event not understood", extra={"error": type(exc).__name__})
            return None

    def _parse(self, update: Mapping[str, Any]) -> Incoming | None:
        message = update.get("message")
        if not isinstance(message, dict):
            return None
        event = str(update.get("event_name") or "")
        sender = message.get("from") or {}
        chat = message.get("chat") or {}
        user_id = str(sender.get("id") or chat.get("id") or "")
        chat_id = str(chat.get("id") or user_id)
        msg_id = str(message.get("message_id") or "")
        if not user_id or not msg_id or sender.get("is_bot"):
            return None
        base: dict[str, Any] = {
            "key": ConversationKey(self.name, chat_id, user_id), "update_id": msg_id,
            "display_name": str(sender.get("display_name") or sender.get("first_name") or sender.get("name") or "")}
        when = parse_ms(message.get("date"))
        if when is not None:
            base["received_at"] = when
        text = message.get("text")
        if event in ("", "message.text.received") and isinstance(text, str):
            if text.strip() == "/start":  # the platform has no start event; treat it as one
                return Incoming(kind=Kind.EVENT, event="start", **base)
            return Incoming(kind=Kind.TEXT, text=text.strip(), **base)
        if event in MEDIA_EVENTS:
            kind = MEDIA_EVENTS[event]
            url = str(message.get("photo_url") or message.get("voice_url") or message.get("url") or "")
            photo = message.get("photo")
            if not url and isinstance(photo, str):
                url = photo
            elif not url and isinstance(photo, list) and photo and isinstance(photo[-1], dict):
                url = str(photo[-1].get("url") or photo[-1].get("file_id") or "")
            ref = url or str(message.get("sticker") or msg_id)
            att = Attachment(kind, ref, url=url,
                             mime_type="image/jpeg" if event == "message.image.received" else "")
            return Incoming(kind=Kind.ATTACHMENT, text=str(message.get("caption") or "").strip(),
                            attachments=(att,), **base)
        return None

    # -- outbound ----------------------------------------------------------------------
    async def call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.http.request("POST", self.url(method), json_body=payload)
        if status == 200 and body.get("ok") is True:
            result = body.get("result")
            return result if isinstance(result, dict) else {}
        code = body.get("error_code", status)
        description = str(body.get("description", ""))[:100]
        if code in (401, 403) and method.startswith("send") and "token" not in description.lower():
            # [I] the platform documents no error codes; 403 on a send is read as "blocked"
            raise SendError(f"zalo bot {method}: {description}", permanent=True, code="blocked")
        if code == 429:
            retry = (body.get("parameters") or {}).get("retry_after", 5)
            raise SendError("zalo bot rate limit", retry_after=float(retry), code="rate_limited")
        raise SendError(f"zalo bot {method}: {code} {description}", code=f"zalo_bot_{code}")

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        ids = []
        for reply, start in numbered(replies):  # "2" means the same on every reply of the turn
            for att in reply.attachments:
                if att.kind == "image":
                    payload = {"chat_id": key.chat_id, "photo": att.url}
                    if att.caption:
                        payload["caption"] = att.caption[: self.cfg.max_text_chars]
                    ids.append(str((await self.call("sendPhoto", payload)).get("message_id", "")))
            text = reply.as_text(start=start)
            files = [f"{a.caption or a.name or 'Tệp đính kèm'}: {a.url}" for a in reply.attachments
                     if a.kind != "image"]
            if files:
                text = "\n\n".join(p for p in (text, "\n".join(files)) if p)
            if not text:
                continue
            for chunk in split_text(text, self.cfg.max_text_chars):
                result = await self.call("sendMessage", {"chat_id": key.chat_id, "text": chunk})
                ids.append(str(result.get("message_id", "")))
        return SendResult(tuple(ids))

    async def set_webhook(self, url: str) -> dict[str, Any]:
        return await self.call("setWebhook", {"url": url, "secret_token": self.cfg.webhook_secret})

    async def delete_webhook(self) -> dict[str, Any]:
        return await self.call("deleteWebhook", {})
