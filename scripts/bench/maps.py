"""Benchmark the dispatch map against a naive Folium map, at 10,000 and 100,000 incidents.

    WANGGE_PG_PORT=... .venv/bin/python scripts/bench/maps.py [--sizes 10000,100000] [--no-browser]
        [--dense 10000,100000] [--dense-only] [--repeat 3] [--svg-too] [--port 8172]

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

Then **many incidents in view** (``--dense``, default 10,000 then 100,000): synthetic copies at
random points of the county seat's zoom-13 view (:data:`SEAT_VIEW`) until the view holds each
count, the same page zoomed there each time, measuring: seconds from the zoom until the one
incident layer is painted (every tile arrived and drawn, the page idle), the frame times of 40
pans (``panBy`` 60 px, one per animation frame) and the time to handle a click (from the input
event to the next frame, five clicks). The first count is the anchor: the ratios of the last
against it are printed (same run, same machine load). ``--repeat N`` measures the counts N
times in the one database (the crowd removed between repeats), ``--svg-too`` also measures the
largest count with every tile drawn as SVG (as before dense tiles went to a canvas),
``--dense-only`` skips the naive/wangge comparison.

The browser and the bbox request log in as the demo command user (``demo-command``, the
login cookie / a Bearer token: the dispatch map needs a login). Needs Chromium
(``scripts/setup.sh`` installs it as root, else ``sudo apt-get install -y chromium``); with
``--no-browser`` only the build and size are measured.

It prints the ratios against the issue's targets (>= 15x smaller and >= 20x faster than naive at
100,000; the 100,000 page within 1.5x of the 10,000 page; first paint within 3 s).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def copy_incidents(engine, target: int, where: str, params: dict[str, float],  # type: ignore[no-untyped-def]
                   point_sql: str, tag: str) -> int:
    """Copy the demo's incidents (new codes: ``<code><tag><k>``, the point ``point_sql`` of the
    original ``geom``) until ``where`` holds ``target``; returns how many it holds."""
    count = text(f"SELECT count(*) FROM incident WHERE {where}")
    with engine.begin() as conn:
        have = conn.execute(count, params).scalar_one()
        k = 0
        while have < target:
            k += 1
            conn.execute(text(f"""
                INSERT INTO incident (region_code, code, category_code, channel, status, urgency,
                    reported_at, description, location_text, geom, cell_code, community_code,
                    township_code, department_code, boundary_set_id, closed_at, due_at, synthetic)
                SELECT region_code, code || :tag || :k, category_code, channel, status, urgency,
                    reported_at, description, location_text, ST_SetSRID({point_sql}, 4490),
                    cell_code, community_code, township_code, department_code, boundary_set_id,
                    closed_at, due_at, true
                FROM incident WHERE code NOT LIKE '%-%' AND geom IS NOT NULL
                ORDER BY id LIMIT :lim
            """), {**params, "tag": tag, "k": k, "lim": target - have})
            have = conn.execute(count, params).scalar_one()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE incident"))
    return int(have)


def grow(engine, target: int) -> None:  # type: ignore[no-untyped-def]
    """Copy incidents (jittered ~300 m, new codes) until the region holds ``target``."""
    copy_incidents(engine, target, "true", {},
                   "ST_MakePoint(ST_X(geom) + (random() - 0.5) * 0.006, "
                   "ST_Y(geom) + (random() - 0.5) * 0.005)", "-")


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


@contextlib.contextmanager
def logged_in_page(url: str, port: int) -> Iterator[tuple[str, str, Any]]:
    """The app on ``url``'s database served by uvicorn on ``port`` and a headless Chromium page
    logged in as the demo command user (the login cookie: the dispatch map needs a login),
    network outside the app cut off: yields (base URL, Bearer token, page)."""
    import httpx
    import uvicorn
    from playwright.sync_api import sync_playwright

    from api.deps import TOKEN_COOKIE
    from api.main import create_app
    from geo.demo.users import DEMO_USERS

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
            try:
                yield base, token, page
            finally:
                b.close()
    finally:
        srv.should_exit = True
        th.join(timeout=10)


# the county seat's view at zoom 13 in the 1280x860 browser (lon/lat, CGCS2000)
SEAT = (111.128, 38.462)
SEAT_VIEW = (111.073, 38.439, 111.183, 38.485)


def crowd(engine, target: int) -> int:  # type: ignore[no-untyped-def]
    """Synthetic incidents at random points of :data:`SEAT_VIEW` (copies of the demo's, new
    codes, reported in the period) until the view holds ``target``; returns how many it holds."""
    w, s, e, n = SEAT_VIEW
    return copy_incidents(  # type: ignore[no-any-return]
        engine, target, "geom && ST_MakeEnvelope(:w, :s, :e, :n, 4490)",
        {"w": w, "s": s, "e": e, "n": n},
        "ST_MakePoint(:w + random() * (:e - :w), :s + random() * (:n - :s))", f"-v{target}-")


# in the page: the one incident layer's VectorGrid and the map (Wangge.dispatch's map)
PAN_FRAMES = """async (steps) => {
  let map = null;
  for (const k in window) { if (window[k] instanceof L.Map) { map = window[k]; } }
  const frames = [];
  let last = performance.now();
  for (let i = 0; i < steps; i++) {
    map.panBy([i % 10 < 5 ? 60 : -60, i % 20 < 10 ? 25 : -25], {animate: false});
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now();
    frames.push(now - last);
    last = now;
  }
  return frames;
}"""
CLICK_DELAY = """() => {
  window.__clickMs = null;
  document.addEventListener('click', ev => {
    const t = ev.timeStamp;
    requestAnimationFrame(() => { window.__clickMs = performance.now() - t; });
  }, {once: true, capture: true});
}"""


def dense_view(url: str, port: int, svg_only: bool = False) -> dict[str, float]:
    """The dispatch map zoomed to 13 over the county seat, with every incident of the view
    drawn by the one incident layer: seconds from the zoom until the layer is painted (every
    tile arrived, drawn and the page idle again), frame times while panning, and the time to
    handle a click (from the input event until the next frame). ``svg_only``: every tile
    drawn as SVG (``Wangge.CANVAS_FROM`` infinite), as before dense tiles went to a canvas."""
    with logged_in_page(url, port) as (base, _token, page):
        page.goto(base + f"/maps/dispatch?from={FIRST}&to={LAST}")
        page.wait_for_selector(".wangge-legend", state="attached", timeout=60_000)
        page.wait_for_function(SETTLED, timeout=60_000)
        if svg_only:  # as before the canvas tiles: one SVG element per incident
            page.evaluate("() => { Wangge.CANVAS_FROM = Infinity; }")
        asked: list[str] = []
        done: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/tiles/incidents/" in r.url
                else None)
        page.on("requestfinished", lambda r: done.append(r.url)
                if "/tiles/incidents/" in r.url else None)
        t0 = time.perf_counter()
        page.evaluate(ZOOM_TO)
        # painted: every tile asked for has arrived and the page answers an animation frame
        # (it runs only once the main thread has drawn them), nothing new asked for 300 ms
        seen, complete_at = -1, None
        while time.perf_counter() - t0 < 300:
            page.wait_for_timeout(50)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(0)))")
            now = time.perf_counter()
            if len(done) < len(asked) or len(asked) != seen or not asked:
                seen, complete_at = len(asked), None
            elif complete_at is None:
                complete_at = now
            elif now - complete_at >= 0.3:
                break
        paint_s = (complete_at or time.perf_counter()) - t0
        frames = sorted(page.evaluate(PAN_FRAMES, 40))
        page.wait_for_timeout(500)
        clicks = []
        for dx, dy in ((0, 0), (40, 30), (-50, 20), (30, -40), (-20, -20)):
            page.evaluate(CLICK_DELAY)
            page.mouse.click(640 + dx, 430 + dy)
            page.wait_for_function("() => window.__clickMs !== null", timeout=60_000)
            clicks.append(float(page.evaluate("() => window.__clickMs")))
            page.keyboard.press("Escape")
            page.wait_for_timeout(300)
    clicks.sort()
    return {"paint_s": paint_s, "tiles": len(asked),
            "frame_p50": frames[len(frames) // 2], "frame_p95": frames[int(len(frames) * 0.95)],
            "frame_max": frames[-1], "click_p50": clicks[len(clicks) // 2],
            "click_max": clicks[-1]}

def first_paint(url: str, port: int) -> dict[str, float]:
    """Seconds from the request until the first vector is drawn, and until every layer of the
    initial view is drawn, for the dispatch map served on ``port`` (server build included);
    then the vector tiles of a zoomed-in view against the bbox JSON of the same view."""
    import httpx

    with logged_in_page(url, port) as (base, token, page):
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
        pbf: list[Any] = []
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
        tile_bytes = sum(int(r.headers.get("content-length", 0))
                         for r in pbf if r)
        bbox = page.evaluate(BOUNDS)
        t2 = time.perf_counter()
        j = httpx.get(base + "/maps/data/incidents", timeout=120,
                      headers={"Authorization": f"Bearer {token}"}, params={
            "bbox": bbox, "from": str(FIRST), "to": str(LAST), "limit": 10_000})
        bbox_s = time.perf_counter() - t2
        bbox_rows = len(j.json()["rows"])
    return {"first_s": first, "drawn_s": drawn, "tiles_s": tiles_s, "vt_features": vt,
            "tiles": len(pbf), "tile_mb": tile_bytes / 1e6, "bbox_s": bbox_s,
            "bbox_mb": len(j.content) / 1e6, "bbox_rows": bbox_rows}


def main() -> int:
    """Run the benchmark and print the ratios."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--port", type=int, default=8172)
    ap.add_argument("--dense-only", action="store_true",
                    help="skip the naive/wangge comparison (--sizes: the demo's first size)")
    ap.add_argument("--svg-too", action="store_true",
                    help="also measure the largest --dense count with every tile drawn as SVG")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure the --dense counts this many times (anchor first each time)")
    ap.add_argument("--dense", default="10000,100000",
                    help="incidents in the county seat's zoom-13 view, the first the anchor "
                    "('' to skip)")
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
    crowded: dict[int, list[dict[str, float]]] = {}
    svg: list[dict[str, float]] = []
    try:
        with engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT")
            c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        upgrade(engine)
        print(f"loading the demo county with {sizes[0]:,} incidents ...", flush=True)
        load_demo(engine, n_incidents=sizes[0])
        for n in ([] if args.dense_only else sizes):
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
        dense = sorted(int(x) for x in args.dense.split(",") if x) \
            if not args.no_browser else []
        for rep in range(args.repeat if dense else 0):
            if rep:  # back to the demo: the anchor is measured again in each repeat
                with engine.begin() as conn:
                    conn.execute(text("DELETE FROM incident WHERE code LIKE '%-v%'"))
            for n in dense:
                held = crowd(engine, n)
                d = dense_view(url, args.port)
                d["held"] = held
                crowded.setdefault(n, []).append(d)
                if n == max(dense) and args.svg_too:
                    d2 = dense_view(url, args.port, svg_only=True)
                    d2["held"] = held
                    svg.append(d2)
                    print(f"{held:>7,} in view, every tile SVG: layer painted in "
                          f"{d2['paint_s']:.2f} s | pan frame p50 {d2['frame_p50']:.0f} ms p95 "
                          f"{d2['frame_p95']:.0f} ms max {d2['frame_max']:.0f} ms | click "
                          f"p50 {d2['click_p50']:.0f} ms max {d2['click_max']:.0f} ms",
                          flush=True)
                print(f"{held:>7,} incidents in the county seat's view (zoom 13): layer painted in "
                      f"{d['paint_s']:.2f} s ({d['tiles']:.0f} tiles) | pan frame p50 "
                      f"{d['frame_p50']:.0f} ms p95 {d['frame_p95']:.0f} ms max "
                      f"{d['frame_max']:.0f} ms | click handled p50 {d['click_p50']:.0f} ms max "
                      f"{d['click_max']:.0f} ms", flush=True)
    finally:
        engine.dispose()
        from geo.db.engine import get_engine

        get_engine.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if not results:
        sizes = []
    lo, hi = (results[sizes[0]], results[sizes[-1]]) if sizes else ({}, {})
    if sizes:
        print(f"\nat {sizes[-1]:,} incidents: HTML {hi['naive_mb'] / hi['ours_mb']:.1f}x smaller "
              f"(target >= 15x), build {hi['naive_s'] / hi['ours_s']:.1f}x faster (target >= 20x)")
        print(f"page growth {sizes[0]:,} -> {sizes[-1]:,}: {hi['ours_mb'] / lo['ours_mb']:.2f}x "
              f"(target <= 1.5x)")
        if "first_s" in hi:
            print(f"first paint at {sizes[-1]:,}: {hi['first_s']:.2f} s, all layers drawn "
                  f"{hi['drawn_s']:.2f} s (target <= 3 s)")
            print(f"vector tiles at {sizes[-1]:,}, zoom 13: drawn in {hi['tiles_s']:.2f} s "
                  f"({hi['tile_mb']:.2f} MB of tiles vs {hi['bbox_mb']:.2f} MB of bbox JSON)")
    if len(crowded) > 1:
        for a, z in zip(crowded[min(crowded)], crowded[max(crowded)], strict=True):
            print(f"\n{z['held']:,.0f} vs {a['held']:,.0f} incidents in view (anchor, same run): "
                  f"layer painted {z['paint_s'] / a['paint_s']:.2f}x the time "
                  f"({z['paint_s']:.2f} s vs {a['paint_s']:.2f} s), pan frame p95 "
                  f"{z['frame_p95'] / a['frame_p95']:.2f}x ({z['frame_p95']:.0f} vs "
                  f"{a['frame_p95']:.0f} ms), click {z['click_p50'] / a['click_p50']:.2f}x "
                  f"({z['click_p50']:.0f} vs {a['click_p50']:.0f} ms)")
        for a, z in zip(crowded[min(crowded)], svg, strict=False):
            print(f"  every tile SVG at {z['held']:,.0f}: painted "
                  f"{z['paint_s'] / a['paint_s']:.2f}x, pan frame p95 "
                  f"{z['frame_p95'] / a['frame_p95']:.2f}x, click "
                  f"{z['click_p50'] / a['click_p50']:.2f}x the anchor")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
