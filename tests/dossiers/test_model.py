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


def test_the_stored_id_hash_is_keyed_so_it_cannot_be_brute_forced_without_the_key():
    """A CCCD has 12 digits (a birth year, a province code, a sex digit...): an unkeyed hash
    of it is found by trying them all. The stored fingerprint is an HMAC under a secret key
    kept out of the database; under another key it proves nothing."""
    import hashlib
    import hmac

    from bot.dossiers.model import hash_id_number, use_id_hash_key

    stored = to_json(from_json(make_record(), TZ))["owner"]["id_hash"]
    for guess in (hashlib.sha256(("tthc-bot/id/" + ID_NUMBER).encode()).hexdigest(),
                  hashlib.sha256(ID_NUMBER.encode()).hexdigest()):
        assert guess not in stored  # what an attacker with the database alone can compute
    assert stored == hash_id_number(ID_NUMBER)
    try:
        use_id_hash_key(b"another-province-key-0123456789")
        assert hash_id_number(ID_NUMBER) != stored
        assert from_json(to_json(from_json(make_record(), TZ)), TZ).owned_by(ID_NUMBER) is True
        assert from_json({**make_record(), "applicant": {}, "owner": {"id_hash": stored}}, TZ).owned_by(ID_NUMBER) is False
    finally:
        from tests.conftest import TEST_ID_HASH_KEY

        use_id_hash_key(TEST_ID_HASH_KEY.encode())
    assert stored.startswith("k1:") and hmac.compare_digest(
        stored[3:], hmac.new(TEST_ID_HASH_KEY.encode(), ID_NUMBER.encode(), hashlib.sha256).hexdigest())


def test_an_unkeyed_hash_stored_by_an_older_version_still_proves_ownership():
    """Records stored before the key keep working (so citizens are not locked out) until the
    next import or webhook push of the dossier replaces them with a keyed hash."""
    import hashlib

    legacy = hashlib.sha256(("tthc-bot/id/" + ID_NUMBER).encode()).hexdigest()
    old = from_json({**make_record(), "applicant": {}, "owner": {"phone_last4": "5678", "id_hash": legacy}}, TZ)
    assert old.owned_by(ID_NUMBER) is True and old.owned_by("001088099999") is False
    assert from_json(make_record(), TZ).owner_id_hash.startswith("k1:")  # a fresh record: keyed


def test_without_a_configured_key_one_is_generated_once_and_kept_in_a_file(tmp_path):
    """`make run` needs no secret: the first start writes a random key (mode 0600) to
    dossiers.id_hash_key_file, later starts and other workers read the same one; a key set
    in the configuration (the environment) wins."""
    import stat
    from dataclasses import replace

    from bot.config import ConfigError, load_config
    from bot.dossiers.keys import load_id_hash_key

    base = load_config(None, env={})
    cfg = replace(base, dossiers=replace(base.dossiers, id_hash_key_file=str(tmp_path / "k" / "id-hash.key")))
    first = load_id_hash_key(cfg)
    path = tmp_path / "k" / "id-hash.key"
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_id_hash_key(cfg) == first and [p.name for p in path.parent.iterdir()] == ["id-hash.key"]
    given = replace(cfg, dossiers=replace(cfg.dossiers, id_hash_key="from-the-environment-0123"))
    assert load_id_hash_key(given) == b"from-the-environment-0123"
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="id_hash_key_file"):
        load_id_hash_key(cfg)
    env = {"TTHC__DOSSIERS__ID_HASH_KEY": "too-short"}
    with pytest.raises(ConfigError, match="dossiers.id_hash_key"):
        load_config(None, env=env)
