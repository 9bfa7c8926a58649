"""Several worker processes on one port: ``tthc-bot run --workers N``.

The supervisor (this module, the process you start) checks the schema once, then starts
N workers — each a plain ``tthc-bot run`` process with the whole service (web chat,
webhooks, dashboard, scheduler) listening on the same host:port with ``SO_REUSEPORT``, so
the kernel spreads connections over them. Everything that matters is in PostgreSQL
(conversation state, inbox, outbox, throttling counters), so any worker can serve any
citizen and any worker can die: the supervisor starts a replacement (after
``ops.restart_backoff_seconds``, longer if it keeps dying at once), webhook updates a dead
worker accepted are re-driven from the inbox by another worker's ``<channel>.inbox`` job,
and outbox rows it had claimed are sent by another worker when their lease runs out.

SIGTERM/SIGINT to the supervisor stop the workers gracefully (SIGKILL after 20 s). A
worker gets SIGTERM if the supervisor dies (``PR_SET_PDEATHSIG`` on Linux). Worker
metrics are summed through a shared directory (see :mod:`bot.ops.metrics`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from bot.ops.metrics import MULTIPROC_ENV

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 20.0
FAST_DEATH_SECONDS = 10.0  # a worker dying sooner than this after its start is crash-looping
MAX_BACKOFF_SECONDS = 30.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    pids: list[int] = field(default_factory=list)


class Supervisor:
    def __init__(self, argv: list[str], workers: int, *, backoff: float = 1.0) -> None:
        self.argv = argv
        self.n = workers
        self.backoff = backoff
        self.slots = [_Slot(i) for i in range(workers)]
        self.stopping = False
        self.metrics_dir = tempfile.mkdtemp(prefix="tthc-metrics-")

    def _start(self, slot: _Slot) -> None:
        env = dict(os.environ, **{MULTIPROC_ENV: self.metrics_dir, "TTHC_WORKER_INDEX": str(slot.index)})
        slot.proc = subprocess.Popen(self.argv, env=env, preexec_fn=_die_with_parent)
        slot.started = time.monotonic()
        slot.pids.append(slot.proc.pid)
        log.info("worker started", extra={"worker": slot.index, "pid": slot.proc.pid})

    def _on_signal(self, signum, _frame) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            for slot in self.slots:
                self._start(slot)
            while not self.stopping:
                self._tick()
                time.sleep(0.2)
            return 0
        finally:
            self._stop_all()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _tick(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is not None:
                code = slot.proc.poll()
                if code is None:
                    if now - slot.started > FAST_DEATH_SECONDS:
                        slot.failures = 0
                    continue
                quick = now - slot.started < FAST_DEATH_SECONDS
                slot.failures = slot.failures + 1 if quick else 0
                delay = min(self.backoff * (2 ** max(slot.failures - 1, 0)), MAX_BACKOFF_SECONDS)
                log.error("worker died; starting a replacement",
                          extra={"worker": slot.index, "pid": slot.proc.pid, "exit_code": code,
                                 "restart_in_seconds": round(delay, 1)})
                try:
                    from prometheus_client import multiprocess

                    multiprocess.mark_process_dead(slot.proc.pid, self.metrics_dir)
                except Exception:
                    pass
                slot.proc = None
                slot.restart_at = now + delay
            elif now >= slot.restart_at:
                self._start(slot)

    def _stop_all(self) -> None:
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for p in procs:
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("worker did not stop in time; killing it", extra={"pid": p.pid})
                p.kill()
                p.wait()
        log.info("all workers stopped")


def worker_argv(config_path: str | None, host: str, port: int) -> list[str]:
    argv = [sys.executable, "-m", "bot.cli"]
    if config_path:
        argv += ["--config", config_path]
    return argv + ["run", "--worker", "--host", host, "--port", str(port)]


def install_event_loop(choice: str, is_postgres: bool) -> str:
    """Set the event loop policy `tthc-bot run` will use; returns the loop's name.

    "auto": uvloop on PostgreSQL when it is installed (the ``postgres`` extra brings it),
    asyncio otherwise — on SQLite, aiosqlite's thread hands each result back through
    ``call_soon_threadsafe``, which uvloop serves more slowly (throughput fell by a third in
    the load benchmark). Raises ``RuntimeError`` when "uvloop" is asked for and missing."""
    import asyncio

    if choice == "asyncio" or (choice == "auto" and not is_postgres):
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise RuntimeError("ops.event_loop = \"uvloop\" but uvloop is not installed "
                               "(pip install 'tthc-bot[postgres]')") from None
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
