"""Intake from every channel: one report, bulk hotline exports (CSV/XLSX), photos.

A report is routed in the same transaction that stores it (``geo.incidents.routing``). A place
that cannot be resolved, or a point outside every cell of the region, keeps the report with
status ``needs_location`` (the single-report API then answers 422 naming the kept case).
Photos are checked by their magic bytes and size and written under ``<data_dir>/attachments``;
when the store cannot be written the incident is kept and the error says so.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from geo import localtime
from geo.auth.principal import Principal
from geo.crs.validate import to_cgcs2000_point
from geo.db.tables.foundation import CHANNELS, URGENCIES
from geo.errors import Forbidden, InvalidInput, NotFound, TooLarge, Unavailable, WanggeError
from geo.incidents.calendar import WorkCalendar, load_calendar
from geo.incidents.cases import add_event, fetch, incident_json, initial_deadlines
from geo.incidents.routing import (
    resolve_category,
    resolve_department,
    resolve_place,
    route_point,
)
from geo.localtime import CST

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTOS = 9
MAX_BULK_ROWS = 50_000
CHANNEL_ALIASES = {"12345热线": "12345", "热线": "12345", "110报警": "110", "巡查": "patrol",
                   "网格员巡查": "patrol", "随手拍": "photo", "视频": "camera",
                   "摄像头": "camera", "信访": "petition", "hotline": "12345"}
URGENCY_ALIASES = {"紧急": "urgent", "一般": "normal", "普通": "normal", "急": "urgent"}


@dataclass
class Report:
    """One incident report as received (before routing)."""

    category: str
    channel: str = "12345"
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
    photos: list[tuple[str | None, bytes]] = field(default_factory=list)


_MAX_LEN = {"category": 100, "channel": 20, "description": 5000, "place": 300,
            "reporter_name": 100, "reporter_phone": 32, "urgency": 10, "department": 100,
            "source_ref": 100, "crs": 100}


def _validate(conn: Connection, r: Report) -> tuple[dict[str, Any], str, str]:
    for name, limit in _MAX_LEN.items():
        value = getattr(r, name)
        if value is not None and len(str(value)) > limit:
            raise InvalidInput(f"字段 {name} 过长 (上限 {limit} 字符) / {name} is longer than "
                               f"{limit} characters", field=name)
    cat = resolve_category(conn, r.category)
    channel = CHANNEL_ALIASES.get((r.channel or "").strip(), (r.channel or "").strip())
    if channel not in CHANNELS:
        raise InvalidInput(f"未知渠道 {r.channel!r} / unknown channel {r.channel!r}; valid "
                           f"channels: {list(CHANNELS)}", field="channel", valid=list(CHANNELS))
    urgency = URGENCY_ALIASES.get((r.urgency or "normal").strip(), (r.urgency or "").strip())
    if urgency not in URGENCIES:
        raise InvalidInput(f"未知紧急程度 {r.urgency!r} / unknown urgency {r.urgency!r}; valid: "
                           f"{list(URGENCIES)}", field="urgency", valid=list(URGENCIES))
    if (r.lon is None) != (r.lat is None):
        raise InvalidInput("经纬度须同时给出 / give both lon and lat", field="lon")
    if r.lon is None and not (r.place or "").strip():
        raise InvalidInput("请给出坐标 (lon, lat, crs) 或地点名称 place / give coordinates "
                           "(lon, lat, crs) or a place name (compound or community)",
                           field="place")
    if r.reported_at is not None and r.reported_at.tzinfo is None:
        raise InvalidInput(f"上报时间缺少时区 / reported_at without time zone: "
                           f"{r.reported_at}; add +08:00", field="reported_at")
    if r.reported_at is not None and r.reported_at.year < 2000:
        raise InvalidInput(f"上报时间 {r.reported_at} 早于 2000 年 / reported_at "
                           f"{r.reported_at} is before 2000", field="reported_at")
    if r.reported_at is not None and r.reported_at > localtime.now() + dt.timedelta(minutes=5):
        raise InvalidInput(f"上报时间在未来 / reported_at is in the future: {r.reported_at}",
                           field="reported_at")
    return cat, channel, urgency


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
    cat, channel, urgency = _validate(conn, report)
    dept = (resolve_department(conn, report.department) if report.department
            else {"code": cat["department_code"]})
    reported_at = report.reported_at or localtime.now()
    routing: dict[str, Any] = {"routed_at": localtime.now().isoformat()}
    if report.source_ref:
        routing["source_ref"] = report.source_ref
    lon = lat = None
    compound_id = None
    if report.lon is not None and report.lat is not None:
        lon, lat = to_cgcs2000_point(report.lon, report.lat, report.crs)
        routing["place"] = {"source": "coordinates", "crs": report.crs,
                            "reason": f"上报坐标 ({report.crs}) 转换为 CGCS2000 / reported "
                                      f"coordinates in {report.crs}, converted to CGCS2000"}
    else:
        found = resolve_place(conn, region_code, report.place or "")
        if found is None:
            routing["place"] = {"source": "unresolved", "text": report.place,
                                "reason": f"地点「{report.place}」未匹配到小区或社区/村 / "
                                          f"no compound, community or village matches "
                                          f"{report.place!r}"}
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
    cal = cal or load_calendar(conn, region_code)
    due, final, clock = initial_deadlines(cal, cat["limits"], urgency, "register",
                                          reported_at, reported_at)
    new_id = int(conn.execute(text(
        "SELECT nextval(pg_get_serial_sequence('incident', 'id'))")).scalar_one())
    code = f"SJ{reported_at.astimezone(CST):%Y%m%d}N{new_id:07d}"
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
    add_event(conn, row, "intake", principal.user, reported_at,
              f"{channel} 上报 / reported via {channel}",
              {"routing": {k: routing[k] for k in ("cell", "department", "place")
                           if k in routing},
               "duplicates": [d["code"] for d in routing.get("duplicates", [])],
               "due_at": due.isoformat()},
              to_status=status)
    return incident_json(conn, fetch(conn, new_id, _SYSTEM), principal)


_SYSTEM = Principal(user="system", role="admin")


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
    checked = [(name, data, sniff_image(data, name, max_photo_bytes))
               for name, data in report.photos]
    with engine.begin() as conn:
        inc = create_incident(conn, report, principal, region_code)
    errors: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    for name, data, ctype in checked:
        try:
            with engine.begin() as conn:
                stored.append(store_attachment(conn, inc["id"], name, data, ctype,
                                               attachments_dir, principal))
        except Unavailable as exc:
            errors.append({"filename": name, "error": exc.message})
    inc["attachments"] = stored
    if errors:
        inc["attachment_errors"] = errors
    if inc["status"] == "needs_location":
        raise InvalidInput(
            f"地点不在{region_code}的任何网格内或无法解析, 事件已保存为「待定位」({inc['code']}), "
            f"请定位后立案 / the place is outside every cell of region {region_code} or could "
            f"not be resolved: the report is kept as {inc['code']} with status needs_location; "
            f"locate it with POST /incidents/{inc['id']}/locate",
            incident=inc,
        )
    return inc


def locate(
    conn: Connection, incident_id: int | str, principal: Principal, lon: float, lat: float,
    crs: str = "EPSG:4490", version: int | None = None,
) -> dict[str, Any]:
    """Give a ``needs_location`` case its point: route it and make it ``reported``."""
    from geo.incidents.cases import _check_version, _update

    row = fetch(conn, incident_id, principal, lock=True)
    _check_version(row, version)
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
    _update(conn, row, {"status": "reported", "routing": routing, **ids})
    add_event(conn, row, "locate", principal.user, localtime.now(), None,
              {"cell": ids.get("cell_code")}, from_status="needs_location",
              to_status="reported")
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


# ---------------------------------------------------------------- photos

_MAGIC: list[tuple[bytes, int, str, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
]


def sniff_image(data: bytes, filename: str | None = None,
                max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """The content type of a photo from its magic bytes; 413/422 when too large or not one."""
    if len(data) > max_bytes:
        raise TooLarge(f"照片 {filename or ''} 过大 ({len(data)} 字节, 上限 {max_bytes}) / photo "
                       f"{filename or ''} is {len(data)} bytes; the limit is {max_bytes}",
                       limit=max_bytes)
    if not data:
        raise InvalidInput(f"照片 {filename or ''} 为空 / photo {filename or ''} is empty",
                           field="photos")
    for magic, off, ctype, _ext in _MAGIC:
        if data[off:off + len(magic)] == magic:
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic"
    raise InvalidInput(
        f"文件 {filename or ''} 不是支持的图片 (JPEG/PNG/GIF/WebP/HEIC, 按文件内容判断) / file "
        f"{filename or ''} is not a supported image (checked by its content, not its name)",
        field="photos",
    )


_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
        "image/heic": "heic"}


def store_attachment(
    conn: Connection, incident_id: int, filename: str | None, data: bytes, content_type: str,
    attachments_dir: Path, principal: Principal, event_note: str | None = None,
) -> dict[str, Any]:
    """Write a checked photo to the store and record it (and an event) on the incident."""
    row = fetch(conn, incident_id, principal, lock=True)
    digest = hashlib.sha256(data).hexdigest()
    rel = Path(row["region_code"]) / row["code"] / f"{digest[:20]}.{_EXT[content_type]}"
    target = attachments_dir / rel
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    except OSError as exc:
        raise Unavailable(
            f"附件存储不可写 ({attachments_dir}: {exc.strerror or exc}), 照片未保存, 事件 "
            f"{row['code']} 已保留; 请联系管理员后重新上传 / the attachment store "
            f"{attachments_dir} cannot be written ({exc.strerror or exc.__class__.__name__}): "
            f"the photo was not saved, incident {row['code']} is kept; upload it again later",
            incident=row["code"],
        ) from exc
    event_id = add_event(conn, row, "attachment", principal.user, localtime.now(), event_note,
                         {"filename": filename, "sha256": digest, "bytes": len(data)})
    att_id = conn.execute(text(
        "INSERT INTO incident_attachment (region_code, incident_id, event_id, filename, "
        "content_type, size_bytes, sha256, path, uploaded_by) VALUES (:r, :i, :e, :f, :ct, "
        ":n, :h, :p, :u) RETURNING id"),
        {"r": row["region_code"], "i": row["id"], "e": event_id, "f": filename,
         "ct": content_type, "n": len(data), "h": digest, "p": str(rel),
         "u": principal.user}).scalar_one()
    return {"id": att_id, "filename": filename, "content_type": content_type,
            "size_bytes": len(data), "sha256": digest}


def add_photos(
    engine: Engine, incident_id: int | str, photos: list[tuple[str | None, bytes]],
    principal: Principal, attachments_dir: Path, note: str | None = None,
    max_photo_bytes: int = MAX_PHOTO_BYTES,
) -> dict[str, Any]:
    """Attach photos to an existing incident (checked first; each stored in its own step).

    Returns the incident's id and code and the stored attachments.
    """
    if not photos:
        raise InvalidInput("没有照片 / no photo given", field="files")
    if len(photos) > MAX_PHOTOS:
        raise TooLarge(f"照片最多 {MAX_PHOTOS} 张 / at most {MAX_PHOTOS} photos at once")
    checked = [(n, d, sniff_image(d, n, max_photo_bytes)) for n, d in photos]
    out = []
    with engine.begin() as conn:
        row = fetch(conn, incident_id, principal)
        for n, d, ct in checked:
            out.append(store_attachment(conn, int(row["id"]), n, d, ct, attachments_dir,
                                        principal, note))
    return {"incident_id": int(row["id"]), "incident_code": row["code"], "attachments": out}


def read_attachment(conn: Connection, incident_id: int | str, attachment_id: int,
                    principal: Principal, attachments_dir: Path) -> tuple[bytes, str, str]:
    """Bytes, content type and file name of one attachment in the caller's scope."""
    row = fetch(conn, incident_id, principal)
    if not 0 < attachment_id < 2**63:
        raise NotFound(f"附件 {attachment_id} 不存在 / attachment {attachment_id} not found")
    att = conn.execute(text(
        "SELECT path, content_type, filename FROM incident_attachment WHERE id = :a "
        "AND incident_id = :i"), {"a": attachment_id, "i": row["id"]}).mappings().first()
    if att is None:
        raise NotFound(f"附件 {attachment_id} 不存在 / attachment {attachment_id} not found")
    try:
        data = (attachments_dir / att["path"]).read_bytes()
    except OSError as exc:
        raise Unavailable(f"附件文件不可读 / attachment file unreadable: {exc}") from exc
    return data, att["content_type"], att["filename"] or Path(att["path"]).name


def decode_photo(item: dict[str, Any]) -> tuple[str | None, bytes]:
    """A JSON photo ``{"filename": ..., "content_base64": ...}`` -> (name, bytes)."""
    try:
        return item.get("filename"), base64.b64decode(item["content_base64"], validate=True)
    except (KeyError, ValueError) as exc:
        raise InvalidInput("照片须为 {filename, content_base64} / a photo is {filename, "
                           "content_base64 (base64)}", field="photos") from exc


# ---------------------------------------------------------------- bulk import

# Column headers of hotline exports (Chinese or English) -> Report fields.
HEADERS = {
    "工单编号": "source_ref", "工单号": "source_ref", "编号": "source_ref", "id": "source_ref",
    "source_ref": "source_ref", "code": "source_ref",
    "类别": "category", "事件类别": "category", "问题类型": "category", "category": "category",
    "渠道": "channel", "来源": "channel", "channel": "channel",
    "内容": "description", "问题描述": "description", "描述": "description",
    "诉求内容": "description", "description": "description",
    "地点": "place", "地址": "place", "事发地点": "place", "place": "place",
    "location": "place", "location_text": "place",
    "经度": "lon", "lon": "lon", "longitude": "lon", "纬度": "lat", "lat": "lat",
    "latitude": "lat", "坐标系": "crs", "crs": "crs",
    "来电人": "reporter_name", "联系人": "reporter_name", "姓名": "reporter_name",
    "reporter_name": "reporter_name",
    "电话": "reporter_phone", "联系电话": "reporter_phone", "来电号码": "reporter_phone",
    "reporter_phone": "reporter_phone",
    "时间": "reported_at", "来电时间": "reported_at", "上报时间": "reported_at",
    "reported_at": "reported_at",
    "紧急程度": "urgency", "urgency": "urgency", "部门": "department",
    "department": "department",
}


def read_table(data: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 or GBK) or XLSX hotline export as dicts keyed by Report fields."""
    name = filename.lower()
    raw_rows: list[list[Any]]
    if name.endswith(".xlsx") or data[:2] == b"PK":
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
            raise InvalidInput(f"无法读取 XLSX 文件 {filename} / cannot read XLSX {filename}: "
                               f"{exc.__class__.__name__}", field="file") from exc
        ws = wb.worksheets[0]
        raw_rows = [list(r) for r in ws.iter_rows(values_only=True)]
    elif name.endswith(".csv") or name.endswith(".txt"):
        from geo.io.read import decode_csv

        raw_rows = [list(r) for r in csv.reader(io.StringIO(decode_csv(data)))]
    else:
        raise InvalidInput(f"不支持的文件类型 {filename} (请用 .csv 或 .xlsx) / unsupported file "
                           f"{filename}: use .csv or .xlsx", field="file")
    raw_rows = [r for r in raw_rows if any(c not in (None, "") for c in r)]
    if not raw_rows:
        raise InvalidInput(f"文件 {filename} 没有数据 / file {filename} holds no rows",
                           field="file")
    header = [str(h or "").strip() for h in raw_rows[0]]
    fields = [HEADERS.get(h, HEADERS.get(h.lower())) for h in header]
    if "category" not in fields:
        raise InvalidInput(
            f"文件缺少「类别」列 / the file has no category column; headers found: {header}; "
            f"known headers: {sorted(HEADERS)}", field="file")
    if len(raw_rows) - 1 > MAX_BULK_ROWS:
        raise TooLarge(f"一次最多导入 {MAX_BULK_ROWS} 行 / at most {MAX_BULK_ROWS} rows per "
                       "import: split the file")
    out = []
    for r in raw_rows[1:]:
        out.append({f: v for f, v in zip(fields, r, strict=False) if f and v not in (None, "")})
    return out


def _report_from_row(row: dict[str, Any]) -> Report:
    def num(key: str) -> float | None:
        v = row.get(key)
        if v is None:
            return None
        try:
            return float(v)
        except ValueError as exc:
            raise InvalidInput(f"{key}={v!r} 不是数字 / {key} is not a number",
                               field=key) from exc

    when = row.get("reported_at")
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("/", "-"))
        except ValueError as exc:
            raise InvalidInput(f"时间 {when!r} 无法解析 (例 2025-09-30 15:00) / time {when!r} "
                               "not understood (e.g. 2025-09-30 15:00)",
                               field="reported_at") from exc
    if isinstance(when, dt.datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=CST)  # hotline exports are in China Standard Time
    return Report(
        category=str(row.get("category", "")), channel=str(row.get("channel") or "12345"),
        description=_s(row.get("description")), lon=num("lon"), lat=num("lat"),
        crs=str(row.get("crs") or "EPSG:4490"), place=_s(row.get("place")),
        reporter_name=_s(row.get("reporter_name")),
        reporter_phone=_s(row.get("reporter_phone")),
        reported_at=when if isinstance(when, dt.datetime) else None,
        urgency=str(row.get("urgency") or "normal"), department=_s(row.get("department")),
        source_ref=_s(row.get("source_ref")),
    )


def _s(v: Any) -> str | None:
    return None if v is None else str(v).strip() or None


def import_rows(
    engine: Engine, data: bytes, filename: str, principal: Principal, region_code: str,
    commit: bool = False,
) -> dict[str, Any]:
    """Import a hotline export: every row routed; bad rows reported, needs-location kept.

    Rows whose ``source_ref`` was imported before are skipped (re-importing is safe). With
    ``commit=False`` nothing is written and the report says what would happen.
    """
    rows = read_table(data, filename)
    report: dict[str, Any] = {"file": filename, "rows": len(rows), "created": 0,
                              "needs_location": [], "skipped_existing": [], "errors": [],
                              "duplicates_flagged": 0, "committed": commit, "incidents": []}
    with engine.connect() as conn:
        tx = conn.begin()
        cal = load_calendar(conn, region_code)
        for n, raw in enumerate(rows, start=2):  # row 1 is the header
            try:
                rep = _report_from_row(raw)
                if rep.source_ref and conn.execute(text(
                        "SELECT 1 FROM incident WHERE region_code = :r "
                        "AND routing->>'source_ref' = :s"),
                        {"r": region_code, "s": rep.source_ref}).first():
                    report["skipped_existing"].append(rep.source_ref)
                    continue
                with conn.begin_nested():
                    inc = create_incident(conn, rep, principal, region_code, cal)
            except WanggeError as exc:
                report["errors"].append({"row": n, "error": exc.message})
                continue
            report["created"] += 1
            report["incidents"].append(inc["code"])
            if inc["status"] == "needs_location":
                report["needs_location"].append({"row": n, "code": inc["code"]})
            if inc["routing"].get("duplicates"):
                report["duplicates_flagged"] += 1
        if commit:
            tx.commit()
        else:
            tx.rollback()
    return report
