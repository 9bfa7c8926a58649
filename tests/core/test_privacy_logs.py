from __future__ import annotations

import json
import logging

import pytest

from bot.logs import MaskingFormatter
from bot.messages import split_text
from bot.privacy import mask_name, mask_phone, mask_pii, redact_pii


@pytest.mark.parametrize("text, expected", [
    ("gọi 0912345678 nhé", "gọi *******678 nhé"),
    ("sđt: 0912 345 678", "sđt: *******678"),
    ("+84912345678", "********678"),
    ("CCCD 001203004567", "CCCD **********67"),
    ("email an.nguyen@gmail.com", "email a***@gmail.com"),
    ("mã hồ sơ 000.00.01.H50-250101-0001", "mã hồ sơ 000.00.01.H50-250101-0001"),
    ("thủ tục 1.000419", "thủ tục 1.000419"),
    # ID numbers as people write them: in groups (they were left whole, or all but 3 digits)
    ("CCCD 0791 2345 6789 nhé", "CCCD **********89 nhé"),
    ("CCCD: 079.123.456.789", "CCCD: **********89"),
    ("CMND 123 456 789", "CMND *******89"),
    ("lệ phí 50.000 đồng ngày 20/10/2026", "lệ phí 50.000 đồng ngày 20/10/2026"),
    ("số tiền 1.500.000.000 đồng", "số tiền 1.500.000.000 đồng"),
])
def test_mask_pii(text, expected):
    assert mask_pii(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("CCCD 0791 2345 6789, CMND 123 456 789.", "CCCD [đã ẩn], CMND [đã ẩn]."),
    ("CCCD 079-123-456-789", "CCCD [đã ẩn]"),
    ("hồ sơ 000.00.01.H50-250101-0001, thủ tục 1.001193", "hồ sơ 000.00.01.H50-250101-0001, thủ tục 1.001193"),
])
def test_redact_pii_on_public_text(text, expected):
    assert redact_pii(text) == expected


def test_mask_name_and_phone():
    assert mask_name("Nguyễn Văn An") == "N. V. A."
    assert mask_phone("0912 345 678") == "*******678"


def test_formatter_masks_message_extras_and_secrets():
    fmt = MaskingFormatter(as_json=True, secrets=("123456:ABC-secret-token",))
    record = logging.makeLogRecord({"msg": "citizen %s wrote", "args": ("0987654321",), "levelname": "INFO",
                                    "name": "t", "phone": "0987654321",
                                    "url": "https://api.telegram.org/bot123456:ABC-secret-token/x"})
    doc = json.loads(fmt.format(record))
    assert doc["event"] == "citizen *******321 wrote" and doc["phone"] == "*******321"
    assert "secret-token" not in json.dumps(doc)


def test_split_text_at_paragraphs_without_loss():
    text = ("Đoạn một. " * 30).strip() + "\n\n" + ("Đoạn hai. " * 30).strip()
    parts = split_text(text, 400)
    assert all(len(p) <= 400 for p in parts) and len(parts) == 2
    assert parts[0].startswith("Đoạn một") and parts[1].startswith("Đoạn hai")
    long_word = "x" * 1000
    assert "".join(split_text(long_word, 300)) == long_word
    assert split_text("ngắn", 10) == ["ngắn"]
