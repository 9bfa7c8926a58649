"""The console channel: ``tthc-bot chat`` talks to the bot in a terminal."""

from __future__ import annotations

import asyncio
import getpass
import itertools
import sys
from typing import Callable, Sequence, TextIO

from bot.channels.base import Handle, Reachability, SendResult
from bot.messages import ConversationKey, Incoming, Kind, Reply, as_texts

PROMPT = "Bạn: "


class ConsoleChannel:
    name = "console"

    def __init__(self, handle: Handle, *, user: str | None = None,
                 read: Callable[[], str] | None = None, out: TextIO | None = None) -> None:
        self._handle = handle
        user = user or getpass.getuser() or "console"
        self.key = ConversationKey(self.name, user, user)
        self._read = read or (lambda: input(PROMPT))
        self._out = out or sys.stdout
        self._ids = itertools.count(1)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def reachability(self, key: ConversationKey) -> Reachability:
        return Reachability.DIRECT

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        self.render(replies)
        return SendResult()

    def render(self, replies: Sequence[Reply]) -> None:
        for text in as_texts(replies):
            self._out.write("Bot: " + text.replace("\n", "\n     ") + "\n\n")
        self._out.flush()

    async def run(self) -> None:
        """Read lines until end of input or "/thoat"; a number picks a listed choice."""
        self.render(await self._handle(Incoming(self.key, Kind.EVENT, event="start",
                                                update_id=f"console-{id(self)}-0")))
        loop = asyncio.get_running_loop()
        while True:
            try:
                line = await loop.run_in_executor(None, self._read)
            except (EOFError, KeyboardInterrupt):
                self._out.write("\n")
                return
            if line.strip() in ("/thoat", "/quit", "/exit"):
                return
            if not line.strip():
                continue
            msg = Incoming(self.key, Kind.TEXT, text=line.strip()[:4000],
                           update_id=f"console-{id(self)}-{next(self._ids)}")
            self.render(await self._handle(msg))
