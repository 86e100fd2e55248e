"""The single "which cell" lookup on the hot path: in-process index + one SQL round trip.

Same answer as :func:`geo.lookup.postgis.cell_at` (same rules, same
:class:`~geo.lookup.rule.CellHit`), computed differently because this is the most
frequent request of the service (every phone report, every 110 call): the point-in-polygon,
the candidates within the tolerance and the
distance to the edge come from the in-process index of the active boundary set
(:mod:`geo.lookup.index`); one SQL statement then checks that the active set is still the
indexed one and fetches the cell's geometry and the worker on duty. No BEGIN/COMMIT
(autocommit read).

Anything unusual (a date in the past, an unknown region, a point in no cell) goes through
:func:`geo.lookup.postgis.cell_at`, so its errors are exactly the same.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import struct
import time
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, text

from geo.boundaries.sets import active_set_sql
from geo.crs.metres import metres_to_degrees
from geo.crs.validate import check_lonlat
from geo.errors import NotFound
from geo.lookup.index import CellIndex, cached_index, cell_index, engine_key
from geo.lookup.postgis import cell_at
from geo.lookup.rule import CellHit, edge_rule
from geo.workers import on_duty_select

# How often (seconds) the cells of the cached active set are re-counted to notice edits made in
# place; a switch of the active set itself is noticed on the very next request.
RECHECK_S = 5.0

# Raw SQL on a measured hot path (see scripts/bench/lookup.py): one round trip.
_ONE_TRIP = text(f"""
SELECT ({active_set_sql(":r")}) AS set_id,
       CASE WHEN :g THEN (SELECT ST_AsGeoJSON(geom, 8, 0) FROM grid_cell
         WHERE region_code = :r AND boundary_set_id = :s AND code = :c) END AS geojson,
       w.id, w.code, w.name, w.phone, w.valid_from
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({on_duty_select(":r", ":c", ":d")}) AS w ON true
""")

_ACTIVE: dict[tuple[str, str], CellIndex] = {}
_db = engine_key  # the database an engine talks to, as geo.lookup.index keys its cache


def _index(engine: Engine, region_code: str, tolerance_m: float) -> CellIndex:
    idx = _fresh_index(engine, region_code)
    if idx is not None:
        return idx
    with engine.connect() as conn:
        idx = cell_index(conn, region_code, None, tolerance_m)  # re-counts the set's cells
        idx.checked_at = time.monotonic()
    _ACTIVE[(_db(engine), region_code)] = idx
    return idx


def _point(x: float, y: float) -> Any:
    """A shapely Point, from WKB: less than half the time of ``shapely.Point(x, y)``."""
    return shapely.from_wkb(_WKB_POINT(1, 1, x, y))


_WKB_POINT = struct.Struct("<BIdd").pack


def _locate(idx: CellIndex, lon: float, lat: float, tolerance_m: float) -> dict[str, Any] | None:
    """Covering cells, candidates within the tolerance, edge distance, dedicated cells.

    The measurements come from the index; the decision is :func:`geo.lookup.rule.edge_rule`, the
    same as the PostGIS lookup's. Uses the index's bucket grid (a slice per point); tolerances
    wider than the grid's margin go through a box test over every cell instead.
    """
    # Only unprepared geometries here (idx.single_*): this runs on the event loop and in
    # worker threads at once, and GEOS prepared geometries are not thread-safe.
    deg = metres_to_degrees(tolerance_m, lat)
    near = idx.grid.near(lon, lat) if deg <= idx.grid.margin_deg else None
    pt = _point(lon, lat)
    if near is None:  # wider than the grid's margin: a box test over every cell
        b = idx.bbox_arr
        near = np.flatnonzero((b[:, 0] - deg <= lon) & (lon <= b[:, 2] + deg)
                              & (b[:, 1] - deg <= lat) & (lat <= b[:, 3] + deg)).tolist()
    # Geometry methods, not the vectorised shapely functions: for one geometry the ufunc
    # machinery costs several times the predicate itself (measured).
    polys = idx.single_polys
    bb = idx.bbox
    covers = [bb[i][0] <= lon <= bb[i][2] and bb[i][1] <= lat <= bb[i][3]
              and bool(polys[i].covers(pt)) for i in near]
    if True not in covers:
        return None
    first = near[covers.index(True)]
    x, y = idx.to_metric.transform(lon, lat)
    pt_m = _point(x, y)
    hit_edge_m = float(pt_m.distance(idx.bounds_m[first]))
    # Edge distances the rule compares with the tolerance: those of cells that do not cover the
    # point. Basic cells do not overlap, so when the covering cell's own edge is farther than
    # the tolerance no other cell can be within it (inf: not measured).
    inf = float("inf")
    edge_m = []
    for i, cov in zip(near, covers, strict=True):
        if cov or hit_edge_m > tolerance_m or not (
            bb[i][0] - deg <= lon <= bb[i][2] + deg and bb[i][1] - deg <= lat <= bb[i][3] + deg
            and polys[i].dwithin(pt, deg)
        ):
            edge_m.append(inf)
        else:
            edge_m.append(float(pt_m.distance(idx.polys_m[i])))
    pos, covering, candidates = edge_rule([idx.codes[i] for i in near], covers, edge_m,
                                          tolerance_m)
    dedicated = []
    if len(idx.ded_codes):
        b = idx.ded_bounds
        maybe = np.flatnonzero((b[:, 0] <= lon) & (lon <= b[:, 2]) & (b[:, 1] <= lat)
                               & (lat <= b[:, 3]))
        dedicated = [{"code": idx.ded_codes[i], "name": idx.ded_names[i]}
                     for i in maybe.tolist() if idx.single_ded[i].covers(pt)]
    return {"hit": first, "edge_m": hit_edge_m, "covering": covering,
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
    """:func:`geo.lookup.postgis.cell_at` for the active boundary set, from the in-process index.

    Raises
    ------
    NotFound, InvalidInput
        As :func:`geo.lookup.postgis.cell_at` (the unusual cases are delegated to it).
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
        _ACTIVE.pop((_db(engine), region_code), None)
        return None
    worker = None
    if row[2] is not None:
        worker = {"id": row[2], "code": row[3], "name": row[4], "phone": row[5],
                  "valid_from": row[6]}
    hit = found["hit"]
    code = idx.codes[hit]

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
        geometry=_geometry(idx, code, row[1]) if with_geometry else None,
        geometry_json=idx.geojson_text.get(code) if with_geometry else None,
    )


def _geometry(idx: CellIndex, code: str, text_json: str | None) -> dict[str, Any] | None:
    """The cell's GeoJSON geometry, cached per boundary set after the first fetch (shared:
    callers must not mutate it), with its JSON text for the HTTP answer."""
    if text_json:
        geometry = json.loads(text_json)
        idx.geojson[code] = geometry
        idx.geojson_text[code] = json.dumps(geometry, ensure_ascii=False,
                                            separators=(",", ":"))
    return idx.geojson.get(code)


# The same statement for asyncpg ($n placeholders).
ONE_TRIP_PG = (
    _ONE_TRIP.text.replace(":r", "$1").replace(":s", "$2").replace(":c", "$3")
    .replace(":d", "$4").replace(":g", "$5")
)

# The same again for several lookups at once, one row per lookup in input order.
MANY_TRIPS_PG = f"""
SELECT q.n, ({active_set_sql("q.r")}) AS set_id,
       CASE WHEN q.g THEN (SELECT ST_AsGeoJSON(geom, 8, 0) FROM grid_cell
         WHERE region_code = q.r AND boundary_set_id = q.s AND code = q.c) END AS geojson,
       w.id, w.code, w.name, w.phone, w.valid_from
FROM unnest($1::text[], $2::int[], $3::text[], $4::bool[]) WITH ORDINALITY AS q(r, s, c, g, n)
LEFT JOIN LATERAL ({on_duty_select("q.r", "q.c", "$5")}) AS w ON true
ORDER BY q.n
"""


class RoundTrips:
    """The database rows of concurrent single lookups, fetched together.

    A lookup queues its question and waits; while fewer than ``max_in_flight`` statements run,
    one is sent with every question queued so far (:data:`MANY_TRIPS_PG`). Under load the
    lookups that arrive during one round trip share the next, so the per-statement cost
    (pool checkout, protocol, executor start) is paid once per batch instead of once per
    request. Every answer still comes from a statement that started after its question was
    asked: as fresh as a round trip of its own.
    """

    max_in_flight = 2
    max_batch = 64

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.queue: list[tuple[str, int, str, bool, asyncio.Future[Any]]] = []
        self.in_flight = 0
        self.largest_batch = 0  # for tests and curiosity
        self.tasks: set[asyncio.Task[None]] = set()

    async def row(self, region_code: str, set_id: int, code: str, geometry: bool) -> Any:
        """The row of :data:`ONE_TRIP_PG` for one lookup (raises what asyncpg raised)."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((region_code, set_id, code, geometry, fut))
        if self.in_flight < self.max_in_flight:
            self.in_flight += 1
            task = asyncio.ensure_future(self._drain())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await fut

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch = self.queue[:self.max_batch]
                del self.queue[:self.max_batch]
                self.largest_batch = max(self.largest_batch, len(batch))
                try:
                    rows = await self.pool.fetch(
                        MANY_TRIPS_PG, [b[0] for b in batch], [b[1] for b in batch],
                        [b[2] for b in batch], [b[3] for b in batch], dt.date.today())
                except BaseException as exc:
                    for *_, fut in batch:
                        if fut.done():
                            continue
                        if isinstance(exc, asyncio.CancelledError):
                            fut.cancel()
                        else:
                            fut.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                        raise
                    continue
                for (*_, fut), row in zip(batch, rows, strict=True):
                    if not fut.done():
                        fut.set_result(tuple(row)[1:])
        finally:
            self.in_flight -= 1


_TRIPS: dict[int, RoundTrips] = {}


def round_trips(pool: Any) -> RoundTrips:
    """The :class:`RoundTrips` of an asyncpg pool (one per pool)."""
    trips = _TRIPS.get(id(pool))
    if trips is None or trips.pool is not pool:
        if len(_TRIPS) > 16:  # pools of apps that are gone (tests create many)
            _TRIPS.clear()
        trips = _TRIPS[id(pool)] = RoundTrips(pool)
    return trips


def _fresh_index(engine: Engine, region_code: str) -> CellIndex | None:
    db = _db(engine)
    idx = _ACTIVE.get((db, region_code))
    if idx is not None and (time.monotonic() - idx.checked_at) < RECHECK_S and (
        cached_index(db, region_code, idx.set_id) is idx
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
                row = await round_trips(pool).row(region_code, idx.set_id, code,
                                                  with_geometry and code not in idx.geojson)
            except (TimeoutError, OSError, ConnectionError):
                row = None  # database unreachable: the sync path reports it (503)
            except Exception as exc:  # noqa: BLE001 - asyncpg's errors: let the sync path answer
                if type(exc).__module__.startswith("asyncpg"):
                    row = None
                else:
                    raise
            if row is not None:
                hit = _assemble(engine, idx, found, row, region_code, tolerance_m,
                                with_geometry)
                if hit is not None:
                    return hit
    return await asyncio.to_thread(cell_at_fast, engine, lon, lat, region_code, tolerance_m,
                                   at, with_geometry)
