#!/usr/bin/env python3
"""Raw-SQL benchmarks at county and province size: how each cost grows.

Runs the same queries against two databases made by ``scripts/province.py`` at the same
density: one county (``--county-db``, default ``wangge_county``: Xing County 141123 only) and
the whole province (``--province-db``, default ``wangge_province``: Shanxi, 117 counties).
Each query runs at **county scope** (one region's data, in both databases: should stay flat
as the province grows) and, where it makes sense, at **province scope** (everything: grows
with the data). Every figure is also printed as a ratio to ``SELECT 1`` measured in the same
run (the anchor), so runs on a loaded machine stay comparable.

Queries:

* ``lookup``   -- ``geo.lookup.postgis.cell_at`` (which cell covers a point; the real code path)
* ``items``    -- incidents in a 4 km box, newest 500, as GeoJSON (the list/map query)
* ``tile z12`` -- ``ST_AsMVT`` of incidents in the z12 tile at the county seat
* ``tile z7``  -- ``ST_AsMVT`` of incidents in the z7 tile over the county (overview);
  ``tile z7 agg``: the same tile as per-cell counts computed on the fly; ``tile z7 rollup``:
  from a per-cell count table (how an overview should be served), ``rollup refresh`` the
  cost of rebuilding that table for the whole database
* ``kpi``      -- group-by counts (closing rate, on-time) per township / per county
* ``coverage`` -- union of camera sectors per cell, covered share of each cell's area

Usage (on the project cluster, ``WANGGE_PG_PORT``, default 54329; the two databases are built
first, about 30 s and 6 min)::

    .venv/bin/python scripts/province.py --counties 141123 --db wangge_county
    .venv/bin/python scripts/province.py
    .venv/bin/python scripts/bench/scale.py [--repeat 5]

It prints the figures as a Markdown table. A missing database is named with the command that
builds it.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from api.settings import Settings, local_database_url  # noqa: E402
from geo.lookup.postgis import cell_at  # noqa: E402

SEAT = (111.13, 38.46)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, x, y


MVT_POINTS = text("""
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
q AS (
  SELECT ST_AsMVTGeom(ST_Transform(i.geom, 3857), b.env, 4096, 64, true) AS geom,
         i.id, i.status, i.category_code
  FROM incident i, b
  WHERE i.geom && ST_Transform(b.env, 4490) {scope}
)
SELECT count(*), coalesce(length(ST_AsMVT(q, 'incidents', 4096, 'geom')), 0) FROM q
""")

MVT_AGG = text("""
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
counts AS (
  SELECT i.region_code, i.cell_code, count(*) AS n FROM incident i, b
  WHERE i.geom && ST_Transform(b.env, 4490) {scope} GROUP BY 1, 2
),
q AS (
  SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(c.geom), 3857), b.env, 4096, 64, true)
         AS geom, c.code, counts.n
  FROM counts JOIN grid_cell c ON c.region_code = counts.region_code
   AND c.code = counts.cell_code, b
)
SELECT count(*), coalesce(length(ST_AsMVT(q, 'incident_counts', 4096, 'geom')), 0) FROM q
""")

ROLLUP_REFRESH = text("""
DROP TABLE IF EXISTS pg_temp.cell_counts;
CREATE TEMP TABLE cell_counts AS
  SELECT region_code, cell_code, count(*) AS n,
         count(*) FILTER (WHERE status NOT IN ('closed', 'cancelled')) AS open
  FROM incident GROUP BY 1, 2;
CREATE INDEX ON cell_counts (region_code, cell_code);
ANALYZE cell_counts;
""")

MVT_ROLLUP = text("""
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
q AS (
  SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(c.geom), 3857), b.env, 4096, 64, true)
         AS geom, c.code, k.n, k.open
  FROM grid_cell c JOIN cell_counts k ON k.region_code = c.region_code
   AND k.cell_code = c.code, b
  WHERE c.geom && ST_Transform(b.env, 4490) {scope}
)
SELECT count(*), coalesce(length(ST_AsMVT(q, 'incident_counts', 4096, 'geom')), 0) FROM q
""")

ITEMS = text("""
SELECT count(*), sum(length(j)) FROM (
  SELECT json_build_object('type', 'Feature', 'id', i.code,
           'geometry', ST_AsGeoJSON(i.geom, 7)::json,
           'properties', json_build_object('status', i.status, 'category', i.category_code,
                                           'reported_at', i.reported_at))::text AS j
  FROM incident i
  WHERE i.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490) AND i.region_code = :r
  ORDER BY i.reported_at DESC LIMIT 500) s
""")

KPI_COUNTY = text("""
SELECT township_code, count(*) AS due,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE status = 'closed' AND closed_at <= reported_at + interval '5 days')
         AS on_time,
       avg(closed_at - reported_at) FILTER (WHERE status = 'closed') AS avg_time
FROM incident WHERE region_code = :r AND reported_at >= '2026-01-01'
GROUP BY township_code
""")

KPI_PROVINCE = text("""
SELECT region_code, count(*) AS due,
       count(*) FILTER (WHERE status = 'closed') AS closed,
       count(*) FILTER (WHERE status = 'closed' AND closed_at <= reported_at + interval '5 days')
         AS on_time,
       avg(closed_at - reported_at) FILTER (WHERE status = 'closed') AS avg_time
FROM incident WHERE reported_at >= '2026-01-01'
GROUP BY region_code
""")

COVERAGE = text("""
SELECT count(*), avg(share) FROM (
  SELECT c.id,
         coalesce(ST_Area(ST_Intersection(c.geom, ST_Union(cam.sector))) / ST_Area(c.geom), 0)
           AS share
  FROM grid_cell c
  LEFT JOIN camera cam ON cam.region_code = c.region_code AND cam.sector && c.geom
   AND ST_Intersects(cam.sector, c.geom)
  WHERE c.kind = 'basic' {scope}
  GROUP BY c.id, c.geom
) s
""")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time in ms over ``repeat`` runs (after one warm-up) and the last result.

    ``repeat=0``: a single run, timed (for the slow province-wide queries).
    """
    if repeat == 0:
        t = time.perf_counter()
        out = fn()
        return (time.perf_counter() - t) * 1000, out
    out = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def anchor(conn: Connection) -> float:
    """``SELECT 1`` round trip in ms: the minimum of 200 (the least noisy statistic)."""
    times = []
    for _ in range(200):
        t = time.perf_counter()
        conn.execute(text("SELECT 1")).scalar()
        times.append((time.perf_counter() - t) * 1000)
    return min(times)


def run_db(url: str, region: str, repeat: int, province_scope: bool) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        engine.connect().close()
    except OperationalError as exc:
        name = make_url(url).database
        build = ("--counties 141123 " if "county" in str(name) else "") + f"--db {name}"
        raise SystemExit(f"database {name} cannot be opened ({str(exc).splitlines()[0]}): "
                         f"build it with .venv/bin/python scripts/province.py {build}") from exc
    res: dict[str, Any] = {}
    with engine.connect() as conn:
        res["rows"] = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                       for t in ("grid_cell", "incident", "camera", "region")}
        res["anchor"] = anchor(conn)
        pts = conn.execute(text(
            "SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE region_code = :r "
            "ORDER BY md5(code) LIMIT 100"), {"r": region}).all()

        def lookups(c: Connection = conn) -> int:
            for x, y in pts:
                cell_at(c, float(x), float(y), region)
            return len(pts)

        ms, _ = timed(lookups, max(1, repeat // 2))
        res["lookup"] = {"county": ms / len(pts)}
        half = 0.02
        box = {"x0": SEAT[0] - half * 1.27, "y0": SEAT[1] - half,
               "x1": SEAT[0] + half * 1.27, "y1": SEAT[1] + half, "r": region}
        res["items"] = {"county": timed(lambda: conn.execute(ITEMS, box).one(), repeat)[0]}
        for z in (12, 7):
            z_, x, y = tile_of(*SEAT, z)
            p = {"z": z_, "x": x, "y": y, "r": region}
            entry = {"county": timed(lambda p=p: conn.execute(
                text(MVT_POINTS.text.format(scope="AND i.region_code = :r")), p).one(),
                repeat)[0]}
            if province_scope:
                entry["province"] = timed(lambda p=p: conn.execute(
                    text(MVT_POINTS.text.format(scope="")), p).one(), repeat)[0]
            res[f"tile z{z}"] = entry
            if z == 7:
                agg = {"county": timed(lambda p=p: conn.execute(
                    text(MVT_AGG.text.format(scope="AND i.region_code = :r")), p).one(),
                    repeat)[0]}
                if province_scope:
                    agg["province"] = timed(lambda p=p: conn.execute(
                        text(MVT_AGG.text.format(scope="")), p).one(), repeat)[0]
                res["tile z7 agg"] = agg
                # The overview served from a per-cell rollup (refreshed, not per request).
                t = time.perf_counter()
                for stmt in ROLLUP_REFRESH.text.split(";"):
                    if stmt.strip():
                        conn.execute(text(stmt))
                res["rollup refresh"] = {"province": (time.perf_counter() - t) * 1000}
                roll = {"county": timed(lambda p=p: conn.execute(
                    text(MVT_ROLLUP.text.format(scope="AND c.region_code = :r")), p).one(),
                    repeat)[0]}
                if province_scope:
                    roll["province"] = timed(lambda p=p: conn.execute(
                        text(MVT_ROLLUP.text.format(scope="")), p).one(), repeat)[0]
                res["tile z7 rollup"] = roll
        res["kpi"] = {"county": timed(lambda: conn.execute(KPI_COUNTY, {"r": region}).all(),
                                      repeat)[0]}
        if province_scope:
            res["kpi"]["province"] = timed(lambda: conn.execute(KPI_PROVINCE).all(), repeat)[0]
        cov_county = text(COVERAGE.text.format(scope="AND c.region_code = :r"))
        res["coverage"] = {"county": timed(lambda: conn.execute(cov_county, {"r": region})
                                           .one(), max(1, repeat // 3))[0]}
        if province_scope:
            res["coverage"]["province"] = timed(
                lambda: conn.execute(text(COVERAGE.text.format(scope=""))).one(), 0)[0]
    engine.dispose()
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--county-db", default="wangge_county")
    p.add_argument("--province-db", default="wangge_province")
    p.add_argument("--region", default="141123")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    port = Settings.from_env().pg_port
    county = run_db(local_database_url(port, args.county_db), args.region, args.repeat, True)
    province = run_db(local_database_url(port, args.province_db), args.region, args.repeat,
                      True)
    rc, rp = county["rows"], province["rows"]
    print(f"county DB:   {rc}\nprovince DB: {rp}")
    print(f"data ratio (incidents): {rp['incident'] / rc['incident']:.1f}x, "
          f"cells {rp['grid_cell'] / rc['grid_cell']:.1f}x, "
          f"cameras {rp['camera'] / rc['camera']:.1f}x")
    print(f"anchor SELECT 1: county DB {county['anchor']:.3f} ms, "
          f"province DB {province['anchor']:.3f} ms\n")
    print("| query | scope | county DB ms (x anchor) | province DB ms (x anchor) | growth ms |"
          " growth x anchor |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for q in ("lookup", "items", "tile z12", "tile z7", "tile z7 agg", "tile z7 rollup",
              "rollup refresh", "kpi", "coverage"):
        for scope in ("county", "province"):
            if scope not in province[q]:
                continue
            a, b = county[q][scope], province[q][scope]
            ra, rb = a / county["anchor"], b / province["anchor"]
            print(f"| {q} | {scope} | {a:,.2f} ({ra:,.0f}) | {b:,.2f} ({rb:,.0f}) | "
                  f"{b / a:,.2f}x | {rb / ra:,.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
