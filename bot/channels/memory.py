"""An in-memory channel: drives the real core in tests and scripts (no network)."""

from __future__ import annotations

import itertools
from typing import Sequence

from bot.channels.base import Handle, Reachability, SendError, SendResult
from bot.messages import Attachment, ConversationKey, Incoming, Kind, Location, Reply


class MemoryChannel:
    def __init__(self, handle: Handle, name: str = "memory", user_id: str = "u1",
                 chat_id: str | None = None) -> None:
        self.name = name
        self._handle = handle
        self.key = ConversationKey(name, chat_id or user_id, user_id)
        self.pushed: list[tuple[ConversationKey, list[Reply]]] = []
        self.blocked: set[str] = set()  # user ids that "blocked the bot"
        self._ids = itertools.count(1)
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        if key.user_id in self.blocked:
            raise SendError("blocked", permanent=True, code="blocked")
        self.pushed.append((key, list(replies)))
        return SendResult(tuple(str(next(self._ids)) for _ in replies))

    async def reachability(self, key: ConversationKey) -> Reachability:
        return Reachability.UNREACHABLE if key.user_id in self.blocked else Reachability.DIRECT

    # -- driving the conversation ----------------------------------------------------
    def as_user(self, user_id: str) -> "MemoryChannel":
        """Another citizen on the same channel (shares the pushed list)."""
        other = MemoryChannel(self._handle, self.name, user_id)
        other.pushed = self.pushed
        other.blocked = self.blocked
        other._ids = self._ids
        return other

    async def deliver(self, msg: Incoming) -> list[Reply]:
        return await self._handle(msg)

    def _msg(self, kind: Kind, update_id: str | None = None, **kw) -> Incoming:
        uid = f"m{next(self._ids)}" if update_id is None else update_id
        return Incoming(key=self.key, kind=kind, update_id=uid, **kw)

    async def say(self, text: str, *, update_id: str | None = None) -> list[Reply]:
        return await self.deliver(self._msg(Kind.TEXT, update_id, text=text))

    async def press(self, payload: str, *, update_id: str | None = None) -> list[Reply]:
        return await self.deliver(self._msg(Kind.CHOICE, update_id, choice=payload))

    async def send_photo(self, ref: str, *, mime_type: str = "image/jpeg", size: int = 1000,
                         name: str = "") -> list[Reply]:
        att = Attachment("image", ref, name=name, mime_type=mime_type, size=size)
        return await self.deliver(self._msg(Kind.ATTACHMENT, None, attachments=(att,)))

    async def send_location(self, lat: float, lon: float) -> list[Reply]:
        return await self.deliver(self._msg(Kind.LOCATION, None, location=Location(lat, lon)))

    async def event(self, name: str) -> list[Reply]:
        return await self.deliver(self._msg(Kind.EVENT, None, event=name))
