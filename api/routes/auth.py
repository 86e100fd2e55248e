"""Login and tokens: ``POST /auth/login``, ``GET /auth/me``, API tokens (``/auth/tokens``)."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from api.csrf import clear_csrf_cookie, same_origin, set_csrf_cookie
from api.deps import (
    TOKEN_COOKIE,
    EngineDep,
    PrincipalDep,
    SettingsDep,
    resolve_principal,
)
from api.errors import status_of
from api.schemas import auth as schemas_auth
from api.schemas import ok
from geo.auth.audit import AuditEntry, record
from geo.auth.principal import ROLE_NAMES, Principal
from geo.auth.tokens import API_TOKEN_DEFAULT_DAYS, API_TOKEN_MAX_DAYS, issue_session_token
from geo.auth.users import (
    api_token_days,
    create_api_token,
    end_session,
    list_api_tokens,
    login,
    revoke_api_token,
)
from geo.errors import Forbidden, TooManyRequests, Unauthorized

router = APIRouter(tags=["auth 认证"])


def _authenticated(principal: PrincipalDep) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("需要登录 / log in first (POST /auth/login)")
    return principal


AuthenticatedDep = Annotated[Principal, Depends(_authenticated)]


class LoginRequest(BaseModel):
    """User name and password."""

    username: str = Field(min_length=1, max_length=64, examples=["demo-worker"])
    password: str = Field(min_length=1, max_length=256)


class TokenRequest(BaseModel):
    """An API token for a system acting as the caller."""

    name: str = Field(min_length=1, max_length=100, examples=["12345 hotline bridge"])
    days: int | None = Field(
        default=None, ge=1, le=API_TOKEN_MAX_DAYS, examples=[90],
        description=f"有效天数 / lifetime in days, 1..{API_TOKEN_MAX_DAYS}; not given or null: "
        f"{API_TOKEN_DEFAULT_DAYS} days. Every API token expires; a password reset or disabling "
        "the user revokes it at once.")


def _principal_info(p: Principal) -> dict[str, Any]:
    return {
        "user": p.user, "user_id": p.user_id, "role": p.role,
        "role_name": ROLE_NAMES.get(p.role, p.role),
        "authenticated": p.authenticated,
        "regions": sorted(p.regions) if p.regions is not None else None,
        "department_code": p.department_code, "cell_codes": sorted(p.cell_codes),
        "may_unmask": p.may_unmask(),
    }


@router.post(
    "/auth/login",
    summary="Log in with a password; get a short-lived token / 登录",
    responses=ok(schemas_auth.Login) | {
        401: {"description": "Wrong user name or password (the same answer for an unknown "
                             "user)"},
        429: {"description": "Too many attempts or failed logins from this address "
                             "(Retry-After)"}},
               response_model=None)
def post_login(
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    body: Annotated[LoginRequest, Body()],
) -> dict[str, Any]:
    """Check the password (argon2id) and answer a signed token valid ``token_ttl_s`` seconds.

    Send it as ``Authorization: Bearer <token>``. The token is also set as an HttpOnly,
    SameSite=Strict cookie, honoured on GET (browsers opening maps) and on writes that send
    ``X-CSRF-Token`` = cookie ``wangge_csrf`` (the phone app, :mod:`api.csrf`). An unknown user and
    a wrong password get the same 401. Repeated failures are throttled per client address and
    name, never by locking the account (``login_max_failures`` within ``login_lockout_s``:
    429 with ``Retry-After``).
    """
    token, exp, principal = _login(request, engine, settings, body.username, body.password)
    _set_cookie(request, response, settings, token)
    return {
        "access_token": token, "token_type": "bearer", "expires_in": settings.token_ttl_s,
        "expires_at": dt.datetime.fromtimestamp(exp, dt.UTC).isoformat(),
        "user": _principal_info(principal),
    }


def _login(request: Request, engine: Any, settings: Any, username: str,
           password: str) -> tuple[str, int, Principal]:
    """Check the password, audit the attempt, issue a session token (Unauthorized or
    TooManyRequests). The ``login_failed`` records are what the throttle counts."""
    failure: Exception | None = None
    client_ip = request.client.host if request.client else None
    with engine.begin() as conn:  # commits the failure record even when the login fails
        try:
            user = login(conn, username, password, settings.login_max_failures,
                         settings.login_lockout_s, settings.demo_mode, client_ip)
        except (Unauthorized, TooManyRequests) as exc:
            failure = exc
            record(conn, AuditEntry(
                action="login_throttled" if isinstance(exc, TooManyRequests)
                else "login_failed", username=username, method="POST",
                path=request.url.path, status=status_of(exc), client_ip=client_ip,
                user_agent=request.headers.get("user-agent"),
            ))
    request.state.audited = True
    if failure is not None:
        raise failure
    token, exp = issue_session_token(settings.secret_key, user["id"], user["username"],
                                     user["token_version"], settings.token_ttl_s)
    with engine.begin() as conn:
        from geo.auth.users import principal_for_user

        principal = principal_for_user(conn, user["id"], demo_mode=settings.demo_mode)
        record(conn, AuditEntry(
            action="login", username=user["username"], role=user["role"],
            region_code=sorted(principal.regions or {""})[0], method="POST",
            path=request.url.path, status=200,
            client_ip=client_ip, user_agent=request.headers.get("user-agent"),
        ))
    return token, exp, principal


def _set_cookie(request: Request, response: Response, settings: Any, token: str) -> None:
    response.set_cookie(TOKEN_COOKIE, token, max_age=settings.token_ttl_s, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    set_csrf_cookie(request, response, settings, token)  # the phone app's writes (api.csrf)


# -- the login page of browsers (maps): a plain HTML form, no script -------------------------

_LOGIN_TEXT = {
    "zh": {"title": "网格 Wangge 登录", "user": "用户名", "password": "密码", "submit": "登录",
           "hint": "登录后打开: ", "failed": "登录失败: "},
    "en": {"title": "Wangge log in", "user": "User name", "password": "Password",
           "submit": "Log in", "hint": "After login: ", "failed": "Login failed: "},
}
_LOGIN_CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
              "frame-ancestors 'none'; base-uri 'none'")


def safe_next(value: str | None) -> str:
    """A local path to go to after login (never another host: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/maps/dispatch"
    return value


def _login_page(next_path: str, lang: str, error: str | None = None,
                username: str = "") -> str:
    t = _LOGIN_TEXT["en" if lang == "en" else "zh"]
    err = (f'<p class="err" role="alert">{escape(t["failed"])}{escape(error)}</p>'
           if error else "")
    return f"""<!DOCTYPE html>
<html lang="{'en' if lang == 'en' else 'zh-CN'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t["title"])}</title>
<style>body{{font-family:sans-serif;max-width:22em;margin:4em auto;padding:0 1em}}
label{{display:block;margin:.8em 0 .2em}}input{{width:100%;padding:.5em;box-sizing:border-box}}
button{{margin-top:1.2em;padding:.6em 1.4em}}.err{{color:#b00}}.hint{{color:#666}}</style>
</head><body><h1>{escape(t["title"])}</h1>{err}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_path)}">
<input type="hidden" name="lang" value="{'en' if lang == 'en' else 'zh'}">
<label for="u">{escape(t["user"])}</label>
<input id="u" name="username" autocomplete="username" required value="{escape(username)}">
<label for="p">{escape(t["password"])}</label>
<input id="p" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{escape(t["submit"])}</button></form>
<p class="hint">{escape(t["hint"])}{escape(next_path)}</p></body></html>"""


_CROSS_SITE = ("登录表单须从本站登录页提交 / the login form must be sent from this site's own "
               "login page (a form on another site was refused)")


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={
        "Content-Security-Policy": _LOGIN_CSP, "X-Content-Type-Options": "nosniff",
        # same-origin, not no-referrer: under no-referrer a browser posts the form with
        # "Origin: null", which same_origin must refuse as it would a sandboxed page
        "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
        "Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse,
            summary="Login page of browsers (maps) / 浏览器登录页")
def get_login_page(next: str | None = None, lang: str = "zh") -> HTMLResponse:
    """A form posting to ``POST /login``; opening a map without a login redirects here."""
    return _html(_login_page(safe_next(next), lang))


@router.post("/login", response_class=HTMLResponse,
             summary="Log in from the browser form / 浏览器表单登录",
             responses={303: {"description": "Logged in: go to `next` with the cookie set"},
                        401: {"description": "The form again, with the reason"},
                        429: {"description": "The form again: too many failed logins"}})
def post_login_form(
    request: Request, engine: EngineDep, settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str | None, Form()] = None,
    lang: Annotated[str, Form()] = "zh",
) -> Response:
    """Check the password like ``POST /auth/login``, set the cookie, go to ``next``.

    A form sent from another site is refused (403: login CSRF would sign the victim's browser
    into the attacker's account)."""
    target = safe_next(next)
    if not same_origin(request):
        return _html(_login_page(target, lang, _CROSS_SITE), 403)
    try:
        token, _exp, _principal = _login(request, engine, settings, username, password)
    except (Unauthorized, TooManyRequests) as exc:
        page = _html(_login_page(target, lang, exc.message, username), status_of(exc))
        if "retry_after" in exc.detail:
            page.headers["Retry-After"] = str(exc.detail["retry_after"])
        return page
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, settings, token)
    return response


@router.post("/auth/logout", summary="Log out: end this session / 退出登录",
    responses=ok(schemas_auth.Logout),
    response_model=None)
def post_logout(response: Response, engine: EngineDep, principal: PrincipalDep,
                everywhere: bool = False) -> dict[str, Any]:
    """End the login session whose token is presented: the token stops working at once
    (not when it expires), and the cookie is cleared. ``everywhere=true`` ends every login
    session of the user (other browsers and phones too). API tokens are not sessions: revoke
    one with ``DELETE /auth/tokens/{id}``."""
    with engine.begin() as conn:
        ended = end_session(conn, principal, everywhere)
    response.delete_cookie(TOKEN_COOKIE)
    clear_csrf_cookie(response)
    return {"user": principal.user, "logged_out": bool(ended), "everywhere": everywhere and
            bool(ended)}


@router.post("/logout", response_class=HTMLResponse,
             summary="Log out from a browser page / 浏览器退出登录",
             responses={303: {"description": "Logged out: back to the login page"}})
def post_logout_form(request: Request, engine: EngineDep, settings: SettingsDep,
                     lang: Annotated[str, Form()] = "zh") -> Response:
    """The browser's logout button: ends the session of the login cookie (sent from this
    site's pages only), clears the cookie and goes to the login page."""
    if not same_origin(request):
        return _html(_login_page("/maps/dispatch", lang, _CROSS_SITE), 403)
    token = request.cookies.get(TOKEN_COOKIE)
    if token:
        try:
            principal = resolve_principal(engine, settings, token)
        except Unauthorized:
            principal = None
        if principal is not None:
            with engine.begin() as conn:
                end_session(conn, principal)
    response = RedirectResponse(f"/login?lang={'en' if lang == 'en' else 'zh'}",
                                status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    clear_csrf_cookie(response)
    return response


@router.get("/auth/me", summary="Who am I, with which scope / 当前用户",
    responses=ok(schemas_auth.Me),
    response_model=None)
def get_me(principal: PrincipalDep) -> dict[str, Any]:
    """The caller's role and scope (anonymous callers included)."""
    return _principal_info(principal)


@router.post("/auth/tokens", status_code=201, summary="Create an API token / 创建 API 令牌",
    responses=ok(schemas_auth.TokenCreated, status=201) | {
        403: {"description": "Not a login session (an API token never mints another)"}},
    response_model=None)
def post_token(
    request: Request, engine: EngineDep, principal: AuthenticatedDep,
    body: Annotated[TokenRequest, Body()],
) -> dict[str, Any]:
    """A token for a system acting as the caller (shown once; only its hash is stored).

    Only a login session (``POST /auth/login``) may mint one: an API token, also sent as
    Basic, gets 403. The token expires after ``days`` (default 90, at most 365).
    """
    if not principal.may_mint_api_tokens():
        raise Forbidden(
            "只有登录会话可以创建 API 令牌, API 令牌不能再创建令牌; 请先登录 (POST /auth/login) / "
            "only a login session may create API tokens, an API token cannot mint another: log "
            "in (POST /auth/login) and use that session token", credential=principal.credential)
    days = api_token_days(body.days)
    with engine.begin() as conn:
        tid, token = create_api_token(conn, principal.user, body.name, days)
        expires_at = next(r["expires_at"] for r in list_api_tokens(conn, principal.user_id)
                          if r["id"] == tid)
    request.state.audit = {"action": "token_create", "object_type": "api_token",
                           "object_id": tid, "detail": {"name": body.name, "days": days}}
    return {"id": tid, "token": token, "name": body.name, "days": days,
            "expires_at": expires_at.isoformat(),
            "note": "只显示一次, 请妥善保存 / shown once: store it safely"}


@router.get("/auth/tokens", summary="List API tokens / API 令牌列表",
    responses=ok(schemas_auth.Tokens),
    response_model=None)
def get_tokens(engine: EngineDep, principal: AuthenticatedDep) -> list[dict[str, Any]]:
    """The caller's API tokens (an admin sees those of her county's users). Never the
    secrets."""
    with engine.connect() as conn:
        rows = (list_api_tokens(conn, None, principal.regions) if principal.role == "admin"
                else list_api_tokens(conn, principal.user_id))
    return [{k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in r.items()}
            for r in rows]


@router.delete("/auth/tokens/{token_id}", summary="Revoke an API token / 吊销 API 令牌",
    responses=ok(schemas_auth.Revoked),
    response_model=None)
def delete_token(
    request: Request, token_id: int, engine: EngineDep, principal: AuthenticatedDep
) -> dict[str, Any]:
    """Revoke one of the caller's tokens (an admin: any of her county's users')."""
    with engine.begin() as conn:
        if principal.role == "admin":  # any token of her county's users
            revoke_api_token(conn, token_id, None, principal.regions)
        else:
            revoke_api_token(conn, token_id, principal.user_id)
    request.state.audit = {"action": "token_revoke", "object_type": "api_token",
                           "object_id": token_id}
    return {"id": token_id, "revoked": True}

