"""Zalo Official Account (Open API v3): the main Zalo channel.

Inbound: ``POST <zalo_oa.webhook_path>`` with the header
``X-ZEvent-Signature: mac=<hex>``, hex = sha256(app_id + raw body + timestamp + OA secret
key) (plain SHA-256; the timestamp is the one in the body). A good event is stored and
answered 200 at once (Zalo wants an answer within 2 s and re-delivers after 30 s, 5 min,
...), then handled in the background (see :mod:`bot.channels.common`). Handled events:
``user_send_text``, ``user_send_image``, ``user_send_file``, ``user_send_location``,
``user_send_sticker``/``gif``/``audio``/``video``/``link``, ``user_submit_info`` (shared
contact), ``follow`` and ``unfollow``; the OA's own echo events and delivery receipts are
ignored, unknown events are logged and acknowledged.

Outbound: ``POST {api_base_url}/v3.0/oa/message/cs`` with the ``access_token`` header.
Zalo answers errors with HTTP 200 and ``error != 0``: -216 (bad token: refresh once and
try again), -230 (no interaction for 7 days: permanent for normal messages), -234 (night
ban: retry after its end; proactive messages are not even tried between
``night_ban_start`` and ``night_ban_end``, see :meth:`ZaloOAChannel.proactive_hold`), -32
(rate limit: retry later). Choices become a numbered list
(the core accepts "2" or the label), images go as a media attachment, files as links.

Tokens (:class:`ZaloTokens`): the pair lives in the database; a refresh happens under an
in-process lock and a row lock, re-reads the row first (another worker may have refreshed
already), persists the new pair before it is used, and starts ``refresh_early_minutes``
before expiry — so one refresh token is never sent twice.

Messaging window (:meth:`ZaloOAChannel.reach`): DIRECT within ``free_window_hours`` of the
citizen's last message (free), DIRECT but ``paid`` up to ``extended_window_days`` when
``use_extended_window``; then TEMPLATE when a template is configured (sent with
:meth:`ZaloOAChannel.send_template`), else UNREACHABLE.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Mapping, Sequence

import aiohttp
from aiohttp import web

from bot.channels.base import FetchedFile, FetchError, Handle, Reachability, SendError, SendResult
from bot.channels.common import PlatformChannel, parse_ms
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
    numbered,
    split_text,
)
from storage.db import Database
from storage.repos.channels import TokenPair, ZaloTokens as TokenRepo

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ZEvent-Signature"

# Zalo's error codes (HTTP 200, "error" != 0) [V from public integrations].
ERR_TOKEN = -216
ERR_NO_INTERACTION = -230
ERR_NIGHT_BAN = -234
ERR_RATE_LIMIT = -32

# Events the OA itself causes (echoes of our messages, receipts): nothing to do.
IGNORED_PREFIXES = ("oa_send_", "user_received_message", "user_seen_message", "user_reacted_message",
                    "oa_reacted_message")
ATTACHMENT_EVENTS = {
    "user_send_image": "image", "user_send_gif": "image", "user_send_sticker": "image",
    "user_send_file": "file", "user_send_audio": "audio", "user_send_video": "video",
}
HARD_UNREACHABLE = ("unfollowed", "blocked")
WINDOW_CLOSED = "zalo_window_closed"


@dataclass(frozen=True)
class Reach:
    """How a Zalo citizen can be reached now, and why."""

    reachability: Reachability
    paid: bool = False  # DIRECT in the extended window: limited/paid consultation message
    window_ends_at: datetime | None = None  # when the current means stops working
    reason: str = ""


class ZaloTokens:
    """The OA access token, refreshed under one lock (in this process and in the database)."""

    def __init__(self, db: Database, clock: Clock, cfg: Config, http: "HttpClient") -> None:
        self._db = db
        self._clock = clock
        self._cfg = cfg.zalo_oa
        self._http = http
        self._lock = asyncio.Lock()
        self._cached: TokenPair | None = None

    @property
    def trust_given_token(self) -> timedelta:
        """How long an access token typed in by an operator is used before refreshing."""
        return timedelta(minutes=self._cfg.refresh_early_minutes + 60)

    @property
    def app_id(self) -> str:
        return self._cfg.app_id

    def _fresh(self, pair: TokenPair | None, stale: str | None) -> bool:
        if pair is None or not pair.access_token or pair.access_token == stale:
            return False
        early = timedelta(minutes=self._cfg.refresh_early_minutes)
        return pair.access_expires_at - early > self._clock.now()

    async def seed_from_config(self) -> bool:
        """Store the configured first pair when the database has none."""
        if not self._cfg.refresh_token and not self._cfg.access_token:
            return False
        now = self._clock.now()
        # A configured access token is of unknown age: used for an hour, then refreshed.
        expires = now + self.trust_given_token if self._cfg.access_token else now
        pair = TokenPair(self._cfg.access_token, self._cfg.refresh_token, expires,
                         now + timedelta(days=self._cfg.refresh_token_lifetime_days), 0)
        async with self._db.unit_of_work() as uow:
            stored = await uow.repo(TokenRepo).seed(self.app_id, pair, now)
        if stored:
            log.info("zalo oa token pair stored from the configuration")
        return stored

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid access token; ``stale`` is a token the API just rejected (-216)."""
        if self._fresh(self._cached, stale):
            return self._cached.access_token  # type: ignore[union-attr]
        async with self._lock:
            if self._fresh(self._cached, stale):
                return self._cached.access_token  # type: ignore[union-attr]
            async with self._db.unit_of_work() as uow:
                repo = uow.repo(TokenRepo)
                pair = await repo.get(self.app_id, lock=True)
                if pair is None:
                    raise SendError("no Zalo OA token pair stored", code="zalo_no_token")
                if self._fresh(pair, stale):  # another worker refreshed meanwhile
                    self._cached = pair
                    return pair.access_token
                new = await self._refresh(pair.refresh_token)
                await repo.store(self.app_id, new, self._clock.now())
            # committed: the new pair is safe in the database before anyone uses it
            self._cached = new
            log.info("zalo oa access token refreshed",
                     extra={"expires_at": new.access_expires_at.isoformat()})
            return new.access_token

    async def refresh_if_due(self) -> None:
        """Scheduler job: keeps the pair fresh even when the bot is quiet (a refresh token
        unused for months expires)."""
        try:
            await self.access_token()
        except SendError as exc:
            log.error("zalo oa token refresh failed", extra={"code": exc.code})

    async def _refresh(self, refresh_token: str) -> TokenPair:
        if not refresh_token:
            raise SendError("no Zalo OA refresh token", code="zalo_no_token")
        url = self._cfg.oauth_base_url.rstrip("/") + "/v4/oa/access_token"
        status, body = await self._http.request(
            "POST", url, headers={"secret_key": self._cfg.app_secret},
            data={"refresh_token": refresh_token, "app_id": self.app_id, "grant_type": "refresh_token"})
        if status != 200 or not body.get("access_token") or not body.get("refresh_token"):
            log.error("zalo oa refresh token rejected: set a new token pair "
                      "(tthc-bot zalo-oa set-tokens)",
                      extra={"status": status, "error": body.get("error"),
                             "error_name": body.get("error_name")})
            raise SendError("Zalo OA token refresh failed", code="zalo_token_refresh_failed")
        now = self._clock.now()
        try:
            lifetime = timedelta(seconds=int(str(body.get("expires_in"))))
        except (TypeError, ValueError):
            lifetime = timedelta(hours=self._cfg.access_token_lifetime_hours)
        return TokenPair(str(body["access_token"]), str(body["refresh_token"]), now + lifetime,
                         now + timedelta(days=self._cfg.refresh_token_lifetime_days), 0)


class HttpClient:
    """A small JSON-over-HTTP client (one aiohttp session) for the Zalo APIs."""

    def __init__(self, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                      json_body: Any = None, data: Any = None,
                      timeout: float | None = None) -> tuple[int, dict[str, Any]]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        kwargs: dict[str, Any] = {"headers": dict(headers or {})}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
        try:
            async with self._session.request(method, url, **kwargs) as resp:
                text = await resp.text()
                try:
                    body = json.loads(text) if text else {}
                except json.JSONDecodeError:
                    body = {}
                return resp.status, body if isinstance(body, dict) else {"result": body}
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise SendError(f"network error: {type(exc).__name__}", code="network") from None

    async def download(self, url: str, *, max_bytes: int) -> FetchedFile:
        """GET a file (a platform CDN URL) into memory, refusing more than ``max_bytes``."""
        if not url.startswith(("https://", "http://")):
            raise FetchError("not a URL")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(url) as resp:
                if resp.status != 200:
                    raise FetchError(f"HTTP {resp.status}")
                if (resp.content_length or 0) > max_bytes:
                    raise FetchError("too large")
                data = await resp.content.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise FetchError("too large")
                return FetchedFile(data, resp.content_type if resp.content_type != "application/octet-stream"
                                   else "")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise FetchError(f"network error: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class ZaloOAChannel(PlatformChannel):
    name = "zalo_oa"

    def __init__(self, handle: Handle, db: Database, clock: Clock, config: Config) -> None:
        super().__init__(handle, db, clock)
        self.config = config
        self.cfg = config.zalo_oa
        self.http = HttpClient(self.cfg.request_timeout_seconds)
        self.tokens = ZaloTokens(db, clock, config, self.http)

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        await self.tokens.seed_from_config()
        async with self._db.unit_of_work() as uow:
            if await uow.repo(TokenRepo).get(self.tokens.app_id) is None:
                log.error("zalo oa has no token pair: it receives but cannot answer until one "
                          "is stored (zalo_oa.refresh_token or tthc-bot zalo-oa set-tokens)")

    async def stop(self) -> None:
        await self.stop_tasks()
        await self.http.close()

    async def fetch_file(self, ref: str, *, max_bytes: int) -> FetchedFile:
        """A file the citizen sent: its ref is the Zalo CDN URL of the upload."""
        return await self.http.download(ref, max_bytes=max_bytes)

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.cfg.webhook_path, self.webhook)]

    # -- inbound -----------------------------------------------------------------------
    def verify(self, raw: bytes, body: Mapping[str, Any], header: str) -> bool:
        header = header.strip()
        if not header.startswith("mac="):
            return False
        timestamp = str(body.get("timestamp", ""))
        expected = hashlib.sha256(self.cfg.app_id.encode() + raw + timestamp.encode()
                                  + self.cfg.oa_secret_key.encode()).hexdigest()
        return hmac.compare_digest(header[4:].strip().lower(), expected)

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "bad request"}, status=400)
        if not isinstance(body, dict) or not self.verify(raw, body, request.headers.get(SIGNATURE_HEADER, "")):
            log.warning("zalo oa webhook with a bad or missing signature", extra={"ip": request.remote})
            return web.json_response({"error": "invalid signature"}, status=401)
        event = str(body.get("event_name", ""))
        incoming = self.parse(body)
        if incoming is None:
            if not event.startswith(IGNORED_PREFIXES):
                log.info("zalo oa event not handled", extra={"event": event})
            return web.json_response({"ok": True})
        await self.accept(incoming.update_id, body, incoming)
        return web.json_response({"ok": True})

    def parse(self, body: Mapping[str, Any]) -> Incoming | None:
        try:
            return self._parse(body)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            # wrong types anywhere in a hostile or broken event: ignored, never a 500
            log.warning("zalo oa event not understood", extra={"error": type(exc).__name__})
            return None

    def _parse(self, body: Mapping[str, Any]) -> Incoming | None:
        event = str(body.get("event_name", ""))
        if event in ("follow", "unfollow"):
            user_id = str((body.get("follower") or {}).get("id") or body.get("user_id_by_app") or "")
        else:
            user_id = str((body.get("sender") or {}).get("id") or "")
        if not user_id or event.startswith(IGNORED_PREFIXES):
            return None
        message = body.get("message") or {}
        if not isinstance(message, dict):
            message = {}
        timestamp = str(body.get("timestamp", ""))
        msg_id = str(message.get("msg_id") or message.get("mid") or "")
        update_id = msg_id or f"{event}:{user_id}:{timestamp}"
        key = ConversationKey(self.name, user_id, user_id)
        base: dict[str, Any] = {"key": key, "update_id": update_id}
        when = parse_ms(timestamp)
        if when is not None:
            base["received_at"] = when
        text = str(message.get("text") or "")
        attachments = [a for a in (message.get("attachments") or []) if isinstance(a, dict)]

        if event in ("follow", "unfollow"):
            return Incoming(kind=Kind.EVENT, event=event, **base)
        if event == "user_send_text":
            return Incoming(kind=Kind.TEXT, text=text.strip(), **base)
        if event == "user_send_link":
            url = next((str((a.get("payload") or {}).get("url", "")) for a in attachments), "")
            return Incoming(kind=Kind.TEXT, text=(text or url).strip(), **base)
        if event == "user_send_location":
            loc = _location(message, attachments)
            return Incoming(kind=Kind.LOCATION, location=loc, **base) if loc else None
        if event in ATTACHMENT_EVENTS:
            kind = ATTACHMENT_EVENTS[event]
            atts = tuple(_attachment(kind, a.get("payload") or {}, msg_id, i)
                         for i, a in enumerate(attachments))
            if not atts:
                return None
            return Incoming(kind=Kind.ATTACHMENT, text=text.strip(), attachments=atts, **base)
        if event == "user_submit_info":
            info = body.get("info") or {}
            phone = str(info.get("phone") or "")
            if not phone:
                return None
            return Incoming(kind=Kind.CONTACT, contact=Contact(phone, str(info.get("name") or ""), user_id),
                            **base)
        return None

    # -- outbound ----------------------------------------------------------------------
    def render(self, reply: Reply, start: int = 1) -> list[dict[str, Any]]:
        """The reply as Zalo ``message`` objects: images first, then the text with its
        choices numbered from ``start`` and links (split at ``max_text_chars``)."""
        out: list[dict[str, Any]] = []
        file_lines = []
        for att in reply.attachments:
            if att.kind == "image":
                out.append({"attachment": {"type": "template", "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "url": att.url}]}}})
                if att.caption:
                    out.append({"text": att.caption[: self.cfg.max_text_chars]})
            else:  # sending a file needs an upload first; a link reaches the citizen as well
                file_lines.append(f"{att.caption or att.name or 'Tệp đính kèm'}: {att.url}")
        text = reply.as_text(start=start)
        if file_lines:
            text = "\n\n".join(p for p in (text, "\n".join(file_lines)) if p)
        if text:
            out.extend({"text": chunk} for chunk in split_text(text, self.cfg.max_text_chars))
        return out

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        ids = []
        for reply, start in numbered(replies):  # "2" means the same on every reply of the turn
            for message in self.render(reply, start):
                body = await self._call(self.cfg.api_base_url.rstrip("/") + "/v3.0/oa/message/cs",
                                        {"recipient": {"user_id": key.user_id}, "message": message})
                ids.append(str((body.get("data") or {}).get("message_id", "")))
        return SendResult(tuple(ids))

    async def send_template(self, key: ConversationKey, template_id: str, params: Mapping[str, Any],
                            *, tracking_id: str = "") -> SendResult:
        """An approved template message (ZNS/ZBS) — reaches a citizen outside the messaging
        window. ``params`` fill the template; a ``phone`` entry (84xxxxxxxxx) addresses the
        message by phone number, otherwise it goes to the Zalo user id [I: check which the
        OA's template contract allows]."""
        if not template_id:
            raise SendError("no template id", permanent=True, code="zalo_no_template")
        data = {k: str(v) for k, v in params.items() if k != "phone"}
        body: dict[str, Any] = {"template_id": template_id, "template_data": data,
                                "tracking_id": tracking_id or f"{key.user_id}-{int(self._clock.now().timestamp())}"}
        if params.get("phone"):
            body["phone"] = str(params["phone"])
        else:
            body["user_id"] = key.user_id
        result = await self._call(self.cfg.template_base_url.rstrip("/") + self.cfg.template_path, body)
        return SendResult((str((result.get("data") or {}).get("msg_id", "")),))

    async def _call(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        token = await self.tokens.access_token()
        for attempt in (1, 2):
            status, body = await self.http.request("POST", url, headers={"access_token": token},
                                                   json_body=payload)
            if status >= 500 or status == 429:
                raise SendError(f"Zalo answered HTTP {status}", code=f"http_{status}",
                                retry_after=float(self.cfg.rate_limit_retry_seconds) if status == 429 else None)
            if status != 200:
                raise SendError(f"Zalo answered HTTP {status}", code=f"http_{status}")
            try:
                error = int(body.get("error", 0))
            except (TypeError, ValueError):
                error = -1
            if error == 0:
                return body
            if error == ERR_TOKEN and attempt == 1:
                token = await self.tokens.access_token(stale=token)
                continue
            raise self._error(error, str(body.get("message", "")))
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, error: int, message: str) -> SendError:
        if error == ERR_NO_INTERACTION:
            return SendError("citizen has not written for 7 days", permanent=True, code=WINDOW_CLOSED)
        if error == ERR_NIGHT_BAN:
            return SendError("night-time sending ban", code="zalo_night_ban",
                             retry_after=self._seconds_until_ban_ends())
        if error == ERR_RATE_LIMIT:
            return SendError("rate limit", code="zalo_rate_limited",
                             retry_after=float(self.cfg.rate_limit_retry_seconds))
        if error == ERR_TOKEN:
            return SendError("access token rejected", code="zalo_token")
        return SendError(f"Zalo error {error}: {message[:100]}", code=f"zalo_{error}")

    def _seconds_until_ban_ends(self) -> float:
        tz = self.config.tz
        now = self._clock.now().astimezone(tz)
        hh, mm = (int(x) for x in self.cfg.night_ban_end.split(":"))
        end = datetime.combine(now.date(), time(hh, mm), tz)
        if end <= now:
            end += timedelta(days=1)
        return (end - now).total_seconds()

    def in_night_ban(self) -> bool:
        """Now (local time) is within ``night_ban_start``–``night_ban_end``."""
        local = self._clock.now().astimezone(self.config.tz).time()
        start, end = (time(*(int(x) for x in v.split(":")))
                      for v in (self.cfg.night_ban_start, self.cfg.night_ban_end))
        if start == end:
            return False
        return start <= local < end if start < end else (local >= start or local < end)

    def proactive_hold(self) -> tuple[str, float] | None:
        """For proactive sends (the outbox): Zalo refuses OA messages at night (-234), so
        inside the ban window nothing is sent and the message waits for its end."""
        if self.in_night_ban():
            return "zalo_night_ban", self._seconds_until_ban_ends()
        return None

    # -- reachability ------------------------------------------------------------------
    async def reach(self, key: ConversationKey) -> Reach:
        ident = await self.identity_reach(key)
        if ident is None or ident.last_inbound_at is None:
            return Reach(Reachability.UNREACHABLE, reason="unknown")
        if not ident.reachable and ident.reason.startswith(HARD_UNREACHABLE):
            return Reach(Reachability.UNREACHABLE, reason=ident.reason)
        now = self._clock.now()
        free_end = ident.last_inbound_at + timedelta(hours=self.cfg.free_window_hours)
        ext_end = ident.last_inbound_at + timedelta(days=self.cfg.extended_window_days)
        if ident.reachable or ident.reason != WINDOW_CLOSED:
            if now < free_end:
                return Reach(Reachability.DIRECT, window_ends_at=free_end, reason="free window")
            if self.cfg.use_extended_window and now < ext_end:
                return Reach(Reachability.DIRECT, paid=True, window_ends_at=ext_end,
                             reason="extended window")
        if self.cfg.template_id:
            return Reach(Reachability.TEMPLATE, reason="window closed")
        return Reach(Reachability.UNREACHABLE, reason="window closed, no template")

    async def reachability(self, key: ConversationKey) -> Reachability:
        return (await self.reach(key)).reachability


def _location(message: Mapping[str, Any], attachments: list[dict[str, Any]]) -> Location | None:
    candidates: list[Mapping[str, Any]] = []
    for a in attachments:
        payload = a.get("payload") or {}
        candidates.append({**(payload.get("coordinates") or {}), "address": payload.get("address", "")})
    if isinstance(message.get("location"), dict):
        candidates.append(message["location"])
    for c in candidates:
        lat, lon = c.get("latitude", c.get("lat")), c.get("longitude", c.get("long", c.get("lng")))
        try:
            lat_f, lon_f = float(lat), float(lon)  # Zalo sends them as strings
        except (TypeError, ValueError):
            continue
        if -90 <= lat_f <= 90 and -180 <= lon_f <= 180:
            return Location(lat_f, lon_f, str(c.get("address") or ""))
    return None


def _attachment(kind: str, payload: Mapping[str, Any], msg_id: str, index: int) -> Attachment:
    url = str(payload.get("url") or payload.get("thumbnail") or "")
    try:
        size = int(str(payload.get("size"))) if payload.get("size") not in (None, "") else None
    except ValueError:
        size = None
    name = str(payload.get("name") or "")
    mime = ""
    if kind == "image":
        mime = "image/gif" if url.lower().endswith(".gif") else "image/jpeg"
    elif name.lower().endswith(".pdf") or str(payload.get("type", "")).lower() == "pdf":
        mime = "application/pdf"
    return Attachment(kind, url or f"{msg_id}:{index}", name=name, mime_type=mime, size=size, url=url)
