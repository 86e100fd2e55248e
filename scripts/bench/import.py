"""Benchmark: import of N incident rows (default 1,000,000) from CSV in bounded memory.

Runs on a throwaway database of the configured PostGIS server (WANGGE_DATABASE_URL or the
project-local cluster on WANGGE_PG_PORT):

1. a 20 x 20 grid of cells for a region BENCH1 (imported and switched on);
2. anchor: the same CSV loaded by a plain ``COPY`` into a bare table (PostgreSQL's own speed
   for these bytes, measured in this run);
3. second anchor: GDAL's PostgreSQL driver (``ogr2ogr``, COPY mode, points made from lon/lat,
   its default spatial index) loading the same CSV, when ``ogr2ogr`` is installed;
4. ``wangge import incidents`` of a 10% file and of the full file, each in its own process,
   with ``--commit`` (routed to cells in process, staged by COPY, merged), reporting wall
   time and the process's peak RSS (``wait4``).

Prints rows/s, the ratio of import time to each anchor, and peak RSS of both runs: a
bounded-memory import has about the same peak for 10% and 100% of the rows. ``--repeat 3``
runs the anchors and the full import three times side by side. ``--compare DIR`` also runs,
in each repeat right after this checkout's, the full import of another checkout of Wangge
(e.g. the commit before a change: ``git archive HEAD~1 | tar -x -C /tmp/before``) into an
empty table: before and after measured in the same run, against the same anchors.

    .venv/bin/python scripts/bench/import.py [--rows 1000000] [--no-route] [--repeat 3]
        [--compare DIR] [--profile FILE]

``--profile FILE`` samples the last run's import with py-spy (a dependency of the project:
``.venv/bin/py-spy``; as root or with ptrace allowed) and prints where its Python time went.
With the server's ``log_min_duration_statement`` set (e.g. 100 ms), the server's log shows
where the database's time went: the ``COPY``, each index build and foreign key.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import box, mapping
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from geo.db.engine import normalize_url  # noqa: E402
from geo.db.migrate import upgrade  # noqa: E402

X0, Y0, STEP, N = -87.75, 41.90, 0.005, 20


def write_csv(path: Path, rows: int, seed: int = 1, prefix: str = "B") -> None:
    """Incidents spread over the grid, written in chunks (the generator is bounded too)."""
    rng = np.random.default_rng(seed)
    first = True
    for start in range(0, rows, 200_000):
        n = min(200_000, rows - start)
        lon = X0 + rng.uniform(0, STEP * N, n)
        lat = Y0 - rng.uniform(0, STEP * N, n)
        t = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 600 * 1440, n),
                                                         unit="min")
        df = pd.DataFrame({
            "code": [f"{prefix}{i:09d}" for i in range(start, start + n)],
            "category": rng.choice(["water", "power", "gas", "dispute"], n),
            "time": t.strftime("%Y-%m-%d %H:%M"),
            "lon": np.round(lon, 7), "lat": np.round(lat, 7),
            "description": "bench",
        })
        df.to_csv(path, mode="w" if first else "a", header=first, index=False)
        first = False


def run_cli(args: list[str], url: str, root: Path = ROOT, profile: Path | None = None
            ) -> tuple[float, int, str]:
    """Run ``wangge`` of the checkout ``root`` in a child process: (seconds, peak RSS in MiB,
    output). ``profile``: sample it with py-spy (100 Hz, raw stacks written there)."""
    env = {**os.environ, "WANGGE_DATABASE_URL": url, "PYTHONPATH": str(root)}
    spy = ([str(Path(sys.executable).with_name("py-spy")), "record", "--rate", str(SPY_HZ),
            "--format", "raw", "--threads", "-o", str(profile), "--"] if profile else [])
    t0 = time.monotonic()
    proc = subprocess.Popen([*spy, sys.executable, "-c", "from api.cli import main; main()",
                             *args],
                            env=env, cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    secs = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"wangge {' '.join(args[:2])} failed:\n{out[-3000:]}")
    return secs, usage.ru_maxrss // 1024, out


SPY_HZ = 100


def profile_summary(path: Path, top: int = 25) -> str:
    """Where the profiled import's Python time went: samples per Wangge function (its own and
    what it calls), in seconds of one thread's CPU, largest first; a sample counts once for
    each function on its stack (so the lines overlap: ``copy_frames`` holds the row work)."""
    import collections
    import re

    frame = re.compile(r"(.+?) \((.+?):\d+\)")
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        seen = set()
        for f in stack.split(";"):
            m = frame.match(f)
            if m and m.group(2).startswith(("geo/", "api/")) and f"{m[1]} ({m[2]})" not in seen:
                seen.add(f"{m[1]} ({m[2]})")
                inclusive[f"{m[1]} ({m[2]})"] += n
    lines = [f"py-spy: {total / SPY_HZ:.1f} s of samples (all threads, waiting on the server "
             "not counted)"]
    lines += [f"  {n / SPY_HZ:6.2f} s {n / max(total, 1):6.1%}  {k}"
              for k, n in inclusive.most_common(top)]
    return "\n".join(lines)


# the incident CSV's columns, typed as a plain table would hold them
INCIDENT_COLUMNS = ("code text, category text, time text, lon float8, lat float8, "
                    "description text")


def copy_anchor(engine: Any, csv_path: Path, columns: str | None = None) -> float:
    """Seconds for a plain COPY of the CSV's bytes into a bare table (``columns``: its column
    definitions; None: a text column per header name)."""
    if columns is None:
        with csv_path.open(newline="") as fh:
            columns = ", ".join(f'"{c}" text' for c in next(csv.reader(fh)))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DROP TABLE IF EXISTS anchor")
        cur.execute(f"CREATE TABLE anchor ({columns})")
        t0 = time.monotonic()
        with cur.copy("COPY anchor FROM STDIN WITH (FORMAT csv, HEADER true)") as cp, \
                csv_path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                cp.write(chunk)
        raw.commit()
        return time.monotonic() - t0
    finally:
        raw.close()


def ogr_anchor(url: str, csv_path: Path) -> float | None:
    """Seconds for ``ogr2ogr`` (PostgreSQL driver, COPY) to load the CSV as points; None
    without GDAL (install it with ``apt-get install gdal-bin``)."""
    exe = shutil.which("ogr2ogr")
    if exe is None:
        print("ogr2ogr not found: apt-get install gdal-bin for the GDAL anchor")
        return None
    u = make_url(url)
    pg = (f"PG:host={u.host or 'localhost'} port={u.port or 5432} dbname={u.database} "
          f"user={u.username or ''}" + (f" password={u.password}" if u.password else ""))
    t0 = time.monotonic()
    subprocess.run([exe, "-f", "PostgreSQL", pg, str(csv_path), "-nln", "ogr_anchor",
                    "-overwrite", "-oo", "X_POSSIBLE_NAMES=lon", "-oo", "Y_POSSIBLE_NAMES=lat",
                    "-a_srs", "EPSG:4490", "--config", "PG_USE_COPY", "YES"],
                   check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--no-route", action="store_true", help="skip routing to cells")
    ap.add_argument("--repeat", type=int, default=1, help="runs of anchors + full import")
    ap.add_argument("--compare", type=Path, default=None,
                    help="another checkout whose full import runs beside this one's")
    ap.add_argument("--profile", type=Path, default=None,
                    help="py-spy the last run's import: raw stacks to this file, and a summary")
    ns = ap.parse_args()
    server = make_url(normalize_url(Settings.from_env().database_url))
    dbname = f"wangge_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    url = server.set(database=dbname).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.commit()
        upgrade(engine)
        tmp = Path(tempfile.mkdtemp(prefix="wangge_bench_"))
        cells = [{"type": "Feature", "properties": {"code": f"C{i:02d}{j:02d}"},
                  "geometry": mapping(box(X0 + j * STEP, Y0 - (i + 1) * STEP,
                                          X0 + (j + 1) * STEP, Y0 - i * STEP))}
                 for i in range(N) for j in range(N)]
        (tmp / "cells.geojson").write_text(json.dumps(
            {"type": "FeatureCollection", "features": cells}))
        run_cli(["import", "cells", str(tmp / "cells.geojson"), "--region", "BENCH1",
                 "--crs", "EPSG:4326", "--valid-from", "2020-01-01", "--commit",
                 "--activate"], url)
        small, full = tmp / "small.csv", tmp / "full.csv"
        t0 = time.monotonic()
        write_csv(full, ns.rows)
        write_csv(small, max(1, ns.rows // 10), seed=2, prefix="S")
        print(f"generated {ns.rows:,} rows ({full.stat().st_size / 2**20:.0f} MiB) in "
              f"{time.monotonic() - t0:.1f} s")
        common = ["--region", "BENCH1", "--commit", "--lon-field", "lon", "--lat-field", "lat"]
        if ns.no_route:
            common.append("--no-route")
        s_secs, s_rss, _ = run_cli(["import", "incidents", str(small), *common], url)
        print(f"wangge import of {ns.rows // 10:,} rows:     {s_secs:8.1f} s, peak RSS "
              f"{s_rss} MiB")
        for run in range(1, ns.repeat + 1):
            anchor = copy_anchor(engine, full, INCIDENT_COLUMNS)
            ogr = ogr_anchor(url, full)
            with engine.begin() as conn:  # each run imports into an empty table
                conn.execute(text("TRUNCATE incident CASCADE"))
            spied = ns.profile if run == ns.repeat else None
            f_secs, f_rss, out = run_cli(["import", "incidents", str(full), *common], url,
                                         profile=spied)
            with engine.connect() as conn:
                n, routed = conn.execute(text(
                    "SELECT count(*), count(cell_code) FROM incident WHERE code LIKE 'B%'")).one()
            print(f"-- run {run}: " + next((ln for ln in out.splitlines()
                                             if ln.startswith("行 rows")), ""))
            print(f"anchor COPY of {ns.rows:,} rows:        {anchor:8.1f} s "
                  f"({ns.rows / anchor:,.0f} rows/s)")
            if ogr is not None:
                print(f"anchor ogr2ogr of {ns.rows:,} rows:     {ogr:8.1f} s "
                      f"({ns.rows / ogr:,.0f} rows/s)")
            print(f"wangge import of {ns.rows:,} rows:    {f_secs:8.1f} s, peak RSS {f_rss} MiB "
                  f"({ns.rows / f_secs:,.0f} rows/s); in the database: {n:,}, routed: {routed:,}")
            print(f"ratio import / COPY anchor: {f_secs / anchor:.1f}"
                  + (f"; import / ogr2ogr: {f_secs / ogr:.2f}" if ogr is not None else "")
                  + f"; peak RSS full / 10%: {f_rss / max(s_rss, 1):.2f}")
            if spied is not None:
                print(profile_summary(spied))
            if ns.compare is not None:
                with engine.begin() as conn:
                    conn.execute(text("TRUNCATE incident CASCADE"))
                c_secs, c_rss, _ = run_cli(["import", "incidents", str(full), *common], url,
                                           ns.compare.resolve())
                print(f"compared checkout {ns.compare}: {c_secs:8.1f} s, peak RSS {c_rss} MiB "
                      f"({ns.rows / c_secs:,.0f} rows/s); ratio to COPY anchor "
                      f"{c_secs / anchor:.1f}; this checkout / compared: "
                      f"{f_secs / c_secs:.2f}")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
