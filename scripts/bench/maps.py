"""Benchmark the dispatch map against a naive Folium map, at 10,000 and 100,000 incidents.

    WANGGE_PG_PORT=... .venv/bin/python scripts/bench/maps.py [--sizes 10000,100000] [--no-browser]

In a throwaway database (dropped at the end) it loads the demo county with the first size of
incidents, then grows it by copying incidents with jittered positions. For each size it
measures, in the same run:

- **naive**: ``folium.Map`` with one ``folium.Marker`` (and popup) per incident and the cells,
  villages and townships as full-detail GeoJSON: build + render time, HTML size;
- **wangge**: ``maps.dispatch.build_dispatch_map`` over the whole period (aggregation per cell
  and heat grid in SQL, capped detail, simplified polygons): build + render time, HTML size;
- **first paint** of the wangge page served by uvicorn in headless Chromium, from the request
  (server build included) until the first vector is drawn and until every layer of the initial
  view is drawn, network cut off;
- **vector tiles** (the heaviest layer, every incident of the period, drawn client-side by
  Leaflet.VectorGrid): zoomed to 13 over the county seat, seconds until the tiles are drawn,
  features drawn, tiles and bytes fetched, against the bbox JSON endpoint
  (``/maps/data/incidents``) asked for the same view with no cap.

The browser and the bbox request log in as the demo command user (``demo-command``, the
login cookie / a Bearer token: the dispatch map needs a login). Needs Chromium
(``scripts/setup.sh`` installs it as root, else ``sudo apt-get install -y chromium``); with
``--no-browser`` only the build and size are measured.

It prints the ratios against the issue's targets (>= 15x smaller and >= 20x faster than naive at
100,000; the 100,000 page within 1.5x of the 10,000 page; first paint within 3 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import folium  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from api.settings import Settings  # noqa: E402
from geo.auth.principal import ANONYMOUS_COMMAND  # noqa: E402
from geo.db.engine import normalize_url  # noqa: E402
from maps.dispatch import build_dispatch_map  # noqa: E402
from maps.frame import MapOptions, render_page  # noqa: E402

REGION = "141123"
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2026, 10, 31)


def grow(engine, target: int) -> None:  # type: ignore[no-untyped-def]
    """Copy incidents (jittered ~300 m, new codes) until the region holds ``target``."""
    with engine.begin() as conn:
        n = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
        k = 0
        while n < target:
            k += 1
            conn.execute(text("""
                INSERT INTO incident (region_code, code, category_code, channel, status, urgency,
                    reported_at, description, location_text, geom, cell_code, community_code,
                    township_code, department_code, boundary_set_id, closed_at, synthetic)
                SELECT region_code, code || '-' || :k, category_code, channel, status, urgency,
                    reported_at, description, location_text,
                    ST_SetSRID(ST_MakePoint(ST_X(geom) + (random() - 0.5) * 0.006,
                                            ST_Y(geom) + (random() - 0.5) * 0.005), 4490),
                    cell_code, community_code, township_code, department_code, boundary_set_id,
                    closed_at, true
                FROM incident WHERE code NOT LIKE '%-%' ORDER BY id LIMIT :lim
            """), {"k": k, "lim": target - n})
            n = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE incident"))


def naive_map(engine) -> str:  # type: ignore[no-untyped-def]
    """What one would write first: a marker per incident, polygons at full detail."""
    with engine.connect() as conn:
        incs = conn.execute(text(
            "SELECT code, status, description, ST_Y(geom), ST_X(geom) FROM incident "
            "WHERE geom IS NOT NULL")).all()
        polys = conn.execute(text(
            "SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg("
            "json_build_object('type', 'Feature', 'properties', json_build_object('code', code, "
            "'name', name), 'geometry', ST_AsGeoJSON(geom)::json))) FROM ("
            "SELECT code, name, geom FROM grid_cell UNION ALL "
            "SELECT code, name, geom FROM admin_unit WHERE level <> 'county') s")).scalar_one()
    m = folium.Map(location=[38.4, 111.0], zoom_start=10)
    folium.GeoJson(polys, name="cells", tooltip=folium.GeoJsonTooltip(["code", "name"])).add_to(m)
    for code, status, desc, lat, lon in incs:
        folium.Marker([lat, lon], popup=f"{code} {status} {desc}", tooltip=code).add_to(m)
    folium.LayerControl().add_to(m)
    return m.get_root().render()  # type: ignore[no-any-return]


def ours(engine) -> str:  # type: ignore[no-untyped-def]
    """The dispatch map over the whole period."""
    with engine.connect() as conn:
        m = build_dispatch_map(conn, ANONYMOUS_COMMAND, MapOptions(start=FIRST, end=LAST))
    return render_page(m)


def timed(f, *a):  # type: ignore[no-untyped-def]
    """(result, seconds)."""
    t0 = time.perf_counter()
    r = f(*a)
    return r, time.perf_counter() - t0


ZOOM_TO = "() => { for (const k in window) { if (window[k] instanceof L.Map) { " \
    "window[k].setView([38.462, 111.128], 13, {animate: false}); return; } } }"
SETTLED = "() => { for (const k in window) { if (window[k] instanceof L.Map) { " \
    "return !window[k]._animatingZoom; } } return false; }"
BOUNDS = "() => { for (const k in window) { if (window[k] instanceof L.Map) { " \
    "const b = window[k].getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), " \
    "b.getNorth()].map(v => v.toFixed(6)).join(','); } } }"


def first_paint(url: str, port: int) -> dict[str, float]:
    """Seconds from the request until the first vector is drawn, and until every layer of the
    initial view is drawn, for the dispatch map served on ``port`` (server build included);
    then the vector tiles of a zoomed-in view against the bbox JSON of the same view."""
    import httpx
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.main import create_app

    s = Settings.from_env()
    settings = Settings(**{**s.__dict__, "database_url": url})
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                        log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        # the dispatch map needs a login: the demo command user, as a browser has it (cookie)
        from api.deps import TOKEN_COOKIE
        from geo.demo.users import DEMO_USERS

        username, password, _ = DEMO_USERS["command"]
        token = httpx.post(base + "/auth/login", json={"username": username,
                                                       "password": password},
                           timeout=60).raise_for_status().json()["access_token"]
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=os.environ.get("WANGGE_CHROMIUM",
                                                                 "/usr/bin/chromium"),
                                  args=["--no-sandbox", "--disable-gpu"])
            page = b.new_page(viewport={"width": 1280, "height": 860})
            page.context.add_cookies([{"name": TOKEN_COOKIE, "value": token, "url": base}])
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                       else r.abort())
            page.goto(base + "/static/wangge/wangge.js")  # warm the server
            t0 = time.perf_counter()
            page.goto(base + f"/maps/dispatch?from={FIRST}&to={LAST}", wait_until="commit")
            page.wait_for_selector("path.leaflet-interactive", state="attached", timeout=60_000)
            first = time.perf_counter() - t0
            page.wait_for_function(
                "() => document.querySelectorAll('path.wangge-incident').length > 0"
                " && document.querySelectorAll('path.leaflet-interactive').length > 600"
                " && document.querySelector('.wangge-legend') !== null", timeout=60_000)
            drawn = time.perf_counter() - t0
            page.wait_for_timeout(200)
            pbf: list[object] = []
            asked: list[str] = []
            page.on("request", lambda r: asked.append(r.url) if "/tiles/incidents/" in r.url
                    else None)
            page.on("requestfinished", lambda r: pbf.append(r.response())
                    if "/tiles/incidents/" in r.url else None)
            # the initial fitBounds may still be animating: a setView now would be undone
            page.wait_for_function(SETTLED, timeout=60_000)
            t1 = time.perf_counter()
            page.evaluate(ZOOM_TO)
            page.wait_for_function(
                "() => document.querySelectorAll('path.wangge-vt-incident').length > 0",
                timeout=60_000)
            # done when every tile asked for has arrived and the drawing stopped changing
            # (wait_for_load_state("networkidle") would return at once: reached at load)
            vt, done_at = -1, time.perf_counter()
            while time.perf_counter() - t1 < 120:
                page.wait_for_timeout(250)
                now = page.eval_on_selector_all("path.wangge-vt-incident", "e => e.length")
                if now != vt or len(pbf) < len(asked):
                    vt, done_at = now, time.perf_counter()
                elif time.perf_counter() - done_at >= 0.75:
                    break
            tiles_s = done_at - t1
            tile_bytes = sum(int(r.headers.get("content-length", 0))  # type: ignore[attr-defined]
                             for r in pbf if r)
            bbox = page.evaluate(BOUNDS)
            b.close()
        t2 = time.perf_counter()
        j = httpx.get(base + "/maps/data/incidents", timeout=120,
                      headers={"Authorization": f"Bearer {token}"}, params={
            "bbox": bbox, "from": str(FIRST), "to": str(LAST), "limit": 10_000})
        bbox_s = time.perf_counter() - t2
        bbox_rows = len(j.json()["rows"])
    finally:
        srv.should_exit = True
        th.join(timeout=10)
    return {"first_s": first, "drawn_s": drawn, "tiles_s": tiles_s, "vt_features": vt,
            "tiles": len(pbf), "tile_mb": tile_bytes / 1e6, "bbox_s": bbox_s,
            "bbox_mb": len(j.content) / 1e6, "bbox_rows": bbox_rows}


def main() -> int:
    """Run the benchmark and print the ratios."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--port", type=int, default=8172)
    args = ap.parse_args()
    sizes = sorted(int(x) for x in args.sizes.split(","))

    from geo.db.migrate import upgrade
    from geo.demo.county import load_demo

    server = normalize_url(Settings.from_env().database_url)
    admin = create_engine(make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"wangge_bench_maps_{os.getpid()}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    results: dict[int, dict[str, float]] = {}
    try:
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT")
            c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        upgrade(engine)
        print(f"loading the demo county with {sizes[0]:,} incidents ...", flush=True)
        load_demo(engine, n_incidents=sizes[0])
        for n in sizes:
            grow(engine, n)
            naive_html, t_naive = timed(naive_map, engine)
            our_html, t_ours = timed(ours, engine)
            r = {"naive_s": t_naive, "naive_mb": len(naive_html.encode()) / 1e6,
                 "ours_s": t_ours, "ours_mb": len(our_html.encode()) / 1e6}
            if not args.no_browser:
                r.update(first_paint(url, args.port))
            results[n] = r
            print(f"{n:>7,} incidents: naive {r['naive_s']:6.2f} s {r['naive_mb']:6.2f} MB | "
                  f"wangge {r['ours_s']:5.2f} s {r['ours_mb']:5.2f} MB | "
                  f"size {r['naive_mb'] / r['ours_mb']:5.1f}x smaller, "
                  f"build {r['naive_s'] / r['ours_s']:5.1f}x faster"
                  + (f" | first paint {r['first_s']:.2f} s, all layers {r['drawn_s']:.2f} s"
                     if 'first_s' in r else ""), flush=True)
            if "tiles_s" in r:
                print(f"{'':>18} zoom 13 over the county seat: {r['tiles']:.0f} vector tiles "
                      f"{r['tile_mb']:.2f} MB, {r['vt_features']:.0f} incidents drawn in "
                      f"{r['tiles_s']:.2f} s | same view as bbox JSON: {r['bbox_rows']:.0f} rows "
                      f"{r['bbox_mb']:.2f} MB in {r['bbox_s']:.2f} s "
                      f"({r['bbox_mb'] / max(r['tile_mb'], 1e-9):.1f}x the tile bytes)",
                      flush=True)
    finally:
        engine.dispose()
        from geo.db.engine import get_engine

        get_engine.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    lo, hi = results[sizes[0]], results[sizes[-1]]
    print(f"\nat {sizes[-1]:,} incidents: HTML {hi['naive_mb'] / hi['ours_mb']:.1f}x smaller "
          f"(target >= 15x), build {hi['naive_s'] / hi['ours_s']:.1f}x faster (target >= 20x)")
    print(f"page growth {sizes[0]:,} -> {sizes[-1]:,}: {hi['ours_mb'] / lo['ours_mb']:.2f}x "
          f"(target <= 1.5x)")
    if "first_s" in hi:
        print(f"first paint at {sizes[-1]:,}: {hi['first_s']:.2f} s, all layers drawn "
              f"{hi['drawn_s']:.2f} s (target <= 3 s)")
        print(f"vector tiles at {sizes[-1]:,}, zoom 13: drawn in {hi['tiles_s']:.2f} s "
              f"({hi['tile_mb']:.2f} MB of tiles vs {hi['bbox_mb']:.2f} MB of bbox JSON)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
