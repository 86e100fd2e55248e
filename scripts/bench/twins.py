"""Benchmark: every GET the public may call, anonymous and logged in, side by side in one run.

基准: 匿名可调用的每个 GET 接口, 匿名与登录 (网格员、指挥中心令牌) 同一次运行中对比.

Issue 20, target 1: "every authenticated GET no slower than 0.8x its anonymous twin where one
exists". The twins are the endpoints whose policy in ``api/access_policy.py`` is ``public`` or
``public_layer`` (the one list of who may call what): each is called with the same URL
anonymously and with a session token (``Authorization: Bearer``) of the demo grid worker and of
the demo command centre; the logged-in rate over the anonymous one is the ratio (target >=
0.8x). The size of each caller's answer is printed beside it: where a logged-in answer is
larger (the caller's incidents: the incidents collection's extent, a cell's open cases), the
ratio measures that content too, not only what being logged in costs. Static files, the OpenAPI
page and the phone app's assets are left out (no data, no principal in their answer). Path
parameters are filled from the demo: a cell, a camera, the county seat's tile.

Usage (from the project root, after ``./scripts/run.sh``: local PostGIS running, demo loaded;
needs ``wrk``, which ``scripts/setup.sh`` installs as root, otherwise ``sudo apt-get install -y
wrk``)::

    .venv/bin/python scripts/bench/twins.py [--duration 3] [--port 8140]

One Wangge server (uvicorn, one process, per-client rate limits off) on ``--port``; ``wrk -t2
-c8`` per caller and endpoint, the three callers alternated twice (best of two: other
processes' load drifts). Exit status 1 when a logged-in call answers other than 2xx (the bench
would measure an error page).
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from api.access_policy import ENDPOINT_POLICY  # noqa: E402
from api.settings import Settings  # noqa: E402
from geo.boundaries.sets import active_set_sql  # noqa: E402
from geo.db.engine import normalize_url  # noqa: E402
from geo.demo.users import DEMO_USERS  # noqa: E402

# endpoints with no data of the caller's in their answer: nothing to compare
_SKIPPED = ("/static/", "/m/", "/docs", "/openapi.json", "/favicon.ico", "/login",
            "/open311/v2/tokens/")


def demo_paths(url: str, region: str) -> dict[str, str]:
    """One concrete URL per public GET route of the demo (route -> path)."""
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        code, lon, lat = conn.execute(text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            f"FROM grid_cell WHERE boundary_set_id = ({active_set_sql(':r')}) "
            "AND kind = 'basic' ORDER BY code LIMIT 1"), {"r": region}).one()
        township = conn.execute(text(
            "SELECT township_code FROM grid_cell WHERE code = :c"), {"c": code}).scalar()
        service = conn.execute(text("SELECT code FROM incident_category ORDER BY code LIMIT 1")
                               ).scalar()
        camera = conn.execute(text("SELECT gb_id FROM camera WHERE region_code = :r "
                                   "ORDER BY gb_id LIMIT 1"), {"r": region}).scalar()
    engine.dispose()
    z = 13
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    at = f"lon={lon:.6f}&lat={lat:.6f}"
    paths = {
        "GET /": "/",
        "GET /health": "/health",
        "GET /auth/me": "/auth/me",
        "GET /cells/at": f"/cells/at?{at}",
        "GET /cells/{code}/summary": f"/cells/{code}/summary",
        "GET /ogc": "/ogc",
        "GET /ogc/": "/ogc/",
        "GET /ogc/conformance": "/ogc/conformance",
        "GET /ogc/collections": "/ogc/collections",
        "GET /ogc/collections/{collection_id}": "/ogc/collections/cells",
        "GET /ogc/collections/{collection_id}/queryables": "/ogc/collections/cameras/queryables",
        "GET /ogc/collections/{collection_id}/items": "/ogc/collections/cameras/items?limit=100",
        "GET /ogc/collections/{collection_id}/items/{feature_id}":
            f"/ogc/collections/cameras/items/{camera}",  # a camera's id: gb_id
        "GET /spatial/{layer}/within": f"/spatial/cameras/within?{at}&distance_m=500",
        "GET /spatial/{layer}/nearest": f"/spatial/cameras/nearest?{at}&k=5",
        # the public layers: the default adds the caller's incidents (another answer)
        "GET /spatial/inside/{kind}/{code}":
            f"/spatial/inside/township/{township}?layers=cells,compounds,cameras",
        "GET /tiles/{layer}/{z}/{x}/{y}.pbf": f"/tiles/cells/{z}/{x}/{y}.pbf",
        "GET /export/{layer}": "/export/cameras?format=geojson",
        "GET /open311/v2/services.{fmt}": "/open311/v2/services.json",
        "GET /open311/v2/services/{service_code}.{fmt}":
            f"/open311/v2/services/{service}.json",
    }
    return paths


def public_routes() -> list[str]:
    """The GET routes anyone may call (``public``, ``public_layer``), less :data:`_SKIPPED`."""
    return [k for k, v in ENDPOINT_POLICY.items()
            if k.startswith("GET ") and v in ("public", "public_layer")
            and not any(k[4:].startswith(s) for s in _SKIPPED)]


def wrk(port: int, path: str, duration: int, token: str | None) -> tuple[float, int, int]:
    """Requests/s of one URL at concurrency 8, the requests made and the non-2xx among them."""
    header = ["-H", f"Authorization: Bearer {token}"] if token else []
    from scripts.bench.lookup import wrk_figures

    return wrk_figures(subprocess.run(["wrk", "-t2", "-c8", f"-d{duration}s", *header,
                                       f"http://127.0.0.1:{port}{path}"], capture_output=True,
                                      text=True).stdout)


def main() -> None:
    """Run the benchmark and print the table."""
    import httpx

    from scripts.bench.lookup import Server, uvicorn_cmd

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=int, default=3, help="wrk seconds per caller and URL")
    ap.add_argument("--port", type=int, default=8140)
    ns = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("缺少 wrk / wrk is missing: sudo apt-get install -y wrk (scripts/setup.sh does "
                 "it as root)")
    settings = Settings.from_env()
    paths = demo_paths(settings.database_url, settings.region_or_default(None))
    routes = public_routes()
    unknown = [r for r in routes if r not in paths]
    if unknown:  # a new public route: give it a URL above
        sys.exit(f"no demo URL for {', '.join(unknown)}: add one to demo_paths")
    log = Path(tempfile.mkdtemp(prefix="wangge-twins-"))
    server = Server("wangge", uvicorn_cmd(sys.executable, "api.main:create_app", ns.port,
                                          factory=True),
                    {"WANGGE_DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT),
                     # all the load comes from one address: the per-client budgets would
                     # answer 429 to most of it
                     "WANGGE_RATE_LOGIN_PER_MIN": "0", "WANGGE_RATE_EXPENSIVE_PER_MIN": "0"},
                    ns.port, "/health")
    failed = False
    try:
        if not server.wait():
            sys.exit(f"the server did not start (log in {log})")
        base = f"http://127.0.0.1:{ns.port}"
        tokens: dict[str, str | None] = {"anonymous": None}
        for role in ("worker", "command"):
            username, password, _ = DEMO_USERS[role]
            r = httpx.post(f"{base}/auth/login", json={"username": username,
                                                       "password": password}, timeout=60)
            r.raise_for_status()
            tokens[role] = str(r.json()["access_token"])
        rows = []
        for route in routes:
            path = paths[route]
            size: dict[str, int] = {}
            for who, token in tokens.items():  # warm up each caller (caches, the lookup index)
                size[who] = len(httpx.get(base + path, headers={
                    "Authorization": f"Bearer {token}"} if token else {}, timeout=300).content)
            best: dict[str, tuple[float, int, int]] = {}
            for _ in range(2):
                for who, token in tokens.items():
                    got = wrk(ns.port, path, ns.duration, token)
                    if who not in best or got[0] > best[who][0]:
                        best[who] = got
            anon = best["anonymous"][0]
            for who in ("worker", "command"):
                if best[who][2]:
                    failed = True
            rows.append((path if len(path) < 60 else path[:57] + "...",
                         *(f"{best[w][0]:,.0f}" for w in tokens),
                         *(f"{best[w][0] / anon:.2f}x" for w in ("worker", "command")),
                         " / ".join(f"{size[w]:,}" for w in tokens),
                         ", ".join(f"{w} {best[w][2]}" for w in tokens if best[w][2])))
            print(" | ".join(rows[-1]), flush=True)
        head = ("URL", "anonymous req/s", "worker req/s", "command req/s",
                "worker / anonymous", "command / anonymous",
                "answer bytes (anonymous / worker / command)", "non-2xx")
        print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
        ratios = [float(r[i][:-1]) for r in rows for i in (4, 5)]
        print(f"\nlowest logged-in / anonymous: {min(ratios):.2f}x (target >= 0.8x, issue 20); "
              f"wrk -t2 -c8 -d{ns.duration}s, best of two alternated rounds")
    finally:
        server.stop()
    if failed:
        sys.exit("a logged-in call answered non-2xx: the figures above measure an error")


if __name__ == "__main__":
    main()
