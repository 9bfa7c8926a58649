"""What the platform adapters (Telegram, Zalo OA, Zalo Bot) share.

- **Accept, then handle.** A webhook stores the update in the inbox (``channel_inbox``)
  and answers at once; the update is handled afterwards in a background task that the
  adapter tracks (awaited on stop, cancelled after a grace period). Re-deliveries of an
  update are dropped by the inbox's unique key, and the core de-duplicates by update id
  again. An update whose handling did not finish (process killed, error) is handled by
  the ``<channel>.inbox`` job once its lease has run out. The row is marked done in the
  message's own transaction (the core's ``within`` hook), so no second transaction; on
  PostgreSQL by the message's closing statement itself. The inbox insert is one statement
  committed on its own (``Database.single_statement``), and the update the webhook parsed
  is handed to the background task as it is (not parsed again).
- **Deliver the replies**, and when the platform says the citizen cannot be reached
  (blocked the bot, unfollowed), record it on the identity instead of retrying.
- **Reachability** of a conversation from its channel identity.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Sequence

from bot.channels.base import Handle, Reachability, SendError, SendResult
from bot.clock import Clock
from bot.messages import ConversationKey, Incoming, Reply
from storage.db import Database
from storage.repos.channels import ChannelInbox, IdentityReach, Reachabilities
from storage.repos.core import CloseWith

if TYPE_CHECKING:
    from bot.core import Within

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # an accepted update is re-driven when not done by then
MAX_ATTEMPTS = 5
STOP_GRACE_SECONDS = 10.0
# Updates handled at once in the background per channel and process. Beyond it an accepted
# update stays in the inbox (stored, answered 200) and the inbox job handles it after its
# lease: a slow database or platform cannot make tasks pile up without bound.
MAX_BACKGROUND = 256


class PlatformChannel:
    """Base of the platform adapters. Subclasses implement :meth:`parse` (platform payload
    → :class:`Incoming` or None to ignore) and :meth:`send`."""

    name = "platform"

    def __init__(self, handle: Handle, db: Database, clock: Clock) -> None:
        self._handle = handle
        self._db = db
        self._clock = clock
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # -- to implement ------------------------------------------------------------------
    def parse(self, payload: dict[str, Any]) -> Incoming | None:  # pragma: no cover - abstract
        raise NotImplementedError

    async def send(self, key: ConversationKey, replies: Sequence[Reply]) -> SendResult:  # pragma: no cover
        raise NotImplementedError

    async def after_handled(self, payload: dict[str, Any], incoming: Incoming) -> None:
        """Hook after the replies went out (Telegram answers the button press here)."""

    # -- background work ---------------------------------------------------------------
    def spawn(self, coro: Any, what: str = "task") -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every background task has finished (tests; graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop_tasks(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._stopping = True
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("background work cancelled at stop; the inbox job will finish it",
                        extra={"channel": self.name, "tasks": len(pending)})
            await asyncio.gather(*pending, return_exceptions=True)

    # -- inbox -------------------------------------------------------------------------
    async def accept(self, update_id: str, payload: dict[str, Any], incoming: Incoming | None = None) -> bool:
        """Store an update (before the webhook answers) and handle it in the background.
        False when the same update was accepted before: it is not handled again.
        ``incoming``: the update as the webhook already parsed it (else parsed again).
        The insert is one statement committed on its own (on PostgreSQL no BEGIN / COMMIT
        round trips): once it returns, the update is stored."""
        async with self._db.single_statement() as conn:
            item_id = await ChannelInbox(conn).accept(self.name, update_id[:128], payload,
                                                      self._clock.now(), LEASE)
        if item_id is None:
            log.info("re-delivered update ignored", extra={"channel": self.name, "update_id": update_id})
            return False
        if len(self._tasks) >= MAX_BACKGROUND:
            log.warning("too many updates in flight; left in the inbox for the inbox job",
                        extra={"channel": self.name, "inbox_id": item_id, "in_flight": len(self._tasks)})
            return True
        self.spawn(self._run_item(item_id, payload, incoming), "update")
        return True

    async def _run_item(self, item_id: int, payload: dict[str, Any], incoming: Incoming | None = None) -> None:
        seen: list[str] = []  # what the core did with the update: "marked" / "rolled back"
        # On PostgreSQL the message's closing statement marks the row done (close_with);
        # otherwise (SQLite, a duplicate update) the hook does, in the same transaction.
        close_with = CloseWith(inbox_id=item_id)

        async def mark_done(uow) -> None:  # in the message's own transaction (no second one)
            if uow is None:  # (a core that reports it) the transaction did not commit
                seen.append("rolled back")
                return
            if not close_with.inbox_done:
                await uow.repo(ChannelInbox).done(item_id, self._clock.now())
            seen.append("marked")

        mark_done.close_with = close_with  # type: ignore[attr-defined]
        try:
            await self.process(payload, mark_done, incoming)
        except asyncio.CancelledError:
            raise
        except Exception:  # left in the inbox: the inbox job tries again after the lease
            log.exception("update handling failed", extra={"channel": self.name, "inbox_id": item_id})
            return
        if seen:
            # Marked done with the message's transaction; if that commit failed, the row is
            # still open and the inbox job handles the update again after its lease.
            return
        async with self._db.unit_of_work() as uow:  # an update the core never saw (ignored)
            await uow.repo(ChannelInbox).done(item_id, self._clock.now())

    async def redrive(self) -> int:
        """Handle accepted updates whose handling did not finish (scheduler job)."""
        async with self._db.unit_of_work() as uow:
            items = await uow.repo(ChannelInbox).claim_stale(self.name, self._clock.now(), LEASE,
                                                             max_attempts=MAX_ATTEMPTS)
        for item in items:
            log.info("re-driving an unfinished update",
                     extra={"channel": self.name, "inbox_id": item.id, "attempt": item.attempts})
            await self._run_item(item.id, item.payload)
        return len(items)

    # -- handling ----------------------------------------------------------------------
    async def process(self, payload: dict[str, Any], within: Within | None = None,
                      incoming: Incoming | None = None) -> None:
        """One platform update: to the core, and its replies back to the citizen. ``within``
        runs in the message's transaction (the inbox row is marked done there). ``incoming``:
        the update already parsed (by the webhook), else it is parsed here."""
        if incoming is None:
            incoming = self.parse(payload)
        if incoming is None:
            return
        replies = await self._handle(incoming, within)
        if replies:
            await self.deliver(incoming.key, replies)
        await self.after_handled(payload, incoming)

    async def deliver(self, key: ConversationKey, replies: Sequence[Reply]) -> bool:
        """Send the replies to a message; a permanent failure marks the identity
        unreachable. Never raises for platform errors (the message itself was handled)."""
        try:
            await self.send(key, replies)
            return True
        except SendError as exc:
            if exc.permanent:
                log.warning("citizen unreachable", extra={"channel": self.name, "code": exc.code})
                async with self._db.unit_of_work() as uow:
                    await uow.citizens.mark_unreachable(self.name, key.user_id, exc.code or str(exc))
            else:
                log.warning("reply not delivered", extra={"channel": self.name, "code": exc.code,
                                                          "retry_after": exc.retry_after})
            return False

    # -- reachability ------------------------------------------------------------------
    async def identity_reach(self, key: ConversationKey) -> IdentityReach | None:
        async with self._db.unit_of_work() as uow:
            return await uow.repo(Reachabilities).get(self.name, key.user_id)

    async def reachability(self, key: ConversationKey) -> Reachability:
        ident = await self.identity_reach(key)
        if ident is None or not ident.reachable:
            return Reachability.UNREACHABLE
        return Reachability.DIRECT


def parse_ms(value: Any) -> datetime | None:
    """A platform timestamp in milliseconds (string or number) as aware UTC."""
    from datetime import timezone

    try:
        ms = int(str(value))
    except (TypeError, ValueError):
        return None
    if ms < 10**11:  # seconds, not milliseconds
        ms *= 1000
    try:
        return datetime.fromtimestamp(ms / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
