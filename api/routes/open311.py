"""Open311 GeoReport v2 at ``/open311/v2/`` (JSON and XML): services, service definitions,
service requests (post, search, read) and tokens, on Wangge's categories and case flow.

The mapping is :mod:`geo.incidents.open311`'s. Credentials: an API token (``wangge users
token USER``) as the standard's ``api_key`` parameter, or the usual ``Authorization`` header
(Bearer; Basic with the token as password, e.g. from ``~/.netrc``). Services are public;
posting needs a key whose user may report there (the intake's own rule); reading requests
needs a key and shows only the requests of the key's scope, fields masked as everywhere.
Errors are GeoReport v2 errors: ``[{"code": 400, "description": "..."}]`` with that status.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import EXPENSIVE, INCIDENT_ROLES, PrincipalDep, request_token, resolve_principal
from api.errors import headers_of, status_of
from api.reveal import note_revealed
from api.schemas import ok
from api.schemas import open311 as schemas
from geo.auth.fields import revealed_ids
from geo.auth.principal import Principal
from geo.errors import Forbidden, InvalidInput, NotFound, TooLarge, Unauthorized, WanggeError
from geo.incidents import intake, open311
from geo.io.parse import coordinate_field
from geo.io.text import xml_safe

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# XML element names of the standard: the list's root and its items.
_ROOTS = {"services": "service", "service_requests": "request", "errors": "error",
          "service_definition": None}
MAX_MEDIA_BYTES = 10 * 1024 * 1024


def _xml(root: str, data: Any) -> bytes:
    def put(parent: ET.Element, name: str, value: Any) -> None:
        el = ET.SubElement(parent, name)
        if isinstance(value, dict):
            for k, v in value.items():
                put(el, k, v)
        elif isinstance(value, list):
            for v in value:
                put(el, name[:-1] if name.endswith("s") else "item", v)
        elif value is not None:
            # characters XML may not hold (old data, imports) replaced: always well-formed
            el.text = str(value).lower() if isinstance(value, bool) else xml_safe(str(value))

    top = ET.Element(root)
    item = _ROOTS.get(root)
    if item is None:
        for k, v in data.items():
            put(top, k, v)
    else:
        for entry in data:
            el = ET.SubElement(top, item)
            for k, v in entry.items():
                put(el, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")


def _answer(fmt: str, root: str, data: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    import json

    if fmt == "xml":
        body = _xml(root, data)
    else:
        body = json.dumps(data, ensure_ascii=False, default=str).encode()
    return Response(body, status_code=status, media_type=FORMATS.get(fmt, FORMATS["json"]),
                    headers=headers)


def _error(fmt: str, exc: WanggeError) -> Response:
    status = status_of(exc)
    return _answer(fmt, "errors", [{"code": status, "description": exc.message}], status,
                   headers_of(exc))


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"格式 .{fmt} 不支持, 请用 .json 或 .xml / format .{fmt} is not "
                       "supported: use .json or .xml")
    return fmt


def _guarded(fmt: str, work: Callable[[], Response]) -> Response:
    try:
        _format(fmt)
        return work()
    except WanggeError as exc:
        return _error(fmt if fmt in FORMATS else "json", exc)


async def _caller(request: Request, principal: Principal, api_key: str | None) -> Principal:
    """Who is calling: the request's own credentials (``Authorization`` header, login cookie)
    when it presents any, whatever ``api_key`` says; else the principal of ``api_key``; else
    anonymous. One identity per request, the one every audit record names (the ``?unmask``
    record of :func:`api.deps.get_principal` and the records of what was revealed)."""
    if not api_key or request_token(request) is not None:
        return principal
    app = request.app
    found: Principal = await anyio.to_thread.run_sync(
        resolve_principal, app.state.engine, app.state.settings, api_key.strip(),
        principal.unmask)
    if found.unmask and not found.may_unmask():
        raise Forbidden(f"角色 {found.role} 无权查看未脱敏个人信息 / role {found.role} may not "
                        "see personal data unmasked", role=found.role)
    request.state.principal = found  # the audit names the key's user
    return found


def _need_login(principal: Principal) -> None:
    """Requests are cases: the incident roles' (the rule of ``READ_INCIDENTS``)."""
    if principal.is_anonymous:
        raise Unauthorized("需要 api_key (API 令牌: wangge users token 用户名) / an api_key is "
                           "needed (an API token made by 'wangge users token USER')")
    if principal.role not in INCIDENT_ROLES:
        raise Forbidden(f"角色 {principal.role} 无权查看或上报事件 / role {principal.role} may "
                        "not read or post service requests", role=principal.role)


def _region(request: Request, jurisdiction_id: str | None) -> str:
    region = request.app.state.settings.region_or_default(None)
    if jurisdiction_id and jurisdiction_id != region:
        raise NotFound(f"未知辖区 {jurisdiction_id}; 本服务的辖区为 {region} / unknown "
                       f"jurisdiction {jurisdiction_id}; this endpoint serves {region}")
    return str(region)


@router.get("/services.{fmt}", summary="Services (incident categories) / 服务类型",
            responses=ok(schemas.Services))
def get_services(request: Request, fmt: str, jurisdiction_id: str | None = None) -> Response:
    """Every category as a GeoReport v2 service."""
    def work() -> Response:
        _region(request, jurisdiction_id)
        with request.app.state.engine.connect() as conn:
            return _answer(fmt, "services", open311.services(conn))
    return _guarded(fmt, work)


@router.get("/services/{service_code}.{fmt}", summary="Service definition / 服务定义",
            responses=ok(schemas.ServiceDefinition))
def get_service_definition(request: Request, service_code: str, fmt: str,
                           jurisdiction_id: str | None = None) -> Response:
    """The attributes of a service (urgency)."""
    def work() -> Response:
        _region(request, jurisdiction_id)
        with request.app.state.engine.connect() as conn:
            found = open311.service_definition(conn, service_code)
        if found is None:
            raise NotFound(f"未知服务 {service_code} / unknown service_code {service_code}")
        return _answer(fmt, "service_definition", found)
    return _guarded(fmt, work)


def _time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{name} 须为 W3C 时间, 如 2026-10-01T00:00:00Z / {name} must be a "
                           "W3C datetime, e.g. 2026-10-01T00:00:00Z", field=name) from exc
    if t.tzinfo is None:
        raise InvalidInput(f"{name} 缺少时区 / {name} needs a time zone (Z or +08:00)",
                           field=name)
    return t


def _list(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


@router.get("/requests.{fmt}", summary="Search service requests / 查询事件",
            dependencies=[EXPENSIVE],  # up to 90 days of cases per call
            responses=ok(schemas.ServiceRequests))
async def get_requests(request: Request, fmt: str, principal: PrincipalDep,
                       service_request_id: str | None = None, service_code: str | None = None,
                       start_date: str | None = None, end_date: str | None = None,
                       status: str | None = None, jurisdiction_id: str | None = None,
                       api_key: str | None = None) -> Response:
    """Requests of the caller's scope: by id (comma-separated; overrides the rest), or by
    service code, status (open, closed) and a span of at most 90 days (default the last 90)."""
    try:
        caller = await _caller(request, principal, api_key)
    except WanggeError as exc:
        return _error(fmt if fmt in FORMATS else "json", exc)

    def work() -> Response:
        _need_login(caller)
        region = _region(request, jurisdiction_id)
        with request.app.state.engine.connect() as conn:
            found = open311.find_requests(
                conn, caller, region, _list(service_request_id), _list(service_code),
                _time(start_date, "start_date"), _time(end_date, "end_date"), _list(status))
        note_revealed(request, revealed_ids(caller, "incidents", found,
                                            id_key="service_request_id"),
                      key="incident_codes")
        return _answer(fmt, "service_requests", found)
    return await anyio.to_thread.run_sync(_guarded, fmt, work)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request / 事件状态",
            responses=ok(schemas.ServiceRequests))
async def get_request(request: Request, service_request_id: str, fmt: str,
                      principal: PrincipalDep, jurisdiction_id: str | None = None,
                      api_key: str | None = None) -> Response:
    """One request (a list of one, as the standard says); 404 outside the caller's scope."""
    try:
        caller = await _caller(request, principal, api_key)
    except WanggeError as exc:
        return _error(fmt if fmt in FORMATS else "json", exc)

    def work() -> Response:
        _need_login(caller)
        region = _region(request, jurisdiction_id)
        with request.app.state.engine.connect() as conn:
            found = open311.find_requests(conn, caller, region, [service_request_id])
        if not found:
            raise NotFound("该事件不存在或不在您的范围内 / no such request (or not in your "
                           "scope)")
        note_revealed(request, revealed_ids(caller, "incidents", found,
                                            id_key="service_request_id"),
                      key="incident_codes")
        return _answer(fmt, "service_requests", found)
    return await anyio.to_thread.run_sync(_guarded, fmt, work)


@router.get("/tokens/{token_id}.{fmt}", summary="Request id of a token / 令牌对应的事件",
            responses=ok(schemas.ServiceRequests))
def get_token(request: Request, token_id: str, fmt: str) -> Response:
    """Wangge answers a post with its request id at once: a token is that id."""
    return _guarded(fmt, lambda: _answer(fmt, "service_requests", [
        {"service_request_id": token_id, "token": token_id}]))


@router.post("/requests.{fmt}", status_code=201, summary="Post a service request / 上报事件",
             responses=ok(schemas.ServiceRequests, status=201))
async def post_request(request: Request, fmt: str, principal: PrincipalDep) -> Response:
    """A report: ``service_code``, ``lat``/``long`` (WGS84 = CGCS2000) or ``address_string``
    (a compound or community name), ``description``, ``first_name``/``last_name``/``phone``
    of the reporter, ``attribute[urgency]``, a photo as the multipart file ``media``; form
    fields (urlencoded or multipart). ``api_key`` required (or a Bearer token)."""
    try:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        media = form.get("media")
        photos: list[tuple[str | None, bytes]] = []
        if media is not None and not isinstance(media, str):
            data = await media.read(MAX_MEDIA_BYTES + 1)
            if len(data) > MAX_MEDIA_BYTES:
                raise TooLarge("照片最大 10 MB / media is limited to 10 MB")
            photos.append((media.filename, data))
        caller = await _caller(request, principal,
                               fields.get("api_key") or request.query_params.get("api_key"))
    except WanggeError as exc:
        return _error(fmt if fmt in FORMATS else "json", exc)

    def work() -> Response:
        _need_login(caller)
        region = _region(request, fields.get("jurisdiction_id"))
        code = (fields.get("service_code") or "").strip()
        if not code:
            raise InvalidInput("缺少 service_code / service_code is required",
                               field="service_code")
        lat, lon = fields.get("lat"), fields.get("long")
        place = fields.get("address_string")
        if (lat is None or lon is None) and not place:
            raise InvalidInput("须给出 lat 和 long, 或 address_string / give lat and long, or "
                               "address_string", field="lat")
        name = " ".join(p for p in (fields.get("last_name"), fields.get("first_name")) if p)
        report = intake.Report(
            category=code, description=fields.get("description"),
            lon=coordinate_field(lon, "long"), lat=coordinate_field(lat, "lat"), crs="EPSG:4326",
            place=place if lat is None or lon is None else None,
            reporter_name=name or None, reporter_phone=fields.get("phone"),
            urgency=fields.get("attribute[urgency]") or "normal",
            source_ref=fields.get("device_id") if caller.sees_all_incidents() else None,
            photos=photos)
        settings = request.app.state.settings
        try:
            inc = intake.submit_incident(request.app.state.engine, report, caller, region,
                                         settings.data_dir / "attachments")
            notice = f"已受理, 事件编号 {inc['code']} / received as {inc['code']}"
        except InvalidInput as exc:
            kept = exc.detail.get("incident")
            if not isinstance(kept, dict):
                raise
            # stored, waiting for the command centre to place it: a request received (a 4xx
            # would make a client send it again, and each retry would be another case)
            inc = kept
            notice = (f"已受理, 事件编号 {inc['code']}; 地址未能可靠定位, 待指挥中心核实位置 / "
                      f"received as {inc['code']}; its address could not be placed with "
                      "confidence: the command centre confirms the place")
        request.state.audit = {"action": "create_incident", "object_type": "incident",
                               "object_id": inc["id"], "detail": {"code": inc["code"],
                                                                  "via": "open311"}}
        return _answer(fmt, "service_requests", [
            {"service_request_id": inc["code"], "service_notice": notice,
             "account_id": None}], status=201)
    return await anyio.to_thread.run_sync(_guarded, fmt, work)

