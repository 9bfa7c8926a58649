"""Statuses, the "late" rule and the JSON contract."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.dossiers.model import Status
from bot.dossiers.wire import BadRecord, from_json, to_json
from tests.dossiers.conftest import ID_NUMBER, make_record

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc)  # 09:00 local


@pytest.mark.parametrize("value, status", [
    (5, Status.SUPPLEMENT_REQUIRED), ("10", Status.RETURNED), (4.0, Status.PROCESSING),
    ("Yêu cầu bổ sung giấy tờ", Status.SUPPLEMENT_REQUIRED), ("da tra ket qua", Status.RETURNED),
    ("ĐANG XỬ LÝ", Status.PROCESSING), ("DONE", Status.DONE),
])
def test_status_parsed_from_numbers_and_labels(value, status):
    assert Status.parse(value) is status


@pytest.mark.parametrize("value", [0, 11, "xong roi", None, True])
def test_unknown_status_refused(value):
    with pytest.raises(ValueError):
        Status.parse(value)


def test_every_status_has_plain_words():
    assert len(Status) == 10
    for st in Status:
        assert st.label and st.citizen_text.endswith(".")


def test_due_date_means_end_of_that_day_local():
    d = from_json(make_record(due_at="2026-11-01"), TZ)
    assert d.due_at == datetime(2026, 11, 1, 16, 59, 59, tzinfo=timezone.utc)
    assert d.lateness(NOW) == NOW - d.due_at


def test_not_late_before_the_promised_date():
    d = from_json(make_record(due_at="2026-11-20"), TZ)
    assert d.lateness(NOW) == timedelta(0) and not d.is_late(NOW)


def test_supplement_time_is_not_counted_as_late():
    # promised 31/10 end of day; now 02/11 09:00 = 1 day 9 h past; citizen spent 2 days supplying
    rec = make_record(due_at="2026-10-31", supplement_periods=[
        {"from": "2026-10-23T08:00:00+07:00", "to": "2026-10-25T08:00:00+07:00"}])
    d = from_json(rec, TZ)
    assert not d.is_late(NOW)
    d2 = from_json(make_record(due_at="2026-10-31", supplement_periods=[
        {"from": "2026-10-23T08:00:00+07:00", "to": "2026-10-24T08:00:00+07:00"}]), TZ)
    assert d2.lateness(NOW) == timedelta(hours=9, seconds=1)


def test_open_supplement_period_stops_the_clock_until_now():
    d = from_json(make_record(status=5, due_at="2026-10-31", supplement_periods=[
        {"from": "2026-10-30T08:00:00+07:00", "to": None}]), TZ)
    assert not d.is_late(NOW)


def test_finished_dossier_late_by_its_finish_date_not_now():
    d = from_json(make_record(status=9, due_at="2026-10-25", finished_at="2026-10-27T10:00:00+07:00"), TZ)
    assert d.lateness(NOW) == timedelta(days=1, hours=10, seconds=1)
    on_time = from_json(make_record(status=9, due_at="2026-10-25", finished_at="2026-10-25T15:00:00+07:00"), TZ)
    assert not on_time.is_late(NOW)


def test_ownership_check_without_keeping_the_numbers():
    d = from_json(make_record(), TZ)
    stored = to_json(d)
    assert "0912345678" not in str(stored) and ID_NUMBER not in str(stored)
    assert stored["owner"]["name_initials"] == "N. V. A."
    again = from_json(stored, TZ)
    assert again.owned_by("5678") is True
    assert again.owned_by("56 78") is True
    assert again.owned_by("1234") is False
    assert again.owned_by(ID_NUMBER) is True
    assert again.owned_by("001088099999") is False
    assert again.owned_by("tôi là chủ") is None  # not an answer: not counted


def test_round_trip_keeps_everything_but_personal_numbers():
    d = from_json(make_record(status=6, apology={"new_due_at": "2026-11-25", "issued_at": "2026-11-19",
                                                 "reason": "Chờ xác minh"}), TZ)
    assert from_json(to_json(d), TZ) == d


@pytest.mark.parametrize("over, field", [
    ({"code": "xyz"}, "code"), ({"status": 42}, "status"), ({"received_at": None}, "received_at"),
    ({"due_at": "sáng mai"}, "due_at"), ({"history": [{"at": "hôm qua"}]}, "history"),
])
def test_records_outside_the_contract_are_refused(over, field):
    with pytest.raises(BadRecord) as err:
        from_json(make_record(**over), TZ)
    assert field in str(err.value)
