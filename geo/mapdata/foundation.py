"""Map layers read straight from the foundation tables, shaped for drawing.

Small query functions returning GeoDataFrames (EPSG:4490) or plain lists, used by the Folium
maps in ``maps/`` (and usable by anything else that draws). Geometries are simplified in the
database (``ST_SimplifyPreserveTopology``) and rounded, so a county of thousands of polygons
stays a few hundred kilobytes. Incidents go through :func:`geo.auth.principal.incident_scope_sql`;
nothing here returns reporters' personal fields.

Incident status and "overdue": an incident is *open*
unless its status is one of :data:`CLOSED_STATUSES`; an open incident is *overdue* when its
``due_at`` has passed, or, when it has no ``due_at``, when it was reported more than
``overdue_days`` (default :data:`DEFAULT_OVERDUE_DAYS`) before the reference time ``as_of``.
The reference time is "now", capped at the end of the requested period so that a map of last
month shows what was overdue then.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.auth.principal import Principal, incident_scope_sql, mask_phone
from geo.boundaries.sets import set_valid_at
from geo.errors import InvalidInput, NotFound
from geo.workers import on_duty_select

CLOSED_STATUSES = ("closed", "rejected", "cancelled", "merged")
OPEN_STATUSES = (
    "reported", "registered", "dispatched", "in_progress", "handled", "verified", "rework",
    "needs_location",
)
DEFAULT_OVERDUE_DAYS = 3.0
#: Simplification tolerances in metres for "overview" drawing of each layer.
SIMPLIFY_M = {"township": 60.0, "village": 25.0, "community": 5.0, "cell": 8.0}
_DEG_PER_M = 1.0 / 111_000.0
CRS = "EPSG:4490"


@dataclass(frozen=True)
class Period:
    """A half-open period ``[start, end)`` of report times and the reference time ``as_of``."""

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime

    def label(self) -> str:
        """``YYYY-MM-DD .. YYYY-MM-DD`` (end inclusive day)."""
        last = self.end - dt.timedelta(seconds=1)
        return f"{self.start:%Y-%m-%d} .. {last:%Y-%m-%d}"


def _tz() -> dt.tzinfo:
    return dt.timezone(dt.timedelta(hours=8))  # Asia/Shanghai, no DST


def latest_report(conn: Connection, region_code: str) -> dt.datetime | None:
    """The latest ``reported_at`` of a region's incidents (None when there are none)."""
    value = conn.execute(
        text("SELECT max(reported_at) FROM incident WHERE region_code = :r"), {"r": region_code}
    ).scalar()
    return value  # type: ignore[no-any-return]


def resolve_period(
    conn: Connection,
    region_code: str,
    start: dt.date | None,
    end: dt.date | None,
    default_days: int = 30,
    now: dt.datetime | None = None,
) -> Period:
    """Turn optional ``from``/``to`` dates (``to`` inclusive) into a :class:`Period`.

    Without ``to`` the period ends with the day of the region's latest report (live data: today);
    without ``from`` it covers the ``default_days`` before that.

    Raises
    ------
    InvalidInput
        When ``from`` is after ``to`` or the period exceeds ten years.
    """
    tz = _tz()
    now = now or dt.datetime.now(tz)
    if end is None:
        latest = latest_report(conn, region_code)
        last_day = min(latest, now).astimezone(tz).date() if latest else now.astimezone(tz).date()
    else:
        last_day = end
    first_day = start or (last_day - dt.timedelta(days=default_days - 1))
    if first_day > last_day:
        raise InvalidInput(
            f"起始日期 from={first_day} 晚于结束日期 to={last_day} / from={first_day} is after "
            f"to={last_day}: swap them", field="from",
        )
    if (last_day - first_day).days > 3660:
        raise InvalidInput(
            "时间段不能超过十年 / the period may not exceed ten years: narrow from/to",
            field="from",
        )
    p_start = dt.datetime.combine(first_day, dt.time(), tz)
    p_end = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), tz)
    return Period(start=p_start, end=p_end, as_of=min(now, p_end))


def _gdf(rows: list[dict[str, Any]], geom_key: str = "geometry") -> gpd.GeoDataFrame:
    geoms = [shapely.from_geojson(r.pop(geom_key)) if r.get(geom_key) else None for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def region_bounds(conn: Connection, region_code: str) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of the region's county polygon (EPSG:4490).

    Raises
    ------
    NotFound
        For a region without a county boundary.
    """
    row = conn.execute(
        text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
             "ST_Extent(geom) e FROM admin_unit WHERE region_code = :r AND level = 'county') s"),
        {"r": region_code},
    ).first()
    if row is None or row[0] is None:
        raise NotFound(
            f"区域 {region_code} 没有县界 / region {region_code} has no county boundary",
            region=region_code,
        )
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def admin_units(
    conn: Connection,
    region_code: str,
    levels: tuple[str, ...] = ("township",),
    simplify_m: float | None = None,
    codes: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Admin units of the given levels: code, name, name_en, level, parent_code, households.

    ``simplify_m`` None uses :data:`SIMPLIFY_M` of the level; 0 keeps full detail.
    """
    rows: list[dict[str, Any]] = []
    for level in levels:
        tol = (SIMPLIFY_M.get(level, 10.0) if simplify_m is None else simplify_m) * _DEG_PER_M
        code_cond = "AND code = ANY(:codes)" if codes is not None else ""
        rows += [dict(r) for r in conn.execute(
            text("SELECT code, name, name_en, level, parent_code, households, "
                 "ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tol), 6) AS geometry "
                 f"FROM admin_unit WHERE region_code = :r AND level = :lv {code_cond} "
                 "ORDER BY code"),
            {"r": region_code, "lv": level, "tol": tol, "codes": codes},
        ).mappings()]
    return _gdf(rows)


def cells(
    conn: Connection,
    region_code: str,
    simplify_m: float | None = None,
    on: dt.date | None = None,
    codes: list[str] | None = None,
    near_code: str | None = None,
    kinds: tuple[str, ...] = ("basic", "dedicated"),
) -> gpd.GeoDataFrame:
    """Grid cells of the active boundary set with the worker on duty ``on`` (default today).

    Columns: code, name, kind, parent_code, township_code, households, parent_name,
    township_name, worker_name, worker_phone_masked, geometry. ``near_code`` selects a cell and
    every cell touching it (its neighbours). The worker's phone is always masked.
    """
    set_id, _ = set_valid_at(conn, region_code, None)
    tol = (SIMPLIFY_M["cell"] if simplify_m is None else simplify_m) * _DEG_PER_M
    conds = ["c.boundary_set_id = :s", "c.kind = ANY(:kinds)"]
    params: dict[str, Any] = {"s": set_id, "tol": tol, "r": region_code,
                              "d": on or dt.date.today(), "kinds": list(kinds), "codes": codes}
    if codes is not None:
        conds.append("c.code = ANY(:codes)")
    if near_code is not None:
        conds.append("EXISTS (SELECT 1 FROM grid_cell t WHERE t.boundary_set_id = :s AND "
                     "t.code = :near AND ST_Intersects(t.geom, c.geom))")
        params["near"] = near_code
    rows = [dict(r) for r in conn.execute(text(f"""
        SELECT c.code, c.name, c.kind, c.parent_code, c.township_code, c.households,
               p.name AS parent_name, t.name AS township_name,
               w.name AS worker_name, w.phone AS worker_phone,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.geom, :tol), 6) AS geometry
        FROM grid_cell c
        LEFT JOIN admin_unit p ON p.region_code = :r AND p.code = c.parent_code
        LEFT JOIN admin_unit t ON t.region_code = :r AND t.code = c.township_code
        LEFT JOIN LATERAL ({on_duty_select(":r", "c.code", ":d", "gw.name, gw.phone")}) w
          ON TRUE
        WHERE {' AND '.join(conds)}
        ORDER BY c.kind, c.code
    """), params).mappings()]
    for r in rows:
        r["worker_phone_masked"] = mask_phone(r.pop("worker_phone"))
    return _gdf(rows)


def compounds(
    conn: Connection,
    region_code: str,
    simplify_m: float = 1.0,
    within_cells: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Residential compounds: code, name, community_code, households, mgmt_mode, company, ...

    ``within_cells`` keeps the compounds intersecting those cells of the active set.
    """
    cond = ""
    params: dict[str, Any] = {"r": region_code, "tol": simplify_m * _DEG_PER_M}
    if within_cells is not None:
        set_id, _ = set_valid_at(conn, region_code, None)
        cond = ("AND EXISTS (SELECT 1 FROM grid_cell g WHERE g.boundary_set_id = :s AND "
                "g.code = ANY(:cells) AND ST_Intersects(g.geom, m.geom))")
        params.update(s=set_id, cells=within_cells)
    rows = [dict(r) for r in conn.execute(text(f"""
        SELECT m.id, m.code, m.name, m.address, m.community_code, m.households, m.buildings,
               m.mgmt_mode, m.company_name, m.company_credit, m.owners_committee,
               m.complaint_phone, m.complaint_phone_posted,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(m.geom, :tol), 6) AS geometry
        FROM compound m WHERE m.region_code = :r {cond} ORDER BY m.code
    """), params).mappings()]
    return _gdf(rows)


def cameras(
    conn: Connection,
    region_code: str,
    bbox: tuple[float, float, float, float] | None = None,
    within_cells: list[str] | None = None,
    statuses: tuple[str, ...] = ("online", "offline", "fault"),
    with_sector: bool = True,
) -> gpd.GeoDataFrame:
    """Cameras with their view sector: gb_id, name, bearing_deg, fov_deg, range_m, status.

    The GeoDataFrame's geometry is the camera position; ``sector`` holds the view sector as a
    shapely polygon (None when unknown). ``within_cells`` keeps cameras whose sector or position
    touches those cells. ``with_sector=False`` skips the sectors (maps draw them from bearing,
    field of view and range).
    """
    conds = ["c.region_code = :r", "c.status = ANY(:st)"]
    params: dict[str, Any] = {"r": region_code, "st": list(statuses)}
    if bbox is not None:
        conds.append("c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)")
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    if within_cells is not None:
        set_id, _ = set_valid_at(conn, region_code, None)
        conds.append("EXISTS (SELECT 1 FROM grid_cell g WHERE g.boundary_set_id = :s AND "
                     "g.code = ANY(:cells) AND ST_Intersects(g.geom, COALESCE(c.sector, c.geom)))")
        params.update(s=set_id, cells=within_cells)
    sector_sql = ("ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.sector, 0.000005), 6)"
                  if with_sector else "NULL::text")
    rows = [dict(r) for r in conn.execute(text(f"""
        SELECT c.gb_id, c.name, c.bearing_deg, c.fov_deg, c.range_m, c.status, c.project,
               ST_AsGeoJSON(c.geom, 6) AS geometry,
               {sector_sql} AS sector
        FROM camera c WHERE {' AND '.join(conds)} ORDER BY c.gb_id
    """), params).mappings()]
    for r in rows:
        r["sector"] = shapely.from_geojson(r["sector"]) if r["sector"] else None
    return _gdf(rows)


def check_bbox(bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Validate a lon/lat bbox ``(minx, miny, maxx, maxy)``; raise InvalidInput."""
    x0, y0, x1, y1 = bbox
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InvalidInput(
            f"bbox={list(bbox)} 无效: 应为 minx,miny,maxx,maxy (经纬度, min < max) / invalid bbox:"
            " give minx,miny,maxx,maxy in degrees with min < max", field="bbox")
    return bbox


def _incident_filter(
    principal: Principal,
    region_code: str,
    period: Period | None,
    open_only: bool,
    cell_codes: list[str] | None,
    bbox: tuple[float, float, float, float] | None = None,
    closed_only: bool = False,
) -> tuple[str, dict[str, Any]]:
    scope, params = incident_scope_sql(principal, "i")
    conds = ["i.region_code = :r", "i.geom IS NOT NULL", "i.status <> 'merged'", scope]
    params = {**params, "r": region_code, "closed": list(CLOSED_STATUSES)}
    if bbox is not None:
        x0, y0, x1, y1 = check_bbox(bbox)
        conds.append("i.geom && ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4490)")
        params.update(bx0=x0, by0=y0, bx1=x1, by1=y1)
    if period is not None:
        conds.append("i.reported_at >= :p0 AND i.reported_at < :p1")
        params.update(p0=period.start, p1=period.end)
    if open_only:
        conds.append("NOT (i.status = ANY(:closed))")
    if closed_only:
        conds.append("i.status = ANY(:closed)")
    if cell_codes is not None:
        conds.append("i.cell_code = ANY(:cells)")
        params["cells"] = cell_codes
    return " AND ".join(conds), params


def _overdue_sql(as_of_param: str = ":asof", days_param: str = ":odays") -> str:
    return (f"(NOT (i.status = ANY(:closed)) AND COALESCE(i.due_at, i.reported_at + "
            f"make_interval(secs => {days_param} * 86400)) < {as_of_param})")


def incidents(
    conn: Connection,
    principal: Principal,
    region_code: str,
    period: Period | None = None,
    open_only: bool = False,
    cell_codes: list[str] | None = None,
    limit: int = 5000,
    overdue_days: float = DEFAULT_OVERDUE_DAYS,
    outside_cameras: bool = False,
    bbox: tuple[float, float, float, float] | None = None,
    closed_only: bool = False,
) -> tuple[gpd.GeoDataFrame, int]:
    """Incidents the caller may see, most urgent first, and the total count before ``limit``.

    Order: overdue first, then urgent, then the most recent. Columns: id, code, category_code,
    category_name, category_name_en, channel, status, urgency, reported_at, description,
    location_text, cell_code, department_name, is_open, overdue, geometry. Never personal fields.
    ``outside_cameras`` keeps incidents no online camera sector covers; ``bbox`` (EPSG:4490)
    keeps those inside a box; ``closed_only`` keeps closed, rejected and cancelled ones.
    """
    if limit < 0:
        raise InvalidInput("limit 不能为负 / limit must be >= 0", field="limit")
    where, params = _incident_filter(principal, region_code, period, open_only, cell_codes,
                                     bbox, closed_only)
    if outside_cameras:
        where += (" AND NOT EXISTS (SELECT 1 FROM camera k WHERE k.region_code = i.region_code "
                  "AND k.status = 'online' AND k.sector IS NOT NULL "
                  "AND ST_Intersects(k.sector, i.geom))")
    as_of = period.as_of if period else dt.datetime.now(_tz())
    params.update(asof=as_of, odays=overdue_days, lim=limit)
    total = int(conn.execute(text(f"SELECT count(*) FROM incident i WHERE {where}"),
                             params).scalar_one())
    rows = [dict(r) for r in conn.execute(text(f"""
        SELECT i.id, i.code, i.category_code, c.name AS category_name,
               c.name_en AS category_name_en, i.channel, i.status, i.urgency, i.reported_at,
               i.description, i.location_text, i.cell_code, d.name AS department_name,
               NOT (i.status = ANY(:closed)) AS is_open, {_overdue_sql()} AS overdue,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
        FROM incident i
        JOIN incident_category c ON c.code = i.category_code
        LEFT JOIN department d ON d.code = i.department_code
        WHERE {where}
        ORDER BY {_overdue_sql()} DESC, (i.urgency = 'urgent') DESC, i.reported_at DESC
        LIMIT :lim
    """), params).mappings()]
    geoms = shapely.points([(r.pop("lon"), r.pop("lat")) for r in rows]) if rows else []
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=CRS), total


def incident_counts_by_cell(
    conn: Connection,
    principal: Principal,
    region_code: str,
    period: Period | None,
    overdue_days: float = DEFAULT_OVERDUE_DAYS,
) -> list[dict[str, Any]]:
    """Per cell (aggregated in SQL): total, open and overdue counts and a label point.

    Aggregates carry no personal data; the caller's incident scope still applies.
    """
    where, params = _incident_filter(principal, region_code, period, False, None)
    as_of = period.as_of if period else dt.datetime.now(_tz())
    params.update(asof=as_of, odays=overdue_days)
    set_id, _ = set_valid_at(conn, region_code, None)
    params["s"] = set_id
    rows = conn.execute(text(f"""
        WITH agg AS (
            SELECT i.cell_code, count(*) AS total,
                   count(*) FILTER (WHERE NOT (i.status = ANY(:closed))) AS open,
                   count(*) FILTER (WHERE {_overdue_sql()}) AS overdue
            FROM incident i WHERE {where} AND i.cell_code IS NOT NULL GROUP BY i.cell_code)
        SELECT a.cell_code, a.total, a.open, a.overdue, g.name,
               ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM agg a JOIN grid_cell g ON g.boundary_set_id = :s AND g.code = a.cell_code
        ORDER BY a.total DESC
    """), params).mappings()
    return [dict(r) for r in rows]


def incident_heat(
    conn: Connection,
    principal: Principal,
    region_code: str,
    period: Period | None,
    grid_m: float = 250.0,
    max_points: int = 3000,
) -> list[tuple[float, float, int]]:
    """Incidents snapped to a ``grid_m`` grid in SQL: ``(lat, lon, count)`` per occupied cell.

    The result grows with the area covered, not with the number of incidents: when more than
    ``max_points`` grid cells are occupied the grid is coarsened (up to three times).
    """
    if grid_m <= 0:
        raise InvalidInput("grid_m 必须为正 / grid_m must be > 0", field="grid_m")
    where, params = _incident_filter(principal, region_code, period, False, None)
    sql = text(f"""
        SELECT ST_Y(p) AS lat, ST_X(p) AS lon, n FROM (
            SELECT ST_SnapToGrid(i.geom, :g) AS p, count(*) AS n
            FROM incident i WHERE {where} GROUP BY 1) s
    """)
    rows = conn.execute(sql, {**params, "g": grid_m * _DEG_PER_M}).all()
    for _ in range(3):
        if not len(rows) > max_points > 0:
            break
        grid_m *= 1.15 * (len(rows) / max_points) ** 0.5
        rows = conn.execute(sql, {**params, "g": grid_m * _DEG_PER_M}).all()
    return [(round(float(a), 5), round(float(b), 5), int(n)) for a, b, n in rows]


def search_index(conn: Connection, region_code: str) -> list[dict[str, Any]]:
    """Cell codes/names and compound names with their bounding boxes, for a map search box."""
    set_id, _ = set_valid_at(conn, region_code, None)
    rows = conn.execute(text("""
        SELECT code || ' ' || name AS label, 'cell' AS kind,
               ST_XMin(geom) x0, ST_YMin(geom) y0, ST_XMax(geom) x1, ST_YMax(geom) y1
        FROM grid_cell WHERE boundary_set_id = :s
        UNION ALL
        SELECT name || ' (' || code || ')', 'compound',
               ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
        FROM compound WHERE region_code = :r
        ORDER BY 2, 1
    """), {"s": set_id, "r": region_code}).mappings()
    return [{"label": r["label"], "kind": r["kind"],
             "bounds": [round(r["x0"], 6), round(r["y0"], 6), round(r["x1"], 6),
                        round(r["y1"], 6)]} for r in rows]


def cell_exists(conn: Connection, region_code: str, code: str) -> bool:
    """True when ``code`` is a cell of the region's active boundary set."""
    set_id, _ = set_valid_at(conn, region_code, None)
    return bool(conn.execute(
        text("SELECT 1 FROM grid_cell WHERE boundary_set_id = :s AND code = :c"),
        {"s": set_id, "c": code},
    ).first())


def to_geojson(gdf: gpd.GeoDataFrame, columns: list[str] | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``gdf`` (selected columns); NaN becomes null.

    Faster than ``GeoDataFrame.to_json`` for map layers (vectorised ``shapely.to_geojson``).
    """
    cols = [c for c in (columns or list(gdf.columns)) if c != gdf.geometry.name]
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values, dtype=object))
    records = gdf[cols].astype(object).where(gdf[cols].notna(), None).to_dict("records")
    features = [
        {"type": "Feature", "properties": {k: _plain(v) for k, v in rec.items()},
         "geometry": json.loads(g) if g is not None else None}
        for rec, g in zip(records, geoms, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def _plain(value: Any) -> Any:
    """JSON-friendly scalar: numpy numbers to Python, dates to ISO strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value
