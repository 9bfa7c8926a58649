"""A pytest plugin: every log record of the whole suite, formatted as production writes it
(``bot.logs.MaskingFormatter``, noisy libraries at WARNING), is scanned at the end of the
session for phone numbers, ID numbers and the secrets configured in the tests. Any hit
fails the run and lists the test and the line. The formatter is given *no* secrets, so a
secret reaching a log record at all is caught, not just one the scrubber misses.

Registered in ``tests/conftest.py`` (``pytest_plugins``)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pytest

from bot.logs import MaskingFormatter, quiet_noisy_loggers

# Values the tests put in configurations and conversations (keep in step with the fixtures).
SECRETS = (
    "tg-webhook-secret-123", "zalo-bot-secret-456", "oa-secret-key-789", "123456:TEST-token",
    "app-secret-xyz", "test-token-123", "dossier-hook-secret-0123456789", "scrape-token-123",
)
PII_PATTERNS = (
    re.compile(r"(?<![\d*])0[35789]\d{8}(?!\d)"),  # a Vietnamese mobile number
    re.compile(r"(?<![\d*])\+?84[35789]\d{8}(?!\d)"),
    re.compile(r"(?<![\d*.\-])0\d{11}(?![\d.\-])"),  # a 12-digit citizen ID number
)


@dataclass
class Leak:
    test: str
    what: str
    line: str


# Object addresses in reprs ("<ClientSession object at 0x7f0995363810>") are not numbers anyone owns.
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")


def scan_line(line: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    found = [f"secret {s[:4]}…" for s in secrets if s in line]
    line = ADDRESS.sub("0x…", line)
    for pattern in PII_PATTERNS:
        for m in pattern.finditer(line):
            found.append(f"personal number {m.group(0)[:3]}…")
    return found


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(MaskingFormatter(as_json=False, secrets=()))
        self.current = "<collection>"
        self.leaks: list[Leak] = []
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            return
        self.lines += 1
        for what in scan_line(line):
            if len(self.leaks) < 200:
                self.leaks.append(Leak(self.current, what, line[:300]))


_capture = _Capture()


def pytest_sessionstart(session: pytest.Session) -> None:
    root = logging.getLogger()
    root.addHandler(_capture)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    quiet_noisy_loggers(logging.INFO)


def pytest_runtest_logstart(nodeid: str, location) -> None:
    _capture.current = nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_capture)
    if _capture.leaks:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.section("personal data or secrets in logs", red=True)
            for leak in _capture.leaks[:50]:
                tr.line(f"{leak.test}: {leak.what}: {leak.line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def leaks() -> list[Leak]:
    return list(_capture.leaks)


def lines_seen() -> int:
    return _capture.lines
