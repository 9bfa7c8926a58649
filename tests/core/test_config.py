"""Configuration: one typed object; every problem is one clear line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
GOOD = '[province]\nname = "Lâm Đồng"\n'


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_embedded_defaults_need_no_file():
    cfg = load_config(None, env={})
    assert cfg.database.url == "sqlite:///var/tthc-bot.sqlite3"
    assert (cfg.web.host, cfg.web.port) == ("127.0.0.1", 8080)
    assert cfg.source == "embedded defaults"


def test_example_config_is_valid_and_matches_the_defaults():
    cfg = load_config(ROOT / "config.example.toml", env={})
    defaults = load_config(None, env={})
    from dataclasses import replace

    assert replace(cfg, source="") == replace(defaults, source="")


def test_file_values_are_typed(tmp_path):
    cfg = load_config(write(tmp_path, GOOD + '[web]\nport = 9000\ncookie_secure = true\n'), env={})
    assert cfg.province.name == "Lâm Đồng" and cfg.web.port == 9000 and cfg.web.cookie_secure is True


@pytest.mark.parametrize("text, message", [
    ('[web]\nport = 9000\n', "config.toml: province.name: required key is missing"),
    (GOOD + '[web]\nport = "abc"\n', "config.toml: web.port: expected an integer, got a string 'abc'"),
    (GOOD + '[web]\ncookie_secure = "yes"\n', "config.toml: web.cookie_secure: expected true or false, got a string 'yes'"),
    (GOOD + '[web]\nprot = 1\n', "config.toml: web.prot: unknown key"),
    (GOOD + '[telegrm]\ntoken = "x"\n', "config.toml: telegrm: unknown key"),
    (GOOD + '[database]\nurl = "mysql://u@h/db"\n',
     "config.toml: database.url: unsupported database 'mysql' (use sqlite:///PATH or postgresql://USER@HOST/DB)"),
    (GOOD + '[database]\nurl = "not a url"\n',
     "config.toml: database.url: cannot parse 'not a url' (use sqlite:///PATH or postgresql://USER@HOST/DB)"),
    (GOOD + '[database]\nurl = "sqlite://"\n',
     "config.toml: database.url: an in-memory SQLite database loses everything on restart; give a file path"),
    (GOOD + '[web]\nport = 70000\n', "config.toml: web.port: must be between 1 and 65535, got 70000"),
    (GOOD + '[province]\n', None),  # duplicate table: TOML error
    (GOOD.replace("Lâm Đồng", "") , "config.toml: province.name: must not be empty"),
    (GOOD + '[outbox]\nquiet_start = "9pm"\n', "config.toml: outbox.quiet_start: expected a time like 21:00, got '9pm'"),
    ('web = 5\n' + GOOD, "config.toml: web: expected a table"),
    (GOOD + '[ops]\nevent_loop = "tokio"\n',
     "config.toml: ops.event_loop: must be one of auto, asyncio, uvloop, got 'tokio'"),
    (GOOD + '[reports]\naccess_token = "bao-cao-tam-thoi-0123456789"\n',
     "config.toml: reports.access_token: removed — the report pages (/staff/bao-cao) use the staff login now; "
     "delete the key (and TTHC__REPORTS__ACCESS_TOKEN)"),
])
def test_errors_name_the_key_and_the_problem(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    line = str(err.value)
    assert "\n" not in line
    if message is None:
        assert "not valid TOML" in line
    else:
        assert line.replace(str(tmp_path) + "/", "") == message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_environment_overrides_file_and_is_typed(tmp_path):
    env = {"TTHC__WEB__PORT": "9100", "TTHC_DATABASE_URL": "postgresql://bot@db/tthc",
           "TTHC__LOGGING__JSON": "true", "TTHC_CONFIG": str(write(tmp_path, GOOD))}
    cfg = load_config(None, env=env)
    assert cfg.web.port == 9100 and cfg.logging.json is True
    assert cfg.database.url == "postgresql://bot@db/tthc" and cfg.province.name == "Lâm Đồng"


def test_environment_errors_name_the_variable():
    with pytest.raises(ConfigError) as err:
        load_config(None, env={"TTHC__WEB__PORT": "eighty"})
    assert str(err.value) == "embedded defaults: web.port: expected an integer in TTHC__WEB__PORT, got 'eighty'"
    with pytest.raises(ConfigError, match="web.nope: unknown key"):
        load_config(None, env={"TTHC__WEB__NOPE": "1"})


def test_cli_stops_with_one_clear_line(tmp_path):
    cfg = write(tmp_path, GOOD + '[web]\nport = "abc"\n')
    proc = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(cfg), "config", "check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"config error: {cfg}: web.port: expected an integer, got a string 'abc'"]
