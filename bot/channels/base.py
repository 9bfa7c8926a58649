"""The channel interface: one small adapter per platform.

An adapter turns platform updates into :class:`bot.messages.Incoming`, passes them to the
core (``core.handle``), and renders the returned :class:`bot.messages.Reply` list on its
platform. The core can also push replies to a citizen later (staff answers, surveys,
status changes) through :meth:`Channel.send`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol, Sequence

from bot.messages import ConversationKey, Incoming, Reply

if TYPE_CHECKING:
    from aiohttp import web

# What adapters call for each inbound message: returns the replies to render. An optional
# second argument is work of the channel's own to do in the message's transaction
# (``BotCore.handle``'s ``within``).
Handle = Callable[..., Awaitable[list[Reply]]]


class Reachability(str, Enum):
    """How a citizen can be reached on a channel now (see the Zalo messaging window)."""

    DIRECT = "direct"  # a normal message reaches them
    TEMPLATE = "template"  # only an approved template message (Zalo ZNS/ZBS)
    UNREACHABLE = "unreachable"  # blocked the bot, window closed with no template, ...


class SendError(Exception):
    """A send that failed. ``permanent`` means retrying will not help (e.g. user blocked
    the bot); ``retry_after`` (seconds) is the platform's request to wait."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None,
                 code: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.code = code


@dataclass(frozen=True)
class SendResult:
    message_ids: tuple[str, ...] = ()


class FetchError(Exception):
    """A file a citizen sent could not be fetched back from the platform (gone, too
    large, platform down). The message is for logs; staff see a polite page."""


@dataclass(frozen=True)
class FetchedFile:
    data: bytes
    mime_type: str = ""  # what the platform says, if anything


class FileSource(Protocol):
    """Adapters whose inbound files stay on the platform (Telegram file ids, Zalo CDN
    URLs) implement this so that staff can open them from the dashboard."""

    async def fetch_file(self, ref: str, *, max_bytes: int) -> FetchedFile:
        """The file behind an :class:`bot.messages.Attachment` ref; raises :class:`FetchError`."""


class Channel(Protocol):
    """The adapter interface. ``name`` is the channel id stored in ConversationKey."""

    name: str

    async def start(self) -> None:
        """Begin receiving (polling task, webhook registration, ...)."""

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        """Deliver replies to a conversation outside a request/response cycle.
        Raises :class:`SendError` on failure."""

    async def stop(self) -> None:
        """Stop receiving and release resources; must be safe to call twice."""

    async def reachability(self, key: ConversationKey) -> Reachability:
        """Whether (and how) a message can reach this conversation now."""


class WebhookChannel(Channel, Protocol):
    """A channel that receives updates over HTTP on our own aiohttp server."""

    def routes(self) -> Sequence["web.AbstractRouteDef"]:
        """aiohttp route definitions to add to the application."""


class ChannelRegistry:
    """The running channels by name; the core sends proactive messages through it."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def add(self, channel: Channel) -> None:
        if channel.name in self._channels:
            raise ValueError(f"channel {channel.name!r} registered twice")
        self._channels[channel.name] = channel

    def get(self, name: str) -> Channel | None:
        return self._channels.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._channels

    def __iter__(self):
        return iter(list(self._channels.values()))

    def names(self) -> list[str]:
        return list(self._channels)

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:
        channel = self._channels.get(key.channel)
        if channel is None:
            raise SendError(f"channel {key.channel!r} is not running", permanent=True,
                            code="no_channel")
        return await channel.send(key, replies)

    async def start_all(self) -> None:
        for channel in self:
            await channel.start()

    async def stop_all(self) -> None:
        for channel in reversed(list(self)):
            await channel.stop()
