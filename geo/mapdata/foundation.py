"""Map layers read straight from the foundation tables, shaped for drawing.

Small query functions returning GeoDataFrames (EPSG:4490) or plain lists, used by the Folium
maps in ``maps/`` (and usable by anything else that draws). Geometries are simplified in the
database (``ST_SimplifyPreserveTopology``) and rounded, so a county of thousands of polygons
stays a few hundred kilobytes: admin units, cells (with the worker on duty, phone masked),
compounds and cameras, a search index. Incident layers are in :mod:`geo.mapdata.incidents`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.auth.fields import as_seen
from geo.auth.principal import ANONYMOUS_VIEWER, Principal, mask_phone
from geo.boundaries.sets import set_valid_at
from geo.crs.metres import metres_to_degrees
from geo.errors import InvalidInput, NotFound
from geo.workers import on_duty_select

#: Simplification tolerances in metres for "overview" drawing of each layer.
SIMPLIFY_M = {"township": 60.0, "village": 25.0, "community": 5.0, "cell": 8.0}
CRS = "EPSG:4490"


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
        tol = metres_to_degrees(SIMPLIFY_M.get(level, 10.0) if simplify_m is None else simplify_m)
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
    principal: Principal | None = None,
) -> gpd.GeoDataFrame:
    """Grid cells of the active boundary set with the worker on duty ``on`` (default today).

    Columns: code, name, kind, parent_code, township_code, households, parent_name,
    township_name, worker_name, worker_phone_masked, geometry. ``near_code`` selects a cell and
    every cell touching it (its neighbours). The worker's phone is always masked, the name as
    ``principal`` may read it (geo.auth.fields; masked when no principal is given).
    """
    set_id, _ = set_valid_at(conn, region_code, None)
    tol = metres_to_degrees(SIMPLIFY_M["cell"] if simplify_m is None else simplify_m)
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
        r["worker_name"] = as_seen(principal or ANONYMOUS_VIEWER, "workers", "name",
                                   r["worker_name"])
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
    params: dict[str, Any] = {"r": region_code, "tol": metres_to_degrees(simplify_m)}
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
