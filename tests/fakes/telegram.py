"""A fake Telegram Bot API server and builders of Telegram updates.

Shapes follow https://core.telegram.org/bots/api (Update, Message, CallbackQuery, User,
Chat, PhotoSize, Document, Location, Contact) and its error answers
(``{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the
user"}``; 429 with ``parameters.retry_after``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.server import Call, FakeServer, read_params

BOT_USER = {"id": 7000000001, "is_bot": True, "first_name": "Trợ lý TTHC", "username": "tthc_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")


@dataclass
class Failure:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    chat_id: str | None = None


class FakeTelegram(FakeServer):
    """``base_url + "/bot"`` is what ``telegram.api_base_url`` should be set to."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        super().__init__()
        self.token = token
        self.blocked: set[str] = set()  # chat ids whose user blocked the bot (403)
        self.failures: list[Failure] = []
        self.webhook: dict[str, Any] = {"url": ""}
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._message_ids = itertools.count(100)
        self.app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    @property
    def api_base_url(self) -> str:
        return self.base_url + "/bot"

    # -- test controls -----------------------------------------------------------------
    def fail_next(self, method: str, status: int = 429, description: str = "Too Many Requests: retry after 1",
                  *, retry_after: int | None = None, chat_id: str | int | None = None, times: int = 1) -> None:
        for _ in range(times):
            self.failures.append(Failure(method, status, description, retry_after,
                                         str(chat_id) if chat_id is not None else None))

    def push_update(self, update: dict[str, Any]) -> None:
        """An update for getUpdates (polling mode)."""
        self.updates.put_nowait(update)

    def sent(self, chat_id: str | int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method in SEND_METHODS
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def sent_texts(self, chat_id: str | int | None = None) -> list[str]:
        return [c.params.get("text", "") for c in self.sent(chat_id) if c.method == "sendMessage"]

    @staticmethod
    def keyboard(call: Call) -> list[list[dict[str, Any]]]:
        """The inline keyboard of a recorded send ([] when none)."""
        markup = call.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        return (markup or {}).get("inline_keyboard", [])

    # -- the API -------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await read_params(request)
        self.calls.append(Call(method, params, dict(request.headers)))
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        chat_id = str(params.get("chat_id", ""))
        for failure in list(self.failures):
            if failure.method == method and (failure.chat_id is None or failure.chat_id == chat_id):
                self.failures.remove(failure)
                return _error(failure.status, failure.description, failure.retry_after)
        if method in SEND_METHODS and chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return _error(404, "Not Found: method not found")
        return web.json_response({"ok": True, "result": await handler(params)})

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        return {"message_id": next(self._message_ids), "date": 1767225600,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": BOT_USER, **extra}

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        text = params.get("text", "")
        if not text or len(text) > 4096:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                       "description": "Bad Request: message is too long"}),
                                     content_type="application/json")
        return self._message(params, text=text)

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._message(params, photo=[{"file_id": "AgAD-sent", "file_unique_id": "u1",
                                             "width": 800, "height": 600}])

    async def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._message(params, document={"file_id": "BQAD-sent", "file_unique_id": "u2"})

    async def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise web.HTTPBadRequest(text=json.dumps({"ok": False, "error_code": 400,
                                                       "description": "Bad Request: invalid file_id"}),
                                     content_type="application/json")
        data, _ctype = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": "uq-" + file_id, "file_size": len(data),
                "file_path": f"photos/{file_id}.jpg"}

    async def _file(self, request: web.Request) -> web.Response:
        """``<file_base_url><token>/<file_path>``: the download URL of a file from getFile."""
        self.calls.append(Call("file", {"path": request.match_info["path"]}, dict(request.headers)))
        file_id = request.match_info["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if request.match_info["token"] != self.token or file_id not in self.files:
            return web.Response(status=404)
        data, ctype = self.files[file_id]
        return web.Response(body=data, content_type=ctype)

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token", "")}
        return True

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        return True

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": self.updates.qsize()}

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise web.HTTPConflict(text=json.dumps({"ok": False, "error_code": 409,
                                                     "description": "Conflict: can't use getUpdates "
                                                                    "while webhook is active"}),
                                   content_type="application/json")
        timeout = min(float(params.get("timeout", 0) or 0), 2.0)
        out = []
        try:
            out.append(await asyncio.wait_for(self.updates.get(), timeout=timeout or 0.01))
        except asyncio.TimeoutError:
            return []
        while not self.updates.empty():
            out.append(self.updates.get_nowait())
        return out


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


# -- update builders (documented Bot API shapes) ---------------------------------------------

def user(user_id: int = 5550001, first_name: str = "An", last_name: str = "Nguyễn") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "last_name": last_name,
            "language_code": "vi"}


def message_update(update_id: int, user_id: int = 5550001, **content: Any) -> dict[str, Any]:
    u = user(user_id)
    return {"update_id": update_id, "message": {
        "message_id": update_id + 1000, "date": 1767225600, "from": u,
        "chat": {"id": user_id, "type": "private", "first_name": u["first_name"]}, **content}}


def text_update(update_id: int, text: str, user_id: int = 5550001) -> dict[str, Any]:
    return message_update(update_id, user_id, text=text)


def callback_update(update_id: int, data: str, user_id: int = 5550001) -> dict[str, Any]:
    u = user(user_id)
    return {"update_id": update_id, "callback_query": {
        "id": f"cq{update_id}", "from": u, "chat_instance": "-4000", "data": data,
        "message": {"message_id": 99, "date": 1767225600, "from": BOT_USER,
                    "chat": {"id": user_id, "type": "private"}, "text": "..."}}}
