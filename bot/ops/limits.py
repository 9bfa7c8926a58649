"""Rate limits and load shedding for the HTTP side.

- :class:`TokenBuckets` — a per-key token bucket **in this process** (the web chat keys it
  by session). With several workers a session's keep-alive connection stays on one
  worker, so in practice one bucket applies; a client opening a new connection per
  message could get up to ``workers`` times the rate. That is deliberate: the limit is
  there to keep one noisy page from hogging a worker, not as an abuse wall, and a
  per-process bucket costs no database round trip. Memory is bounded: at most
  ``max_keys`` buckets, the least recently used dropped first.
- :func:`shedding_middleware` — at most ``max_inflight`` requests are being handled at
  once by this process; more get an immediate, polite 503 with ``Retry-After`` instead of
  queueing without bound while the database or a platform is slow.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from typing import Callable

from aiohttp import web

log = logging.getLogger(__name__)

BUSY_503 = "Hệ thống đang bận, vui lòng thử lại sau ít phút."


class TokenBuckets:
    def __init__(self, rate_per_minute: float, burst: int, *, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 when allowed, else the seconds to wait."""
        now = self._clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.rate if self.rate > 0 else math.inf
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def shedding_middleware(max_inflight: int, exempt: tuple[str, ...] = ("/healthz", "/metrics")):
    """Refuse (503) requests beyond ``max_inflight`` handled at once by this process."""
    state = {"inflight": 0}

    @web.middleware
    async def shed(request: web.Request, handler):
        if request.path in exempt:
            return await handler(request)
        if state["inflight"] >= max_inflight:
            from bot.ops import metrics

            metrics.SHED.inc()
            log.warning("request shed: too many in flight", extra={"path": request.path,
                                                                    "inflight": state["inflight"]})
            return web.json_response({"error": BUSY_503}, status=503, headers={"Retry-After": "5"})
        state["inflight"] += 1
        try:
            return await handler(request)
        finally:
            state["inflight"] -= 1

    shed.state = state  # type: ignore[attr-defined]
    return shed
