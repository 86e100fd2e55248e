"""Which county a point is in, answered in process: the region of a request that names none.

Every county's boundary (its county-level admin unit) is held per engine in an STRtree and
reloaded at most every :data:`TTL_S` seconds (a county is onboarded rarely: ``wangge region
add``), so ``GET /cells/at`` without ``region`` costs no database round trip for this.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Engine, text

TTL_S = 30.0
# A point this close to a county's edge (degrees, ~1 m) is on it: both counties answer.
EDGE_DEG = 0.00001


@dataclass(frozen=True)
class _Index:
    codes: list[str]
    tree: shapely.STRtree
    geoms: np.ndarray
    loaded: float


# per engine object (one per app), dropped with it
_INDEXES: weakref.WeakKeyDictionary[Engine, _Index] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _load(engine: Engine) -> _Index:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT region_code, ST_AsBinary(ST_Union(geom)) FROM admin_unit "
            "WHERE level = 'county' GROUP BY region_code ORDER BY region_code")).all()
    geoms = np.asarray([shapely.from_wkb(bytes(g)) for _, g in rows], dtype=object)
    shapely.prepare(geoms)
    return _Index([str(c) for c, _ in rows], shapely.STRtree(geoms), geoms, time.monotonic())


def _stale(idx: _Index | None) -> bool:
    return idx is None or time.monotonic() - idx.loaded > TTL_S


def refresh(engine: Engine) -> None:
    """Reload the boundaries if stale. With the database down the old ones are kept (and an
    empty index when there were none) for another TTL: the request itself then says 503."""
    key = engine
    with _LOCK:
        old = _INDEXES.get(key)
        if not _stale(old):
            return
        try:
            _INDEXES[key] = _load(engine)
        except Exception:  # noqa: BLE001 - any database failure: keep serving, retry later
            empty = np.asarray([], dtype=object)
            _INDEXES[key] = _Index(old.codes, old.tree, old.geoms, time.monotonic()) if old \
                else _Index([], shapely.STRtree(empty), empty, time.monotonic())


def needs_refresh(engine: Engine) -> bool:
    """True when :func:`refresh` would read the database (async callers do it in a thread)."""
    return _stale(_INDEXES.get(engine))


def regions_covering(engine: Engine, lon: float, lat: float) -> list[str]:
    """Codes of the counties whose boundary covers (lon, lat) in CGCS2000, sorted."""
    if _stale(_INDEXES.get(engine)):
        refresh(engine)
    idx = _INDEXES[engine]
    if not idx.codes:
        return []
    pt = shapely.Point(lon, lat)
    hits = idx.tree.query(pt, predicate="dwithin", distance=EDGE_DEG)
    return sorted(idx.codes[int(i)] for i in hits)


def forget(engine: Engine) -> None:
    """Drop the cached boundaries of ``engine`` (after ``wangge region add`` in process)."""
    _INDEXES.pop(engine, None)


def region_of_point(engine: Engine, region: str | None, default: str, lon: float,
                    lat: float) -> str:
    """The region a request is about: ``region`` if given, else the county covering the
    point (the lowest code on a shared border), else ``default`` (which then says the point
    is outside it)."""
    if region:
        return region
    idx = _INDEXES.get(engine)
    if idx is not None and not _stale(idx) and idx.codes in ([], [default]):
        return default  # one county (the usual deployment): nothing to look up
    covering = regions_covering(engine, lon, lat)
    return covering[0] if covering else default
