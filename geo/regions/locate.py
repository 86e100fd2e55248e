"""Which county a point is in, answered in process: the region of a request that names none.

Every county's boundary (its county-level admin unit) is held per engine in an STRtree and
reloaded at most every :data:`TTL_S` seconds (a county is onboarded rarely: ``wangge region
add``), so ``GET /cells/at`` without ``region`` costs no database round trip for this.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import Engine, text

from geo.errors import NotFound, Unavailable

TTL_S = 30.0
# A point this close to a county's edge (degrees, ~1 m) is on it: both counties answer.
EDGE_DEG = 0.00001


@dataclass(frozen=True)
class _Index:
    codes: list[str]
    tree: shapely.STRtree
    geoms: np.ndarray
    loaded: float
    missing: tuple[str, ...] = ()  # counties whose outline could not be read (shard down)


# per engine object (one per app), dropped with it
_INDEXES: weakref.WeakKeyDictionary[Engine, _Index] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


_OUTLINE_SQL = ("SELECT region_code, ST_AsBinary(ST_Union(geom)) FROM admin_unit "
                "WHERE level = 'county' {where} GROUP BY region_code ORDER BY region_code")


def _load(engine: Engine, old: _Index | None = None) -> _Index:
    rows: list[tuple[str, bytes]]
    missing: tuple[str, ...] = ()
    try:
        with engine.connect() as conn:
            rows = [(str(c), bytes(g)) for c, g in conn.execute(
                text(_OUTLINE_SQL.format(where=""))).all()]
    except Exception:  # noqa: BLE001 - maybe one county's server (a shard) is down
        rows, missing = _load_each(engine, old)
    geoms = np.asarray([shapely.from_wkb(bytes(g)) for _, g in rows], dtype=object)
    shapely.prepare(geoms)
    return _Index([str(c) for c, _ in rows], shapely.STRtree(geoms), geoms, time.monotonic(),
                  missing)


def _load_each(engine: Engine, old: _Index | None
               ) -> tuple[list[tuple[str, bytes]], tuple[str, ...]]:
    """County by county, so that counties on a shard that is down (docs/SCALING.md) keep
    their last outline and the others are read; raises when the database itself is down.
    Also returns the counties without an outline (down, and none read before)."""
    with engine.connect() as conn:
        codes = list(conn.execute(text("SELECT code FROM region ORDER BY code")).scalars())
    known = dict(zip(old.codes, old.geoms, strict=True)) if old else {}
    rows: list[tuple[str, bytes]] = []
    missing: list[str] = []
    for code in codes:
        try:
            with engine.connect() as conn:
                rows += [(str(c), bytes(g)) for c, g in conn.execute(text(_OUTLINE_SQL.format(
                    where="AND region_code = :r")), {"r": code}).all()]
        except Exception:  # noqa: BLE001 - this county's server is down: keep what we had
            if code in known:
                rows.append((code, shapely.to_wkb(known[code])))
            else:
                missing.append(code)
    return rows, tuple(missing)


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
            _INDEXES[key] = _load(engine, old)
        except Exception:  # noqa: BLE001 - any database failure: keep serving, retry later
            empty = np.asarray([], dtype=object)
            _INDEXES[key] = _Index(old.codes, old.tree, old.geoms, time.monotonic(),
                                   old.missing) if old \
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


def regions_intersecting(engine: Engine, bbox: tuple[float, float, float, float]
                         ) -> list[str]:
    """Codes of the counties whose boundary meets the box (lon/lat min, max in CGCS2000),
    sorted: a map tile or a bbox query within one county names that county alone."""
    if _stale(_INDEXES.get(engine)):
        refresh(engine)
    idx = _INDEXES[engine]
    if not idx.codes or idx.missing:  # a county of unknown outline may be in the box too
        return []
    hits = idx.tree.query(shapely.box(*bbox), predicate="intersects")
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
    if idx is not None and not _stale(idx) and idx.codes in ([], [default]) \
            and not idx.missing:
        return default  # one county (the usual deployment): nothing to look up
    covering = regions_covering(engine, lon, lat)
    if not covering:
        missing = _INDEXES[engine].missing if engine in _INDEXES else ()
        if missing:  # it may be in one of them: say so rather than "in no cell" of another
            raise Unavailable(
                f"区县 {', '.join(missing)} 的边界暂不可读 (其数据库分片不可用), 无法判断该点所属"
                "区县; 请稍后重试, 或用 region= 指定区县 / the outline of county "
                f"{', '.join(missing)} cannot be read (its database shard is down), so the "
                "point's county is unknown: retry later, or name it with region=")
    return covering[0] if covering else default


# code -> name of every region the database holds, per engine, with the time it was read
_KNOWN: weakref.WeakKeyDictionary[Engine, tuple[dict[str, str], float]] = \
    weakref.WeakKeyDictionary()


def known_region(engine: Engine, code: str) -> dict[str, str] | None:
    """None when ``code`` is a region of this database, else every region's code and name
    (for the refusal). Read at most every :data:`TTL_S` seconds, and again on a miss, so a
    county added a moment ago is known at once and an unknown code costs one small query."""
    cached = _KNOWN.get(engine)
    if cached is not None and code in cached[0] and time.monotonic() - cached[1] <= TTL_S:
        return None
    with engine.connect() as conn:
        regions = {str(c): str(n) for c, n in conn.execute(
            text("SELECT code, name FROM region ORDER BY code"))}
    _KNOWN[engine] = (regions, time.monotonic())
    return None if code in regions else regions


def unknown_region(code: str, known: Iterable[str]) -> NotFound:
    """The one refusal of a region code this installation does not hold (404), listing the
    known ones: a county name (``region=兴县``) or a typo is never answered with an empty
    layer that looks like a county without data (review round 8, L7)."""
    codes = sorted(known)
    return NotFound(f"未知区域 {code[:40]} (region 应为区县代码) / unknown region {code[:40]} "
                    f"(region is a county code); known regions: {codes[:20]}",
                    region=code[:40], regions=codes[:20])
