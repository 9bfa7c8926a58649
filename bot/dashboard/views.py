"""The staff dashboard (``/staff``) and the public page of answers (``/cong-khai``).

Server-rendered (Jinja2, auto-escaped), no JavaScript needed: works on an office PC and a
tablet. Every POST carries the session's CSRF token; a missing or wrong token is refused
with 403. An officer only ever sees items of their own agency — another agency's item
answers 404, as if it did not exist.

Other features put their staff pages under ``/staff/...`` too (so the session cookie,
scoped to ``/staff``, applies) and reuse this module rather than a login of their own:
:class:`StaffGate` (the session check; not logged in → ``/staff/login?next=<page>``),
:func:`staff_jinja` (templates that extend the dashboard's ``base.html``),
:func:`html_response` (the security headers) and :func:`add_nav_link` (a link in the
dashboard's navigation).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
import posixpath
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.channels.base import FetchError
from bot.dashboard.auth import LoginFailed, LoginThrottled, StaffAuth, StaffSessionInfo, add_user
from bot.pakn.service import (
    ACTION_LABELS,
    KIND_LABELS,
    OPEN_STATES,
    STATE_LABELS,
    SUBJECT_LABELS,
    PaknService,
    TransitionError,
)
from bot.pakn.rules import normalize_agency
from bot.privacy import mask_name
from bot.workdays import Urgency
from storage.repos.ops import ERASED_NAME
from storage.repos.outbox import OutboxRepo
from storage.repos.pakn import ItemFilter, PaknRepo, StaffRepo

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "tthc_staff"
PRE_COOKIE = "tthc_staff_pre"  # double-submit token for the login form (no session yet)
UPLOAD_PREFIX = "upload:"
FILE_FETCH_SECONDS = 15.0  # a file kept on Telegram/Zalo, fetched when staff open it
CHANNEL_LABELS = {"telegram": "Telegram", "zalo_oa": "Zalo", "zalo_bot": "Zalo", "web": "trang web"}

FLASH = {
    "accept": "Đã tiếp nhận.", "reject": "Đã ghi nhận không tiếp nhận và báo cho người gửi.",
    "request_info": "Đã gửi yêu cầu bổ sung đến người gửi.", "start": "Đã chuyển sang đang xử lý.",
    "forward": "Đã chuyển và báo cho người gửi.", "assign": "Đã giao cho cơ quan khác.",
    "answer": "Đã lưu câu trả lời và gửi đến người gửi.", "publish": "Đã công khai.", "close": "Đã đóng.",
    "agency": "Đã lưu cơ quan.", "user": "Đã tạo tài khoản.", "disabled": "Đã khóa tài khoản.",
}
# What the item's history says for each audit action, in the staff's words.
HISTORY_ACTIONS = {
    "pakn.filed": "Người dân gửi", "pakn.info_supplied": "Người dân bổ sung thông tin",
    "pakn.duplicate": "Người dân gửi lại nội dung trùng",
    **{f"pakn.{action}": label for action, label in ACTION_LABELS.items()},
}
DELIVERY_LABELS = {"queued": "đã xếp gửi cho người gửi", "undeliverable": "không gửi được đến người gửi"}
# The notices the citizen gets besides the answer (outbox kinds, see NOTICE_KINDS), as the
# item's page names the latest of them.
NOTICE_LABELS = {"pakn_accepted": "Báo đã tiếp nhận", "pakn_rejected": "Báo không tiếp nhận",
                 "pakn_info_req": "Yêu cầu bổ sung", "pakn_forwarded": "Báo đã chuyển cơ quan"}


@dataclass(frozen=True)
class NavLink:
    """A link in the dashboard's top navigation (after "Hàng đợi")."""

    label: str
    href: str
    admin_only: bool = False


def nav_links(services) -> list[NavLink]:
    """The shared, mutable list of extra navigation links (features append at setup)."""
    return services.extras.setdefault("staff_nav", [])


def add_nav_link(services, link: NavLink) -> None:
    links = nav_links(services)
    if link not in links:
        links.append(link)


def safe_next(value: str | None) -> str | None:
    """``value`` when it is a local page under ``/staff`` to return to after login, else None.

    Refuses anything that could leave the site or the dashboard: a scheme or host
    (``https://x``, ``//x``), backslashes and control characters (which some browsers turn
    into ``/``), dot segments that climb out of ``/staff``, and the login/logout pages.
    """
    if not value or len(value) > 1000 or "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7f for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    path = unquote(parts.path)  # browsers treat %2e%2e as a dot segment
    if posixpath.normpath(path) != path.rstrip("/"):
        return None
    if not (path == "/staff" or path.startswith("/staff/")) or path.startswith(("/staff/login", "/staff/logout")):
        return None
    return value


def login_url(next_path: str | None = None) -> str:
    nxt = safe_next(next_path)
    if nxt is None or nxt in ("/staff", "/staff/"):
        return "/staff/login"
    return "/staff/login?next=" + quote(nxt, safe="/")


def html_response(html: str, status: int = 200, *, cache: bool = False) -> web.Response:
    """An HTML page with the dashboard's security headers (strict CSP: no inline style or script)."""
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    if not cache:
        resp.headers["Cache-Control"] = "no-store"
    return resp


def staff_jinja(app, *template_dirs: Path) -> Environment:
    """A Jinja2 environment whose templates can extend the dashboard's ``base.html``
    (``template_dirs`` are searched first)."""
    env = Environment(loader=FileSystemLoader([str(d) for d in template_dirs] + [str(HERE / "templates")]),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.globals.update(province=app.config.province, nav_links=nav_links(app.services))
    return env


class StaffGate:
    """The dashboard's session check, shared by every staff page under ``/staff``."""

    def __init__(self, auth: StaffAuth, clock) -> None:
        self.auth = auth
        self.clock = clock

    async def staff(self, request: web.Request) -> StaffSessionInfo:
        """The logged-in staff member, or a redirect to the login page (and back after it)."""
        info = await self.auth.session(request.cookies.get(COOKIE, ""), self.clock.now())
        if info is None:
            raise web.HTTPSeeOther(login_url(request.path_qs if request.method == "GET" else None))
        return info

    async def admin(self, request: web.Request) -> StaffSessionInfo:
        staff = await self.staff(request)
        if staff.user.role != "admin":
            raise web.HTTPForbidden(text="Chỉ quản trị viên được dùng trang này.")
        return staff


class Dashboard:
    def __init__(self, app) -> None:
        self.app = app
        self.services = app.services
        self.config = app.config
        self.db = app.services.db
        self.clock = app.services.clock
        self.auth = StaffAuth(self.db, self.config)
        self.gate = StaffGate(self.auth, self.clock)
        self.pakn: PaknService = app.services.extras["pakn"]
        self.upload_dir = Path(self.config.pakn.upload_dir)
        self.jinja = staff_jinja(app)
        self.jinja.filters["local"] = self._local
        self.jinja.globals.update(KIND_LABELS=KIND_LABELS, SUBJECT_LABELS=SUBJECT_LABELS,
                                  STATE_LABELS=STATE_LABELS, ACTION_LABELS=ACTION_LABELS, mask_name=mask_name,
                                  channel_labels=CHANNEL_LABELS)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/staff/login", self.login_page),
            web.post("/staff/login", self.login_post),
            web.post("/staff/logout", self.logout),
            web.get("/staff", self.queue),
            web.get("/staff/", self.queue),
            web.get("/staff/items/{code}", self.item_page),
            web.post("/staff/items/{code}", self.item_action),
            web.get("/staff/files/{id:\\d+}", self.file),
            web.get("/staff/admin", self.admin_page),
            web.post("/staff/admin/agencies", self.admin_agency),
            web.post("/staff/admin/users", self.admin_user),
            web.post("/staff/admin/users/{id:\\d+}/disable", self.admin_disable),
            web.get("/cong-khai", self.public_page),
            web.static("/staff/static", str(HERE / "static")),
        ]

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        """A page that does not exist (a mistyped or old link) or a form address opened as a
        page, under ``/staff`` or ``/cong-khai``: a Vietnamese page, not aiohttp's
        "404: Not Found" / "405: Method Not Allowed"."""
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            path = request.path
            ours = path in ("/staff", "/cong-khai") or path.startswith(("/staff/", "/cong-khai/"))
            if not ours or exc.text != f"{exc.status}: {exc.reason}":  # ours already say why
                raise
            back = "/cong-khai" if path.startswith("/cong-khai") else "/staff"
            if exc.status == 404:
                title, message = "Không tìm thấy trang", "Địa chỉ này không có trong hệ thống."
            else:
                title, message = "Không mở được trang", "Địa chỉ này chỉ dùng để gửi biểu mẫu, không mở trực tiếp được."
            resp = self._render("message.html", exc.status, title=title, message=message, back=back)
            if exc.status == 405:
                resp.headers["Allow"] = exc.headers.get("Allow", "")
            return resp

    # -- helpers ---------------------------------------------------------------------
    def _local(self, when: Any, fmt: str = "%d/%m/%Y %H:%M") -> str:
        if when is None:
            return ""
        if isinstance(when, datetime):
            return when.astimezone(self.config.tz).strftime(fmt)
        return when.strftime("%d/%m/%Y")

    def _render(self, name: str, status: int = 200, *, staff: StaffSessionInfo | None = None,
                cookies: dict[str, str] | None = None, **ctx: Any) -> web.Response:
        html = self.jinja.get_template(name).render(staff=staff, now=self.clock.now(), **ctx)
        resp = html_response(html, status, cache=name == "public.html")
        for key, value in (cookies or {}).items():
            resp.set_cookie(key, value, httponly=True, samesite="Strict", secure=self.config.web.cookie_secure,
                            path="/staff")
        return resp

    async def _staff(self, request: web.Request) -> StaffSessionInfo:
        """The logged-in staff member, or a redirect to the login page."""
        return await self.gate.staff(request)

    @staticmethod
    async def _form(request: web.Request, info: StaffSessionInfo | None = None,
                    expected: str | None = None) -> dict[str, str]:
        form = await request.post()
        token = str(form.get("csrf", ""))
        want = info.csrf_token if info else (expected or "")
        if not want or not token or not hmac.compare_digest(token.encode(), want.encode()):
            log.warning("csrf token missing or wrong", extra={"path": request.path})
            raise web.HTTPForbidden(text="Phiên làm việc không hợp lệ (CSRF). Vui lòng tải lại trang.")
        return {k: str(v) for k, v in form.items() if isinstance(v, str)}

    def _client(self, request: web.Request) -> str:
        """The client address for throttling: the peer, or what our reverse proxy says."""
        header = self.config.staff.client_ip_header
        if header:
            value = request.headers.get(header, "").split(",")[-1].strip()
            if value:
                return value[:64]
        return request.remote or "unknown"

    def _scope(self, staff: StaffSessionInfo) -> tuple[str, ...] | None:
        """Agency codes this person may see (None = all)."""
        if staff.user.role == "admin":
            return None
        return (staff.user.agency_code,) if staff.user.agency_code else ()

    async def _visible_item(self, uow, staff: StaffSessionInfo, code: str, *, lock: bool = False):
        item = await uow.repo(PaknRepo).by_code(code, lock=lock)
        if item is None or not self.pakn.can_see(staff.user, item):
            raise web.HTTPNotFound(text="Không tìm thấy phản ánh.")
        return item

    # -- login ---------------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.Response:
        nxt = safe_next(request.query.get("next"))
        if await self.auth.session(request.cookies.get(COOKIE, ""), self.clock.now()):
            raise web.HTTPSeeOther(nxt or "/staff")
        pre = secrets.token_urlsafe(24)
        return self._render("login.html", csrf=pre, cookies={PRE_COOKIE: pre}, next=nxt or "")

    async def login_post(self, request: web.Request) -> web.Response:
        form = await self._form(request, expected=request.cookies.get(PRE_COOKIE, ""))
        nxt = safe_next(form.get("next"))
        pre = secrets.token_urlsafe(24)
        try:
            token, _user = await self.auth.login(form.get("username", ""), form.get("password", ""),
                                                 self._client(request), self.clock.now())
        except LoginThrottled as exc:
            return self._render("login.html", 429, csrf=pre, cookies={PRE_COOKIE: pre}, next=nxt or "",
                                error=f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {exc.minutes} phút.")
        except LoginFailed:
            return self._render("login.html", 401, csrf=pre, cookies={PRE_COOKIE: pre}, next=nxt or "",
                                error="Tên đăng nhập hoặc mật khẩu không đúng.")
        resp = web.HTTPSeeOther(nxt or "/staff")
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=self.config.web.cookie_secure,
                        path="/staff", max_age=self.config.staff.session_hours * 3600)
        resp.del_cookie(PRE_COOKIE, path="/staff")
        raise resp

    async def logout(self, request: web.Request) -> web.Response:
        staff = await self._staff(request)
        await self._form(request, staff)
        await self.auth.logout(request.cookies.get(COOKIE, ""))
        resp = web.HTTPSeeOther("/staff/login")
        resp.del_cookie(COOKIE, path="/staff")
        raise resp

    # -- queue ---------------------------------------------------------------------------
    async def queue(self, request: web.Request) -> web.Response:
        staff = await self._staff(request)
        q = request.query
        now = self.clock.now()
        cal = self.pakn.calendar
        today = cal.local_date(now)
        state = q.get("state", "open")
        states = OPEN_STATES if state == "open" else ((state,) if state in STATE_LABELS else ())
        due = q.get("due", "")
        due_before = due_from = None
        if due == "overdue":
            due_before = today - timedelta(days=1)
        elif due == "soon":
            due_from, due_before = today, cal.add_working_days(today, self.config.pakn.due_soon_days)
        agency = q.get("agency", "")
        f = ItemFilter(states=states, agency_codes=self._scope(staff),
                       agency_code=("" if agency == "-" else agency) if agency else None,
                       subject=q.get("subject") or None, kind=q.get("kind") or None,
                       query=q.get("q", "")[:100], due_before=due_before, due_from=due_from,
                       paused_while_waiting=self.config.pakn.pause_while_waiting)
        try:
            page = max(1, int(q.get("page", "1")))
        except ValueError:
            page = 1
        size = self.config.staff.page_size
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            items, total = await repo.list_items(f, limit=size, offset=(page - 1) * size)
            agencies = await repo.agencies(active_only=False)
            on_time, answered = await self.pakn.on_time_rate(uow, self._scope(staff))
        rows = [(item, self.pakn.sla(item, now)) for item in items]
        params = {k: v for k, v in q.items() if k != "page"}
        return self._render("queue.html", staff=staff, rows=rows, total=total, page=page,
                            pages=max(1, -(-total // size)), q=q, agencies={a.code: a for a in agencies},
                            filter_qs=urlencode(params), Urgency=Urgency, on_time=on_time, answered=answered,
                            flash=FLASH.get(q.get("ok", "")))

    # -- one item --------------------------------------------------------------------------
    async def _item_context(self, staff: StaffSessionInfo, code: str) -> dict[str, Any]:
        async with self.db.unit_of_work() as uow:
            item = await self._visible_item(uow, staff, code)
            repo = uow.repo(PaknRepo)
            attachments = await repo.attachments(item.id)
            messages = await repo.messages(item.id)
            history = await uow.audit.for_entity("pakn", item.code)
            agencies = await repo.agencies(active_only=False)
            staff_names = {u.id: u.full_name or u.username for u in await uow.repo(StaffRepo).users()}
            answer_row = await uow.repo(OutboxRepo).by_dedupe_key(f"pakn_answer:{item.code}")
            notice_row = await uow.repo(OutboxRepo).latest_with_key_prefix(
                [f"{kind}:{item.code}:" for kind in NOTICE_LABELS])
        agency_map = {a.code: a for a in agencies}
        return dict(item=item, attachments=attachments, messages=messages,
                    history=[self._history_row(h, staff_names, agency_map) for h in history],
                    agencies=agency_map, staff_names=staff_names,
                    answer_delivery=answer_row.status if answer_row else None,
                    notice=(NOTICE_LABELS[notice_row.kind], notice_row.status) if notice_row else None,
                    sla=self.pakn.sla(item, self.clock.now()), actions=self.pakn.allowed_actions(item),
                    public_draft=self.pakn.public_text(item, item.content), Urgency=Urgency)

    @staticmethod
    def _history_row(entry, staff_names: dict[int, str], agencies: dict[str, Any]) -> dict[str, Any]:
        """One audit entry as staff read it: who (a name, not an id), what, and the details."""
        kind, _, ident = (entry.actor or "").partition(":")
        if kind == "staff" and ident.isdigit():
            who = staff_names.get(int(ident), "Cán bộ")
        elif kind == "citizen":
            who = "Người gửi"
        else:
            who = "Hệ thống"
        d = entry.details or {}
        change = ""
        if d.get("from") and d.get("to") and d["from"] != d["to"]:
            change = f"{STATE_LABELS.get(d['from'], d['from'])} → {STATE_LABELS.get(d['to'], d['to'])}"
        notes = [str(d[k]) for k in ("reason", "request", "to_agency", "note") if d.get(k)]
        if d.get("agency_to"):
            to = d["agency_to"]
            notes.insert(0, "Giao cho " + (agencies[to].name if to in agencies else to))
        if d.get("paused_working_days"):
            notes.append(f"hạn lùi {d['paused_working_days']} ngày làm việc")
        if d.get("delivery") in DELIVERY_LABELS:
            notes.append(DELIVERY_LABELS[d["delivery"]])
        return {"at": entry.at, "who": who, "what": HISTORY_ACTIONS.get(entry.action, entry.action),
                "change": change, "notes": notes}

    async def item_page(self, request: web.Request) -> web.Response:
        staff = await self._staff(request)
        ctx = await self._item_context(staff, request.match_info["code"])
        return self._render("item.html", staff=staff, flash=FLASH.get(request.query.get("ok", "")), **ctx)

    async def item_action(self, request: web.Request) -> web.Response:
        staff = await self._staff(request)
        form = await self._form(request, staff)
        code = request.match_info["code"]
        action = form.get("action", "")
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as uow:
                item = await self._visible_item(uow, staff, code, lock=True)
                item = await self.pakn.act(uow, item, action, staff=staff.user, now=now,
                                           text=form.get("text", ""), agency_code=form.get("agency") or None)
        except TransitionError as exc:
            ctx = await self._item_context(staff, code)
            return self._render("item.html", 409, staff=staff, error=exc.message, form=form, **ctx)
        except PermissionError:
            raise web.HTTPNotFound(text="Không tìm thấy phản ánh.") from None
        notifier = self.services.extras.get("pakn_staff_notifier")
        if notifier is not None and action == "assign":
            await notifier.item_event(code, "assigned")
        if not self.pakn.can_see(staff.user, item):
            # the item now belongs to another agency: its page would answer 404 to this officer
            raise web.HTTPSeeOther("/staff?ok=assign")
        raise web.HTTPSeeOther(f"/staff/items/{code}?ok={action}")

    async def file(self, request: web.Request) -> web.StreamResponse:
        """An attachment of an item the staff member may see: a web-chat upload from the
        upload directory, or a file kept on the platform it was sent on (Telegram, Zalo),
        fetched from there on demand."""
        staff = await self._staff(request)
        try:
            att_id = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound(text="Không tìm thấy tệp.") from None
        async with self.db.unit_of_work() as uow:
            att = await uow.repo(PaknRepo).attachment(att_id)
            item = await uow.repo(PaknRepo).by_id(att.item_id) if att else None
        if att is None or item is None or not self.pakn.can_see(staff.user, item):
            raise web.HTTPNotFound(text="Không tìm thấy tệp.")
        if not att.ref.startswith(UPLOAD_PREFIX):
            return await self._platform_file(staff, item, att)
        name = att.ref[len(UPLOAD_PREFIX):]
        path = (self.upload_dir / name).resolve()
        if path.parent != self.upload_dir.resolve() or not path.is_file():
            raise web.HTTPNotFound(text="Không tìm thấy tệp.")
        mime = att.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.FileResponse(path, headers=self._file_headers(att.id, mime, path.suffix))

    def _file_headers(self, att_id: int, mime: str, suffix: str) -> dict[str, str]:
        # Only the formats PAKN accepts are shown in the browser; anything else downloads.
        inline = mime in self.config.pakn.attachment_types and mime.startswith("image/")
        if mime not in self.config.pakn.attachment_types:
            mime = "application/octet-stream"
        return {"Content-Type": mime, "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Content-Disposition": ("inline" if inline else "attachment") + f'; filename="{att_id}{suffix}"'}

    async def _platform_file(self, staff: StaffSessionInfo, item, att) -> web.Response:
        channel = self.services.channels.get(att.channel)
        fetch = getattr(channel, "fetch_file", None)
        if fetch is None:
            return self._render("message.html", 404, staff=staff, title="Không mở được tệp",
                                message=f"Tệp được gửi qua kênh “{att.channel}”, hiện không kết nối; "
                                        "không tải được tệp này.", back=f"/staff/items/{item.code}")
        try:
            got = await asyncio.wait_for(fetch(att.ref, max_bytes=self.config.pakn.max_attachment_bytes),
                                         timeout=FILE_FETCH_SECONDS)
        except (FetchError, asyncio.TimeoutError) as exc:
            log.warning("attachment fetch failed", extra={"channel": att.channel, "attachment_id": att.id,
                                                          "error": str(exc) or type(exc).__name__})
            return self._render("message.html", 502, staff=staff, title="Không mở được tệp",
                                message=f"Chưa tải được tệp từ {CHANNEL_LABELS.get(att.channel, att.channel)}. "
                                        "Vui lòng thử lại sau ít phút.", back=f"/staff/items/{item.code}")
        mime = att.mime_type or got.mime_type or mimetypes.guess_type(att.name or "")[0] or ""
        suffix = (mimetypes.guess_extension(mime) or "") if mime else ""
        return web.Response(body=got.data, headers=self._file_headers(att.id, mime, suffix))

    # -- administration ----------------------------------------------------------------------
    async def _admin(self, request: web.Request) -> StaffSessionInfo:
        return await self.gate.admin(request)

    async def admin_page(self, request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
        staff = await self._admin(request)
        async with self.db.unit_of_work() as uow:
            agencies = await uow.repo(PaknRepo).agencies(active_only=False)
            users = await uow.repo(StaffRepo).users()
        return self._render("admin.html", status, staff=staff, agencies=agencies, users=users, error=error,
                            flash=FLASH.get(request.query.get("ok", "")))

    async def admin_agency(self, request: web.Request) -> web.Response:
        staff = await self._admin(request)
        form = await self._form(request, staff)
        agency = normalize_agency(form.get("code", ""), form.get("name", ""))
        if agency is None:
            return await self.admin_page(request, error="Mã cơ quan (chữ, số, . _ -) và tên (3–300 ký tự) là bắt buộc.",
                                         status=400)
        code, name = agency
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            await uow.repo(PaknRepo).save_agency(code, name, form.get("active", "1") == "1", now)
            await uow.audit.record(actor=f"staff:{staff.user.id}", action="pakn.agency_saved",
                                   entity_type="agency", entity_id=code, details={"name": name}, now=now)
        raise web.HTTPSeeOther("/staff/admin?ok=agency")

    async def admin_user(self, request: web.Request) -> web.Response:
        staff = await self._admin(request)
        form = await self._form(request, staff)
        try:
            await add_user(self.db, username=form.get("username", ""), password=form.get("password", ""),
                           role=form.get("role", ""), agency_code=form.get("agency") or None,
                           full_name=form.get("full_name", ""), now=self.clock.now(),
                           actor=f"staff:{staff.user.id}", hasher=self.auth.hasher)
        except ValueError as exc:
            return await self.admin_page(request, error=str(exc), status=400)
        raise web.HTTPSeeOther("/staff/admin?ok=user")

    async def admin_disable(self, request: web.Request) -> web.Response:
        staff = await self._admin(request)
        await self._form(request, staff)
        user_id = int(request.match_info["id"])
        if user_id == staff.user.id:
            return await self.admin_page(request, error="Không thể tự khóa tài khoản của mình.", status=400)
        now = self.clock.now()
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(StaffRepo)
            if await repo.user(user_id) is None:
                raise web.HTTPNotFound(text="Không tìm thấy tài khoản.")
            await repo.update_user(user_id, active=False)
            await repo.end_sessions_of(user_id)
            await uow.audit.record(actor=f"staff:{staff.user.id}", action="staff.disabled", entity_type="staff",
                                   entity_id=str(user_id), now=now)
        raise web.HTTPSeeOther("/staff/admin?ok=disabled")

    # -- public page -----------------------------------------------------------------------
    def _public_procedure(self, item) -> str:
        """The procedure as the public page shows it: a name typed by the citizen (not one
        from the knowledge base) is free text, masked like the rest."""
        return self.pakn.public_text(item, item.procedure_name or item.procedure_code or "")

    def _public_match(self, item, query: str) -> bool:
        """Whether ``query`` is in what the public page shows of ``item`` (case-insensitive)."""
        needle = " ".join(query.split()).casefold()
        shown = (item.code, self.pakn.public_text(item, item.public_summary or ""),
                 self.pakn.public_text(item, item.answer or ""),
                 self._public_procedure(item))
        return any(needle in " ".join(text.split()).casefold() for text in shown)

    async def public_page(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "")[:100]
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            page = 1
        size = 20
        async with self.db.unit_of_work() as uow:
            repo = uow.repo(PaknRepo)
            if query.strip():
                # The database matches the stored answer, which still holds what the page
                # masks (a name, a phone number): match again on the masked text shown, or a
                # search for someone's phone number would tell which item is theirs.
                candidates, _ = await repo.published(query, limit=None)
                items = [i for i in candidates if self._public_match(i, query)]
                total = len(items)
                items = items[(page - 1) * size:page * size]
            else:
                items, total = await repo.published(limit=size, offset=(page - 1) * size)
            agencies = {a.code: a for a in await repo.agencies(active_only=False)}
        rows = [{
            "code": i.code, "kind": KIND_LABELS.get(i.kind, ""), "subject": SUBJECT_LABELS.get(i.subject, ""),
            "procedure": self._public_procedure(i),
            "agency": agencies[i.agency_code].name if i.agency_code in agencies else "",
            "sender": mask_name(i.full_name) if i.full_name and i.full_name != ERASED_NAME else "Công dân",
            "created_at": i.created_at, "answered_at": i.answered_at, "published_at": i.published_at,
            # the summary was masked when published; masked again as the masking improves
            "summary": self.pakn.public_text(i, i.public_summary or ""),
            "answer": self.pakn.public_text(i, i.answer or ""),
        } for i in items]
        return self._render("public.html", rows=rows, total=total, query=query, page=page,
                            pages=max(1, -(-total // size)))
