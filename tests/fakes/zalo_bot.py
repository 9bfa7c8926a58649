"""A fake Zalo Bot platform API (``/bot<token>/<method>``).

Shapes from the platform's documentation: every answer is ``{"ok": true, "result": ...}``;
``getUpdates`` answers one update ``{"ok": true, "result": {"event_name": ..., "message":
{...}}}`` (long polling); ``setWebhook`` takes ``url`` and ``secret_token``; ``sendMessage``
takes ``chat_id`` and ``text`` (1–2,000 characters); ``sendPhoto`` ``chat_id``, ``photo``,
``caption``.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, FakeServer, read_params


class FakeZaloBot(FakeServer):
    def __init__(self, token: str = "1459232241454765289:zalo-bot-token") -> None:
        super().__init__()
        self.token = token
        self.blocked: set[str] = set()
        self.webhook: dict[str, Any] = {"url": ""}
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ids = itertools.count(1)
        self.app.router.add_post("/bot{token}/{method}", self._dispatch)

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.put_nowait(update)

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        return [c.params["text"] for c in self.calls_to("sendMessage")
                if chat_id is None or c.params.get("chat_id") == chat_id]

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await read_params(request)
        self.calls.append(Call(method, params, dict(request.headers)))
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if method in ("sendMessage", "sendPhoto"):
            if params.get("chat_id") in self.blocked:
                return web.json_response({"ok": False, "error_code": 403,
                                          "description": "Forbidden: user blocked the bot"}, status=403)
            text = params.get("text", params.get("caption", "x"))
            if method == "sendMessage" and not 1 <= len(text) <= 2000:
                return web.json_response({"ok": False, "error_code": 400,
                                          "description": "text must be 1-2000 characters"}, status=400)
            return web.json_response({"ok": True, "result": {"message_id": f"bm{next(self._ids)}",
                                                             "date": 1767225600000}})
        if method == "setWebhook":
            self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token", "")}
            return web.json_response({"ok": True, "result": {"url": self.webhook["url"], "updated_at": 1}})
        if method == "deleteWebhook":
            self.webhook = {"url": ""}
            return web.json_response({"ok": True, "result": {"url": "", "updated_at": 1}})
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": "1459232241454765289",
                                                             "account_name": "bot.test", "account_type": "BASIC"}})
        if method == "getUpdates":
            if self.webhook.get("url"):
                return web.json_response({"ok": False, "error_code": 409,
                                          "description": "webhook is active"}, status=409)
            try:
                timeout = min(float(params.get("timeout", 0) or 0), 2.0) or 0.01
                update = await asyncio.wait_for(self.updates.get(), timeout=timeout)
            except asyncio.TimeoutError:
                return web.json_response({"ok": False, "error_code": 408, "description": "Request timeout"},
                                         status=408)
            return web.json_response({"ok": True, "result": update})
        return web.json_response({"ok": False, "error_code": 404, "description": "Not found"}, status=404)


def text_update(chat_id: str, text: str, message_id: str, *, wrapped: bool = True) -> dict[str, Any]:
    update = {"event_name": "message.text.received", "message": {
        "from": {"id": chat_id, "display_name": "Nguyễn An", "is_bot": False},
        "chat": {"id": chat_id, "chat_type": "PRIVATE"}, "text": text,
        "message_id": message_id, "date": 1767225600000}}
    return {"ok": True, "result": update} if wrapped else update
