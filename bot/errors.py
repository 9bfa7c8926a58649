"""Typed errors raised at the edges and shown to the citizen as a polite message."""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose message is written for the citizen (Vietnamese, polite, short).
    The core rolls back what the handler did, keeps the conversation where it was and
    sends ``message``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceUnavailable(UserFacingError):
    """A dependency (the one-stop system, a platform API) is slow or down."""

    def __init__(self, message: str = "Hệ thống đang bận, vui lòng thử lại sau ít phút.") -> None:
        super().__init__(message)
