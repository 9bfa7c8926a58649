"""CPU per message of the web chat path in one process, without HTTP, load generator or fakes.

    .venv/bin/python benchmarks/inproc_web.py --db postgres [--pg-url URL] [--messages 3300]
    .venv/bin/python benchmarks/inproc_web.py --db sqlite

Builds the app (``build_app``, no scheduler) over a fresh database seeded as for
``load.py`` (agencies and the dossier codes), then ``--citizens`` web chat citizens hold the
load benchmark's lookup conversations (menu, procedure lookup → card → section, dossier
status by code, help, cancel: ``load.SCRIPTS``) through ``WebChannel.handle_and_read``, each
sending its next message as soon as the page came back, until ``--messages`` were handled.
Reports the process's CPU time (user + system, ``time.process_time``) per message over the
measured messages (after ``--warmup`` ones), and wall-clock messages/s. With
``--count-statements``: the database round trips per message instead (statements, and
BEGIN / COMMIT / SAVEPOINT / RELEASE, counted by SQLAlchemy events; deterministic, unlike
the CPU figure, which the listeners then disturb). Being one process on
the machine's cores, the CPU figure is the one to compare between code versions; PostgreSQL's
own CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load import SCRIPTS, CODES, prepare_db, seed  # noqa: E402


async def run(url: str, citizens: int, messages: int, warmup: int, count: bool = False) -> dict:
    import logging

    from bot.app import build_app
    from bot.config import load_config
    from bot.messages import ConversationKey, Incoming, Kind

    logging.disable(logging.WARNING)
    await seed(url, [])
    cfg = load_config(None, env={"TTHC__LOGGING__LEVEL": "WARNING"}).with_database(url)
    app = build_app(cfg, scheduler=False)
    await app.start()
    trips = {"statements": 0, "begin": 0, "commit": 0, "savepoint": 0, "release": 0}
    if count:
        from sqlalchemy import event

        engine = app.db.engine.sync_engine
        for name, what in (("before_cursor_execute", "statements"), ("begin", "begin"),
                           ("commit", "commit"), ("savepoint", "savepoint"),
                           ("release_savepoint", "release")):
            def bump(*_args, _what=what, **_kw):
                if done >= warmup:
                    trips[_what] += 1
            event.listen(engine, name, bump)
        import storage.driver as driver  # the open and close statements run on the driver

        fetch = driver.fetch

        async def counted(*args, **kw):
            if done >= warmup:
                trips["statements"] += 1
            return await fetch(*args, **kw)
        driver.fetch = counted
    web = app.web_channel
    done = 0
    marks: dict[str, float] = {}

    async def citizen(n: int) -> None:
        nonlocal done
        rnd = random.Random(n)
        script = rnd.choice(SCRIPTS)
        sid = f"inproc-citizen-{n:012d}-sid"
        key = ConversationKey("web", sid, sid)
        choices: list[str] = []
        after, step = 0, 0
        while done < warmup + messages:
            kind, value = script[step % len(script)]
            step += 1
            if kind == "button":
                if not isinstance(value, str):
                    value = choices[value] if value < len(choices) else "menu"
                    kind = "button" if value != "menu" else "text"
            if kind == "text":
                msg = Incoming(key=key, kind=Kind.TEXT, text=value.replace("{code}", CODES[n % len(CODES)]),
                               update_id=f"{sid}:{step}")
            else:
                msg = Incoming(key=key, kind=Kind.CHOICE, choice=value, update_id=f"{sid}:{step}")
            page = await web.handle_and_read(msg, sid, after)
            if page is None or not page["messages"]:
                raise RuntimeError(f"no page for {value!r}")
            json.dumps(page, ensure_ascii=False)  # as the HTTP answer would
            after = page["last_id"]
            choices = [c["payload"] for c in page["messages"][-1]["choices"]]
            done += 1
            if done == warmup:
                marks["cpu0"], marks["wall0"] = time.process_time(), time.perf_counter()

    try:
        await asyncio.gather(*(citizen(n) for n in range(citizens)))
        cpu, wall = time.process_time() - marks["cpu0"], time.perf_counter() - marks["wall0"]
    finally:
        await app.stop()
    measured = done - warmup
    out = {"messages": measured, "cpu_ms_per_message": round(cpu / measured * 1000, 3),
           "per_second": round(measured / wall, 1), "citizens": citizens}
    if count:
        out["per_message"] = {k: round(v / measured, 2) for k, v in trips.items()}
    return out


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    p.add_argument("--pg-url", help="PostgreSQL server to create the benchmark database on")
    p.add_argument("--citizens", type=int, default=20)
    p.add_argument("--messages", type=int, default=3300)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--count-statements", action="store_true", help="database round trips per message")
    args = p.parse_args()
    url, cleanup = prepare_db(args.db, args.pg_url)
    try:
        result = asyncio.run(run(url, args.citizens, args.messages, args.warmup, args.count_statements))
    finally:
        cleanup()
    print(f"{args.db}: {result['cpu_ms_per_message']} ms CPU per message, {result['per_second']} msg/s "
          f"({result['messages']} messages, {result['citizens']} citizens)"
          + (f"; per message: {result['per_message']}" if "per_message" in result else ""))


if __name__ == "__main__":
    cli()
