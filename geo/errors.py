"""Domain errors. The API maps each class to one HTTP status in ``api/errors.py`` (``STATUS``).

Messages are Chinese first, then English, and say what is wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any


class WanggeError(Exception):
    """Base of all domain errors."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(WanggeError):
    """Input that can be parsed but makes no sense (bad coordinate, bad geometry ...)."""


class NotFound(WanggeError):
    """The thing asked for does not exist (or no cell covers the point)."""


class Conflict(WanggeError):
    """The request conflicts with the current state (version, transition)."""


class TooLarge(WanggeError):
    """A payload or a batch beyond the configured limits."""


class Forbidden(WanggeError):
    """The caller may not do or see this."""


class Unavailable(WanggeError):
    """A dependency (the database) is down; retry later."""


class Unauthorized(WanggeError):
    """No valid credentials: log in (``POST /auth/login``) or send a valid Bearer token."""


class Locked(WanggeError):
    """The account is locked after repeated failed logins; retry later or ask an admin."""


class TooManyRequests(WanggeError):
    """A rate limit was hit; retry after the number of seconds in ``Retry-After``."""
