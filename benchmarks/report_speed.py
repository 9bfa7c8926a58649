"""How long the SIPAS report takes over a province's year of answers.

    .venv/bin/python benchmarks/report_speed.py [--surveys 20000] [--db URL]

Fills a fresh database (SQLite file under a temp dir by default) with ``--surveys``
resolved cases over 12 months, 8 agencies, 3 channels, each answered in full (10
answers per dossier, 4 per PAKN), then times ``build_report`` for the whole year, one
agency, and the XLSX export. Writes benchmarks/out/report_speed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.surveys.export import write_xlsx  # noqa: E402
from bot.surveys.questionnaire import load_questionnaire  # noqa: E402
from bot.surveys.report import build_report  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Survey, SurveyAnswer  # noqa: E402
from storage.repos.surveys import SurveyRepo  # noqa: E402


async def fill(db: Database, n: int) -> int:
    q = load_questionnaire()
    rnd = random.Random(7)
    start = datetime(2026, 1, 1, 3, tzinfo=timezone.utc)
    async with db.unit_of_work() as uow:
        qid = await uow.repo(SurveyRepo).ensure_questionnaire(code=q.code, version=q.version, digest=q.digest,
                                                              content=q.raw, now=start)
    answers = 0
    for chunk in range(0, n, 2000):
        surveys, rows = [], []
        for i in range(chunk, min(chunk + 2000, n)):
            case_type = "pakn" if i % 5 == 0 else "dossier"
            at = start + timedelta(minutes=rnd.randrange(365 * 24 * 60))
            qs = q.questions_for(case_type)
            surveys.append(dict(id=i + 1, case_type=case_type, case_id=f"C{i}", citizen_id=i, questionnaire_id=qid,
                                agency=f"AG{i % 8}", field=f"F{i % 12}", channel=("telegram", "zalo_oa", "web")[i % 3],
                                procedure_code="", resolved_at=at, resolved_month=at.strftime("%Y-%m"), received_at=at - timedelta(days=10),
                                on_time=rnd.random() < 0.95, status="completed", question_count=len(qs),
                                next_question=len(qs) + 1, sent_at=at, expires_at=at + timedelta(days=7),
                                created_at=at))
            for no, question in enumerate(qs, start=1):
                value = rnd.choice([o.value for o in question.options]) if question.options else None
                rows.append(dict(survey_id=i + 1, question_no=no, question_key=question.key, kind=question.kind,
                                 factor=question.factor, value=value,
                                 text="Góp ý" if question.kind == "comment" else None, answered_at=at))
        async with db.unit_of_work() as uow:
            await uow.session.execute(Survey.__table__.insert(), surveys)
            await uow.session.execute(SurveyAnswer.__table__.insert(), rows)
        answers += len(rows)
    return answers


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--surveys", type=int, default=20000)
    ap.add_argument("--db")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    url = args.db or f"sqlite:///{tmp}/bench.sqlite3"
    await asyncio.to_thread(upgrade, url)
    cfg = load_config(None, env={})
    db = Database(url)
    answers = await fill(db, args.surveys)
    out: dict = {"surveys": args.surveys, "answers": answers, "backend": db.engine.dialect.name}
    for label, agency in (("year_all_agencies_s", None), ("year_one_agency_s", "AG3")):
        t = time.perf_counter()
        async with db.unit_of_work() as uow:
            report = await build_report(uow, start=date(2026, 1, 1), end=date(2026, 12, 31), agency=agency,
                                        targets=cfg.reports, tz=cfg.tz)
        out[label] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    async with db.unit_of_work() as uow:
        report = await build_report(uow, start=date(2026, 1, 1), end=date(2026, 12, 31), agency=None,
                                    targets=cfg.reports, tz=cfg.tz, with_answers=True)
    write_xlsx(report, Path(tmp) / "r.xlsx", cfg.tz)
    out["year_xlsx_s"] = round(time.perf_counter() - t, 2)
    out["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    await db.dispose()
    (ROOT / "benchmarks" / "out").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "out" / "report_speed.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
