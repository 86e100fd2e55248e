"""Spatial questions beyond a bbox: within a distance, k nearest, intersecting a geometry,
everything inside a cell or an administrative unit, and a cell's summary.

Distances are geodesic metres (PostGIS geography on the CGCS2000 ellipsoid, treated like WGS84
as PostGIS does). Every query pre-filters with the GiST index on the 4490 geometry (``&&`` on an
expanded box, or the ``<->`` KNN operator) and then measures exactly.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, literal, select, text
from sqlalchemy.types import String

from geo.auth.fields import as_seen, mask_row, visible_fields
from geo.auth.principal import Principal, mask_phone
from geo.crs.metres import metres_to_degrees
from geo.crs.names import CGCS2000
from geo.crs.validate import check_lonlat
from geo.db.tables import Base
from geo.errors import InvalidInput, NotFound, TooLarge
from geo.incidents.flow import OPEN_STATUSES
from geo.io.geometry import parse_geometry
from geo.layers.registry import (
    Layer,
    base_conditions,
    get_layer,
    where_all,
)
from geo.workers import worker_on_duty

MAX_DISTANCE_M = 50_000.0
MAX_K = 1000
# A posted query shape (a drawn area, a cell) has hundreds of vertices, a county boundary a few
# thousand; 200,000 cost the database 2-4 s per request, open to anonymous callers (review R11).
MAX_QUERY_VERTICES = 20_000
POINT_LAYERS = ("cameras", "incidents")
NEAREST_LAYERS = ("cameras", "cells", "compounds", "incidents")
SPATIAL_LAYERS = ("cells", "admin_units", "compounds", "cameras", "camera_sectors", "incidents")
UNIT_KINDS = ("cell", "village", "community", "township")


def _point(lon: float, lat: float) -> Any:
    return func.ST_SetSRID(func.ST_MakePoint(literal(lon), literal(lat)), 4490)


def _geog(expr: Any) -> Any:
    # geography(geom) keeps the column's SRID (4490 is a geographic SRID PostGIS knows)
    return func.geography(expr)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _feature_rows(
    layer: Layer, rows: list[dict[str, Any]], principal: Principal, props: list[str],
    extra: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        masked = mask_row(principal, layer.id, row)
        properties = {k: _jsonable(masked[k]) for k in props}
        for key in extra:
            value = masked.get(key)
            properties[key] = round(float(value), 2) if isinstance(value, float) else value
        gj = row.get("__geojson")
        out.append({
            "type": "Feature",
            "id": str(row[layer.id_column]),
            "geometry": json.loads(gj) if gj else None,
            "properties": properties,
        })
    return out


def _columns(layer: Layer, principal: Principal) -> tuple[list[Any], list[str]]:
    props = visible_fields(principal, layer.id, layer.properties)
    fetch = list(dict.fromkeys([layer.id_column, *props]))
    if layer.incidents:
        fetch = list(dict.fromkeys([*fetch, "cell_code", "department_code"]))
    t = layer.table
    cols: list[Any] = [t.c[c] for c in fetch]
    cols.append(func.ST_AsGeoJSON(layer.column("geometry"), 8, 0).label("__geojson"))
    return cols, props


def _collection(features: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", **meta, "numberReturned": len(features),
            "features": features}


def _check_limit(limit: int, cap: int, name: str = "limit") -> None:
    if limit < 1:
        raise InvalidInput(f"{name} 必须 >= 1 / {name} must be >= 1", field=name)
    if limit > cap:
        raise TooLarge(f"{name}={limit} 超过上限 {cap} / {name} {limit} is above the cap {cap}",
                       field=name, max=cap)


def within_distance(
    conn: Connection, layer_id: str, lon: float, lat: float, distance_m: float,
    principal: Principal, limit: int = 1000, max_limit: int = 10_000,
) -> dict[str, Any]:
    """Features of a layer within ``distance_m`` metres (geodesic) of a CGCS2000 point.

    Ordered by distance; each feature carries ``distance_m``.

    Raises
    ------
    InvalidInput
        Bad point or a distance outside (0, 50 km].
    """
    layer = get_layer(layer_id, SPATIAL_LAYERS)
    check_lonlat(lon, lat)
    if not (0 < distance_m <= MAX_DISTANCE_M):
        raise InvalidInput(
            f"distance_m 须在 (0, {MAX_DISTANCE_M:.0f}] 米 / distance_m must be in "
            f"(0, {MAX_DISTANCE_M:.0f}] metres, got {distance_m}", field="distance_m",
        )
    _check_limit(limit, max_limit)
    p = _point(lon, lat)
    geom = layer.column("geometry")
    dist = func.ST_Distance(_geog(geom), _geog(p))
    conds = base_conditions(layer, principal)
    conds += [geom.op("&&")(func.ST_Expand(p, metres_to_degrees(distance_m, lat))),
              func.ST_DWithin(_geog(geom), _geog(p), distance_m)]
    cols, props = _columns(layer, principal)
    stmt = (select(*cols, dist.label("distance_m")).where(where_all(conds))
            .order_by(dist, layer.table.c[layer.id_column]).limit(limit + 1))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    truncated = len(rows) > limit
    features = _feature_rows(layer, rows[:limit], principal, props, ("distance_m",))
    return _collection(features, layer=layer.id, distance_m=distance_m, truncated=truncated,
                       center={"lon": lon, "lat": lat})


def nearest(
    conn: Connection, layer_id: str, lon: float, lat: float, k: int, principal: Principal,
) -> dict[str, Any]:
    """The ``k`` nearest features to a CGCS2000 point, ordered by geodesic metres.

    Step 1 takes the ``k`` nearest by the index (``<->``, planar degrees); the largest true
    distance among them bounds the answer. Step 2 fetches everything within that bound and
    orders it by the exact geodesic distance, so the degree distortion never changes the
    result.
    """
    layer = get_layer(layer_id, NEAREST_LAYERS)
    check_lonlat(lon, lat)
    _check_limit(k, MAX_K, "k")
    p = _point(lon, lat)
    geom = layer.column("geometry")
    where = where_all(base_conditions(layer, principal))
    knn = (select(geom.label("g")).where(where).order_by(geom.op("<->")(p)).limit(k)
           .subquery())
    bound = conn.execute(
        select(func.max(func.ST_Distance(_geog(knn.c.g), _geog(p))))
    ).scalar()
    if bound is None:
        return _collection([], layer=layer.id, k=k, center={"lon": lon, "lat": lat})
    bound = float(bound) + 0.01
    dist = func.ST_Distance(_geog(geom), _geog(p))
    conds = base_conditions(layer, principal)
    conds += [geom.op("&&")(func.ST_Expand(p, metres_to_degrees(bound, lat))),
              func.ST_DWithin(_geog(geom), _geog(p), bound)]
    cols, props = _columns(layer, principal)
    stmt = (select(*cols, dist.label("distance_m")).where(where_all(conds))
            .order_by(dist, layer.table.c[layer.id_column]).limit(k))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    features = _feature_rows(layer, rows, principal, props, ("distance_m",))
    return _collection(features, layer=layer.id, k=k, center={"lon": lon, "lat": lat})


def parse_geojson_geometry(geometry: Any, crs: str | None) -> Any:
    """A posted GeoJSON geometry as a valid CGCS2000 shapely geometry.

    The one geometry gate (:func:`geo.io.geometry.parse_geometry`) without repair: API input
    that is invalid is refused, never silently changed.

    Raises
    ------
    InvalidInput
        Not a GeoJSON geometry, or invalid (with the GEOS reason, e.g. a self-intersection).
    """
    geom = parse_geometry(geometry, crs or CGCS2000, repair=False).geom
    n = int(shapely.get_num_coordinates(geom))
    if n > MAX_QUERY_VERTICES:
        raise TooLarge(
            f"查询几何有 {n} 个顶点, 超过 {MAX_QUERY_VERTICES}: 请先简化 (如 QGIS「简化」, 容差 "
            f"1 米), 或按单元查询 GET /spatial/inside/{{kind}}/{{code}} / the query geometry has "
            f"{n} vertices, more than {MAX_QUERY_VERTICES}: simplify it first (e.g. QGIS "
            "Simplify, 1 m tolerance) or ask by unit with GET /spatial/inside/{kind}/{code}",
            field="geometry")
    return geom


def intersecting(
    conn: Connection, layer_id: str, geometry: Any, crs: str | None, principal: Principal,
    limit: int = 1000, max_limit: int = 10_000,
) -> dict[str, Any]:
    """Features of a layer intersecting a posted GeoJSON geometry (in ``crs``)."""
    layer = get_layer(layer_id, SPATIAL_LAYERS)
    _check_limit(limit, max_limit)
    geom_in = parse_geojson_geometry(geometry, crs)
    lit = gf.ST_GeomFromText(literal(geom_in.wkt, String), 4490)
    conds = base_conditions(layer, principal)
    conds.append(func.ST_Intersects(layer.column("geometry"), lit))
    where = where_all(conds)
    matched = int(conn.execute(select(func.count()).select_from(layer.table).where(where))
                  .scalar() or 0)
    cols, props = _columns(layer, principal)
    stmt = select(*cols).where(where).order_by(layer.table.c[layer.id_column]).limit(limit)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    return _collection(_feature_rows(layer, rows, principal, props), layer=layer.id,
                       numberMatched=matched)


def _unit_geometry(conn: Connection, kind: str, code: str, principal: Principal) -> dict[str, Any]:
    if kind not in UNIT_KINDS:
        raise InvalidInput(
            f"未知单元类型 {kind!r}; 可用: {', '.join(UNIT_KINDS)} / unknown unit kind {kind!r}; "
            f"known: {', '.join(UNIT_KINDS)}", field="kind",
        )
    if kind == "cell":
        row = conn.execute(text(
            "SELECT c.id, 'grid_cell' AS tbl, c.code, c.name, c.region_code, 'cell' AS level "
            "FROM grid_cell c "
            "JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
            "WHERE c.code = :c"), {"c": code}).mappings().first()
    else:
        row = conn.execute(text(
            "SELECT id, 'admin_unit' AS tbl, code, name, region_code, level FROM admin_unit "
            "WHERE code = :c AND level = :l"), {"c": code, "l": kind}).mappings().first()
    if row is None or not principal.in_region(row["region_code"]):
        raise NotFound(
            f"没有编码为 {code} 的{kind} / no {kind} with code {code}", kind=kind, code=code
        )
    return dict(row)


def inside(
    conn: Connection, kind: str, code: str, principal: Principal,
    layers: tuple[str, ...] = ("cells", "compounds", "cameras", "incidents"),
    limit: int = 1000, max_limit: int = 10_000,
) -> dict[str, Any]:
    """Everything inside a cell, village, community or township, by code.

    Point layers: covered by the unit. Polygon layers (cells, compounds): their point on
    surface is covered, so each lies in exactly one unit of a partition. Incidents are scoped
    to the caller.
    """
    _check_limit(limit, max_limit)
    unit = _unit_geometry(conn, kind, code, principal)
    unit_table = Base.metadata.tables[unit["tbl"]]
    out_layers: dict[str, Any] = {}
    for lid in layers:
        layer = get_layer(lid, ("cells", "compounds", "cameras", "camera_sectors", "incidents"))
        geom = layer.column("geometry")
        unit_geom = (select(unit_table.c.geom).where(unit_table.c.id == unit["id"])
                     .scalar_subquery())
        target = geom if layer.geometry_type == "Point" else func.ST_PointOnSurface(geom)
        conds = base_conditions(layer, principal)
        conds += [geom.op("&&")(unit_geom), func.ST_Covers(unit_geom, target)]
        if lid == "cells" and kind == "cell":
            conds.append(layer.table.c.code != code)
        where = where_all(conds)
        matched = int(conn.execute(select(func.count()).select_from(layer.table).where(where))
                      .scalar() or 0)
        cols, props = _columns(layer, principal)
        stmt = select(*cols).where(where).order_by(layer.table.c[layer.id_column]).limit(limit)
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        out_layers[lid] = _collection(_feature_rows(layer, rows, principal, props),
                                      numberMatched=matched)
    return {
        "unit": {"kind": kind, "code": unit["code"], "name": unit["name"],
                 "level": unit["level"]},
        "layers": out_layers,
    }


def cell_summary(conn: Connection, code: str, principal: Principal) -> dict[str, Any]:
    """A cell's card: worker on duty, compounds, cameras, open incidents and neighbours."""
    cell = conn.execute(text(
        "SELECT c.id, c.code, c.name, c.kind, c.region_code, c.parent_code, c.township_code, "
        "c.households, c.population, c.boundary_set_id, "
        "ST_Area(c.geom::geography) AS area_m2, "
        "(SELECT name FROM admin_unit a WHERE a.region_code = c.region_code "
        " AND a.code = c.parent_code) AS parent_name, "
        "(SELECT name FROM admin_unit a WHERE a.region_code = c.region_code "
        " AND a.code = c.township_code) AS township_name "
        "FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
        "WHERE c.code = :c"), {"c": code}).mappings().first()
    if cell is None:
        raise NotFound(f"没有编码为 {code} 的网格 (生效边界集) / no cell {code} in the active "
                       "boundary set", code=code)
    region = cell["region_code"]
    # cells are a public layer: a caller outside the cell's county sees the public card
    principal = principal.seen_from(region)
    worker = worker_on_duty(conn, region, code, dt.date.today())
    compounds = [dict(r) for r in conn.execute(text(
        "SELECT p.code, p.name, p.mgmt_mode, p.households FROM compound p, grid_cell c "
        "WHERE c.id = :id AND p.region_code = c.region_code AND p.geom && c.geom "
        "AND ST_Covers(c.geom, ST_PointOnSurface(p.geom)) ORDER BY p.code"),
        {"id": cell["id"]}).mappings()]
    cameras = [dict(r) for r in conn.execute(text(
        "SELECT m.gb_id, m.name, m.status, m.bearing_deg, m.range_m FROM camera m, grid_cell c "
        "WHERE c.id = :id AND m.region_code = c.region_code AND m.geom && c.geom "
        "AND ST_Covers(c.geom, m.geom) ORDER BY m.gb_id"), {"id": cell["id"]}).mappings()]
    counts = {r[0]: int(r[1]) for r in conn.execute(text(
        "SELECT status, count(*) FROM incident WHERE region_code = :r AND cell_code = :c "
        "AND status = ANY(:open) GROUP BY status ORDER BY status"),
        {"r": region, "c": code, "open": list(OPEN_STATUSES)})}
    inc_layer = get_layer("incidents")
    visible: list[dict[str, Any]] = []
    if principal.may_see_incident(code, None) or principal.role == "department":
        conds = base_conditions(inc_layer, principal)
        t = inc_layer.table
        conds += [t.c.region_code == region, t.c.cell_code == code,
                  t.c.status.in_(OPEN_STATUSES)]
        stmt = (select(t.c.code, t.c.category_code, t.c.status, t.c.urgency, t.c.reported_at,
                       t.c.due_at, t.c.department_code, t.c.cell_code)
                .where(where_all(conds)).order_by(t.c.reported_at.desc()).limit(200))
        visible = [{k: _jsonable(v) for k, v in dict(r).items()}
                   for r in conn.execute(stmt).mappings()]
    neighbours = [dict(r) for r in conn.execute(text(
        # neighbours share an edge up to ~0.1 m of digitising noise (1e-6 degrees)
        "SELECT n.code, n.name, round(ST_Length(ST_Intersection(ST_Boundary(n.geom), "
        "ST_Buffer(c.geom, 1e-6))::geography)::numeric, 1)::float AS shared_edge_m "
        "FROM grid_cell c JOIN grid_cell n ON n.boundary_set_id = c.boundary_set_id "
        "AND n.id <> c.id AND n.kind = 'basic' AND n.geom && ST_Expand(c.geom, 1e-6) "
        "AND ST_DWithin(n.geom, c.geom, 1e-6) WHERE c.id = :id ORDER BY n.code"),
        {"id": cell["id"]}).mappings()]
    return {
        "code": cell["code"], "name": cell["name"], "kind": cell["kind"],
        "village_or_community": {"code": cell["parent_code"], "name": cell["parent_name"]},
        "township": {"code": cell["township_code"], "name": cell["township_name"]},
        "households": cell["households"], "population": cell["population"],
        "area_m2": round(float(cell["area_m2"]), 1),
        "boundary_set_id": cell["boundary_set_id"],
        "worker": None if worker is None else {
            "code": worker["code"],
            "name": as_seen(principal, "workers", "name", worker["name"]),
            "phone_masked": mask_phone(worker.get("phone")),
            "on_duty_since": _jsonable(worker["valid_from"]),
        },
        "compounds": compounds,
        "cameras": cameras,
        "open_incidents": {"count": sum(counts.values()), "by_status": counts,
                           "items": visible},
        "neighbours": neighbours,
    }
