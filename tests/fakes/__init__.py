"""Fake platform servers for tests: real aiohttp servers on 127.0.0.1, built from the
platforms' documented payload shapes, recording every call.

Use them from any test (surveys, PAKN, load tests)::

    from tests.fakes import FakeTelegram, FakeZaloOA, FakeZaloBot, block_external_network

    async with FakeTelegram(token="123:abc") as tg:       # tg.base_url -> telegram.api_base_url
        ...
        assert tg.sent_texts(chat_id=42) == ["Xin chào ..."]

- :class:`FakeTelegram` — Bot API under ``/bot<token>/<method>`` (getMe, sendMessage,
  sendPhoto, sendDocument, answerCallbackQuery, set/delete/getWebhookInfo, getUpdates with
  long polling from :meth:`FakeTelegram.push_update`); inject 403/429 with ``blocked`` and
  :meth:`FakeTelegram.fail_next`. Builders of updates: :mod:`tests.fakes.telegram`.
- :class:`FakeZaloOA` — ``/v3.0/oa/message/cs``, the OAuth token endpoint
  ``/v4/oa/access_token`` (single-use refresh tokens) and the template endpoint
  ``/message/template`` on one server (point ``api_base_url``, ``oauth_base_url`` and
  ``template_base_url`` at ``base_url``); errors are HTTP 200 with ``error != 0`` as on the
  real API (``user_errors``, :meth:`FakeZaloOA.fail_next`). Signed webhook events:
  :func:`tests.fakes.zalo.signed_event`.
- :class:`FakeZaloBot` — ``/bot<token>/<method>`` of the Zalo Bot platform.
- :func:`block_external_network` — makes any connection outside the loopback fail.
"""

from tests.fakes.network import block_external_network
from tests.fakes.telegram import FakeTelegram
from tests.fakes.zalo import FakeZaloOA
from tests.fakes.zalo_bot import FakeZaloBot

__all__ = ["FakeTelegram", "FakeZaloOA", "FakeZaloBot", "block_external_network"]
