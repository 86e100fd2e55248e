"""Incident layers shaped for drawing: points, per-cell counts and a heat grid over a period.

Incidents go through :func:`geo.auth.principal.incident_scope_sql`; nothing here returns
reporters' personal fields. Callers who get incidents only as anonymous points (planners:
:func:`points_only`) get :func:`incident_points`: the rows the incidents layer of the spatial
API gives them (:func:`geo.layers.registry.base_conditions`) with position, category and
status class only.

Incident status and "overdue": an incident is *open*
unless its status is one of :data:`CLOSED_STATUSES`; an open incident is *overdue* when its
``due_at`` has passed, or, when it has no ``due_at``, when it was reported more than
``overdue_days`` (default :data:`DEFAULT_OVERDUE_DAYS`) before the reference time ``as_of``.
The reference time is "now", capped at the end of the requested period so that a map of last
month shows what was overdue then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection, func, select, text

from geo import localtime
from geo.auth.fields import mask_row, withheld_fields
from geo.auth.principal import Principal, incident_scope_sql
from geo.boundaries.sets import set_valid_at
from geo.crs.metres import metres_to_degrees
from geo.db.tables import Base
from geo.db.tables.vocab import INCIDENT_STATUS
from geo.errors import InvalidInput
from geo.incidents import rollup
from geo.incidents.flow import CLOSED_STATUSES, VOID_STATUSES
from geo.incidents.flow import OPEN_STATUSES as OPEN_STATUSES  # read by maps.dispatch
from geo.layers.registry import LAYERS, base_conditions
from geo.mapdata.foundation import CRS, check_bbox
from geo.periods import Period as Period  # read by maps as gi.Period
from geo.periods import resolve_period as resolve_period

DEFAULT_OVERDUE_DAYS = 3.0

def _incident_filter(
    principal: Principal,
    region_code: str,
    period: Period | None,
    open_only: bool,
    cell_codes: list[str] | None,
    bbox: tuple[float, float, float, float] | None = None,
    closed_only: bool = False,
    alias: str = "i",
    scoped: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The WHERE of incident queries on ``incident <alias>``; ``scoped=False`` leaves the
    caller's scope to the query (:func:`incident_points` takes the incidents layer's)."""
    scope, params = incident_scope_sql(principal, alias) if scoped else ("TRUE", {})
    a = alias
    conds = [f"{a}.region_code = :r", f"{a}.geom IS NOT NULL", f"{a}.status <> 'merged'", scope]
    params = {**params, "r": region_code, "closed": list(CLOSED_STATUSES)}
    if bbox is not None:
        x0, y0, x1, y1 = check_bbox(bbox)
        conds.append(f"{a}.geom && ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4490)")
        params.update(bx0=x0, by0=y0, bx1=x1, by1=y1)
    if period is not None:
        conds.append(f"{a}.reported_at >= :p0 AND {a}.reported_at < :p1")
        params.update(p0=period.start, p1=period.end)
    if open_only:
        conds.append(f"NOT ({a}.status = ANY(:closed))")
    if closed_only:
        conds.append(f"{a}.status = ANY(:closed)")
    if cell_codes is not None:
        conds.append(f"{a}.cell_code = ANY(:cells)")
        params["cells"] = cell_codes
    return " AND ".join(conds), params


def _overdue_sql(as_of_param: str = ":asof", days_param: str = ":odays", alias: str = "i") -> str:
    a = alias
    return (f"(NOT ({a}.status = ANY(:closed)) AND COALESCE({a}.due_at, {a}.reported_at + "
            f"make_interval(secs => {days_param} * 86400)) < {as_of_param})")


def _outside_cameras_sql(alias: str = "i") -> str:
    """Cases of the period no online camera sees, as the coverage analysis counts them: the
    void ones (not accepted, cancelled, merged: :data:`VOID_STATUSES`) are no demand (the
    map's legend gave 1,882 where the analysis's workbook gave 1,792; walk 12)."""
    void = ", ".join(f"'{s}'" for s in VOID_STATUSES)
    return (f" AND {alias}.status NOT IN ({void})"
            f" AND NOT EXISTS (SELECT 1 FROM camera k WHERE k.region_code = {alias}.region_code "
            f"AND k.status = 'online' AND k.sector IS NOT NULL "
            f"AND ST_Intersects(k.sector, {alias}.geom))")


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
        where += _outside_cameras_sql()
    as_of = period.as_of if period else localtime.now()
    params.update(asof=as_of, odays=overdue_days, lim=limit)
    total = int(conn.execute(text(f"SELECT count(*) FROM incident i WHERE {where}"),
                             params).scalar_one())
    rows = [dict(r) for r in conn.execute(text(f"""
        SELECT i.id, i.code, i.region_code, i.category_code, c.name AS category_name,
               c.name_en AS category_name_en, i.channel, i.status, i.urgency, i.reported_at,
               i.description, i.location_text, i.cell_code, i.department_code,
               d.name AS department_name, NOT (i.status = ANY(:closed)) AS is_open,
               {_overdue_sql()} AS overdue,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
        FROM incident i
        JOIN incident_category c ON c.code = i.category_code
        LEFT JOIN department d ON d.code = i.department_code
        WHERE {where}
        ORDER BY {_overdue_sql()} DESC, (i.urgency = 'urgent') DESC, i.reported_at DESC
        LIMIT :lim
    """), params).mappings()]
    # Free text as the caller may read it (phone and ID numbers masked unless unmasked).
    rows = [mask_row(principal, "incidents", r) for r in rows]
    for r in rows:
        del r["department_code"]
    geoms = shapely.points([(r.pop("lon"), r.pop("lat")) for r in rows]) if rows else []
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=CRS), total


def points_only(principal: Principal) -> bool:
    """True when the caller gets incidents only as anonymous points (planners; viewers get
    none): the one field policy withholds their free text and personal fields
    (:func:`geo.auth.fields.withheld_fields`), so maps give them :func:`incident_points`."""
    return bool(withheld_fields(principal, "incidents"))


def incident_points(
    conn: Connection,
    principal: Principal,
    region_code: str,
    period: Period | None = None,
    limit: int = 5000,
    overdue_days: float = DEFAULT_OVERDUE_DAYS,
    outside_cameras: bool = False,
) -> tuple[gpd.GeoDataFrame, int]:
    """Incidents as anonymous points, and their total before ``limit``.

    The rows are those the incidents layer of the spatial API (OGC items, tiles) gives the
    caller, by the layer registry's own rule (:func:`geo.layers.registry.base_conditions`:
    planners every incident of their regions, viewers none); the filters (period, merged
    cases, ``outside_cameras``) and the overdue rule are :func:`incidents`'. Columns:
    category_code, category_name, category_name_en, is_open, overdue, geometry: no id, code,
    status detail, time, free text, reporter or department.
    """
    if limit < 0:
        raise InvalidInput("limit 不能为负 / limit must be >= 0", field="limit")
    layer = LAYERS["incidents"]
    inc = layer.table
    where, params = _incident_filter(principal, region_code, period, False, None,
                                     alias=inc.name, scoped=False)
    if outside_cameras:
        where += _outside_cameras_sql(inc.name)
    as_of = period.as_of if period else localtime.now()
    params.update(asof=as_of, odays=overdue_days)
    scope = [*base_conditions(layer, principal), text(where)]
    total = int(conn.execute(select(func.count()).select_from(inc).where(*scope),
                             params).scalar_one())
    cat = Base.metadata.tables["incident_category"]
    overdue = _overdue_sql(alias=inc.name)
    stmt = (select(cat.c.code.label("category_code"), cat.c.name.label("category_name"),
                   cat.c.name_en.label("category_name_en"),
                   inc.c.status.not_in(CLOSED_STATUSES).label("is_open"),
                   text(f"{overdue} AS overdue"),
                   func.ST_X(inc.c.geom).label("lon"), func.ST_Y(inc.c.geom).label("lat"))
            .select_from(inc.join(cat, cat.c.code == inc.c.category_code))
            .where(*scope)
            .order_by(text(f"{overdue} DESC"), (inc.c.urgency == "urgent").desc(),
                      inc.c.reported_at.desc())
            .limit(limit))
    rows = [dict(r) for r in conn.execute(stmt, params).mappings()]
    geoms = shapely.points([(r.pop("lon"), r.pop("lat")) for r in rows]) if rows else []
    return gpd.GeoDataFrame(rows, geometry=list(geoms), crs=CRS), total


def incident_counts_by_cell(
    conn: Connection,
    principal: Principal,
    region_code: str,
    period: Period | None,
    overdue_days: float = DEFAULT_OVERDUE_DAYS,
    use_rollup: bool = True,
) -> list[dict[str, Any]]:
    """Per cell (aggregated in SQL): total, open and overdue counts and a label point.

    Aggregates carry no personal data; the caller's incident scope still applies. Totals and
    open counts come from the rollup (:mod:`geo.incidents.rollup`) when the period is whole
    days (``use_rollup=False``: on the fly); overdue (it depends on ``as_of``) is counted on
    the fly over the open incidents.
    """
    where, params = _incident_filter(principal, region_code, period, False, None)
    as_of = period.as_of if period else localtime.now()
    params.update(asof=as_of, odays=overdue_days)
    set_id, _ = set_valid_at(conn, region_code, None)
    params["s"] = set_id
    start, end = (period.start, period.end) if period else (None, None)
    if rollup.source_for(start=start, end=end, rollup=use_rollup) == "rollup":
        return _counts_by_cell_from_rollup(conn, principal, region_code, start, end, where,
                                           params)
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


def _counts_by_cell_from_rollup(
    conn: Connection, principal: Principal, region_code: str, start: Any, end: Any,
    where: str, params: dict[str, Any],
) -> list[dict[str, Any]]:
    """:func:`incident_counts_by_cell` from the rollup: the same filter (located, not merged,
    in a cell, the caller's scope, the period's days); overdue on the fly over open ones."""
    statuses = [s for s in INCIDENT_STATUS.codes if s != "merged"]
    agg: dict[str, dict[str, Any]] = {}
    for r in rollup.counts(conn, principal, ["cell_code", "status"], regions=[region_code],
                           start=start, end=end,
                           where={"located": [True], "status": statuses}):
        if r["cell_code"] is None:
            continue
        a = agg.setdefault(r["cell_code"], {"total": 0, "open": 0, "overdue": 0})
        a["total"] += int(r["n"])
        a["open"] += int(r["n"]) if r["status"] not in CLOSED_STATUSES else 0
    for code, n in conn.execute(text(
            f"SELECT i.cell_code, count(*) FROM incident i WHERE {where} AND "
            f"i.cell_code IS NOT NULL AND {_overdue_sql()} GROUP BY 1"), params):
        if code in agg:
            agg[code]["overdue"] = int(n)
    rows = conn.execute(text("""
        SELECT g.code AS cell_code, g.name, ST_X(ST_PointOnSurface(g.geom)) AS lon,
               ST_Y(ST_PointOnSurface(g.geom)) AS lat
        FROM grid_cell g WHERE g.boundary_set_id = :s AND g.code = ANY(:codes)
    """), {"s": params["s"], "codes": list(agg)}).mappings()
    out = [{"cell_code": r["cell_code"], **agg[r["cell_code"]], "name": r["name"],
            "lon": r["lon"], "lat": r["lat"]} for r in rows]
    return sorted(out, key=lambda r: (-r["total"], r["cell_code"]))


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
    rows = conn.execute(sql, {**params, "g": metres_to_degrees(grid_m)}).all()
    for _ in range(3):
        if not len(rows) > max_points > 0:
            break
        grid_m *= 1.15 * (len(rows) / max_points) ** 0.5
        rows = conn.execute(sql, {**params, "g": metres_to_degrees(grid_m)}).all()
    return [(round(float(a), 5), round(float(b), 5), int(n)) for a, b, n in rows]


#: Overview tiles (:func:`overview_tile`): at this zoom and below one feature per township,
#: above it one per basic cell of the active boundary sets.
OVERVIEW_TOWNSHIP_MAX_ZOOM = 8

_OVERVIEW_TILE = """
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
units AS ({units}),
counts AS ({counts}),
q AS (SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(u.geom), 3857), b.env, 4096, 64,
                          true) AS geom, u.code, k.n, k.open
      FROM units u JOIN counts k ON k.region_code = u.region_code AND k.{key} = u.code, b)
SELECT count(*), coalesce(sum(n), 0), coalesce(sum(open), 0),
       ST_AsMVT(q, 'incident_counts', 4096, 'geom') FROM q
"""
_OVERVIEW_UNITS = {
    "township_code": ("SELECT a.region_code, a.code, a.geom FROM admin_unit a, b "
                      "WHERE a.level = 'township' AND a.geom && ST_Transform(b.env, 4490) "
                      "AND {regions}", "a"),
    "cell_code": ("SELECT c.region_code, c.code, c.geom FROM grid_cell c "
                  "JOIN boundary_set s ON s.id = c.boundary_set_id AND s.is_active, b "
                  "WHERE c.kind = 'basic' AND c.geom && ST_Transform(b.env, 4490) "
                  "AND {regions}", "c"),
}


def overview_tile(conn: Connection, z: int, x: int, y: int, *,
                  start: dt.datetime | None = None,
                  end: dt.datetime | None = None, use_rollup: bool = True,
                  regions: list[str] | None = None) -> tuple[int, int, int, bytes]:
    """A low-zoom overview tile (Mapbox Vector Tile, layer ``incident_counts``): one point per
    township (zoom <= :data:`OVERVIEW_TOWNSHIP_MAX_ZOOM`) or basic cell with its reports in
    ``[start, end)`` (``n``) and open ones (``open``); aggregates only, no scope beyond
    ``regions``. The counts come from the rollups (:func:`geo.incidents.rollup.cell_counts_sql`:
    all time from the per-cell rollup) or, with ``use_rollup=False``, from ``incident``.
    Returns features, reports and open ones in the tile, and the tile's bytes."""
    key = "township_code" if z <= OVERVIEW_TOWNSHIP_MAX_ZOOM else "cell_code"
    counts, params = rollup.cell_counts_sql(start=start, end=end, rollup=use_rollup,
                                            level=key, regions="SELECT region_code FROM units")
    units, alias = _OVERVIEW_UNITS[key]
    units = units.format(
        regions="TRUE" if regions is None else f"{alias}.region_code = ANY(:ov_regions)")
    sql = _OVERVIEW_TILE.format(units=units, counts=counts, key=key)
    n, total, open_, data = conn.execute(text(sql), {**params, "z": z, "x": x, "y": y,
                                                     "ov_regions": regions}).one()
    return int(n), int(total), int(open_), bytes(data or b"")
