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
       (SELECT ST_AsGeoJSON(geom, 8, 0) FROM grid_cell
         WHERE boundary_set_id = :s AND code = :c) AS geojson,
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
    db = engine.url.render_as_string(hide_password=True)
    idx = _ACTIVE.get((db, region_code))
    if idx is not None and (time.monotonic() - idx.checked_at) < RECHECK_S and (
        _CACHE.get((db, region_code, idx.set_id)) is idx
    ):
        return idx
    with engine.connect() as conn:
        idx = cell_index(conn, region_code, None, tolerance_m)  # re-counts the set's cells
        idx.checked_at = time.monotonic()
    _ACTIVE[(db, region_code)] = idx
    return idx


def _locate(idx: CellIndex, lon: float, lat: float, tolerance_m: float) -> dict[str, Any] | None:
    pt = shapely.Point(lon, lat)
    covering = sorted(int(i) for i in idx.tree.query(pt, predicate="covered_by"))
    if not covering:
        return None
    hit = covering[0]
    x, y = idx.to_metric.transform(lon, lat)
    pt_m = shapely.Point(x, y)
    edge_m = float(shapely.distance(pt_m, idx.bounds_m[hit]))
    near_ids = idx.tree.query(pt, predicate="dwithin", distance=_deg_for(tolerance_m, abs(lat)))
    near_ids = np.sort(near_ids)
    covering_set = set(covering)
    candidates = []
    for i in near_ids.tolist():
        if i in covering_set:  # covering cells are always candidates
            candidates.append(idx.codes[i])
        elif float(shapely.distance(pt_m, idx.polys_m[i])) <= tolerance_m:
            candidates.append(idx.codes[i])
    dedicated = [
        {"code": idx.ded_codes[i], "name": idx.ded_names[i]}
        for i in sorted(int(j) for j in idx.ded_tree.query(pt, predicate="covered_by"))
    ]
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
            _ONE_TRIP, {"r": region_code, "s": idx.set_id, "c": code, "d": dt.date.today()}
        ).one()
    if row[0] != idx.set_id:  # the active set was switched: answer from PostGIS this time
        _ACTIVE.pop((engine.url.render_as_string(hide_password=True), region_code), None)
        return None
    worker = None
    if row[2] is not None:
        worker = {"id": row[2], "code": row[3], "name": row[4], "phone": row[5],
                  "valid_from": row[6]}
    parent_code = idx.parents[found["hit"]]
    township_code = idx.townships[found["hit"]]

    def unit(c: str | None) -> dict[str, Any] | None:
        if not c:
            return None
        return dict(idx.units.get(c) or {"code": c, "name": None, "level": None})

    edge_m = found["edge_m"]
    return CellHit(
        code=code, name=idx.names[found["hit"]], kind="basic", boundary_set_id=idx.set_id,
        boundary_set_name=_set_name(engine, idx), parent=unit(parent_code),
        township=unit(township_code), worker=worker, distance_to_edge_m=round(edge_m, 2),
        near_boundary=edge_m <= tolerance_m, candidates=found["candidates"],
        covering=found["covering"], dedicated=found["dedicated"],
        geometry=json.loads(row[1]) if (with_geometry and row[1]) else None,
    )


_SET_NAMES: dict[int, str] = {}


def _set_name(engine: Engine, idx: CellIndex) -> str:
    name = _SET_NAMES.get(idx.set_id)
    if name is None:
        with engine.connect() as conn:
            name = str(conn.execute(text("SELECT name FROM boundary_set WHERE id = :s"),
                                    {"s": idx.set_id}).scalar())
        _SET_NAMES[idx.set_id] = name
    return name
