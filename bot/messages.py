"""Platform-neutral messages: what a channel hands to the core and what the core answers.

Channels (``bot/channels/*``) convert platform updates into :class:`Incoming` and render
:class:`Reply` back; handlers only ever see these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Iterator, Sequence


class Kind(str, Enum):
    TEXT = "text"
    CHOICE = "choice"  # a button press (or a numbered/label answer resolved by the core)
    ATTACHMENT = "attachment"
    LOCATION = "location"
    CONTACT = "contact"
    EVENT = "event"  # follow/unfollow/start and other platform events without content


@dataclass(frozen=True)
class ConversationKey:
    """Who is talking where: one conversation per (channel, chat, user)."""

    channel: str
    chat_id: str
    user_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.chat_id}:{self.user_id}"


class MalformedMessage(TypeError):
    """A platform update whose fields have the wrong types (a hostile or broken update):
    the adapters catch TypeError while parsing and ignore the update."""


def _check(obj: object, **expected: type | tuple[type, ...]) -> None:
    for name, kinds in expected.items():
        value = getattr(obj, name)
        if not isinstance(value, kinds) or isinstance(value, bool):
            raise MalformedMessage(f"{type(obj).__name__}.{name}: {type(value).__name__}")


@dataclass(frozen=True)
class Attachment:
    """A photo or file the citizen sent. ``ref`` is the platform's handle (file_id, URL)."""

    kind: str  # "image" | "file" | "audio" | "video"
    ref: str
    name: str = ""
    mime_type: str = ""
    size: int | None = None  # bytes, when the platform says
    url: str = ""  # a URL we can fetch it from, when the platform gives one

    def __post_init__(self) -> None:
        _check(self, kind=str, ref=str, name=str, mime_type=str, size=(int, type(None)), url=str)


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    address: str = ""

    def __post_init__(self) -> None:
        _check(self, latitude=(int, float), longitude=(int, float), address=str)


@dataclass(frozen=True)
class Contact:
    phone: str
    name: str = ""
    user_id: str = ""  # the platform user the contact belongs to, when known

    def __post_init__(self) -> None:
        _check(self, phone=str, name=str, user_id=str)


@dataclass(frozen=True)
class Incoming:
    """One inbound message or event, already stripped of platform details."""

    key: ConversationKey
    kind: Kind
    text: str = ""
    choice: str = ""  # the payload of the pressed button
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    contact: Contact | None = None
    event: str = ""  # e.g. "start", "follow", "unfollow"
    update_id: str = ""  # platform id of the update, for de-duplication ("" = none)
    display_name: str = ""  # the user's name on the platform, if it gives one
    locale: str = ""
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        # every adapter builds these from untrusted JSON: a list where text belongs must stop
        # here, not in the database driver
        _check(self, text=str, choice=str, event=str, update_id=str, display_name=str, locale=str)

    @property
    def channel(self) -> str:
        return self.key.channel


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def choice_label(text: str, limit: int = 80) -> str:
    """A button label for a long name: its start and its end ("Liên thông thủ tục … cấp thẻ
    BHYT cho trẻ em dưới 6 tuổi"), since siblings often differ only at the end."""
    words = " ".join(text.split()).rstrip(" :;,.-").split(" ")  # "… nhà ở riêng lẻ:" ends at "lẻ"
    whole = " ".join(words)
    if len(whole) <= limit:
        return whole
    head: list[str] = []
    for w in words:  # about the first 55 % of the label, whole words
        if len(" ".join(head + [w])) > limit * 0.55:
            break
        head.append(w)
    tail: list[str] = []
    room = limit - len(" ".join(head)) - 3
    for w in reversed(words[len(head):]):
        if len(" ".join([w] + tail)) > room:
            break
        tail.insert(0, w)
    if not head or not tail:
        return clip(whole, limit)
    return f"{' '.join(head)} … {' '.join(tail)}"


@dataclass(frozen=True)
class Choice:
    """A button. ``payload`` must fit Telegram's 64-byte callback data."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        if len(self.payload.encode("utf-8")) > 64:
            raise ValueError(f"choice payload over 64 bytes: {self.payload!r}")


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class OutAttachment:
    kind: str  # "image" | "file"
    url: str
    name: str = ""
    caption: str = ""


@dataclass(frozen=True)
class Reply:
    """One outgoing message: text, optional buttons, links and attachments."""

    text: str
    choices: tuple[Choice, ...] = ()
    links: tuple[Link, ...] = ()
    attachments: tuple[OutAttachment, ...] = ()

    def as_text(self, *, numbered: bool = True, start: int = 1) -> str:
        """The reply for a text-only channel: choices as a numbered list from ``start``,
        links inline."""
        parts = [self.text]
        if self.links:
            parts.append("\n".join(f"{link.label}: {link.url}" for link in self.links))
        if self.choices and numbered:
            parts.append("\n".join(f"{i}. {c.label}" for i, c in enumerate(self.choices, start)))
        return "\n\n".join(p for p in parts if p)


def numbered(replies: "Sequence[Reply]") -> "Iterator[tuple[Reply, int]]":
    """Each reply of one turn with the number its first choice has on a text-only channel:
    choices are numbered on across the replies, as the core reads a typed number against
    all buttons of the turn."""
    n = 1
    for reply in replies:
        yield reply, n
        n += len(reply.choices)


def as_texts(replies: "Sequence[Reply]") -> list[str]:
    """Replies of one turn for a text-only channel (choices numbered on, see :func:`numbered`)."""
    return [reply.as_text(start=start) for reply, start in numbered(replies)]


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, at paragraph, then line,
    then word boundaries; never loses or reorders characters other than the separators."""
    if limit < 1:
        raise ValueError("limit must be positive")
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = rest.rfind(sep, 0, limit + 1)
            if cut > 0:
                chunks.append(rest[:cut].rstrip())
                rest = rest[cut + len(sep):].lstrip("\n")
                break
        if cut <= 0:  # one unbroken run longer than the limit
            chunks.append(rest[:limit])
            rest = rest[limit:]
    if rest or not chunks:
        chunks.append(rest)
    return [c for c in chunks if c] or [""]
