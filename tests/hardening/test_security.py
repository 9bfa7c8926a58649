"""Security: every webhook refuses a request without a valid signature or secret (and
stores nothing), every state-changing or staff route refuses an anonymous request unless
it is on the public list, forged buttons cannot skip the dossier ownership proof, and the
suite's log scanner catches a leak."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from sqlalchemy import func, select

from storage.models.channels import InboxUpdate
from storage.models.dossiers import DossierRecord
from tests import logscan
from tests.conftest import texts_of
from tests.dossiers.conftest import CODE, make_record, put
from tests.fakes.telegram import text_update
from tests.fakes.zalo import signature, text_event

# POST routes anyone may call: the citizen's web chat (anonymous session cookie) and
# login forms. Anything else that changes state must refuse an anonymous request.
PUBLIC_POST = {"/api/chat", "/api/upload", "/dashboard/login", "/staff/login", "/reports/login",
               "/login"}
STAFF_PREFIXES = ("/dashboard", "/staff", "/admin", "/reports")
REFUSED = {401, 403, 302, 303, 400, 405}


def _routes(app):
    for resource in app.web.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or ""
        for route in resource:
            yield route.method, path


async def _count(app, model) -> int:
    async with app.db.unit_of_work() as uow:
        return (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_every_webhook_refuses_unsigned_and_forged_requests(everything):
    app, client = everything
    hooks = sorted({p for m, p in _routes(app) if m == "POST" and p.startswith(("/webhooks", "/hooks"))})
    assert {"/webhooks/telegram", "/webhooks/zalo-oa", "/webhooks/zalo-bot", "/hooks/dossiers"} <= set(hooks)
    tg_body = json.dumps(text_update(1, "menu")).encode()
    oa_event = text_event("123", "menu", "m1")
    oa_body = json.dumps(oa_event).encode()
    dossier_body = json.dumps(make_record()).encode()
    attempts = {
        "/webhooks/telegram": [(tg_body, {}), (tg_body, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}),
                               (tg_body, {"X-Telegram-Bot-Api-Secret-Token": ""})],
        "/webhooks/zalo-bot": [(tg_body, {}), (tg_body, {"X-Bot-Api-Secret-Token": "tg-webhook-secret-123"})],
        "/webhooks/zalo-oa": [
            (oa_body, {}),
            (oa_body, {"X-ZEvent-Signature": "mac=" + "0" * 64}),
            # signed with the wrong key, and a valid signature over another body
            (oa_body, {"X-ZEvent-Signature": signature(oa_event["app_id"], oa_body, oa_event["timestamp"], "nope")}),
            (oa_body + b" ", {"X-ZEvent-Signature": signature(oa_event["app_id"], oa_body, oa_event["timestamp"],
                                                              "oa-secret-key-789")}),
        ],
        "/hooks/dossiers": [
            (dossier_body, {}),
            (dossier_body, {"X-Tthc-Timestamp": str(int(time.time())), "X-Tthc-Signature": "sha256=00"}),
        ],
    }
    for path in hooks:
        cases = attempts.get(path, [(b"{}", {})])  # a webhook added later: at least unsigned
        for body, headers in cases:
            r = await client.post(path, data=body, headers={"Content-Type": "application/json", **headers})
            assert r.status in (401, 403), (path, headers, r.status)
    assert await _count(app, InboxUpdate) == 0
    assert await _count(app, DossierRecord) == 0


async def test_anonymous_requests_to_staff_and_state_changing_routes_are_refused(everything):
    app, client = everything
    checked = 0
    for method, path in _routes(app):
        # a plausible value for each path parameter ({id:\d+} -> 1, {code} -> a code)
        path = re.sub(r"\{([^}:]+)(:[^}]+)?\}",
                      lambda m: "1" if m.group(1) == "id" or m.group(1).endswith("_id")
                      else "PAKN-2611-AAAA", path)
        if method == "POST" and path not in PUBLIC_POST and not path.startswith(("/webhooks", "/hooks")):
            r = await client.post(path, data=b"x=1", allow_redirects=False,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert r.status in REFUSED, (method, path, r.status)
            checked += 1
        elif method == "GET" and path.startswith(STAFF_PREFIXES) and not path.endswith("/login") \
                and "/static" not in path:
            r = await client.get(path, allow_redirects=False)
            assert r.status in REFUSED, (method, path, r.status)
            checked += 1
    # EXTENSION POINT (#8): the staff dashboard (feat/pakn) brings role-based routes; the
    # role x route matrix is in tests/hardening/test_dashboard_roles.py once it lands.


async def test_forged_buttons_cannot_skip_the_ownership_proof(app, chat):
    await put(app, make_record())
    other = "000.00.01.H50-261020-0002"
    await put(app, make_record(code=other))
    # pressing "details" of a dossier never looked up, or "follow" without the proof
    for payload in (f"dos:det:{other}", f"dos:sub:{other}", f"dos:det:{CODE}"):
        replies = await chat.press(payload)
        text = texts_of(replies)
        assert "Chi tiết hồ sơ" not in text and "Người nộp" not in text
        await chat.say("Hủy")
    for payload in ("dos:det:' OR 1=1 --", "dos:det:<script>", "dos:sub:" + "9" * 60, "prv:erase"):
        text = texts_of(await chat.press(payload))
        assert "Chi tiết hồ sơ" not in text and "Đã xóa dữ liệu" not in text


def test_log_scanner_catches_phone_numbers_id_numbers_and_secrets():
    assert logscan.scan_line("gọi 0912345678") and logscan.scan_line("CCCD 001088012345")
    assert logscan.scan_line("token=tg-webhook-secret-123 ok")
    assert not logscan.scan_line("gọi *******678, mã hồ sơ 000.00.01.H50-261020-0001, thủ tục 1.000419")
    assert not logscan.scan_line("update_id=1767225600000 citizen_id=12")
    assert not logscan.scan_line("client_session: <aiohttp.client.ClientSession object at 0x7f0995363810>")
    assert logscan.scan_line("0x7f01 gọi 0995363810")


def test_log_scanner_is_watching_this_session(caplog):
    before = logscan.lines_seen()
    logging.getLogger("tthc.test").info("a harmless line citizen_id=%s", 7)
    assert logscan.lines_seen() == before + 1
