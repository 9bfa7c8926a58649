"""The tthc-bot command, run as a real process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, env: dict | None = None, input: str | None = None):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=cli_env(env), input=input, timeout=120)


def test_db_upgrade_then_chat_in_the_terminal(tmp_path):
    db = f"sqlite:///{tmp_path}/t.sqlite3"
    up = run("db", "upgrade", "--db", db, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert "up to date" in up.stdout
    chat = run("chat", "--user", "an", cwd=tmp_path, env={"TTHC_DATABASE_URL": db},
               input="lien he\n1\nhuy\n")
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "Xin chào" in out and "1022" in out and "1. Tra cứu thủ tục" in out and ". Hướng dẫn" in out


def test_run_refuses_an_unmigrated_database(tmp_path):
    proc = run("run", "--port", "18099", cwd=tmp_path,
               env={"TTHC_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3"})
    assert proc.returncode == 2
    assert "tthc-bot db upgrade" in proc.stderr


def test_run_on_a_port_in_use_says_so_in_one_line(tmp_path):
    import socket

    db = f"sqlite:///{tmp_path}/t.sqlite3"
    assert run("db", "upgrade", "--db", db, cwd=tmp_path).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("run", "--port", str(port), cwd=tmp_path, env={"TTHC_DATABASE_URL": db})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use. Is tthc-bot already "
        "running? Stop it, or choose another port (--port or web.port)"]


def test_config_check_ok(tmp_path):
    proc = run("config", "check", cwd=tmp_path)
    assert proc.returncode == 0 and "embedded defaults" in proc.stdout


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """`tthc-bot kb search < questions | head -1`: the closed pipe ends the command quietly."""
    db = f"sqlite:///{tmp_path}/t.sqlite3"
    queries = tmp_path / "q.txt"
    queries.write_text("đăng ký khai sinh\n" * 3000, encoding="utf-8")
    env = cli_env()
    with queries.open("rb") as stdin:
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "kb", "search", "--db", db],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=tmp_path, env=env)
        first = proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
    assert b'"query"' in first
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141


def test_telegram_webhook_info_without_a_token_says_what_is_missing(tmp_path):
    proc = run("telegram", "webhook-info", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: telegram.token must be set"  # one line, no traceback


def test_kb_search_and_stats_on_a_fresh_database_see_the_bundled_procedures(tmp_path):
    """`make migrate` then `tthc-bot kb search` must answer as the bot does: the bot loads the
    bundled knowledge base into an empty database at start-up, so must the command."""
    env = {"TTHC_DATABASE_URL": f"sqlite:///{tmp_path}/t.sqlite3"}
    assert run("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    search = run("kb", "search", "đăng ký khai sinh", "--json", cwd=tmp_path, env=env)
    assert search.returncode == 0, search.stderr
    assert "1.001193" in [r["code"] for r in json.loads(search.stdout)["results"]]
    stats = run("kb", "stats", cwd=tmp_path, env=env)
    assert stats.returncode == 0, stats.stderr
    total = int(re.search(r"procedures: (\d+)", stats.stdout).group(1))
    assert total >= 100



def test_every_make_target_has_a_rule():
    """A phony target without a rule "succeeds" doing nothing (`make test-fast` did)."""
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    for target in phony:
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), target


def test_config_option_works_before_and_after_the_subcommand(tmp_path):
    """`tthc-bot --config X kb stats` and `tthc-bot kb stats --config X` read the same file;
    a config named after the subcommand wins over one named before it."""
    good = tmp_path / "good.toml"
    good.write_text('[province]\nname = "Tỉnh Thử"\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('[province]\nname = "Tỉnh Thử"\n[web]\nport = "abc"\n', encoding="utf-8")
    for args in (("--config", str(good), "config", "check"), ("config", "check", "--config", str(good)),
                 ("--config", str(bad), "config", "check", "--config", str(good))):
        proc = run(*args, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)
        assert str(good) in proc.stdout, args
    proc = run("config", "check", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "web.port" in proc.stderr
    db = f"sqlite:///{tmp_path}/t.sqlite3"
    proc = run("kb", "stats", "--db", db, "--config", str(bad), cwd=tmp_path)  # a nested subcommand
    assert proc.returncode == 2 and "web.port" in proc.stderr


@pytest.mark.parametrize("command", [
    ["staff", "list"], ["dossiers", "check"], ["privacy", "purge"],
    ["report", "sipas", "--from", "2026-01-01", "--to", "2026-01-31", "-o", "r.xlsx"]])
def test_a_command_on_an_unmigrated_database_says_to_upgrade(tmp_path, command):
    proc = run(*command, "--db", f"sqlite:///{tmp_path}/fresh.sqlite3", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: the database schema is not up to date")
    assert "run `tthc-bot db upgrade` first" in proc.stderr


@pytest.mark.parametrize("command", [["staff", "list"], ["kb", "stats"], ["db", "upgrade"]])
def test_a_command_on_a_database_that_cannot_be_reached_says_so_in_one_line(tmp_path, command):
    proc = run(*command, "--db", "postgresql://tthc@127.0.0.1:1/tthc", cwd=tmp_path)  # nothing listens on port 1
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: cannot use the database: [Errno 111] Connect call failed ('127.0.0.1', 1) "
        "(check database.url or --db)"]


def test_db_current_on_an_empty_database_says_nothing_is_applied(tmp_path):
    db = f"sqlite:///{tmp_path}/t.sqlite3"
    fresh = run("db", "current", "--db", db, cwd=tmp_path)
    assert fresh.returncode == 1 and "no migrations applied" in fresh.stdout
    assert run("db", "upgrade", "--db", db, cwd=tmp_path).returncode == 0
    done = run("db", "current", "--db", db, cwd=tmp_path)
    assert done.returncode == 0 and "(head)" in done.stdout and "no migrations" not in done.stdout


@pytest.mark.parametrize("args, message", [
    (["kb", "search", "cccd", "--limit", "0"], "argument --limit: must be at least 1, got 0"),
    (["kb", "search", "cccd", "--limit", "-3"], "argument --limit: must be at least 1, got -3"),
    (["kb", "search", "cccd", "--limit", "năm"], "argument --limit: not a whole number: 'năm'"),
    (["run", "--port", "70000"], "argument --port: must be from 0 to 65535, got 70000"),
    (["run", "--workers", "0"], "argument --workers: must be at least 1, got 0")])
def test_a_number_out_of_range_is_a_usage_error(tmp_path, args, message):
    """`kb search --limit -3` listed 27 results, `--limit 0` said nothing was found."""
    proc = run(*args, cwd=tmp_path, env={"TTHC_DATABASE_URL": f"sqlite:///{tmp_path}/t.sqlite3"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(message), proc.stderr


def test_a_password_prompt_without_a_terminal_stops_with_one_line(tmp_path):
    """`staff add` in a script that forgot --password-stdin: getpass meets the end of input."""
    db = f"sqlite:///{tmp_path}/t.sqlite3"
    assert run("db", "upgrade", "--db", db, cwd=tmp_path).returncode == 0
    proc = run("staff", "add", "lan", "--role", "admin", "--db", db, cwd=tmp_path, input="")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: standard input ended")


def test_every_argument_of_every_command_says_what_it_is_in_help():
    """`tthc-bot staff agency --help` listed `code`, `name` and `--db` with no word about them."""
    import argparse

    from bot.cli import build_parser

    missing = []

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*path, name])
            elif action.help is None and action.dest != "help":
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), [])
    assert missing == []
