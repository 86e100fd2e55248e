"""Patrols on the maps (issue 17, item 3), with real logins, in headless Chromium with the
internet cut off.

- Dispatch map (command centre): "今日巡查轨迹" is a layer of its own, off by default; switched
  on it draws today's track (sent by the demo worker's phone over the API a moment ago) as a
  line whose tooltip names the worker (her name, not her code). Roles that may not read raw
  tracks never get the layer (planner, department: not in their page at all).
- Patrol coverage map /maps/coverage/patrols (planners): the cells patrolled in the last N days
  and those not, the latter listed by name with the date of their last patrol; aggregates only
  (no track, no worker); a department gets 403.
Screenshots: artifacts/screenshots/patrols-*.png.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo import localtime
from geo.demo.users import DEMO_USERS
from tests.conftest import REPO_ROOT, demo_worker_spot
from tests.served import app_fixture, bearer, log_in

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_PATROL_MAPS_PORT", "8185"))
BASE = f"http://{HOST}:{PORT}"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
PERIOD = "from=2026-10-01&to=2026-10-31"  # the dispatch map's incidents: a fixed period


served = app_fixture(PORT, "patrol-maps-data")


def _open(browser: Any, role: str, path: str, shot: str) -> tuple[Any, list[str], list[str]]:
    """Log in as ``role`` and open ``path`` with the internet cut off; a screenshot."""
    page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    blocked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Any) -> None:
        if r.request.url.startswith((BASE + "/", "data:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    log_in(page, BASE, role, path)
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"patrols-{shot}.png"))
    return page, blocked, errors


def _patrol_today(server: str, engine: Engine) -> tuple[str, str, str]:
    """The demo worker's phone sends a short patrol of the last minutes; returns her name,
    her worker code and the cell she walked in."""
    with engine.connect() as conn:
        cell, lon, lat = demo_worker_spot(conn)
        name, code = conn.execute(text(
            "SELECT w.name, w.code FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
            "WHERE u.username = :u"), {"u": DEMO_USERS["worker"][0]}).one()
    now = localtime.now()
    start = max(now - dt.timedelta(minutes=3),
                localtime.day_start(now.date()) + dt.timedelta(seconds=1))
    points = [{"t": (start + dt.timedelta(seconds=20 * i)).isoformat(),
               "lon": lon + 0.0002 * i, "lat": lat + 0.0001 * i, "accuracy_m": 8}
              for i in range(6)]
    with httpx.Client(base_url=server, headers=bearer(engine, "worker")) as api:
        r = api.post("/me/patrols", json={"client_id": f"patrol-map-test-{uuid.uuid4()}",
                                          "started_at": start.isoformat(),
                                          "ended_at": points[-1]["t"], "crs": "EPSG:4326",
                                          "points": points})
        assert r.status_code == 200, r.text
    return str(name), str(code), cell


def test_patrol_tracks_on_the_dispatch_map(served: tuple[str, Engine], browser: Any) -> None:
    server, engine = served
    name, code, _cell = _patrol_today(server, engine)
    page, blocked, errors = _open(browser, "command", f"/maps/dispatch?{PERIOD}", "dispatch")
    control = page.locator(".leaflet-control-layers-overlays label",
                           has_text="今日巡查轨迹")
    assert control.count() == 1, page.inner_text(".leaflet-control-layers")
    assert "(1 条," in control.inner_text(), control.inner_text()
    assert page.locator("path.wangge-patrol").count() == 0  # off by default
    control.locator("input").check()
    page.wait_for_selector("path.wangge-patrol")
    assert page.locator("path.wangge-patrol").count() == 1
    # zoom to the track (a walk of a few minutes is a dot at county zoom) and point at it
    page.evaluate("""() => {
      const map = Object.values(window).find((v) => v instanceof L.Map);
      map.eachLayer((l) => { if (l instanceof L.Polyline && l.options.className === 'wangge-patrol')
        map.fitBounds(l.getBounds(), {maxZoom: 17, animate: false}); });
    }""")
    page.wait_for_timeout(600)
    track = page.locator("path.wangge-patrol").first
    box = track.bounding_box()
    assert box is not None and box["width"] > 20, box
    track.hover(force=True)
    tip = page.locator(".leaflet-tooltip", has_text="巡查轨迹")
    tip.wait_for(timeout=5_000)
    assert name in tip.inner_text() and code not in tip.inner_text(), tip.inner_text()
    assert re.search(r"\d\d:\d\d–\d\d:\d\d · [\d.]+ 公里", tip.inner_text()), tip.inner_text()
    page.screenshot(path=str(SHOTS / "patrols-dispatch-on.png"))
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()

    # roles that may not read raw tracks never get the layer
    for role in ("planner", "department"):
        with httpx.Client(base_url=server, headers=bearer(engine, role), timeout=120) as api:
            r = api.get(f"/maps/dispatch?{PERIOD}")
        if r.status_code == 200:
            assert "今日巡查轨迹" not in r.text and name not in r.text, role
        else:
            assert r.status_code in (401, 403), (role, r.status_code)


def test_patrol_coverage_map(served: tuple[str, Engine], browser: Any) -> None:
    server, engine = served
    name, _code, cell = _patrol_today(server, engine)
    # the demo's 8 weeks of patrols end 2026-11-01: the week up to that day
    page, blocked, errors = _open(browser, "planner", "/maps/coverage/patrols?to=2026-11-01",
                                  "coverage-demo")
    patrolled = page.locator("path.wangge-patrol-cell.patrolled").count()
    idle = page.locator("path.wangge-patrol-cell.not-patrolled").count()
    assert patrolled >= 5 and idle >= 5, (patrolled, idle)
    legend = page.locator(".wangge-legend", has_text="图例").inner_text()
    assert "近 7 天巡查过" in legend and "近 7 天未巡查" in legend, legend
    listed = page.locator("ol.wangge-not-patrolled li")
    assert listed.count() >= 1
    first = listed.first.inner_text()
    assert "从未巡查" in first or "天前" in first, first
    assert page.locator("path.wangge-patrol").count() == 0  # no track for planners
    html = page.content()
    assert name not in html  # no worker on this map
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()

    # by default up to the latest patrol: today's, so only the cell walked today is patrolled
    page, blocked, errors = _open(browser, "planner", "/maps/coverage/patrols?days=1",
                                  "coverage-today")
    assert page.locator("path.wangge-patrol-cell.patrolled").count() >= 1
    page.locator("path.wangge-patrol-cell.patrolled").first.dispatch_event("mouseover")
    tip = page.locator(".leaflet-tooltip").first
    tip.wait_for(timeout=5_000)
    assert "近 1 天巡查过" in tip.inner_text(), tip.inner_text()
    today = localtime.now().date().isoformat()
    assert f"截至 {today}" in page.inner_text("body")
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()

    with httpx.Client(base_url=server, headers=bearer(engine, "department"), timeout=120) as api:
        assert api.get("/maps/coverage/patrols").status_code == 403
    with httpx.Client(base_url=server, headers=bearer(engine, "planner"), timeout=120) as api:
        r = api.get("/maps/coverage/patrols", params={"lang": "en", "to": "2026-11-01"})
        assert r.status_code == 200 and "Patrol coverage" in r.text
        assert cell in r.text
