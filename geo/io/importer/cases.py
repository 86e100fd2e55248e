"""Work orders imported as live cases (``as_cases``): each row goes through the intake of a report.

The hotline path (``POST /incidents/bulk``, ``wangge incidents import``, ``wangge import incidents
--as-cases``): every row is routed with reasons, gets deadlines and duplicate flags like a
report made on the phone, in one transaction. History imports (the default of ``wangge import
incidents``) are staged with COPY instead (:mod:`.incidents`). Both fill the one
:class:`~geo.io.importer.report.ImportReport` and follow the same rules: a dry run unless
``commit``; rows of a known ``source_ref`` are ``unchanged``; refused rows are listed with their
row number and, when committing, nothing is written unless ``skip_refused``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from geo.auth.principal import Principal
from geo.errors import InvalidInput, TooLarge, WanggeError
from geo.incidents.calendar import load_calendar
from geo.incidents.intake import Report, create_incident
from geo.incidents.reference import UNCLASSIFIED, ensure_unclassified
from geo.io.importer.incidents import _category_lookup
from geo.io.importer.options import MAX_LISTED, ImportOptions
from geo.io.importer.profiles import parse_with
from geo.io.importer.report import ImportReport, finish
from geo.io.parse import coordinate_field
from geo.io.read import decode_csv, unreadable_table
from geo.localtime import TZ_NAME

MAX_CASE_ROWS = 50_000
HEADERS = {
    "工单编号": "source_ref", "工单号": "source_ref", "编号": "source_ref", "id": "source_ref",
    "source_ref": "source_ref", "code": "source_ref",
    "类别": "category", "事件类别": "category", "问题类型": "category", "category": "category",
    "诉求类型": "category", "诉求分类": "category", "诉求类别": "category",
    "事项分类": "category", "工单类型": "category",
    "事件类型": "category", "事件分类": "category",
    "问题分类": "category", "反映类型": "category",
    "诉求地址": "place", "事发地址": "place", "问题地址": "place",
    "诉求人": "reporter_name", "来电人姓名": "reporter_name", "反映人": "reporter_name",
    "诉求人电话": "reporter_phone", "联系方式": "reporter_phone", "来电人电话": "reporter_phone",
    "受理时间": "reported_at", "来电日期": "reported_at", "登记时间": "reported_at",
    "诉求时间": "reported_at", "承办单位": "department", "诉求标题": "description",
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


def read_table(data: bytes, filename: str, columns: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
    """Rows of a CSV (UTF-8 or GBK) or XLSX hotline export as dicts keyed by Report fields
    (``columns``: a profile's header -> field, before the headers known to :data:`HEADERS`)."""
    header, body = read_raw(data, filename, MAX_CASE_ROWS)
    cols = columns or {}
    fields = [cols.get(h) or HEADERS.get(h, HEADERS.get(h.lower())) for h in header]
    if "category" not in fields:
        raise InvalidInput(
            f"文件缺少「类别」列 / the file has no category column; headers found: {header}; "
            f"known headers: {sorted(HEADERS)} (或用导入映射方案 / or use an import profile)",
            field="file")
    if len(body) > MAX_CASE_ROWS:
        raise TooLarge(f"一次最多导入 {MAX_CASE_ROWS} 行 / at most {MAX_CASE_ROWS} rows per "
                       "import: split the file")
    out = []
    for r in body:
        out.append({f: v for f, v in zip(fields, r, strict=False) if f and v not in (None, "")})
    return out


def read_raw(data: bytes, filename: str, max_rows: int | None = None
             ) -> tuple[list[str], list[list[Any]]]:
    """The header and the non-empty rows of a CSV (UTF-8 or GBK) or XLSX file; with
    ``max_rows``, reading stops after that many rows past the header plus one (so a caller
    can tell the file is longer), never a whole huge sheet in memory first."""
    from itertools import islice

    limit = None if max_rows is None else max_rows + 2
    name = filename.lower()
    raw_rows: list[list[Any]]
    if name.endswith(".xlsx") or data[:2] == b"PK":
        import openpyxl

        # read_only parses the sheet while iterating: a damaged sheet or an entity bomb
        # fails there, so the whole read is inside (review round 3, R16)
        try:
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                raw_rows = [list(r) for r in islice(
                    wb.worksheets[0].iter_rows(values_only=True), limit)]
            finally:
                wb.close()
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise unreadable_table("xlsx", exc) from exc
    elif name.endswith(".csv") or name.endswith(".txt"):
        content = decode_csv(data)
        try:
            raw_rows = [list(r) for r in islice(csv.reader(io.StringIO(content)), limit)]
        except csv.Error as exc:  # a field over the csv module's limit, a NUL ...
            raise unreadable_table("csv", exc) from exc
    else:
        raise InvalidInput(f"不支持的文件类型 {filename} (请用 .csv 或 .xlsx) / unsupported file "
                           f"{filename}: use .csv or .xlsx", field="file")
    raw_rows = [r for r in raw_rows if any(c not in (None, "") for c in r)]
    if not raw_rows:
        raise InvalidInput(f"文件 {filename} 没有数据 / file {filename} holds no rows",
                           field="file")
    header = [str(h or "").strip() for h in raw_rows[0]]
    return header, raw_rows[1:]


def _category_of(label: str, cmap: dict[str, str], cats: dict[str, str]) -> str | None:
    """The category code of a row's label (the import's map first, then codes and names);
    None when nothing matches."""
    key = label.strip().lower()
    return cmap.get(key) or cats.get(key)


def _report_from_row(row: dict[str, Any], formats: list[str] | None = None) -> Report:
    def num(key: str) -> float | None:
        return coordinate_field(row.get(key), key)

    try:  # the importers' one time rule; hotline exports are in China Standard Time
        when = parse_with(row.get("reported_at"), formats or [], ZoneInfo(TZ_NAME))
    except ValueError as exc:
        raise InvalidInput(f"{exc} (例 2025-09-30 15:00, 2025/9/30 15:00:00)",
                           field="reported_at") from exc
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


def import_cases(engine: Engine, path: str | Path, opts: ImportOptions, principal: Principal,
                 display_name: str | None = None) -> ImportReport:
    """Import a hotline export (CSV/XLSX) of ``opts.region`` as cases, one transaction.

    Parameters
    ----------
    engine
        Engine of a migrated database.
    path
        The file.
    opts
        ``region``, ``commit``, ``skip_refused``.
    principal
        Who imports (the actor of each case's intake event).
    display_name
        The name shown in the report (an upload's original file name).

    Returns
    -------
    ImportReport
        ``new`` cases (listed in ``cases`` with row, code, status and duplicate count),
        ``unchanged`` rows already imported, ``refused`` rows with the reason,
        ``no_location`` cases kept as ``needs_location``, ``duplicates``.
    """
    t0 = time.monotonic()
    name = display_name or Path(path).name
    rows = read_table(Path(path).read_bytes(), name, opts.columns)
    report = ImportReport(
        layer="incidents", region=opts.region, file=name,
        format="xlsx" if name.lower().endswith(".xlsx") else "csv",
        crs={"source": "EPSG:4490", "from": "rows (lon/lat; a crs column may name another)"},
        dry_run=not opts.commit, rows=len(rows),
        notes=["as cases: every row routed and given deadlines like one report"],
    )
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            cal = load_calendar(conn, opts.region)
            cats = {k: v for k, v in _category_lookup(conn).items()}
            cmap = {k.strip().lower(): v for k, v in opts.category_map.items()}
            for v in set(cmap.values()):
                if v.lower() not in cats:
                    raise InvalidInput(f"category_map 中的类别 {v!r} 不存在 / unknown category "
                                       f"code {v!r} in the category map", field="category_map")
            unclassified: dict[str, int] = {}
            for n, raw in enumerate(rows, start=2):  # row 1 is the header
                try:
                    label = str(raw.get("category", "")).strip()
                    code = _category_of(label, cmap, cats)
                    if code is None and label:
                        code = ensure_unclassified(conn, opts.region)
                        unclassified[label] = unclassified.get(label, 0) + 1
                    defaults = {"channel": opts.channel, "department": opts.default_department}
                    row = {**{k: v for k, v in defaults.items() if v}, **raw,
                           "category": code or label}
                    rep = replace(_report_from_row(row, opts.time_formats),
                                  category_label=label if code == UNCLASSIFIED[0] else None)
                    if rep.source_ref and conn.execute(text(
                            "SELECT 1 FROM incident WHERE region_code = :r "
                            "AND routing->>'source_ref' = :s"),
                            {"r": opts.region, "s": rep.source_ref}).first():
                        report.unchanged += 1
                        continue
                    with conn.begin_nested():
                        inc = create_incident(conn, rep, principal, opts.region, cal)
                except WanggeError as exc:
                    report.refuse(n, raw.get("source_ref"), exc.message)
                    continue
                dups = len(inc["routing"].get("duplicates") or [])
                report.new += 1
                report.duplicates += bool(dups)
                report.no_location += inc["status"] == "needs_location"
                place = inc["routing"].get("place") or {}
                if rep.lon is None and place.get("match"):  # placed (or not) by its address
                    level = ("review" if place.get("review") else
                             place["source"] if inc.get("lon") is not None else "none")
                    report.address_levels[level] = report.address_levels.get(level, 0) + 1
                if len(report.cases) < MAX_LISTED:
                    report.cases.append({"row": n, "code": inc["code"], "status": inc["status"],
                                         "duplicates": dups})
            if unclassified:
                report.notes.append(
                    f"{sum(unclassified.values())} 行的类别未对应任何事件类别, 记为「待分类」"
                    f"由指挥中心分类 (可用 category_map 对应): "
                    f"{dict(sorted(unclassified.items()))} / rows "
                    "whose category matches none were filed as unclassified for the command "
                    "centre (map them with a category map)")
            finish(trans, report, opts)
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
    report.seconds = round(time.monotonic() - t0, 2)
    return report
