"""Working-day arithmetic for legal deadlines (PAKN, dossiers, surveys).

A working day is a weekday that is not a Vietnamese public holiday (the ``holidays``
package, which also knows the official substitute days off and the weekend make-up
working days it has been told about), adjusted by the province's configuration:
``extra_days_off`` (e.g. a Tết bridge decided late in the year) and
``extra_working_days`` (a Saturday worked in exchange). The configured lists win over the
package.

Counting rule (Civil Code 2015 Art. 147: a period in days starts on the day after the
event): a submission received on a working day before the cut-off hour counts as
received that day, otherwise as received on the next working day; a deadline of N
working days is then the N-th working day *after* the day of receipt, and the item is on
time when it is done by the end of that day (local time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays as holidays_lib


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> holidays_lib.HolidayBase:
    return holidays_lib.country_holidays(country, years=year)


@dataclass(frozen=True)
class WorkCalendar:
    tz: ZoneInfo
    country: str = "VN"
    extra_days_off: frozenset[date] = field(default_factory=frozenset)
    extra_working_days: frozenset[date] = field(default_factory=frozenset)
    cutoff: time = time(17, 0)

    @classmethod
    def from_config(cls, config) -> "WorkCalendar":
        c = config.calendar
        return cls(tz=config.tz, country=c.country,
                   extra_days_off=frozenset(date.fromisoformat(d) for d in c.extra_days_off),
                   extra_working_days=frozenset(date.fromisoformat(d) for d in c.extra_working_days),
                   cutoff=time(c.cutoff_hour, c.cutoff_minute))

    # -- days ------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off:
            return False
        return _public_holidays(self.country, day.year).is_working_day(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def local_date(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    def receipt_day(self, received_at: datetime) -> date:
        """The working day a submission counts as received on (cut-off hour applied)."""
        local = received_at.astimezone(self.tz)
        day = local.date()
        if self.is_working_day(day) and local.time() < self.cutoff:
            return day
        return self.next_working_day(day)

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day`` (``n`` >= 0; 0 gives ``day`` itself)."""
        if n < 0:
            raise ValueError("n must not be negative")
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def deadline(self, received_at: datetime, working_days: int) -> date:
        """The last day (inclusive) to act on something received at ``received_at``."""
        return self.add_working_days(self.receipt_day(received_at), working_days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end] when end >= start, minus those in (end, start]
        otherwise: how many working days are left from ``start`` until ``end``."""
        if end == start:
            return 0
        sign, lo, hi = (1, start, end) if end > start else (-1, end, start)
        count, day = 0, lo
        while day < hi:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return sign * count

    def days_off(self, start: date, end: date) -> Iterable[date]:
        day = start
        while day <= end:
            if not self.is_working_day(day):
                yield day
            day += timedelta(days=1)


class Urgency:
    """How close a deadline is, for colours and reminders."""

    OK = "ok"
    DUE_SOON = "due_soon"  # at most ``soon`` working days left (due today counts too)
    OVERDUE = "overdue"


def urgency(cal: WorkCalendar, now: datetime, due: date | None, *, soon: int = 1) -> tuple[str, int | None]:
    """(urgency, working days left) of a deadline at ``now``; left < 0 when overdue."""
    if due is None:
        return Urgency.OK, None
    today = cal.local_date(now)
    if today > due:
        return Urgency.OVERDUE, cal.working_days_between(today, due) or -1
    left = cal.working_days_between(today, due)
    return (Urgency.DUE_SOON if left <= soon else Urgency.OK), left
