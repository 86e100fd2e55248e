"""Login, who am I, API tokens, the audit log."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from api.schemas.base import Answer, list_config, model_config

_ME = {"user": "demo-worker", "user_id": 7, "role": "worker", "role_name": "网格员 / grid worker",
       "authenticated": True, "regions": ["141123"], "department_code": None,
       "cell_codes": ["141123100007005"], "may_unmask": True}


class Me(Answer):
    """The caller: user, role and the scope the role is bound to."""

    user: str
    user_id: int | None = None  # app_user.id; None for anonymous callers (the phone app's
    # offline queue is tagged with it: mobile/app.js)
    role: str
    role_name: str
    authenticated: bool
    regions: list[str] | None = None
    department_code: str | None = None
    cell_codes: list[str]
    may_unmask: bool
    model_config = model_config(_ME)


class Login(Answer):
    """A session token (also set as an HttpOnly cookie for browsers)."""

    access_token: str
    token_type: str
    expires_in: int
    expires_at: str
    user: Me
    model_config = model_config({"access_token": "eyJ1aWQiOjUsInYiOjF9.x2f...",
                                 "token_type": "bearer", "expires_in": 28800,
                                 "expires_at": "2026-12-04T23:00:00+00:00", "user": _ME})


class Logout(Answer):
    """The session is ended (its token no longer works) and the login cookie is forgotten."""

    user: str
    logged_out: bool
    everywhere: bool = False
    model_config = model_config({"user": "demo-worker", "logged_out": True,
                                 "everywhere": False})


class TokenCreated(Answer):
    """A new API token: shown once."""

    id: int
    token: str
    name: str
    model_config = model_config({"id": 3, "token": "wg_4f0c...", "name": "qgis", "days": 90})


class Token(Answer):
    """An API token of the caller (never its secret)."""

    id: int
    name: str
    model_config = model_config({"id": 3, "name": "qgis",
                                 "created_at": "2026-12-04T10:00:00+08:00",
                                 "expires_at": "2027-03-04T10:00:00+08:00", "revoked_at": None})


class Tokens(RootModel[list[Token]]):
    """The caller's API tokens."""

    model_config = list_config([{"id": 3, "name": "qgis"}])


class Revoked(Answer):
    """A revoked token."""

    id: int
    revoked: bool
    model_config = model_config({"id": 3, "revoked": True})


class AuditPage(Answer):
    """A page of the audit log, newest first."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]
    model_config = model_config({"total": 1, "limit": 50, "offset": 0, "items": [
        {"id": 1, "at": "2026-12-04T10:00:00+08:00", "user": "demo-command",
         "action": "read_personal", "object": "incident", "object_id": "SJ2025093000001"}]})
