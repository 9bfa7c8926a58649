"""The conversations, one module per topic, each with its own Router.

``build_router()`` collects them; a new capability adds its module to ``MODULES``.
Handlers speak only in platform-neutral messages (``bot.messages``): they never import
telegram, Zalo or aiohttp code.
"""

from __future__ import annotations

import importlib

from bot.router import Router

MODULES = [
    "handlers.menu",
    "handlers.kb",
    "handlers.dossiers",
    "handlers.privacy",
    "handlers.surveys",
    "handlers.pakn",
]


def build_router() -> Router:
    root = Router("root")
    for name in MODULES:
        root.include(importlib.import_module(name).router)
    return root
