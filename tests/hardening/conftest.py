"""Fixtures of the hardening tests: the app with every channel on (fake platforms over
loopback HTTP), served by a real aiohttp server; no real network."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from bot.app import App
from tests.channels.conftest import (  # noqa: F401  (fixtures reused)
    OA_SECRET_KEY,
    TG_SECRET,
    ZB_SECRET,
    channel_sections,
    serve,
    tg,
    zbot,
    zoa,
)
from tests.fakes import block_external_network

DOSSIER_SECRET = "dossier-hook-secret-0123456789"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    block_external_network(monkeypatch)


def all_sections(tg, zoa, zbot, **over: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections = channel_sections(tg, zoa, zbot)
    sections["dossiers"] = {"webhook_secret": DOSSIER_SECRET}
    for name, values in over.items():
        sections.setdefault(name, {}).update(values)
    return sections


@pytest.fixture
async def everything(make_app: Callable[..., App], sqlite_url: str, tg, zoa, zbot, serve):
    """The app with every channel and the dossier webhook on, served over loopback."""
    app = make_app(sqlite_url, **all_sections(tg, zoa, zbot))
    client = await serve(app)
    return app, client
