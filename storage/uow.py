"""The unit of work: one transaction and the repositories that share it."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos.base import Repository
from storage.repos.core import Audit, Citizens, Conversations, ConversationStates, Messages, UpdateLog

if TYPE_CHECKING:
    from storage.db import Database

R = TypeVar("R", bound=Repository)


class UnitOfWork:
    def __init__(self, session: AsyncSession, db: "Database") -> None:
        self.session = session
        self.db = db
        self.updates = UpdateLog(session)
        self.citizens = Citizens(session)
        self.states = ConversationStates(session)
        self.messages = Messages(session)
        self.conversations = Conversations(session)
        self.audit = Audit(session)
        self._repos: dict[type, Repository] = {}

    def repo(self, cls: type[R]) -> R:
        """A feature's repository bound to this transaction (created once per unit)."""
        found = self._repos.get(cls)
        if found is None:
            found = self._repos[cls] = cls(self.session)
        return found  # type: ignore[return-value]
