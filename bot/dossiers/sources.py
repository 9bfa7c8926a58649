"""Where dossiers come from: one interface, two implementations chosen by config.

- :class:`LocalSource` — the ``dossier_records`` table, fed by ``tthc-bot dossiers import``
  (a periodic export of the one-stop system) and by the signed webhook.
- :class:`HttpSource` — the one-stop system's API (``GET {api_base_url}/dossiers/{code}``,
  contract in the README): per-attempt timeout, a bounded retry with back-off inside an
  overall deadline, and a :class:`CircuitBreaker` so that a slow or down system makes the
  bot answer "busy" at once instead of making every citizen wait.

Both raise :class:`SourceUnavailable` when they cannot answer; ``None`` means "no such
dossier".
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Callable, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.config import DossiersConfig
from bot.dossiers.model import Dossier
from bot.dossiers.wire import BadRecord, fingerprint, from_json, to_json

if TYPE_CHECKING:
    import aiohttp

    from storage.db import Database
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)


class SourceUnavailable(Exception):
    """The source could not answer (slow, down, refused, or answered nonsense)."""


class DossierSource(Protocol):
    name: str

    async def fetch(self, code: str, uow: "UnitOfWork | None" = None, *,
                    deadline: float | None = None) -> Dossier | None:
        """The dossier with this canonical code, None if the source does not know it.
        ``uow``: the caller's open transaction, for sources that read our database;
        ``deadline``: the time.monotonic() by which the caller needs the answer (default:
        ``lookup_deadline_seconds`` from now)."""

    async def close(self) -> None:
        """Release connections."""


class LocalSource:
    name = "local"

    def __init__(self, db: "Database", tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz

    async def fetch(self, code: str, uow: "UnitOfWork | None" = None, *,
                    deadline: float | None = None) -> Dossier | None:
        from storage.repos.dossiers import DossierRecords

        if uow is None:
            async with self.db.unit_of_work() as own:
                record = await own.repo(DossierRecords).get(code)
        else:
            record = await uow.repo(DossierRecords).get(code)
        if record is None:
            return None
        try:
            return from_json(record, self.tz)
        except BadRecord as exc:  # written by an older version; treat as unavailable
            log.error("stored dossier record unreadable", extra={"code": code, "error": str(exc)})
            raise SourceUnavailable(str(exc)) from None

    async def close(self) -> None:
        return None


async def store_record(uow: "UnitOfWork", dossier: Dossier, now) -> str:
    """Keep ``dossier`` in the local table: "inserted", "updated" or "unchanged"."""
    from storage.repos.dossiers import DossierRecords

    record = to_json(dossier)
    return await uow.repo(DossierRecords).upsert(
        code=dossier.code, status=int(dossier.status), record=record, fingerprint=fingerprint(record),
        source_updated_at=dossier.source_updated_at, now=now)


class CircuitBreaker:
    """Closed → (``failures`` consecutive failures) → open: calls fail at once →
    (after ``reset_seconds``) half-open: one trial call; success closes, failure reopens.
    Per process: each worker protects itself."""

    def __init__(self, failures: int, reset_seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = failures
        self.reset_seconds = reset_seconds
        self._now = now
        self.failures = 0
        self.state = "closed"
        self.opened_at = 0.0

    def allow(self) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open" and self._now() - self.opened_at >= self.reset_seconds:
            self.state = "half-open"
            return True
        return False  # open, or a trial call is already under way

    def success(self) -> None:
        self.failures = 0
        self.state = "closed"

    def abandoned(self) -> None:
        """A call ended without an outcome (cancelled): a trial call no longer holds the
        half-open state, the next call is the trial."""
        if self.state == "half-open":
            self.state = "open"
            self.opened_at = self._now() - self.reset_seconds

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.max_failures:
            if self.state != "open":
                log.warning("one-stop system circuit breaker opened", extra={"failures": self.failures})
            self.state = "open"
            self.opened_at = self._now()


class _Retryable(Exception):
    pass


class HttpSource:
    name = "http"

    def __init__(self, cfg: DossiersConfig, tz: ZoneInfo, *, breaker: CircuitBreaker | None = None) -> None:
        self.cfg = cfg
        self.tz = tz
        self.base = cfg.api_base_url.rstrip("/")
        self.breaker = breaker or CircuitBreaker(cfg.breaker_failures, cfg.breaker_reset_seconds)
        self._session: "aiohttp.ClientSession | None" = None
        self.calls = 0  # attempts made (for metrics and tests)

    def _client(self) -> "aiohttp.ClientSession":
        import aiohttp

        if self._session is None or self._session.closed:
            headers = {"Accept": "application/json", "User-Agent": "tthc-bot"}
            if self.cfg.api_token:
                headers[self.cfg.api_auth_header] = self.cfg.api_token
            self._session = aiohttp.ClientSession(
                headers=headers, timeout=aiohttp.ClientTimeout(total=None, connect=self.cfg.request_timeout_seconds))
        return self._session

    async def fetch(self, code: str, uow: "UnitOfWork | None" = None, *,
                    deadline: float | None = None) -> Dossier | None:
        if not self.breaker.allow():
            raise SourceUnavailable("circuit breaker open")
        if deadline is None:
            deadline = time.monotonic() + self.cfg.lookup_deadline_seconds
        try:
            return await self._fetch(code, deadline - 0.05)
        except asyncio.CancelledError:  # no outcome: a half-open breaker must not wait for it
            self.breaker.abandoned()
            raise

    async def _fetch(self, code: str, deadline: float) -> Dossier | None:
        import aiohttp

        url = f"{self.base}/dossiers/{quote(code, safe='')}"
        problem = "no attempt"
        for attempt in range(self.cfg.max_attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0.01:
                break
            self.calls += 1
            try:
                async with asyncio.timeout(min(self.cfg.request_timeout_seconds, remaining)):
                    async with self._client().get(url) as resp:
                        if resp.status == 404:
                            self.breaker.success()
                            return None
                        if resp.status == 429 or resp.status >= 500:
                            raise _Retryable(f"HTTP {resp.status}")
                        if resp.status != 200:
                            # 401/403/400: our configuration is wrong; retrying will not help.
                            log.error("one-stop system refused the request",
                                      extra={"status": resp.status, "code": code})
                            self.breaker.failure()
                            raise SourceUnavailable(f"HTTP {resp.status}")
                        body = await resp.json(content_type=None)
                dossier = from_json(body, self.tz)
                if dossier.code != code:
                    raise BadRecord(f"code: asked for {code}, got {dossier.code}")
                self.breaker.success()
                return dossier
            except (TimeoutError, aiohttp.ClientError, _Retryable, ValueError) as exc:
                if isinstance(exc, BadRecord):
                    log.error("one-stop system answered outside the contract",
                              extra={"code": code, "error": str(exc)})
                    self.breaker.failure()
                    raise SourceUnavailable(str(exc)) from None
                problem = type(exc).__name__ + (f" {exc}" if str(exc) else "")
                log.warning("one-stop system attempt failed",
                            extra={"code": code, "attempt": attempt + 1, "problem": problem})
            pause = min(self.cfg.retry_backoff_seconds * (2 ** attempt), deadline - time.monotonic())
            if attempt + 1 < self.cfg.max_attempts and pause > 0:
                await asyncio.sleep(pause)
        self.breaker.failure()
        raise SourceUnavailable(problem)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def build_source(cfg: DossiersConfig, db: "Database", tz: ZoneInfo) -> DossierSource:
    if cfg.backend == "http":
        return HttpSource(cfg, tz)
    return LocalSource(db, tz)
