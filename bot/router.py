"""Routing incoming messages to conversation handlers.

Handlers are small async functions ``async def h(ctx: Context, msg: Incoming) -> None``
registered on a :class:`Router`, one router per topic module in ``handlers/``:

- ``@router.state("pakn.content")`` — handles messages while the conversation is in that
  state (a flow's step);
- ``@router.action("kb:open:")`` — handles a button whose payload starts with the prefix,
  in any state (buttons that stay valid on older messages; the handler checks the rest);
- ``@router.menu_entry("kb", "Tra cứu thủ tục", order=10)`` — an entry of the main menu
  (payload ``m:kb``), also reachable by typing its label;
- ``@router.fallback(order=50)`` — free text outside any flow; returns True when handled.

``router.hide_menu_entries(key, ...)`` leaves a switched-off feature's entries out of the
menu; their labels and payloads still reach the handlers (old buttons, typed labels).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from bot import texts
from bot.messages import Choice, ConversationKey, Incoming, Kind, Link, OutAttachment, Reply

if TYPE_CHECKING:
    from bot.services import Services
    from storage.repos.core import Identity
    from storage.uow import UnitOfWork

Handler = Callable[["Context", Incoming], Awaitable[None]]
Fallback = Callable[["Context", Incoming], Awaitable[bool]]
Reprompt = Callable[["Context", str], Awaitable[None]]  # ask the question of that state again

IDLE = ""  # the state outside any flow
CANCEL_PAYLOAD = "g:cancel"
MENU_PAYLOAD = "g:menu"
MENU_PREFIX = "m:"


def typed_number(msg: Incoming) -> int | None:
    """The number of a choice typed as text ("2", "2.", "3)"), or None. Two digits at most:
    longer numbers are codes, phone digits or answers of their own."""
    typed = msg.text.strip().rstrip(".)").strip() if msg.kind is Kind.TEXT else ""
    return int(typed) if typed.isdecimal() and len(typed) <= 2 else None


@dataclass(frozen=True)
class MenuEntry:
    key: str
    label: str
    order: int
    handler: Handler

    @property
    def payload(self) -> str:
        return MENU_PREFIX + self.key


class Router:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self.states: dict[str, Handler] = {}
        self.actions: dict[str, Handler] = {}
        self.menu: list[MenuEntry] = []
        self.fallbacks: list[tuple[int, Fallback]] = []
        # States whose inbound text is personal data (ownership answers, phone numbers):
        # the message log keeps a placeholder instead, whatever the handler does.
        self.sensitive_states: set[str] = set()
        # Menu entries of a feature that is switched off: not shown in the menu, but their
        # label typed (or an old button) still reaches the handler, which answers politely.
        self.hidden_menu: set[str] = set()
        # Long forms a citizen may come back to after the idle timeout: state -> (what the
        # form is, in words; how to ask its question again). See BotCore (RESUME_STATE).
        self.resumable: dict[str, tuple[str, Reprompt]] = {}
        # The same forms' steps: what "quay lại" typed there does (the step before, usually)
        self.form_back: dict[str, Reprompt] = {}

    # -- registration ----------------------------------------------------------------
    def state(self, *names: str, sensitive: bool = False) -> Callable[[Handler], Handler]:
        """``sensitive=True``: what the citizen types in this state is never kept in the
        message log (see :meth:`Context.redact_inbound`)."""
        def deco(fn: Handler) -> Handler:
            for name in names:
                if not name or name in self.states:
                    raise ValueError(f"state {name!r} is empty or registered twice")
                self.states[name] = fn
                if sensitive:
                    self.sensitive_states.add(name)
            return fn

        return deco

    def resumable_form(self, states: Sequence[str], what: str, reprompt: Reprompt,
                       back: Reprompt | None = None) -> None:
        """These states are steps of a long form ("phản ánh, kiến nghị"): after the idle
        timeout the citizen is offered to go on with it (``reprompt(ctx, state)`` asks that
        step's question again) instead of losing what was typed. ``back(ctx, state)``: what
        "quay lại" typed at a step does (elsewhere it means the menu)."""
        for name in states:
            self.resumable[name] = (what, reprompt)
            if back is not None:
                self.form_back[name] = back

    def action(self, prefix: str) -> Callable[[Handler], Handler]:
        if not prefix or prefix.startswith((MENU_PREFIX, "g:")):
            raise ValueError(f"action prefix {prefix!r} is reserved")

        def deco(fn: Handler) -> Handler:
            if prefix in self.actions:
                raise ValueError(f"action {prefix!r} registered twice")
            self.actions[prefix] = fn
            return fn

        return deco

    def menu_entry(self, key: str, label: str, order: int = 100) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            if any(e.key == key for e in self.menu):
                raise ValueError(f"menu entry {key!r} registered twice")
            self.menu.append(MenuEntry(key, label, order, fn))
            self.menu.sort(key=lambda e: (e.order, e.key))
            return fn

        return deco

    def fallback(self, order: int = 100) -> Callable[[Fallback], Fallback]:
        def deco(fn: Fallback) -> Fallback:
            self.fallbacks.append((order, fn))
            self.fallbacks.sort(key=lambda pair: pair[0])
            return fn

        return deco

    def include(self, other: "Router") -> "Router":
        for name, fn in other.states.items():
            self.state(name, sensitive=name in other.sensitive_states)(fn)
        for prefix, fn in other.actions.items():
            self.action(prefix)(fn)
        for entry in other.menu:
            self.menu_entry(entry.key, entry.label, entry.order)(entry.handler)
        for order, fn in other.fallbacks:
            self.fallback(order)(fn)
        self.resumable.update(other.resumable)
        self.form_back.update(other.form_back)
        return self

    # -- lookup ----------------------------------------------------------------------
    def find_action(self, payload: str) -> Handler | None:
        if payload.startswith(MENU_PREFIX):
            key = payload[len(MENU_PREFIX):]
            return next((e.handler for e in self.menu if e.key == key), None)
        best = None
        for prefix, fn in self.actions.items():
            if payload.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, fn)
        return best[1] if best else None

    def hide_menu_entries(self, *keys: str) -> None:
        """Leave these entries out of the menu (a feature switched off by configuration)."""
        unknown = set(keys) - {e.key for e in self.menu}
        if unknown:
            raise ValueError(f"no menu entries {sorted(unknown)}")
        self.hidden_menu.update(keys)

    def menu_choices(self, *, include_hidden: bool = False) -> tuple[Choice, ...]:
        return tuple(Choice(e.label, e.payload) for e in self.menu
                     if include_hidden or e.key not in self.hidden_menu)


class Context:
    """What a handler gets besides the message: who, where, the state, the database
    (one transaction per incoming message), the services, and a place for replies."""

    def __init__(self, *, key: ConversationKey, identity: "Identity", state: str,
                 data: dict[str, Any], uow: "UnitOfWork", services: "Services",
                 now: datetime, router: Router, offered: Sequence[Choice] = (),
                 arrived: float | None = None) -> None:
        self.key = key
        self.identity = identity
        self.state = state
        self.data = copy.deepcopy(data)
        self.uow = uow
        self.services = services
        self.now = now
        self.router = router
        # the buttons of the previous turn, still on the citizen's screen (none after the
        # idle timeout): what "it" means in a follow-up question
        self.offered = tuple(offered)
        # time.monotonic() when the message reached us: what time budgets promised to the
        # citizen ("an answer within 3 s") are counted from
        self.arrived = time.monotonic() if arrived is None else arrived
        self.replies: list[Reply] = []
        self.next_state = state
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self.redact = False

    @property
    def citizen_id(self) -> int:
        return self.identity.citizen_id

    @property
    def config(self):
        return self.services.config

    # -- replies ---------------------------------------------------------------------
    def reply(self, text: str, choices: Sequence[Choice] = (), links: Sequence[Link] = (),
              attachments: Sequence[OutAttachment] = ()) -> None:
        self.replies.append(Reply(text, tuple(choices), tuple(links), tuple(attachments)))

    def show_menu(self, text: str = texts.MENU_PROMPT) -> None:
        self.reply(text, self.router.menu_choices())

    # -- state -----------------------------------------------------------------------
    def goto(self, state: str, data: dict[str, Any] | None = None) -> None:
        """Move to ``state`` (a flow step); ``data`` replaces the flow's data if given."""
        if state != IDLE and state not in self.router.states:
            raise ValueError(f"no handler for state {state!r}")
        self.next_state = state
        if data is not None:
            self.data = dict(data)

    def end(self) -> None:
        """Leave the flow: back to the idle state, flow data dropped."""
        self.next_state = IDLE
        self.data = {}

    def redact_inbound(self) -> None:
        """The message being handled is personal data (an ID number, phone digits): the
        message log keeps a placeholder instead of its text, in this same transaction."""
        self.redact = True

    def after_commit(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` once the transaction has committed (notifications, events)."""
        self._after_commit.append(fn)


CANCEL_CHOICE = Choice(texts.CANCEL_LABEL, CANCEL_PAYLOAD)
MENU_CHOICE = Choice(texts.MENU_LABEL, MENU_PAYLOAD)
