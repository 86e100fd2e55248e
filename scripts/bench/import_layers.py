"""Benchmark: import of large cells, compounds and cameras files against a plain COPY anchor.

Runs on a throwaway database of the configured PostGIS server (WANGGE_DATABASE_URL or the
project-local cluster on WANGGE_PG_PORT), dropped at the end. Synthetic CSV files (CGCS2000,
geometry as WKT or lon/lat; in a temporary folder, removed at the end), deterministic:

* ``cells``: ``--cells`` (20,000) squares of a 200-column grid, 15-digit codes, households,
  population, a few dedicated cells; imported with ``--commit --activate`` into a new region
  each run (a new boundary set, its checks, its activation);
* ``compounds``: ``--compounds`` (200,000) small polygons inside that grid, management mode
  as a county writes it (物业服务企业, 社区托管 ...), households, buildings, year; imported
  with ``--commit`` into an empty table each run;
* ``cameras``: ``--cameras`` (100,000) points with a 20-digit GB/T 28181 id, bearing, field
  of view, range and status; imported with ``--commit`` into an empty table each run.

For each layer and run the anchor is a plain ``COPY`` of the same CSV's bytes into a bare
table of text columns (PostgreSQL's own speed for these bytes, measured in the same run,
just before the import); cameras also get GDAL's ``ogr2ogr`` anchor when it is installed
(``scripts/bench/import.py``'s). Each ``wangge import`` runs in its own process. Prints
rows/s, the ratio import / anchor and the import's peak RSS.

    .venv/bin/python scripts/bench/import_layers.py [--repeat 3] [--layers cells,compounds,cameras]
        [--cells 20000] [--compounds 200000] [--cameras 100000]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from geo.db.engine import normalize_url  # noqa: E402
from geo.db.migrate import upgrade  # noqa: E402

# scripts/bench/import.py's helpers (its module name is a keyword: loaded from its file)
_spec = importlib.util.spec_from_file_location("bench_import", Path(__file__).with_name(
    "import.py"))
assert _spec is not None and _spec.loader is not None
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)
run_cli = bench_import.run_cli
ogr_anchor = bench_import.ogr_anchor
copy_anchor = bench_import.copy_anchor

X0, Y0, STEP, COLS = 110.60, 38.70, 0.004, 200
MGMT = ["物业服务企业", "社区托管", "社会组织代管", "业委会自管", "无", "company", "none"]
STATUS = ["在线", "离线", "online", "offline", "fault"]


def _square(x: float, y: float, d: float) -> str:
    return (f"POLYGON(({x:.6f} {y:.6f},{x + d:.6f} {y:.6f},{x + d:.6f} {y - d:.6f},"
            f"{x:.6f} {y - d:.6f},{x:.6f} {y:.6f}))")


def grid_extent(cells: int) -> tuple[float, float]:
    """Width and height in degrees of the cell grid (COLS columns)."""
    rows = -(-cells // COLS)
    return min(cells, COLS) * STEP, rows * STEP


def write_cells(path: Path, n: int) -> None:
    """``n`` squares of the grid: 15-digit codes (township = 8 x 8 cells, village 2 x 2)."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "kind", "households", "population", "wkt"])
        for k in range(n):
            i, j = divmod(k, COLS)
            code = (f"{999000 + (i // 8) % 1000:06d}{(j // 8) % 1000:03d}"
                    f"{k % 1000:03d}{k // 1000:03d}")
            w.writerow([code, f"网格{k}", "基础网格",
                        100 + k % 400, 300 + k % 1200,
                        _square(X0 + j * STEP, Y0 - i * STEP, STEP)])


def write_compounds(path: Path, n: int, cells: int, seed: int = 3) -> None:
    """``n`` compounds (squares of ~30-120 m) spread over the cells' grid."""
    rng = np.random.default_rng(seed)
    width, height = grid_extent(cells)
    xs = X0 + rng.uniform(0, width - 0.002, n)
    ys = Y0 - rng.uniform(0.002, height, n)
    ds = rng.uniform(0.0003, 0.0012, n)
    mgmt = rng.choice(MGMT, n)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "address", "households", "buildings", "built_year",
                    "mgmt_mode", "company", "wkt"])
        for k in range(n):
            w.writerow([f"XQ{k:08d}", f"小区{k}", f"兴县蔚汾路{k % 900}号", 50 + k % 900,
                        1 + k % 30, 1980 + k % 45, mgmt[k],
                        f"物业公司{k % 50}" if mgmt[k] in ("物业服务企业", "company") else "",
                        _square(float(xs[k]), float(ys[k]), float(ds[k]))])


def write_cameras(path: Path, n: int, cells: int, seed: int = 4) -> None:
    """``n`` cameras spread over the cells' grid."""
    rng = np.random.default_rng(seed)
    width, height = grid_extent(cells)
    lon = np.round(X0 + rng.uniform(0, width, n), 7)
    lat = np.round(Y0 - rng.uniform(0, height, n), 7)
    bearing = rng.integers(0, 360, n)
    fov = rng.choice([60, 90, 120, 360], n)
    rng_m = rng.choice([30, 50, 80, 150], n)
    status = rng.choice(STATUS, n)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name", "bearing", "fov", "range", "status", "lon", "lat"])
        for k in range(n):
            w.writerow([f"14112300001320{k:06d}", f"摄像头{k}", int(bearing[k]), int(fov[k]),
                        int(rng_m[k]), status[k], float(lon[k]), float(lat[k])])


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--cells", type=int, default=20_000)
    ap.add_argument("--compounds", type=int, default=200_000)
    ap.add_argument("--cameras", type=int, default=100_000)
    ap.add_argument("--layers", default="cells,compounds,cameras")
    ap.add_argument("--repeat", type=int, default=1, help="runs of anchor + import per layer")
    ns = ap.parse_args()
    layers = [s.strip() for s in ns.layers.split(",") if s.strip()]
    server = make_url(normalize_url(Settings.from_env().database_url))
    dbname = f"wangge_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    url = server.set(database=dbname).render_as_string(hide_password=False)
    engine = create_engine(url)
    summary: dict[str, list[tuple[float, float]]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="wangge_bench_"))
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.commit()
        upgrade(engine)
        files = {"cells": tmp / "cells.csv", "compounds": tmp / "compounds.csv",
                 "cameras": tmp / "cameras.csv"}
        counts = {"cells": ns.cells, "compounds": ns.compounds, "cameras": ns.cameras}
        t0 = time.monotonic()
        write_cells(files["cells"], ns.cells)
        if "compounds" in layers:
            write_compounds(files["compounds"], ns.compounds, ns.cells)
        if "cameras" in layers:
            write_cameras(files["cameras"], ns.cameras, ns.cells)
        print(f"generated files in {time.monotonic() - t0:.1f} s: " + ", ".join(
            f"{k} {counts[k]:,} rows ({p.stat().st_size / 2**20:.1f} MiB)"
            for k, p in files.items() if p.exists()))
        cell_args = ["--crs", "EPSG:4490", "--wkt-field", "wkt", "--valid-from", "2020-01-01",
                     "--commit", "--activate"]
        # the region of compounds and cameras: its cells give the extent they are checked in
        run_cli(["import", "cells", str(files["cells"]), "--region", "BENCH0", *cell_args],
                url)
        for layer in layers:
            n = counts[layer]
            for run in range(1, ns.repeat + 1):
                anchor = copy_anchor(engine, files[layer])
                ogr = ogr_anchor(url, files[layer]) if layer == "cameras" else None
                if layer == "cells":
                    args = ["import", "cells", str(files["cells"]), "--region",
                            f"BENCH{run}", *cell_args]
                else:
                    with engine.begin() as conn:  # each run imports into an empty table
                        conn.execute(text(f"TRUNCATE {layer[:-1]} CASCADE"))
                    geo = (["--wkt-field", "wkt"] if layer == "compounds"
                           else ["--lon-field", "lon", "--lat-field", "lat"])
                    args = ["import", layer, str(files[layer]), "--region", "BENCH0",
                            "--crs", "EPSG:4490", *geo, "--commit"]
                secs, rss, out = run_cli(args, url)
                with engine.connect() as conn:
                    table = "grid_cell" if layer == "cells" else layer[:-1]
                    region = f"BENCH{run}" if layer == "cells" else "BENCH0"
                    stored = conn.execute(text(f"SELECT count(*) FROM {table} "
                                               "WHERE region_code = :r"), {"r": region}
                                          ).scalar_one()
                if stored != n:
                    raise SystemExit(f"{layer}: {stored:,} rows stored of {n:,}:\n{out[-3000:]}")
                summary.setdefault(layer, []).append((secs, anchor))
                print(f"-- {layer} run {run}: anchor COPY {anchor:7.2f} s ({n / anchor:,.0f} "
                      f"rows/s)" + (f", ogr2ogr {ogr:7.2f} s" if ogr is not None else "")
                      + f"; wangge import {secs:7.2f} s ({n / secs:,.0f} rows/s), peak RSS "
                      f"{rss} MiB; ratio import / COPY {secs / anchor:.1f}"
                      + (f", import / ogr2ogr {secs / ogr:.2f}" if ogr is not None else ""),
                      flush=True)
        print("\n| layer | rows | import s (runs) | rows/s (median) | x COPY anchor (runs) |")
        print("| --- | ---: | --- | ---: | --- |")
        for layer, runs in summary.items():
            n = counts[layer]
            med = statistics.median(s for s, _ in runs)
            print(f"| {layer} | {n:,} | {' / '.join(f'{s:.1f}' for s, _ in runs)} | "
                  f"{n / med:,.0f} | {' / '.join(f'{s / a:.0f}' for s, a in runs)} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
