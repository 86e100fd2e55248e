"""Users: passwords (argon2id), login with per-client throttling, administration, token ->
Principal.

Every function takes an open connection; the caller owns the transaction. Messages are
Chinese first, then English.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, text

from geo.auth.changes import auth_changed
from geo.auth.principal import API_TOKEN, ROLES, SCOPE_ROLES, SESSION, Principal
from geo.auth.tokens import (
    API_TOKEN_DEFAULT_DAYS,
    API_TOKEN_MAX_DAYS,
    SESSION_TTL_MAX_S,
    SessionClaims,
    hash_api_token,
    new_api_token,
)
from geo.errors import Conflict, InvalidInput, NotFound, TooManyRequests, Unauthorized
from geo.localtime import local_date_sql
from geo.regions.codes import SCOPE_PREFIX_SQL, check_scope_code, scope_prefix
from geo.workers import on_duty_sql

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("wangge-timing-equaliser")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8

BAD_CREDENTIALS = "用户名或密码错误 / wrong user name or password"


def hash_password(password: str) -> str:
    """Argon2id hash of ``password`` (argon2-cffi defaults)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; constant work even without a hash."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_policy(password: str) -> None:
    """Raise InvalidInput for a password shorter than 8 characters."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"密码至少 {MIN_PASSWORD} 个字符 / the password needs at least {MIN_PASSWORD} "
            "characters", field="password",
        )


def generate_password() -> str:
    """A random password (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def add_user(
    conn: Connection,
    username: str,
    role: str,
    region_code: str,
    password: str | None = None,
    department_code: str | None = None,
    worker_code: str | None = None,
    display_name: str | None = None,
    synthetic: bool = False,
    scope_code: str | None = None,
) -> tuple[int, str]:
    """Create a user; return its id and the password (generated when not given).

    ``scope_code``: a prefecture or province the user oversees (市级/省级: every county below
    it, besides ``region_code``); for the command, planner and viewer roles only.

    Raises
    ------
    InvalidInput
        Bad user name or role, missing department for ``department`` or worker for ``worker``,
        unknown department or worker, short password.
    Conflict
        The user name exists.
    """
    if not USERNAME_RE.match(username or ""):
        raise InvalidInput(
            "用户名须为 2-64 个字母、数字或 _.@- / the user name must be 2-64 letters, digits "
            "or _.@-", field="username",
        )
    if role not in ROLES:
        raise InvalidInput(f"未知角色 {role} / unknown role {role}; one of {list(ROLES)}",
                           field="role")
    # a user's home county is a county of this installation (review round 12: `--region
    # 999999` made a user no county's admin sees)
    regions = {str(c) for c in conn.execute(text("SELECT code FROM region")).scalars()}
    if region_code not in regions:
        from geo.regions.locate import unknown_region

        raise unknown_region(region_code, regions)
    dept = None
    if role == "department":
        if not department_code:
            raise InvalidInput("部门用户须指定部门 / a department user needs --department",
                               field="department")
        dept = conn.execute(text("SELECT code FROM department WHERE code = :c"),
                            {"c": department_code}).scalar()
        if dept is None:
            known = [c for (c,) in conn.execute(text("SELECT code FROM department ORDER BY 1"))]
            raise InvalidInput(f"未知部门 {department_code} / unknown department "
                               f"{department_code}; known: {known}", field="department")
    worker_id = None
    if role == "worker":
        if not worker_code:
            raise InvalidInput("网格员用户须关联网格员编码 / a worker user needs --worker "
                               "(the grid_worker code)", field="worker")
        worker_id = conn.execute(
            text("SELECT id FROM grid_worker WHERE code = :c AND region_code = :r"),
            {"c": worker_code, "r": region_code},
        ).scalar()
        if worker_id is None:
            raise InvalidInput(f"未知网格员 {worker_code} / unknown grid worker {worker_code} "
                               f"in region {region_code}", field="worker")
    if scope_code is not None:
        scope_code = check_scope_code(scope_code)
        if not region_code.startswith(scope_prefix(scope_code)):
            raise InvalidInput(
                f"区县 {region_code} 不在 {scope_code} 之内 / county {region_code} is not within "
                f"{scope_code}: a user oversees the prefecture or province of her county",
                field="scope")
        if role not in SCOPE_ROLES:
            raise InvalidInput(
                f"角色 {role} 不能管辖多个区县 (仅 {'/'.join(SCOPE_ROLES)}) / role {role} cannot "
                f"oversee several counties (only {', '.join(SCOPE_ROLES)})", field="scope")
    if password is None:
        password = generate_password()
    check_password_policy(password)
    exists = conn.execute(text("SELECT 1 FROM app_user WHERE username = :u"),
                          {"u": username}).scalar()
    if exists:
        raise Conflict(f"用户 {username} 已存在 / user {username} exists", username=username)
    uid = conn.execute(
        text("INSERT INTO app_user (region_code, username, display_name, role, department_code,"
             " worker_id, password_hash, synthetic, scope_code) VALUES (:r, :u, :d, :role, "
             ":dept, :w, :h, :s, :scope) RETURNING id"),
        {"r": region_code, "u": username, "d": display_name, "role": role, "dept": dept,
         "w": worker_id, "h": hash_password(password), "s": synthetic, "scope": scope_code},
    ).scalar_one()
    return int(uid), password


def _user_id(conn: Connection, username: str) -> int:
    uid = conn.execute(text("SELECT id FROM app_user WHERE username = :u"),
                       {"u": username}).scalar()
    if uid is None:
        raise NotFound(f"没有用户 {username} / no user {username}", username=username)
    return int(uid)


_REVOKE_ALL = text("UPDATE api_token SET revoked_at = now() WHERE user_id = :i "
                   "AND revoked_at IS NULL")


def set_disabled(conn: Connection, username: str, disabled: bool = True) -> None:
    """Disable (or enable) a user; earlier session tokens stop working either way.

    Disabling also revokes every API token of the user, so enabling them again does not bring
    old tokens back: they mint new ones after logging in.
    """
    uid = _user_id(conn, username)
    conn.execute(text("UPDATE app_user SET disabled = :d, token_version = token_version + 1 "
                      "WHERE id = :i"), {"d": disabled, "i": uid})
    if disabled:
        conn.execute(_REVOKE_ALL, {"i": uid})
    auth_changed(conn, uid)


def reset_password(conn: Connection, username: str, password: str | None = None) -> str:
    """Set a new password (generated when not given), end every session and revoke
    every API token of the user (a reset is what an admin does after a leak)."""
    uid = _user_id(conn, username)
    if password is None:
        password = generate_password()
    check_password_policy(password)
    conn.execute(
        text("UPDATE app_user SET password_hash = :h, failed_logins = 0, locked_until = NULL, "
             "token_version = token_version + 1 WHERE id = :i"),
        {"h": hash_password(password), "i": uid},
    )
    conn.execute(_REVOKE_ALL, {"i": uid})
    auth_changed(conn, uid)
    return password


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user with role, binding and state (no hashes)."""
    rows = conn.execute(text("""
        SELECT u.id, u.username, u.display_name, u.role, u.department_code,
               w.code AS worker_code, u.disabled, u.failed_logins, u.locked_until,
               u.last_login_at, u.synthetic, u.region_code, u.scope_code,
               (SELECT count(*) FROM api_token t WHERE t.user_id = u.id
                 AND t.revoked_at IS NULL) AS api_tokens
        FROM app_user u LEFT JOIN grid_worker w ON w.id = u.worker_id
        ORDER BY u.username""")).mappings().all()
    return [dict(r) for r in rows]


# Failed logins from one client address, whatever the names, before it is throttled as well:
# this many times the per-name limit (password spraying over many names).
ADDRESS_FAILURE_FACTOR = 10

_NTH_FAILURE = text("""
SELECT GREATEST(1, CEIL(EXTRACT(EPOCH FROM at + make_interval(secs => :w) - now())))::int
FROM audit_log
WHERE action = 'login_failed' AND client_ip IS NOT DISTINCT FROM :ip
  AND (CAST(:u AS text) IS NULL OR username = :u)
  AND at > GREATEST(now() - make_interval(secs => :w), COALESCE((
      SELECT max(at) FROM audit_log WHERE action = 'login' AND CAST(:u AS text) IS NOT NULL
        AND username = :u AND client_ip IS NOT DISTINCT FROM :ip), '-infinity'))
ORDER BY at DESC OFFSET :n LIMIT 1
""")


def login_wait(
    conn: Connection, client_ip: str | None, username: str, max_failures: int, window_s: int
) -> int:
    """Seconds this client must wait before trying ``username`` again (0: go ahead).

    Throttling is per client, never per account (nobody can lock someone else out by typing
    their name): ``max_failures`` failed logins for one name from one address within
    ``window_s`` seconds (since that address last logged in as that name), or
    ``ADDRESS_FAILURE_FACTOR`` times as many for any names from one address. It reads the
    ``login_failed`` audit records (indexed by name and time, by action and time), so every
    process of the installation counts alike, and it answers the same for existing and unknown
    names.
    """
    if max_failures <= 0 or window_s <= 0:
        return 0
    for name, limit in ((username, max_failures),
                        (None, max_failures * ADDRESS_FAILURE_FACTOR)):
        wait = conn.execute(_NTH_FAILURE, {"ip": client_ip, "u": name, "w": window_s,
                                           "n": limit - 1}).scalar()
        if wait:
            return int(wait)
    return 0


def login(
    conn: Connection,
    username: str,
    password: str,
    max_failures: int = 5,
    lockout_s: int = 900,
    demo_mode: bool = True,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Check a password; return the user row (id, username, role, token_version).

    Unknown users and wrong passwords get the same answer (401, :data:`BAD_CREDENTIALS`) and
    cost the same work: no account is locked and nothing tells whether the name exists.
    Repeated failures from one client are throttled instead (:func:`login_wait`: 429 for
    ``lockout_s`` seconds at most, before any password is checked); the caller records each
    failure as a ``login_failed`` audit record, which is what is counted. Synthetic (demo)
    users cannot log in outside demo mode.

    Raises
    ------
    TooManyRequests
        Too many failures from this client (``retry_after`` seconds).
    Unauthorized
        Unknown user, wrong password, disabled, or a demo user outside demo mode.
    """
    wait = login_wait(conn, client_ip, username, max_failures, lockout_s)
    if wait:
        raise TooManyRequests(
            f"登录失败次数过多, 请 {wait} 秒后再试 / too many failed logins from this address: "
            f"retry after {wait} s", retry_after=wait)
    row = conn.execute(
        text("SELECT id, username, role, password_hash, disabled, token_version, synthetic "
             "FROM app_user WHERE username = :u"), {"u": username},
    ).mappings().first()
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        raise Unauthorized(BAD_CREDENTIALS)
    if row["disabled"]:
        raise Unauthorized("账户已停用 / account disabled; ask an admin")
    if row["synthetic"] and not demo_mode:
        raise Unauthorized("演示账户仅在演示模式可用 / demo accounts work in demo mode only")
    conn.execute(text("UPDATE app_user SET failed_logins = 0, locked_until = NULL, "
                      "last_login_at = now() WHERE id = :i"), {"i": row["id"]})
    if _HASHER.check_needs_rehash(row["password_hash"]):
        conn.execute(text("UPDATE app_user SET password_hash = :h WHERE id = :i"),
                     {"h": hash_password(password), "i": row["id"]})
    return {"id": int(row["id"]), "username": row["username"], "role": row["role"],
            "token_version": int(row["token_version"])}


_PRINCIPAL_SQL = text(f"""
SELECT u.id, u.username, u.role, u.region_code, u.department_code, u.disabled,
       u.token_version, u.synthetic,
       ARRAY(SELECT r.code FROM region r WHERE u.scope_code IS NOT NULL
             AND r.code LIKE {SCOPE_PREFIX_SQL} || '%' ORDER BY r.code) AS below,
       EXISTS (SELECT 1 FROM auth_session_revoked r WHERE r.sid = :sid) AS session_revoked,
       u.worker_id
FROM app_user u WHERE u.id = :i
""")
# A worker's cells, read apart with her county as a value: on a federated database
# (geo/db/shards.py) the read is pruned to her county's shard when planned.
_CELLS_SQL = text(f"""
SELECT DISTINCT a.cell_code FROM worker_assignment a
WHERE a.region_code = :r AND a.worker_id = :w AND {on_duty_sql("a", local_date_sql("now()"))}
ORDER BY a.cell_code
""")


def principal_for_user(
    conn: Connection,
    user_id: int,
    token_version: int | None = None,
    demo_mode: bool = True,
    unmask: bool = False,
    credential: str | None = None,
    session_id: str | None = None,
    expires_at: int | None = None,
) -> Principal:
    """Build the Principal of a user: role, region, department, cells assigned *now*.

    ``credential`` says how the caller proved it (``SESSION``, ``API_TOKEN``; None: a
    server-side look-up such as the login itself); ``expires_at`` when it ends (Unix seconds).

    Raises
    ------
    Unauthorized
        Unknown or disabled user, a token issued before a reset/disable (``token_version``),
        or a demo user outside demo mode.
    """
    row = conn.execute(_PRINCIPAL_SQL, {"i": user_id, "sid": session_id}).mappings().first()
    if row is None or row["disabled"]:
        raise Unauthorized("账户不存在或已停用 / unknown or disabled account")
    if row["session_revoked"]:
        raise Unauthorized("已退出登录, 请重新登录 / this session was logged out: log in again")
    if token_version is not None and int(row["token_version"]) != token_version:
        raise Unauthorized("令牌已失效, 请重新登录 / token revoked (password reset or account "
                           "disabled): log in again")
    if row["synthetic"] and not demo_mode:
        raise Unauthorized("演示账户仅在演示模式可用 / demo accounts work in demo mode only")
    cells = conn.execute(_CELLS_SQL, {"r": row["region_code"], "w": row["worker_id"]}
                         ).scalars().all() if row["role"] == "worker" else ()
    return Principal(
        user=row["username"], role=row["role"],
        regions=frozenset({row["region_code"], *(row["below"] or ())}),
        cell_codes=frozenset(cells), department_code=row["department_code"],
        user_id=int(row["id"]), unmask=unmask, authenticated=True, credential=credential,
        session_id=session_id, expires_at=expires_at,
    )


def principal_for_session(
    conn: Connection, claims: SessionClaims, demo_mode: bool = True, unmask: bool = False
) -> Principal:
    """The Principal of a verified session token."""
    return principal_for_user(conn, claims.user_id, claims.token_version, demo_mode, unmask,
                              credential=SESSION, session_id=claims.session_id,
                              expires_at=claims.expires_at)


def session_in_force(conn: Connection, claims: SessionClaims) -> bool:
    """A verified session token is still in force: its user exists, is enabled, has not had a
    reset since (``token_version``) and this session was not logged out. One indexed look-up,
    for the idempotency keys (``api.deps.credential_owner``)."""
    return bool(conn.execute(text(
        "SELECT NOT u.disabled AND u.token_version = :v AND NOT EXISTS (SELECT 1 FROM "
        "auth_session_revoked r WHERE r.sid = :sid) FROM app_user u WHERE u.id = :i"),
        {"i": claims.user_id, "v": claims.token_version, "sid": claims.session_id}).scalar())


def end_session(conn: Connection, principal: Principal, everywhere: bool = False) -> int:
    """Log a session out: its token stops working at once, not when it expires.

    ``everywhere`` also ends every other login session of the user (bumps ``token_version``);
    API tokens are revoked one by one (``DELETE /auth/tokens/{id}``). Returns the number of
    sessions ended for certain (1 or 0; ``everywhere`` counts as 1). Revocations are kept
    until the token would have expired anyway.
    """
    if principal.user_id is None or principal.credential != SESSION or not principal.session_id:
        return 0
    conn.execute(text("DELETE FROM auth_session_revoked WHERE expires_at < now()"))
    conn.execute(text(
        "INSERT INTO auth_session_revoked (sid, user_id, expires_at) "
        "VALUES (:sid, :u, now() + make_interval(secs => :ttl)) ON CONFLICT (sid) DO NOTHING"),
        {"sid": principal.session_id, "u": principal.user_id, "ttl": SESSION_TTL_MAX_S})
    if everywhere:
        conn.execute(text("UPDATE app_user SET token_version = token_version + 1 WHERE id = :i"),
                     {"i": principal.user_id})
    auth_changed(conn, principal.user_id)
    return 1



def _api_token_end(t: str) -> str:
    """SQL: when the API token ``t`` expires. Tokens stored without an expiry by earlier
    releases end API_TOKEN_MAX_DAYS after their creation."""
    return (f"COALESCE({t}.expires_at, {t}.created_at + "
            f"interval '{API_TOKEN_MAX_DAYS} days')")


def _api_token_valid(t: str) -> str:
    """SQL: the API token ``t`` is in force (not revoked, not expired)."""
    return f"{t}.revoked_at IS NULL AND {_api_token_end(t)} > now()"


def principal_for_api_token(
    conn: Connection, token: str, demo_mode: bool = True, unmask: bool = False
) -> Principal:
    """The Principal of an API token (unknown, revoked or expired -> Unauthorized)."""
    row = conn.execute(
        text("SELECT id, user_id, last_used_at IS NULL OR last_used_at < now() - "
             "interval '60 seconds' AS stale, "
             f"floor(extract(epoch FROM {_api_token_end('t')}))::bigint AS ends "
             f"FROM api_token t WHERE token_hash = :h AND {_api_token_valid('t')}"),
        {"h": hash_api_token(token)},
    ).first()
    if row is None:
        raise Unauthorized("API 令牌无效、已吊销或已过期 / API token unknown, revoked or expired")
    if row[2]:  # last use recorded to the minute: no write on every request
        conn.execute(text("UPDATE api_token SET last_used_at = now() WHERE id = :i"),
                     {"i": row[0]})
    return principal_for_user(conn, int(row[1]), None, demo_mode, unmask, credential=API_TOKEN,
                              expires_at=int(row[3]))


def api_token_owner(conn: Connection, token: str) -> tuple[int, str] | None:
    """The user id and name of an API token in force (None: unknown, revoked or expired).

    One indexed look-up and no write: for the rate limiter, which keys on the user.
    """
    row = conn.execute(
        text("SELECT u.id, u.username FROM api_token t JOIN app_user u ON u.id = t.user_id "
             f"WHERE t.token_hash = :h AND {_api_token_valid('t')}"),
        {"h": hash_api_token(token)},
    ).first()
    return (int(row[0]), str(row[1])) if row else None


def api_token_days(days: int | None) -> int:
    """The lifetime of a new API token: ``days``, or the default when None.

    Raises
    ------
    InvalidInput
        ``days`` outside 1..API_TOKEN_MAX_DAYS (no token lives for ever).
    """
    if days is None:
        return API_TOKEN_DEFAULT_DAYS
    if not 1 <= days <= API_TOKEN_MAX_DAYS:
        raise InvalidInput(
            f"有效天数须在 1..{API_TOKEN_MAX_DAYS} 之间 (不填: {API_TOKEN_DEFAULT_DAYS} 天) / "
            f"days must be 1..{API_TOKEN_MAX_DAYS} (none given: {API_TOKEN_DEFAULT_DAYS}); "
            "API tokens always expire", field="days")
    return days


def create_api_token(
    conn: Connection, username: str, name: str, days: int | None = None
) -> tuple[int, str]:
    """Create an API token for ``username``; return its id and the token (shown once).

    It expires after ``days`` (1..API_TOKEN_MAX_DAYS; None: API_TOKEN_DEFAULT_DAYS).
    """
    uid = _user_id(conn, username)
    lifetime = api_token_days(days)
    token = new_api_token()
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=lifetime)
    tid = conn.execute(
        text("INSERT INTO api_token (region_code, user_id, name, token_hash, prefix, expires_at)"
             " SELECT region_code, id, :n, :h, :p, :e FROM app_user WHERE id = :u RETURNING id"),
        {"n": name or "api", "h": hash_api_token(token), "p": token[:10], "e": expires,
         "u": uid},
    ).scalar_one()
    return int(tid), token


# User ``u`` is wholly within the counties :r (a text[]; NULL: every county): her county and
# every county below her prefecture or province scope. A county admin manages such users'
# tokens only: a prefecture user whose home county is hers is not (review round 10, F6).
_USER_WITHIN_SQL = (
    "(CAST(:r AS text[]) IS NULL OR (u.region_code = ANY(CAST(:r AS text[])) AND NOT EXISTS ("
    "SELECT 1 FROM region g WHERE u.scope_code IS NOT NULL "
    f"AND g.code LIKE {SCOPE_PREFIX_SQL} || '%' AND g.code <> ALL(CAST(:r AS text[])))))")


def list_api_tokens(conn: Connection, user_id: int | None = None,
                    regions: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """API tokens (no secrets), of one user or of everyone (``regions`` given: of the users
    wholly within those counties only; an admin's tokens page is her county's, review round 9
    and 10)."""
    rows = conn.execute(
        text("SELECT t.id, u.username, t.name, t.prefix, t.created_at, t.expires_at, "
             "t.revoked_at, t.last_used_at FROM api_token t JOIN app_user u ON u.id = t.user_id"
             f" WHERE (CAST(:u AS int) IS NULL OR t.user_id = :u) AND {_USER_WITHIN_SQL}"
             " ORDER BY t.id"),
        {"u": user_id, "r": None if regions is None else sorted(regions)},
    ).mappings().all()
    return [dict(r) for r in rows]


def revoke_api_token(conn: Connection, token_id: int, owner_id: int | None = None,
                     regions: Iterable[str] | None = None) -> None:
    """Revoke a token (``owner_id`` given: only a token of that user; ``regions`` given: only
    a token of a user of those counties).

    Raises
    ------
    NotFound
        No such (unrevoked) token, or not the owner's, or of another county's user.
    """
    done = conn.execute(
        text("UPDATE api_token t SET revoked_at = now() FROM app_user u WHERE u.id = t.user_id "
             "AND t.id = :i AND t.revoked_at IS NULL "
             f"AND (CAST(:o AS int) IS NULL OR t.user_id = :o) AND {_USER_WITHIN_SQL} "
             "RETURNING t.id, t.user_id"),
        {"i": token_id, "o": owner_id, "r": None if regions is None else sorted(regions)},
    ).first()
    if done is None:
        raise NotFound(f"没有可吊销的令牌 {token_id} / no revocable token {token_id}",
                       token_id=token_id)
    auth_changed(conn, int(done[1]))
