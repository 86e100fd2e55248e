"""Which grid cell covers a point ("which cell"), in the boundary set valid at a date: in SQL.

The reference lookup: every date, every region, every error. The answer and the shared-edge
rule are :mod:`geo.lookup.rule`'s; :mod:`geo.lookup.single_async` answers the common case (the
active set) faster from an in-process index and delegates everything else here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo.boundaries.sets import set_valid_at
from geo.crs.metres import metres_to_degrees
from geo.crs.validate import check_lonlat
from geo.errors import NotFound
from geo.lookup.rule import CellHit, edge_rule
from geo.regions.locate import unknown_region
from geo.workers import worker_on_duty


def region_name(conn: Connection, region_code: str) -> str:
    """Name of a region, raising NotFound for an unknown code.

    Parameters
    ----------
    conn
        Open connection.
    region_code
        The county's code.

    Returns
    -------
    str
        Its name.

    Raises
    ------
    NotFound
        Unknown region (the message lists the known ones).
    """
    name = conn.execute(
        text("SELECT name FROM region WHERE code = :r"), {"r": region_code}
    ).scalar()
    if name is None:
        known = [r for (r,) in conn.execute(text("SELECT code FROM region ORDER BY code"))]
        raise unknown_region(region_code, known)
    return str(name)


_LOOKUP_SQL = text("""
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4490) AS g)
SELECT c.code, c.name, c.kind, c.parent_code, c.township_code,
       ST_Covers(c.geom, p.g) AS covers,
       ST_Distance(ST_Boundary(c.geom)::geography, p.g::geography) AS edge_m
FROM grid_cell c, p
WHERE c.region_code = :region AND c.boundary_set_id = :set_id
  AND c.geom && ST_Expand(p.g, :deg)
  AND (ST_Covers(c.geom, p.g) OR ST_DWithin(c.geom::geography, p.g::geography, :tol))
ORDER BY c.code
""")


def cell_at(
    conn: Connection,
    lon: float,
    lat: float,
    region_code: str,
    tolerance_m: float = 10.0,
    at: dt.date | None = None,
    with_geometry: bool = True,
) -> CellHit:
    """Find the basic cell covering a CGCS2000 point.

    Parameters
    ----------
    conn
        Open connection.
    lon, lat
        CGCS2000 (EPSG:4490) degrees.
    region_code
        The county to search.
    tolerance_m
        Distance to an edge under which the answer is ``near_boundary``.
    at
        Date whose boundary set is used (None: the active set).

    Raises
    ------
    NotFound
        When no cell covers the point (the message names the region).
    """
    check_lonlat(lon, lat)
    rname = region_name(conn, region_code)
    set_id, set_name = set_valid_at(conn, region_code, at)
    deg = metres_to_degrees(tolerance_m, lat)
    rows = conn.execute(
        _LOOKUP_SQL,
        {"lon": lon, "lat": lat, "set_id": set_id, "tol": tolerance_m, "deg": deg,
         "region": region_code},
    ).mappings().all()
    basic = [r for r in rows if r["kind"] == "basic"]
    pos, covering, candidates = edge_rule([r["code"] for r in basic],
                                          [bool(r["covers"]) for r in basic],
                                          [float(r["edge_m"]) for r in basic], tolerance_m)
    if pos is None:
        nearest = [r["code"] for r in basic]
        raise NotFound(
            f"点 ({lon:.6f}, {lat:.6f}) 不在{rname}({region_code})的任何网格内 / the point is "
            f"in no grid cell of region {region_code}"
            + (f"; cells within {tolerance_m} m: {nearest}" if nearest else ""),
            region=region_code,
            candidates=nearest,
        )
    hit = basic[pos]
    edge_m = float(hit["edge_m"])
    dedicated = [
        {"code": r["code"], "name": r["name"]}
        for r in rows
        if r["kind"] == "dedicated" and r["covers"]
    ]
    parent = _unit(conn, region_code, hit["parent_code"])
    township = _unit(conn, region_code, hit["township_code"])
    worker = worker_on_duty(conn, region_code, hit["code"], at or dt.date.today())
    geometry = None
    if with_geometry:
        geometry = conn.execute(
            text("SELECT ST_AsGeoJSON(geom, 8, 0)::json FROM grid_cell "
                 "WHERE region_code = :r AND boundary_set_id = :s AND code = :c"),
            {"r": region_code, "s": set_id, "c": hit["code"]},
        ).scalar()
    return CellHit(
        code=hit["code"], name=hit["name"], kind=hit["kind"], boundary_set_id=set_id,
        boundary_set_name=set_name, parent=parent, township=township, worker=worker,
        distance_to_edge_m=round(edge_m, 2), near_boundary=edge_m <= tolerance_m,
        candidates=candidates, covering=covering, dedicated=dedicated,
        geometry=geometry,
    )


def _unit(conn: Connection, region_code: str, code: str | None) -> dict[str, Any] | None:
    if not code:
        return None
    row = conn.execute(
        text("SELECT code, name, level FROM admin_unit WHERE region_code = :r AND code = :c"),
        {"r": region_code, "c": code},
    ).mappings().first()
    return dict(row) if row else {"code": code, "name": None, "level": None}
