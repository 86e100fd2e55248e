"""Benchmark: county-wide camera coverage per grid cell, Wangge vs plain geopandas/shapely.

Two cases on the demo county (load it first: ``wangge demo load``):

1. ``demo``: the demo's 1,500 cameras (online ones count);
2. ``synthetic``: 20,000 cameras (the demo's plus synthetic ones near them and near villages),
   inserted inside a transaction that is rolled back at the end: the database is unchanged.

Wangge answers the covered area of every basic cell from its stored per-cell coverage
(``geo.analysis.coverage.coverage_by_unit``, kept by triggers on camera and cell changes;
lines ``demo`` / ``synthetic``) and, lines ``demo/fly`` / ``synthetic/fly``, computes it on
the fly in PostGIS (``stored=False``: union of sectors, ST_Subdivide, areas on the
ellipsoid). The anchor, measured in the same run on the same data, is the plain way: read the
cells and the sectors with geopandas, ``shapely.union_all`` the sectors, project to
EPSG:4546 and intersect each cell with the union. The script prints both times, their ratio
(anchor / Wangge, best of ``--repeat`` alternating runs: > 1 means Wangge is faster; the first
runs are printed too) and checks that both give the same covered area
per cell to 0.1 % (cells with more than 1 m^2 covered; Wangge rounds to 0.1 m^2, so a
difference up to 0.05 m^2 is rounding) and in total.

Usage: ``.venv/bin/python scripts/bench/coverage.py [--cameras 20000] [--repeat 3]``
(``WANGGE_PG_PORT`` / ``WANGGE_DATABASE_URL`` choose the database). Exit status 1 when the
numbers disagree.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.settings import Settings  # noqa: E402
from geo.analysis.coverage import coverage_by_unit  # noqa: E402
from geo.boundaries.sets import set_valid_at  # noqa: E402
from geo.db.engine import get_engine  # noqa: E402

REGION = "141123"
TOLERANCE = 1e-3  # 0.1 %


def wangge(conn: Connection, set_id: int, stored: bool = True) -> pd.Series:
    """Covered m^2 per cell code as Wangge answers it: the stored per-cell coverage (kept by
    triggers), or with ``stored=False`` computed on the fly in PostGIS."""
    units = coverage_by_unit(conn, REGION, "cell", set_id, stored=stored)
    return units.set_index("code")["covered_m2"].astype(float)


def on_the_fly(conn: Connection, set_id: int) -> pd.Series:
    """:func:`wangge` computed on the fly (the stored figures' source)."""
    return wangge(conn, set_id, stored=False)


def anchor(conn: Connection, set_id: int) -> pd.Series:
    """Covered m^2 per cell code, the plain geopandas/shapely way (EPSG:4546 areas)."""
    cells = gpd.read_postgis(
        text("SELECT code, geom FROM grid_cell WHERE boundary_set_id = :s AND kind = 'basic'"),
        conn, geom_col="geom", params={"s": set_id})
    sectors = gpd.read_postgis(
        text("SELECT sector AS geom FROM camera WHERE region_code = :r AND status = 'online' "
             "AND sector IS NOT NULL"), conn, geom_col="geom", params={"r": REGION})
    cells_m = cells.to_crs("EPSG:4546")
    union_m = gpd.GeoSeries([shapely.union_all(sectors.geometry.values)],
                            crs="EPSG:4490").to_crs("EPSG:4546").iloc[0]
    tree = shapely.STRtree(cells_m.geometry.values)
    covered = np.zeros(len(cells_m))
    parts = shapely.get_parts(union_m)
    for part in parts:
        for i in tree.query(part, predicate="intersects"):
            covered[i] += shapely.intersection(cells_m.geometry.values[i], part).area
    return pd.Series(covered, index=cells["code"].to_numpy())


def add_synthetic_cameras(conn: Connection, total: int, seed: int = 7) -> int:
    """Insert cameras until the region has ``total``: near existing cameras and villages."""
    have = int(conn.execute(text("SELECT count(*) FROM camera WHERE region_code = :r"),
                            {"r": REGION}).scalar() or 0)
    need = max(0, total - have)
    if need == 0:
        return 0
    rng = np.random.default_rng(seed)
    base = np.array(conn.execute(text(
        "SELECT ST_X(geom), ST_Y(geom) FROM camera WHERE region_code = :r ORDER BY id"),
        {"r": REGION}).all(), dtype=float)
    villages = np.array(conn.execute(text(
        "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM admin_unit "
        "WHERE region_code = :r AND level = 'village'"), {"r": REGION}).all(), dtype=float)
    rows = []
    for n in range(need):
        if rng.random() < 0.6:
            x, y = base[rng.integers(0, len(base))] + rng.normal(0, 0.0015, 2)
        else:
            x, y = villages[rng.integers(0, len(villages))] + rng.normal(0, 0.004, 2)
        rows.append({
            "r": REGION, "gb": f"14112399001328{n:06d}", "name": f"合成监控{n:05d}",
            "b": None if rng.random() < 0.06 else float(rng.uniform(0, 359.9)),
            "fov": float(rng.choice([60, 75, 90, 110, 120])),
            "rng": float(rng.choice([30, 50, 60, 80, 100, 150])),
            "st": str(rng.choice(["online", "offline", "fault"], p=[0.9, 0.07, 0.03])),
            "g": f"SRID=4490;POINT({x:.8f} {y:.8f})"})
    # one statement: the stored coverage's statement triggers run once, not once per camera
    conn.execute(text(
        "INSERT INTO camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m, status, "
        "geom, synthetic) SELECT r, gb, name, b, fov, rng, st, ST_GeomFromEWKT(g), true "
        "FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(r text, gb text, name text, "
        "b float8, fov float8, rng float8, st text, g text)"), {"rows": json.dumps(rows)})
    return need


def timed_pair(a: Any, b: Any, *args: Any, repeat: int = 3
               ) -> tuple[tuple[Any, float, float], tuple[Any, float, float]]:
    """Run ``a`` and ``b`` alternately ``repeat`` times (fair under a fluctuating load).

    Returns, for each, its result, the time of its first run and its best time.
    """
    times: tuple[list[float], list[float]] = ([], [])
    outs: list[Any] = [None, None]
    for _ in range(max(1, repeat)):
        for k, fn in enumerate((a, b)):
            t0 = time.perf_counter()
            outs[k] = fn(*args)
            times[k].append(time.perf_counter() - t0)
    return ((outs[0], times[0][0], min(times[0])), (outs[1], times[1][0], min(times[1])))


def compare(name: str, ours: pd.Series, theirs: pd.Series, t_ours: float, t_theirs: float,
            cameras: int, first_ours: float, first_theirs: float) -> bool:
    theirs = theirs.reindex(ours.index).fillna(0.0)
    big = ours[(ours > 1.0) | (theirs > 1.0)]
    diff = (big - theirs[big.index]).abs()
    rel = diff / np.maximum(big, theirs[big.index])
    total_rel = abs(ours.sum() - theirs.sum()) / max(theirs.sum(), 1e-9)
    # Wangge reports m^2 rounded to 0.1: a 0.05 m^2 difference is rounding, not disagreement
    ok = bool(((rel <= TOLERANCE) | (diff <= 0.05 + 1e-9)).all()) and total_rel <= TOLERANCE
    print(f"{name:10s} cameras={cameras:6d} cells={len(ours):4d} "
          f"wangge={t_ours:7.2f}s geopandas={t_theirs:7.2f}s ratio={t_theirs / t_ours:5.2f}x "
          f"covered={ours.sum() / 1e6:9.4f} km2 vs {theirs.sum() / 1e6:9.4f} km2 "
          f"max_cell_diff={float(rel[big >= 100].max()) if (big >= 100).any() else 0.0:.2e} "
          f"(cells >= 100 m2; smaller ones within 0.05 m2 rounding) "
          f"total_diff={total_rel:.2e} {'AGREE' if ok else 'DISAGREE'} "
          f"(first run: wangge {first_ours:.2f}s, geopandas {first_theirs:.2f}s)")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cameras", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each computation; the best time is compared")
    args = ap.parse_args()
    engine = get_engine(Settings.from_env().database_url)
    ok = True
    with engine.connect() as conn:
        known = conn.execute(text("SELECT count(*) FROM region WHERE code = :r"),
                             {"r": REGION}).scalar()
        if not known:
            print("the demo county is not loaded: run `wangge demo load` first")
            return 2
        set_id, _ = set_valid_at(conn, REGION, None)
        try:  # everything below runs in one transaction, rolled back at the end
            for case in ("demo", "synthetic"):
                if case == "synthetic":
                    t0 = time.perf_counter()
                    added = add_synthetic_cameras(conn, args.cameras)
                    conn.execute(text("ANALYZE camera"))
                    print(f"(inserted {added} synthetic cameras in "
                          f"{time.perf_counter() - t0:.1f}s, rolled back at the end)")
                n = int(conn.execute(text("SELECT count(*) FROM camera WHERE region_code = :r"),
                                     {"r": REGION}).scalar() or 0)
                (ours, f_ours, t_ours), (theirs, f_theirs, t_theirs) = timed_pair(
                    wangge, anchor, conn, set_id, repeat=args.repeat)
                ok &= compare(case, ours, theirs, t_ours, t_theirs, n, f_ours, f_theirs)
                (fly, f_fly, t_fly), (theirs, f_theirs, t_theirs) = timed_pair(
                    on_the_fly, anchor, conn, set_id, repeat=args.repeat)
                ok &= compare(case + "/fly", fly, theirs, t_fly, t_theirs, n, f_fly, f_theirs)
        finally:
            conn.rollback()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
