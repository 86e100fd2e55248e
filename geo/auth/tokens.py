"""Tokens: short-lived signed session tokens and long-lived API tokens.

Session token (from ``POST /auth/login``): ``v1.<payload>.<signature>``, payload the
base64url JSON ``{"uid", "sub", "ver", "iat", "exp"}``, signature HMAC-SHA256 of
``v1.<payload>`` under the installation's secret key. ``ver`` is the user's
``token_version``: disabling a user or resetting the password invalidates earlier tokens.
No JWT library is needed for this one algorithm; the format is JWT-like but not JWT.

API token (for systems): ``wgk_`` + 43 random characters; only its SHA-256 is stored, so a
leaked database does not leak usable tokens. Revocable one by one; a password reset or a
disable revokes all of a user's API tokens. Every API token expires: after
:data:`API_TOKEN_DEFAULT_DAYS` unless the creator asks for 1..:data:`API_TOKEN_MAX_DAYS` days
(tokens of earlier releases stored without an expiry end :data:`API_TOKEN_MAX_DAYS` days after
their creation). Only a login session may mint one (``POST /auth/tokens``), never another API
token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

API_TOKEN_PREFIX = "wgk_"
API_TOKEN_DEFAULT_DAYS = 90  # an API token asked for without a lifetime lives this long
SESSION_TTL_MAX_S = 7 * 24 * 3600  # a login session never lasts longer (logout remembers it)
API_TOKEN_MAX_DAYS = 365  # and never longer than this
_VERSION = "v1"


class TokenError(ValueError):
    """A token that is malformed, badly signed or expired (the message says which)."""


@dataclass(frozen=True)
class SessionClaims:
    """The verified content of a session token."""

    user_id: int
    username: str
    token_version: int
    issued_at: int
    expires_at: int
    session_id: str  # random; POST /auth/logout revokes this one session (auth_session_revoked)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def issue_session_token(
    secret: str, user_id: int, username: str, token_version: int, ttl_s: int,
    now: float | None = None,
) -> tuple[str, int]:
    """Return a signed session token and its expiry (Unix seconds)."""
    if not secret:
        raise ValueError("empty secret key")
    iat = int(now if now is not None else time.time())
    exp = iat + min(int(ttl_s), SESSION_TTL_MAX_S)
    payload = {"uid": user_id, "sub": username, "ver": token_version, "iat": iat, "exp": exp,
               "sid": secrets.token_urlsafe(12)}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    head = f"{_VERSION}.{body}"
    return f"{head}.{_sign(secret, head)}", exp


def verify_session_token(secret: str, token: str, now: float | None = None) -> SessionClaims:
    """Check signature and expiry; return the claims.

    Raises
    ------
    TokenError
        Malformed, signature mismatch, or expired.
    """
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise TokenError("malformed token")
    head = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(secret, head), parts[2]):
        raise TokenError("bad signature")
    try:
        data = json.loads(_unb64(parts[1]))
        claims = SessionClaims(
            user_id=int(data["uid"]), username=str(data["sub"]),
            token_version=int(data["ver"]), issued_at=int(data["iat"]),
            expires_at=int(data["exp"]), session_id=str(data["sid"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError("malformed token payload") from exc
    if claims.expires_at <= int(now if now is not None else time.time()):
        raise TokenError("token expired")
    return claims


def new_api_token() -> str:
    """A fresh random API token (shown once, never stored in clear)."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    """SHA-256 hex of an API token (the high entropy makes a slow hash unnecessary)."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_api_token(token: str) -> bool:
    """True when ``token`` has the API-token form."""
    return token.startswith(API_TOKEN_PREFIX)
