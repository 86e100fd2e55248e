"""The phone app /m/ over AMap tiles (GCJ-02), in headless Chromium (phone emulation, her GPS
position, WGS84, overridden inside her cell; the AMap tiles answered locally).

The app carries no copy of the GCJ-02 formula: it asks the server for her cells and cases in
GCJ-02 and places her own GPS position with the offset grid /me/cell answers
(geo.crs.transforms.offset_grid). Her position dot must land where geo.crs.china puts it
(within half a metre), "in my cell" and the distance to the edge must read the same as on the
plain map, and the cases must be asked in GCJ-02. Fails when the dot is drawn unshifted
(~500 m off) or shifted by anything but the server's rule.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from pyproj import Geod
from sqlalchemy.engine import Engine

from geo.crs.china import wgs84_to_gcj02
from tests.conftest import demo_worker_spot
from tests.mobile.test_mobile_browser import PHONE, _png
from tests.served import app_fixture, log_in

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_MOBILE_AMAP_PORT", "8184"))
BASE = f"http://{HOST}:{PORT}"


served = app_fixture(PORT, "mobile-amap-data")


def _edge_m(status: str) -> int:
    m = re.search(r"边界 (\d+) 米", status)
    assert m, status
    return int(m.group(1))


def test_position_over_amap(served: tuple[str, Engine], browser: Any) -> None:
    _, engine = served
    with engine.connect() as conn:
        _cell, lon, lat = demo_worker_spot(conn)
    context = browser.new_context(**PHONE, geolocation={"longitude": lon, "latitude": lat,
                                                        "accuracy": 8},
                                  permissions=["geolocation"])
    tile = _png((230, 230, 220))
    context.route(re.compile(r"^https://webrd0\d\.is\.autonavi\.com/"),
                  lambda route: route.fulfill(status=200, content_type="image/png", body=tile))
    asked: list[str] = []
    context.on("request", lambda r: asked.append(r.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, BASE, "worker", "/m/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)

    # the plain map (WGS84): the dot where the GPS says
    page.wait_for_selector(".me-dot[data-latlng]")
    plain = [float(v) for v in page.get_attribute(".me-dot", "data-latlng").split(",")]
    assert abs(plain[0] - lat) < 1e-6 and abs(plain[1] - lon) < 1e-6, plain
    page.wait_for_function("() => document.getElementById('cell-status').dataset.inside")
    status_plain = page.inner_text("#cell-status")
    assert "您在网格内" in status_plain, status_plain

    # over AMap: the dot where geo.crs.china puts it, not where the GPS says
    asked.clear()
    page.check("#amap")
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    page.wait_for_function(
        "([la, lo]) => { const e = document.querySelector('.me-dot');"
        " const v = e && (e.dataset.latlng || '').split(',').map(Number);"
        " return v && Math.abs(v[0] - la) < 1e-5 && Math.abs(v[1] - lo) < 1e-5; }",
        arg=[glat, glon], timeout=30_000)
    got = [float(v) for v in page.get_attribute(".me-dot", "data-latlng").split(",")]
    geod = Geod(ellps="WGS84")
    off = geod.inv(got[1], got[0], glon, glat)[2]
    assert off < 0.5, f"position dot {off:.2f} m from GCJ-02 of the GPS position"
    assert geod.inv(lon, lat, glon, glat)[2] > 300  # the shift is real here: the check bites
    page.wait_for_selector("#map img.leaflet-tile")
    status_amap = page.inner_text("#cell-status")
    assert "您在网格内" in status_amap, status_amap
    assert abs(_edge_m(status_amap) - _edge_m(status_plain)) <= 1, (status_plain, status_amap)
    page.wait_for_function("() => document.querySelectorAll('#map .case-dot').length > 0")
    cases = [u for u in asked if "/me/incidents?" in u]
    # over AMap the app asks in GCJ-02 (a refresh already on its way as the box was ticked
    # may still go out in WGS84 under load: the last request decides what is drawn)
    assert cases and "crs=GCJ02" in cases[-1], cases
    assert any("/me/cell?crs=GCJ02" in u for u in asked), asked
    # the app's script carries no GCJ-02 formula of its own (the Krasovsky constants)
    script = page.evaluate("fetch('/m/app.js').then(r => r.text())")
    assert "6378245" not in script and "0.00669342" not in script
    assert errors == [], errors
    context.close()
