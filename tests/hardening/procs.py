"""Starting the real service as processes (``tthc-bot run [--workers N]``) for fault tests
and the load benchmark, and a throwaway PostgreSQL server of our own.

Only processes started here are stopped or killed, always by their pid."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_ID_HASH_KEY = "test-id-hash-key-0123456789abcdef"  # as tests/conftest.py (benchmarks/load.py imports this module)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB."""
    cur = peak = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                cur = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return cur, peak


@dataclass
class Service:
    """``tthc-bot run`` in a subprocess (the supervisor when workers > 1)."""

    env: dict[str, str]
    workers: int = 1
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "Service":
        env = {**os.environ, **self.env}
        env.pop("TTHC_CONFIG", None)
        # the ID hash key from the environment, not a key file written into the checkout's var/
        env.setdefault("TTHC__DOSSIERS__ID_HASH_KEY", TEST_ID_HASH_KEY)
        if self.log_path is None:
            self.log_path = Path(tempfile.mkstemp(prefix="tthc-service-", suffix=".log")[1])
        args = [sys.executable, "-m", "bot.cli", "run", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"service exited with {self.proc.returncode}: {self.log()[-2000:]}")
            if len(self.worker_pids()) >= self.workers and self.healthy():
                # every worker answers (the kernel spreads new connections)
                seen: set[int] = set()
                for _ in range(40):
                    seen.add(self.health().get("worker", 0))
                    if len(seen) >= self.workers:
                        return self
                time.sleep(0.2)
            time.sleep(0.2)
        raise RuntimeError(f"service not ready in {timeout}s: {self.log()[-2000:]}")

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        return child_pids(self.proc.pid) if self.workers > 1 else [self.proc.pid]

    def health(self) -> dict:
        import json

        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2) as r:
                return json.loads(r.read())
        except Exception:
            return {}

    def healthy(self) -> bool:
        return self.health().get("status") == "ok"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for pid in self.worker_pids():
                    _kill(pid)
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.proc = None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pg_bin_dir() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            return Path(d)
    return None


class ThrowawayPostgres:
    """Our own PostgreSQL server in a temporary directory (never the machine's cluster),
    so a test may stop and restart it."""

    def __init__(self) -> None:
        bindir = pg_bin_dir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin")
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="tthc-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres account
            shutil.chown(self.dir, "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as_user, *args], capture_output=True, text=True, check=check, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> "ThrowawayPostgres":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-l", str(self.dir / "pg.log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", mode, "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
