"""The in-process index of a boundary set's cells, cached per database and boundary set.

The index holds the basic (and dedicated) cells of one boundary set as shapely geometries:
prepared polygons and "cores" (each cell shrunk by more than the tolerance) for the batch path
(:mod:`geo.lookup.batch`), unprepared copies for the single lookup (:mod:`geo.lookup.single_async`;
GEOS prepared geometries are not thread-safe), metric copies in a local transverse Mercator
projection centred on the region for exact distances, and two bucket grids that find the cells
near a point by arithmetic instead of a tree query (:mod:`geo.lookup.grids`).

It is loaded once and reloaded when the set changes: the cache key is the database, the region
and the set id, checked against a stamp of the set's cells (count and highest id).

Public API: :func:`cell_index` (the cached index; :func:`set_index` by set id),
:func:`cached_index` (what the cache holds, without any database work), :func:`db_key` /
:func:`engine_key` (the database part of the key), :func:`deep_grid` (the batch path's fine
grid, made on first use) and :func:`clear_cache`.
Metres become degrees by :func:`geo.crs.metres.metres_to_degrees`.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from sqlalchemy import Connection, Engine, text

from geo.boundaries.sets import set_valid_at
from geo.crs.metres import metres_to_degrees
from geo.lookup.grids import BucketGrid, DeepGrid, bucket_grid, make_deep_grid


@dataclass
class CellIndex:
    """Basic cells of one boundary set, ready for point lookups."""

    region_code: str
    set_id: int
    set_name: str
    stamp: tuple[int, int]
    codes: list[str]
    polys: npt.NDArray[np.object_]  # CGCS2000 degrees, prepared
    cores: npt.NDArray[np.object_]  # shrunk by core_deg, prepared
    polys_m: npt.NDArray[np.object_]  # local TM metres
    bounds_m: npt.NDArray[np.object_]  # boundaries of polys_m
    tree: shapely.STRtree
    core_deg: float
    to_metric: Transformer
    # for the single lookup's full answer (geo.lookup.single_async)
    names: list[str]
    parents: list[str | None]
    townships: list[str | None]
    units: dict[str, dict[str, Any]]
    ded_codes: list[str]
    ded_names: list[str]
    ded_polys: npt.NDArray[np.object_]
    ded_tree: shapely.STRtree
    ded_bounds: npt.NDArray[np.float64]
    grid: BucketGrid
    bbox: list[tuple[float, float, float, float]]  # bounds of polys, one per basic cell
    # Unprepared copies for the single lookup: GEOS prepared geometries are not thread-safe
    # (libgeos/geos#825), so only batches (serialised by ``lock``) touch the prepared ones.
    single_polys: npt.NDArray[np.object_] = field(
        default_factory=lambda: np.zeros(0, dtype=object))
    single_ded: npt.NDArray[np.object_] = field(default_factory=lambda: np.zeros(0, dtype=object))
    bbox_arr: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    core_bbox: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 4)))
    lock: threading.Lock = field(default_factory=threading.Lock)
    deep: DeepGrid | None = None  # made by the first batch (single lookups do not use it)
    deep_done: bool = False
    checked_at: float = 0.0
    geojson: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> geometry
    geojson_text: dict[str, str] = field(default_factory=dict)  # code -> the same as JSON text


def deep_grid(index: CellIndex) -> DeepGrid | None:
    """The index's fine grid of buckets inside one core, made by the first caller.

    Parameters
    ----------
    index
        The index.

    Returns
    -------
    DeepGrid or None
        None for an empty index.
    """
    if not index.deep_done:
        with index.lock:
            if not index.deep_done:
                index.deep = make_deep_grid(index.cores, index.grid)
                index.deep_done = True
    return index.deep


_CACHE: dict[tuple[str, str, int], CellIndex] = {}
_LOCK = threading.Lock()
_ENGINE_KEYS: dict[Any, str] = {}


def engine_key(engine: Engine) -> str:
    """Which database an index belongs to (a process may talk to several, e.g. in tests).

    Memoised: the single lookup asks on every request.

    Parameters
    ----------
    engine
        The engine.

    Returns
    -------
    str
        The database URL without password.
    """
    key = _ENGINE_KEYS.get(engine.url)
    if key is None:
        key = _ENGINE_KEYS[engine.url] = engine.url.render_as_string(hide_password=True)
    return key


def db_key(conn: Connection) -> str:
    """:func:`engine_key` of a connection's engine.

    Parameters
    ----------
    conn
        Open connection.

    Returns
    -------
    str
        The database URL without password.
    """
    return engine_key(conn.engine)


def cached_index(db: str, region_code: str, set_id: int) -> CellIndex | None:
    """The index the cache holds for a boundary set, without any database work.

    Parameters
    ----------
    db
        :func:`db_key` of the database.
    region_code, set_id
        The boundary set.

    Returns
    -------
    CellIndex or None
        None when it is not loaded (or was dropped).
    """
    return _CACHE.get((db, region_code, set_id))


def _stamp(conn: Connection, region_code: str, set_id: int) -> tuple[int, int]:
    # region_code too: on a federated database it prunes the read to the county's shard
    row = conn.execute(
        text("SELECT count(*), coalesce(max(id), 0) FROM grid_cell "
             "WHERE region_code = :r AND boundary_set_id = :s AND kind = 'basic'"),
        {"r": region_code, "s": set_id},
    ).one()
    return int(row[0]), int(row[1])


def cell_index(
    conn: Connection, region_code: str, at: dt.date | None = None, tolerance_m: float = 10.0
) -> CellIndex:
    """The (cached) index of the boundary set active now (``at`` None) or valid at ``at``.

    Parameters
    ----------
    conn
        Open connection (finds the set, counts its cells, loads it when needed).
    region_code
        The county.
    at
        The date whose set is wanted (None: the active set).
    tolerance_m
        The tolerance the cores must allow for (an index with thinner cores is rebuilt).

    Returns
    -------
    CellIndex
        The index.

    Raises
    ------
    NotFound
        Unknown region or no boundary set.
    """
    set_id, _ = set_valid_at(conn, region_code, at)
    return set_index(conn, region_code, set_id, tolerance_m)


def set_index(conn: Connection, region_code: str, set_id: int, tolerance_m: float = 10.0
              ) -> CellIndex:
    """The (cached) index of boundary set ``set_id`` of ``region_code`` (see :func:`cell_index`)."""
    stamp = _stamp(conn, region_code, set_id)
    key = (db_key(conn), region_code, set_id)
    cached = _CACHE.get(key)
    if cached is not None and cached.stamp == stamp and cached.core_deg >= _core_deg(
        cached, tolerance_m
    ):
        return cached
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None and cached.stamp == stamp:
            if cached.core_deg >= _core_deg(cached, tolerance_m):
                return cached
        index = _build(conn, region_code, set_id, stamp, tolerance_m)
        # keep a few sets (history lookups); drop the rest
        if len(_CACHE) > 8:
            _CACHE.clear()
        _CACHE[key] = index
        return index


def _core_deg(index: CellIndex, tolerance_m: float) -> float:
    return metres_to_degrees(tolerance_m, _max_abs_lat(index))


def _max_abs_lat(index: CellIndex) -> float:
    if len(index.polys) == 0:
        return 0.0
    b = shapely.total_bounds(index.polys)
    return float(max(abs(b[1]), abs(b[3])))


def _build(
    conn: Connection, region_code: str, set_id: int, stamp: tuple[int, int], tolerance_m: float
) -> CellIndex:
    all_rows = conn.execute(
        text("SELECT code, ST_AsBinary(geom), kind, name, parent_code, township_code "
             "FROM grid_cell WHERE region_code = :r AND boundary_set_id = :s ORDER BY code"),
        {"r": region_code, "s": set_id},
    ).all()
    rows = [r for r in all_rows if r[2] == "basic"]
    dedicated = [r for r in all_rows if r[2] != "basic"]
    codes = [str(r[0]) for r in rows]
    polys = np.asarray(shapely.from_wkb([bytes(r[1]) for r in rows]), dtype=object)
    ded_polys = np.asarray(shapely.from_wkb([bytes(r[1]) for r in dedicated]), dtype=object)
    units = {
        str(r[0]): {"code": r[0], "name": r[1], "level": r[2]}
        for r in conn.execute(
            text("SELECT code, name, level FROM admin_unit WHERE region_code = :r"),
            {"r": region_code},
        )
    }
    if len(polys):
        minx, miny, maxx, maxy = shapely.total_bounds(polys)
    else:
        minx = miny = maxx = maxy = 0.0
    lon0 = (minx + maxx) / 2.0
    to_metric = Transformer.from_crs(
        "EPSG:4490",
        f"+proj=tmerc +lat_0=0 +lon_0={lon0:.6f} +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=m",
        always_xy=True,
    )
    max_lat = float(max(abs(miny), abs(maxy)))
    core_deg = metres_to_degrees(max(tolerance_m, 10.0), max_lat)
    cores = np.asarray(shapely.buffer(polys, -core_deg), dtype=object)

    def _proj(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    polys_m = np.asarray(shapely.transform(polys, _proj), dtype=object)
    bounds_m = np.asarray(shapely.boundary(polys_m), dtype=object)
    single_polys = np.asarray(shapely.from_wkb(shapely.to_wkb(polys)), dtype=object)
    single_ded = np.asarray(shapely.from_wkb(shapely.to_wkb(ded_polys)), dtype=object)
    # Only what the batch path queries with prepared-aware predicates is prepared; the metric
    # copies are only measured (distance), which never uses the prepared form.
    for arr in (polys, cores, ded_polys):
        shapely.prepare(arr)
    set_name = str(conn.execute(text("SELECT name FROM boundary_set WHERE region_code = :r "
                                     "AND id = :s"), {"r": region_code, "s": set_id}).scalar())
    grid = bucket_grid(np.asarray(shapely.bounds(polys), dtype=np.float64).reshape(-1, 4),
                        core_deg)
    return CellIndex(
        region_code=region_code, set_id=set_id, set_name=set_name, stamp=stamp, codes=codes,
        polys=polys,
        cores=cores, polys_m=polys_m, bounds_m=bounds_m, tree=shapely.STRtree(polys),
        core_deg=core_deg, to_metric=to_metric,
        names=[str(r[3]) for r in rows], parents=[r[4] for r in rows],
        townships=[r[5] for r in rows], units=units,
        ded_codes=[str(r[0]) for r in dedicated], ded_names=[str(r[3]) for r in dedicated],
        ded_polys=ded_polys, ded_tree=shapely.STRtree(ded_polys),
        ded_bounds=np.asarray(shapely.bounds(ded_polys), dtype=np.float64).reshape(-1, 4),
        grid=grid,
        bbox=[(float(a), float(b), float(c), float(d))
              for a, b, c, d in np.asarray(shapely.bounds(polys)).reshape(-1, 4).tolist()],
        single_polys=single_polys, single_ded=single_ded,
        bbox_arr=np.asarray(shapely.bounds(polys), dtype=np.float64).reshape(-1, 4),
        core_bbox=np.nan_to_num(np.asarray(shapely.bounds(cores), dtype=np.float64)
                                .reshape(-1, 4), nan=0.0),
        checked_at=time.monotonic(),
    )


def clear_cache() -> None:
    """Forget every loaded index (tests; after bulk edits of cells in place)."""
    with _LOCK:
        _CACHE.clear()
