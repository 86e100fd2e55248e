"""Domain errors. The API maps each class to one HTTP status in ``api/errors.py``.

Messages are Chinese first, then English, and say what is wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any


class WanggeError(Exception):
    """Base of all domain errors."""

    status = 400

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class InvalidInput(WanggeError):
    """Input that can be parsed but makes no sense (bad coordinate, bad geometry ...)."""

    status = 422


class NotFound(WanggeError):
    """The thing asked for does not exist (or no cell covers the point)."""

    status = 404


class Conflict(WanggeError):
    """The request conflicts with the current state (version, transition)."""

    status = 409


class TooLarge(WanggeError):
    """A payload or a batch beyond the configured limits."""

    status = 413


class Forbidden(WanggeError):
    """The caller may not do or see this."""

    status = 403


class Unavailable(WanggeError):
    """A dependency (the database) is down; retry later."""

    status = 503


class Unauthorized(WanggeError):
    """No valid credentials: log in (``POST /auth/login``) or send a valid Bearer token."""

    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="wangge"'}


class Locked(WanggeError):
    """The account is locked after repeated failed logins; retry later or ask an admin."""

    status = 423


class TooManyRequests(WanggeError):
    """A rate limit was hit; retry after the number of seconds in ``Retry-After``."""

    status = 429
