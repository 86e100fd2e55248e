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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from geo.db.shards import is_federated
from geo.localtime import TZ_NAME
from geo.periods import Period

#: Per unit of ``u`` (columns ``k``: a key, ``rc``: region, ``srid``: its metric CRS, ``geom``
#: and ``gm``: the unit in CGCS2000 and in metres): the covered area and the camera counts.
#: One SQL for the analysis (:data:`COVERAGE_SQL`) and the stored per-cell coverage
#: (:func:`refresh_function_sql`).
PER_UNIT_SQL = """
s AS (
    -- per unit, the union of the online sectors touching it (GiST index on camera.sector):
    -- overlapping sectors are never counted twice
    SELECT u.k, ST_Union(ST_Transform(c.sector, u.srid)) AS g
      FROM u JOIN camera c ON c.region_code = u.rc AND c.status = 'online'
       AND c.sector IS NOT NULL AND ST_Intersects(u.geom, c.sector)
     GROUP BY u.k
), area AS (
    -- a union inside the unit needs no intersection
    SELECT s.k, CASE WHEN ST_CoveredBy(s.g, u.gm) THEN ST_Area(s.g)
                     ELSE ST_Area(ST_Intersection(u.gm, s.g)) END AS covered_m2
      FROM s JOIN u USING (k)
), cams AS (
    SELECT u.k, count(*) FILTER (WHERE c.status = 'online') AS cameras_online,
           count(*) FILTER (WHERE c.status <> 'online') AS cameras_not_online,
           count(*) FILTER (WHERE c.bearing_deg IS NULL) AS cameras_no_bearing
      FROM u JOIN camera c ON c.region_code = u.rc AND ST_Covers(u.geom, c.geom) GROUP BY u.k
), per_unit AS (
    SELECT u.k, ST_Area(u.gm) AS area_m2, coalesce(area.covered_m2, 0) AS covered_m2,
           coalesce(cams.cameras_online, 0) AS cameras_online,
           coalesce(cams.cameras_not_online, 0) AS cameras_not_online,
           coalesce(cams.cameras_no_bearing, 0) AS cameras_no_bearing
      FROM u LEFT JOIN area USING (k) LEFT JOIN cams USING (k)
)"""
#: The columns of a unit's coverage besides the unit's own.
MEASURE_COLUMNS = ("area_m2", "covered_m2", "cameras_online", "cameras_not_online",
                   "cameras_no_bearing")

COVERAGE_SQL = """
WITH u AS MATERIALIZED (
    SELECT x.*, x.code AS k, CAST(:r AS text) AS rc, CAST(:srid AS integer) AS srid,
           ST_Transform(x.geom, :srid) AS gm FROM ({units}) x
), """ + PER_UNIT_SQL.strip() + """
SELECT u.code, u.name, u.level, u.parent_code, u.township_code, u.households,
       """ + ", ".join(f"p.{c}" for c in MEASURE_COLUMNS) + """, ST_AsBinary(u.geom) AS geom
  FROM u JOIN per_unit p USING (k)
 ORDER BY u.code
"""

# --- the coverage stored per cell (migration 0018) -----------------------------------------

#: Per basic cell (``grid_cell.id``): :data:`MEASURE_COLUMNS`, kept by triggers on ``camera``
#: (the cells an inserted, updated or deleted camera's sector or point touches, old and new)
#: and on ``grid_cell`` (new or reshaped cells), in the transaction of the change.
CELL_TABLE = "cell_coverage"
#: The metric CRS the stored areas of a region were computed in (``region_metric_srid``): the
#: stored coverage answers only while it is the region's.
REGION_TABLE = "cell_coverage_region"

STORED_SQL = f"""
SELECT g.code, g.name, 'cell'::text AS level, g.parent_code, g.township_code, g.households,
       {", ".join(f"v.{c}" for c in MEASURE_COLUMNS)}, ST_AsBinary(g.geom) AS geom
  FROM grid_cell g JOIN {CELL_TABLE} v ON v.cell_id = g.id
 WHERE g.boundary_set_id = :set_id AND g.kind = 'basic'
 ORDER BY g.code
"""


def refresh_sql(cells: str) -> str:
    """The upsert of the stored coverage of the basic cells of ``grid_cell g`` meeting the
    condition ``cells`` (those of regions in :data:`REGION_TABLE`): the body of
    ``wangge_cell_coverage_refresh(ids)`` (``g.id = ANY(ids)``) and of :func:`_refresh_region`.
    """
    cols = ", ".join(MEASURE_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in MEASURE_COLUMNS)
    return f"""
    WITH u AS MATERIALIZED (
        SELECT g.id AS k, g.region_code AS rc, r.srid, g.geom, ST_Transform(g.geom, r.srid) AS gm
          FROM grid_cell g JOIN {REGION_TABLE} r ON r.region_code = g.region_code
         WHERE {cells} AND g.kind = 'basic'
    ), {PER_UNIT_SQL.strip()}
    INSERT INTO {CELL_TABLE} (cell_id, {cols}) SELECT k, {cols} FROM per_unit ORDER BY k
    ON CONFLICT (cell_id) DO UPDATE SET {sets}"""


def refresh_function_sql() -> str:
    """``wangge_cell_coverage_refresh(ids)``: recompute the stored coverage of the basic cells
    ``ids`` (those of regions in :data:`REGION_TABLE`), and the triggers calling it."""
    touched = """
        SELECT array_agg(DISTINCT id) FROM (
            SELECT g.id FROM {rows} c JOIN grid_cell g ON g.region_code = c.region_code
             AND g.kind = 'basic' AND ST_Intersects(g.geom, c.sector)
            UNION ALL
            SELECT g.id FROM {rows} c JOIN grid_cell g ON g.region_code = c.region_code
             AND g.kind = 'basic' AND ST_Covers(g.geom, c.geom)) t"""
    return f"""
CREATE OR REPLACE FUNCTION wangge_cell_coverage_refresh(ids integer[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $${refresh_sql("g.id = ANY(ids)")}
$$;
CREATE OR REPLACE FUNCTION wangge_camera_coverage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    ids integer[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        {touched.format(rows="new_rows").strip()} INTO ids;
    ELSIF TG_OP = 'DELETE' THEN
        {touched.format(rows="old_rows").strip()} INTO ids;
    ELSE
        {touched.format(rows="(SELECT region_code, sector, geom FROM old_rows UNION ALL "
                             "SELECT region_code, sector, geom FROM new_rows)").strip()} INTO ids;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM wangge_cell_coverage_refresh(ids);
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION wangge_grid_cell_coverage() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM wangge_cell_coverage_refresh(ids) FROM (
        SELECT array_agg(id) AS ids FROM new_rows WHERE kind = 'basic') n
     WHERE ids IS NOT NULL;
    RETURN NULL;
END $$;
"""


def triggers_sql() -> str:
    """The triggers of the stored coverage (migration 0018)."""
    return """
CREATE TRIGGER trg_camera_coverage_ins AFTER INSERT ON camera REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_camera_coverage();
CREATE TRIGGER trg_camera_coverage_upd AFTER UPDATE ON camera
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_camera_coverage();
CREATE TRIGGER trg_camera_coverage_del AFTER DELETE ON camera REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_camera_coverage();
CREATE TRIGGER trg_grid_cell_coverage_ins AFTER INSERT ON grid_cell
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_grid_cell_coverage();
CREATE TRIGGER trg_grid_cell_coverage_upd AFTER UPDATE ON grid_cell
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_grid_cell_coverage();
"""


#: The statement triggers keeping the stored coverage on inserts and updates of ``camera``
#: (:func:`triggers_sql`), off during :func:`bulk_cameras`.
CAMERA_WRITE_TRIGGERS = ("trg_camera_coverage_ins", "trg_camera_coverage_upd")


@contextmanager
def bulk_cameras(conn: Connection, region_code: str, written: Callable[[], int]
                 ) -> Iterator[None]:
    """Bulk inserts and updates of a region's cameras (an import of its whole inventory) with
    the stored coverage's insert and update triggers off; at the end, when the block wrote any
    camera (``written()``: how many), after an ``ANALYZE camera``, the stored coverage of every
    basic cell of the region is recomputed once, set-based (:func:`_refresh_region`; a region
    the stored coverage does not know stays unknown, as with the triggers).

    The triggers do the same work per statement, but their "which cells" join runs over a
    transition table without statistics and their refresh is planned with the camera table's
    statistics of before the load (its cells, planned as 10 rows, joined back to the sectors'
    unions by a nested loop): 100,000 cameras into an empty 20,000-cell region took 27-206 s
    in the import's INSERT; here 3.7-4.5 s for the refresh of every cell (a cell no camera
    touches costs one index probe; finding the touched cells first cost as much again: the
    README's "Cameras" import figures). Everything is in the caller's transaction (a
    rollback restores the triggers); the block must neither delete cameras (the delete
    trigger stays on) nor write another region's; it holds the camera table's exclusive lock
    until the commit, as a bulk import's dropped indexes do
    (:func:`geo.io.importer.staging.deferred_constraints`). On a federated coordinator
    (:func:`geo.db.shards.is_federated`: its ``camera`` is a parent without triggers, and the
    refresh's upsert is refused there) the block runs as it is: each shard's triggers keep
    its stored coverage."""
    if is_federated(conn):
        yield
        return
    conn.execute(text("ALTER TABLE camera " + ", ".join(
        f"DISABLE TRIGGER {t}" for t in CAMERA_WRITE_TRIGGERS)))
    yield
    conn.execute(text("ALTER TABLE camera " + ", ".join(
        f"ENABLE TRIGGER {t}" for t in CAMERA_WRITE_TRIGGERS)))
    if written():
        conn.execute(text("ANALYZE camera"))
        _refresh_region(conn, region_code)


def _refresh_region(conn: Connection, region_code: str) -> None:
    """Recompute the stored coverage of every basic cell of a region known to
    :data:`REGION_TABLE`: the refresh function's statement (:func:`refresh_sql`) with the
    region as its condition, so that the planner counts the region's cells from the
    statistics. Through ``wangge_cell_coverage_refresh(array_agg(id))`` the cells are a
    parameter planned as 10 rows, and with them the sectors' unions were joined back to the
    cells by a nested loop: 100,000 cameras re-imported into a 20,000-cell region, 360 s for
    the refresh instead of 9.7 s (EXPLAIN ANALYZE, load 2.5)."""
    conn.execute(text(refresh_sql("g.region_code = :r")), {"r": region_code})


def store_region(conn: Connection, region_code: str) -> None:
    """(Re)compute the stored coverage of every basic cell of a region in its metric CRS.

    Called where a region's metric CRS is set (its county boundary written): ``wangge region
    add``, the demo loaders, the migration's backfill, and a cells import of a region not yet
    stored (:func:`ensure_region`). Readers never call it: they answer on the fly instead.
    The tables are analysed first: they were usually just bulk-written, and without their
    statistics the planner joins cells and sectors badly (a fresh county of 1,376 cells and
    2,219 cameras: minutes instead of half a second)."""
    conn.execute(text("ANALYZE grid_cell, camera"))
    conn.execute(text(f"INSERT INTO {REGION_TABLE} (region_code, srid) VALUES (:r, :srid) "
                      "ON CONFLICT (region_code) DO UPDATE SET srid = EXCLUDED.srid"),
                 {"r": region_code, "srid": region_metric_srid(conn, region_code)})
    _refresh_region(conn, region_code)


def _stored_matches(conn: Connection, region_code: str, srid: int) -> bool:
    """The stored coverage of the region answers (computed in the region's metric CRS)."""
    return conn.execute(text(f"SELECT srid FROM {REGION_TABLE} WHERE region_code = :r"),
                        {"r": region_code}).scalar() == srid


def ensure_region(conn: Connection, region_code: str) -> bool:
    """:func:`store_region` unless the region's coverage is stored in its metric CRS already
    (a writer's call); True when it was (re)computed."""
    if _stored_matches(conn, region_code, region_metric_srid(conn, region_code)):
        return False
    store_region(conn, region_code)
    return True


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


def coverage_by_unit(conn: Connection, region_code: str, unit: str, set_id: int,
                     stored: bool = True) -> gpd.GeoDataFrame:
    """Covered area of every unit by the union of online sectors (the core of the analysis).

    Returns one row per unit: ``code, name, level, parent_code, township_code, households,
    area_m2, covered_m2, covered_pct`` and camera counts, with the unit polygon (EPSG:4490).
    Basic cells are read from the stored per-cell coverage (:data:`CELL_TABLE`, the same SQL
    kept by triggers) when it was computed in the region's metric CRS; other units,
    ``stored=False`` (the anchor of the tests and benchmarks) and a region whose stored
    coverage is absent or in another CRS are computed on the fly. A read never writes: the
    stored coverage is computed where the region's boundary is written (:func:`store_region`).
    """
    check_unit(unit)
    srid = region_metric_srid(conn, region_code)
    params = {"r": region_code, "set_id": set_id, "srid": srid}
    if unit == "cell" and stored and _stored_matches(conn, region_code, srid):
        units = read_gdf(conn, STORED_SQL, params)
    else:
        units = read_gdf(conn, COVERAGE_SQL.format(units=unit_sql(unit)), params)
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
