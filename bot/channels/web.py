"""The web chat channel: a mobile-friendly page at ``/`` and a small JSON API behind it.

- ``GET /`` — the chat page; sets the anonymous session cookie ``tthc_sid``.
- ``POST /api/chat`` — ``{"text": "..."}`` or ``{"choice": "<payload>"}``, plus ``"id"`` (a
  client-made message id: a retried POST is handled once) and ``"after"`` (the last
  message id the page has). Answers ``{"messages": [...], "last_id": N}``.
- ``GET /api/messages?after=N`` — messages for this session newer than N (staff answers,
  notifications); the page polls it.

The conversation key is (web, session id, session id). Proactive sends are written to the
message log, which is what the page reads.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Sequence

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.channels.base import Handle, Reachability, SendResult
from bot.config import Config
from bot.core import reply_payload
from bot.messages import ConversationKey, Incoming, Kind, Reply
from storage.db import Database
from storage.repos.core import CloseWith, LoggedMessage

log = logging.getLogger(__name__)

COOKIE = "tthc_sid"
_SID_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ASSETS = Path(__file__).resolve().parent.parent / "web"
COOKIE_MAX_AGE = 180 * 24 * 3600

TOO_LONG = "Tin nhắn quá dài (tối đa {limit} ký tự). Vui lòng rút gọn hoặc chia thành nhiều tin."
BAD_REQUEST = "Yêu cầu không hợp lệ. Vui lòng tải lại trang và thử lại."
EMPTY = "Vui lòng nhập nội dung tin nhắn."
SLOW_DOWN = "Bạn gửi tin nhắn hơi nhanh. Vui lòng chờ khoảng {seconds} giây rồi gửi tiếp."


class WebChannel:
    name = "web"

    def __init__(self, handle: Handle, db: Database, config: Config, clock) -> None:
        self._handle = handle
        self._db = db
        self._config = config
        self._clock = clock
        from bot.ops.limits import TokenBuckets

        # Per-session limit, per worker process (see bot/ops/limits.py for why).
        self.limiter = TokenBuckets(config.web.rate_limit_per_minute, config.web.rate_limit_burst)
        self._jinja = Environment(loader=FileSystemLoader(str(ASSETS)),
                                  autoescape=select_autoescape(["html"]))

    # -- Channel interface -------------------------------------------------------------
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def reachability(self, key: ConversationKey) -> Reachability:
        return Reachability.DIRECT

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        ids = []
        async with self._db.unit_of_work() as uow:
            ident = await uow.citizens.identity(self.name, key.user_id)
            for reply in replies:
                ids.append(str(await uow.messages.append(
                    key=key, citizen_id=ident.citizen_id if ident else None, direction="out",
                    kind="push", text=reply.text, payload=reply_payload(reply), now=self._clock.now())))
        return SendResult(tuple(ids))

    # -- HTTP --------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.page),
            web.post("/api/chat", self.post_message),
            web.get("/api/messages", self.get_messages),
            web.static("/static", str(ASSETS / "static")),
        ]

    def _session(self, request: web.Request) -> tuple[str, bool]:
        sid = request.cookies.get(COOKIE, "")
        if _SID_RE.match(sid):
            return sid, False
        return secrets.token_urlsafe(24), True

    def _set_cookie(self, response: web.StreamResponse, sid: str) -> None:
        response.set_cookie(COOKIE, sid, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax",
                            secure=self._config.web.cookie_secure, path="/")

    async def page(self, request: web.Request) -> web.Response:
        sid, new = self._session(request)
        html = self._jinja.get_template("chat.html").render(
            province=self._config.province, contact=self._config.contact,
            poll_ms=self._config.web.poll_interval_seconds * 1000,
            max_chars=self._config.web.max_message_chars)
        response = web.Response(text=html, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'self'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if new:
            self._set_cookie(response, sid)
        return response

    async def post_message(self, request: web.Request) -> web.Response:
        sid, new = self._session(request)
        try:
            body = await request.json(loads=json.loads)
        except web.HTTPRequestEntityTooLarge:  # the page reads JSON errors, not aiohttp's text
            return _error(413, TOO_LONG.format(limit=self._config.web.max_message_chars))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            return _error(400, BAD_REQUEST)
        if not isinstance(body, dict):
            return _error(400, BAD_REQUEST)
        text, choice, event = body.get("text", ""), body.get("choice", ""), body.get("event", "")
        client_id, after = body.get("id", ""), body.get("after", 0)
        if not isinstance(text, str) or not isinstance(choice, str) or not isinstance(client_id, str) \
                or not isinstance(after, int) or isinstance(after, bool):
            return _error(400, BAD_REQUEST)
        limit = self._config.web.max_message_chars
        if len(text) > limit:
            return _error(413, TOO_LONG.format(limit=limit))
        if len(choice.encode("utf-8")) > 64 or (client_id and not _CLIENT_ID_RE.match(client_id)):
            return _error(400, BAD_REQUEST)
        if event not in ("", "start"):
            return _error(400, BAD_REQUEST)
        text = _clean(text)
        if not text and not choice and not event:
            return _error(400, EMPTY)
        wait = self.limiter.take(sid)
        if wait > 0:
            from bot.ops import metrics

            metrics.RATE_LIMITED.labels(self.name).inc()
            seconds = max(1, int(wait + 0.999))
            log.info("web chat message refused: rate limit", extra={"retry_after": seconds})
            response = _error(429, SLOW_DOWN.format(seconds=seconds))
            response.headers["Retry-After"] = str(seconds)
            return response
        key = ConversationKey(self.name, sid, sid)
        kind = Kind.EVENT if event else Kind.CHOICE if choice else Kind.TEXT
        msg = Incoming(key=key, kind=kind, text=text, choice=choice, event=event,
                       update_id=f"{sid}:{client_id}" if client_id else "")
        page = await self.handle_and_read(msg, sid, after)
        response = web.json_response(page) if page is not None else busy()
        if new:
            self._set_cookie(response, sid)
        return response

    async def get_messages(self, request: web.Request) -> web.Response:
        sid = request.cookies.get(COOKIE, "")
        if not _SID_RE.match(sid):
            return web.json_response({"messages": [], "last_id": 0})
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return _error(400, BAD_REQUEST)
        return web.json_response(await self._since(sid, after))

    async def handle_and_read(self, msg: Incoming, sid: str, after: int) -> dict[str, Any] | None:
        """Hand a message to the core and answer with the page's new messages (the replies,
        and anything pushed since ``after``), read in the message's own transaction; a
        retried POST (duplicate id) gets what the first one produced. None when the core
        could not handle it (database down, or the transaction failed at COMMIT: what was
        read then was never stored and is not shown).

        On PostgreSQL the page comes with the message's closing statement (the rows its log
        INSERT returns, with the older outgoing rows after ``after``); on SQLite and for a
        duplicate it is read separately, in the same transaction."""
        found: list[list[LoggedMessage]] = []
        cursor = max(after, 0)
        close_with = CloseWith(page_after=cursor)

        async def read(uow) -> None:
            if uow is None:  # rolled back: nothing read may be shown
                found.clear()
                return
            rows = close_with.page
            if rows is None:
                rows = await uow.messages.since(self.name, sid, cursor, direction="out")
            found.append(rows)

        read.close_with = close_with  # type: ignore[attr-defined]
        await self._handle(msg, read)
        return _page(found[0], after) if found else None

    async def _since(self, sid: str, after: int) -> dict[str, Any]:
        async with self._db.unit_of_work() as uow:
            rows = await uow.messages.since(self.name, sid, max(after, 0), direction="out")
        return _page(rows, after)


def _page(rows: list[LoggedMessage], after: int) -> dict[str, Any]:
    return {"messages": [_render(m) for m in rows], "last_id": rows[-1].id if rows else max(after, 0)}


def _render(m: LoggedMessage) -> dict[str, Any]:
    p = m.payload
    return {
        "id": m.id,
        "at": m.at.isoformat(),
        "text": m.text,
        "choices": [{"label": label, "payload": payload} for label, payload in p.get("choices", [])],
        "links": [{"label": label, "url": url} for label, url in p.get("links", [])
                  if url.startswith(("https://", "http://", "/"))],
        "attachments": [a for a in p.get("attachments", []) if str(a.get("url", "")).startswith(("https://", "http://", "/"))],
    }


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def _clean(text: str) -> str:
    """Drop control and invisible formatting characters; keep line breaks."""
    return _CONTROL.sub("", text).strip()


def busy() -> web.Response:
    """What the page gets when the database is unavailable (as the app's error middleware)."""
    from bot import texts

    return web.json_response({"error": texts.BUSY}, status=503, headers={"Retry-After": "10"})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
