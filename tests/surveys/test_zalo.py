"""A survey to a Zalo OA citizen over the real channel against the fake Zalo server (real
HTTP on loopback): inside the messaging window the question goes as text with a numbered
list and a typed number answers it; after the window the survey's template is sent."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.events import DossierResultReturned
from storage.repos.surveys import SurveyRepo
from tests.channels.conftest import OA_SECRET_KEY, channel_sections
from tests.fakes import FakeZaloOA, block_external_network
from tests.fakes.zalo import signed_event, text_event
from tests.surveys.helpers import DAY

USER = "2468013579"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    block_external_network(monkeypatch)


@pytest.fixture
async def zoa():
    async with FakeZaloOA() as fake:
        yield fake


async def _setup(make_app, sqlite_url, clock, zoa, **sections):
    clock.set(DAY)
    app = make_app(sqlite_url, **channel_sections(zoa=zoa, **sections))
    client = TestClient(TestServer(app.web))
    await client.start_server()
    raw, headers = signed_event(text_event(USER, "xin chào", "z-1"), "4100000000000000001", OA_SECRET_KEY)
    assert (await client.post("/webhooks/zalo-oa", data=raw, headers=headers)).status == 200
    await app.services.channels.get("zalo_oa").drain()
    async with app.db.unit_of_work() as uow:
        citizen = (await uow.citizens.identity("zalo_oa", USER)).citizen_id
    async with app.db.unit_of_work() as uow:
        await app.services.events.publish(uow, DossierResultReturned(
            "dossier", "000.00.01.H50-261103-0007", citizen, clock.now(), agency="SXD", channel="zalo_oa"))
    return app, client


async def test_survey_in_the_window_answered_by_typed_number(make_app, sqlite_url, clock, zoa):
    app, client = await _setup(make_app, sqlite_url, clock, zoa)
    try:
        clock.advance(hours=2)
        assert (await app.services.outbox.drain()).sent == 1
        text = zoa.sent_texts(USER)[-1]
        assert "000.00.01.H50-261103-0007" in text and "Câu 1/10" in text and "Trước hạn" in text
        raw, headers = signed_event(text_event(USER, "1", "z-2"), "4100000000000000001", OA_SECRET_KEY)
        assert (await client.post("/webhooks/zalo-oa", data=raw, headers=headers)).status == 200
        await app.services.channels.get("zalo_oa").drain()
        assert "Câu 2/10" in zoa.sent_texts(USER)[-1]
        async with app.db.unit_of_work() as uow:
            survey = await uow.repo(SurveyRepo).by_case("dossier", "000.00.01.H50-261103-0007")
            answers = await uow.repo(SurveyRepo).answers_of(survey.id)
        assert [(a.question_key, a.value) for a in answers] == [("tt01_time", 2)]
    finally:
        await client.close()


async def test_survey_after_the_window_goes_as_the_template(make_app, sqlite_url, clock, zoa):
    app, client = await _setup(make_app, sqlite_url, clock, zoa, zalo_oa={"template_id": "tpl-chung"},
                               surveys={"zalo_template_id": "tpl-khao-sat", "delay_minutes": 60 * 24 * 8})
    try:
        clock.advance(days=8)  # the citizen last wrote 8 days ago: outside the 7-day window
        assert (await app.services.outbox.drain()).sent == 1
        (call,) = zoa.calls_to("message/template")
        assert call.params["template_id"] == "tpl-khao-sat" and call.params["user_id"] == USER
        assert call.params["template_data"] == {"ma_ho_so": "000.00.01.H50-261103-0007", "loai": "hồ sơ"}
    finally:
        await client.close()
