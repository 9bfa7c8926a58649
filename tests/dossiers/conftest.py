"""Dossier fixtures: contract records, the local table, and a fake one-stop system served
over real HTTP on loopback (records every call; slow answers and errors on demand)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.dossiers.sources import store_record
from bot.dossiers.wire import from_json

CODE = "000.00.01.H50-261020-0001"
TOKEN = "Bearer test-token-123"
PHONE = "0912345678"
ID_NUMBER = "001088012345"


def make_record(code: str = CODE, status: int | str = 4, **over: Any) -> dict[str, Any]:
    """A dossier in the API contract's JSON form (README, "Dossier status")."""
    rec: dict[str, Any] = {
        "code": code,
        "status": status,
        "status_at": "2026-10-22T09:00:00+07:00",
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "agency": "UBND xã Mẫu",
        "received_at": "2026-10-20T08:30:00+07:00",
        "due_at": "2026-11-20",
        "current_step": "Thẩm định hồ sơ",
        "handling_unit": "Công chức tư pháp - hộ tịch",
        "applicant": {"name": "Nguyễn Văn An", "phone": PHONE, "id_number": ID_NUMBER},
        "history": [
            {"at": "2026-10-20T08:30:00+07:00", "step": "Tiếp nhận hồ sơ", "unit": "Bộ phận một cửa"},
            {"at": "2026-10-22T09:00:00+07:00", "step": "Chuyển thẩm định", "unit": "Công chức tư pháp - hộ tịch"},
        ],
        "fees": [{"name": "Lệ phí đăng ký", "amount": 50000, "paid": False}],
        "missing_papers": [],
        "pickup": "Bộ phận một cửa UBND xã Mẫu, số 1 đường Trần Phú; mang giấy hẹn và CCCD",
        "supplement_periods": [],
        "apology": None,
        "note": "",
        "updated_at": "2026-10-22T09:00:00+07:00",
    }
    rec.update(over)
    return rec


async def put(app, record: dict[str, Any]) -> None:
    """Store a contract record in the local table (what an import or the webhook does)."""
    async with app.db.unit_of_work() as uow:
        await store_record(uow, from_json(record, app.config.tz), app.services.clock.now())


class FakeOneStop:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.records: dict[str, dict[str, Any]] = {}
        self.delay: dict[str, float] = {}  # code -> seconds before answering
        self.fail: dict[str, list[int]] = {}  # code -> HTTP statuses to answer first, in order
        self.raw: dict[str, str] = {}  # code -> body to answer (not JSON / outside the contract)
        self.calls: list[tuple[str, str | None]] = []
        self.app = web.Application()
        self.app.add_routes([web.get("/api/v1/dossiers/{code}", self.get)])
        self.server: TestServer | None = None

    def add(self, record: dict[str, Any]) -> None:
        self.records[record["code"]] = copy.deepcopy(record)

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/api/v1"))

    async def get(self, request: web.Request) -> web.StreamResponse:
        code = request.match_info["code"]
        self.calls.append((code, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != self.token:
            return web.json_response({"error": "unauthorized"}, status=401)
        if code in self.delay:
            await asyncio.sleep(self.delay[code])
        if self.fail.get(code):
            return web.json_response({"error": "internal"}, status=self.fail[code].pop(0))
        if code in self.raw:
            return web.Response(text=self.raw[code], content_type="application/json")
        if code not in self.records:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(self.records[code])


@pytest.fixture
async def onestop():
    fake = FakeOneStop()
    fake.server = TestServer(fake.app, host="127.0.0.1")
    await fake.server.start_server()
    yield fake
    await fake.server.close()


def http_settings(fake: FakeOneStop, **over: Any) -> dict[str, Any]:
    values = {"backend": "http", "api_base_url": fake.url, "api_token": TOKEN,
              "api_auth_header": "Authorization"}
    values.update(over)
    return values
