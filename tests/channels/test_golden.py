"""Golden platform payloads → the expected platform-neutral message (or nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import ZaloBotChannel, unwrap
from bot.channels.zalo_oa import ZaloOAChannel
from bot.clock import ManualClock
from tests.channels.conftest import as_dict
from tests.conftest import make_config

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*/*.json"))


def _channel(kind: str):
    cfg = make_config("sqlite:///unused.sqlite3", telegram={"token": "1:x"}, zalo_oa={"app_id": "4100000000000000001"})
    cls = {"telegram": TelegramChannel, "zalo_oa": ZaloOAChannel, "zalo_bot": ZaloBotChannel}[kind]
    return cls(None, None, ManualClock(), cfg)  # parse() needs neither core nor database


def test_every_kind_has_golden_files():
    kinds = {p.parent.name for p in CASES}
    assert kinds == {"telegram", "zalo_oa", "zalo_bot"}
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_golden(path: Path):
    case = json.loads(path.read_text(encoding="utf-8"))
    channel = _channel(path.parent.name)
    update = case["update"]
    if path.parent.name == "zalo_bot":
        (update,) = unwrap(update)
    got = channel.parse(update)
    expected = case["expected"]
    if expected is None:
        assert got is None
        return
    assert as_dict(got, with_time="received_at" in expected) == expected
