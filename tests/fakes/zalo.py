"""A fake Zalo OA Open API (v3) server and builders of signed webhook events.

Shapes follow the OA API as used by public integrations: send with
``POST /v3.0/oa/message/cs`` (header ``access_token``; body ``{"recipient": {"user_id"},
"message": {...}}``), answer ``{"error": 0, "message": "Success", "data": {"message_id",
"user_id"}}``; errors are HTTP 200 with ``error != 0``. Tokens: ``POST
/v4/oa/access_token`` (header ``secret_key``; form ``refresh_token``, ``app_id``,
``grant_type=refresh_token``) → ``{"access_token", "refresh_token", "expires_in"}``;
a refresh token works once. Templates: ``POST /message/template``.
Webhook events carry ``X-ZEvent-Signature: mac=sha256(app_id + body + timestamp + secret)``.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, FakeServer, read_params

ERRORS = {-216: "Access token is invalid", -230: "User has not interacted with the OA in the last 7 days",
          -234: "Cannot send message at night", -32: "Out of quota / rate limit", -213: "User has not followed OA"}


class FakeZaloOA(FakeServer):
    def __init__(self, *, app_id: str = "4100000000000000001", app_secret: str = "app-secret-xyz",
                 access_token: str = "at-0", refresh_token: str = "rt-0", expires_in: int = 90000,
                 refresh_delay: float = 0.0) -> None:
        super().__init__()
        self.app_id = app_id
        self.app_secret = app_secret
        self.valid_access = {access_token}
        self.valid_refresh = {refresh_token}
        self.used_refresh: list[str] = []
        self.expires_in = expires_in
        self.refresh_delay = refresh_delay  # widens the race window in concurrency tests
        self.send_delay = 0.0  # a slow API (the webhook must not wait for it)
        self.send_gate: asyncio.Event | None = None  # when set: sends wait for it (a send that never ends)
        self.user_errors: dict[str, int] = {}  # user id -> error code for every send to them
        self._next_errors: list[int] = []
        self._serial = itertools.count(1)
        self.app.router.add_post("/v3.0/oa/message/cs", self._send)
        self.app.router.add_post("/v4/oa/access_token", self._token)
        self.app.router.add_post("/message/template", self._template)

    def fail_next(self, error: int, times: int = 1) -> None:
        self._next_errors.extend([error] * times)

    def sends(self, user_id: str | None = None) -> list[Call]:
        return [c for c in self.calls_to("message/cs")
                if user_id is None or c.params.get("recipient", {}).get("user_id") == user_id]

    def sent_messages(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The ``message`` objects accepted (error 0) for a user."""
        return [c.params["message"] for c in self.sends(user_id) if c.headers.get("_result") == "0"]

    def sent_texts(self, user_id: str | None = None) -> list[str]:
        return [m["text"] for m in self.sent_messages(user_id) if "text" in m]

    @property
    def token_calls(self) -> list[Call]:
        return self.calls_to("oauth/access_token")

    def expire_access_tokens(self) -> None:
        """The server forgets every access token (as after 25 h)."""
        self.valid_access.clear()

    async def _send(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        if self.send_delay:
            await asyncio.sleep(self.send_delay)
        if self.send_gate is not None:
            await self.send_gate.wait()
        call = Call("message/cs", params, dict(request.headers))
        self.calls.append(call)
        return self._answer(call, request, lambda: {"message_id": f"mid{next(self._serial)}",
                                                    "user_id": params.get("recipient", {}).get("user_id")})

    async def _template(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        call = Call("message/template", params, dict(request.headers))
        self.calls.append(call)
        return self._answer(call, request, lambda: {"msg_id": f"zns{next(self._serial)}", "sent_time": "1"})

    def _answer(self, call: Call, request: web.Request, data) -> web.Response:
        error = 0
        if request.headers.get("access_token") not in self.valid_access:
            error = -216
        elif self._next_errors:
            error = self._next_errors.pop(0)
        else:
            uid = call.params.get("recipient", {}).get("user_id") or call.params.get("user_id")
            error = self.user_errors.get(str(uid), 0)
        call.headers["_result"] = str(error)
        if error:
            return web.json_response({"error": error, "message": ERRORS.get(error, "error")})
        return web.json_response({"error": 0, "message": "Success", "data": data()})

    async def _token(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        self.calls.append(Call("oauth/access_token", params, dict(request.headers)))
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        rt = params.get("refresh_token", "")
        if request.headers.get("secret_key") != self.app_secret or params.get("app_id") != self.app_id \
                or params.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14002, "error_name": "Invalid app secret",
                                      "error_description": "app_id or secret_key is wrong"})
        if rt not in self.valid_refresh:
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "refresh token is invalid or used"})
        self.valid_refresh.discard(rt)  # single use
        self.used_refresh.append(rt)
        n = len(self.used_refresh)
        access, refresh = f"at-{n}", f"rt-{n}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": str(self.expires_in)})


# -- webhook events ----------------------------------------------------------------------------

def signature(app_id: str, raw: bytes, timestamp: str, oa_secret_key: str) -> str:
    return "mac=" + hashlib.sha256(app_id.encode() + raw + timestamp.encode() + oa_secret_key.encode()).hexdigest()


def signed_event(event: dict[str, Any], app_id: str, oa_secret_key: str) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers Zalo would post for ``event``."""
    raw = json.dumps(event, ensure_ascii=False).encode()
    return raw, {"Content-Type": "application/json",
                 "X-ZEvent-Signature": signature(app_id, raw, str(event.get("timestamp", "")), oa_secret_key)}


def text_event(user_id: str, text: str, msg_id: str, *, app_id: str = "4100000000000000001",
               timestamp: str = "1767225600000") -> dict[str, Any]:
    return {"app_id": app_id, "user_id_by_app": "u-app-" + user_id, "event_name": "user_send_text",
            "sender": {"id": user_id}, "recipient": {"id": "oa-579745863508352884"},
            "message": {"text": text, "msg_id": msg_id}, "timestamp": timestamp}
