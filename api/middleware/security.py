"""Hardening middleware: security headers, request size limit, rate limits, write audit, CORS.

Pure ASGI (no BaseHTTPMiddleware): cheap on hot paths such as tiles. Installed by
``install_security(app, settings)`` from ``api.main.create_app``. Order, outermost first:
security headers -> body size limit -> rate limits -> write audit -> the app.

To put a new expensive endpoint under the shared rate limit, declare it on the route or its
router: ``dependencies=[EXPENSIVE]`` (:data:`api.deps.EXPENSIVE`). :func:`expensive_routes`
reads the list from the app's routes, so it names real routes only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import cookie_parser
from starlette.routing import compile_path

from api.access_policy import walk_routes
from api.deps import (
    TOKEN_COOKIE,
    ExpensiveWhen,
    expensive,
    presented_token,
    principal_for_token,
)
from api.middleware.idempotency import Idempotency
from api.settings import Settings
from geo.auth.audit import AuditEntry, record, redact_secrets
from geo.errors import Unauthorized

log = logging.getLogger("wangge.security")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN_PATHS = ("/auth/login", "/login")
# Pages without a CSP: none (/docs serves Swagger UI offline with its own CSP).
CSP_EXEMPT: tuple[str, ...] = ()
# For HTML (and SVG, a document that can hold script) that sets no CSP of its own: no inline
# script at all (map pages and /docs allow their own inline scripts by hash,
# maps.frame.script_src); inline styles are harmless and kept.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: http: https:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", b"geolocation=(self), camera=(), microphone=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def _json_response(status: int, title: str, detail: str,
                   headers: list[tuple[bytes, bytes]] | None = None) -> tuple[Message, Message]:
    body = json.dumps({"status": status, "title": title, "detail": detail},
                      ensure_ascii=False).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()), *(headers or [])]}
    return start, {"type": "http.response.body", "body": body}


class SecurityHeaders:
    """Security headers on every response; a CSP on HTML and SVG; no-store on credentialed calls
    and on /auth/ (tokens)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        req_headers = dict(scope.get("headers") or [])
        credentialed = (b"authorization" in req_headers or b"wangge_token" in req_headers.get(
            b"cookie", b"") or path.startswith("/auth/"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {k.lower() for k, _ in headers}
                headers += [h for h in COMMON_HEADERS if h[0] not in names]
                ctype = dict((k.lower(), v) for k, v in headers).get(b"content-type", b"")
                if ctype.startswith((b"text/html", b"image/svg+xml")) and not path.startswith(
                        CSP_EXEMPT) and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                if credentialed and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a body without Content-Length grows past the limit."""


class BodySizeLimit:
    """413 for request bodies above ``max_bytes`` (by Content-Length, or while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusals = RefusalAudit()

    async def _refused(self, scope: Scope) -> None:
        client = (scope.get("client") or ("?", 0))[0]
        await self.refusals.write(scope, f"addr:{client}", 413, "body too large",
                                  limit_bytes=self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.max_bytes <= 0:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        msg = (f"请求体超过上限 {limit} 字节 / request body larger than the limit of {limit} "
               "bytes (WANGGE_MAX_BODY_BYTES): send less, or split it")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = True
            if too_big:
                for m in _json_response(413, "TooLarge", msg):
                    await send(m)
                await self._refused(scope)
                return
        seen = 0
        overflow = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    overflow = True
                    raise BodyTooLarge(msg)
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if overflow and not started:
                return  # the app's answer to the broken read (often a 400) is replaced
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, send_wrapper)
        except BodyTooLarge:
            pass
        if overflow and not started:
            for m in _json_response(413, "TooLarge", msg):
                await send(m)
            await self._refused(scope)


class TokenBucket:
    """In-process token buckets per key: ``capacity`` requests, refilled ``capacity`` per
    minute. Thread-safe; idle buckets are dropped. One process only (behind several workers
    each keeps its own: the limit multiplies by the worker count)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._last_prune = time.monotonic()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds to wait."""
        t = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, t))
            tokens = min(self.capacity, tokens + (t - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, t)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, t)
                wait = (1.0 - tokens) / self.rate
            if t - self._last_prune > 300:
                full = 60.0 if self.rate <= 0 else self.capacity / self.rate
                self._buckets = {k: v for k, v in self._buckets.items() if t - v[1] < full}
                self._last_prune = t
        return wait


class ExpensiveRoutes:
    """The routes declared expensive (``dependencies=[EXPENSIVE]``), matched by method and path,
    and those expensive in their heavy form only (``dependencies=[expensive_when(...)]``,
    :class:`api.deps.ExpensiveWhen`: ``GET /incidents?limit=10000``), matched by their query.

    Endpoints costing real work per request (analysis, exports, maps, tiles, OGC, spatial,
    the batch lookup, the event stream) are marked; intake and the case flow are not (never
    throttled during an emergency), except their large reads.
    """

    def __init__(self, routes: list[Any]) -> None:
        self.endpoints: list[tuple[str, str]] = []  # (METHOD, /path) for tests and docs
        self.conditional: list[tuple[str, str, ExpensiveWhen]] = []  # likewise
        self._exact: set[tuple[str, str]] = set()
        self._patterns: list[tuple[frozenset[str], re.Pattern[str]]] = []
        self._when: list[tuple[frozenset[str], re.Pattern[str], list[ExpensiveWhen]]] = []
        for path, route in walk_routes(routes):
            deps = getattr(route, "dependencies", None) or []
            methods = frozenset(route.methods)
            when = [d.dependency for d in deps
                    if isinstance(getattr(d, "dependency", None), ExpensiveWhen)]
            if when:
                self._when.append((methods, compile_path(path)[0], when))
                self.conditional += [(m, path, w) for m in sorted(methods) if m != "HEAD"
                                     for w in when]
            if not any(getattr(d, "dependency", None) is expensive for d in deps):
                continue
            self.endpoints += [(m, path) for m in sorted(methods) if m != "HEAD"]
            if "{" in path:
                self._patterns.append((methods, compile_path(path)[0]))
            else:
                self._exact.update((m, path) for m in methods)

    def match(self, method: str, path: str, query: bytes | str = b"") -> bool:
        """True if ``method path?query`` is expensive: one of the expensive routes, or a heavy
        form (its ``query``) of a route marked with :class:`api.deps.ExpensiveWhen`."""
        if (method, path) in self._exact:
            return True
        if any(method in methods and rx.match(path) for methods, rx in self._patterns):
            return True
        for methods, rx, when in self._when:
            if method in methods and rx.match(path):
                raw = query.decode("latin-1") if isinstance(query, bytes) else query
                params = dict(parse_qsl(raw, keep_blank_values=True))
                return any(w.applies(params.get(w.param)) for w in when)
        return False


def expensive_routes(app: Any) -> ExpensiveRoutes:
    """The app's expensive routes (built once per app, after every router is included)."""
    found = getattr(app.state, "expensive_routes", None)
    if found is None:
        found = ExpensiveRoutes(list(app.routes))
        app.state.expensive_routes = found
    return found


class CredentialOwners:
    """Who a token belongs to, for the rate limiter: the user of its principal, resolved the
    one way requests resolve tokens (:func:`api.deps.principal_for_token`: kept in this
    process's principal cache, dropped at once by a logout, reset or disable). A token that
    resolves to nobody (logged out, reset, disabled, unknown) is charged to the client address,
    never to its owner's bucket (R7 of the round-3 review); refusals are not kept.
    """

    async def owner(self, app: Any, token: str) -> tuple[int, str] | None:
        """``(user id, user name)`` of ``token``, or None when it resolves to nobody."""
        try:
            principal = await principal_for_token(app.state, token)
        except Unauthorized:
            return None
        if principal.user_id is None:
            return None
        return principal.user_id, principal.user


class RefusalAudit:
    """Audit records of the middleware's refusals (429, 413), at most one per client key and
    reason every ``every_s`` seconds (the next one says how many were folded into it), so a
    flood of refused requests does not become a flood of database writes."""

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def due(self, key: str, now: float | None = None) -> int | None:
        """The number of refusals folded since the last record if one is due now, else None."""
        t = time.monotonic() if now is None else now
        with self._lock:
            last, folded = self._last.get(key, (float("-inf"), 0))
            if t - last < self.every_s:
                self._last[key] = (last, folded + 1)
                return None
            if len(self._last) > 10_000:
                self._last = {k: v for k, v in self._last.items() if t - v[0] < self.every_s}
            self._last[key] = (t, 0)
            return folded

    async def write(self, scope: Scope, key: str, status: int, reason: str,
                    username: str | None = None, **detail: Any) -> None:
        """Append a ``refused`` record (in a thread, after the answer was sent) when due."""
        folded = self.due(f"{status}:{reason}:{key}")
        if folded is None:
            return
        headers = dict(scope.get("headers") or [])
        entry = AuditEntry(
            action="refused", username=username, method=scope.get("method"),
            path=scope.get("path"),
            query=(scope.get("query_string") or b"").decode("latin-1")[:2000] or None,
            status=status, client_ip=(scope.get("client") or (None, 0))[0],
            user_agent=headers.get(b"user-agent", b"").decode("latin-1") or None,
            detail={"status": status, "reason": reason, "key": key,
                    "folded_refusals": folded, **detail},
        )
        try:
            await anyio.to_thread.run_sync(WriteAudit._write, scope, entry)
        except Exception:  # noqa: BLE001 - a refusal stays a refusal when the audit fails
            log.exception("audit of a refusal failed for %s %s", entry.method, entry.path)


def _cookie_token(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"cookie")
    return cookie_parser(raw.decode("latin-1")).get(TOKEN_COOKIE) if raw else None


class RateLimit:
    """429 + Retry-After when a client exceeds the login or the expensive-endpoint budget.

    Logins count per client address. Expensive routes count per caller: ``user:<id>`` for a
    credential that resolves to a user (a session token by its signature, an API token by a
    remembered look-up; however the header is spelled, Bearer or Basic, and whichever of the
    user's tokens is sent), ``addr:<client address>`` for anonymous callers and for
    credentials that resolve to nobody (which then get their 401 from the app, if the budget
    allows). Anonymous calls cost no look-up. Each refusal is audited (:class:`RefusalAudit`).
    """

    def __init__(self, app: ASGIApp, login_per_min: int, expensive_per_min: int) -> None:
        self.app = app
        self.login = TokenBucket(login_per_min) if login_per_min > 0 else None
        self.expensive = TokenBucket(expensive_per_min) if expensive_per_min > 0 else None
        self.owners = CredentialOwners()
        self.refusals = RefusalAudit()

    async def caller_key(self, scope: Scope) -> tuple[str, str | None]:
        """The bucket key of the caller and, when known, the user name."""
        client = (scope.get("client") or ("?", 0))[0]
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization")
        method = scope.get("method", "")
        cookie = _cookie_token(headers) if method in ("GET", "HEAD") else None
        # Open311's api_key counts as its user's, after the header and the cookie (which win
        # over it, as in api.routes.open311._caller)
        api_key = dict(parse_qsl((scope.get("query_string") or b"").decode("latin-1"))).get(
            "api_key") if auth is None and cookie is None else None
        if auth is None and cookie is None and not api_key:
            return f"addr:{client}", None  # anonymous: no parsing, no look-up
        try:
            token = presented_token(auth.decode("latin-1") if auth else None, method, cookie
                                    ) or (api_key or "").strip() or None
            owner = await self.owners.owner(scope["app"], token) if token else None
        except Unauthorized:
            owner = None
        except Exception:  # noqa: BLE001 - database down: the app answers (503); count by address
            log.warning("rate limit: credential look-up failed", exc_info=True)
            owner = None
        if owner is None:
            return f"addr:{client}", None
        return f"user:{owner[0]}", owner[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        client = (scope.get("client") or ("?", 0))[0]
        bucket, key, username, limit = None, f"addr:{client}", None, ""
        if self.login is not None and path in LOGIN_PATHS and scope.get("method") == "POST":
            bucket, limit = self.login, "login"
        elif self.expensive is not None and expensive_routes(scope["app"]).match(
                scope.get("method", ""), path, scope.get("query_string") or b""):
            bucket, limit = self.expensive, "expensive"
            key, username = await self.caller_key(scope)
        if bucket is not None:
            wait = bucket.take(key)
            if wait > 0:
                retry = str(max(1, int(wait + 0.999)))
                msg = (f"请求过于频繁, 请 {retry} 秒后重试 / too many requests: retry after "
                       f"{retry} s")
                for m in _json_response(429, "TooManyRequests", msg,
                                        [(b"retry-after", retry.encode())]):
                    await send(m)
                await self.refusals.write(scope, key, 429, f"rate limit: {limit}", username,
                                     retry_after=int(retry))
                return
        await self.app(scope, receive, send)


class WriteAudit:
    """Append an audit record for every write request (POST/PUT/PATCH/DELETE).

    Who comes from the Principal resolved for the request (``request.state.principal``);
    handlers may add ``request.state.audit = {"action", "object_type", "object_id",
    "detail", "username"}`` (a GET with such a dict is written too: e.g. which incidents an
    unmasked read revealed). Writes already audited (``request.state.audited``, the login) are
    not written twice. Runs after the response, in a thread.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state") or {}
            extra = state.get("audit")
            # read_only: a query sent as POST (e.g. /spatial/{layer}/intersects) is no write
            is_write = scope.get("method") not in SAFE_METHODS and not state.get("read_only")
            if extra or (is_write and not state.get("audited")):
                entry = self._entry(scope, status, state, extra or {})
                try:
                    await anyio.to_thread.run_sync(self._write, scope, entry)
                except Exception:  # noqa: BLE001 - never turn a served request into a 500
                    log.exception("audit write failed for %s %s", entry.method, entry.path)

    @staticmethod
    def _entry(scope: Scope, status: int, state: dict[str, Any],
               extra: dict[str, Any]) -> AuditEntry:
        principal = state.get("principal")
        headers = dict(scope.get("headers") or [])
        regions = getattr(principal, "regions", None) or {""}
        return AuditEntry(
            action=extra.get("action") or "write",
            username=extra.get("username") or getattr(principal, "user", None),
            role=getattr(principal, "role", None),
            # the county the request was about (an object's, ?region=), else the caller's first
            region_code=extra.get("region_code") or state.get("region") or sorted(regions)[0],
            method=scope.get("method"), path=scope.get("path"),
            query=(scope.get("query_string") or b"").decode("latin-1") or None,
            status=status, object_type=extra.get("object_type"),
            object_id=extra.get("object_id"),
            client_ip=(scope.get("client") or (None, 0))[0],
            user_agent=headers.get(b"user-agent", b"").decode("latin-1") or None,
            detail=extra.get("detail"),
        )

    @staticmethod
    def _write(scope: Scope, entry: AuditEntry) -> None:
        engine = scope["app"].state.engine
        with engine.begin() as conn:
            record(conn, entry)


class RedactAccessLog(logging.Filter):
    """Hides credentials in the HTTP access log: uvicorn's access lines carry the request
    target with its query (``GET /open311/v2/requests.json?api_key=...``); every argument of
    the line goes through :func:`geo.auth.audit.redact_secrets` (``api_key=***``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg) or record.msg
        return True


ACCESS_LOGGER = "uvicorn.access"


def redact_access_log() -> None:
    """Install :class:`RedactAccessLog` on the access logger (once per process)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactAccessLog) for f in logger.filters):
        logger.addFilter(RedactAccessLog())


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the middleware stack (CORS only when ``settings.cors_origins`` lists origins) and
    the access log's redaction of credentials."""
    redact_access_log()
    app.add_middleware(WriteAudit)
    app.add_middleware(Idempotency)  # outside the audit: a replayed answer is no second write
    app.add_middleware(RateLimit, login_per_min=settings.rate_login_per_min,
                       expensive_per_min=settings.rate_expensive_per_min)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Retry-After", "Idempotent-Replayed"],
        )
    app.add_middleware(SecurityHeaders)
