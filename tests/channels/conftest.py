"""Fixtures of the channel tests: the fake platforms, the real app serving webhooks over
loopback HTTP, and a guard that fails any real network call."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.messages import Incoming
from tests.fakes import FakeTelegram, FakeZaloBot, FakeZaloOA, block_external_network

TG_SECRET = "tg-webhook-secret-123"
ZB_SECRET = "zalo-bot-secret-456"
OA_SECRET_KEY = "oa-secret-key-789"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    block_external_network(monkeypatch)


@pytest.fixture
async def tg():
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def zoa():
    async with FakeZaloOA() as fake:
        yield fake


@pytest.fixture
async def zbot():
    async with FakeZaloBot() as fake:
        yield fake


def channel_sections(tg: FakeTelegram | None = None, zoa: FakeZaloOA | None = None,
                     zbot: FakeZaloBot | None = None, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Config sections enabling the channels whose fakes are given (webhook mode)."""
    out: dict[str, dict[str, Any]] = {}
    if tg is not None:
        out["telegram"] = {"enabled": True, "token": tg.token, "webhook_secret": TG_SECRET,
                           "api_base_url": tg.api_base_url, "file_base_url": tg.base_url + "/file/bot",
                           "per_chat_burst": 20, "request_timeout_seconds": 5.0}
    if zoa is not None:
        out["zalo_oa"] = {"enabled": True, "app_id": zoa.app_id, "app_secret": zoa.app_secret,
                          "oa_secret_key": OA_SECRET_KEY, "refresh_token": "rt-0", "access_token": "at-0",
                          "api_base_url": zoa.base_url, "oauth_base_url": zoa.base_url,
                          "template_base_url": zoa.base_url, "request_timeout_seconds": 5.0}
    if zbot is not None:
        out["zalo_bot"] = {"enabled": True, "token": zbot.token, "webhook_secret": ZB_SECRET,
                           "api_base_url": zbot.base_url, "request_timeout_seconds": 5.0}
    for name, values in overrides.items():
        out.setdefault(name, {}).update(values)
    return out


@pytest.fixture
async def serve():
    """``await serve(app)`` -> a TestClient on the real app over loopback HTTP (started)."""
    clients: list[TestClient] = []

    async def factory(app: App) -> TestClient:
        client = TestClient(TestServer(app.web))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def platforms(make_app: Callable[..., App], sqlite_url: str, tg, zoa, zbot, serve):
    """The app with Telegram, Zalo OA and Zalo Bot enabled (webhooks) over SQLite."""
    app = make_app(sqlite_url, **channel_sections(tg, zoa, zbot))
    client = await serve(app)
    return app, client


def channel(app: App, name: str):
    ch = app.services.channels.get(name)
    assert ch is not None, f"{name} is not running"
    return ch


def as_dict(msg: Incoming | None, *, with_time: bool = True) -> dict[str, Any] | None:
    """An Incoming as the golden files write it (empty fields left out)."""
    if msg is None:
        return None
    out: dict[str, Any] = {"key": [msg.key.channel, msg.key.chat_id, msg.key.user_id], "kind": msg.kind.value}
    for name in ("text", "choice", "event", "update_id", "display_name"):
        if getattr(msg, name):
            out[name] = getattr(msg, name)
    if msg.attachments:
        out["attachments"] = [dataclasses.asdict(a) for a in msg.attachments]
    if msg.location:
        out["location"] = dataclasses.asdict(msg.location)
    if msg.contact:
        out["contact"] = dataclasses.asdict(msg.contact)
    if with_time:
        out["received_at"] = msg.received_at.isoformat()
    return out
