"""Camera coverage per unit: covered area (union of sectors), blind compounds and incidents.

Only cameras whose status is ``online`` count (offline and faulty cameras see nothing). For
each unit the sectors touching it (found with the GiST index on ``camera.sector``) are
dissolved into one union, which is intersected with the unit: overlapping sectors are never
counted twice. (Dissolving all sectors of the county first and cutting the union with
``ST_Subdivide`` gives the same numbers but was slower here.) Areas are computed on the ellipsoid
(``geography``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.common import (
    boundary_set,
    check_categories,
    check_region,
    check_unit,
    incident_detail_level,
    read_gdf,
    region_metric_srid,
    result,
    unit_sql,
)
from geo.analysis.demand import NOT_DEMAND, demand_points
from geo.auth.principal import Principal
from geo.localtime import TZ_NAME
from geo.periods import Period

COVERAGE_SQL = """
WITH u AS MATERIALIZED (
    SELECT x.*, ST_Transform(x.geom, :srid) AS gm FROM ({units}) x
), s AS (
    -- per unit, the union of the online sectors touching it (GiST index on camera.sector):
    -- overlapping sectors are never counted twice
    SELECT u.code, ST_Union(ST_Transform(c.sector, :srid)) AS g
      FROM u JOIN camera c ON c.region_code = :r AND c.status = 'online'
       AND c.sector IS NOT NULL AND ST_Intersects(u.geom, c.sector)
     GROUP BY u.code
), area AS (
    -- a union inside the unit needs no intersection
    SELECT s.code, CASE WHEN ST_CoveredBy(s.g, u.gm) THEN ST_Area(s.g)
                        ELSE ST_Area(ST_Intersection(u.gm, s.g)) END AS covered_m2
      FROM s JOIN u USING (code)
), cams AS (
    SELECT u.code, count(*) FILTER (WHERE c.status = 'online') AS cameras_online,
           count(*) FILTER (WHERE c.status <> 'online') AS cameras_not_online,
           count(*) FILTER (WHERE c.bearing_deg IS NULL) AS cameras_no_bearing
      FROM u JOIN camera c ON c.region_code = :r AND ST_Covers(u.geom, c.geom) GROUP BY u.code
)
SELECT u.code, u.name, u.level, u.parent_code, u.township_code, u.households,
       ST_Area(u.gm) AS area_m2, coalesce(area.covered_m2, 0) AS covered_m2,
       coalesce(cams.cameras_online, 0) AS cameras_online,
       coalesce(cams.cameras_not_online, 0) AS cameras_not_online,
       coalesce(cams.cameras_no_bearing, 0) AS cameras_no_bearing,
       ST_AsBinary(u.geom) AS geom
  FROM u LEFT JOIN area USING (code) LEFT JOIN cams USING (code)
 ORDER BY u.code
"""

BLIND_COMPOUNDS_SQL = """
SELECT c.code, c.name, c.community_code, a.name AS community_name, c.households,
       c.mgmt_mode, ST_AsBinary(c.geom) AS geom
  FROM compound c LEFT JOIN admin_unit a ON a.region_code = c.region_code
   AND a.code = c.community_code
 WHERE c.region_code = :r
   AND NOT EXISTS (SELECT 1 FROM camera k WHERE k.region_code = c.region_code
                   AND k.status = 'online' AND k.sector IS NOT NULL
                   AND ST_Intersects(k.sector, c.geom))
 ORDER BY c.households DESC NULLS LAST, c.code
"""


def coverage_by_unit(conn: Connection, region_code: str, unit: str, set_id: int
                     ) -> gpd.GeoDataFrame:
    """Covered area of every unit by the union of online sectors (the core of the analysis).

    Returns one row per unit: ``code, name, level, parent_code, township_code, households,
    area_m2, covered_m2, covered_pct`` and camera counts, with the unit polygon (EPSG:4490).
    """
    check_unit(unit)
    srid = region_metric_srid(conn, region_code)
    units = read_gdf(conn, COVERAGE_SQL.format(units=unit_sql(unit)),
                     {"r": region_code, "set_id": set_id, "srid": srid})
    units["covered_pct"] = (100.0 * units["covered_m2"] / units["area_m2"]).where(
        units["area_m2"] > 0, 0.0).round(3)
    units["area_m2"] = units["area_m2"].round(1)
    units["covered_m2"] = units["covered_m2"].round(1)
    return units


def camera_coverage(conn: Connection, principal: Principal, region_code: str, unit: str,
                    period: Period, at: dt.date | None = None,
                    categories: list[str] | None = None, top: int = 20) -> dict[str, Any]:
    """Camera coverage of every unit of a kind, blind compounds and uncovered incidents.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller; planners get incident points without codes, viewers only counts.
    region_code
        County code.
    unit
        ``cell`` (basic cells of the boundary set), ``community`` (villages and communities),
        ``township``, ``county`` or ``compound``.
    period
        Incidents reported in this period are the demand.
    at
        Boundary set valid on this date (default: the active set).
    categories
        Restrict incidents to these category codes.
    top
        Rows of ``cells_by_uncovered_incidents`` (all cells with any when ``top`` <= 0).

    Returns
    -------
    dict
        Tables: ``units`` (``area_m2, covered_m2, covered_pct``, cameras online / not online
        / without bearing, ``incidents``, ``incidents_uncovered``, unit polygon),
        ``blind_compounds`` (compounds no online sector touches), ``uncovered_incidents``
        (points), ``cells_by_uncovered_incidents`` (ranked, with polygons).
    """
    check_unit(unit)
    check_region(conn, principal, region_code)
    categories = check_categories(conn, categories)
    bset = boundary_set(conn, region_code, at)
    params = {"r": region_code, "set_id": bset["id"]}
    units = coverage_by_unit(conn, region_code, unit, bset["id"])

    inc = demand_points(conn, principal, region_code, period, categories, unit=unit,
                        set_id=bset["id"])
    cell_inc = inc if unit == "cell" else demand_points(
        conn, principal, region_code, period, categories, unit="cell", set_id=bset["id"])
    per_unit = inc.groupby("unit_code").agg(
        incidents=("id", "size"), incidents_uncovered=("covered", lambda s: int((~s).sum())))
    units = units.merge(per_unit, how="left", left_on="code", right_index=True)
    units[["incidents", "incidents_uncovered"]] = (
        units[["incidents", "incidents_uncovered"]].fillna(0).astype(int))
    units = units[[c for c in units.columns if c != "geometry"] + ["geometry"]]

    blind = read_gdf(conn, BLIND_COMPOUNDS_SQL, {"r": region_code})

    level = incident_detail_level(principal)
    unc = inc[~inc["covered"]]
    if level == "full":
        unc = unc[unc["in_scope"]][["code", "category_code", "reported_at", "urgency",
                                    "cell_code", "unit_code", "geometry"]]
    elif level == "anonymous":
        unc = unc[["category_code", "reported_at", "unit_code", "geometry"]].copy()
        unc["reported_at"] = pd.to_datetime(unc["reported_at"], utc=True).dt.tz_convert(
            TZ_NAME).dt.date
    else:
        unc = unc.iloc[0:0][["category_code", "unit_code", "geometry"]]

    cells = read_gdf(conn, "SELECT code, name, parent_code, township_code, households, "
                           "ST_AsBinary(geom) AS geom FROM grid_cell WHERE boundary_set_id = "
                           ":set_id AND kind = 'basic'", params)
    ranked = cell_inc.groupby("unit_code").agg(
        incidents=("id", "size"), incidents_uncovered=("covered", lambda s: int((~s).sum())))
    ranked = ranked[ranked["incidents_uncovered"] > 0].sort_values(
        ["incidents_uncovered", "incidents"], ascending=False)
    if top > 0:
        ranked = ranked.head(top)
    ranked_cells = cells.merge(ranked, left_on="code", right_index=True).sort_values(
        ["incidents_uncovered", "incidents", "code"], ascending=[False, False, True])
    ranked_cells["uncovered_share_pct"] = (
        100.0 * ranked_cells["incidents_uncovered"] / ranked_cells["incidents"]).round(2)
    ranked_cells.insert(0, "rank", range(1, len(ranked_cells) + 1))
    ranked_cells = ranked_cells[[c for c in ranked_cells.columns if c != "geometry"]
                                + ["geometry"]]

    n_cams = conn.execute(text(
        "SELECT count(*) FILTER (WHERE status = 'online' AND sector IS NOT NULL), "
        "count(*) FILTER (WHERE status <> 'online'), count(*) FILTER (WHERE bearing_deg IS "
        "NULL), count(*) FROM camera WHERE region_code = :r"), {"r": region_code}).one()
    total_area = float(units["area_m2"].sum())
    covered = float(units["covered_m2"].sum())
    summary = {
        "units": len(units),
        "area_m2": round(total_area, 1),
        "covered_m2": round(covered, 1),
        "covered_pct": round(100.0 * covered / total_area, 4) if total_area else 0.0,
        "cameras": int(n_cams[3]),
        "cameras_counted": int(n_cams[0]),
        "cameras_excluded_offline_or_fault": int(n_cams[1]),
        "cameras_no_bearing_full_circle": int(n_cams[2]),
        "compounds_without_camera_view": len(blind),
        "incidents": len(inc),
        "incidents_uncovered": int((~inc["covered"]).sum()) if len(inc) else 0,
        "incident_detail": level,
    }
    inputs = {
        "region": region_code, "unit": unit, "period": period.as_dict(),
        "boundary_set": bset, "categories": categories or "all",
        "camera_statuses_counted": ["online"],
        "incident_statuses_excluded": list(NOT_DEMAND),
        "area_method": "per unit: union of the sectors touching it, intersected with the unit; "
                       "planar ST_Area in the metric CRS",
        "metric_crs": f"EPSG:{region_metric_srid(conn, region_code)}",
        "top": top,
    }
    return result("camera-coverage", inputs, summary, {
        "units": units, "blind_compounds": blind, "uncovered_incidents": unc,
        "cells_by_uncovered_incidents": ranked_cells,
    })
