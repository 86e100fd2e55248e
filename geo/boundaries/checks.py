"""Checks of a boundary set before it is switched on, with areas in square metres on the
ellipsoid (geography):

- overlaps between basic cells of the same parent (cells without a parent form one group);
- gaps: the parent's area not covered by its basic cells; for cells without a parent unit,
  the holes inside the union of the group;
- cells outside their parent (only where the parent unit exists).

A pending set whose checks pass is *checked* (:class:`geo.boundaries.sets.SetState`);
:func:`geo.boundaries.activate.activate_set` refuses a set whose checks fail unless forced.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo.errors import NotFound

DEFAULT_MIN_AREA_M2 = 10.0  # smaller pieces are slivers of coordinate rounding
MAX_LISTED = 200

_OVERLAPS = text("""
SELECT a.code AS a, b.code AS b, a.parent_code AS parent,
       ST_Area(x.g::geography) AS area_m2,
       ST_X(ST_PointOnSurface(x.g)) AS lon, ST_Y(ST_PointOnSurface(x.g)) AS lat
FROM grid_cell a
JOIN grid_cell b ON b.boundary_set_id = a.boundary_set_id AND a.code < b.code
 AND b.kind = 'basic' AND a.parent_code IS NOT DISTINCT FROM b.parent_code
 AND a.geom && b.geom
CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS g) x
WHERE a.boundary_set_id = :s AND a.kind = 'basic'
  AND ST_Relate(a.geom, b.geom, '2********') AND NOT ST_IsEmpty(x.g)
  AND ST_Area(x.g::geography) >= :min
ORDER BY area_m2 DESC
""")

# Gaps where the parent unit exists: parent minus the union of its basic cells.
_GAPS_PARENT = text("""
WITH grp AS (
    SELECT c.parent_code, ST_Union(c.geom) AS u
    FROM grid_cell c
    JOIN admin_unit p ON p.region_code = c.region_code AND p.code = c.parent_code
    WHERE c.boundary_set_id = :s AND c.kind = 'basic'
    GROUP BY c.parent_code
), d AS (
    SELECT g.parent_code,
           (ST_Dump(ST_CollectionExtract(ST_Difference(p.geom, g.u), 3))).geom AS g
    FROM grp g JOIN admin_unit p ON p.region_code = :r AND p.code = g.parent_code
)
SELECT parent_code AS parent, ST_Area(g::geography) AS area_m2,
       ST_X(ST_PointOnSurface(g)) AS lon, ST_Y(ST_PointOnSurface(g)) AS lat
FROM d WHERE ST_Area(g::geography) >= :min ORDER BY area_m2 DESC
""")

# Gaps where no parent unit exists: holes of the union of the group.
_GAPS_HOLES = text("""
WITH grp AS (
    SELECT c.parent_code, ST_Union(c.geom) AS u
    FROM grid_cell c
    WHERE c.boundary_set_id = :s AND c.kind = 'basic' AND NOT EXISTS (
        SELECT 1 FROM admin_unit p WHERE p.region_code = c.region_code
        AND p.code = c.parent_code)
    GROUP BY c.parent_code
), polys AS (
    SELECT parent_code, (ST_Dump(u)).geom AS g FROM grp
), holes AS (
    SELECT parent_code, ST_MakePolygon(ST_InteriorRingN(g, n)) AS g
    FROM polys, generate_series(1, ST_NumInteriorRings(g)) AS n
)
SELECT parent_code AS parent, ST_Area(g::geography) AS area_m2,
       ST_X(ST_PointOnSurface(g)) AS lon, ST_Y(ST_PointOnSurface(g)) AS lat
FROM holes WHERE ST_Area(g::geography) >= :min ORDER BY area_m2 DESC
""")

_OUTSIDE = text("""
SELECT c.code, c.parent_code AS parent, ST_Area(x.g::geography) AS area_m2,
       ST_X(ST_PointOnSurface(x.g)) AS lon, ST_Y(ST_PointOnSurface(x.g)) AS lat
FROM grid_cell c
JOIN admin_unit p ON p.region_code = c.region_code AND p.code = c.parent_code
CROSS JOIN LATERAL (
    SELECT ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3) AS g) x
WHERE c.boundary_set_id = :s AND NOT ST_IsEmpty(x.g) AND ST_Area(x.g::geography) >= :min
ORDER BY area_m2 DESC
""")


def _rows(conn: Connection, sql: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(sql, params).mappings():
        d = dict(r)
        d["area_m2"] = round(float(d["area_m2"]), 2)
        d["lon"] = round(float(d["lon"]), 7)
        d["lat"] = round(float(d["lat"]), 7)
        out.append(d)
    return out


def check_boundary_set(
    conn: Connection, set_id: int, min_area_m2: float = DEFAULT_MIN_AREA_M2
) -> dict[str, Any]:
    """Gaps, overlaps and cells outside their parent in a boundary set (areas in m^2).

    Parameters
    ----------
    conn
        Open connection.
    set_id
        The boundary set to check.
    min_area_m2
        Pieces smaller than this are floating-point noise and ignored.

    Returns
    -------
    dict
        ``ok``, ``overlaps``, ``gaps``, ``outside_parent`` (each a list of pieces with
        ``area_m2`` and a point ``lon``/``lat`` inside), their counts and total areas.
    """
    region = conn.execute(
        text("SELECT region_code FROM boundary_set WHERE id = :s"), {"s": set_id}
    ).scalar()
    if region is None:
        raise NotFound(f"没有边界集 {set_id} / no boundary set {set_id}")
    p = {"s": set_id, "r": region, "min": min_area_m2}
    overlaps = _rows(conn, _OVERLAPS, p)
    gaps = _rows(conn, _GAPS_PARENT, p) + _rows(conn, _GAPS_HOLES, p)
    outside = _rows(conn, _OUTSIDE, p)
    n_cells, n_parents = conn.execute(
        text("SELECT count(*), count(DISTINCT parent_code) FROM grid_cell "
             "WHERE boundary_set_id = :s"), {"s": set_id}
    ).one()
    with_parent = conn.execute(
        text("SELECT count(*) FROM grid_cell c WHERE c.boundary_set_id = :s AND EXISTS ("
             "SELECT 1 FROM admin_unit p WHERE p.region_code = c.region_code "
             "AND p.code = c.parent_code)"), {"s": set_id}
    ).scalar_one()
    return {
        "ok": not (overlaps or gaps or outside),
        "min_area_m2": min_area_m2,
        "cells": int(n_cells),
        "cells_with_parent_unit": int(with_parent),
        "parents": int(n_parents),
        "overlap_count": len(overlaps),
        "overlap_area_m2": round(sum(o["area_m2"] for o in overlaps), 2),
        "gap_count": len(gaps),
        "gap_area_m2": round(sum(g["area_m2"] for g in gaps), 2),
        "outside_parent_count": len(outside),
        "outside_parent_area_m2": round(sum(o["area_m2"] for o in outside), 2),
        "overlaps": overlaps[:MAX_LISTED],
        "gaps": gaps[:MAX_LISTED],
        "outside_parent": outside[:MAX_LISTED],
    }


def describe_checks(checks: dict[str, Any]) -> list[str]:
    """Human-readable lines (Chinese / English) for a checks dict.

    Parameters
    ----------
    checks
        The result of :func:`check_boundary_set`.

    Returns
    -------
    list of str
        A summary line, then up to 20 lines per kind of problem.
    """
    lines = [
        f"重叠 overlaps: {checks['overlap_count']} ({checks['overlap_area_m2']} m²); "
        f"缝隙 gaps: {checks['gap_count']} ({checks['gap_area_m2']} m²); "
        f"超出上级 outside parent: {checks['outside_parent_count']} "
        f"({checks['outside_parent_area_m2']} m²)"
    ]
    for o in checks["overlaps"][:20]:
        lines.append(f"  overlap {o['a']} x {o['b']}: {o['area_m2']} m² at "
                     f"({o['lon']}, {o['lat']})")
    for g in checks["gaps"][:20]:
        lines.append(f"  gap in {g['parent'] or '(no parent)'}: {g['area_m2']} m² at "
                     f"({g['lon']}, {g['lat']})")
    for o in checks["outside_parent"][:20]:
        lines.append(f"  {o['code']} outside {o['parent']}: {o['area_m2']} m² at "
                     f"({o['lon']}, {o['lat']})")
    return lines
