"""Typed FastAPI dependencies: settings, database connection, common query parameters."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

import anyio
from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from api.access_policy import policy_of
from api.csrf import SAFE_METHODS, cookie_write_token
from api.settings import Settings
from geo.auth.audit import AuditEntry, record
from geo.auth.principal import ANONYMOUS_COMMAND, ANONYMOUS_VIEWER, Principal
from geo.auth.rls import set_db_scope
from geo.auth.tokens import TokenError, is_api_token, verify_session_token
from geo.auth.users import (
    api_token_owner,
    principal_for_api_token,
    principal_for_session,
    session_in_force,
)
from geo.db import shards
from geo.errors import Forbidden, InvalidInput, Unauthorized
from geo.incidents.cases import fetch, parse_version
from geo.regions import locate


def get_settings(request: Request) -> Settings:
    """The app's settings (built by the factory)."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_engine(request: Request) -> Engine:
    """The app's engine (opened in the lifespan)."""
    return request.app.state.engine  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]




def aware(t: dt.datetime | None, field: str = "as_of") -> dt.datetime | None:
    """``t`` unchanged if it has a time zone and a sane year; 422 naming ``field`` otherwise."""
    if t is not None and t.tzinfo is None:
        raise InvalidInput(f"时间缺少时区 / time without time zone: {t}; add +08:00",
                           field=field)
    if t is not None and not 1900 < t.year < 9999:
        raise InvalidInput(f"时间超出范围 / time out of range: {t}", field=field)
    return t


def get_as_of(
    as_of: Annotated[dt.datetime | None, Query(description=(
        "判定时刻 (带时区, 如 +08:00), 默认现在: 按此时刻判断超期和本日/本周/本月; 各状态计数是"
        "事件的当前状态, 不是历史回放 / The instant deadlines and the current day, week or "
        "month are judged at (with a time zone, e.g. +08:00); default now. Counts by status "
        "are of the cases' present status, not a replay of history: a past day's figures "
        "are in the reports (/reports/monthly, /kpi?from=&to=)"))] = None,
) -> dt.datetime | None:
    """``?as_of=`` as an aware datetime (None: now)."""
    return aware(as_of)


AsOfDep = Annotated[dt.datetime | None, Depends(get_as_of)]


class ExpectedVersion:
    """The version a write expects: the ``If-Match`` header, else the body's ``version``."""

    def __init__(self, if_match: str | None) -> None:
        self.if_match = if_match

    def of(self, body_version: int | None) -> int | None:
        """The expected version given the body's ``version`` field (``If-Match: *``: that)."""
        return parse_version(self.if_match, body_version)


def get_version(
    if_match: Annotated[str | None, Header(alias="If-Match",
                                           description='ETag of the incident, e.g. "3"')] = None,
) -> ExpectedVersion:
    """The ``If-Match`` header (parsed by :meth:`ExpectedVersion.of`, 422 if malformed)."""
    return ExpectedVersion(if_match)


VersionDep = Annotated[ExpectedVersion, Depends(get_version)]


TOKEN_COOKIE = "wangge_token"
_TRUE = ("1", "true", "yes", "on")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_token(request: Request) -> str | None:
    """The caller's token in ``request`` (:func:`presented_token`); on a write the login cookie
    counts only under the CSRF rule (:func:`api.csrf.cookie_write_token`, 403 otherwise)."""
    authorization = request.headers.get("authorization")
    if not authorization and request.method not in SAFE_METHODS:
        return cookie_write_token(request, request.cookies.get(TOKEN_COOKIE))
    return presented_token(authorization, request.method, request.cookies.get(TOKEN_COOKIE))


def presented_token(authorization: str | None, method: str,
                    cookie_token: str | None = None) -> str | None:
    """The Bearer token, an API token sent as a Basic password, or the login cookie on safe
    methods (GET/HEAD: no CSRF on writes). The one reading of a caller's credentials, shared by
    :func:`get_principal` and the rate limiter (``api.middleware.security.RateLimit``).

    The scheme is case-insensitive and surrounding blanks do not matter (``bearer X``,
    ``BEARER X`` and ``Bearer  X`` are the same token).

    Basic is for desktop GIS clients (QGIS's "Basic" authentication, GDAL's GDAL_HTTP_USERPWD)
    that cannot send a Bearer header: the password must be an API token (``wangge users token
    USER``); the user name is not used, the token says who is calling. Login passwords are never
    accepted in a header (no lockout there, and a slow hash on every request).

    Raises
    ------
    Unauthorized
        Another scheme, an empty token, malformed Basic credentials or a Basic password that is
        not an API token.
    """
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "basic" and token.strip():
            return _basic_api_token(token.strip())
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(
                "Authorization 头须为 'Bearer <令牌>' 或以 API 令牌为密码的 Basic / the "
                "Authorization header must be 'Bearer <token>', or Basic with an API token as "
                "the password"
            )
        return token.strip()
    if method in ("GET", "HEAD"):
        return cookie_token or None
    return None


def _basic_api_token(encoded: str) -> str:
    try:
        pair = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized("Basic 凭据格式错误 / malformed Basic credentials (base64 of "
                           "'user:password')") from exc
    _, sep, secret = pair.partition(":")
    if not sep or not is_api_token(secret):
        raise Unauthorized(
            "Basic 认证的密码须为 API 令牌 (wangge users token 用户名) / with Basic "
            "authentication the password must be an API token (wgk_..., made by 'wangge users "
            "token USER'); login passwords go to POST /auth/login only"
        )
    return secret


def anonymous_principal(settings: Settings, unmask: bool = False) -> Principal:
    """The caller without a token: a viewer (the command centre under WANGGE_DEMO_OPEN=1)."""
    base = ANONYMOUS_COMMAND if (settings.demo_mode and settings.demo_open) else ANONYMOUS_VIEWER
    return replace(base, unmask=unmask)


def resolve_principal(
    engine: Engine, settings: Settings, token: str | None, unmask: bool = False
) -> Principal:
    """Resolve a presented token (session or API token) to a Principal.

    Raises
    ------
    Unauthorized
        Malformed, badly signed, expired or revoked token; disabled user.
    """
    if token is None:
        return anonymous_principal(settings, unmask)
    with engine.begin() as conn:
        if is_api_token(token):
            return principal_for_api_token(conn, token, settings.demo_mode, unmask)
        try:
            claims = verify_session_token(settings.secret_key, token)
        except TokenError as exc:
            raise Unauthorized(
                f"令牌无效或已过期, 请重新登录 / invalid or expired token ({exc}): log in again "
                "(POST /auth/login)"
            ) from exc
        return principal_for_session(conn, claims, settings.demo_mode, unmask)


def credential_owner(engine: Engine, settings: Settings, token: str) -> tuple[int, str] | None:
    """Who a presented token belongs to, cheaply: ``(user id, user name)`` or None.

    A session token is checked by its signature, expiry and one indexed look-up (not logged
    out, not revoked by a reset or disable); an API token by one indexed look-up (no write).
    Enough to key a user's idempotent writes (``api.middleware.idempotency``); who may do what
    is decided by :func:`resolve_principal` (demo accounts, scopes).
    """
    if is_api_token(token):
        with engine.connect() as conn:
            return api_token_owner(conn, token)
    try:
        claims = verify_session_token(settings.secret_key, token)
    except TokenError:
        return None
    with engine.connect() as conn:
        if not session_in_force(conn, claims):
            # a logged-out, reset or disabled session charges the client address, never the
            # user's own bucket (review round 3, R7)
            return None
    return claims.user_id, claims.username


async def principal_for_token(state: Any, token: str, unmask: bool = False) -> Principal:
    """The Principal of a presented token: from this process's cache (``state.auth_cache``,
    :mod:`api.auth_cache`) when it holds the token, else :func:`resolve_principal` in a worker
    thread, kept for the next request. The one way requests resolve a token (the route
    dependency, the hot path of ``GET /cells/at`` through the cache, the rate limiter).

    Raises
    ------
    Unauthorized
        As :func:`resolve_principal` (refusals are never kept).
    """
    cache = getattr(state, "auth_cache", None)
    principal: Principal | None = cache.get(token) if cache is not None else None
    if principal is None:
        generation = cache.generation if cache is not None else 0
        principal = await anyio.to_thread.run_sync(resolve_principal, state.engine,
                                                   state.settings, token)
        if cache is not None:
            cache.put(token, principal, generation)
    return replace(principal, unmask=True) if unmask else principal


# Declares the Bearer scheme in OpenAPI (the "Authorize" button of /docs); the header itself
# is parsed by get_principal so that a malformed one is a 401, not silently anonymous.
_BEARER = HTTPBearer(auto_error=False, description="POST /auth/login -> access_token, or an "
                     "API token wgk_...")


async def get_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)] = None,
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` (or the login cookie on GET).

    - no token: anonymous ``viewer`` (public layers only); in demo mode with
      ``WANGGE_DEMO_OPEN=1`` the anonymous caller is the command centre;
    - a session token (``POST /auth/login``) or an API token (``wgk_...``): the user's role,
      region, department and the cells assigned to them now;
    - a bad, expired or revoked token: 401 (never silently anonymous).

    ``?unmask=true`` asks for personal data unmasked: refused (401/403) for roles that may not,
    otherwise written to the audit log *before* the handler runs (no audit, no data).
    Resolved once per request and kept in ``request.state.principal``. ``async def`` with
    the database work (token look-up, audit record) in a worker thread: an anonymous call
    (``GET /cells/at`` from a phone) costs no thread hop and no round trip
    (scripts/bench/lookup.py measures that path).
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    unmask = (request.query_params.get("unmask") or "").lower() in _TRUE
    token = request_token(request)
    if token is None:
        principal = anonymous_principal(settings, unmask)
    else:
        principal = await principal_for_token(request.app.state, token, unmask)
    request.state.principal = principal
    if unmask:
        if not principal.may_unmask():
            if principal.is_anonymous:
                raise Unauthorized("查看未脱敏个人信息需要登录 / unmask=true needs a login")
            raise Forbidden(
                f"角色 {principal.role} 无权查看未脱敏个人信息 / role {principal.role} may not "
                "see personal data unmasked", role=principal.role,
            )
        await anyio.to_thread.run_sync(_record, engine, AuditEntry(
            action="read_personal", username=principal.user, role=principal.role,
            region_code=_audit_region(settings, principal, request),
            method=request.method, path=request.url.path,
            query=request.url.query or None, client_ip=_client_ip(request),
            user_agent=request.headers.get("user-agent"),
            detail={"unmask": True, "regions": sorted(principal.regions or ())},
        ))
        request.state.audited = True
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def _audit_region(settings: Settings, principal: Principal, request: Request) -> str:
    """The county an unmasked read is filed under before the handler runs: the request's
    ``?region=`` when it is one of the caller's (a refused one is refused later), else the
    caller's default county (:meth:`Settings.region_or_default`), never simply the lowest
    code of a multi-county caller (review round 9, N-3); the record's detail lists her
    counties."""
    asked = asked_region(request.query_params.get("region"))
    if asked and (principal.regions is None or asked in principal.regions):
        return asked[:12]
    return settings.region_or_default(None, principal.regions)


# Requests about the caller's whole scope when they name no county: a prefecture's or
# province's monthly report covers every county below it (issue 21).
WHOLE_SCOPE_PATHS = ("/reports/monthly",)


def get_region(
    request: Request,
    settings: SettingsDep,
    principal: PrincipalDep,
    region: Annotated[str | None, Query(description="Region (county) code; default: the "
                                        "caller's county (the service's region when it is "
                                        "one of the caller's); required of a caller whose "
                                        "scope holds several counties, unless "
                                        "group_by=county")] = None,
) -> str:
    """``?region=``, or the caller's default region (:func:`caller_region`); a grouping by
    county (``group_by=county``) is about every county in scope, so it takes no region, and
    so is a request of :data:`WHOLE_SCOPE_PATHS` without one (its handler sees that no
    ``region`` was asked and answers for every county in scope)."""
    region = asked_region(region)
    by_county = request.query_params.get("group_by") == "county"
    whole = by_county or (region is None and request.url.path in WHOLE_SCOPE_PATHS)
    if by_county and region is not None:
        raise InvalidInput("group_by=county 汇总你范围内的每个区县, 不能再指定 region / "
                           "group_by=county covers every county in your scope: drop region",
                           field="region")
    if region is not None:
        require_known_region(request.app.state.engine, region, principal)
    code = caller_region(settings, principal, region, whole_scope=whole)
    request.state.region = code  # the county of the request's audit record
    return code


def require_known_region(engine: Engine, code: str, principal: Principal | None = None) -> None:
    """Refuse (404, :func:`geo.regions.locate.unknown_region`) a ``?region=`` this
    installation does not hold, listing the counties the caller may name: her own
    (:attr:`Principal.regions`), never the others of the installation. A caller without a
    region list (anonymous, built-in) is told every county: the public layers (cells) answer
    for each of them."""
    known = locate.known_region(engine, code)
    if known is not None:
        mine = principal.regions if principal is not None else None
        raise locate.unknown_region(code, [c for c in known if mine is None or c in mine])


def asked_region(region: str | None) -> str | None:
    """The county a request names in ``region``: None when absent, empty or blank
    (``?region=`` means the same as no ``region`` everywhere: the caller's default, or her
    whole scope; never silently the service's county). The one reading of the parameter."""
    return (region.strip() or None) if region is not None else None


def region_was_asked(request: Request) -> bool:
    """True when the request names a county (``?region=`` non-empty: :func:`asked_region`)."""
    return asked_region(request.query_params.get("region")) is not None


def caller_region(settings: Settings, principal: Principal, region: str | None,
                  whole_scope: bool = False) -> str:
    """The county a request is about: ``region`` if given, else the caller's default
    (:meth:`Settings.region_or_default`); a county outside the caller's scope is refused with
    403 (:meth:`Principal.require_region`) on every way in, never answered with an empty list
    on one and a refusal on another (review round 7).

    A caller whose scope holds several counties (a prefecture or province user) must name the
    county (422 listing them) unless the request is about the whole scope (``whole_scope``:
    a grouping by county, the prefecture map, a point that names its county): one county's
    figures are never shown to her silently as if they were all of hers (review round 8).
    """
    region = asked_region(region)
    if region is None and not whole_scope and principal.regions and len(principal.regions) > 1:
        codes = ", ".join(sorted(principal.regions)[:20])
        raise InvalidInput(
            f"你的范围含 {len(principal.regions)} 个区县 ({codes}): 请用 region= 指定区县, 或用 "
            f"group_by=county 按区县汇总 / your scope holds {len(principal.regions)} counties "
            f"({codes}): name one with region=, or ask group_by=county", field="region",
            counties=sorted(principal.regions))
    code = settings.region_or_default(region, principal.regions)
    principal.require_region(code)
    return code


RegionDep = Annotated[str, Depends(get_region)]


def _record(engine: Engine, entry: AuditEntry) -> None:
    with engine.begin() as conn:
        record(conn, entry)


def get_conn(
    request: Request, engine: Annotated[Engine, Depends(get_engine)],
    principal: Annotated[Principal, Depends(get_principal)],
) -> Iterator[Connection]:
    """A connection in a transaction, committed when the handler returns without error.

    Used with ``scope="function"`` (``ConnDep``): the commit happens BEFORE the response is
    sent, so a failed commit (database gone) becomes a 503 instead of a 200 for a write that
    was lost, or a connection dropped half-way through the answer.

    With ``WANGGE_DB_RLS=1`` the transaction runs as ``wangge_app`` with the caller's scope,
    so PostgreSQL row-level security backs the application's checks (``geo.auth.rls``).
    """
    with engine.begin() as conn:
        if request.app.state.settings.db_rls:
            set_db_scope(conn, principal)
        else:
            county = shard_county(request, principal)
            if county is not None:
                shards.route(conn, county)
        yield conn


def shard_county(request: Request, principal: Principal, scoped: bool = False) -> str | None:
    """The one county a request's SQL is about, for a database whose counties are on
    shards (:func:`geo.db.shards.route`): the ``?region=`` it names, else the caller's only
    county, except on public endpoints (their layers answer for any county). None: the SQL
    may read any county (a prefecture's request, an anonymous one), so it runs on the
    partitioned tables. Row-level security (``WANGGE_DB_RLS=1``) is checked on those, so it
    is never routed. ``scoped``: the handler's SQL keeps to the caller's counties on public
    endpoints too (``geo.layers.registry.base_conditions``), so her only county is all of it;
    and it takes no ``?region=`` (OGC items, tiles): one given is not a route."""
    asked = None if scoped else asked_region(request.query_params.get("region"))
    if asked is not None and (principal.regions is None or asked in principal.regions):
        return asked  # another county's: the route refuses it, or ignores it (not routed)
    if principal.regions is not None and len(principal.regions) == 1 \
            and (scoped or policy_of(request) not in ("public", "public_layer")):
        return next(iter(principal.regions))
    return None


ConnDep = Annotated[Connection, Depends(get_conn, scope="function")]


def get_county_read_conn(
    request: Request, engine: Annotated[Engine, Depends(get_engine)],
    principal: Annotated[Principal, Depends(get_principal)],
) -> Iterator[Connection]:
    """:func:`get_conn` for a read that touches only county tables and the vocabularies (OGC
    items, vector tiles): a request about one county whose rows live on another server reads
    from that shard's own database (:func:`geo.db.shards.reader`), its statements run there
    whole as on a single server. Elsewhere the same connection as :func:`get_conn`."""
    county = None if request.app.state.settings.db_rls or not shards.sharded(engine) \
        else shard_county(request, principal, scoped=True) or area_county(request, principal)
    target, shard = (engine, None) if county is None else shards.reader(engine, county)
    if shard is None:
        yield from get_conn(request, engine, principal)
        return
    try:
        conn = target.connect()
    except OperationalError as exc:
        raise shards.ShardDown(shard) from exc
    with conn, conn.begin():
        yield conn


def area_county(request: Request, principal: Principal) -> str | None:
    """The one county the area a read asks about lies in, within the caller's scope: a
    vector tile's ``{z}/{x}/{y}`` (with its buffer) or an OGC ``bbox`` in lon/lat, met by
    one county's boundary only; None otherwise. So a map tile or a QGIS view inside 兴县 is
    read at 兴县's shard, and still answers while another county's shard is down."""
    import math

    p = request.path_params
    box: tuple[float, float, float, float] | None = None
    try:
        if {"z", "x", "y"} <= set(p):
            z, x, y = int(p["z"]), int(p["x"]), int(str(p["y"]).split(".")[0])
            n = 2.0 ** z
            pad = 0.05  # the tile's buffer (64 / 4096), and then some

            def lat(row: float) -> float:
                return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

            box = ((x - pad) / n * 360.0 - 180.0, lat(y + 1 + pad),
                   (x + 1 + pad) / n * 360.0 - 180.0, lat(y - pad))
        elif request.query_params.get("bbox") and not request.query_params.get("bbox-crs"):
            parts = [float(v) for v in request.query_params["bbox"].split(",")]
            if len(parts) == 4 and all(math.isfinite(v) for v in parts):
                box = (parts[0], parts[1], parts[2], parts[3])
    except (ValueError, OverflowError):
        return None  # the route says what is wrong with it
    if box is None or not (box[0] <= box[2] and box[1] <= box[3]):
        return None
    found = locate.regions_intersecting(request.app.state.engine, box)
    if len(found) != 1 or (principal.regions is not None and found[0] not in principal.regions):
        return None
    return found[0]


CountyReadConnDep = Annotated[Connection, Depends(get_county_read_conn, scope="function")]


def get_case(
    request: Request, conn: ConnDep, principal: PrincipalDep,
    incident_id: Annotated[str, Path(description="Case code (e.g. SJ20261005N0000123) or id")],
    region: Annotated[str | None, Query(description=(
        "区县代码: 事件编号在你范围内的几个区县都有时用它指定 / county code: picks the case when "
        "its code exists in several counties of your scope (409 lists them otherwise)"))] = None,
) -> str:
    """The case a route's ``{incident_id}`` names, as the key the case actions take: the
    path's value, or with ``?region=`` the id of that county's case
    (:func:`geo.incidents.cases.fetch`: 404 outside the caller's scope, 409 for a code held
    by several of her counties when no county is named)."""
    asked = asked_region(region)
    if asked is None:
        return incident_id
    require_known_region(request.app.state.engine, asked, principal)
    principal.require_region(asked)
    request.state.region = asked
    return str(fetch(conn, incident_id, principal, region=asked)["id"])


CaseDep = Annotated[str, Depends(get_case)]


def require_role(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """The one role guard: admit callers whose *role* is one of ``roles``; 401/403 otherwise.

    It goes by role only, so the anonymous command centre of ``WANGGE_DEMO_OPEN=1`` passes
    where ``command`` does; an anonymous viewer gets 401, a logged-in wrong role 403.
    """

    async def dep(principal: PrincipalDep) -> Principal:
        if principal.role in roles:
            return principal
        if principal.is_anonymous:
            raise Unauthorized("需要登录 / log in first (POST /auth/login)")
        raise Forbidden(
            f"角色 {principal.role} 无权访问, 需要 {list(roles)} / role {principal.role} may not "
            f"do this; needs one of {list(roles)}", role=principal.role,
        )

    return dep


AdminDep = Annotated[Principal, Depends(require_role("admin"))]


INCIDENT_ROLES = ("admin", "command", "department", "worker")


async def require_login(principal: PrincipalDep) -> Principal:
    """Any logged-in role (and the anonymous command centre of demo-open); 401 otherwise."""
    if principal.is_anonymous and principal.role == "viewer":
        raise Unauthorized("需要登录 / log in first (POST /auth/login)")
    return principal


async def expensive() -> None:
    """Marker: the route costs real work per request and is rate limited.

    Declared with ``dependencies=[EXPENSIVE]`` on a route or a router; the rate limit
    (:class:`api.middleware.security.RateLimit`) derives its list from the app's routes.
    """


EXPENSIVE = Depends(expensive)


# A list read of more rows than this costs from the expensive budget (the default pages, 200
# cases and the overdue list's 500, do not).
LIGHT_ROWS = 500


@dataclass(frozen=True)
class ExpensiveWhen:
    """Marker: the route is expensive (rate limited as :data:`EXPENSIVE`) when its query
    parameter ``param`` asks for more than ``above`` (a row count: ``/incidents?limit=10000``)
    or is one of ``values`` (``format=xlsx``). Routes of the case flow stay unthrottled for
    everyday reads; only their heavy forms cost from the budget.
    Declared with ``dependencies=[expensive_when("limit", above=500)]``.
    """

    param: str
    above: int | None = None
    values: tuple[str, ...] = ()

    async def __call__(self) -> None:
        return None

    def applies(self, given: str | None) -> bool:
        """True when the parameter's value ``given`` (None: absent) makes the request heavy."""
        if given is None:
            return False
        if given in self.values:
            return True
        if self.above is None:
            return False
        try:
            return int(given.strip()) > self.above
        except ValueError:
            return False  # not a number: the route answers 422 itself


def expensive_when(param: str, above: int | None = None, *values: str) -> Any:
    """The dependency of :class:`ExpensiveWhen` (``dependencies=[expensive_when(...)]``)."""
    return Depends(ExpensiveWhen(param, above, tuple(values)))

# Route-level guards: ``dependencies=[READ_INCIDENTS]`` etc.
READ_INCIDENTS = Depends(require_role(*INCIDENT_ROLES))
LOGGED_IN = Depends(require_login)
COMMAND_ONLY = Depends(require_role("admin", "command"))
