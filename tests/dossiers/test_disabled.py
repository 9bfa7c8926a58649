"""`[dossiers] enabled = false` (a province without its one-stop system connected): the
menu entries and a typed code answer politely, not with the "sự cố" error."""

from __future__ import annotations

from bot.channels.memory import MemoryChannel
from tests.conftest import texts_of
from tests.dossiers.conftest import CODE


async def test_dossier_entries_answer_politely_when_the_feature_is_off(make_app, sqlite_url):
    app = make_app(sqlite_url, dossiers={"enabled": False})
    chat = MemoryChannel(app.core.handle)
    app.add_channel(chat)
    for press in ("m:dossier", "m:dossier_follow", f"dos:det:{CODE}", f"dos:sub:{CODE}"):
        text = texts_of(await chat.press(press))
        assert "sự cố" not in text, press
        assert "chưa được kết nối" in text and app.config.contact.hotline in text, press
    typed = texts_of(await chat.say(CODE))  # a code typed outside a flow is not a crash either
    assert "sự cố" not in typed
