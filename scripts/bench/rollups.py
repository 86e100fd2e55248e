"""Benchmark: province-scale counts from the incident rollup vs the on-the-fly query.

Runs on the province database of ``scripts/province.py`` (117 counties, ~1 M incidents; any
migrated Wangge database works, e.g. the demo), migrated to 0018 (``wangge db migrate``: the
migrations backfill the rollups and the stored coverage). Each query runs both ways in the same run,
alternating, ``--repeat`` times; the median is printed with the ratio on-the-fly / rollup
(> 1: the rollup is faster) and every pair of answers is checked equal:

* ``province KPI``: reports, cases, closed and closed on time per county from 2026-01-01
  (:func:`geo.incidents.rollup.counts` with ``source="rollup"`` vs ``source="incident"``;
  whole months: the monthly rollup answers), and ``province KPI ragged`` from 2025-03-15 to
  2026-02-10 (the whole months from the monthly rollup, the days around them from the daily
  one);
* ``county KPI``: ``geo.incidents.kpi.kpi`` of one county by township over 2026-01..10
  (``use_rollup`` True vs False: the real code path, overdue and handling hours on the fly
  in both);
* ``county board``: ``geo.incidents.views.board`` (``use_rollup`` True vs False);
* ``z7 overview tile``: :func:`geo.mapdata.incidents.overview_tile` over the county seat,
  one point per township (reports, open ones), counts from the per-cell rollup
  (:func:`geo.incidents.rollup.cell_counts_sql`, all time) vs counted from ``incident``;
  ``z7 tile, one month``: the same for 2026-03 (the daily rollup answers); ``z9 tile per
  cell``: one point per basic cell;
* ``coverage read``: :func:`geo.analysis.coverage.coverage_by_unit` of the county's basic
  cells, stored per cell (migration 0018) vs computed on the fly (``stored=False``); and
  ``coverage province``: covered share per county summed from the stored cells (no anchor in
  the run: the on-the-fly province coverage takes ~25 s, docs/SCALING.md);
* ``trigger cost``: inserting ``--insert-rows`` copies of incidents in one statement with the
  rollup trigger keeping every rollup, keeping the daily one only (before migration 0017) and
  off (``ALTER TABLE ... DISABLE TRIGGER`` inside a transaction that is
  rolled back: the database is unchanged).

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
from geo.analysis.coverage import (  # noqa: E402
    CELL_TABLE,
    REGION_TABLE,
    coverage_by_unit,
    store_region,
)
from geo.auth.principal import Principal  # noqa: E402
from geo.boundaries.sets import set_valid_at  # noqa: E402
from geo.incidents import rollup  # noqa: E402
from geo.incidents.flow import NOT_A_CASE  # noqa: E402
from geo.incidents.kpi import kpi  # noqa: E402
from geo.incidents.views import board  # noqa: E402
from geo.localtime import CST, day_start  # noqa: E402
from geo.mapdata.incidents import overview_tile  # noqa: E402

BOSS = Principal(user="bench", role="command")
SEAT = (111.13, 38.46)  # Xing County seat: the z7 tile over it holds part of Shanxi


def province_kpi(conn: Connection, source: rollup.Source, first: dt.date = dt.date(2026, 1, 1),
                 end: dt.date | None = None) -> dict[str, tuple[int, ...]]:
    """Reports, cases, closed, closed on time per county in ``[first, end)``."""
    out: dict[str, list[int]] = {}
    for r in rollup.counts(conn, None, ["region_code", "status"], start=day_start(first),
                           end=day_start(end) if end else None, source=source):
        acc = out.setdefault(r["region_code"], [0, 0, 0, 0])
        acc[0] += r["n"]
        if r["status"] not in NOT_A_CASE:
            acc[1] += r["n"]
        if r["status"] == "closed":
            acc[2] += r["n"]
            acc[3] += r["on_time"]
    return {k: tuple(v) for k, v in out.items()}


def tile(conn: Connection, p: dict[str, int], **kw: Any) -> tuple[int, int, int]:
    """Features, reports and open ones in the overview tile (the MVT's bytes differ with the
    order of the features, so they are not compared)."""
    return overview_tile(conn, p["z"], p["x"], p["y"], **kw)[:3]


def coverage_province(conn: Connection) -> dict[str, float]:
    """Covered share (%) per county of the stored per-cell coverage (active boundary sets)."""
    return {r: round(100.0 * c / a, 4) for r, c, a in conn.execute(text(f"""
        SELECT g.region_code, sum(v.covered_m2), sum(v.area_m2) FROM {CELL_TABLE} v
        JOIN grid_cell g ON g.id = v.cell_id JOIN boundary_set s ON s.id = g.boundary_set_id
        AND s.is_active GROUP BY 1"""))}


def coverage_rows(conn: Connection, region: str, set_id: int, stored: bool) -> list[Any]:
    """The county's cells with their coverage, as the analysis reads them."""
    units = coverage_by_unit(conn, region, "cell", set_id, stored=stored)
    return units.drop(columns="geometry").to_dict("records")


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
    print(f"{name:<19} rollup {mf:9.1f} ms   on the fly (anchor) {ms:9.1f} ms   "
          f"ratio {ms / mf:6.1f}x   equal: {'yes' if same else 'NO'}")
    return same


def trigger_cost(conn: Connection, rows: int) -> None:
    """Insert ``rows`` copies of existing incidents (new codes) with the rollup trigger keeping
    every rollup (daily, monthly, per cell), keeping the daily one only (the function of
    migration 0014, swapped in inside the transaction) and off, in a transaction rolled back
    each time, alternately twice; the fastest of each."""
    cols = [c for (c,) in conn.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'incident' "
        "AND column_name NOT IN ('id', 'code', 'merged_into_id') ORDER BY ordinal_position"))]
    sql = text(f"INSERT INTO incident (code, {', '.join(cols)}) SELECT 'RB' || id, "
               f"{', '.join(cols)} FROM incident ORDER BY id LIMIT :n")
    times: dict[str, list[float]] = {}
    for mode in ("all", "daily", "off") * 2:
        conn.rollback()
        if mode == "off":
            conn.execute(text("ALTER TABLE incident DISABLE TRIGGER trg_incident_rollup_ins"))
        elif mode == "daily":
            conn.execute(text(rollup.functions_sql(coarse=False)))
        t = time.perf_counter()
        conn.execute(sql, {"n": rows})
        times.setdefault(mode, []).append(time.perf_counter() - t)
        conn.rollback()
    best = {k: min(v) for k, v in times.items()}
    print(f"trigger cost        INSERT of {rows:,} incidents: {best['all']:.2f} s keeping every "
          f"rollup, {best['daily']:.2f} s the daily one only, {best['off']:.2f} s without "
          f"(anchor): ratios {best['all'] / best['off']:.2f}x, "
          f"{best['daily'] / best['off']:.2f}x")


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
        n_month = conn.execute(text(f"SELECT count(*) FROM {rollup.MONTH_TABLE}")).scalar()
        n_cell = conn.execute(text(f"SELECT count(*) FROM {rollup.CELL_TABLE}")).scalar()
        print(f"monthly rollup {n_month:,} rows, per-cell rollup {n_cell:,} rows")
        ok &= pair("province KPI", lambda: province_kpi(conn, "rollup"),
                   lambda: province_kpi(conn, "incident"), args.repeat)
        ragged = (dt.date(2025, 3, 15), dt.date(2026, 2, 10))
        ok &= pair("province KPI ragged", lambda: province_kpi(conn, "rollup", *ragged),
                   lambda: province_kpi(conn, "incident", *ragged), args.repeat)
        first, end = dt.date(2026, 1, 1), dt.date(2026, 11, 1)
        ok &= pair("county KPI", lambda: kpi(conn, BOSS, args.region, first, end, "township",
                                             as_of),
                   lambda: kpi(conn, BOSS, args.region, first, end, "township", as_of,
                               use_rollup=False), args.repeat)
        ok &= pair("county board", lambda: board(conn, BOSS, args.region, as_of),
                   lambda: board(conn, BOSS, args.region, as_of, use_rollup=False),
                   args.repeat)
        p = tile_of(*SEAT, 7)
        ok &= pair("z7 overview tile", lambda: tile(conn, p),
                   lambda: tile(conn, p, use_rollup=False), args.repeat)
        march = {"start": day_start(dt.date(2026, 3, 1)), "end": day_start(dt.date(2026, 4, 1))}
        ok &= pair("z7 tile, one month", lambda: tile(conn, p, **march),
                   lambda: tile(conn, p, use_rollup=False, **march), args.repeat)
        p9 = tile_of(*SEAT, 9)
        ok &= pair("z9 tile per cell", lambda: tile(conn, p9),
                   lambda: tile(conn, p9, use_rollup=False), args.repeat)
        missing = [r for (r,) in conn.execute(text(
            f"SELECT code FROM region WHERE code NOT IN (SELECT region_code FROM {REGION_TABLE})"
            " AND code IN (SELECT region_code FROM grid_cell) ORDER BY 1"))]
        if missing:  # a database built after migration 0018: its first read stores them
            t0 = time.perf_counter()
            for r in missing:
                store_region(conn, r)
            conn.commit()
            print(f"coverage stored for {len(missing)} counties (their first read) in "
                  f"{time.perf_counter() - t0:.1f} s")
        set_id = set_valid_at(conn, args.region, None)[0]
        ok &= pair("coverage read", lambda: coverage_rows(conn, args.region, set_id, True),
                   lambda: coverage_rows(conn, args.region, set_id, False), args.repeat)
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            share = coverage_province(conn)
            times.append((time.perf_counter() - t) * 1000)
        print(f"{'coverage province':<18} stored {statistics.median(times):9.1f} ms   "
              f"({len(share)} counties, covered {min(share.values()):.2f}-"
              f"{max(share.values()):.2f} %; on the fly ~25 s, docs/SCALING.md)")
        conn.rollback()
        if args.insert_rows:
            trigger_cost(conn, args.insert_rows)
    engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
