"""Incidents (事件): intake, the case flow, the list and the overdue list.

Worker views are in :mod:`api.routes.me`, the board in :mod:`api.routes.board`, KPIs in
:mod:`api.routes.kpi`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import (
    COMMAND_ONLY,
    LIGHT_ROWS,
    READ_INCIDENTS,
    AdminDep,
    AsOfDep,
    CaseDep,
    ConnDep,
    EngineDep,
    PrincipalDep,
    RegionDep,
    SettingsDep,
    VersionDep,
    aware,
    caller_region,
    expensive_when,
)
from api.reveal import audit_revealed
from api.schemas import files, ok
from api.schemas import incidents as schemas_incidents
from api.schemas import places as schemas_places
from api.uploads import category_map_form, commit_flag, content_disposition, import_upload
from geo.crs.validate import to_cgcs2000_point
from geo.errors import InvalidInput
from geo.incidents import (
    attachments,
    callback,
    cases,
    clock,
    intake,
    reference,
    requests,
    views,
)
from geo.io.importer import ImportOptions
from geo.io.workbook import MEDIA_TYPE as XLSX
from geo.regions.locate import region_of_point

router = APIRouter(tags=["incidents 事件"])
CrsOutQuery = Annotated[str | None, Query(
    description="Answer lon/lat in this CRS: EPSG:4490 (default), EPSG:4326, GCJ02 (AMap, "
    "Tencent), BD09 (Baidu)")]

class PhotoIn(BaseModel):
    """A photo sent inline with a report."""

    filename: str | None = None
    content_base64: str


class IncidentIn(BaseModel):
    """One report. The place is coordinates (lon, lat, crs) or a compound/community name."""

    category: str = Field(description="Category code or name, e.g. ebike_charging")
    channel: str | None = Field(
        None, description="12345, 110, patrol, photo, camera, petition. Default: 12345 for the "
                          "command centre, patrol for grid workers and departments (who may not "
                          "use 12345, 110 or petition: those are the command centre's desks)")
    description: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = Field("EPSG:4490", description="EPSG:4490, EPSG:4326, GCJ02, BD09, EPSG:nnnn")
    place: str | None = Field(None, description="Compound or community name, e.g. 幸福小区 3号楼")
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reported_at: dt.datetime | None = Field(
        None, description="Default: now. Grid workers and departments: at most 24 h back, and "
                          "the deadlines of their reports run from entry")
    urgency: str = "normal"
    department: str | None = Field(None, description="Override of the category's department "
                                                     "(command centre only)")
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
    """Another cell and/or department, or a category (classify a 待分类 case)."""

    cell_code: str | None = None
    department_code: str | None = None
    category_code: str | None = Field(None, description="Classify the case (e.g. one a "
                                      "hotline import filed as unclassified 待分类)")
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


class CallbackIn(BaseModel):
    """回访: the caller's satisfaction with a closed case."""

    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"] = Field(
        description="satisfied 满意, basically_satisfied 基本满意, dissatisfied 不满意")
    note: str | None = None
    version: int | None = None


class RequestIn(BaseModel):
    """A request to the command centre on a case."""

    kind: str = Field(description="extension (申请延期), return (退回指挥中心), suspend (申请挂起)")
    reason: str = Field(max_length=2000)
    minutes: int | None = Field(None, description="Working minutes asked for (extension)")


class DecisionIn(BaseModel):
    """The command centre's decision on a request."""

    approve: bool
    note: str | None = None
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
             responses=ok(schemas_incidents.Incident, status=201) |
                {422: {"description": "Bad input; or the place is outside the region "
                                             "(the report is kept as needs_location)"}},
                                             response_model=None)
def post_incident(request: Request, body: IncidentIn, engine: EngineDep, settings: SettingsDep,
                  principal: PrincipalDep) -> JSONResponse:
    """Store and route one report: cell, worker, department, cameras, duplicates, due time."""
    report = intake.Report(
        category=body.category, channel=body.channel, description=body.description,
        lon=body.lon, lat=body.lat, crs=body.crs, place=body.place,
        reporter_name=body.reporter_name, reporter_phone=body.reporter_phone,
        reported_at=body.reported_at, urgency=body.urgency, department=body.department,
        source_ref=body.source_ref,
        photos=[attachments.decode_photo(p.model_dump()) for p in body.photos],
    )
    placed = body.lon is not None and body.lat is not None  # the point names its county
    region = caller_region(settings, principal, body.region, whole_scope=placed)
    if body.region is None and body.lon is not None and body.lat is not None:
        # no region named: the county whose boundary covers the point (geo.regions.locate)
        # when it is one of the caller's. A point over the line into a county outside her
        # scope stays with her county, as a row of a bulk upload does: kept as needs_location
        # within NEAR_REGION_M of it (GPS error), refused (422) beyond (review round 9).
        lon_c, lat_c = to_cgcs2000_point(body.lon, body.lat, body.crs)
        located = region_of_point(engine, None, region, lon_c, lat_c)
        region = located if principal.in_region(located) else region
    inc = intake.submit_incident(engine, report, principal, region,
                                 settings.data_dir / "attachments")
    request.state.audit = {"action": "create_incident", "object_type": "incident",
                           "object_id": inc["id"], "region_code": inc["region_code"],
                           "detail": {"code": inc["code"]}}
    return _answer(inc, 201)


@router.post("/incidents/bulk", dependencies=[COMMAND_ONLY],
             summary="Import a hotline export (CSV/XLSX) as cases / 批量导入工单",
             responses=ok(schemas_places.ImportReport),
             response_model=None)
def post_bulk(engine: EngineDep, settings: SettingsDep, principal: PrincipalDep,
              file: Annotated[UploadFile, File(description="CSV (UTF-8/GBK) or XLSX")],
              commit: Annotated[bool | None, Form()] = None,
    commit_q: Annotated[bool | None, Query(alias="commit", description="commit, also accepted "
                                           "in the query")] = None,
              skip_refused: Annotated[bool, Form()] = False,
              category_map: Annotated[str | None, Form(
                  description="The source's category labels: VALUE=code;VALUE2=code2 (labels "
                  "matching no category are filed as 待分类 for the command centre)")] = None,
              region: Annotated[str | None, Form()] = None,
              profile: Annotated[str | None, Form(
                  description="A saved import profile (POST /import/profiles/propose): the "
                  "source's columns, category labels, time formats")] = None) -> JSONResponse:
    """Each row a case (routed, deadlines, duplicate flags); the one import pipeline and report.

    The command centre's intake of hotline (12345) exports: cases from anywhere in the county,
    dated when they were called in.

    A dry run (nothing written) unless ``commit=true``, like every import; rows already imported
    (same 工单编号) are ``unchanged``; refused rows are listed, and a commit with refused rows
    writes nothing (422 with the report) unless ``skip_refused=true``.
    """
    opts = ImportOptions(region=caller_region(settings, principal, region),
                         commit=commit_flag(commit, commit_q), skip_refused=skip_refused,
                         as_cases=True, category_map=category_map_form(category_map),
                         profile=profile)
    report = import_upload(engine, settings, "incidents", file, opts, principal)
    return JSONResponse(report.to_dict(), status_code=422 if report.error else 200)


@router.get("/incidents", dependencies=[READ_INCIDENTS,
                                        expensive_when("limit", LIGHT_ROWS)],
            summary="Incidents in your scope / 事件列表",
            responses=ok(schemas_incidents.IncidentList),
            response_model=None)
def get_incidents(request: Request, conn: ConnDep, principal: PrincipalDep, region: RegionDep,
                  status: Annotated[list[str] | None, Query()] = None,
                  cell: Annotated[list[str] | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
                  offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                  routing: Annotated[bool, Query(
                      description="Add each case's routing and deadline details (large)")
                  ] = False,
                  crs: CrsOutQuery = None,
                  ) -> list[dict[str, Any]]:
    """Incidents, soonest due first; reporter fields masked unless ``?unmask=true``.

    Compact: each case without its routing details unless ``routing=true``; with the actions
    the caller may take now (``allowed_actions``)."""
    items = views.list_incidents(conn, principal, region, status,
                                 cell, limit=limit, offset=offset, compact=not routing,
                                 crs=crs)
    audit_revealed(request, principal, items)
    return items


@router.get("/incidents/categories", dependencies=[READ_INCIDENTS],
            summary="Incident categories / 事件类别",
            responses=ok(schemas_incidents.Categories), response_model=None)
def get_categories(conn: ConnDep, principal: PrincipalDep, region: RegionDep
                   ) -> dict[str, Any]:
    """The categories a report may take, with Chinese and English names and departments; the
    caller's most used first (her reports of the last 90 days, then her scope's cases of the
    last year)."""
    items = views.categories_for(conn, principal, region)
    return {"count": len(items), "items": items}


@router.put("/incidents/categories/{code}/limits", summary="Set a category's time limits "
            "/ 设置事件类别时限", responses=ok(schemas_incidents.CategoryLimits),
            response_model=None)
def put_category_limits(code: str, body: dict[str, Any], conn: ConnDep,
                        admin: AdminDep, region: RegionDep) -> dict[str, Any]:
    """Admins: the minutes of each step (register, dispatch, handle, verify, close) per urgency
    (``normal``, ``urgent``), each in working time or round the clock: ``{"urgent": {"clock":
    "calendar", "register": 10, "dispatch": 10, "handle": 120, "verify": 60}, "normal":
    {"register": 30, "handle": {"minutes": 2400, "clock": "working"}, ...}}``. Urgent steps
    run round the clock unless said otherwise. The limits are the county's own (``region``:
    the admin's county): new steps of the county's cases of the category follow them, other
    counties keep theirs. KPIs and the overdue list read the due times the steps were given.

    整体替换 / a whole replacement: the body replaces the county's limits of the category; a
    step or urgency left out takes the default minutes (the answer's ``steps`` shows every
    step as it now is), so send every step you want to keep."""
    return reference.set_limits(conn, code, body, region)


@router.get("/incidents/nearby", dependencies=[READ_INCIDENTS],
            summary="Possible duplicates before reporting / 附近同类事件",
            responses=ok(schemas_incidents.Nearby), response_model=None)
def get_nearby(conn: ConnDep, principal: PrincipalDep, region: RegionDep,
               lon: float, lat: float,
               category: Annotated[str, Query(description="Category code or name")],
               crs: Annotated[str, Query(description="CRS of lon/lat and of the answer: "
                                         "EPSG:4490, EPSG:4326, GCJ02, BD09")] = "EPSG:4490",
               ) -> dict[str, Any]:
    """The cases a report of ``category`` here would duplicate (the intake's own rule: same
    category group, within the category's radius and time window), in the caller's scope
    only: shown before sending so that the same thing is not reported twice."""
    lon_c, lat_c = to_cgcs2000_point(lon, lat, crs)
    items = views.nearby(conn, principal, region, lon_c, lat_c, category)
    return {"count": len(items), "items": items}


@router.get("/incidents/overdue", dependencies=[
                READ_INCIDENTS, expensive_when("limit", LIGHT_ROWS),
                expensive_when("format", None, "xlsx")],
            summary="Overdue open cases / 超期事件", responses=ok(schemas_incidents.OverdueList)
            | {200: {"content": {"application/json": {}, XLSX: {}}}},
            response_model=None)
def get_overdue(request: Request, conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep,
                region: RegionDep,
                limit: Annotated[int | None, Query(
                    ge=1, le=10_000, description="At most this many (default 500; XLSX "
                    "10,000, and the file says when there are more)")] = None,
                format: Annotated[Literal["json", "xlsx"], Query(
                    description="json, or xlsx: the command centre's Excel (Chinese headers, "
                    "names, overdue working hours, a definitions sheet)")] = "json",
                lang: Annotated[Literal["zh", "en"], Query(
                    description="XLSX headers and labels")] = "zh",
                ) -> dict[str, Any] | Response:
    """Open, unpaused cases whose current step is past its due time (working time)."""
    if format == "xlsx":
        from geo import localtime
        from geo.io.sheets import overdue_workbook

        now = as_of or localtime.now()
        cap = limit or 10_000
        items = views.list_incidents(conn, principal, region, overdue_only=True, now=now,
                                     limit=cap + 1)
        audit_revealed(request, principal, items[:cap])
        body = overdue_workbook(conn, principal, items[:cap], region, now,
                                more=len(items) > cap, lang=lang)
        safe = re.sub(r"[^0-9A-Za-z_-]", "_", region)  # no request text in file names
        name = f"overdue_{safe}_{now.astimezone(localtime.CST):%Y%m%d_%H%M}.xlsx"
        return Response(body, media_type=XLSX,
                        headers={"Content-Disposition": content_disposition(name),
                                 "X-Row-Count": str(min(len(items), cap))})
    items = views.list_incidents(conn, principal, region,
                                 overdue_only=True, now=as_of, limit=limit or 500)
    audit_revealed(request, principal, items)
    return {"count": len(items), "as_of": (as_of or dt.datetime.now(dt.UTC)).isoformat(),
            "items": items}


@router.get("/incidents/{incident_id}", dependencies=[READ_INCIDENTS],
            summary="One incident with its history / 事件详情",
            responses=ok(schemas_incidents.Incident),
            response_model=None)
def get_incident(request: Request, incident_id: CaseDep, conn: ConnDep, principal: PrincipalDep,
                 as_of: AsOfDep, crs: CrsOutQuery = None) -> JSONResponse:
    """The incident, its events, photos, merged reports, pending requests and the actions the
    caller may take now; ETag = version."""
    inc = cases.get_incident(conn, incident_id, principal, as_of, crs=crs)
    audit_revealed(request, principal, [inc])
    return _answer(inc)


@router.get("/incidents/{incident_id}/duplicates", dependencies=[READ_INCIDENTS],
            summary="Possible duplicates of a case / 疑似重复事件",
            responses=ok(schemas_incidents.Nearby), response_model=None)
def get_duplicates(request: Request, conn: ConnDep, principal: PrincipalDep,
                   incident_id: CaseDep) -> dict[str, Any]:
    """The case (compact) and the reports that may be the same matter, earlier or later, in
    the caller's scope: candidates to merge (``POST /incidents/{code}/merge``)."""
    found = views.duplicates_of(conn, principal, incident_id)
    audit_revealed(request, principal, [found["incident"]])
    return found


@router.post("/incidents/{incident_id}/transition", dependencies=[READ_INCIDENTS],
            summary="Move a case / 流转", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_transition(incident_id: CaseDep, body: TransitionIn, conn: ConnDep,
                    principal: PrincipalDep, version: VersionDep) -> JSONResponse:
    """Only allowed transitions (409 names both states); 409 to the loser of a race."""
    return _answer(cases.transition(
        conn, incident_id, body.to, principal, version.of(body.version),
        body.note, aware(body.at, "at"), body.photo_ids))


@router.post("/incidents/{incident_id}/merge", dependencies=[READ_INCIDENTS],
            summary="Merge duplicates / 合并重复事件", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_merge(incident_id: CaseDep, body: MergeIn, conn: ConnDep, principal: PrincipalDep,
               version: VersionDep) -> JSONResponse:
    """Merge duplicates into this case; every report and channel is kept."""
    return _answer(cases.merge(conn, incident_id, body.duplicate_ids, principal,
                               version.of(body.version), body.note))


@router.post("/incidents/{incident_id}/reassign", dependencies=[READ_INCIDENTS],
            summary="Reassign / 改派",
            responses=ok(schemas_incidents.Incident), response_model=None)
def post_reassign(incident_id: CaseDep, body: ReassignIn, conn: ConnDep, principal: PrincipalDep,
                  version: VersionDep) -> JSONResponse:
    """Another cell (its worker on duty follows) and/or department; an audited event."""
    return _answer(cases.reassign(conn, incident_id, principal, body.cell_code,
                                  body.department_code,
                                  version.of(body.version), body.note, body.category_code))


@router.post("/incidents/{incident_id}/pause", dependencies=[READ_INCIDENTS],
            summary="Pause the clock / 挂起", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_pause(incident_id: CaseDep, body: ClockIn, conn: ConnDep, principal: PrincipalDep,
               version: VersionDep) -> JSONResponse:
    """Stop the working-time clock (the time left is kept)."""
    return _answer(clock.pause(conn, incident_id, principal, body.note,
                               version.of(body.version), aware(body.at, "at")))


@router.post("/incidents/{incident_id}/resume", dependencies=[READ_INCIDENTS],
            summary="Resume the clock / 恢复", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_resume(incident_id: CaseDep, body: ClockIn, conn: ConnDep, principal: PrincipalDep,
                version: VersionDep) -> JSONResponse:
    """Restart the clock with the working time left at the pause."""
    return _answer(clock.resume(conn, incident_id, principal, body.note,
                                version.of(body.version), aware(body.at, "at")))


@router.post("/incidents/{incident_id}/extend", dependencies=[READ_INCIDENTS],
            summary="Extend the deadline / 延期", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_extend(incident_id: CaseDep, body: ExtendIn, conn: ConnDep, principal: PrincipalDep,
                version: VersionDep) -> JSONResponse:
    """Add working minutes to the current step's and the case's due times."""
    return _answer(clock.extend(conn, incident_id, principal, body.minutes, body.note,
                                version.of(body.version)))


@router.post("/incidents/{incident_id}/notes", dependencies=[READ_INCIDENTS],
            summary="Add a note / 备注", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_note(incident_id: CaseDep, body: NoteIn, conn: ConnDep, principal: PrincipalDep,
              version: VersionDep) -> JSONResponse:
    """A note (and uploaded photos) in the history, status unchanged."""
    return _answer(cases.add_note(conn, incident_id, principal, body.note,
                                  version.of(body.version), body.photo_ids))


@router.post("/incidents/{incident_id}/callback", dependencies=[READ_INCIDENTS],
             summary="Record the caller's satisfaction (回访) / 回访", response_model=None,
             responses=ok(schemas_incidents.Incident))
def post_callback(incident_id: CaseDep, body: CallbackIn, conn: ConnDep, principal: PrincipalDep,
                  version: VersionDep) -> JSONResponse:
    """After closing, the command centre records the caller's satisfaction (once; If-Match);
    hotline cases send it back to the 12345 system; /kpi counts it in 满意率."""
    return _answer(callback.record_callback(conn, incident_id, principal, body.satisfaction,
                                            body.note, version.of(body.version)))


@router.post("/incidents/{incident_id}/requests", status_code=201,
             dependencies=[READ_INCIDENTS],
             summary="Ask the command centre: extension, return, suspension / 申请延期、退单、挂起",
             responses=ok(schemas_incidents.CaseRequest, status=201), response_model=None)
def post_request(incident_id: CaseDep, body: RequestIn, conn: ConnDep,
                 principal: PrincipalDep) -> JSONResponse:
    """A grid worker or department asks for more time (``extension`` with ``minutes`` of
    working time), to give the case back to the command centre (``return``: not theirs,
    wrongly dispatched) or to suspend it (``suspend``); a reason is required. The command
    centre decides (``POST .../requests/{id}/decision``)."""
    return JSONResponse(requests.create(conn, incident_id, principal, body.kind, body.reason,
                                        body.minutes), status_code=201)


@router.post("/incidents/{incident_id}/requests/{request_id}/decision",
             dependencies=[READ_INCIDENTS], summary="Decide a request / 审批申请",
             responses=ok(schemas_incidents.Incident), response_model=None)
def post_decision(incident_id: CaseDep, request_id: int, body: DecisionIn, conn: ConnDep,
                  principal: PrincipalDep, version: VersionDep) -> JSONResponse:
    """The command centre approves (the extension is granted, the case goes back to
    ``registered`` to be dispatched again, or the clock stops) or refuses a request."""
    return _answer(requests.decide(conn, incident_id, request_id, principal, body.approve,
                                   body.note, version.of(body.version)))


@router.post("/incidents/{incident_id}/locate", dependencies=[READ_INCIDENTS],
            summary="Locate a case / 定位", responses=ok(schemas_incidents.Incident),
            response_model=None)
def post_locate(incident_id: CaseDep, body: LocateIn, conn: ConnDep,
                principal: PrincipalDep, version: VersionDep) -> JSONResponse:
    """Give a needs_location case its point; it is routed and becomes reported."""
    return _answer(intake.locate(conn, incident_id, principal, body.lon, body.lat, body.crs,
                                 version.of(body.version)))


@router.post("/incidents/{incident_id}/attachments", status_code=201,
             dependencies=[READ_INCIDENTS], summary="Attach photos / 上传照片",
             responses=ok(schemas_incidents.Photos, status=201),
             response_model=None)
async def post_attachments(incident_id: CaseDep, engine: EngineDep, settings: SettingsDep,
                           principal: PrincipalDep,
                           files: Annotated[list[UploadFile] | None, File(
                               description="One or more photos (field name files or file)")
                           ] = None,
                           file: Annotated[list[UploadFile] | None, File(
                               description="Same as files")] = None,
                           note: Annotated[str | None, Form()] = None) -> JSONResponse:
    """Photos (JPEG/PNG/GIF/WebP/HEIC by content, <= 10 MB each) stored with the incident.

    Multipart form; the photos under ``files`` or ``file`` (both accepted, repeated for
    several)."""
    given = [*(files or []), *(file or [])]
    if not given:
        raise InvalidInput("请上传照片: multipart 表单字段 files (或 file) / send the photos as "
                           "multipart form field 'files' (or 'file')", field="files")
    photos = [(f.filename, await f.read()) for f in given]
    stored = attachments.add_photos(engine, incident_id, photos, principal,
                               settings.data_dir / "attachments", note)
    return JSONResponse(stored, status_code=201)


@router.get("/incidents/{incident_id}/attachments/{attachment_id}",
            dependencies=[READ_INCIDENTS], summary="Download a photo / 下载照片",
            response_class=Response,
            responses=files("image/jpeg", "image/png", "image/gif", "image/webp",
                            description="The stored photo"))
def get_attachment(incident_id: CaseDep, attachment_id: int, conn: ConnDep,
                   settings: SettingsDep, principal: PrincipalDep) -> Response:
    """The stored file."""
    data, ctype, name = attachments.read_attachment(conn, incident_id, attachment_id, principal,
                                               settings.data_dir / "attachments")
    # the name as the case's free text is seen (masked for callers who get masking)
    name = cases.attachment_name(principal, cases.fetch(conn, incident_id, principal), name)
    return Response(data, media_type=ctype,
                    headers={"Content-Disposition": content_disposition(name, "inline")})
