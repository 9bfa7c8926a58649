"""``tthc-bot staff ...`` against a real database file."""

from __future__ import annotations

import io
import sys

from bot.cli import main
from bot.dashboard.auth import LoginFailed, StaffAuth
from bot.clock import ManualClock
from storage.db import Database
from storage.repos.pakn import PaknRepo, StaffRepo
from tests.conftest import make_config


def run(argv: list[str], monkeypatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


async def _state(url: str):
    db = Database(url)
    try:
        async with db.unit_of_work() as uow:
            users = {u.username: u for u in await uow.repo(StaffRepo).users()}
            agencies = {a.code: a for a in await uow.repo(PaknRepo).agencies(active_only=False)}
        return users, agencies
    finally:
        await db.dispose()


async def test_agency_add_disable_reset(sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("TTHC__STAFF__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("TTHC__STAFF__ARGON2_MEMORY_KIB", "8192")
    db = ["--db", sqlite_url]
    assert await _thread(run, ["staff", "agency", "stp", "Sở  Tư pháp", *db], monkeypatch) == 0
    assert await _thread(run, ["staff", "add", "Lan.Nguyen", "--role", "officer", "--agency", "STP",
                               "--name", "Nguyễn Thị Lan", "--password-stdin", *db], monkeypatch,
                         "doi-mat-khau-1\n") == 0
    # weak password, unknown agency, officer without agency: refused with a reason
    assert await _thread(run, ["staff", "add", "b", "--role", "admin", "--password-stdin", *db], monkeypatch,
                         "123\n") != 0
    assert await _thread(run, ["staff", "add", "c", "--role", "officer", "--agency", "XXX", "--password-stdin",
                               *db], monkeypatch, "mat-khau-dai-1\n") == 1
    err = capsys.readouterr().err
    assert "ít nhất 10 ký tự" in err and "Không có cơ quan mã XXX" in err
    users, agencies = await _state(sqlite_url)
    assert agencies["STP"].name == "Sở Tư pháp"
    assert set(users) == {"lan.nguyen"} and users["lan.nguyen"].agency_code == "STP"
    assert users["lan.nguyen"].password_hash.startswith("$argon2id$")

    cfg = make_config(sqlite_url, staff={"argon2_time_cost": 1, "argon2_memory_kib": 8192})
    clock = ManualClock()
    dbo = Database(sqlite_url)
    try:
        auth = StaffAuth(dbo, cfg)
        token, user = await auth.login("lan.nguyen", "doi-mat-khau-1", "127.0.0.1", clock.now())
        assert user.username == "lan.nguyen" and await auth.session(token, clock.now())
        assert await _thread(run, ["staff", "reset-password", "lan.nguyen", "--password-stdin", *db],
                             monkeypatch, "mat-khau-moi-2\n") == 0
        assert await auth.session(token, clock.now()) is None  # sessions ended
        try:
            await auth.login("lan.nguyen", "doi-mat-khau-1", "127.0.0.1", clock.now())
            raise AssertionError("old password still works")
        except LoginFailed:
            pass
        token, _ = await auth.login("lan.nguyen", "mat-khau-moi-2", "127.0.0.1", clock.now())
        assert await _thread(run, ["staff", "disable", "lan.nguyen", *db], monkeypatch) == 0
        assert await auth.session(token, clock.now()) is None
        try:
            await auth.login("lan.nguyen", "mat-khau-moi-2", "127.0.0.1", clock.now())
            raise AssertionError("a disabled account logged in")
        except LoginFailed:
            pass
    finally:
        await dbo.dispose()
    assert await _thread(run, ["staff", "list", *db], monkeypatch) == 0
    assert "lan.nguyen\tofficer\tSTP\tdisabled" in capsys.readouterr().out


async def _thread(fn, *args):
    """The CLI runs its own event loop (asyncio.run): call it from a worker thread."""
    import asyncio

    return await asyncio.to_thread(fn, *args)


async def test_an_agency_code_is_the_same_in_any_case(sqlite_url, monkeypatch, capsys):
    """`staff agency stp ...` stores STP; `staff add ... --agency stp` must find it."""
    monkeypatch.setenv("TTHC__STAFF__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("TTHC__STAFF__ARGON2_MEMORY_KIB", "8192")
    db = ["--db", sqlite_url]
    assert await _thread(run, ["staff", "agency", "stp", "Sở Tư pháp", *db], monkeypatch) == 0
    assert await _thread(run, ["staff", "add", "lan", "--role", "officer", "--agency", "stp",
                               "--password-stdin", *db], monkeypatch, "doi-mat-khau-1\n") == 0, capsys.readouterr().err
    users, _agencies = await _state(sqlite_url)
    assert users["lan"].agency_code == "STP"


async def test_an_agency_needs_a_name_citizens_can_read(sqlite_url, monkeypatch, capsys):
    """The name is the label of the agency's button in the citizen's form: an empty one
    (a button Telegram refuses) or a stray letter is refused, as on the admin page."""
    db = ["--db", sqlite_url]
    for name in ["", "   ", "S", "x" * 301]:
        assert await _thread(run, ["staff", "agency", "STP", name, *db], monkeypatch) == 1
        assert "name: 3 to 300 characters" in capsys.readouterr().err
    _users, agencies = await _state(sqlite_url)
    assert agencies == {}
    assert await _thread(run, ["staff", "agency", "STP", "  Sở   Tư pháp ", *db], monkeypatch) == 0
    _users, agencies = await _state(sqlite_url)
    assert agencies["STP"].name == "Sở Tư pháp"
