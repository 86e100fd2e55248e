"""Grid health: gaps and overlaps of the grid, vacant cells, worker load and its imbalance.

Gaps are the parts of a village/community (or of the county) that no basic cell covers;
overlaps are the parts shared by two basic cells (dedicated cells lie over basic cells by
design and are left out). Both are computed in the region's Gauss-Kruger metric CRS, and
slivers are dropped: a piece counts only when its area is at least ``min_area_m2`` and it
survives an inward buffer of ``sliver_m`` (i.e. it is wider than ``2 * sliver_m``). The demo's
cells partition their parents to about 1 cm, so its slivers vanish at the default 5 cm.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.analysis.common import (
    boundary_set,
    check_region,
    gini,
    read_gdf,
    region_metric_srid,
    result,
)
from geo.analysis.demand import NOT_DEMAND
from geo.auth.fields import as_seen
from geo.auth.principal import Principal
from geo.errors import InvalidInput
from geo.periods import Period
from geo.workers import on_duty_sql

_KEEP = "ST_Area(d.geom) >= :min_area AND NOT ST_IsEmpty(ST_Buffer(d.geom, -:sliver))"

GAPS_SQL = f"""
WITH p AS (
    SELECT code, name, level, parent_code, ST_Transform(geom, :srid) AS g FROM admin_unit
     WHERE region_code = :r AND level IN ('village', 'community')
), c AS (
    SELECT parent_code, ST_Union(ST_Transform(geom, :srid)) AS g FROM grid_cell
     WHERE boundary_set_id = :s AND kind = 'basic' GROUP BY parent_code
), k AS (
    SELECT code, name, ST_Transform(geom, :srid) AS g FROM admin_unit
     WHERE region_code = :r AND level = 'county'
), allc AS (
    SELECT ST_Union(g) AS g FROM c
), pieces AS (
    SELECT 'parent' AS scope, p.code AS unit_code, p.name AS unit_name, p.level AS unit_level,
           (ST_Dump(CASE WHEN c.g IS NULL THEN p.g ELSE ST_Difference(p.g, c.g) END)).geom
      FROM p LEFT JOIN c ON c.parent_code = p.code
    UNION ALL
    SELECT 'county', k.code, k.name, 'county',
           (ST_Dump(CASE WHEN allc.g IS NULL THEN k.g ELSE ST_Difference(k.g, allc.g) END)).geom
      FROM k, allc
)
SELECT d.scope, d.unit_code, d.unit_name, d.unit_level, ST_Area(d.geom) AS area_m2,
       ST_AsBinary(ST_Transform(d.geom, 4490)) AS geom
  FROM pieces d
 WHERE ST_Dimension(d.geom) = 2 AND {_KEEP}
 ORDER BY d.scope DESC, area_m2 DESC
"""

OVERLAPS_SQL = f"""
SELECT a.code AS cell_a, b.code AS cell_b, a.parent_code AS parent_a,
       b.parent_code AS parent_b, ST_Area(d.geom) AS area_m2,
       ST_AsBinary(ST_Transform(d.geom, 4490)) AS geom
  FROM grid_cell a
  JOIN grid_cell b ON b.boundary_set_id = a.boundary_set_id AND a.code < b.code
   AND a.geom && b.geom AND b.kind = 'basic'
  CROSS JOIN LATERAL ST_Dump(ST_Intersection(ST_Transform(a.geom, :srid),
                                             ST_Transform(b.geom, :srid))) d
 WHERE a.boundary_set_id = :s AND a.kind = 'basic' AND ST_Dimension(d.geom) = 2
   AND {_KEEP}
 ORDER BY area_m2 DESC
"""

VACANT_SQL = f"""
SELECT c.code, c.name, c.kind, c.parent_code, c.township_code, c.households,
       (SELECT max(a.valid_to) FROM worker_assignment a WHERE a.region_code = c.region_code
         AND a.cell_code = c.code AND a.valid_to <= :d) AS vacant_since,
       ST_AsBinary(c.geom) AS geom
  FROM grid_cell c
 WHERE c.boundary_set_id = :s
   AND NOT EXISTS (SELECT 1 FROM worker_assignment a WHERE a.region_code = c.region_code
                   AND a.cell_code = c.code AND {on_duty_sql("a", ":d")})
 ORDER BY c.code
"""

LOAD_SQL = f"""
WITH duty AS (
    SELECT a.worker_id, c.code, c.kind, coalesce(c.households, 0) AS households,
           c.township_code
      FROM worker_assignment a
      JOIN grid_cell c ON c.boundary_set_id = :s AND c.code = a.cell_code
     WHERE a.region_code = :r AND {on_duty_sql("a", ":d")}
), inc AS (
    SELECT worker_id, count(*) AS n FROM incident
     WHERE region_code = :r AND reported_at >= :t0 AND reported_at < :t1
       AND worker_id IS NOT NULL AND status <> ALL(CAST(:not_demand AS text[]))
     GROUP BY worker_id
)
SELECT w.id AS worker_id, w.code AS worker_code, w.name AS worker_name, w.role_note,
       count(duty.code) AS cells, string_agg(duty.code, ',' ORDER BY duty.code) AS cell_codes,
       min(duty.township_code) AS township_code,
       sum(duty.households) AS households, coalesce(max(inc.n), 0) AS incidents
  FROM duty JOIN grid_worker w ON w.id = duty.worker_id
  LEFT JOIN inc ON inc.worker_id = duty.worker_id
 GROUP BY w.id, w.code, w.name, w.role_note
 ORDER BY w.code
"""


def imbalance(values: np.ndarray) -> dict[str, float]:
    """Spread of a load over workers: Gini, max/mean, coefficient of variation, mean, max."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return {"n": 0, "mean": 0.0, "max": 0.0, "gini": 0.0, "max_over_mean": 0.0, "cv": 0.0}
    mean = float(x.mean())
    return {
        "n": len(x),
        "mean": round(mean, 3),
        "max": float(x.max()),
        "gini": round(gini(x), 4),
        "max_over_mean": round(float(x.max()) / mean, 4) if mean > 0 else 0.0,
        "cv": round(float(x.std()) / mean, 4) if mean > 0 else 0.0,
    }


def grid_health(conn: Connection, principal: Principal, region_code: str,
                period: Period, at: dt.date | None = None, sliver_m: float = 0.05,
                min_area_m2: float = 1.0, on: dt.date | None = None) -> dict[str, Any]:
    """Gaps, overlaps, vacant cells and worker load of a boundary set.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller: worker names are masked unless the caller sees everything (command, admin);
        phones are never returned.
    region_code
        County code.
    period
        Incidents reported in this period measure the workers' load (each incident counts for
        the worker on duty when it was reported).
    at
        Boundary set valid on this date (default: the active set).
    sliver_m, min_area_m2
        Sliver tolerance: pieces narrower than ``2 * sliver_m`` or smaller than
        ``min_area_m2`` are ignored.
    on
        Day of the duty roster (vacant cells, each worker's cells and households); default
        today.

    Returns
    -------
    dict
        Tables ``gaps`` (scope ``parent`` or ``county``, unit, ``area_m2``, polygon),
        ``overlaps`` (cell pair, ``area_m2``, polygon), ``vacant_cells`` (no worker on duty on
        ``on``, polygon) and ``worker_load`` (per worker on duty: cells, households, incidents
        in the period, ratio to the mean).
    """
    if not (0 <= sliver_m <= 100) or not (0 <= min_area_m2 <= 1e6):
        raise InvalidInput("容差须满足 0<=sliver_m<=100, 0<=min_area_m2<=1e6 / tolerances out "
                           "of range: 0 <= sliver_m <= 100, 0 <= min_area_m2 <= 1e6",
                           field="sliver_m")
    check_region(conn, principal, region_code)
    bset = boundary_set(conn, region_code, at)
    srid = region_metric_srid(conn, region_code)
    p = {"r": region_code, "s": bset["id"], "srid": srid, "sliver": sliver_m,
         "min_area": min_area_m2}
    gaps = read_gdf(conn, GAPS_SQL, p)
    overlaps = read_gdf(conn, OVERLAPS_SQL, p)
    for df in (gaps, overlaps):
        df["area_m2"] = df["area_m2"].astype(float).round(2)
    duty_day = on or dt.date.today()
    vacant = read_gdf(conn, VACANT_SQL, {**p, "d": duty_day})
    load = pd.DataFrame(conn.execute(
        text(LOAD_SQL),
        {**p, "d": duty_day, "t0": period.start, "t1": period.end,
         "not_demand": list(NOT_DEMAND)}).mappings().all())
    if load.empty:
        load = pd.DataFrame(columns=["worker_id", "worker_code", "worker_name", "role_note",
                                     "cells", "cell_codes", "township_code", "households",
                                     "incidents"])
    load = load.drop(columns=["worker_id"])
    load["worker_name"] = [as_seen(principal, "workers", "name", n) for n in load["worker_name"]]
    for col in ("cells", "households", "incidents"):
        load[col] = load[col].astype(int)
    hh_mean = load["households"].mean() if len(load) else 0
    inc_mean = load["incidents"].mean() if len(load) else 0
    load["households_vs_mean"] = (load["households"] / hh_mean).round(3) if hh_mean else 0.0
    load["incidents_vs_mean"] = (load["incidents"] / inc_mean).round(3) if inc_mean else 0.0
    load = load.sort_values(["incidents", "households"], ascending=False).reset_index(drop=True)

    parent_gaps = gaps[gaps["scope"] == "parent"]
    county_gaps = gaps[gaps["scope"] == "county"]
    summary = {
        "gaps": len(parent_gaps),
        "gaps_area_m2": round(float(parent_gaps["area_m2"].sum()), 2),
        "county_gaps": len(county_gaps),
        "county_gaps_area_m2": round(float(county_gaps["area_m2"].sum()), 2),
        "overlaps": len(overlaps),
        "overlaps_area_m2": round(float(overlaps["area_m2"].sum()), 2),
        "cells": int(conn.execute(text(
            "SELECT count(*) FROM grid_cell WHERE boundary_set_id = :s"), p).scalar() or 0),
        "vacant_cells": len(vacant),
        "workers_on_duty": len(load),
        "households_per_worker": imbalance(load["households"].to_numpy()),
        "incidents_per_worker": imbalance(load["incidents"].to_numpy()),
    }
    inputs = {"region": region_code, "boundary_set": bset, "period": period.as_dict(),
              "duty_roster_on": duty_day.isoformat(), "metric_crs": f"EPSG:{srid}",
              "sliver_m": sliver_m, "min_area_m2": min_area_m2,
              "overlaps_between": "basic cells (dedicated cells overlap by design)",
              "incident_statuses_excluded": list(NOT_DEMAND)}
    return result("grid-health", inputs, summary, {
        "gaps": gaps, "overlaps": overlaps, "vacant_cells": vacant, "worker_load": load})
