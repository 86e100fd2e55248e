"""Each map in headless Chromium with the internet cut off (Playwright, /usr/bin/chromium).

The app is served by uvicorn in a thread on 127.0.0.1:8171 against the shared demo DB. Every
request to another host is aborted and recorded; the tests assert that the layers drew
(Leaflet's interactive SVG paths and markers), the legend and layer control are there, no
console error happened and no request left the machine. Screenshots go to
artifacts/screenshots/*.png (look at them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as text_

from tests.conftest import REPO_ROOT, make_settings, serve_in_thread

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_HTTP_PORT", "8171"))
BASE = f"http://{HOST}:{PORT}"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
CELL = "141123100001001"


@pytest.fixture(scope="module")
def server(demo_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread."""
    with serve_in_thread(make_settings(demo_url), HOST, PORT) as url:
        yield url


def open_offline(browser: Any, url: str, shot: str, viewport: dict[str, int] | None = None
                 ) -> tuple[Any, list[str], list[str]]:
    """Open ``url`` with every non-local request aborted; return page, blocked, errors."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 860})
    blocked: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Any) -> None:
        u = r.request.url
        if u.startswith((BASE + "/", "data:", "file:", "about:")):
            r.continue_()
        else:
            blocked.append(u)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"))
    return page, blocked, errors


def count(page: Any, selector: str) -> int:
    """Number of elements matching ``selector``."""
    return int(page.eval_on_selector_all(selector, "e => e.length"))


def common_checks(page: Any, blocked: list[str], errors: list[str]) -> None:
    """Legend, layer control, no console error, nothing fetched from another host."""
    assert blocked == [], blocked
    assert errors == [], errors
    assert count(page, ".wangge-legend") == 1
    assert count(page, ".leaflet-control-layers") == 1
    assert count(page, ".wangge-legend .wangge-row") >= 3


def test_dispatch_map(server: str, browser: Any) -> None:
    # an explicit period: other tests may add today's incidents to the shared demo database,
    # which would move the default period (30 days up to the latest report)
    page, blocked, errors = open_offline(browser, server + "/maps/dispatch?from=2026-10-01"
                                         "&to=2026-10-30", "dispatch")
    common_checks(page, blocked, errors)
    paths = count(page, "path.leaflet-interactive")
    incidents = count(page, "path.wangge-incident")
    assert count(page, "path.wangge-incident.overdue") > 0
    assert count(page, "path.wangge-camera") == 0  # cameras appear from zoom 13
    assert incidents > 300 and paths > 354 + 250 + 17 + incidents - 1
    assert count(page, ".leaflet-control-layers-overlays input") >= 7
    assert count(page, ".wangge-search input") == 1 and count(page, ".wangge-period input") == 2
    assert count(page, "path.wangge-vt-incident") == 0  # county view: no tiles (zoom < 12)
    # search a cell code: the map zooms there and draws a highlight; zoomed in, every
    # incident of the period comes as vector tiles from Wangge's /tiles/incidents
    tiles: list[Any] = []
    page.on("response", lambda r: tiles.append(r) if "/tiles/incidents/" in r.url else None)
    with page.expect_response(lambda r: "/tiles/incidents/" in r.url) as resp:
        page.fill(".wangge-search input", CELL)
        page.click(".wangge-search button")
    assert resp.value.status in (200, 204)  # an empty tile is 204
    page.wait_for_function("() => document.querySelectorAll('path.wangge-vt-incident').length"
                           " > 0", timeout=30_000)
    page.wait_for_timeout(1000)
    assert tiles and all(r.url.startswith(BASE + "/tiles/incidents/") and r.status in (200, 204)
                         and "datetime=" in r.url for r in tiles)
    assert any(r.status == 200 and r.headers["content-type"]
               == "application/vnd.mapbox-vector-tile" for r in tiles)
    drawn = count(page, "path.wangge-vt-incident")
    loaded = page.evaluate("() => Wangge.incidentLayerNow.far.counts.features")
    assert 0 < drawn <= loaded
    assert count(page, "path.wangge-vt-incident.closed") > 0
    assert count(page, "path.wangge-camera") == 1500
    assert count(page, "path.wangge-sector") == 0  # view sectors only on demand
    assert count(page, "path.wangge-incident") == 0  # one incident layer: tiles, no capped
    assert count(page, "path.wangge-hit") == 1
    page.screenshot(path=str(SHOTS / "dispatch_search.png"))
    # a vector-tile incident answers a click with its summary (no personal fields)
    box = page.evaluate("""() => { for (const p of document.querySelectorAll(
        'path.wangge-vt-incident')) { const b = p.getBoundingClientRect();
        const x = b.x + b.width / 2, y = b.y + b.height / 2;
        if (x > 320 && x < 880 && y > 120 && y < 760 &&
            document.elementFromPoint(x, y) === p) { return [x, y]; } } return null; }""")
    assert box is not None
    page.mouse.click(box[0], box[1])
    page.wait_for_timeout(300)
    popup = page.inner_html(".leaflet-popup-content")
    assert "href=\"/incidents/SJ" in popup.replace("'", '"') and "电话" not in popup
    link = re.search(r"""href=["'](/incidents/[^"']+)["']""", popup)
    assert link and page.request.get(server + link.group(1)).status == 200  # was a 404
    page.screenshot(path=str(SHOTS / "dispatch_tile_popup.png"))
    page.keyboard.press("Escape")
    page.evaluate("() => document.querySelector('.leaflet-popup-close-button')?.click()")
    page.evaluate("() => document.querySelector('.wangge-panel-close')?.click()")
    assert blocked == [] and errors == [], (blocked, errors)
    assert page.evaluate("() => document.title").startswith("指挥调度图")
    # zoomed out again: the capped markers, a popup with the case summary and API links
    page.evaluate("""() => { for (const k in window) { const v = window[k];
        if (v instanceof L.Map) { v.setZoom(11, {animate: false}); } } }""")
    page.wait_for_timeout(300)
    assert count(page, "path.wangge-vt-incident") == 0 and count(page, "path.wangge-incident")
    page.evaluate("() => Wangge.incidentLayerNow.capped.getLayers()[0].openPopup()")
    page.wait_for_timeout(200)
    popup = page.inner_html(".leaflet-popup-content")
    assert "/cells/at?lon=" in popup and "/incidents/SJ" in popup
    link = re.search(r"""href=["'](/incidents/[^"']+)["']""", popup)
    assert link and page.request.get(server + link.group(1)).status == 200
    page.screenshot(path=str(SHOTS / "dispatch_search_popup.png"))
    page.close()


def test_dispatch_map_english_with_heat_and_counts(server: str, browser: Any) -> None:
    page, blocked, errors = open_offline(browser, server + "/maps/dispatch?lang=en"
                                         "&from=2025-01-01&to=2026-10-30", "dispatch_en_all")
    common_checks(page, blocked, errors)
    assert "Legend" in page.inner_text(".wangge-legend")
    for label in ("Incident heat map", "Incidents per cell"):
        page.get_by_label(label).check()
    page.wait_for_timeout(300)
    assert count(page, "canvas.leaflet-heatmap-layer") == 1
    assert count(page, "path.wangge-count-marker") > 300
    page.screenshot(path=str(SHOTS / "dispatch_en_heat.png"))
    page.close()


def test_cell_map_on_a_phone_with_where_am_i(server: str, browser: Any, demo_url: str) -> None:
    from sqlalchemy import create_engine

    from geo.crs.china import wgs84_to_gcj02

    engine = create_engine(demo_url)
    with engine.connect() as conn:
        lon, lat = conn.execute(text_("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface("
                                      "geom) p FROM grid_cell WHERE code = :c) s"),
                                {"c": CELL}).one()
    engine.dispose()
    glon, glat = map(float, wgs84_to_gcj02(lon, lat))  # as a phone's map app gives it
    page, blocked, errors = open_offline(
        browser, server + f"/maps/cells/{CELL}?lon={glon}&lat={glat}&crs=GCJ02", "cell_phone",
        viewport={"width": 390, "height": 780})
    assert CELL in page.inner_text(".leaflet-tooltip")  # "where am I" names this very cell
    assert blocked == [] and errors == []
    assert count(page, ".wangge-legend") == 1 and count(page, ".leaflet-control-layers") == 1
    assert count(page, ".wangge-here") == 1
    assert "网格" in page.inner_text(".leaflet-tooltip")
    assert count(page, "path.leaflet-interactive") >= 5
    assert count(page, "path.wangge-camera") >= 1
    page.close()


def test_coverage_map_hot_spots_and_recommended_sites(server: str, browser: Any) -> None:
    page, blocked, errors = open_offline(browser, server + "/maps/coverage/cameras?from="
                                         "2026-07-31&to=2026-10-30", "coverage_cameras_sites")
    common_checks(page, blocked, errors)
    assert count(page, "path.wangge-hotspot.hot") > 0
    assert count(page, "path.wangge-hotspot.cold") == 0
    assert count(page, ".wangge-site") == 10 == count(page, "path.wangge-site-sector")
    legend = page.inner_text(".wangge-legend")
    assert "热点 99 %" in legend and "建议点位 (10)" in legend and "新增覆盖" in legend
    layers = page.inner_text(".leaflet-control-layers")
    assert "事件热点 (Gi*)" in layers and "建议新增摄像头点位 (前 10 个)" in layers
    # a site's popup: gained coverage in numbers, never an incident code
    page.evaluate("() => document.querySelector('.wangge-site').click()")
    page.wait_for_timeout(300)
    popup = page.inner_text(".leaflet-popup-content")
    assert "新增覆盖事件" in popup and "新增覆盖面积" in popup and "m²" in popup
    assert "SJ" not in popup
    page.screenshot(path=str(SHOTS / "coverage_cameras_site_popup.png"))
    page.close()
    page, blocked, errors = open_offline(
        browser, server + "/maps/coverage/cameras?k=3&candidates=entrances&lang=en&unit=township"
        "&from=2026-07-31&to=2026-10-30",
        "coverage_cameras_sites_en")
    common_checks(page, blocked, errors)
    assert count(page, ".wangge-site") == 3 == count(page, "path.wangge-site-sector")
    assert count(page, "path.wangge-hotspot") > 0
    legend = page.inner_text(".wangge-legend")
    assert "Hot spot 99 %" in legend and "Recommended site (3)" in legend
    page.close()


@pytest.mark.parametrize("url,shot", [
    ("/maps/coverage/cameras", "coverage_cameras_cell"),
    ("/maps/coverage/cameras?unit=township&lang=en", "coverage_cameras_township_en"),
    ("/maps/coverage/property", "coverage_property_community"),
    ("/maps/coverage/property?unit=township", "coverage_property_township"),
])
def test_coverage_maps(server: str, browser: Any, url: str, shot: str) -> None:
    page, blocked, errors = open_offline(browser, server + url, shot)
    common_checks(page, blocked, errors)
    assert count(page, "path.leaflet-interactive") >= 17
    assert "%" in page.inner_text(".wangge-legend")
    page.close()


def test_osm_basemap_only_asks_its_tile_host(server: str, browser: Any) -> None:
    page, blocked, errors = open_offline(browser, server + f"/maps/cells/{CELL}?basemap=osm",
                                         "cell_osm_offline")
    assert blocked and all(u.startswith("https://tile.openstreetmap.org/") for u in blocked)
    assert count(page, "path.leaflet-interactive") >= 5
    page.close()


def test_standalone_file_opens_with_no_server(browser: Any, demo_url: str,
                                              tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from geo.auth.principal import ANONYMOUS_COMMAND
    from maps.coverage import build_property_coverage_map
    from maps.frame import MapOptions, render_standalone

    engine = create_engine(demo_url)
    with engine.connect() as conn:
        html = render_standalone(build_property_coverage_map(conn, ANONYMOUS_COMMAND,
                                                             MapOptions()))
    engine.dispose()
    f = tmp_path / "property.html"
    f.write_text(html, encoding="utf-8")
    page, blocked, errors = open_offline(browser, f.as_uri(), "standalone_property")
    common_checks(page, blocked, errors)
    assert count(page, "path.leaflet-interactive") > 300
    page.close()


def test_cli_writes_standalone_html_and_png(browser: Any, demo_url: str,
                                            tmp_path: Path) -> None:
    """``wangge map dispatch -o FILE --png FILE`` as a new user runs it (own process)."""
    import subprocess
    import sys

    html, png = tmp_path / "dispatch.html", SHOTS / "cli_dispatch.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    env = {**os.environ, "WANGGE_DATABASE_URL": demo_url}
    cmd = [sys.executable, "-m", "api.cli", "map"]
    res = subprocess.run([*cmd, "dispatch", "-o", str(html), "--png", str(png), "--lang", "en"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    text = html.read_text(encoding="utf-8")
    assert "<script src=" not in text and "Wangge.legend(" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "blocked" not in res.stdout  # the file asked nothing from the network
    bad = subprocess.run([*cmd, "cell", "141123999999999", "-o", str(html)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "141123999999999" in bad.stderr
    assert "Traceback" not in bad.stderr
