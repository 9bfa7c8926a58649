"""Load benchmark: simulated citizens on loopback against the real service processes.

    .venv/bin/python benchmarks/load.py --db sqlite --workers 1
    .venv/bin/python benchmarks/load.py --db postgres --workers 2 [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]

Starts ``tthc-bot run [--workers N]`` on a free 127.0.0.1 port over a fresh database (a
temporary SQLite file, or a PostgreSQL database created for the run and dropped after),
fake Telegram and Zalo OA servers (``tests/fakes``) in this process for the replies, and
citizens who hold realistic conversations (menu, procedure lookups with a detail card and
its sections, dossier status by code, help, cancel) through three doors at once: the web
chat API, the Telegram webhook (with its secret) and the Zalo OA webhook (signed).

A message's latency is end to end: from sending it to the reply being produced — the web
chat's HTTP answer carries the reply; for Telegram and Zalo it is the moment the platform
(the fake) receives the first reply message. Two phases:

1. **throughput** — ``--concurrency`` citizens, each sending the next message as soon as the
   reply came (closed loop), for ``--seconds``;
2. **latency at a fixed rate** — messages started at ``--rate`` per second (open loop),
   each by an idle citizen, for ``--seconds``; p50/p95/p99 are of this phase.

Reports messages/s (total and per worker process), latency percentiles, errors (HTTP
errors, timeouts, missing replies) and each worker's peak resident memory; writes
``benchmarks/out/load_<db>_<workers>w.json``. Traffic goes only to 127.0.0.1.

A quarter of the web and Telegram citizens file a PAKN through the whole form
(``pakn_script``, 16 messages ending with the tracking code; content, place, name and
phone vary per citizen), and a tenth answer satisfaction surveys (``SURVEY_SCRIPT``: the
surveys are seeded as sent to them, as after a resolved dossier; each pass answers one
survey's questions by button and the last one's comment as text, then goes on to the next).

Besides wall-clock rates, the CPU time of the service processes (``/proc/<pid>/stat``,
user + system, of the worker processes and the supervisor) is read before and after each
phase: **messages per service CPU-second** does not depend on how much of the two cores
the load generator and the fakes took meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from tests.fakes import FakeTelegram, FakeZaloOA  # noqa: E402
from tests.fakes.server import read_params  # noqa: E402
from tests.fakes.telegram import callback_update, text_update  # noqa: E402
from tests.fakes.zalo import signed_event, text_event  # noqa: E402
from tests.hardening.procs import Service, rss_mb  # noqa: E402

TG_SECRET = "bench-telegram-secret-1"
OA_SECRET = "bench-oa-secret-key"
CODES = [f"000.00.01.H50-261020-{i:04d}" for i in range(1, 51)]

# A step is ("text", "...") or ("button", index among the last reply's choices, or payload).
SCRIPTS: list[list[tuple[str, Any]]] = [
    [("text", "menu"), ("button", "m:kb"), ("text", "đăng ký khai sinh"), ("button", 0), ("button", 1),
     ("text", "Menu")],
    [("text", "cấp lại căn cước công dân"), ("button", 0), ("text", "Hủy")],
    [("text", "xin chào"), ("button", "m:dossier"), ("text", "{code}"), ("button", "m:help"), ("text", "menu")],
    [("text", "{code}"), ("text", "thủ tục đăng ký kết hôn cần giấy tờ gì"), ("button", 0), ("text", "Hủy")],
    [("text", "gplx bị mất"), ("button", 0), ("button", "m:contact")],
]
# Filing a PAKN (feedback) through the whole form: buttons by payload, so web and Telegram.
PAKN_TOPICS = [
    ("đăng ký khai sinh", "Hồ sơ đăng ký khai sinh của con tôi nộp tại bộ phận một cửa đã quá hẹn "
                          "{days} ngày mà chưa có kết quả."),
    ("cấp lại căn cước công dân", "Tôi nộp hồ sơ cấp lại căn cước từ {days} ngày trước, đến hẹn lên lấy "
                                  "thì được bảo chưa có, không ai giải thích lý do."),
    ("đăng ký kết hôn", "Cán bộ yêu cầu nộp thêm bản sao giấy tờ không có trong danh mục thủ tục, "
                        "tôi phải đi lại {days} lần. Đề nghị kiểm tra và hướng dẫn đúng quy định."),
    ("cấp đổi giấy phép lái xe", "Đề nghị bổ sung hướng dẫn nộp trực tuyến đổi giấy phép lái xe, "
                                 "cổng dịch vụ công báo lỗi khi tải ảnh lên ({days} lần thử)."),
]
PLACES = ["Bộ phận một cửa UBND xã Tân Hội", "Trung tâm Phục vụ hành chính công tỉnh",
          "Công an phường 3", "UBND thị trấn Liên Nghĩa, quầy số {days}"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bích Ngọc", "Lê Hoàng Minh", "Phạm Thu Hà", "K'Brơi Ha Đăng"]


def pakn_script(rnd: random.Random) -> list[tuple[str, Any]]:
    """Filing a PAKN (feedback) through the whole form: buttons by payload, so web and
    Telegram; what is typed varies per citizen."""
    topic, content = rnd.choice(PAKN_TOPICS)
    days = str(rnd.randint(2, 30))
    phone = f"09{rnd.randint(10, 99)} {rnd.randint(100, 999)} {rnd.randint(100, 999)}"
    return [
        ("button", "m:pakn"), ("button", rnd.choice(["pf:k:phan_anh", "pf:k:kien_nghi"])),
        ("button", "pf:s:procedure"), ("text", topic), ("pick", "pf:p:"), ("button", "pf:a:STP"),
        ("text", content.replace("{days}", days)), ("button", "pf:skip"),
        ("text", rnd.choice(PLACES).replace("{days}", days)), ("text", rnd.choice(NAMES)),
        ("text", phone), ("button", "pf:skip"), ("button", "pf:skip"), ("button", "pf:y"),
        ("button", "pf:send"), ("text", "menu"),
    ]


# Answering a seeded survey: the first question by its button, the rest by the first
# offered answer, the comment typed; "{survey}" is the citizen's next seeded survey.
SURVEY_QUESTIONS = 10  # of the bundled questionnaire for a dossier, the last one the comment
SURVEY_SCRIPT: list[tuple[str, Any]] = [("button", "sv:{survey}:1:2")] + [("pick", "sv:")] * (SURVEY_QUESTIONS - 2) + [
    ("text", "Cán bộ hướng dẫn nhiệt tình, nhưng phải chờ lâu."), ("text", "menu")]
PAKN_SHARE = 0.25  # of web and Telegram citizens
SURVEY_SHARE = 0.10  # of web and Telegram citizens
SURVEYS_PER_CITIZEN = 12


def survey_citizen(n: int, channel: str) -> bool:
    return channel != "zalo_oa" and random.Random(n * 7919).random() < SURVEY_SHARE


def web_sid(n: int) -> str:
    return f"bench-citizen-{n:012d}-sid"


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (and of their waited-for children)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return total


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_script: dict[str, int] = field(default_factory=dict)
    done: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Replies:
    """Waiters for the first platform message to a chat (Telegram / Zalo fakes)."""

    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future] = {}
        self.choices: dict[str, list[str]] = {}

    def expect(self, chat: str) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiters[chat] = fut
        return fut

    def got(self, chat: str, choices: list[str]) -> None:
        if choices:
            self.choices[chat] = choices
        fut = self.waiters.pop(chat, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())


def tg_hook(replies: Replies):
    @web.middleware
    async def hook(request: web.Request, handler):
        response = await handler(request)
        if request.match_info.get("method") == "sendMessage":
            params = await read_params(request)
            markup = params.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            choices = [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]
            replies.got(str(params.get("chat_id")), [c for c in choices if c])
        return response

    return hook


def oa_hook(replies: Replies):
    @web.middleware
    async def hook(request: web.Request, handler):
        response = await handler(request)
        if request.path.endswith("/message/cs"):
            body = json.loads(await request.read() or b"{}")
            text = body.get("message", {}).get("text", "")
            n = sum(1 for line in text.splitlines() if line[:3].rstrip(". ").isdigit())
            replies.got(str(body.get("recipient", {}).get("user_id")), [str(i) for i in range(1, n + 1)])
        return response

    return hook


class Citizen:
    def __init__(self, n: int, channel: str, base: str, session: aiohttp.ClientSession, replies: Replies,
                 oa_app_id: str, ids: itertools.count) -> None:
        self.n = n
        self.channel = channel
        self.base = base
        self.s = session
        self.replies = replies
        self.oa_app_id = oa_app_id
        self.ids = ids
        self.user = str(800_000_000 + n)
        self.choices: list[str] = []
        rnd = random.Random(n)
        self.surveys: list[int] = []
        self.cookie = ""
        if survey_citizen(n, channel):
            self.script, self.kind = SURVEY_SCRIPT, "survey"
            if channel == "web":
                self.cookie = web_sid(n)
        elif channel != "zalo_oa" and rnd.random() < PAKN_SHARE:
            self.script, self.kind = pakn_script(rnd), "pakn"
        else:
            self.script, self.kind = rnd.choice(SCRIPTS), "lookups"
        self.step = 0
        self.code = CODES[n % len(CODES)]
        self.last_id = 0

    def _next(self) -> tuple[str, str]:
        kind, value = self.script[self.step % len(self.script)]
        if isinstance(value, str) and "{survey}" in value:
            rounds = self.step // len(self.script)
            value = value.replace("{survey}", str(self.surveys[rounds % len(self.surveys)]))
        self.step += 1
        if kind == "pick":  # the first offered choice with this prefix
            found = [c for c in self.choices if c.startswith(value)]
            return ("button", found[0]) if found else ("text", "menu")
        if kind == "button":
            if isinstance(value, str):
                return "button", value
            if value < len(self.choices):
                return "button", self.choices[value]
            return "text", "menu"
        return "text", value.replace("{code}", self.code)

    async def send_one(self, stats: Stats, timeout: float = 10.0) -> None:
        kind, value = self._next()
        started = time.perf_counter()
        try:
            if self.channel == "web":
                body = {"text": value} if kind == "text" else {"choice": value}
                body["id"] = uuid.uuid4().hex[:16]
                body["after"] = self.last_id  # as the page does: only the new messages
                headers = {"Cookie": f"tthc_sid={self.cookie}"} if self.cookie else {}
                async with self.s.post(self.base + "/api/chat", json=body, headers=headers) as r:
                    data = await r.json()
                    if r.status != 200:
                        stats.error(f"web {r.status}")
                        return
                    if not self.cookie and "tthc_sid" in r.cookies:
                        self.cookie = r.cookies["tthc_sid"].value
                    msgs = data.get("messages", [])
                    if not msgs:
                        stats.error("web no reply")
                        return
                    self.choices = [c["payload"] for c in msgs[-1].get("choices", [])]
                    self.last_id = data.get("last_id", self.last_id)
                ended = time.perf_counter()
            else:
                waiter = self.replies.expect(self.user)
                if self.channel == "telegram":
                    uid = next(self.ids)
                    update = text_update(uid, value, user_id=int(self.user)) if kind == "text" \
                        else callback_update(uid, value, user_id=int(self.user))
                    async with self.s.post(self.base + "/webhooks/telegram", json=update,
                                           headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
                        if r.status != 200:
                            stats.error(f"telegram {r.status}")
                            return
                else:  # Zalo OA: buttons are typed as their number
                    text = value
                    if kind == "button":
                        text = str(self.choices.index(value) + 1) if value in self.choices else "menu"
                    event = text_event(self.user, text, f"m{next(self.ids)}", app_id=self.oa_app_id,
                                       timestamp=str(int(time.time() * 1000)))
                    raw, headers = signed_event(event, self.oa_app_id, OA_SECRET)
                    async with self.s.post(self.base + "/webhooks/zalo-oa", data=raw, headers=headers) as r:
                        if r.status != 200:
                            stats.error(f"zalo_oa {r.status}")
                            return
                try:
                    ended = await asyncio.wait_for(waiter, timeout)
                except asyncio.TimeoutError:
                    stats.error(f"{self.channel} no reply in {timeout:.0f}s")
                    self.replies.waiters.pop(self.user, None)
                    return
                await asyncio.sleep(0.002)  # let the rest of a multi-message reply arrive
                got = self.replies.choices.get(self.user, [])
                self.choices = got if self.channel == "telegram" else \
                    [str(i) for i in range(1, len(got) + 1)]
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            stats.error(f"{self.channel} {type(exc).__name__}")
            return
        stats.latencies.append(ended - started)
        stats.by_channel[self.channel] = stats.by_channel.get(self.channel, 0) + 1
        stats.by_script[self.kind] = stats.by_script.get(self.kind, 0) + 1
        stats.done += 1


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k] * 1000


async def closed_loop(citizens: list[Citizen], seconds: float) -> tuple[Stats, float]:
    stats = Stats()
    stop = time.perf_counter() + seconds

    async def run(c: Citizen) -> None:
        while time.perf_counter() < stop:
            await c.send_one(stats)

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in citizens))
    return stats, time.perf_counter() - started


async def open_loop(citizens: list[Citizen], rate: float, seconds: float) -> tuple[Stats, float, int]:
    stats = Stats()
    idle = list(citizens)
    random.Random(7).shuffle(idle)
    tasks: set[asyncio.Task] = set()
    skipped = 0
    started = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        at = started + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            skipped += 1  # every citizen still waiting for a reply: the service is behind
            continue
        c = idle.pop()

        async def one(c: Citizen = c) -> None:
            try:
                await c.send_one(stats)
            finally:
                idle.insert(0, c)

        t = asyncio.create_task(one())
        tasks.add(t)
        t.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return stats, time.perf_counter() - started, skipped


async def seed(url: str, survey_citizens: list[tuple[int, str]]) -> dict[int, list[int]]:
    """Agencies, dossiers, and for each survey citizen (n, channel) their identity and
    SURVEYS_PER_CITIZEN surveys sent to them; returns the survey ids by citizen."""
    from datetime import datetime, timedelta, timezone

    from bot.config import load_config
    from bot.dossiers.sources import store_record
    from bot.dossiers.wire import from_json
    from bot.messages import ConversationKey
    from bot.surveys.questionnaire import load_questionnaire
    from storage.db import Database
    from storage.repos.pakn import PaknRepo
    from storage.repos.surveys import SurveyRepo
    from tests.dossiers.conftest import make_record

    from bot.dossiers.keys import configure

    cfg = load_config(None, env={})
    configure(cfg)  # ID-number fingerprints (the key file under var/, as the service uses)
    tz = cfg.tz
    now = datetime.now(timezone.utc)
    db = Database(url)
    surveys: dict[int, list[int]] = {}
    try:
        async with db.unit_of_work() as uow:
            await uow.repo(PaknRepo).save_agency("STP", "Sở Tư pháp", True, now)
            for code in CODES:
                await store_record(uow, from_json(make_record(code=code), tz), now)
            q = load_questionnaire(None)
            assert len(q.questions_for("dossier")) == SURVEY_QUESTIONS
            repo = uow.repo(SurveyRepo)
            qid = await repo.ensure_questionnaire(code=q.code, version=q.version, digest=q.digest,
                                                  content=q.raw, now=now)
            for n, channel in survey_citizens:
                chat = web_sid(n) if channel == "web" else str(800_000_000 + n)
                ident = await uow.citizens.resolve(ConversationKey(channel, chat, chat), now)
                for k in range(SURVEYS_PER_CITIZEN):
                    code = CODES[(n + k) % len(CODES)]
                    sid = await repo.create(
                        case_type="dossier", case_id=f"{code}-{n}-{k}", citizen_id=ident.citizen_id,
                        questionnaire_id=qid, agency="STP", channel=channel, resolved_at=now,
                        resolved_month=now.astimezone(tz).strftime("%Y-%m"), status="sent",
                        question_count=SURVEY_QUESTIONS, next_question=1, send_at=now, sent_at=now,
                        expires_at=now + timedelta(days=7), created_at=now)
                    surveys.setdefault(n, []).append(sid)
    finally:
        await db.dispose()
    return surveys


async def db_backend_pids(url: str) -> list[int]:
    """PostgreSQL's server processes serving the benchmark database (none on SQLite)."""
    if url.startswith("sqlite"):
        return []
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


def prepare_db(kind: str, pg_url: str | None) -> tuple[str, Any]:
    from storage.migrate import upgrade

    if kind == "sqlite":
        d = tempfile.mkdtemp(prefix="tthc-bench-")
        url = f"sqlite:///{d}/bench.sqlite3"
        upgrade(url)
        return url, lambda: None
    from sqlalchemy.engine import make_url

    from tests.conftest import _pg_admin

    base = pg_url or os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"tthc_bench_{os.getpid()}"
    _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}"')
    _pg_admin(base, f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url, lambda: _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main(args: argparse.Namespace, url: str) -> dict[str, Any]:
    replies = Replies()
    tg = FakeTelegram(token="424242:BENCH-token")
    tg.app.middlewares.append(tg_hook(replies))
    oa = FakeZaloOA()
    oa.app.middlewares.append(oa_hook(replies))
    await tg.start()
    await oa.start()
    svc = None
    mix = {"web": args.web, "telegram": args.telegram, "zalo_oa": args.zalo}
    channels = [ch for ch, w in mix.items() for _ in range(int(w * 100))]
    random.Random(1).shuffle(channels)  # every phase gets the mix, however few citizens
    phases = [(20, 10_000_000), (args.concurrency, 0), (int(max(args.rate, 50)), 1_000_000)]
    everyone = [(offset + i, channels[(offset + i) % len(channels)]) for k, offset in phases for i in range(k)]
    try:
        surveys = await seed(url, [(n, ch) for n, ch in everyone if survey_citizen(n, ch)])
        env = {
            "TTHC_DATABASE_URL": url, "TTHC__LOGGING__LEVEL": "WARNING",
            "TTHC__DATABASE__POOL_SIZE": str(args.pool_size),
            "TTHC__WEB__RATE_LIMIT_PER_MINUTE": "1000000", "TTHC__WEB__RATE_LIMIT_BURST": "100000",
            "TTHC__OPS__MAX_INFLIGHT_REQUESTS": "4096",
            "TTHC__TELEGRAM__ENABLED": "true", "TTHC__TELEGRAM__TOKEN": tg.token,
            "TTHC__TELEGRAM__WEBHOOK_SECRET": TG_SECRET, "TTHC__TELEGRAM__API_BASE_URL": tg.api_base_url,
            "TTHC__TELEGRAM__FILE_BASE_URL": tg.base_url + "/file/bot",
            # the fake has no limits; Telegram's own (30/s, 1/s per chat) are not what we measure
            "TTHC__TELEGRAM__OVERALL_MESSAGES_PER_SECOND": "100000",
            "TTHC__TELEGRAM__PER_CHAT_MESSAGES_PER_SECOND": "1000", "TTHC__TELEGRAM__PER_CHAT_BURST": "100",
            "TTHC__ZALO_OA__ENABLED": "true", "TTHC__ZALO_OA__APP_ID": oa.app_id,
            "TTHC__ZALO_OA__APP_SECRET": oa.app_secret, "TTHC__ZALO_OA__OA_SECRET_KEY": OA_SECRET,
            "TTHC__ZALO_OA__ACCESS_TOKEN": "at-0", "TTHC__ZALO_OA__REFRESH_TOKEN": "rt-0",
            "TTHC__ZALO_OA__API_BASE_URL": oa.base_url, "TTHC__ZALO_OA__OAUTH_BASE_URL": oa.base_url,
            "TTHC__ZALO_OA__TEMPLATE_BASE_URL": oa.base_url,
        }
        svc = Service(env, workers=args.workers)
        await asyncio.to_thread(svc.start)
        pids = svc.worker_pids()
        service_pids = pids if svc.proc is None or svc.proc.pid in pids else [svc.proc.pid, *pids]
        ids = itertools.count(1)
        conn = aiohttp.TCPConnector(limit=0, force_close=False)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=15)) as s:
            def citizens(k: int, offset: int) -> list[Citizen]:
                out = [Citizen(offset + i, channels[(offset + i) % len(channels)], svc.base_url, s, replies,
                               oa.app_id, ids) for i in range(k)]
                for c in out:
                    c.surveys = surveys.get(c.n, [])
                return out

            await closed_loop(citizens(*phases[0]), 2.0)  # warm-up (KB index, pools, caches)
            db_pids = await db_backend_pids(url)  # the pools are full after the warm-up
            cpu0, own0, pg0 = cpu_seconds(service_pids), time.process_time(), cpu_seconds(db_pids)
            tput, tput_secs = await closed_loop(citizens(*phases[1]), args.seconds)
            cpu1, own1, pg1 = cpu_seconds(service_pids), time.process_time(), cpu_seconds(db_pids)
            lat, lat_secs, skipped = await open_loop(citizens(*phases[2]), args.rate, args.seconds)
            cpu2, own2, pg2 = cpu_seconds(service_pids), time.process_time(), cpu_seconds(db_pids)
        mem = {pid: rss_mb(pid) for pid in pids}
        result = {
            "db": args.db, "workers": args.workers, "cpus": os.cpu_count(),
            "throughput": {
                "concurrency": args.concurrency, "seconds": round(tput_secs, 1),
                "messages": tput.done, "per_second": round(tput.done / tput_secs, 1),
                "per_second_per_worker": round(tput.done / tput_secs / args.workers, 1),
                "service_cpu_seconds": round(cpu1 - cpu0, 2),
                "per_service_cpu_second": round(tput.done / max(cpu1 - cpu0, 1e-9), 1),
                # on the same cores: the load generator with the fake platforms, and PostgreSQL's
                # processes serving the benchmark database (0 on SQLite: it runs in the service)
                "generator_cpu_seconds": round(own1 - own0, 2),
                "postgres_cpu_seconds": round(pg1 - pg0, 2),
                "p50_ms": round(pct(tput.latencies, 50), 1), "p99_ms": round(pct(tput.latencies, 99), 1),
                "errors": tput.errors, "by_channel": tput.by_channel,
                "by_script": tput.by_script,
            },
            "latency_at_rate": {
                "rate": args.rate, "seconds": round(lat_secs, 1), "messages": lat.done,
                "achieved_per_second": round(lat.done / lat_secs, 1),
                "service_cpu_seconds": round(cpu2 - cpu1, 2),
                "per_service_cpu_second": round(lat.done / max(cpu2 - cpu1, 1e-9), 1),
                "generator_cpu_seconds": round(own2 - own1, 2),
                "postgres_cpu_seconds": round(pg2 - pg1, 2),
                "p50_ms": round(pct(lat.latencies, 50), 1), "p95_ms": round(pct(lat.latencies, 95), 1),
                "p99_ms": round(pct(lat.latencies, 99), 1), "max_ms": round(max(lat.latencies) * 1000, 1)
                if lat.latencies else None,
                "errors": lat.errors, "not_started_all_busy": skipped, "by_channel": lat.by_channel,
                "by_script": lat.by_script,
            },
            "memory_mb": {str(pid): {"rss": round(c, 1), "peak": round(p, 1)} for pid, (c, p) in mem.items()},
        }
        return result
    finally:
        if svc is not None:
            await asyncio.to_thread(svc.stop)
        await tg.close()
        await oa.close()


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--pg-url", help="PostgreSQL server to create the benchmark database on")
    p.add_argument("--concurrency", type=int, default=64, help="citizens in the throughput phase")
    p.add_argument("--rate", type=float, default=200.0, help="messages/s in the latency phase")
    p.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    p.add_argument("--pool-size", type=int, default=10)

    p.add_argument("--web", type=float, default=0.5, help="share of citizens on the web chat")
    p.add_argument("--telegram", type=float, default=0.3)
    p.add_argument("--zalo", type=float, default=0.2)
    p.add_argument("--out", help="JSON output (default benchmarks/out/load_<db>_<workers>w.json)")
    args = p.parse_args()
    url, cleanup = prepare_db(args.db, args.pg_url)  # migrations run their own event loop
    try:
        result = asyncio.run(main(args, url))
    finally:
        cleanup()
    out = Path(args.out or ROOT / "benchmarks" / "out" / f"load_{args.db}_{args.workers}w.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    t, l = result["throughput"], result["latency_at_rate"]
    print(f"{args.db}, {args.workers} worker(s): {t['per_second']} msg/s "
          f"({t['per_second_per_worker']}/worker, {t['concurrency']} citizens, errors {t['errors'] or 0}), "
          f"{t['per_service_cpu_second']} msg per service CPU-s "
          f"({t['messages']} msg: service {t['service_cpu_seconds']}, PostgreSQL {t['postgres_cpu_seconds']}, "
          f"generator {t['generator_cpu_seconds']} CPU-s); "
          f"at {l['rate']}/s: p50 {l['p50_ms']} ms, p95 {l['p95_ms']} ms, p99 {l['p99_ms']} ms, "
          f"errors {l['errors'] or 0}, not started {l['not_started_all_busy']}, "
          f"{l['per_service_cpu_second']} msg per service CPU-s; "
          f"peak RSS {[v['peak'] for v in result['memory_mb'].values()]} MB -> {out}")


if __name__ == "__main__":
    cli()
