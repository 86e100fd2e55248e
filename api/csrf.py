"""CSRF protection of cookie-session writes: the one rule (the phone app ``/m/`` writes with
its login cookie).

The login cookie ``wangge_token`` is HttpOnly and SameSite=Strict. On GET/HEAD it is honoured as
before (maps). On a write (POST/PUT/PATCH/DELETE) without an ``Authorization`` header it is
honoured only when

- the request comes from Wangge's own pages (:func:`same_origin`: ``Origin`` is this server,
  ``Sec-Fetch-Site`` is ``same-origin``; a client sending neither, curl, is no forged page), and
- header ``X-CSRF-Token`` equals :func:`csrf_value` of the cookie's token: an HMAC-SHA256 of the
  session token under the installation's secret key, bound to that session. It is set at login
  as the non-HttpOnly cookie ``wangge_csrf`` (:func:`set_csrf_cookie`), which the page's script
  reads and sends back; a page on another site can neither read it nor compute it.

Otherwise 403 (:func:`cookie_write_token`), never a silent anonymous call. Bearer and Basic
clients (``Authorization``) are not affected: they carry no ambient credential.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Request, Response

from geo.errors import Forbidden

CSRF_COOKIE = "wangge_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_value(secret: str, token: str) -> str:
    """The CSRF token of the session ``token``: hex HMAC-SHA256 under the installation secret."""
    return hmac.new(secret.encode(), b"wangge-csrf\x00" + token.encode(),
                    hashlib.sha256).hexdigest()


def same_origin(request: Request) -> bool:
    """A browser request comes from Wangge's own pages (forms: login and logout CSRF; cookie
    writes of the phone app).

    Browsers send ``Origin`` on every POST and ``Sec-Fetch-Site`` on every request; a page on
    another site gives a foreign (or ``null``) Origin and ``cross-site``. A client that sends
    neither header (curl, a script) is not a browser a forged page could drive.
    """
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") == own


def cookie_write_token(request: Request, token: str | None) -> str | None:
    """The login cookie's ``token`` for a write, if the write passes the CSRF rule.

    Raises
    ------
    Forbidden
        A cookie write from another origin, without ``X-CSRF-Token`` or with a wrong one.
    """
    if not token:
        return None
    if not same_origin(request):
        raise Forbidden("跨站请求被拒绝: 带登录 Cookie 的写操作须来自本站页面 / cross-site "
                        "request refused: a write with the login cookie must come from this "
                        "site's own pages", csrf="cross-origin")
    sent = request.headers.get(CSRF_HEADER) or ""
    secret: str = request.app.state.settings.secret_key
    if not sent or not hmac.compare_digest(sent, csrf_value(secret, token)):
        raise Forbidden(
            f"缺少或错误的 {CSRF_HEADER}: 带登录 Cookie 的写操作须在该请求头中发送 Cookie "
            f"{CSRF_COOKIE} 的值 (请重新登录) / missing or wrong {CSRF_HEADER}: a write with the "
            f"login cookie must send the value of cookie {CSRF_COOKIE} in this header (log in "
            "again), or use Authorization: Bearer", csrf="token")
    return token


def set_csrf_cookie(request: Request, response: Response, settings: Any, token: str) -> None:
    """Set ``wangge_csrf`` for the session ``token`` (readable by the page's script)."""
    response.set_cookie(CSRF_COOKIE, csrf_value(settings.secret_key, token),
                        max_age=settings.token_ttl_s, httponly=False, samesite="strict",
                        secure=request.url.scheme == "https")


def clear_csrf_cookie(response: Response) -> None:
    """Remove ``wangge_csrf`` (logout)."""
    response.delete_cookie(CSRF_COOKIE)
