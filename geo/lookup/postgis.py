"""Which grid cell covers a point ("which cell"), in the boundary set valid at a date.

Rule for a point on a shared edge (or vertex): every basic cell that covers the point is a
candidate and the answer is the candidate with the lowest code; all candidates are returned.
``near_boundary`` reports the distance in metres (on the ellipsoid) from the point to the edge
of the answering cell and the codes of every basic cell within the tolerance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from geo.crs.transforms import UnknownCRSError, normalize_crs, to_cgcs2000
from geo.errors import InvalidInput, NotFound


@dataclass
class CellHit:
    """The answer of a single "which cell" lookup."""

    code: str
    name: str
    kind: str
    boundary_set_id: int
    boundary_set_name: str
    parent: dict[str, Any] | None
    township: dict[str, Any] | None
    worker: dict[str, Any] | None
    distance_to_edge_m: float
    near_boundary: bool
    candidates: list[str]
    covering: list[str]
    dedicated: list[dict[str, Any]] = field(default_factory=list)
    geometry: dict[str, Any] | None = None
    # The same geometry as GeoJSON text, when the lookup has it ready (geo.lookup.single_async
    # caches it per cell): the HTTP answer splices it in instead of encoding the dict again.
    geometry_json: str | None = field(default=None, compare=False, repr=False)


def edge_rule(
    codes: list[str], covers: list[bool], edge_m: list[float], tolerance_m: float
) -> tuple[int | None, list[str], list[str]]:
    """The shared-edge rule, for the basic cells near a point given in code order.

    ``covers[i]``: cell i covers the point; ``edge_m[i]``: metres from the point to the edge of
    cell i (only compared with the tolerance for cells that do not cover the point). Returns
    the position of the answering cell (the covering cell with the lowest code, None when no
    cell covers the point), the codes of every covering cell, and the candidates: every cell
    covering the point or within ``tolerance_m`` of it. Used by :func:`cell_at` (PostGIS) and
    :mod:`geo.lookup.single_async` (in-process index), so both answer by one rule.
    """
    covering = [c for c, cov in zip(codes, covers, strict=True) if cov]
    candidates = [c for c, cov, d in zip(codes, covers, edge_m, strict=True)
                  if cov or d <= tolerance_m]
    hit = covers.index(True) if covering else None
    return hit, covering, candidates


def to_cgcs2000_point(x: float, y: float, crs: str | int | None) -> tuple[float, float]:
    """Validate a point given in ``crs`` and return CGCS2000 lon/lat.

    Raises
    ------
    InvalidInput
        Unknown CRS, latitude/longitude out of range (with a hint when they look swapped).
    """
    try:
        name = normalize_crs(crs or "EPSG:4490")
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    if name in ("EPSG:4490", "EPSG:4326", "GCJ02", "BD09"):
        check_lonlat(x, y)
    if name == "EPSG:4490":  # the common case, on the hot path: nothing to transform
        return float(x), float(y)
    lon, lat = to_cgcs2000(x, y, name)
    lon_f, lat_f = float(np.ravel(lon)[0]), float(np.ravel(lat)[0])
    if lon_f != lon_f or lat_f != lat_f:  # NaN from a failed projection
        raise InvalidInput(
            f"坐标无法从 {name} 转换 / coordinates cannot be transformed from {name}"
        )
    check_lonlat(lon_f, lat_f)
    return lon_f, lat_f


def check_lonlat(lon: float, lat: float) -> None:
    """Raise InvalidInput unless lon/lat are valid degrees; hint at swapped axes."""
    if not (-90.0 <= lat <= 90.0):
        hint = ""
        if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
            hint = " 经纬度是否写反了? / Are lon and lat swapped? lon is east (e.g. 111.13), lat is north (e.g. 38.46)."  # noqa: E501
        raise InvalidInput(
            f"纬度 lat={lat} 超出 [-90, 90] / latitude lat={lat} is outside [-90, 90].{hint}",
            field="lat",
        )
    if not (-180.0 <= lon <= 180.0):
        raise InvalidInput(
            f"经度 lon={lon} 超出 [-180, 180] / longitude lon={lon} is outside [-180, 180]",
            field="lon",
        )


def boundary_set_at(conn: Connection, region_code: str, at: dt.date | None) -> tuple[int, str]:
    """The active boundary set (``at`` None) or the one valid at date ``at``."""
    if at is None:
        row = conn.execute(
            text("SELECT id, name FROM boundary_set WHERE region_code = :r AND is_active"),
            {"r": region_code},
        ).first()
    else:
        row = conn.execute(
            text("SELECT id, name FROM boundary_set WHERE region_code = :r "
                 "AND valid_from <= :d AND (valid_to IS NULL OR :d < valid_to) "
                 "ORDER BY is_active DESC, valid_from DESC LIMIT 1"),
            {"r": region_code, "d": at},
        ).first()
    if row is None:
        when = f"valid on {at}" if at else "active"
        raise NotFound(
            f"区域 {region_code} 没有{'生效' if at is None else '当日有效'}的网格边界集 / "
            f"region {region_code} has no {when} boundary set",
            region=region_code,
        )
    return int(row[0]), str(row[1])


def region_name(conn: Connection, region_code: str) -> str:
    """Name of a region, raising NotFound for an unknown code."""
    name = conn.execute(
        text("SELECT name FROM region WHERE code = :r"), {"r": region_code}
    ).scalar()
    if name is None:
        known = [r for (r,) in conn.execute(text("SELECT code FROM region ORDER BY code"))]
        raise NotFound(
            f"未知区域 {region_code} / unknown region {region_code}; known regions: {known}",
            region=region_code,
        )
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
    set_id, set_name = boundary_set_at(conn, region_code, at)
    deg = tolerance_m / 80_000.0 + 1e-9  # >= tolerance in degrees anywhere below ~45 N
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


def worker_on_duty(
    conn: Connection, region_code: str, cell_code: str, on: dt.date
) -> dict[str, Any] | None:
    """The worker assigned to a cell on a date, or None when the cell is vacant."""
    row = conn.execute(
        text("SELECT w.id, w.code, w.name, w.phone, a.valid_from FROM worker_assignment a "
             "JOIN grid_worker w ON w.id = a.worker_id WHERE a.region_code = :r "
             "AND a.cell_code = :c AND a.valid_from <= :d AND (a.valid_to IS NULL OR :d < "
             "a.valid_to) ORDER BY a.valid_from DESC LIMIT 1"),
        {"r": region_code, "c": cell_code, "d": on},
    ).mappings().first()
    return dict(row) if row else None
