"""Benchmark "which cell": single lookups over HTTP and batches, against anchors, in one run.

基准: "这个点属于哪个网格", 匿名与登录 (网格员令牌) 单点查询、批量查询, 与同一次运行中的参照对比.

Usage (from the project root, after ``./scripts/run.sh``: local PostGIS running, demo loaded;
needs ``wrk``, which ``scripts/setup.sh`` installs as root, otherwise ``sudo apt-get install -y
wrk``)::

    WANGGE_PG_PORT=54329 .venv/bin/python scripts/bench/lookup.py [--duration 6] [--no-tipg]
    .venv/bin/python scripts/bench/lookup.py --only demo --no-tipg --points 20000   # quicker

Datasets: the Xing County demo (the configured database) and a synthetic 50,000-cell grid
(database ``<name>_bench_grid``, created on the first run). For each:

- single lookups at concurrency 8 with ``wrk`` (a Lua script cycles through points inside
  cells) against (1) Wangge ``GET /cells/at`` (the full answer: cell, village, township, worker,
  near_boundary, candidates, geometry) anonymous and (demo only) logged in as the demo grid
  worker (``Authorization: Bearer``, a token from ``POST /auth/login``: the principal cache of
  ``api/auth_cache.py``; the answer adds ``caller``), (a) TiPg serving ``grid_cell`` (items
  with a tiny bbox; installed into ``.wangge/tipg-venv`` on first use, never into the project venv),
  (b) a minimal FastAPI + asyncpg endpoint written below that returns only the code, and
  (c) the PostGIS floor: one prepared ``ST_Covers`` query per point on one connection;
- batches of 100,000 points: Wangge in process (``geo.lookup.batch.cells_at_many``) and over HTTP
  (``POST /cells/at`` JSON, default row layout and ``?format=columns``) against a set-based
  PostGIS query and ``geopandas.sjoin`` in memory.

Servers are separate processes on ports 8130-8139 (override with --port-base). Prints a table
with ratios; speed is never asserted by a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from api.settings import Settings  # noqa: E402
from geo.db.engine import normalize_url  # noqa: E402

MINIMAL_APP = '''
import os
import asyncpg
from fastapi import FastAPI, HTTPException

app = FastAPI()
SQL = ("SELECT code FROM grid_cell WHERE boundary_set_id = $1 AND "
       "ST_Covers(geom, ST_SetSRID(ST_MakePoint($2, $3), 4490)) ORDER BY code LIMIT 1")


@app.on_event("startup")
async def startup():
    app.state.pool = await asyncpg.create_pool(os.environ["BENCH_DSN"], min_size=8, max_size=8)
    async with app.state.pool.acquire() as c:
        app.state.set_id = await c.fetchval(
            "SELECT id FROM boundary_set WHERE region_code = $1 AND is_active",
            os.environ["BENCH_REGION"])


@app.get("/cell")
async def cell(lon: float, lat: float):
    async with app.state.pool.acquire() as c:
        code = await c.fetchval(SQL, app.state.set_id, lon, lat)
    if code is None:
        raise HTTPException(404, "no cell")
    return {"code": code}
'''



def plain_dsn(url: str) -> str:
    """postgresql://... without the SQLAlchemy driver suffix."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- datasets --------------------------------------------------------------------------------


def ensure_demo(url: str) -> None:
    from geo.db.migrate import upgrade
    from geo.demo.county import database_is_empty, load_demo

    engine = create_engine(url)
    upgrade(engine)
    if database_is_empty(engine):
        print("loading the demo (first run) ...", flush=True)
        load_demo(engine)
    engine.dispose()


def ensure_grid(admin_url: str, url: str, n_side: tuple[int, int] = (250, 200)) -> None:
    """A synthetic region 990001 with 50,000 square cells of 0.004 deg (~350 m x 440 m)."""
    from geo.db.migrate import upgrade

    name = make_url(url).database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    upgrade(engine)
    nx, ny = n_side
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM grid_cell")).scalar()
        if have == nx * ny:
            engine.dispose()
            return
        print(f"creating the synthetic {nx * ny}-cell grid (first run) ...", flush=True)
        conn.execute(text("DELETE FROM grid_cell; DELETE FROM boundary_set; "
                          "DELETE FROM admin_unit; DELETE FROM region"))
        conn.execute(text("INSERT INTO region (code, region_code, name, synthetic) VALUES "
                          "('990001', '990001', '基准网格 bench grid', true)"))
        conn.execute(text(
            "INSERT INTO admin_unit (region_code, code, name, level, geom, synthetic) VALUES "
            "('990001', '990001', '基准县', 'county', ST_Multi(ST_MakeEnvelope(110.5, 38.0, "
            ":x2, :y2, 4490)), true)"), {"x2": 110.5 + nx * 0.004, "y2": 38.0 + ny * 0.004})
        set_id = conn.execute(text(
            "INSERT INTO boundary_set (region_code, name, valid_from, is_active, synthetic) "
            "VALUES ('990001', 'bench grid', '2020-01-01', true, true) RETURNING id")).scalar()
        conn.execute(text("""
            INSERT INTO grid_cell (region_code, boundary_set_id, code, name, kind, geom,
                                   synthetic)
            SELECT '990001', :s, '990001' || lpad((i * :ny + j)::text, 9, '0'),
                   'cell ' || i || '-' || j, 'basic',
                   ST_Multi(ST_MakeEnvelope(110.5 + i * 0.004, 38.0 + j * 0.004,
                                            110.5 + (i + 1) * 0.004, 38.0 + (j + 1) * 0.004,
                                            4490)), true
            FROM generate_series(0, :nx - 1) i, generate_series(0, :ny - 1) j"""),
            {"s": set_id, "nx": nx, "ny": ny})
        conn.execute(text("ANALYZE grid_cell"))
    engine.dispose()


def load_cells(url: str, region: str) -> tuple[list[str], Any, int]:
    import shapely

    engine = create_engine(url)
    with engine.connect() as conn:
        set_id = conn.execute(text("SELECT id FROM boundary_set WHERE region_code = :r AND "
                                   "is_active"), {"r": region}).scalar()
        rows = conn.execute(text("SELECT code, ST_AsBinary(geom) FROM grid_cell WHERE "
                                 "boundary_set_id = :s AND kind = 'basic' ORDER BY code"),
                            {"s": set_id}).all()
    engine.dispose()
    return [r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows]), int(set_id)


def points_inside(polys: Any, n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points covered by the cells (rejection sampling in their bbox)."""
    import shapely

    rng = np.random.default_rng(seed)
    tree = shapely.STRtree(polys)
    minx, miny, maxx, maxy = shapely.total_bounds(polys)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    while got < n:
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        inside = np.zeros(n, dtype=bool)
        inside[np.unique(tree.query(shapely.points(x, y), predicate="within")[0])] = True
        xs.append(x[inside])
        ys.append(y[inside])
        got += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


# -- servers ---------------------------------------------------------------------------------


class Server:
    """A uvicorn server in its own process."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], port: int,
                 probe: str) -> None:
        self.name, self.port, self.probe = name, port, probe
        self.log = tempfile.NamedTemporaryFile("w+", suffix=f"-{name}.log", delete=False)
        self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 60.0) -> bool:
        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                r = httpx.get(f"http://127.0.0.1:{self.port}{self.probe}", timeout=5)
                if r.status_code < 500:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.log.seek(0)
        print(f"  {self.name} did not start:\n{self.log.read()[-1500:]}", flush=True)
        return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def uvicorn_cmd(python: str, app: str, port: int, factory: bool = False) -> list[str]:
    cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    return cmd + (["--factory"] if factory else [])


def ensure_tipg() -> str | None:
    """Python of a separate venv with TiPg (never installed into the project venv)."""
    venv = ROOT / ".wangge" / "tipg-venv"
    python = venv / "bin" / "python"
    ok = python.exists() and subprocess.run([str(python), "-c", "import tipg"],
                                            capture_output=True).returncode == 0
    if not ok:
        print("installing TiPg into .wangge/tipg-venv (first run) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(python), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", "tipg==1.6.0", "uvicorn"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"  TiPg install failed: {r.stderr[-500:]}")
            return None
    return str(python)


def wrk_rate(port: int, path_fmt: str, lon: np.ndarray, lat: np.ndarray, duration: int,
             args: str = "p[1], p[2]", token: str | None = None) -> tuple[float, int, int]:
    """Requests/s at concurrency 8 (2 threads) cycling through 2,000 points, + non-2xx count.

    ``path_fmt`` is a Lua format string (``%.7f``) filled with the Lua expressions ``args``;
    ``token`` is sent as ``Authorization: Bearer``.
    """
    headers = f'{{["Authorization"] = "Bearer {token}"}}' if token else "nil"
    pts = ",".join(f"{{{x:.7f},{y:.7f}}}" for x, y in zip(lon[:2000], lat[:2000], strict=True))
    lua = (f"local points = {{{pts}}}\nlocal i = 0\nrequest = function()\n"
           f"  i = i % #points + 1\n  local p = points[i]\n"
           f"  return wrk.format(\"GET\", string.format(\"{path_fmt}\", {args}), {headers})"
           "\nend\n")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{duration}s", "-s", f.name,
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True).stdout
    os.unlink(f.name)
    return wrk_figures(out)


def wrk_figures(out: str) -> tuple[float, int, int]:
    """Requests/s, requests made and the non-2xx among them, from ``wrk``'s output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or total is None:
        raise RuntimeError(f"wrk failed: {out[-500:]}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(rate.group(1)), int(total.group(1)), int(bad.group(1)) if bad else 0


# -- measurements ----------------------------------------------------------------------------


def raw_postgis_rate(url: str, set_id: int, lon: np.ndarray, lat: np.ndarray,
                     n: int = 3000) -> float:
    import psycopg

    sql = ("SELECT code FROM grid_cell WHERE boundary_set_id = %s AND ST_Covers(geom, "
           "ST_SetSRID(ST_MakePoint(%s, %s), 4490)) ORDER BY code LIMIT 1")
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        for i in range(50):
            conn.execute(sql, (set_id, float(lon[i]), float(lat[i])), prepare=True).fetchone()
        t0 = time.perf_counter()
        for i in range(n):
            conn.execute(sql, (set_id, float(lon[i]), float(lat[i])), prepare=True).fetchone()
        return n / (time.perf_counter() - t0)


def postgis_join_s(url: str, set_id: int, lon: np.ndarray, lat: np.ndarray) -> float:
    """Set-based query for all points (loaded into a temp table first, not timed)."""
    import psycopg

    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE pts (id int, lon float8, lat float8)")
        with conn.cursor().copy("COPY pts (id, lon, lat) FROM STDIN") as cp:
            for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
                cp.write_row((i, x, y))
        conn.execute("ALTER TABLE pts ADD COLUMN geom geometry(Point, 4490)")
        conn.execute("UPDATE pts SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4490)")
        conn.execute("ANALYZE pts")
        t0 = time.perf_counter()
        rows = conn.execute(
            "SELECT p.id, (SELECT c.code FROM grid_cell c WHERE c.boundary_set_id = %s AND "
            "ST_Covers(c.geom, p.geom) ORDER BY c.code LIMIT 1) FROM pts p", (set_id,)
        ).fetchall()
        elapsed = time.perf_counter() - t0
        assert len(rows) == len(lon)
        return elapsed


def sjoin_s(polys: Any, codes: list[str], lon: np.ndarray, lat: np.ndarray) -> float:
    import geopandas as gpd
    import shapely

    best = float("inf")
    for _ in range(2):
        cells = gpd.GeoDataFrame({"code": codes}, geometry=polys, crs=4490)
        t0 = time.perf_counter()
        pts = gpd.GeoDataFrame({"i": np.arange(len(lon))}, geometry=shapely.points(lon, lat),
                               crs=4490)
        joined = gpd.sjoin(pts, cells, predicate="within", how="left")
        best = min(best, time.perf_counter() - t0)
        assert len(joined) >= len(lon)
    return best


def wangge_batch_s(url: str, region: str, lon: np.ndarray, lat: np.ndarray) -> float:
    from geo.lookup.batch import cells_at_many

    engine = create_engine(url)
    best = float("inf")
    with engine.connect() as conn:
        cells_at_many(conn, lon[:10], lat[:10], region)  # build the index (not timed)
        for _ in range(2):
            t0 = time.perf_counter()
            res = cells_at_many(conn, lon, lat, region)
            best = min(best, time.perf_counter() - t0)
        assert sum(c is not None for c in res.cell_code) == len(lon)
    engine.dispose()
    return best


def wangge_http_batch_s(port: int, lon: np.ndarray, lat: np.ndarray, query: str = "") -> float:
    """Seconds for ``POST /cells/at{query}`` of the points as JSON, end to end (best of 2)."""
    import httpx

    body = json.dumps({"points": np.column_stack([lon, lat]).round(7).tolist()})
    best = float("inf")
    with httpx.Client(timeout=120) as client:
        client.post(f"http://127.0.0.1:{port}/cells/at", content=body[:200] + "]]}",
                    headers={"content-type": "application/json"})
        for _ in range(2):
            t0 = time.perf_counter()
            r = client.post(f"http://127.0.0.1:{port}/cells/at{query}", content=body,
                            headers={"content-type": "application/json"})
            best = min(best, time.perf_counter() - t0)
            assert r.status_code == 200, r.text[:300]
    return best


# -- main ------------------------------------------------------------------------------------


def worker_token(port: int) -> str:
    """A session token of the demo grid worker (``POST /auth/login``)."""
    import httpx

    from geo.demo.users import DEMO_USERS

    username, password, _ = DEMO_USERS["worker"]
    r = httpx.post(f"http://127.0.0.1:{port}/auth/login",
                   json={"username": username, "password": password}, timeout=60)
    r.raise_for_status()
    return str(r.json()["access_token"])


def run_dataset(label: str, url: str, region: str, args: argparse.Namespace,
                tipg_python: str | None, rows: list[tuple[str, str, str, str]],
                login: bool = False) -> None:
    print(f"\n== {label} ==", flush=True)
    codes, polys, set_id = load_cells(url, region)
    lon, lat = points_inside(polys, args.points)
    print(f"  {len(codes)} basic cells, {len(lon)} points inside them", flush=True)
    dsn = plain_dsn(url)
    py = sys.executable
    base = args.port_base
    env = {"WANGGE_DATABASE_URL": url, "WANGGE_REGION": region}
    servers = {
        "wangge": Server("wangge", uvicorn_cmd(py, "api.main:create_app", base, True), env,
                         base, "/docs"),
    }
    tmpdir = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    (tmpdir / "minimal_app.py").write_text(MINIMAL_APP)
    servers["minimal"] = Server(
        "minimal", uvicorn_cmd(py, "minimal_app:app", base + 1),
        {"BENCH_DSN": dsn, "BENCH_REGION": region, "PYTHONPATH": str(tmpdir)}, base + 1,
        "/docs")
    if tipg_python:
        servers["tipg"] = Server(
            "tipg", uvicorn_cmd(tipg_python, "tipg.main:app", base + 2),
            {"DATABASE_URL": dsn, "TIPG_DB_SCHEMAS": '["public"]',
             "TIPG_DB_TABLES": '["public.grid_cell"]', "TIPG_MAX_FEATURES_PER_QUERY": "10"},
            base + 2, "/collections")
    try:
        alive = {k: s.wait() for k, s in servers.items()}
        results: dict[str, float] = {}
        token = None
        if alive["wangge"]:  # warm up: the first lookup builds the in-process index
            import httpx

            httpx.get(f"http://127.0.0.1:{base}/cells/at",
                      params={"lon": float(lon[0]), "lat": float(lat[0])}, timeout=300)
            token = worker_token(base) if login else None
        # Wangge (anonymous, logged in) and the minimal endpoint alternate twice (best of two
        # each): on a shared machine the load of other processes drifts between runs.
        best: dict[str, tuple[float, int, int]] = {}
        for _ in range(2):
            for key, port, path, tok in (
                    ("wangge", base, "/cells/at?lon=%.7f&lat=%.7f", None),
                    ("wangge_login", base, "/cells/at?lon=%.7f&lat=%.7f", token),
                    ("minimal", base + 1, "/cell?lon=%.7f&lat=%.7f", None)):
                if alive[key.split("_")[0]] and (key != "wangge_login" or token):
                    got = wrk_rate(port, path, lon, lat, args.duration, token=tok)
                    if key not in best or got[0] > best[key][0]:
                        best[key] = got
        labels = {"wangge": "single: Wangge GET /cells/at (full answer), anonymous",
                  "wangge_login": "single: Wangge GET /cells/at, logged in (worker, Bearer)",
                  "minimal": "single: (b) minimal FastAPI+asyncpg (code only)"}
        for key, (rate, total, bad) in best.items():
            results[key] = rate
            rows.append((label, labels[key], f"{rate:,.0f} req/s",
                         f"{total} req, {bad} non-2xx"))
        if "tipg" in servers and alive["tipg"]:
            d = 1e-6
            path = ("/collections/public.grid_cell/items?bbox=%.7f,%.7f,%.7f,%.7f"
                    "&limit=1&properties=code")
            rate, total, bad = wrk_rate(base + 2, path, lon, lat, args.duration,
                                        f"p[1]-{d}, p[2]-{d}, p[1]+{d}, p[2]+{d}")
            results["tipg"] = rate
            rows.append((label, "single: (a) TiPg items?bbox= tiny box",
                         f"{rate:,.0f} req/s", f"{total} req, {bad} non-2xx"))
        raw = raw_postgis_rate(url, set_id, lon, lat)
        results["raw"] = raw
        rows.append((label, "single: (c) PostGIS prepared ST_Covers, 1 conn", f"{raw:,.0f} q/s",
                     "sequential floor"))
        if "wangge" in results:
            w = results["wangge"]
            parts = [f"{w / results[k]:.2f}x {k}" for k in ("minimal", "tipg", "raw")
                     if k in results]
            rows.append((label, "single: Wangge ratio", ", ".join(parts),
                         "target >= 0.8x minimal"))
        if "wangge_login" in results and "minimal" in results:
            w = results["wangge_login"]
            rows.append((label, "single: Wangge logged-in ratio",
                         f"{w / results['minimal']:.2f}x minimal, "
                         f"{w / results['wangge']:.2f}x anonymous",
                         "target >= 0.8x minimal (issue 20)"))
        n = len(lon)
        t_wangge = wangge_batch_s(url, region, lon, lat)
        t_sjoin = sjoin_s(polys, codes, lon, lat)
        t_join = postgis_join_s(url, set_id, lon, lat)
        t_http = wangge_http_batch_s(base, lon, lat) if alive["wangge"] else float("nan")
        t_cols = (wangge_http_batch_s(base, lon, lat, "?format=columns") if alive["wangge"]
                  else float("nan"))
        rows.append((label, f"batch {n:,}: Wangge in process (cells_at_many)",
                     f"{t_wangge:.3f} s", f"{n / t_wangge:,.0f} pts/s"))
        rows.append((label, f"batch {n:,}: Wangge POST /cells/at JSON (HTTP, end to end)",
                     f"{t_http:.3f} s", f"{n / t_http:,.0f} pts/s"))
        rows.append((label, f"batch {n:,}: Wangge POST /cells/at?format=columns (HTTP)",
                     f"{t_cols:.3f} s", f"{n / t_cols:,.0f} pts/s"))
        rows.append((label, f"batch {n:,}: geopandas.sjoin in memory", f"{t_sjoin:.3f} s",
                     f"{n / t_sjoin:,.0f} pts/s"))
        rows.append((label, f"batch {n:,}: PostGIS set-based query", f"{t_join:.3f} s",
                     f"{n / t_join:,.0f} pts/s"))
        rows.append((label, "batch: Wangge rate ratio",
                     f"{t_sjoin / t_wangge:.2f}x sjoin, {t_join / t_wangge:.1f}x PostGIS",
                     f"HTTP {t_sjoin / t_http:.2f}x (columns {t_sjoin / t_cols:.2f}x) sjoin; "
                     "target >= 0.5x sjoin"))
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=6, help="wrk seconds per server")
    parser.add_argument("--points", type=int, default=100_000, help="batch size")
    parser.add_argument("--port-base", type=int, default=8130)
    parser.add_argument("--no-tipg", action="store_true", help="skip the TiPg anchor")
    parser.add_argument("--only", choices=("demo", "grid"), default=None)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("缺少 wrk / wrk is missing: sudo apt-get install -y wrk (scripts/setup.sh does "
                 "it as root)")
    started = time.time()
    settings = Settings.from_env()
    url = normalize_url(settings.database_url)
    admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    grid_url = make_url(url).set(database=f"{make_url(url).database}_bench_grid") \
        .render_as_string(hide_password=False)
    tipg_python = None if args.no_tipg else ensure_tipg()
    rows: list[tuple[str, str, str, str]] = []
    if args.only in (None, "demo"):
        ensure_demo(url)
        run_dataset("demo (Xing County)", url, settings.default_region, args, tipg_python, rows,
                    login=True)
    if args.only in (None, "grid"):
        ensure_grid(admin_url, grid_url)
        run_dataset("grid 50,000 cells", grid_url, "990001", args, tipg_python, rows)
    buf = io.StringIO()
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        buf.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    print("\n" + buf.getvalue())
    print(f"(2 shared cores; wrk -t2 -c8 -d{args.duration}s; total {time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
