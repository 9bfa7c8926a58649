"""Prometheus metrics: ``GET /metrics`` in the text exposition format.

Two kinds of figures:
- **process counters and histograms** (inbound messages by channel, handler latency,
  handler errors, shed requests, rate-limited messages) kept with ``prometheus_client``.
  With several workers (``tthc-bot run --workers N``) each worker writes its figures to
  files in a shared directory (``PROMETHEUS_MULTIPROC_DIR``, set by the supervisor) and
  any worker's ``/metrics`` answers the sum over all workers — the scrape lands on a
  random worker behind the shared port, so per-process answers would be useless;
- **database gauges** computed at scrape time (outbox depth by status, platform inbox
  backlog, and whatever features add with :func:`add_gauge_source`, e.g. open PAKN by
  state and overdue items), the same whichever worker answers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Awaitable, Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

INBOUND = Counter("tthc_inbound_messages_total", "Inbound messages handled by the core",
                  ["channel"])
HANDLER_SECONDS = Histogram(
    "tthc_handler_seconds", "Time to handle one inbound message (one transaction, replies made)",
    ["channel"], buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0))
HANDLER_ERRORS = Counter("tthc_handler_errors_total",
                         "Messages answered with the polite error (handler or database failure)",
                         ["channel", "stage"])
SHED = Counter("tthc_http_shed_total", "HTTP requests refused because too many were in flight")
RATE_LIMITED = Counter("tthc_rate_limited_total", "Messages refused by a per-session rate limit",
                       ["channel"])
OUTBOX_OUTCOMES = Counter("tthc_outbox_outcomes_total", "Outbox send outcomes", ["outcome"])


@dataclass(frozen=True)
class Sample:
    name: str  # metric name, e.g. tthc_pakn_open
    labels: dict[str, str]
    value: float
    help: str = ""
    kind: str = "gauge"


GaugeSource = Callable[["UnitOfWork", datetime], Awaitable[Iterable[Sample]]]
_gauge_sources: list[tuple[str, GaugeSource]] = []


def add_gauge_source(name: str, fn: GaugeSource) -> None:
    """Register ``async fn(uow, now) -> samples`` computed from the database at each scrape.
    Features (PAKN: open items by state, overdue) register theirs in their ``setup``."""
    if any(n == name for n, _ in _gauge_sources):
        _gauge_sources[:] = [(n, f) for n, f in _gauge_sources if n != name]
    _gauge_sources.append((name, fn))


def gauge_sources() -> list[tuple[str, GaugeSource]]:
    return list(_gauge_sources)


def observe_message(channel: str, seconds: float) -> None:
    INBOUND.labels(channel).inc()
    HANDLER_SECONDS.labels(channel).observe(seconds)


def process_text() -> bytes:
    """The counters and histograms: summed over every worker when running several."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_samples(samples: Iterable[Sample]) -> str:
    out: list[str] = []
    seen: set[str] = set()
    for s in sorted(samples, key=lambda x: x.name):
        if s.name not in seen:
            seen.add(s.name)
            if s.help:
                out.append(f"# HELP {s.name} {s.help}")
            out.append(f"# TYPE {s.name} {s.kind}")
        labels = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(s.labels.items()))
        out.append(f"{s.name}{{{labels}}} {float(s.value)}" if labels else f"{s.name} {float(s.value)}")
    return "\n".join(out) + ("\n" if out else "")


CONTENT_TYPE = CONTENT_TYPE_LATEST
