"""The guard that keeps these tests off the real network works."""

from __future__ import annotations

import aiohttp
import pytest

from tests.fakes.network import ExternalNetworkBlocked


async def test_real_hosts_are_refused():
    async with aiohttp.ClientSession() as session:
        with pytest.raises((ExternalNetworkBlocked, aiohttp.ClientConnectorError)) as err:
            await session.post("https://openapi.zalo.me/v3.0/oa/message/cs", json={})
    assert "real network is not allowed" in repr(err.value)


async def test_ip_addresses_are_refused_too():
    async with aiohttp.ClientSession() as session:
        with pytest.raises((ExternalNetworkBlocked, aiohttp.ClientConnectorError)) as err:
            await session.get("http://149.154.167.220/bot1:x/getMe")
    assert "real network is not allowed" in repr(err.value)


async def test_loopback_is_allowed(tg):
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{tg.api_base_url}{tg.token}/getMe") as resp:
            assert (await resp.json())["ok"] is True
