"""The one demand query: a period's incidents as demand points for the planners' analyses.

Camera coverage (:mod:`geo.analysis.coverage`), hot spots (:mod:`geo.analysis.spots`) and
camera sites (:mod:`geo.analysis.sites`) all weigh the same incidents: those of a region
reported in a period, with a point, not rejected, cancelled or merged (``NOT_DEMAND``),
optionally of some categories and inside one unit. Every row is demand (an aggregate), but
``in_scope`` says whether the caller may see the row's details (``incident_scope_sql``): the
analyses turn out-of-scope rows into anonymous points. Reporter fields are never read.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from sqlalchemy import Connection

from geo.analysis.common import read_gdf, unit_sql
from geo.auth.principal import Principal, incident_scope_sql
from geo.incidents.flow import VOID_STATUSES
from geo.periods import Period

# Incidents in these statuses are not demand (duplicates merged away, rejected, cancelled).
NOT_DEMAND = VOID_STATUSES

_DEMAND_SQL = """
{with_units}
SELECT i.id, i.code, i.category_code, i.urgency, i.reported_at, i.cell_code,
       {unit_code} AS unit_code,
       ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, ({scope}) AS in_scope,
       {covered} AS covered,
       ST_AsBinary(i.geom) AS geom
  FROM incident i
 WHERE i.region_code = :r AND i.geom IS NOT NULL
   AND i.reported_at >= :t0 AND i.reported_at < :t1
   AND i.status <> ALL(CAST(:not_demand AS text[]))
   AND (CAST(:cats AS text[]) IS NULL OR i.category_code = ANY(CAST(:cats AS text[])))
   AND (CAST(:within AS bytea) IS NULL
        OR ST_Covers(ST_GeomFromWKB(CAST(:within AS bytea), 4490), i.geom))
 ORDER BY i.id
"""

_COVERED = """EXISTS (SELECT 1 FROM camera c WHERE c.region_code = i.region_code
               AND c.status = 'online' AND c.sector IS NOT NULL
               AND ST_Intersects(c.sector, i.geom))"""


def demand_points(conn: Connection, principal: Principal, region_code: str, period: Period,
                  categories: list[str] | None = None, *, unit: str | None = None,
                  set_id: int | None = None, within_wkb: bytes | None = None,
                  with_coverage: bool = True) -> gpd.GeoDataFrame:
    """Incidents of a period that count as demand, one row per incident, ordered by id.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller: decides ``in_scope`` (every row is returned either way).
    region_code
        County code.
    period
        Incidents reported in this period (CST dates, inclusive).
    categories
        Restrict to these (validated) category codes; ``None`` for all.
    unit
        When given (with ``set_id``), ``unit_code`` is the unit of this kind (see
        :func:`geo.analysis.common.unit_sql`) covering the point (lowest code), else null.
    set_id
        Boundary set of the units.
    within_wkb
        Keep only incidents inside this polygon (WKB, EPSG:4490).
    with_coverage
        Compute ``covered`` (inside an online camera's sector); False leaves it False.

    Returns
    -------
    GeoDataFrame
        ``id, code, category_code, urgency, reported_at, cell_code, unit_code, lon, lat,
        in_scope, covered`` and the point geometry (EPSG:4490).
    """
    if unit is not None:
        with_units = f"WITH u AS ({unit_sql(unit)})"
        unit_code = ("(SELECT u.code FROM u WHERE ST_Covers(u.geom, i.geom) "
                     "ORDER BY u.code LIMIT 1)")
    else:
        with_units, unit_code = "", "CAST(NULL AS text)"
    scope, sparams = incident_scope_sql(principal, "i")
    sql = _DEMAND_SQL.format(with_units=with_units, unit_code=unit_code, scope=scope,
                             covered=_COVERED if with_coverage else "FALSE")
    dem = read_gdf(conn, sql, {
        **sparams, "r": region_code, "set_id": set_id, "t0": period.start,
        "t1": period.end, "not_demand": list(NOT_DEMAND), "cats": categories or None,
        "within": within_wkb})
    for col in ("covered", "in_scope"):  # bool even when empty (an empty object mask selects
        dem[col] = dem[col].astype(bool)  # columns, not rows)
    for col in ("lon", "lat"):
        dem[col] = dem[col].astype(np.float64)
    return dem
