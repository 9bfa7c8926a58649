"""Delivering proactive messages (staff answers, status changes, surveys) for the outbox.

Sends through the channel the conversation lives on (the outbox logs what was sent), and
records a channel that says the citizen cannot be reached (blocked the bot, window
closed) so that callers can choose another way instead of retrying forever.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Sequence

from bot.channels.base import ChannelRegistry, Reachability, SendError
from bot.clock import Clock
from bot.messages import ConversationKey, Reply
from storage.db import Database

log = logging.getLogger(__name__)


class Delivery(str, Enum):
    SENT = "sent"
    UNREACHABLE = "unreachable"  # permanent: do not retry
    FAILED = "failed"  # temporary: retry later (see retry_after)


@dataclass(frozen=True)
class DeliveryResult:
    status: Delivery
    detail: str = ""
    retry_after: float | None = None
    channel: str = ""


class Notifier:
    def __init__(self, db: Database, channels: ChannelRegistry, clock: Clock) -> None:
        self.db = db
        self.channels = channels
        self.clock = clock

    async def reachability(self, key: ConversationKey) -> Reachability:
        channel = self.channels.get(key.channel)
        if channel is None:
            return Reachability.UNREACHABLE
        return await channel.reachability(key)

    async def deliver(self, key: ConversationKey, replies: Sequence[Reply], *,
                      template: dict[str, Any] | None = None) -> DeliveryResult:
        """Send to one conversation without logging it; never raises for platform errors.

        When the channel can only reach the citizen by an approved template (Zalo's window
        closed) and ``template`` ({"template_id", "params"}) is given, the template is sent."""
        channel = self.channels.get(key.channel)
        if channel is None:
            return DeliveryResult(Delivery.UNREACHABLE, f"channel {key.channel} is not running",
                                  channel=key.channel)
        try:
            how = await channel.reachability(key)
            if how is Reachability.UNREACHABLE:
                return DeliveryResult(Delivery.UNREACHABLE, "channel says unreachable", channel=key.channel)
            # a platform that refuses proactive messages at some hours (Zalo OA at night):
            # not tried now, retried when the window ends
            hold = getattr(channel, "proactive_hold", None)
            held = hold() if hold is not None else None
            if held is not None:
                code, wait = held
                log.info("send held by the platform's hours", extra={"channel": key.channel, "code": code,
                                                                     "retry_after": wait})
                return DeliveryResult(Delivery.FAILED, code, wait, key.channel)
            if how is Reachability.TEMPLATE:
                send_template = getattr(channel, "send_template", None)
                if not template or send_template is None:
                    return DeliveryResult(Delivery.UNREACHABLE, "messaging window closed, no template",
                                          channel=key.channel)
                await send_template(key, template["template_id"], template.get("params", {}))
            else:
                await channel.send(key, replies)
        except SendError as exc:
            if exc.permanent:
                log.warning("citizen unreachable", extra={"channel": key.channel, "code": exc.code})
                async with self.db.unit_of_work() as uow:
                    await uow.citizens.mark_unreachable(key.channel, key.user_id, exc.code or str(exc))
                return DeliveryResult(Delivery.UNREACHABLE, exc.code or str(exc), channel=key.channel)
            log.warning("send failed, will retry", extra={"channel": key.channel, "code": exc.code,
                                                          "retry_after": exc.retry_after})
            return DeliveryResult(Delivery.FAILED, exc.code or str(exc), exc.retry_after, key.channel)
        return DeliveryResult(Delivery.SENT, channel=key.channel)

    async def deliver_to_citizen(self, citizen_id: int, replies: Sequence[Reply], *,
                                 template: dict[str, Any] | None = None
                                 ) -> tuple[DeliveryResult, ConversationKey | None]:
        """Deliver on the citizen's most recently used reachable channel, falling back to
        the others; returns the outcome and the conversation it went to."""
        async with self.db.unit_of_work() as uow:
            identities = await uow.citizens.identities_of(citizen_id)
        last = DeliveryResult(Delivery.UNREACHABLE, "no reachable channel")
        for ident in identities:
            channel = self.channels.get(ident.channel)
            if channel is None:
                continue
            # An identity marked unreachable (blocked bot, Zalo's window closed) can still be
            # reached by an approved template when one is given and the channel sends them.
            if not ident.reachable and not (template and hasattr(channel, "send_template")):
                continue
            key = ConversationKey(ident.channel, ident.chat_id, ident.user_id)
            last = await self.deliver(key, replies, template=template)
            if last.status is not Delivery.UNREACHABLE:
                return last, key
        return last, None
