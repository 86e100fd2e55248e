"""Benchmark: province-scale counts from the incident rollup vs the on-the-fly query.

Runs on the province database of ``scripts/province.py`` (117 counties, ~1 M incidents; any
migrated Wangge database works, e.g. the demo), migrated to 0014 (``wangge db migrate``: the
migration backfills ``incident_rollup_day``). Each query runs both ways in the same run,
alternating, ``--repeat`` times; the median is printed with the ratio on-the-fly / rollup
(> 1: the rollup is faster) and every pair of answers is checked equal:

* ``province KPI``: reports, cases, closed and closed on time per county from 2026-01-01
  (:func:`geo.incidents.rollup.counts` with ``source="rollup"`` vs ``source="incident"``);
* ``county KPI``: ``geo.incidents.kpi.kpi`` of one county by township over 2026-01..10
  (``use_rollup`` True vs False: the real code path, overdue and handling hours on the fly
  in both);
* ``county board``: ``geo.incidents.views.board`` (``use_rollup`` True vs False);
* ``z7 overview tile``: ``ST_AsMVT`` of per-cell counts (label point of each cell with reports,
  open) over the z7 tile of the county seat, counts summed from the rollup vs counted from
  ``incident``;
* ``trigger cost``: inserting ``--insert-rows`` copies of incidents in one statement with the
  rollup triggers on vs off (``ALTER TABLE ... DISABLE TRIGGER`` inside a transaction that is
  rolled back: the database is unchanged).

Camera coverage per cell is not stored yet (issue 20 target 3, step 4), so there is no
coverage read to measure.

Usage::

    WANGGE_DATABASE_URL=postgresql://postgres@127.0.0.1:54329/wangge_province \\
        .venv/bin/python scripts/bench/rollups.py [--region 141123] [--repeat 5]

Exit status 1 when a pair of answers differs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.settings import Settings  # noqa: E402
from geo.auth.principal import Principal  # noqa: E402
from geo.incidents import rollup  # noqa: E402
from geo.incidents.flow import NOT_A_CASE, open_status_sql  # noqa: E402
from geo.incidents.kpi import kpi  # noqa: E402
from geo.incidents.views import board  # noqa: E402
from geo.localtime import CST, day_start  # noqa: E402

BOSS = Principal(user="bench", role="command")
SEAT = (111.13, 38.46)  # Xing County seat: the z7 tile over it holds part of Shanxi


def province_kpi(conn: Connection, source: rollup.Source) -> dict[str, tuple[int, ...]]:
    """Reports, cases, closed, closed on time per county since 2026-01-01."""
    out: dict[str, list[int]] = {}
    for r in rollup.counts(conn, None, ["region_code", "status"],
                           start=day_start(dt.date(2026, 1, 1)), source=source):
        acc = out.setdefault(r["region_code"], [0, 0, 0, 0])
        acc[0] += r["n"]
        if r["status"] not in NOT_A_CASE:
            acc[1] += r["n"]
        if r["status"] == "closed":
            acc[2] += r["n"]
            acc[3] += r["on_time"]
    return {k: tuple(v) for k, v in out.items()}


TILE = """
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
cells AS (SELECT c.region_code, c.code, c.geom FROM grid_cell c
          JOIN boundary_set s ON s.id = c.boundary_set_id AND s.is_active, b
          WHERE c.geom && ST_Transform(b.env, 4490)),
counts AS ({counts}),
q AS (SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(c.geom), 3857), b.env, 4096, 64,
                          true) AS geom, c.code, k.n, k.open
      FROM cells c JOIN counts k ON k.region_code = c.region_code AND k.cell_code = c.code, b)
SELECT count(*), sum(n), sum(open), coalesce(length(ST_AsMVT(q, 'incident_counts', 4096,
       'geom')), 0) FROM q
"""


def tile(conn: Connection, sql: str, p: dict[str, int]) -> tuple[int, int, int]:
    """Features, reports and open ones in the tile (the MVT's bytes differ with the order of
    the features, so they are not compared)."""
    n, total, open_, _size = conn.execute(text(sql), p).one()
    return int(n), int(total or 0), int(open_ or 0)
OPEN = open_status_sql("status")
TILE_ROLLUP = TILE.format(counts=(
    f"SELECT r.region_code, r.cell_code, sum(n) AS n, "
    f"sum(n) FILTER (WHERE {OPEN}) AS open FROM cells c JOIN {rollup.TABLE} r "
    "ON r.region_code = c.region_code AND r.cell_code = c.code GROUP BY 1, 2"))
TILE_FLY = TILE.format(counts=(
    f"SELECT i.region_code, i.cell_code, count(*) AS n, "
    f"count(*) FILTER (WHERE {OPEN}) AS open FROM cells c JOIN incident i "
    "ON i.region_code = c.region_code AND i.cell_code = c.code GROUP BY 1, 2"))


def tile_of(lon: float, lat: float, z: int) -> dict[str, int]:
    import math

    n = 2**z
    return {"z": z, "x": int((lon + 180.0) / 360.0 * n),
            "y": int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)}


def pair(name: str, fast: Callable[[], Any], slow: Callable[[], Any], repeat: int) -> bool:
    """Time both ways alternately; print medians, ratio and whether the answers agree."""
    fast(), slow()  # warm-up
    tf: list[float] = []
    ts: list[float] = []
    a = b = None
    for _ in range(repeat):
        t = time.perf_counter()
        a = fast()
        tf.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        b = slow()
        ts.append((time.perf_counter() - t) * 1000)
    mf, ms = statistics.median(tf), statistics.median(ts)
    same = a == b
    print(f"{name:<18} rollup {mf:9.1f} ms   on the fly (anchor) {ms:9.1f} ms   "
          f"ratio {ms / mf:6.1f}x   equal: {'yes' if same else 'NO'}")
    return same


def trigger_cost(conn: Connection, rows: int) -> None:
    """Insert ``rows`` copies of existing incidents (new codes) with and without the rollup
    triggers, in a transaction rolled back each time."""
    cols = [c for (c,) in conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'incident' "
        "AND column_name NOT IN ('id', 'code', 'merged_into_id') ORDER BY ordinal_position"))]
    sql = text(f"INSERT INTO incident (code, {', '.join(cols)}) SELECT 'RB' || id, "
               f"{', '.join(cols)} FROM incident ORDER BY id LIMIT :n")
    times = {}
    for on in (True, False, True, False):
        conn.rollback()
        if not on:
            conn.execute(text("ALTER TABLE incident DISABLE TRIGGER trg_incident_rollup_ins"))
        t = time.perf_counter()
        conn.execute(sql, {"n": rows})
        times.setdefault(on, []).append(time.perf_counter() - t)
        conn.rollback()
    on_s, off_s = min(times[True]), min(times[False])
    print(f"trigger cost       INSERT of {rows:,} incidents: {on_s:.2f} s with the rollup "
          f"trigger, {off_s:.2f} s without (anchor): ratio {on_s / off_s:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--region", default="141123", help="the county of the county figures")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--insert-rows", type=int, default=100_000)
    args = ap.parse_args(argv)
    engine = create_engine(Settings.from_env().database_url)
    ok = True
    with engine.connect() as conn:
        n_inc = conn.execute(text("SELECT count(*) FROM incident")).scalar()
        n_roll = conn.execute(text(f"SELECT count(*) FROM {rollup.TABLE}")).scalar()
        n_reg = conn.execute(text("SELECT count(*) FROM region")).scalar()
        print(f"{n_reg} regions, {n_inc:,} incidents, {n_roll:,} rollup rows")
        as_of = dt.datetime(2026, 11, 1, tzinfo=CST)
        ok &= pair("province KPI", lambda: province_kpi(conn, "rollup"),
                   lambda: province_kpi(conn, "incident"), args.repeat)
        first, end = dt.date(2026, 1, 1), dt.date(2026, 11, 1)
        ok &= pair("county KPI", lambda: kpi(conn, BOSS, args.region, first, end, "township",
                                             as_of),
                   lambda: kpi(conn, BOSS, args.region, first, end, "township", as_of,
                               use_rollup=False), args.repeat)
        ok &= pair("county board", lambda: board(conn, BOSS, args.region, as_of),
                   lambda: board(conn, BOSS, args.region, as_of, use_rollup=False),
                   args.repeat)
        p = tile_of(*SEAT, 7)
        ok &= pair("z7 overview tile", lambda: tile(conn, TILE_ROLLUP, p),
                   lambda: tile(conn, TILE_FLY, p), args.repeat)
        conn.rollback()
        if args.insert_rows:
            trigger_cost(conn, args.insert_rows)
    engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
