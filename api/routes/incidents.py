"""Incidents (事件): intake, the case flow, overdue list, worker views, board, KPIs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import LOGGED_IN, READ_INCIDENTS, ConnDep, EngineDep, PrincipalDep, SettingsDep
from geo.auth.principal import Principal
from geo.errors import InvalidInput
from geo.incidents import cases, intake
from geo.incidents.kpi import kpi, kpi_xlsx

router = APIRouter(tags=["incidents 事件"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

IfMatch = Annotated[str | None, Header(alias="If-Match",
                                       description='ETag of the incident, e.g. "3"')]


class PhotoIn(BaseModel):
    """A photo sent inline with a report."""

    filename: str | None = None
    content_base64: str


class IncidentIn(BaseModel):
    """One report. The place is coordinates (lon, lat, crs) or a compound/community name."""

    category: str = Field(description="Category code or name, e.g. ebike_charging")
    channel: str = Field("12345", description="12345, 110, patrol, photo, camera, petition")
    description: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = Field("EPSG:4490", description="EPSG:4490, EPSG:4326, GCJ02, BD09, EPSG:nnnn")
    place: str | None = Field(None, description="Compound or community name, e.g. 幸福小区 3号楼")
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reported_at: dt.datetime | None = Field(None, description="Default: now")
    urgency: str = "normal"
    department: str | None = Field(None, description="Override of the category's department")
    source_ref: str | None = Field(None, description="The channel's own id (work order)")
    region: str | None = None
    photos: list[PhotoIn] = Field(default_factory=list, max_length=9)


class TransitionIn(BaseModel):
    """A step of the case flow."""

    to: str = Field(description="registered, dispatched, in_progress, handled, verified, "
                                "closed, rework, rejected, cancelled")
    note: str | None = None
    at: dt.datetime | None = Field(None, description="When it happened (default now)")
    version: int | None = Field(None, description="Expected version (or If-Match)")
    photo_ids: list[int] = Field(default_factory=list)


class MergeIn(BaseModel):
    """Duplicates to merge into this case."""

    duplicate_ids: list[int | str]
    note: str | None = None
    version: int | None = None


class ReassignIn(BaseModel):
    """Another cell and/or department."""

    cell_code: str | None = None
    department_code: str | None = None
    note: str | None = None
    version: int | None = None


class ClockIn(BaseModel):
    """Pause / resume of the clock."""

    note: str | None = None
    at: dt.datetime | None = None
    version: int | None = None


class ExtendIn(BaseModel):
    """An extension in working minutes."""

    minutes: int
    note: str | None = None
    version: int | None = None


class NoteIn(BaseModel):
    """A note (with photos already uploaded)."""

    note: str
    photo_ids: list[int] = Field(default_factory=list)
    version: int | None = None


class LocateIn(BaseModel):
    """The point of a case that needs a location."""

    lon: float
    lat: float
    crs: str = "EPSG:4490"
    version: int | None = None


def _answer(inc: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(inc, status_code=status, headers={"ETag": f'"{inc["version"]}"'})


@router.post("/incidents", status_code=201, dependencies=[READ_INCIDENTS],
            summary="Report an incident / 上报事件",
             responses={422: {"description": "Bad input; or the place is outside the region "
                                             "(the report is kept as needs_location)"}})
def post_incident(body: IncidentIn, engine: EngineDep, settings: SettingsDep,
                  principal: PrincipalDep) -> JSONResponse:
    """Store and route one report: cell, worker, department, cameras, duplicates, due time."""
    report = intake.Report(
        category=body.category, channel=body.channel, description=body.description,
        lon=body.lon, lat=body.lat, crs=body.crs, place=body.place,
        reporter_name=body.reporter_name, reporter_phone=body.reporter_phone,
        reported_at=body.reported_at, urgency=body.urgency, department=body.department,
        source_ref=body.source_ref,
        photos=[intake.decode_photo(p.model_dump()) for p in body.photos],
    )
    inc = intake.submit_incident(engine, report, principal, body.region or settings.default_region,
                                 settings.data_dir / "attachments")
    return _answer(inc, 201)


@router.post("/incidents/bulk", dependencies=[READ_INCIDENTS],
            summary="Import a hotline export (CSV/XLSX) / 批量导入")
async def post_bulk(engine: EngineDep, settings: SettingsDep, principal: PrincipalDep,
                    file: Annotated[UploadFile, File(description="CSV (UTF-8/GBK) or XLSX")],
                    commit: Annotated[bool, Form()] = True,
                    region: Annotated[str | None, Form()] = None) -> JSONResponse:
    """Every row routed; bad rows listed with their row number; re-import skips known ids."""
    data = await file.read()
    if len(data) > settings.max_body_bytes:
        from geo.errors import TooLarge

        raise TooLarge(f"文件过大 / file larger than {settings.max_body_bytes} bytes")
    return JSONResponse(intake.import_rows(engine, data, file.filename or "upload.csv",
                                           principal, region or settings.default_region,
                                           commit=commit))


@router.get("/incidents", dependencies=[READ_INCIDENTS],
            summary="Incidents in your scope / 事件列表")
def get_incidents(request: Request, conn: ConnDep, principal: PrincipalDep,
                  settings: SettingsDep,
                  status: Annotated[list[str] | None, Query()] = None,
                  cell: Annotated[list[str] | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
                  offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                  region: str | None = None) -> list[dict[str, Any]]:
    """Incidents, soonest due first; reporter fields masked unless ``?unmask=true``."""
    items = cases.list_incidents(conn, principal, region or settings.default_region, status,
                                 cell, limit=limit, offset=offset)
    audit_revealed(request, principal, items)
    return items


@router.get("/incidents/overdue", dependencies=[READ_INCIDENTS],
            summary="Overdue open cases / 超期事件")
def get_overdue(conn: ConnDep, principal: PrincipalDep, settings: SettingsDep,
                as_of: dt.datetime | None = None, region: str | None = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> dict[str, Any]:
    """Open, unpaused cases whose current step is past its due time (working time)."""
    items = cases.list_incidents(conn, principal, region or settings.default_region,
                                 overdue_only=True, now=_aware(as_of), limit=limit)
    return {"count": len(items), "as_of": (_aware(as_of) or dt.datetime.now(dt.UTC)).isoformat(),
            "items": items}


def audit_revealed(request: Request, principal: Principal, items: list[dict[str, Any]]) -> None:
    """After an unmasked read (``?unmask=true``, already audited as ``read_personal``), name
    the incidents whose reporter was actually shown (``read_personal_items``, written by
    ``api.middleware.security.WriteAudit`` after the answer)."""
    if not principal.unmask:
        return
    ids = [i["id"] for i in items
           if (i.get("reporter_phone") or i.get("reporter_name"))
           and principal.may_see_personal(i.get("cell_code"), i.get("department_code"))]
    if ids:
        request.state.audit = {"action": "read_personal_items", "object_type": "incident",
                               "object_id": ids[0] if len(ids) == 1 else None,
                               "detail": {"incident_ids": ids}}


def _aware(t: dt.datetime | None) -> dt.datetime | None:
    if t is not None and t.tzinfo is None:
        raise InvalidInput(f"时间缺少时区 / time without time zone: {t}; add +08:00",
                           field="as_of")
    if t is not None and not 1900 < t.year < 9999:
        raise InvalidInput(f"时间超出范围 / time out of range: {t}", field="as_of")
    return t


@router.get("/incidents/{incident_id}", dependencies=[READ_INCIDENTS],
            summary="One incident with its history / 事件详情")
def get_incident(request: Request, incident_id: str, conn: ConnDep, principal: PrincipalDep,
                 as_of: dt.datetime | None = None) -> JSONResponse:
    """The incident, its events, photos and merged reports; ETag = version."""
    inc = cases.get_incident(conn, incident_id, principal, _aware(as_of))
    audit_revealed(request, principal, [inc])
    return _answer(inc)


@router.post("/incidents/{incident_id}/transition", dependencies=[READ_INCIDENTS],
            summary="Move a case / 流转")
def post_transition(incident_id: str, body: TransitionIn, conn: ConnDep,
                    principal: PrincipalDep, if_match: IfMatch = None) -> JSONResponse:
    """Only allowed transitions (409 names both states); 409 to the loser of a race."""
    return _answer(cases.transition(
        conn, incident_id, body.to, principal, cases.parse_version(if_match, body.version),
        body.note, _aware(body.at), body.photo_ids))


@router.post("/incidents/{incident_id}/merge", dependencies=[READ_INCIDENTS],
            summary="Merge duplicates / 合并重复事件")
def post_merge(incident_id: str, body: MergeIn, conn: ConnDep, principal: PrincipalDep,
               if_match: IfMatch = None) -> JSONResponse:
    """Merge duplicates into this case; every report and channel is kept."""
    return _answer(cases.merge(conn, incident_id, body.duplicate_ids, principal,
                               cases.parse_version(if_match, body.version), body.note))


@router.post("/incidents/{incident_id}/reassign", dependencies=[READ_INCIDENTS],
            summary="Reassign / 改派")
def post_reassign(incident_id: str, body: ReassignIn, conn: ConnDep, principal: PrincipalDep,
                  if_match: IfMatch = None) -> JSONResponse:
    """Another cell (its worker on duty follows) and/or department; an audited event."""
    return _answer(cases.reassign(conn, incident_id, principal, body.cell_code,
                                  body.department_code,
                                  cases.parse_version(if_match, body.version), body.note))


@router.post("/incidents/{incident_id}/pause", dependencies=[READ_INCIDENTS],
            summary="Pause the clock / 挂起")
def post_pause(incident_id: str, body: ClockIn, conn: ConnDep, principal: PrincipalDep,
               if_match: IfMatch = None) -> JSONResponse:
    """Stop the working-time clock (the time left is kept)."""
    return _answer(cases.pause(conn, incident_id, principal, body.note,
                               cases.parse_version(if_match, body.version), _aware(body.at)))


@router.post("/incidents/{incident_id}/resume", dependencies=[READ_INCIDENTS],
            summary="Resume the clock / 恢复")
def post_resume(incident_id: str, body: ClockIn, conn: ConnDep, principal: PrincipalDep,
                if_match: IfMatch = None) -> JSONResponse:
    """Restart the clock with the working time left at the pause."""
    return _answer(cases.resume(conn, incident_id, principal, body.note,
                                cases.parse_version(if_match, body.version), _aware(body.at)))


@router.post("/incidents/{incident_id}/extend", dependencies=[READ_INCIDENTS],
            summary="Extend the deadline / 延期")
def post_extend(incident_id: str, body: ExtendIn, conn: ConnDep, principal: PrincipalDep,
                if_match: IfMatch = None) -> JSONResponse:
    """Add working minutes to the current step's and the case's due times."""
    return _answer(cases.extend(conn, incident_id, principal, body.minutes, body.note,
                                cases.parse_version(if_match, body.version)))


@router.post("/incidents/{incident_id}/notes", dependencies=[READ_INCIDENTS],
            summary="Add a note / 备注")
def post_note(incident_id: str, body: NoteIn, conn: ConnDep, principal: PrincipalDep,
              if_match: IfMatch = None) -> JSONResponse:
    """A note (and uploaded photos) in the history, status unchanged."""
    return _answer(cases.add_note(conn, incident_id, principal, body.note,
                                  cases.parse_version(if_match, body.version), body.photo_ids))


@router.post("/incidents/{incident_id}/locate", dependencies=[READ_INCIDENTS],
            summary="Locate a case / 定位")
def post_locate(incident_id: str, body: LocateIn, conn: ConnDep,
                principal: PrincipalDep, if_match: IfMatch = None) -> JSONResponse:
    """Give a needs_location case its point; it is routed and becomes reported."""
    return _answer(intake.locate(conn, incident_id, principal, body.lon, body.lat, body.crs,
                                 cases.parse_version(if_match, body.version)))


@router.post("/incidents/{incident_id}/attachments", status_code=201,
             dependencies=[READ_INCIDENTS], summary="Attach photos / 上传照片")
async def post_attachments(incident_id: str, engine: EngineDep, settings: SettingsDep,
                           principal: PrincipalDep,
                           files: Annotated[list[UploadFile], File()],
                           note: Annotated[str | None, Form()] = None) -> JSONResponse:
    """Photos (JPEG/PNG/GIF/WebP/HEIC by content, <= 10 MB each) stored with the incident."""
    photos = [(f.filename, await f.read()) for f in files]
    stored = intake.add_photos(engine, incident_id, photos, principal,
                               settings.data_dir / "attachments", note)
    return JSONResponse(stored, status_code=201)


@router.get("/incidents/{incident_id}/attachments/{attachment_id}",
            dependencies=[READ_INCIDENTS], summary="Download a photo / 下载照片")
def get_attachment(incident_id: str, attachment_id: int, conn: ConnDep,
                   settings: SettingsDep, principal: PrincipalDep) -> Response:
    """The stored file."""
    data, ctype, name = intake.read_attachment(conn, incident_id, attachment_id, principal,
                                               settings.data_dir / "attachments")
    return Response(data, media_type=ctype,
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/me/cell", dependencies=[READ_INCIDENTS],
            summary="My cells / 我的网格")
def get_my_cell(conn: ConnDep, principal: PrincipalDep, settings: SettingsDep,
                region: str | None = None) -> dict[str, Any]:
    """The caller's cells (a grid worker's) with open and overdue counts."""
    return cases.my_cells(conn, principal, region or settings.default_region)


@router.get("/me/incidents", dependencies=[READ_INCIDENTS],
            summary="My cells' incidents / 我的事件")
def get_my_incidents(request: Request, conn: ConnDep, principal: PrincipalDep,
                     settings: SettingsDep,
                     all_statuses: bool = False, region: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
                     lon: Annotated[float | None, Query(
                         description="Where you stand (with lat): nearest first, with "
                         "distance_m")] = None,
                     lat: Annotated[float | None, Query(description="See lon")] = None,
                     crs: Annotated[str, Query(description="CRS of lon/lat: EPSG:4490, "
                                               "EPSG:4326, GCJ02, BD09")] = "EPSG:4490",
                     ) -> dict[str, Any]:
    """Open incidents of the caller's cells (every status with ``all_statuses=true``); most
    urgent first, or nearest first from ``lon``/``lat`` (a phone's position, ``crs=GCJ02``)."""
    from geo.crs.validate import to_cgcs2000_point
    from geo.incidents.flow import OPEN

    if (lon is None) != (lat is None):
        raise InvalidInput("lon 与 lat 须同时给出 / give both lon and lat, or neither",
                           field="lat" if lat is None else "lon")
    near = None if lon is None or lat is None else to_cgcs2000_point(lon, lat, crs)
    statuses = None if all_statuses else sorted(OPEN)
    cells = sorted(principal.cell_codes) if principal.role == "worker" else None
    items = cases.list_incidents(conn, principal, region or settings.default_region, statuses,
                                 cells, limit=limit, near=near)
    audit_revealed(request, principal, items)
    return {"user": principal.user, "count": len(items), "items": items}


@router.get("/board", dependencies=[READ_INCIDENTS],
            summary="Command-centre board / 指挥中心看板")
def get_board(conn: ConnDep, principal: PrincipalDep, settings: SettingsDep,
              as_of: dt.datetime | None = None, region: str | None = None) -> dict[str, Any]:
    """Counts by status, category and township, and the overdue list."""
    return cases.board(conn, principal, region or settings.default_region, _aware(as_of))


@router.get("/kpi", dependencies=[LOGGED_IN],
            summary="KPIs / 考核指标",
            responses={200: {"content": {"application/json": {}, XLSX: {}}}})
def get_kpi(conn: ConnDep, principal: PrincipalDep, settings: SettingsDep,
            date_from: Annotated[dt.date, Query(alias="from")],
            date_to: Annotated[dt.date, Query(alias="to", description="exclusive")],
            group_by: Literal["township", "cell", "department", "worker", "category"]
            = "township",
            format: Literal["json", "xlsx"] = "json", as_of: dt.datetime | None = None,
            region: str | None = None) -> Response:
    """结案率, 按期结案率, average handling time, rework and repeat-report rates."""
    result = kpi(conn, principal, region or settings.default_region, date_from, date_to,
                 group_by, _aware(as_of))
    if format == "xlsx":
        name = f"kpi_{group_by}_{date_from}_{date_to}.xlsx"
        return Response(kpi_xlsx(result), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return JSONResponse(result)

