"""Map domain errors and failures to HTTP answers, in one place. Never a stack trace."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import TOKEN_COOKIE
from geo.crs.names import UnknownCRSError
from geo.db.engine import DRIVER_DOWN, SERVER_DOWN
from geo.db.shards import ShardDown
from geo.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    Locked,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    WanggeError,
)

log = logging.getLogger("wangge")


# The status map: one HTTP status per domain error class (the nearest listed base class wins).
STATUS: dict[type[WanggeError], int] = {
    WanggeError: 400,
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Forbidden: 403,
    Unavailable: 503,
    Unauthorized: 401,
    Locked: 423,
    TooManyRequests: 429,
}
# Extra headers per domain error class.
HEADERS: dict[type[WanggeError], dict[str, str]] = {
    Unauthorized: {"WWW-Authenticate": 'Bearer realm="wangge"'},
}


def status_of(exc: WanggeError) -> int:
    """The HTTP status for a domain error: that of its nearest class in :data:`STATUS`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def headers_of(exc: WanggeError) -> dict[str, str]:
    """Extra response headers for a domain error (``WWW-Authenticate`` on 401 ...)."""
    for cls in type(exc).__mro__:
        if cls in HEADERS:
            return dict(HEADERS[cls])
    return {}


def _body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "title": title, "detail": detail, **extra}


RETRY_AFTER_S = 5


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        _body(503, "Unavailable", detail),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


# PostgreSQL's words for an upsert on a parent whose partitions are on shards
_NOT_ON_COORDINATOR = "no unique or exclusion constraint matching the ON CONFLICT"
# postgres_fdw's words when a shard's server does not answer (geo/db/shards.py)
_SHARD_DOWN = re.compile(r'could not connect to server "([a-z][a-z0-9_]*)"')


def _is_connection_problem(orig: BaseException | None) -> bool:
    """A driver error that means "no usable connection" (psycopg 3), whatever wraps it."""
    return isinstance(orig, DRIVER_DOWN)


def _is_bad_value(orig: BaseException | None) -> bool:
    """A driver error caused by a value (class 22 "data exception"), not by the server."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(orig, psycopg.DataError)


def _browser_page(request: Request) -> bool:
    """A person's browser following a link (GET, Accept: text/html): a map, a report, a
    workbook the landing page offers. API clients (no text/html; EventSource asks for
    text/event-stream) keep the 401 with its reason."""
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


# Chinese first for the validation errors people meet (pydantic's own text is English): the
# error type -> (Chinese, English); {name} placeholders are filled from the error's context.
_VALIDATION_ZH: dict[str, tuple[str, str]] = {
    "missing": ("缺少必填项", "field required"),
    "json_invalid": ("请求体不是有效的 JSON", "the body is not valid JSON"),
    "json_type": ("应为 JSON", "JSON expected"),
    "model_attributes_type": ("应为 JSON 对象 {{...}}", "a JSON object {{...}} expected"),
    "dict_type": ("应为 JSON 对象 {{...}}", "a JSON object {{...}} expected"),
    "model_type": ("应为 JSON 对象 {{...}}", "a JSON object {{...}} expected"),
    "list_type": ("应为列表 [...]", "a list [...] expected"),
    "string_type": ("应为文本", "text expected"),
    "int_type": ("应为整数", "an integer expected"),
    "int_parsing": ("应为整数", "an integer expected"),
    "int_from_float": ("应为整数 (不带小数)", "an integer without a fraction expected"),
    "float_type": ("应为数字", "a number expected"),
    "float_parsing": ("应为数字", "a number expected"),
    "finite_number": ("应为有限的数字 (不能是 NaN 或无穷大)", "a finite number expected"),
    "bool_type": ("应为 true 或 false", "true or false expected"),
    "bool_parsing": ("应为 true 或 false", "true or false expected"),
    "date_parsing": ("应为日期 YYYY-MM-DD", "a date YYYY-MM-DD expected"),
    "date_from_datetime_parsing": ("应为日期 YYYY-MM-DD", "a date YYYY-MM-DD expected"),
    "date_type": ("应为日期 YYYY-MM-DD", "a date YYYY-MM-DD expected"),
    "datetime_parsing": ("应为日期时间 (ISO 8601, 如 2026-12-05T09:30:00+08:00)",
                         "a date-time (ISO 8601, e.g. 2026-12-05T09:30:00+08:00) expected"),
    "datetime_from_date_parsing": ("应为日期时间 (ISO 8601, 如 2026-12-05T09:30:00+08:00)",
                                   "a date-time (ISO 8601, e.g. 2026-12-05T09:30:00+08:00) "
                                   "expected"),
    "datetime_type": ("应为日期时间 (ISO 8601)", "a date-time (ISO 8601) expected"),
    "uuid_parsing": ("应为 UUID", "a UUID expected"),
    "string_too_short": ("文本太短 (至少 {min_length} 个字符)",
                         "too short (at least {min_length} characters)"),
    "string_too_long": ("文本太长 (最多 {max_length} 个字符)",
                        "too long (at most {max_length} characters)"),
    "too_short": ("条目太少 (至少 {min_length} 个)", "too few items (at least {min_length})"),
    "too_long": ("条目太多 (最多 {max_length} 个)", "too many items (at most {max_length})"),
    "string_pattern_mismatch": ("格式不对 (应匹配 {pattern})",
                                "wrong format (must match {pattern})"),
    "greater_than": ("应大于 {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("应不小于 {ge}", "must be at least {ge}"),
    "less_than": ("应小于 {lt}", "must be less than {lt}"),
    "less_than_equal": ("应不大于 {le}", "must be at most {le}"),
    "literal_error": ("应为以下之一: {expected}", "must be one of: {expected}"),
    "enum": ("应为以下之一: {expected}", "must be one of: {expected}"),
    "extra_forbidden": ("不接受此字段", "unknown field"),
    "url_parsing": ("应为网址 URL", "a URL expected"),
}


def validation_message(err: Any) -> str:
    """One validation error as ``中文 / English`` (pydantic's own text when the type is not
    listed in :data:`_VALIDATION_ZH`, or already carries a Chinese message of our own)."""
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", ""))
    if kind not in _VALIDATION_ZH:
        return msg
    ctx = {k: v for k, v in (err.get("ctx") or {}).items() if isinstance(k, str)}
    zh, en = _VALIDATION_ZH[kind]
    try:
        zh, en = zh.format(**ctx), en.format(**ctx)
    except (KeyError, IndexError, ValueError):  # a context without the value: the plain words
        zh, en = zh.split(" (")[0].split("{")[0], en.split(" (")[0].split("{")[0]
    return f"{zh} / {en}"


_HTTP_ZH = {404: ("没有这个地址", "no such path"),
            405: ("此地址不接受该请求方法", "method not allowed on this path")}


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers: domain errors, validation (422 naming the field), DB down (503)."""

    @app.exception_handler(WanggeError)
    async def _domain(request: Request, exc: WanggeError) -> Response:
        status = status_of(exc)
        if _browser_page(request) and (status == 401 or (
                status == 403 and not request.headers.get("authorization")
                and not request.cookies.get(TOKEN_COOKIE))):
            # A person opening a map or a report in a browser without logging in (refused as
            # the public would be): to the login form, then back here.
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            lang = "en" if request.query_params.get("lang") == "en" else "zh"
            return RedirectResponse(f"/login?{urlencode({'next': target, 'lang': lang})}",
                                    status_code=303)
        if status == 403 or exc.detail.get("refused_fields"):
            # refusals are audited (api.middleware.security.WriteAudit writes them)
            request.state.audit = {"action": "refused", "detail": {
                "status": status, "reason": exc.message[:300],
                **({"refused_fields": exc.detail["refused_fields"]}
                   if exc.detail.get("refused_fields") else {})}}
        headers: dict[str, str] | None = headers_of(exc) or None
        if status == 503:
            headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER_S)}
        if "retry_after" in exc.detail:  # e.g. the login throttle's 429
            headers = {**(headers or {}), "Retry-After": str(exc.detail["retry_after"])}
        return JSONResponse(
            _body(status, type(exc).__name__, exc.message, **exc.detail),
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # The router's own answers (an unknown path, a wrong method): Chinese first, with the
        # way back (the landing page lists what is served).
        zh, en = _HTTP_ZH.get(exc.status_code, ("请求错误", str(exc.detail)))
        path = request.url.path[:200]
        detail = f"{zh}: {path} (可用的地址见首页 / 与 /docs) / {en}: {path} (see / and /docs)"
        return JSONResponse(_body(exc.status_code, "NotFound" if exc.status_code == 404
                                  else "HTTPError", detail),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(UnknownCRSError)
    async def _crs(_: Request, exc: UnknownCRSError) -> JSONResponse:
        return JSONResponse(
            _body(422, "UnknownCRS", str(exc), field="crs"), status_code=422
        )

    @app.exception_handler(UnicodeEncodeError)
    async def _not_unicode(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON lets a string carry a lone UTF-16 surrogate ("\ud800"); it is not text and no
        # database, file or CRS library takes it. The one place that says so (review R14).
        if "surrogate" not in str(exc.reason):
            log.exception("unexpected encoding error")
            return JSONResponse(_body(500, "InternalError", "内部错误 / internal error (logged)"),
                                status_code=500)
        return JSONResponse(
            _body(422, "InvalidInput", "文本含无效的 Unicode 字符 (孤立代理项, 如 \\ud800) / "
                  "text holds a character that is not valid Unicode (a lone surrogate such as "
                  "\\ud800): send UTF-8 text"), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            kind = str(err.get("type", ""))
            loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body"))
            if kind == "json_invalid":  # the location is a character position, not a field
                loc = "body"
            problems.append({"field": loc, "message": validation_message(err), "type": kind})
        text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse(
            _body(422, "InvalidInput", f"参数错误 / invalid parameters: {text}", errors=problems),
            status_code=422,
        )

    # The database is down, restarting, unreachable or overloaded: 503 + Retry-After, the
    # client retries. OperationalError covers refused connections, "server closed the
    # connection", "the database system is starting up" and cancelled statements;
    # InterfaceError a connection already closed; the pool timeout an exhausted pool.
    async def _db_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        shard = _SHARD_DOWN.search(str(exc))
        if shard:  # a county on another server (geo/db/shards.py) whose server is down
            return _unavailable(
                f"该区县数据所在的数据库分片 {shard.group(1)} 暂不可用, 其他区县不受影响, "
                f"请稍后重试 / the database shard {shard.group(1)} holding this county's data is "
                "unavailable; other counties keep working; retry")
        return _unavailable("数据库暂不可用, 请稍后重试 / database unavailable, retry")

    for cls in (*SERVER_DOWN, DisconnectionError, PoolTimeoutError, ShardDown):
        app.add_exception_handler(cls, _db_down)

    @app.exception_handler(DBAPIError)
    async def _db_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated or _is_connection_problem(exc.orig):
            log.warning("database connection lost: %s", exc.__class__.__name__)
            return _unavailable("数据库连接中断, 请重试 / database connection lost, retry")
        if _is_bad_value(exc.orig):
            # A value the database refuses (NUL byte, number out of range ...): the client's.
            log.info("value refused by the database: %s", type(exc.orig).__name__)
            return JSONResponse(
                _body(422, "InvalidInput", "参数值无效(含非法字符或超出范围) / invalid parameter "
                      "value (illegal character such as NUL, or out of range)"),
                status_code=422,
            )
        if _NOT_ON_COORDINATOR in str(exc.orig):
            # an upsert on a county table of a coordinator (geo/db/shards.py): not there
            log.warning("upsert refused on a sharded coordinator")
            return JSONResponse(_body(
                501, "NotImplemented", "这项操作在分片部署的主库上不可用 (成批的按键插入或更新, "
                "如网格导入时的视频覆盖); 请在分片前执行, 不要直接写分片, 见 docs/SCALING.md / "
                "this action is not available on a sharded coordinator (a set-based upsert on a "
                "county table, such as a cells import's stored coverage): do it before "
                "sharding, never on a shard directly, see docs/SCALING.md"),
                status_code=501)
        log.exception("database error")
        return JSONResponse(
            _body(500, "InternalError", "内部错误 / internal error (logged)"), status_code=500
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(
            _body(500, "InternalError", "内部错误 / internal error (logged)"), status_code=500
        )
