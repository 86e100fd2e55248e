"""Simple coverage figures for the planners' maps (camera and property-management coverage).

Deliberately small, set-based SQL so the maps can be drawn today; each function has the shape
``f(conn, region_code, unit) -> GeoDataFrame`` (one row per unit, EPSG:4490) so that it can be
swapped for the fuller functions of ``geo.analysis`` when they land. Definitions:

- **property-management share** of a unit = compounds whose ``mgmt_mode`` is not ``none`` /
  all compounds in the unit (also weighted by households). A compound belongs to its
  ``community_code``; for cells, to the cell containing its point-on-surface; for townships, to
  the township of its community. Units without compounds get ``share = NaN``.
- **camera coverage** of a unit = area of (union of *online* camera sectors ∩ unit) / unit area,
  areas on the ellipsoid (geography).
- **grid gaps / overlaps**: parts of a village/community not covered by its basic cells, and
  intersections of two basic cells, larger than ``min_area_m2``.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection, text

from geo.errors import InvalidInput
from geo.lookup import boundary_set_at

UNITS = ("cell", "community", "township")
CRS = "EPSG:4490"
_SIMPLIFY_DEG = {"cell": 8 / 111_000, "community": 20 / 111_000, "township": 60 / 111_000}


def check_unit(unit: str) -> str:
    """Validate a unit name (cell, community, township)."""
    if unit not in UNITS:
        raise InvalidInput(
            f"未知统计单元 unit={unit!r}, 可选 {', '.join(UNITS)} / unknown unit {unit!r}: "
            f"use one of {', '.join(UNITS)}", field="unit",
        )
    return unit


def _units_sql(unit: str) -> str:
    """SQL of (code, name, geom) for the unit level; ``:s`` boundary set, ``:r`` region."""
    if unit == "cell":
        return ("SELECT code, name, geom FROM grid_cell WHERE boundary_set_id = :s "
                "AND kind = 'basic'")
    if unit == "community":  # villages and communities alike
        return ("SELECT code, name, geom FROM admin_unit WHERE region_code = :r "
                "AND level IN ('village', 'community')")
    return "SELECT code, name, geom FROM admin_unit WHERE region_code = :r AND level = 'township'"


def _gdf(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    geoms = [shapely.from_geojson(r.pop("geometry")) for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def property_share(conn: Connection, region_code: str, unit: str = "community") -> gpd.GeoDataFrame:
    """Property-management share per unit.

    Returns
    -------
    GeoDataFrame
        code, name, compounds, managed, unmanaged, households, households_managed, share,
        share_households (0..1, NaN without compounds), geometry (simplified).
    """
    check_unit(unit)
    set_id, _ = boundary_set_at(conn, region_code, None)
    if unit == "cell":
        assign = ("SELECT m.*, (SELECT g.code FROM grid_cell g WHERE g.boundary_set_id = :s "
                  "AND g.kind = 'basic' AND ST_Covers(g.geom, ST_PointOnSurface(m.geom)) "
                  "ORDER BY g.code LIMIT 1) AS unit_code FROM compound m WHERE m.region_code = :r")
    elif unit == "community":
        assign = ("SELECT m.*, m.community_code AS unit_code FROM compound m "
                  "WHERE m.region_code = :r")
    else:
        assign = ("SELECT m.*, a.parent_code AS unit_code FROM compound m LEFT JOIN admin_unit a "
                  "ON a.region_code = m.region_code AND a.code = m.community_code "
                  "WHERE m.region_code = :r")
    rows = [dict(r) for r in conn.execute(text(f"""
        WITH m AS ({assign}),
        agg AS (SELECT unit_code, count(*) AS compounds,
                       count(*) FILTER (WHERE mgmt_mode <> 'none') AS managed,
                       COALESCE(sum(households), 0) AS households,
                       COALESCE(sum(households) FILTER (WHERE mgmt_mode <> 'none'), 0)
                           AS households_managed
                FROM m GROUP BY unit_code),
        u AS ({_units_sql(unit)})
        SELECT u.code, u.name, COALESCE(agg.compounds, 0) AS compounds,
               COALESCE(agg.managed, 0) AS managed, COALESCE(agg.households, 0) AS households,
               COALESCE(agg.households_managed, 0) AS households_managed,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(u.geom, :tol), 6) AS geometry
        FROM u LEFT JOIN agg ON agg.unit_code = u.code ORDER BY u.code
    """), {"r": region_code, "s": set_id, "tol": _SIMPLIFY_DEG[unit]}).mappings()]
    gdf = _gdf(rows)
    gdf["unmanaged"] = gdf["compounds"] - gdf["managed"]
    gdf["share"] = (gdf["managed"] / gdf["compounds"].where(gdf["compounds"] > 0)).astype(float)
    gdf["share_households"] = (
        gdf["households_managed"] / gdf["households"].where(gdf["households"] > 0)
    ).astype(float)
    return gdf


def camera_coverage(conn: Connection, region_code: str, unit: str = "cell") -> gpd.GeoDataFrame:
    """Share of each unit's area seen by at least one online camera.

    Returns
    -------
    GeoDataFrame
        code, name, area_m2, covered_m2, share (0..1), cameras (online cameras whose sector
        touches the unit), geometry (simplified).
    """
    check_unit(unit)
    set_id, _ = boundary_set_at(conn, region_code, None)
    rows = [dict(r) for r in conn.execute(text(f"""
        WITH u AS ({_units_sql(unit)})
        SELECT u.code, u.name, ST_Area(u.geom::geography) AS area_m2,
               COALESCE(ST_Area(ST_Intersection(u.geom, k.sectors)::geography), 0) AS covered_m2,
               COALESCE(k.n, 0) AS cameras,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(u.geom, :tol), 6) AS geometry
        FROM u LEFT JOIN LATERAL (
            SELECT ST_Union(c.sector) AS sectors, count(*) AS n FROM camera c
            WHERE c.region_code = :r AND c.status = 'online' AND c.sector IS NOT NULL
              AND ST_Intersects(c.sector, u.geom)) k ON TRUE
        ORDER BY u.code
    """), {"r": region_code, "s": set_id, "tol": _SIMPLIFY_DEG[unit]}).mappings()]
    gdf = _gdf(rows)
    gdf["share"] = (gdf["covered_m2"] / gdf["area_m2"]).clip(0, 1).astype(float)
    return gdf


def grid_gaps_overlaps(
    conn: Connection, region_code: str, min_area_m2: float = 1.0
) -> gpd.GeoDataFrame:
    """Gaps (parent not covered by its basic cells) and overlaps (two basic cells) of the grid.

    Returns
    -------
    GeoDataFrame
        kind ('gap' | 'overlap'), codes (the parent, or the two cells), area_m2, geometry.
    """
    set_id, _ = boundary_set_at(conn, region_code, None)
    rows = [dict(r) for r in conn.execute(text("""
        WITH gaps AS (
            SELECT 'gap' AS kind, p.code AS codes,
                   ST_Difference(p.geom, ST_Union(c.geom)) AS g
            FROM admin_unit p JOIN grid_cell c ON c.boundary_set_id = :s AND c.kind = 'basic'
                 AND c.parent_code = p.code
            WHERE p.region_code = :r AND p.level IN ('village', 'community')
            GROUP BY p.code, p.geom),
        ovl AS (
            SELECT 'overlap' AS kind, a.code || ' / ' || b.code AS codes,
                   ST_Intersection(a.geom, b.geom) AS g
            FROM grid_cell a JOIN grid_cell b ON b.boundary_set_id = a.boundary_set_id
                 AND a.code < b.code AND b.kind = 'basic' AND ST_Overlaps(a.geom, b.geom)
            WHERE a.boundary_set_id = :s AND a.kind = 'basic'),
        allp AS (SELECT * FROM gaps UNION ALL SELECT * FROM ovl)
        SELECT kind, codes, ST_Area(g::geography) AS area_m2, ST_AsGeoJSON(g, 7) AS geometry
        FROM allp WHERE NOT ST_IsEmpty(g) AND ST_Area(g::geography) > :min
        ORDER BY area_m2 DESC
    """), {"r": region_code, "s": set_id, "min": min_area_m2}).mappings()]
    if not rows:
        return gpd.GeoDataFrame({"kind": [], "codes": [], "area_m2": []},
                                geometry=gpd.GeoSeries([], crs=CRS), crs=CRS)
    return _gdf(rows)
