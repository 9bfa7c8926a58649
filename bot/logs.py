"""Structured logging: one line per event (key=value text or JSON), personal data masked."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

from bot.privacy import mask_pii

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v) for v in value]
    return value


class MaskingFormatter(logging.Formatter):
    def __init__(self, *, as_json: bool = False, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.as_json = as_json
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[secret]")
        return mask_pii(text)

    def format(self, record: logging.LogRecord) -> str:
        message = self._scrub(record.getMessage())
        extras = {k: _mask(v) for k, v in _extras(record).items()}
        when = datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
        exc = self._scrub(self.formatException(record.exc_info)) if record.exc_info else ""
        if self.as_json:
            doc = {"ts": when, "level": record.levelname, "logger": record.name, "event": message, **extras}
            if exc:
                doc["exc"] = exc
            return self._scrub(json.dumps(doc, ensure_ascii=False, default=str))
        fields = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in extras.items())
        line = f"{when} {record.levelname:<7} {record.name}: {message}" + (f" {fields}" if fields else "")
        line = self._scrub(line)
        return line + ("\n" + exc if exc else "")


def setup_logging(level: str = "INFO", *, as_json: bool = False, secrets: tuple[str, ...] = ()) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_tthc", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._tthc = True  # type: ignore[attr-defined]
    handler.setFormatter(MaskingFormatter(as_json=as_json, secrets=secrets))
    root.addHandler(handler)
    root.setLevel(level.upper())
    quiet_noisy_loggers(root.level)


NOISY = ("aiohttp.access", "sqlalchemy.engine", "httpx", "apscheduler", "alembic")


def quiet_noisy_loggers(level: int = logging.INFO) -> None:
    """Libraries that would log request URLs (with tokens) or SQL: warnings only."""
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, level))
