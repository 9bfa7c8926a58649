"""Dossier codes as citizens really type them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dossiers.code import InvalidCode, looks_like_code, parse_code

TODAY = date(2026, 11, 2)
RIGHT = "000.00.01.H50-250101-0001"


@pytest.mark.parametrize("typed", [
    "000.00.01.H50-250101-0001",
    "000.00.01.h50-250101-0001",  # lower case
    " 000.00.01.H50 - 250101 - 0001 ",  # spaces around the dashes
    "000 00 01 H50 250101 0001",  # spaces instead of dots and dashes
    "000.00.01.H50 250101 0001",
    "0000001H502501010001",  # no separators at all: every part has its full width
    "000.00.01.H50-2501010001",  # one dash missing
    "000.00.01.H50–250101–0001",  # en dashes from a phone keyboard
    "000.00.01.H50_250101_0001",
    "000.00.01.H50-250101-1",  # sequence without leading zeros, after a dash
    "OOO.OO.O1.H5O-25O1O1-OOO1",  # the letter O for zero
    "Mã hồ sơ: 000.00.01.H50-250101-0001.",  # words and a full stop around it
    "ma ho so 000.00.01.h50-250101-0001",
    "hồ sơ 000.00.01.H50-250101-0001 đến đâu rồi?",  # words after it too
    "hs 000 00 01 h50 250101 0001 sao chưa có kết quả 😡",
    "０００.００.０１.Ｈ５０-２５０１０１-０００１",  # full-width digits
])
def test_accepted_as_typed(typed):
    assert str(parse_code(typed, today=TODAY)) == RIGHT


@pytest.mark.parametrize("typed, why", [
    ("", "Vui lòng nhập"),
    ("abc", "chưa đủ"),
    ("000.00.01.H50-250101", "định dạng"),  # no sequence
    ("000.00.01.H502501011", "định dạng"),  # short sequence without a dash: ambiguous
    ("000.00.01.H50-251301-0001", "không phải ngày có thật"),  # month 13
    ("000.00.01.H50-250230-0001", "không phải ngày có thật"),  # 30 February
    ("000.00.01.H50-270101-0001", "không hợp lệ"),  # in the future
    ("000.00.01.H50-170101-0001", "không hợp lệ"),  # before the format existed
    ("000.00.01.H50-250101-0000", "0000"),
    ("000.00.01.550-250101-0001", "định dạng"),  # agency without its letter
    ("000.00.01.H50-250101-0001 5678", "định dạng"),  # more digits after it: no shorter code read
])
def test_impossible_codes_rejected_with_an_example(typed, why):
    with pytest.raises(InvalidCode) as err:
        parse_code(typed, today=TODAY)
    assert why in err.value.message_vi
    assert RIGHT in err.value.message_vi  # shows the right form


def test_example_follows_the_configuration():
    with pytest.raises(InvalidCode) as err:
        parse_code("12", example="000.00.23.H56-260101-0001")
    assert "000.00.23.H56-260101-0001" in err.value.message_vi


def test_received_today_is_accepted():
    assert parse_code("000.00.01.H50-261102-0007", today=TODAY).received == TODAY


@pytest.mark.parametrize("text, expected", [
    ("000.00.01.h50 250101 0001", True),
    ("toi muon tra ho so 000.00.01.H50-250101-0001", True),
    ("ho so 000.00.01.H50-250101-0001 den dau roi", True),
    ("đăng ký khai sinh", False),
    ("1.001193", False),  # a procedure code, not a dossier
    ("0912345678", False),
])
def test_looks_like_code(text, expected):
    assert looks_like_code(text) is expected
