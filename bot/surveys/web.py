"""Report pages for leadership and the office, under ``/bao-cao``:

- ``GET /bao-cao?from=YYYY-MM-DD&to=YYYY-MM-DD&agency=X`` — the SIPAS report: headline
  figures next to their targets, charts (trend per month, agencies compared, factors),
  tables per factor, question, agency, field, channel, the Circular 01/2018 indices and
  grade estimate, PAKN on-time and answer time, response rate;
- ``GET /bao-cao/xuat?...&format=xlsx|csv`` — the same as a file (like the CLI);
- ``GET /bao-cao/gui-tin`` — the outbox: queue depth per kind and status, send rates,
  recent failures, survey statuses.

Access (TEMPORARY, until the staff dashboard's login is merged): ``[reports] access_token``.
The login form at ``/bao-cao/dang-nhap`` compares the token in constant time and sets an
HttpOnly, SameSite=Strict cookie holding an HMAC of the token (never the token itself);
scripts may send ``Authorization: Bearer <token>``. An empty token disables the pages.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.surveys import charts
from bot.surveys.export import write_csv, write_xlsx
from bot.surveys.report import build_report, delivery_stats

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

BASE = "/bao-cao"
COOKIE = "tthc_bao_cao"
TEMPLATES = Path(__file__).resolve().parent / "templates"


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
        self.jinja = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                                 autoescape=select_autoescape(["html"]))
        self.jinja.filters["num"] = _fmt
        self.jinja.filters["signed"] = _signed

    # -- access (temporary) ----------------------------------------------------------------
    @property
    def token(self) -> str:
        return self.config.reports.access_token

    def _cookie_value(self) -> str:
        return hmac.new(self.token.encode(), b"tthc-bao-cao", hashlib.sha256).hexdigest()

    def allowed(self, request: web.Request) -> bool:
        if not self.token:
            return False
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), self.token.encode()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._cookie_value().encode())

    def _guard(self, request: web.Request) -> None:
        if not self.token:
            raise web.HTTPForbidden(text="Trang báo cáo chưa được bật ([reports] access_token).")
        if not self.allowed(request):
            raise web.HTTPFound(f"{BASE}/dang-nhap")

    def render(self, name: str, status: int = 200, **ctx: Any) -> web.Response:
        html = self.jinja.get_template(name).render(base=BASE, province=self.config.province.name, **ctx)
        resp = web.Response(text=html, content_type="text/html", status=status)
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        return resp

    # -- login ---------------------------------------------------------------------------
    async def login_form(self, request: web.Request) -> web.Response:
        if not self.token:
            raise web.HTTPForbidden(text="Trang báo cáo chưa được bật ([reports] access_token).")
        return self.render("login.html", error="")

    async def login(self, request: web.Request) -> web.Response:
        if not self.token:
            raise web.HTTPForbidden(text="Trang báo cáo chưa được bật ([reports] access_token).")
        form = await request.post()
        given = str(form.get("token", "")).strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            log.warning("report login failed", extra={"remote": request.remote})
            return self.render("login.html", status=403, error="Mã truy cập không đúng.")
        resp = web.HTTPFound(BASE)
        resp.set_cookie(COOKIE, self._cookie_value(), httponly=True, samesite="Strict", path=BASE,
                        secure=self.config.web.cookie_secure, max_age=12 * 3600)
        raise resp

    async def logout(self, request: web.Request) -> web.Response:
        resp = web.HTTPFound(f"{BASE}/dang-nhap")
        resp.del_cookie(COOKIE, path=BASE)
        raise resp

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
        self._guard(request)
        start, end, agency, error = self._params(request)
        from storage.repos.surveys import SurveyRepo

        async with self.app.db.unit_of_work() as uow:
            report = await build_report(uow, start=start, end=end, agency=agency,
                                        targets=self.config.reports, tz=self.config.tz)
            agencies = await uow.repo(SurveyRepo).agencies()
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
        return self.render("report.html", report=report, svg=svg, agencies=agencies, error=error,
                           query="&".join(f"{k}={v}" for k, v in query.items()), start=start, end=end,
                           agency=agency or "")

    async def export(self, request: web.Request) -> web.StreamResponse:
        self._guard(request)
        start, end, agency, error = self._params(request)
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
        self._guard(request)
        now = self.clock.now()
        async with self.app.db.unit_of_work() as uow:
            stats = await delivery_stats(uow, now)
        kinds = sorted({k for k, _ in stats.by_kind})
        statuses = ["pending", "sending", "sent", "failed", "unreachable", "expired", "cancelled"]
        return self.render("delivery.html", stats=stats, kinds=kinds, statuses=statuses,
                           totals=stats.totals(),
                           now=now.astimezone(self.config.tz).strftime("%H:%M %d/%m/%Y"))


def setup_routes(app: "App") -> ReportPages:
    pages = ReportPages(app)
    app.web.add_routes([
        web.get(BASE, pages.report_page),
        web.get(f"{BASE}/xuat", pages.export),
        web.get(f"{BASE}/gui-tin", pages.delivery_page),
        web.get(f"{BASE}/dang-nhap", pages.login_form),
        web.post(f"{BASE}/dang-nhap", pages.login),
        web.post(f"{BASE}/dang-xuat", pages.logout),
    ])
    return pages
