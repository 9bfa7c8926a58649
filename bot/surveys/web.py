"""Report pages for leadership and the office, inside the staff dashboard under ``/staff/bao-cao``:

- ``GET /staff/bao-cao?from=YYYY-MM-DD&to=YYYY-MM-DD&agency=X`` — the SIPAS report: headline
  figures next to their targets, charts (trend per month, agencies compared, factors),
  tables per factor, question, agency, field, channel, the Circular 01/2018 indices and
  grade estimate, PAKN on-time and answer time, response rate;
- ``GET /staff/bao-cao/xuat?...&format=xlsx|csv`` — the same as a file (like the CLI);
- ``GET /staff/bao-cao/gui-tin`` — the outbox: queue depth per kind and status, send rates,
  recent failures, survey statuses.

Access is the dashboard's own login (:class:`bot.dashboard.views.StaffGate`: the session
cookie scoped to ``/staff``; not logged in → ``/staff/login?next=…`` and back). Who sees what:

- an administrator sees every agency and may filter by any;
- an agency officer sees only their own agency: with no ``agency`` the filter is theirs;
  asking for another agency (page or file) is refused with 403 — refused rather than
  silently narrowed, so nobody reads their own figures believing they are another agency's;
- the outbox page is for administrators only (it spans every agency and shows delivery
  errors); officers get 403.

An officer's agency is matched against the survey's ``agency`` as published with the
resolution event: the PAKN agency code, or the agency value of the one-stop system for
dossiers — give dashboard agencies the one-stop system's codes for their dossiers to count.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from bot.dashboard.auth import StaffAuth, StaffSessionInfo
from bot.dashboard.views import NavLink, StaffGate, add_nav_link, html_response, staff_jinja
from bot.surveys import charts
from bot.surveys.export import write_csv, write_xlsx
from bot.surveys.report import build_report, delivery_stats

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BASE = "/staff/bao-cao"
TEMPLATES = Path(__file__).resolve().parent / "templates"
OTHER_AGENCY = "Tài khoản của anh/chị chỉ xem được số liệu của cơ quan mình."
NO_AGENCY = "Tài khoản chưa được gán cơ quan; vui lòng liên hệ quản trị viên."


def _fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}".replace(".", ",") + unit


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    return ("+" if value >= 0 else "−") + _fmt(abs(value)) + " điểm %"


class ReportPages:
    def __init__(self, app: "App") -> None:
        self.app = app
        self.config = app.config
        self.clock = app.services.clock
        self.gate = StaffGate(StaffAuth(app.db, app.config), self.clock)
        self.jinja = staff_jinja(app, TEMPLATES)
        self.jinja.filters["num"] = _fmt
        self.jinja.filters["signed"] = _signed

    def render(self, name: str, staff: StaffSessionInfo, status: int = 200, **ctx) -> web.Response:
        html = self.jinja.get_template(name).render(base=BASE, staff=staff, **ctx)
        return html_response(html, status)

    @staticmethod
    def scope(staff: StaffSessionInfo, requested: str | None) -> str | None:
        """The agency filter this person may use: any for an administrator; their own for an
        officer (403 for another one)."""
        if staff.user.role == "admin":
            return requested
        own = staff.user.agency_code
        if not own:
            raise web.HTTPForbidden(text=NO_AGENCY)
        if requested and requested != own:
            log.warning("report: officer asked for another agency", extra={"staff_id": staff.user.id})
            raise web.HTTPForbidden(text=OTHER_AGENCY)
        return own

    # -- pages ---------------------------------------------------------------------------
    def _params(self, request: web.Request) -> tuple[date, date, str | None, str]:
        today = self.clock.now().astimezone(self.config.tz).date()
        default_start = date(today.year, 1, 1)
        try:
            start = date.fromisoformat(request.query.get("from") or default_start.isoformat())
            end = date.fromisoformat(request.query.get("to") or today.isoformat())
        except ValueError:
            return default_start, today, None, "Ngày không hợp lệ (dùng dạng năm-tháng-ngày); đang hiển thị từ đầu năm."
        if end < start:
            return default_start, today, None, "Ngày kết thúc trước ngày bắt đầu; đang hiển thị từ đầu năm."
        if (end - start) > timedelta(days=3 * 366):
            return default_start, today, None, "Khoảng thời gian tối đa 3 năm; đang hiển thị từ đầu năm."
        agency = (request.query.get("agency") or "").strip()[:64] or None
        return start, end, agency, ""

    async def report_page(self, request: web.Request) -> web.Response:
        staff = await self.gate.staff(request)
        start, end, requested, error = self._params(request)
        agency = self.scope(staff, requested)
        from storage.repos.pakn import PaknRepo
        from storage.repos.surveys import SurveyRepo

        async with self.app.db.unit_of_work() as uow:
            report = await build_report(uow, start=start, end=end, agency=agency,
                                        targets=self.config.reports, tz=self.config.tz)
            agencies = await uow.repo(SurveyRepo).agencies() if staff.user.role == "admin" else [agency]
            names = {a.code: a.name for a in await uow.repo(PaknRepo).agencies(active_only=False)}
        t = self.config.reports
        target = t.target_satisfied or None
        rows = lambda rs: [(r.label, r.score.share, r.score.n) for r in rs]  # noqa: E731
        svg = {
            "trend": charts.line_chart(rows(report.by_month), target=target,
                                       title="Tỷ lệ hài lòng theo tháng"),
            "agencies": charts.bar_chart(rows(report.by_agency), target=target,
                                         title="Tỷ lệ hài lòng theo cơ quan"),
            "factors": charts.bar_chart(rows(report.by_factor), target=target,
                                        title="Tỷ lệ hài lòng theo yếu tố SIPAS"),
        }
        query = {"from": start.isoformat(), "to": end.isoformat(), **({"agency": agency} if agency else {})}
        return self.render("report.html", staff, report=report, svg=svg, agencies=agencies, names=names,
                           error=error, query=urlencode(query), start=start, end=end, agency=agency or "")

    async def export(self, request: web.Request) -> web.StreamResponse:
        staff = await self.gate.staff(request)
        start, end, requested, error = self._params(request)
        agency = self.scope(staff, requested)
        if error:
            raise web.HTTPBadRequest(text=error)
        fmt = request.query.get("format", "xlsx")
        if fmt not in ("xlsx", "csv"):
            raise web.HTTPBadRequest(text="Định dạng phải là xlsx hoặc csv.")
        async with self.app.db.unit_of_work() as uow:
            report = await build_report(uow, start=start, end=end, agency=agency,
                                        targets=self.config.reports, tz=self.config.tz,
                                        with_answers=fmt == "xlsx")

        def write() -> bytes:  # in a thread: a year of answers takes seconds to write
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"report.{fmt}"
                if fmt == "csv":
                    write_csv(report, path)
                else:
                    write_xlsx(report, path, self.config.tz)
                return path.read_bytes()

        body = await asyncio.to_thread(write)
        name = f"bao-cao-sipas-{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"
        ctype = ("text/csv; charset=utf-8" if fmt == "csv" else
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-store",
                                                "Content-Disposition": f'attachment; filename="{name}"'})

    async def delivery_page(self, request: web.Request) -> web.Response:
        staff = await self.gate.admin(request)
        now = self.clock.now()
        async with self.app.db.unit_of_work() as uow:
            stats = await delivery_stats(uow, now)
        kinds = sorted({k for k, _ in stats.by_kind})
        statuses = ["pending", "sending", "sent", "failed", "unreachable", "expired", "cancelled"]
        return self.render("delivery.html", staff, stats=stats, kinds=kinds, statuses=statuses,
                           totals=stats.totals(),
                           now=now.astimezone(self.config.tz).strftime("%H:%M %d/%m/%Y"))


def setup_routes(app: "App") -> ReportPages:
    pages = ReportPages(app)
    app.web.add_routes([
        web.get(BASE, pages.report_page),
        web.get(f"{BASE}/", pages.report_page),
        web.get(f"{BASE}/xuat", pages.export),
        web.get(f"{BASE}/gui-tin", pages.delivery_page),
    ])
    add_nav_link(app.services, NavLink("Báo cáo hài lòng", BASE))
    add_nav_link(app.services, NavLink("Hàng đợi tin nhắn", f"{BASE}/gui-tin", admin_only=True))
    return pages
