"""Intake from every channel: one report, bulk hotline exports (CSV/XLSX), photos.

A report is routed in the same transaction that stores it (``geo.incidents.routing``). A place
that cannot be resolved, or a point outside every cell of the region, keeps the report with
status ``needs_location`` (the single-report API then answers 422 naming the kept case).
Photos are checked by their magic bytes and size and written under ``<data_dir>/attachments``;
when the store cannot be written the incident is kept and the error says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo import localtime
from geo.auth.principal import Principal
from geo.crs.validate import to_cgcs2000_point
from geo.db import shards
from geo.db.tables import vocab
from geo.errors import Forbidden, InvalidInput, NotFound, TooLarge, Unavailable
from geo.incidents.attachments import MAX_PHOTO_BYTES, MAX_PHOTOS, check_photos, store_photos
from geo.incidents.calendar import WorkCalendar, load_calendar
from geo.incidents.cases import add_event, fetch, incident_json
from geo.incidents.clock import initial_deadlines
from geo.incidents.codes import intake_code
from geo.incidents.reference import county_limits
from geo.incidents.routing import (
    far_from_region,
    link_back,
    resolve_category,
    resolve_department,
    resolve_place,
    route_point,
)
from geo.io.text import check_text

CHANNEL_ALIASES = {"12345热线": "12345", "热线": "12345", "110报警": "110", "巡查": "patrol",
                   "网格员巡查": "patrol", "随手拍": "photo", "视频": "camera",
                   "摄像头": "camera", "信访": "petition", "hotline": "12345"}
URGENCY_ALIASES = {"紧急": "urgent", "一般": "normal", "普通": "normal", "急": "urgent"}


@dataclass
class Report:
    """One incident report as received (before routing)."""

    category: str
    channel: str | None = None  # None: "12345" for the command centre, "patrol" for field staff
    description: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "EPSG:4490"
    place: str | None = None  # compound / community name, possibly with a building
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reported_at: dt.datetime | None = None
    urgency: str = "normal"
    department: str | None = None  # override of the category's department
    source_ref: str | None = None  # the channel's own id (hotline work-order number)
    category_label: str | None = None  # the source's own label when it matched no category
    photos: list[tuple[str | None, bytes]] = field(default_factory=list)


_MAX_LEN = {"category": 100, "channel": 20, "description": 5000, "place": 300,
            "reporter_name": 100, "reporter_phone": 32, "urgency": 10, "department": 100,
            "source_ref": 100, "crs": 100}


def too_long(name: str, value: Any) -> str | None:
    """The refusal of a field of a report longer than its limit (:data:`_MAX_LEN`), None when
    it fits: the intake's rule, also applied to each row of an import."""
    limit = _MAX_LEN.get(name)
    if limit is None or value is None or len(str(value)) <= limit:
        return None
    return f"字段 {name} 过长 (上限 {limit} 字符) / {name} is longer than {limit} characters"


def _validate(conn: Connection, r: Report) -> tuple[dict[str, Any], str, str]:
    for name in _MAX_LEN:
        value = getattr(r, name)
        why = too_long(name, value)
        if why:
            raise InvalidInput(why, field=name)
        if isinstance(value, str):
            check_text(value, name)  # control characters: refused (geo.io.text)
    cat = resolve_category(conn, r.category)
    given = (r.channel or "").strip() or "12345"
    channel = CHANNEL_ALIASES.get(given, given)
    if channel not in vocab.CHANNEL.codes:
        raise InvalidInput(f"未知渠道 {r.channel!r} / unknown channel {r.channel!r}; valid "
                           f"channels: {list(vocab.CHANNEL.codes)}", field="channel",
                           valid=list(vocab.CHANNEL.codes))
    urgency = URGENCY_ALIASES.get((r.urgency or "normal").strip(), (r.urgency or "").strip())
    if urgency not in vocab.URGENCY.codes:
        raise InvalidInput(f"未知紧急程度 {r.urgency!r} / unknown urgency {r.urgency!r}; valid: "
                           f"{list(vocab.URGENCY.codes)}", field="urgency",
                           valid=list(vocab.URGENCY.codes))
    if (r.lon is None) != (r.lat is None):
        raise InvalidInput("经纬度须同时给出 / give both lon and lat", field="lon")
    if r.lon is None and not (r.place or "").strip():
        raise InvalidInput("请给出坐标 (lon, lat, crs) 或地点名称 place / give coordinates "
                           "(lon, lat, crs) or a place name (compound or community)",
                           field="place")
    if r.reported_at is not None:
        check_reported_at(r.reported_at)
    return cat, channel, urgency


REPORT_CLOCK_AHEAD = dt.timedelta(minutes=5)


def reported_at_bounds() -> tuple[dt.datetime, dt.datetime]:
    """A range of instants :func:`check_reported_at` surely allows now (from 2000-01-02 UTC,
    whatever the zone, to 5 minutes ahead), for a batch to test many rows at once; a row
    outside goes to :func:`check_reported_at` for the exact rule and its reason."""
    return (dt.datetime(2000, 1, 2, tzinfo=dt.UTC), localtime.now() + REPORT_CLOCK_AHEAD)


def check_reported_at(when: dt.datetime) -> None:
    """The one rule for a report time (every intake and the history import): with a time
    zone, not before 2000, not more than 5 minutes ahead of now (a phone clock a little
    fast); InvalidInput (field ``reported_at``) otherwise."""
    if when.tzinfo is None:
        raise InvalidInput(f"上报时间缺少时区 / reported_at without time zone: "
                           f"{when}; add +08:00", field="reported_at")
    if when.year < 2000:
        raise InvalidInput(f"上报时间 {when} 早于 2000 年 / reported_at "
                           f"{when} is before 2000", field="reported_at")
    if when > reported_at_bounds()[1]:
        raise InvalidInput(f"上报时间在未来 / reported_at is in the future: {when}",
                           field="reported_at")


def create_incident(
    conn: Connection, report: Report, principal: Principal, region_code: str,
    cal: WorkCalendar | None = None,
) -> dict[str, Any]:
    """Store and route one report in the caller's transaction; return the incident JSON.

    Raises InvalidInput for bad input (unknown category/channel/department, bad coordinates).
    A report whose place cannot be resolved is stored with status ``needs_location``.
    """
    if principal.role in ("planner", "viewer"):
        raise Forbidden(f"角色 {principal.role} 不能上报事件 / role {principal.role} cannot "
                        "report incidents")
    if not principal.in_region(region_code):
        raise Forbidden(f"无权访问区域 {region_code} / region {region_code} is outside your "
                        "scope")
    if not principal.sees_all_incidents() and not (report.channel or "").strip():
        report = replace(report, channel="patrol")  # field staff report what they found
    cat, channel, urgency = _validate(conn, report)
    dept = (resolve_department(conn, report.department) if report.department
            else {"code": cat["department_code"]})
    _check_field_labels(principal, channel, dept["code"], cat["department_code"])
    # a phone clock a little ahead (within the 5 minutes _validate allows): reported now
    entered_at = localtime.now()
    reported_at = min(report.reported_at or entered_at, entered_at)
    routing: dict[str, Any] = {"routed_at": localtime.now().isoformat()}
    if report.source_ref:
        if not principal.sees_all_incidents():
            # the channel's own number (12345 work order) identifies a case on re-import:
            # only the command centre's intake may claim one (review finding F12)
            raise Forbidden("只有指挥中心可以登记来源工单编号 source_ref / only the command "
                            "centre's intake may give source_ref (the hotline work-order number)",
                            field="source_ref")
        routing["source_ref"] = report.source_ref
    if report.category_label:
        routing["category_label"] = {
            "label": report.category_label,
            "reason": f"来源类别「{report.category_label}」未对应任何事件类别, 待指挥中心分类 / "
                      f"the source's category {report.category_label!r} matches no category: "
                      "to be classified by the command centre"}
    lon = lat = None
    compound_id = None
    if report.lon is not None and report.lat is not None:
        lon, lat = to_cgcs2000_point(report.lon, report.lat, report.crs)
        routing["place"] = {"source": "coordinates", "crs": report.crs,
                            "reason": f"上报坐标 ({report.crs}) 转换为 CGCS2000 / reported "
                                      f"coordinates in {report.crs}, converted to CGCS2000"}
    else:
        found = resolve_place(conn, region_code, report.place or "")
        if found is None or found["source"] == "none":
            routing["place"] = {"source": "unresolved", "text": report.place,
                                "reason": f"地点「{report.place}」未匹配到登记的地址 / "
                                          f"nothing in the address register matches "
                                          f"{report.place!r}"
                                          + (f" ({found['reason']})" if found else "")}
        elif "lon" not in found:  # a weak match: suggested, not placed (review list)
            routing["place"] = {**found, "text": report.place}
        else:
            lon, lat = found["lon"], found["lat"]
            compound_id = found.get("compound_id")
            routing["place"] = {k: v for k, v in found.items() if k not in ("lon", "lat")}
    status = "reported"
    ids: dict[str, Any] = {}
    if lon is not None and lat is not None:
        try:
            routed = route_point(conn, region_code, lon, lat, reported_at, cat)
            ids = routed.pop("_ids")
            routing.update(routed)
        except NotFound as exc:
            far = far_from_region(conn, region_code, lon, lat)
            if far is not None:  # not a place in the county at all: refused, nothing stored
                raise InvalidInput(far, field="lon") from exc
            status = "needs_location"
            routing["cell"] = {"code": None, "reason": exc.message}
    else:
        status = "needs_location"
    routing["department"] = {
        "code": dept["code"],
        "reason": (f"按类别「{cat['name']}」的主管部门 / the department of category "
                   f"{cat['code']} in the category table") if not report.department else
                  "上报时指定 / given with the report",
    }
    _check_own_scope(principal, status, ids.get("cell_code"), dept["code"], reported_at)
    if principal.role == "department" and ids.get("worker_id") is not None:
        # a department's own case is its own work: the cell's grid worker is named for
        # information, and the case is not charged to her (review finding F16)
        ids["worker_id"] = None
        if isinstance(routing.get("worker"), dict):
            routing["worker"]["charged"] = False
            routing["worker"]["reason"] = (
                f"部门 {dept['code']} 自行上报并处置, 不计入网格员考核 / reported by department "
                f"{dept['code']} for itself: not charged to the cell's grid worker")
    cal = cal or load_calendar(conn, region_code)
    # Deadlines run from the report time when the command centre enters it (a hotline call
    # logged late is late), from the entry time when field staff do: a report they queued
    # offline or dated back is never overdue on arrival (review finding F16).
    clock_start = reported_at if principal.sees_all_incidents() else entered_at
    limits = county_limits(conn, region_code, cat["code"])[cat["code"]]
    due, final, clock = initial_deadlines(cal, limits, urgency, "register",
                                          clock_start, clock_start)
    new_id, code = _free_code(conn, region_code, reported_at)
    import json

    conn.execute(text("""
        INSERT INTO incident (id, region_code, code, category_code, channel, status, urgency,
            reported_at, description, location_text, reporter_name, reporter_phone, geom,
            boundary_set_id, cell_code, community_code, township_code, worker_id,
            department_code, compound_id, routing, due_at, final_due_at, deadline)
        VALUES (:id, :r, :code, :cat, :ch, :st, :urg, :t, :descr, :loc, :rn, :rp,
            ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4490),
            :bs, :cell, :comm, :town, :worker, :dept, :cmp, CAST(:routing AS jsonb), :due,
            :final, CAST(:deadline AS jsonb))
    """), {"id": new_id, "r": region_code, "code": code, "cat": cat["code"], "ch": channel,
           "st": status, "urg": urgency, "t": reported_at, "descr": report.description,
           "loc": report.place, "rn": report.reporter_name, "rp": report.reporter_phone,
           "lon": lon, "lat": lat, "bs": ids.get("boundary_set_id"),
           "cell": ids.get("cell_code"), "comm": ids.get("community_code"),
           "town": ids.get("township_code"), "worker": ids.get("worker_id"),
           "dept": dept["code"], "cmp": compound_id,
           "routing": json.dumps(routing, default=str), "due": due, "final": final,
           "deadline": json.dumps(clock)})
    row = fetch(conn, new_id, _SYSTEM)
    link_back(conn, row, routing.get("duplicates") or [])
    add_event(conn, row, "intake", principal.user, reported_at,
              f"{channel} 上报 / reported via {channel}",
              {"routing": {k: routing[k] for k in ("cell", "department", "place")
                           if k in routing},
               "due_at": due.isoformat()},
              to_status=status)
    return incident_json(conn, fetch(conn, new_id, _SYSTEM), principal)


_SYSTEM = Principal(user="system", role="admin")
_CODE_TRIES = 1000


def _free_code(conn: Connection, region_code: str, reported_at: dt.datetime) -> tuple[int, str]:
    """The next id and its intake code, skipping codes already taken (a code of this form
    stored before imports refused them would otherwise fail the report: review round 3, R9)."""
    for _ in range(_CODE_TRIES):
        new_id = int(conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('public.incident', 'id'))")).scalar_one())
        code = intake_code(reported_at, new_id)
        if conn.execute(text("SELECT 1 FROM incident WHERE region_code = :r AND code = :c"),
                        {"r": region_code, "c": code}).first() is None:
            return new_id, code
    raise Unavailable("无法生成空闲的事件编号, 请稍后重试 / no free incident code could be "
                      "made: try again later")

# How far back grid workers and departments may date a report: a phone that queued it offline
# sends it later the same day. The command centre may enter older reports (a paper log, a
# hotline export); each such entry records when it was entered (cases.add_event).
FIELD_BACKDATE_MAX = dt.timedelta(hours=24)


def field_time_window() -> tuple[dt.datetime, dt.datetime]:
    """The times grid workers and departments may give now (a report, a patrol and its
    points, a check-in): from :data:`FIELD_BACKDATE_MAX` ago to :data:`REPORT_CLOCK_AHEAD`
    ahead. The one window of field staff's times."""
    now = localtime.now()
    return now - FIELD_BACKDATE_MAX, now + REPORT_CLOCK_AHEAD


def check_field_time(when: dt.datetime, field: str) -> None:
    """Refuse a time of field staff outside :func:`field_time_window` (422 naming ``field``
    and the window), for records only field staff make (patrols, check-ins)."""
    earliest, latest = field_time_window()
    if not earliest <= when <= latest:
        lo, hi = (t.astimezone(localtime.CST).isoformat(timespec="minutes")
                  for t in (earliest, latest))
        raise InvalidInput(
            f"{field} 时间 {when.isoformat()} 超出允许范围: 须在 24 小时内且不晚于现在 5 分钟 "
            f"({lo} 至 {hi}) / {field} {when.isoformat()} is outside the allowed window: "
            f"within the last 24 hours and at most 5 minutes ahead ({lo} to {hi})",
            field=field, earliest=lo, latest=hi)


def _check_field_labels(principal: Principal, channel: str, department_code: str,
                        category_department: str) -> None:
    """Grid workers and departments do not label their reports as another desk's intake or
    charge them to another department: the hotline, 110 and petition channels and any
    department other than the category's are the command centre's to give."""
    if principal.sees_all_incidents():
        return
    if channel in vocab.DESK_CHANNELS:
        raise Forbidden(
            f"渠道「{vocab.CHANNEL.label(channel)}」由指挥中心登记; 网格员和部门上报请用 patrol "
            f"(巡查), photo 或 camera / the {channel} channel is entered by the command "
            "centre; grid workers and departments report as patrol, photo or camera",
            field="channel")
    if department_code != category_department:
        raise Forbidden(
            f"只有指挥中心可以改派主管部门 (该类别属于 {category_department}) / only the "
            f"command centre may route a case to another department than its category's "
            f"({category_department}); leave department out", field="department")


def _check_own_scope(principal: Principal, status: str, cell_code: str | None,
                     department_code: str, reported_at: dt.datetime) -> None:
    """Grid workers and departments report within their own scope, dated today.

    A case a worker or department could not read afterwards (another worker's cell, another
    department, no place at all) goes to the command centre, which registers reports from
    anywhere; a backdated report would start overdue against someone else.
    """
    if principal.sees_all_incidents():
        return
    if status == "needs_location":
        raise InvalidInput(
            "请给出事件位置 (lon/lat 或可匹配的地点) / give the place of the case (lon/lat or "
            "a place that matches a compound): a report without a place goes to the command "
            "centre", field="lon")
    if not principal.may_see_incident(cell_code, department_code):
        zh, en = ((f"网格 {cell_code}", f"cell {cell_code}") if principal.role == "worker"
                  else (f"部门 {department_code}", f"department {department_code}"))
        raise Forbidden(
            f"该事件属于{zh}, 不在您的职责范围内; 请报指挥中心 (12345) 登记 / this case "
            f"belongs to {en}, outside your scope; report it to the command centre, which "
            "registers cases anywhere")
    if reported_at < field_time_window()[0]:
        raise Forbidden(
            "网格员和部门只能上报 24 小时内的事件; 更早的请交指挥中心补录 / grid workers and "
            "departments report cases from the last 24 hours; the command centre enters "
            "older ones", field="reported_at")


def submit_incident(
    engine: Engine, report: Report, principal: Principal, region_code: str,
    attachments_dir: Path, max_photo_bytes: int = MAX_PHOTO_BYTES,
) -> dict[str, Any]:
    """Intake of one report: store + route in one transaction, then its photos.

    Raises
    ------
    InvalidInput
        Bad input (nothing stored), or a place outside the region: then the report *is*
        stored with status ``needs_location`` and the error names it (``incident``).
    """
    if len(report.photos) > MAX_PHOTOS:
        raise TooLarge(f"照片最多 {MAX_PHOTOS} 张 / at most {MAX_PHOTOS} photos per report")
    # names cleaned and contents checked before the case is stored (review round 3, R15)
    checked = check_photos(report.photos, max_photo_bytes)
    with engine.begin() as conn:
        if region_code:  # counties on shards: only this county's server (geo/db/shards.py)
            shards.route(conn, region_code)
        inc = create_incident(conn, report, principal, region_code)
    # the case is kept: each photo in its own step, a failure listed, never the whole answer
    stored, errors = store_photos(engine, inc["id"], checked, principal, attachments_dir)
    inc["attachments"] = stored
    if errors:
        inc["attachment_errors"] = errors
    if inc["status"] == "needs_location":
        place = (inc.get("routing") or {}).get("place") or {}
        if place.get("review"):  # a weak address match: suggested, not placed
            zh = "地址匹配置信度低, 未自动定位"
            en = "the address matched only weakly and was not placed"
        elif place.get("source") == "unresolved":
            zh = "地址未能匹配到登记的地址"
            en = "the address matches nothing in the address register"
        else:
            zh = f"地点不在{region_code}的任何网格内"
            en = f"the place is outside every cell of region {region_code}"
        why = place.get("reason")
        raise InvalidInput(
            f"{zh}; 事件已保存为「待定位」({inc['code']}), 由指挥中心核实位置后立案, 请勿重复上报"
            " / "
            f"{en}: the report is kept as {inc['code']} with status needs_location (do not "
            f"send it again); locate it with POST /incidents/{inc['id']}/locate"
            + (f" ({why})" if why else ""),
            incident=inc,
        )
    return inc


def locate(
    conn: Connection, incident_id: int | str, principal: Principal, lon: float, lat: float,
    crs: str = "EPSG:4490", version: int | None = None,
) -> dict[str, Any]:
    """Give a ``needs_location`` case its point: route it and make it ``reported``."""
    from geo.incidents.cases import check_version, update_row

    row = fetch(conn, incident_id, principal, lock=True)
    if not principal.sees_all_incidents():
        # where a case is decides whose it is (cell, worker, deadlines): the command centre's
        # step, like reassign (review round 3, R1)
        raise Forbidden("只有指挥中心可以给待定位事件定位 / only the command centre locates a "
                        "case that needs a location (POST /incidents/{id}/locate)")
    check_version(row, version)
    if row["status"] != "needs_location":
        from geo.errors import Conflict

        raise Conflict(f"事件 {row['code']} 状态为 {row['status']}, 不是待定位 / only a "
                       "needs_location case is located this way; use reassign to move a case",
                       current=row["status"], target="reported")
    x, y = to_cgcs2000_point(lon, lat, crs)
    cat = resolve_category(conn, row["category_code"])
    routed = route_point(conn, row["region_code"], x, y, row["reported_at"], cat, row["id"])
    ids = routed.pop("_ids")
    routing = {**(row["routing"] or {}), **routed,
               "place": {"source": "coordinates", "crs": crs, "located_by": principal.user,
                         "reason": "指挥中心定位 / located by the command centre"}}
    conn.execute(text("UPDATE incident SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4490) "
                      "WHERE id = :i"), {"x": x, "y": y, "i": row["id"]})
    update_row(conn, row, {"status": "reported", "routing": routing, **ids})
    add_event(conn, row, "locate", principal.user, localtime.now(), None,
              {"cell": ids.get("cell_code")}, from_status="needs_location",
              to_status="reported")
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


# ---------------------------------------------------------------- photos

