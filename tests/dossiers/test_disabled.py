"""`[dossiers] enabled = false` (a province without its one-stop system connected): the
menu entries and a typed code answer politely, not with the "sự cố" error."""

from __future__ import annotations

from bot.channels.memory import MemoryChannel
from tests.conftest import payloads_of, texts_of
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


async def test_the_menu_leaves_out_the_dossier_entries_when_the_feature_is_off(make_app, sqlite_url):
    off = make_app(sqlite_url, dossiers={"enabled": False})
    chat = MemoryChannel(off.core.handle)
    off.add_channel(chat)
    for shown in (await chat.say("menu"), await chat.press("g:menu"), await chat.say("xin chao")):
        assert not {"m:dossier", "m:dossier_follow"} & set(payloads_of(shown))
        assert "m:kb" in payloads_of(shown) and "m:pakn" in payloads_of(shown)
    menu = await chat.say("menu")
    second = texts_of(await chat.say("2"))  # numbers follow what was shown: the second entry
    assert "chưa được kết nối" not in second and menu[-1].choices[1].payload != "m:dossier"
    # the label typed anyway (or an old button) still gets the polite answer, not a search
    assert "chưa được kết nối" in texts_of(await chat.say("Tra cứu hồ sơ"))
    await chat.say("menu")
    assert "chưa được kết nối" in texts_of(await chat.say("hồ sơ của tôi đến đâu rồi"))  # asked in words
    assert "chưa được kết nối" in texts_of(await chat.press("m:dossier_follow"))


async def test_the_menu_has_the_dossier_entries_when_the_feature_is_on(make_app, sqlite_url):
    on = make_app(sqlite_url)
    chat = MemoryChannel(on.core.handle)
    on.add_channel(chat)
    assert {"m:dossier", "m:dossier_follow"} <= set(payloads_of(await chat.say("menu")))
