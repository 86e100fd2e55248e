"""The single "which cell" lookup on the hot path: in-process index + one SQL round trip.

Same answer as :func:`geo.lookup.cell_at` (same rules, same :class:`~geo.lookup.CellHit`),
computed differently because this is the most frequent request of the service (every phone
report, every 110 call): the point-in-polygon, the candidates within the tolerance and the
distance to the edge come from the in-process index of the active boundary set
(:mod:`geo.batch`); one SQL statement then checks that the active set is still the indexed one
and fetches the cell's geometry and the worker on duty. No BEGIN/COMMIT (autocommit read).

Anything unusual (a date in the past, an unknown region, a point in no cell) goes through
:func:`geo.lookup.cell_at`, so its errors are exactly the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, text

from geo.batch import _CACHE, CellIndex, _deg_for, cell_index
from geo.errors import NotFound
from geo.lookup import CellHit, cell_at, check_lonlat

# How often (seconds) the cells of the cached active set are re-counted to notice edits made in
# place; a switch of the active set itself is noticed on the very next request.
RECHECK_S = 5.0

# Raw SQL on a measured hot path (see scripts/bench/lookup.py): one round trip.
_ONE_TRIP = text("""
SELECT (SELECT id FROM boundary_set WHERE region_code = :r AND is_active) AS set_id,
       CASE WHEN :g THEN (SELECT ST_AsGeoJSON(geom, 8, 0) FROM grid_cell
         WHERE boundary_set_id = :s AND code = :c) END AS geojson,
       w.id, w.code, w.name, w.phone, w.valid_from
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
  SELECT gw.id, gw.code, gw.name, gw.phone, a.valid_from FROM worker_assignment a
  JOIN grid_worker gw ON gw.id = a.worker_id
  WHERE a.region_code = :r AND a.cell_code = :c AND a.valid_from <= :d
    AND (a.valid_to IS NULL OR :d < a.valid_to)
  ORDER BY a.valid_from DESC LIMIT 1) AS w ON true
""")

_ACTIVE: dict[tuple[str, str], CellIndex] = {}


def _index(engine: Engine, region_code: str, tolerance_m: float) -> CellIndex:
    idx = _fresh_index(engine, region_code)
    if idx is not None:
        return idx
    with engine.connect() as conn:
        idx = cell_index(conn, region_code, None, tolerance_m)  # re-counts the set's cells
        idx.checked_at = time.monotonic()
    _ACTIVE[(engine.url.render_as_string(hide_password=True), region_code)] = idx
    return idx


def _locate(idx: CellIndex, lon: float, lat: float, tolerance_m: float) -> dict[str, Any] | None:
    """Covering cells, candidates within the tolerance, edge distance, dedicated cells.

    Uses the index's bucket grid (a slice per point); tolerances wider than the grid's margin
    go through the STRtree instead.
    """
    # Only unprepared geometries here (idx.single_*): this runs on the event loop and in
    # worker threads at once, and GEOS prepared geometries are not thread-safe.
    deg = _deg_for(tolerance_m, abs(lat))
    near = idx.grid.near(lon, lat) if deg <= idx.grid.margin_deg else None
    pt = shapely.Point(lon, lat)
    if near is None:  # wider than the grid's margin: a box test over every cell
        b = idx.bbox_arr
        near = np.flatnonzero((b[:, 0] - deg <= lon) & (lon <= b[:, 2] + deg)
                              & (b[:, 1] - deg <= lat) & (lat <= b[:, 3] + deg)).tolist()
    polys = idx.single_polys
    bb = idx.bbox
    covering = [i for i in near if bb[i][0] <= lon <= bb[i][2] and bb[i][1] <= lat <= bb[i][3]
                and shapely.covers(polys[i], pt)]
    if not covering:
        return None
    hit = covering[0]
    x, y = idx.to_metric.transform(lon, lat)
    pt_m = shapely.Point(x, y)
    edge_m = float(shapely.distance(pt_m, idx.bounds_m[hit]))
    if edge_m > tolerance_m:
        # Basic cells do not overlap: a cell that does not cover the point but lies within the
        # tolerance would put the covering cell's edge within the tolerance too.
        candidates = [idx.codes[i] for i in covering]
        near = []
    else:
        candidates = []
    for i in near:
        if i in covering:  # covering cells are always candidates
            candidates.append(idx.codes[i])
        elif (bb[i][0] - deg <= lon <= bb[i][2] + deg
              and bb[i][1] - deg <= lat <= bb[i][3] + deg
              and shapely.dwithin(polys[i], pt, deg)) and float(
            shapely.distance(pt_m, idx.polys_m[i])
        ) <= tolerance_m:
            candidates.append(idx.codes[i])
    dedicated = []
    if len(idx.ded_codes):
        b = idx.ded_bounds
        maybe = np.flatnonzero((b[:, 0] <= lon) & (lon <= b[:, 2]) & (b[:, 1] <= lat)
                               & (lat <= b[:, 3]))
        dedicated = [{"code": idx.ded_codes[i], "name": idx.ded_names[i]}
                     for i in maybe.tolist() if shapely.covers(idx.single_ded[i], pt)]
    return {"hit": hit, "edge_m": edge_m, "covering": [idx.codes[i] for i in covering],
            "candidates": candidates, "dedicated": dedicated}


def cell_at_fast(
    engine: Engine,
    lon: float,
    lat: float,
    region_code: str,
    tolerance_m: float = 10.0,
    at: dt.date | None = None,
    with_geometry: bool = True,
) -> CellHit:
    """:func:`geo.lookup.cell_at` for the active boundary set, from the in-process index.

    Raises
    ------
    NotFound, InvalidInput
        As :func:`geo.lookup.cell_at` (the unusual cases are delegated to it).
    """
    check_lonlat(lon, lat)
    if at is None:
        try:
            idx = _index(engine, region_code, tolerance_m)
        except NotFound:
            idx = None
        if idx is not None:
            hit = _hit_from_index(engine, idx, lon, lat, region_code, tolerance_m,
                                  with_geometry)
            if hit is not None:
                return hit
    with engine.connect() as conn:
        return cell_at(conn, lon, lat, region_code, tolerance_m, at, with_geometry)


def _hit_from_index(
    engine: Engine, idx: CellIndex, lon: float, lat: float, region_code: str,
    tolerance_m: float, with_geometry: bool,
) -> CellHit | None:
    found = _locate(idx, lon, lat, tolerance_m)
    if found is None:
        return None
    code = idx.codes[found["hit"]]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        row = conn.execute(
            _ONE_TRIP, {"r": region_code, "s": idx.set_id, "c": code, "d": dt.date.today(),
                        "g": with_geometry and code not in idx.geojson},
        ).one()
    return _assemble(engine, idx, found, tuple(row), region_code, tolerance_m, with_geometry)


def _assemble(
    engine: Engine, idx: CellIndex, found: dict[str, Any], row: tuple[Any, ...],
    region_code: str, tolerance_m: float, with_geometry: bool,
) -> CellHit | None:
    """The CellHit from the index's answer and the round trip's row (None: set switched)."""
    if row[0] != idx.set_id:  # the active set was switched: answer from PostGIS this time
        _ACTIVE.pop((engine.url.render_as_string(hide_password=True), region_code), None)
        return None
    worker = None
    if row[2] is not None:
        worker = {"id": row[2], "code": row[3], "name": row[4], "phone": row[5],
                  "valid_from": row[6]}
    hit = found["hit"]

    def unit(c: str | None) -> dict[str, Any] | None:
        if not c:
            return None
        return dict(idx.units.get(c) or {"code": c, "name": None, "level": None})

    edge_m = found["edge_m"]
    return CellHit(
        code=idx.codes[hit], name=idx.names[hit], kind="basic", boundary_set_id=idx.set_id,
        boundary_set_name=idx.set_name, parent=unit(idx.parents[hit]),
        township=unit(idx.townships[hit]), worker=worker, distance_to_edge_m=round(edge_m, 2),
        near_boundary=edge_m <= tolerance_m, candidates=found["candidates"],
        covering=found["covering"], dedicated=found["dedicated"],
        geometry=_geometry(idx, idx.codes[hit], row[1]) if with_geometry else None,
    )


def _geometry(idx: CellIndex, code: str, text_json: str | None) -> dict[str, Any] | None:
    """The cell's GeoJSON geometry, cached per boundary set after the first fetch (shared:
    callers must not mutate it)."""
    if text_json:
        idx.geojson[code] = json.loads(text_json)
    return idx.geojson.get(code)


# The same statement for asyncpg ($n placeholders).
ONE_TRIP_PG = (
    _ONE_TRIP.text.replace(":r", "$1").replace(":s", "$2").replace(":c", "$3")
    .replace(":d", "$4").replace(":g", "$5")
)


def _fresh_index(engine: Engine, region_code: str) -> CellIndex | None:
    db = engine.url.render_as_string(hide_password=True)
    idx = _ACTIVE.get((db, region_code))
    if idx is not None and (time.monotonic() - idx.checked_at) < RECHECK_S and (
        _CACHE.get((db, region_code, idx.set_id)) is idx
    ):
        return idx
    return None


async def cell_at_fast_async(
    pool: Any,
    engine: Engine,
    lon: float,
    lat: float,
    region_code: str,
    tolerance_m: float = 10.0,
    at: dt.date | None = None,
    with_geometry: bool = True,
) -> CellHit:
    """:func:`cell_at_fast` for an event loop: the round trip goes through an asyncpg ``pool``.

    Everything that needs the synchronous engine (building the index, the unusual cases) runs
    in a worker thread. Without a pool (or when it fails) the synchronous path answers.
    """
    check_lonlat(lon, lat)
    if pool is not None and at is None:
        idx = _fresh_index(engine, region_code)
        if idx is None:
            try:
                idx = await asyncio.to_thread(_index, engine, region_code, tolerance_m)
            except NotFound:
                idx = None
        found = _locate(idx, lon, lat, tolerance_m) if idx is not None else None
        if idx is not None and found is not None:
            code = idx.codes[found["hit"]]
            try:
                row = await pool.fetchrow(ONE_TRIP_PG, region_code, idx.set_id, code,
                                          dt.date.today(),
                                          with_geometry and code not in idx.geojson)
            except (TimeoutError, OSError, ConnectionError):
                row = None  # database unreachable: the sync path reports it (503)
            except Exception as exc:  # noqa: BLE001 - asyncpg's errors: let the sync path answer
                if type(exc).__module__.startswith("asyncpg"):
                    row = None
                else:
                    raise
            if row is not None:
                hit = _assemble(engine, idx, found, tuple(row), region_code, tolerance_m,
                                with_geometry)
                if hit is not None:
                    return hit
    return await asyncio.to_thread(cell_at_fast, engine, lon, lat, region_code, tolerance_m,
                                   at, with_geometry)
