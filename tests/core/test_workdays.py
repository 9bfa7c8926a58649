"""Working-day arithmetic around Tết, 30/4–1/5, make-up days and the daily cut-off."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.config import ConfigError, load_config
from bot.workdays import Urgency, WorkCalendar, urgency

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar(tz=HCM)


def test_tet_2026_week_is_not_worked(cal):
    # Tết Bính Ngọ: Mon 16/2 – Fri 20/2/2026 are public holidays.
    assert [d.day for d in cal.days_off(date(2026, 2, 14), date(2026, 2, 22))] == [14, 15, 16, 17, 18, 19, 20, 21, 22]
    assert cal.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)


def test_deadline_over_tet_counts_from_the_day_after_receipt(cal):
    assert cal.deadline(local(2026, 2, 13, 10), 2) == date(2026, 2, 24)
    # after the 17:00 cut-off it counts as received on the next working day (after Tết)
    assert cal.receipt_day(local(2026, 2, 13, 17, 30)) == date(2026, 2, 23)
    assert cal.deadline(local(2026, 2, 13, 17, 30), 2) == date(2026, 2, 25)
    # received on a holiday: same as received on the first working day after it
    assert cal.deadline(local(2026, 2, 18, 8), 2) == date(2026, 2, 25)
    # 15 working days from Fri 13/2: 23/2 … 13/3
    assert cal.deadline(local(2026, 2, 13, 16), 15) == date(2026, 3, 13)


def test_reunification_and_labour_day(cal):
    # Thu 30/4 and Fri 1/5/2026 off: a Wednesday item due in 1 working day is due Monday.
    assert cal.deadline(local(2026, 4, 29, 9), 1) == date(2026, 5, 4)
    # Hùng Kings' day 2026 falls on a Sunday: observed on Monday 27/4.
    assert not cal.is_working_day(date(2026, 4, 27))
    assert cal.deadline(local(2026, 4, 24, 9), 3) == date(2026, 5, 4)  # 28, 29 April, 4 May


def test_make_up_working_days_from_the_package_and_from_config(cal):
    # 2025: Friday 2/5 off in exchange for working Saturday 26/4 (both known to `holidays`).
    assert cal.is_working_day(date(2025, 4, 26)) and not cal.is_working_day(date(2025, 5, 2))
    assert cal.deadline(local(2025, 4, 25, 9), 1) == date(2025, 4, 26)
    assert cal.deadline(local(2025, 4, 29, 9), 1) == date(2025, 5, 5)
    # A province-declared exchange: Saturday 7/2/2026 worked, Friday 13/2/2026 off.
    custom = WorkCalendar(tz=HCM, extra_working_days=frozenset({date(2026, 2, 7)}),
                          extra_days_off=frozenset({date(2026, 2, 13)}))
    assert custom.is_working_day(date(2026, 2, 7)) and not custom.is_working_day(date(2026, 2, 13))
    assert custom.deadline(local(2026, 2, 6, 9), 1) == date(2026, 2, 7)
    assert custom.deadline(local(2026, 2, 12, 9), 1) == date(2026, 2, 23)


def test_cutoff_is_configurable_and_local(cal):
    late = WorkCalendar(tz=HCM, cutoff=time(16, 30))
    at = local(2026, 11, 2, 16, 45)  # Monday
    assert cal.receipt_day(at) == date(2026, 11, 2)
    assert late.receipt_day(at) == date(2026, 11, 3)
    # 23:30 UTC on Monday is already Tuesday 06:30 in Viet Nam
    assert cal.receipt_day(datetime(2026, 11, 2, 23, 30, tzinfo=timezone.utc)) == date(2026, 11, 3)


def test_urgency_follows_a_manual_clock(cal):
    clock = ManualClock(local(2026, 4, 28, 9))  # Tuesday; due Monday 4/5 (after 30/4–1/5)
    due = date(2026, 5, 4)
    assert urgency(cal, clock.now(), due) == (Urgency.OK, 2)  # Wed 29/4 and Mon 4/5 left
    clock.advance(days=1)
    assert urgency(cal, clock.now(), due) == (Urgency.DUE_SOON, 1)
    clock.advance(days=3)  # Saturday 2/5: the holidays do not count down
    assert urgency(cal, clock.now(), due) == (Urgency.DUE_SOON, 1)
    clock.advance(days=2)  # Monday 4/5: due today
    assert urgency(cal, clock.now(), due) == (Urgency.DUE_SOON, 0)
    clock.advance(days=1)
    level, left = urgency(cal, clock.now(), due)
    assert level == Urgency.OVERDUE and left == -1
    assert urgency(cal, clock.now(), None) == (Urgency.OK, None)


def test_working_days_between_is_signed(cal):
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 24)) == 2
    assert cal.working_days_between(date(2026, 2, 24), date(2026, 2, 13)) == -2
    assert cal.working_days_between(date(2026, 2, 24), date(2026, 2, 24)) == 0
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 1, 5), -1)


def test_calendar_from_config_and_bad_dates(tmp_path):
    cfg = load_config(None, env={"TTHC__CALENDAR__EXTRA_DAYS_OFF": "2026-02-13",
                                 "TTHC__CALENDAR__EXTRA_WORKING_DAYS": "2026-02-07",
                                 "TTHC__CALENDAR__CUTOFF_HOUR": "16"})
    cal = WorkCalendar.from_config(cfg)
    assert cal.cutoff == time(16) and not cal.is_working_day(date(2026, 2, 13))
    assert cal.is_working_day(date(2026, 2, 7))
    with pytest.raises(ConfigError, match="calendar.extra_days_off: '13/02/2026' is not a date"):
        load_config(None, env={"TTHC__CALENDAR__EXTRA_DAYS_OFF": "13/02/2026"})
    with pytest.raises(ConfigError, match="calendar.cutoff_hour"):
        load_config(None, env={"TTHC__CALENDAR__CUTOFF_HOUR": "25"})
    path = tmp_path / "c.toml"
    path.write_text('[province]\nname = "Lâm Đồng"\n[pakn]\nanswer_days = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="pakn.answer_days"):
        load_config(path, env={})


def test_a_year_of_days_is_fast(cal):
    import time as _time

    start = _time.perf_counter()
    day = date(2026, 1, 1)
    for _ in range(365):
        cal.deadline(datetime.combine(day, time(9), HCM), 15)
        day += timedelta(days=1)
    assert _time.perf_counter() - start < 2.0  # holiday tables are cached per year


def test_vietnam_culture_day_from_the_package_and_a_province_that_works_it():
    """24/11 (Ngày Văn hóa Việt Nam) is a day off from 2026 in the `holidays` package, after
    the Politburo's Resolution 80-NQ/TW; domain.md lists no such law [U], so a province that
    works that day lists it in `calendar.extra_working_days`, which wins over the package."""
    default = WorkCalendar.from_config(load_config(None, env={}))
    assert not default.is_working_day(date(2026, 11, 24))  # Tuesday
    assert default.is_working_day(date(2025, 11, 24))  # not before 2026
    assert default.deadline(local(2026, 11, 23, 9), 3) == date(2026, 11, 27)
    worked = WorkCalendar.from_config(load_config(None, env={"TTHC__CALENDAR__EXTRA_WORKING_DAYS": "2026-11-24"}))
    assert worked.is_working_day(date(2026, 11, 24))
    assert worked.deadline(local(2026, 11, 23, 9), 3) == date(2026, 11, 26)
