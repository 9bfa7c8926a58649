"""One process, several channels: enabled channels start next to the web chat; one with
missing credentials is reported and left off while the rest keep running."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from tests.channels.conftest import channel_sections

ROOT = Path(__file__).resolve().parents[2]


async def test_enabled_channels_run_beside_the_web_chat(platforms):
    app, client = platforms
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert set(health["channels"]) == {"web", "telegram", "zalo_oa", "zalo_bot"}
    assert app.services.extras["channels_off"] == {}
    assert {j.name for j in app.scheduler.jobs} >= {"telegram.inbox", "zalo_oa.inbox", "zalo_bot.inbox",
                                                    "zalo_oa.token", "channels.inbox_purge"}


async def test_missing_credentials_leave_only_that_channel_off(make_app, sqlite_url, zbot, serve, caplog):
    sections = channel_sections(zbot=zbot)
    sections["telegram"] = {"enabled": True, "token": ""}  # forgot the token and the secret
    app = make_app(sqlite_url, **sections)
    client = await serve(app)
    assert app.services.extras["channels_off"] == {"telegram": ["telegram.token", "telegram.webhook_secret"]}
    assert "channel left off: missing credentials" in caplog.text
    health = await (await client.get("/healthz")).json()
    assert health["channels"] == ["web", "zalo_bot"]
    assert (await client.post("/webhooks/telegram", json={})).status in (404, 405)
    # the web chat and the other channel still work
    assert (await client.post("/api/chat", json={"text": "menu"})).status == 200


async def test_disabled_channels_are_not_started(make_app, sqlite_url):
    app = make_app(sqlite_url)
    assert app.services.channels.names() == ["web"]


def test_example_config_documents_every_channel_key():
    cfg = load_config(ROOT / "config.example.toml", env={})
    assert not cfg.telegram.enabled and not cfg.zalo_oa.enabled and not cfg.zalo_bot.enabled
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    from dataclasses import fields

    for section in ("telegram", "zalo_oa", "zalo_bot"):
        assert f"[{section}]" in text
        for f in fields(getattr(cfg, section)):
            assert f"\n{f.name} =" in text or f"\n# {f.name} =" in text, f"{section}.{f.name} undocumented"


@pytest.mark.parametrize("env, message", [
    ({"TTHC__TELEGRAM__MODE": "push"}, "telegram.mode"),
    ({"TTHC__ZALO_BOT__WEBHOOK_SECRET": "short"}, "zalo_bot.webhook_secret"),
    ({"TTHC__ZALO_OA__NIGHT_BAN_START": "25:00"}, "zalo_oa.night_ban_start"),
    ({"TTHC__ZALO_OA__API_BASE_URL": "openapi.zalo.me"}, "zalo_oa.api_base_url"),
    ({"TTHC__TELEGRAM__WEBHOOK_PATH": "webhooks/tg"}, "telegram.webhook_path"),
])
def test_bad_channel_settings_stop_start_up_with_one_line(env, message):
    with pytest.raises(ConfigError) as err:
        load_config(None, env=env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_secrets_come_from_the_environment():
    cfg = load_config(None, env={"TTHC__TELEGRAM__TOKEN": "123:abc", "TTHC__ZALO_OA__OA_SECRET_KEY": "k" * 20})
    assert cfg.telegram.token == "123:abc" and cfg.zalo_oa.oa_secret_key == "k" * 20
