"""Planners' maps that read at a glance (issue 16, item 5), in headless Chromium, offline.

The app is served by uvicorn in a thread against the shared demo DB; the planner is the demo
planner (a signed session token sent as ``Authorization``), the other maps are opened as the
open demo's command centre. Every request to another host is aborted. Screenshots go to
artifacts/screenshots/planner_*.png.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.conftest import REPO_ROOT, make_settings, serve_in_thread

pytestmark = pytest.mark.browser
HOST = "127.0.0.1"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
Q3 = "from=2026-07-31&to=2026-10-30"
CAMERAS = f"/maps/coverage/cameras?{Q3}"
CODE = re.compile(r"SJ\d{14}")
BACKGROUND = (0xF4, 0xF1, 0xEA)  # .leaflet-container in wangge.css (no basemap)

MAP_JS = "(() => Object.values(window).find(v => v instanceof L.Map))()"


@pytest.fixture(scope="module")
def server(demo_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread (a free port)."""
    with serve_in_thread(make_settings(demo_url), HOST, 0) as url:
        yield url


def open_page(browser: Any, url: str, shot: str, headers: dict[str, str] | None = None,
              viewport: dict[str, int] | None = None) -> tuple[Any, Any, list[str], list[str]]:
    """Open ``url`` with every request to another host aborted; (context, page, blocked,
    errors)."""
    ctx = browser.new_context(viewport=viewport or {"width": 1600, "height": 1100},
                              extra_http_headers=headers or {})
    page = ctx.new_page()
    blocked: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = url.split("/maps/")[0] if url.startswith("http") else ""

    def route(r: Any) -> None:
        u = r.request.url
        if (base and u.startswith(base + "/")) or u.startswith(("data:", "file:", "about:")):
            r.continue_()
        else:
            blocked.append(u)
            r.abort()

    page.route("**/*", route)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"planner_{shot}.png"))
    return ctx, page, blocked, errors


@pytest.fixture(scope="module")
def planner_cameras(server: str, browser: Any, role_headers: dict[str, dict[str, str]]
                    ) -> Iterator[tuple[Any, list[str], list[str]]]:
    """The planner's camera coverage map of Q3, opened once (the site search takes a while);
    each test starts from the county view (:func:`county_view`)."""
    ctx, page, blocked, errors = open_page(browser, server + CAMERAS, "cameras",
                                           role_headers["planner"])
    page.evaluate(f"() => {{ const m = {MAP_JS}; window.__home = [m.getCenter(), m.getZoom()]; }}")
    yield page, blocked, errors
    ctx.close()


def county_view(page: Any) -> None:
    """Back to the view the page opened with."""
    page.evaluate(f"() => {MAP_JS}.setView(window.__home[0], window.__home[1], "
                  "{animate: false})")
    page.wait_for_timeout(300)


def count(page: Any, selector: str) -> int:
    return int(page.eval_on_selector_all(selector, "e => e.length"))


def chrome_checks(page: Any) -> None:
    """Attribution without Leaflet's prefix and flag; a metric-only scale bar."""
    assert count(page, ".leaflet-control-attribution a[href*='leafletjs']") == 0
    assert count(page, ".leaflet-control-attribution svg") == 0
    assert "Leaflet" not in page.evaluate(
        "() => [...document.querySelectorAll('.leaflet-control-attribution')]"
        ".map(e => e.textContent).join(' ')")
    scales = page.evaluate("() => [...document.querySelectorAll('.leaflet-control-scale-line')]"
                           ".map(e => e.textContent)")
    assert len(scales) == 1 and re.fullmatch(r"\d+ k?m", scales[0]), scales
    assert not any(re.search(r"\b(mi|ft)\b", s) for s in scales)


# --- the planner's camera coverage map ----------------------------------------------------------

def test_planner_sees_uncovered_incidents_as_anonymous_points(
        planner_cameras: tuple[Any, list[str], list[str]], demo_engine: Any) -> None:
    page, blocked, errors = planner_cameras
    county_view(page)
    assert blocked == [] and errors == [], (blocked, errors)
    drawn = count(page, "path.wangge-incident.wangge-point")
    legend = page.inner_text(".wangge-legend")
    m = re.search(r"不在任何摄像头视域内的事件: 显示 (\d+) / 共 (\d+)", legend)
    assert m, legend
    assert drawn > 0 and drawn == int(m.group(1)) <= int(m.group(2))
    assert "匿名点" in legend and "无编号、描述" in legend
    for cls in ("overdue", "open", "closed"):
        assert count(page, f"path.wangge-point.{cls}") > 0, cls
    # nothing of a case but its position, category and status class reaches the page
    html = page.content()
    assert "Wangge.points(" in html and "Wangge.incidents(" not in html
    assert not CODE.search(html) and not CODE.search(page.inner_text("body"))
    with demo_engine.connect() as conn:
        texts = conn.execute(text("""
            SELECT i.description, i.location_text, i.reporter_name, i.reporter_phone
              FROM incident i
             WHERE i.reported_at >= '2026-07-31' AND i.reported_at < '2026-10-31'
               AND NOT EXISTS (SELECT 1 FROM camera k WHERE k.status = 'online'
                               AND k.sector IS NOT NULL AND ST_Intersects(k.sector, i.geom))
             LIMIT 400""")).all()
        names = " ".join(r[0] for r in conn.execute(text(
            "SELECT name || ' ' || name_en FROM incident_category")))
    values = {v for row in texts for v in row if v and len(v) >= 4 and v not in names}
    assert values and not [v for v in values if v in html]
    # a point's tooltip: category and status class only
    page.hover("path.wangge-point.overdue", force=True)
    page.wait_for_timeout(200)
    tip = page.inner_text(".leaflet-tooltip")
    assert tip.endswith("· 超期") and not CODE.search(tip)
    page.mouse.move(5, 5)


def test_hot_spots_do_not_hide_coverage_classes(
        planner_cameras: tuple[Any, list[str], list[str]]) -> None:
    from PIL import Image

    page, blocked, errors = planner_cameras
    county_view(page)
    assert blocked == [] and errors == [], (blocked, errors)
    hot = page.evaluate(f"""() => {{ const map = {MAP_JS}; const cov = {{}}, hot = [];
        map.eachLayer(l => {{ const c = String(l.options && l.options.className || '');
            if (!l.feature) return;
            if (c.includes('wangge-coverage')) cov[l.feature.properties.code] = l;
            if (c.includes('wangge-hotspot')) hot.push(l); }});
        return hot.map(h => ({{code: h.feature.properties.code,
            fillOpacity: h.options.fillOpacity, fill: cov[h.feature.properties.code] ?
            cov[h.feature.properties.code].options.fillColor : null,
            opacity: cov[h.feature.properties.code] ?
            cov[h.feature.properties.code].options.fillOpacity : null}})); }}""")
    assert len(hot) > 5
    assert all(h["fillOpacity"] == 0 and h["fill"] for h in hot)
    # the hot spots' own path: no fill painted, an outline in the palette's hot colour
    styles = page.evaluate("""() => [...document.querySelectorAll('path.wangge-hotspot')]
        .map(p => [p.getAttribute('fill-opacity'), p.getAttribute('stroke')])""")
    from maps import styles as st

    assert {s[0] for s in styles} == {"0"} and {s[1] for s in styles} == {st.HOT_LINE}
    sampled = 0
    for h in sorted(hot, key=lambda h: h["code"])[:6]:
        # zoom to the hot cell; sample the point of its interior farthest from its outline,
        # where the hot spot path is the top element and the cell's coverage fill is next
        page.evaluate(f"""(code) => {{ const map = {MAP_JS}; let hot = null;
            map.eachLayer(l => {{ if (l.feature && l.feature.properties.code === code &&
                String(l.options.className).includes('wangge-hotspot')) hot = l; }});
            map.fitBounds(hot.getBounds(), {{animate: false, padding: [80, 80]}}); }}""",
                      h["code"])
        page.wait_for_timeout(400)
        pt = page.evaluate(f"""(code) => {{ const map = {MAP_JS}; let hot = null, cov = null;
            map.eachLayer(l => {{ if (!l.feature || l.feature.properties.code !== code) return;
                const c = String(l.options.className || '');
                if (c.includes('wangge-hotspot')) hot = l;
                if (c.includes('wangge-coverage')) cov = l; }});
            const rings = hot._parts.map(r => r.map(p => map.layerPointToContainerPoint(p)));
            const rect = map.getContainer().getBoundingClientRect();
            function segDist(p, a, b) {{ const dx = b.x - a.x, dy = b.y - a.y;
                const t = Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) /
                    (dx * dx + dy * dy || 1)));
                return Math.hypot(p.x - a.x - t * dx, p.y - a.y - t * dy); }}
            let best = null;
            const b = hot.getBounds(), sw = map.latLngToContainerPoint(b.getSouthWest()),
                ne = map.latLngToContainerPoint(b.getNorthEast());
            for (let x = sw.x; x <= ne.x; x += 4) for (let y = ne.y; y <= sw.y; y += 4) {{
                const els = document.elementsFromPoint(x + rect.left, y + rect.top).filter(
                    e => e.tagName === 'path' || e.classList.contains('leaflet-marker-icon'));
                if (els.length < 2 || els[0] !== hot._path || els[1] !== cov._path) continue;
                let d = Infinity;
                rings.forEach(r => r.forEach((p, i) => {{
                    d = Math.min(d, segDist({{x, y}}, p, r[(i + 1) % r.length])); }}));
                if (!best || d > best.d) best = {{x: x + rect.left, y: y + rect.top, d}};
            }}
            return best; }}""", h["code"])
        if pt is None or pt["d"] < 6:
            continue
        png = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        got = np.array(png.getpixel((round(pt["x"]), round(pt["y"]))), dtype=float)
        fill = np.array([int(h["fill"][i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
        want = h["opacity"] * fill + (1 - h["opacity"]) * np.array(BACKGROUND, dtype=float)
        assert np.abs(got - want).max() <= 4, (h, pt, got, want)
        sampled += 1
    assert sampled >= 3
    page.screenshot(path=str(SHOTS / "planner_hot_spot_zoomed.png"))


def test_coverage_classes_read_at_county_zoom(
        planner_cameras: tuple[Any, list[str], list[str]], server: str, browser: Any,
        role_headers: dict[str, dict[str, str]]) -> None:
    from maps import styles as st

    page = planner_cameras[0]
    county_view(page)
    legend = page.inner_text(".wangge-legend")
    # fixed breaks, the same on every map: 0, < 5, 5-25, 25-50, 50-75, >= 75 %
    for label in ("0 % (无摄像头视域)", "> 0 – < 5 %", "5 – < 25 %", "25 – < 50 %",
                  "50 – < 75 %", "≥ 75 %", "固定分级"):
        assert label in legend, label
    assert "分位数" not in legend
    assert "mapclassify" not in page.content() and "Jenks" not in page.content()
    cells = page.evaluate(f"""() => {{ const map = {MAP_JS}, out = [];
        map.eachLayer(l => {{ if (l.feature && String(l.options.className)
            .includes('wangge-coverage')) {{ out.push([l.feature.properties.share_pct,
            l.options.fillColor]); }} }}); return out; }}""")
    classes = [st.COVERAGE_ZERO, *st.COVERAGE_SCALE]
    seen = set()
    for share, fill in cells:
        v = 0.005 if share.startswith("< 0.01") else float(share.split()[0])
        want = 0 if v == 0 else 1 + sum(v >= b for b in (5, 25, 50, 75))
        if v == 0 or all(abs(v - b) > 0.5 for b in (5, 25, 50, 75)):  # not a rounded edge
            assert fill == classes[want], (share, fill)
        seen.add(fill)
    # the town's cells spread over the classes instead of one "1.1-76 %" class; tiny shares
    # of rural cells (a camera's corner) fall in "< 5 %", nearly white, not "covered"
    assert len(seen) == 6, seen
    assert any(s.startswith("<") or 0 < float(s.split()[0]) < 1 for s, _ in cells)
    lightness = [_lightness(c) for c in classes]
    assert lightness[0] > lightness[1] >= 90  # 0 and < 5 % both read as uncovered
    assert all(a - b >= 12 for a, b in zip(lightness[1:], lightness[2:], strict=False)), \
        lightness
    # hot spot note: the weights and the minimum count, in words
    assert "二值邻接" in legend and "至少 3 起事件" in legend
    en_ctx, en, _b, _e = open_page(browser, server + CAMERAS + "&lang=en", "cameras_en",
                                   role_headers["planner"])
    legend = en.inner_text(".wangge-legend")
    assert "0 % (no camera view)" in legend and "Fixed classes" in legend
    assert "binary contiguity" in legend and "at least 3 incidents" in legend
    assert "anonymous points" in legend
    en_ctx.close()


def test_camera_map_compounds_cameras_and_downloads(
        planner_cameras: tuple[Any, list[str], list[str]], server: str, demo_engine: Any) -> None:
    """Compounds no camera sees are outlined (a layer of their own), cameras are on by default
    from the town's zoom, and the page links its PNG and the analysis's workbook, which
    answer."""
    from maps import styles as st

    page, _blocked, errors = planner_cameras
    county_view(page)
    with demo_engine.connect() as conn:
        blind = conn.execute(text(
            "SELECT count(*) FROM compound c WHERE NOT EXISTS (SELECT 1 FROM camera k WHERE "
            "k.status = 'online' AND k.sector IS NOT NULL AND ST_Intersects(k.sector, c.geom))"
        )).scalar_one()
    assert blind > 0
    control = page.inner_text(".leaflet-control-layers")
    assert "小区 (有无摄像头视域)" in control
    outlined = page.evaluate(f"""() => {{ let n = 0; {MAP_JS}.eachLayer(l => {{
        if (l.feature && l.feature.properties.blind === true
            && l.options.color === '{st.FOCUS}') {{ n++; }} }}); return n; }}""")
    assert outlined == blind
    assert f"无摄像头视域的小区 ({blind})" in page.inner_text(".wangge-legend")
    # cameras: on by default, not at county zoom, drawn from zoom 14 over the town
    assert count(page, "path.wangge-camera") == 0
    page.evaluate(f"() => {MAP_JS}.setView([38.462, 111.135], 15, {{animate: false}})")
    page.wait_for_timeout(400)
    assert count(page, "path.wangge-camera") > 0
    county_view(page)
    links = page.evaluate("() => [...document.querySelectorAll('a.wangge-download')]"
                          ".map(a => [a.textContent, a.getAttribute('href')])")
    hrefs = dict(links)
    assert set(hrefs) == {"本图 PNG", "分析表 Excel"}, links
    assert hrefs["分析表 Excel"] == ("/analysis/camera-coverage?format=xlsx&unit=cell&"
                                  "from=2026-07-31&to=2026-10-30&lang=zh")
    assert hrefs["本图 PNG"].startswith("/maps/coverage/cameras?") and \
        hrefs["本图 PNG"].endswith("&format=png")
    xlsx = page.context.request.get(server + hrefs["分析表 Excel"])
    assert xlsx.status == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    png = page.context.request.get(server + hrefs["本图 PNG"] + "&k=0", timeout=300_000)
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.body().startswith(b"\x89PNG")
    assert errors == []


def _lightness(hex_colour: str) -> float:
    """CIE L* of an sRGB colour."""
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    y = float(lin @ np.array([0.2126, 0.7152, 0.0722]))
    return 116 * y ** (1 / 3) - 16 if y > 0.008856 else 903.3 * y


def _overlaps(rects: list[dict[str, float]]) -> list[tuple[int, int]]:
    out = []
    for i, a in enumerate(rects):
        for j, b in enumerate(rects[:i]):
            if (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
                    and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]):
                out.append((j, i))
    return out


def covered_labels(page: Any) -> list[str]:
    """Township names on screen that a box on the right (title, layers, legend) covers."""
    return page.evaluate("""() => {
        const boxes = [...document.querySelectorAll('.leaflet-right .leaflet-control')]
            .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
        const hit = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width &&
            a.y < b.y + b.height && b.y < a.y + a.height;
        return [...document.querySelectorAll('.wangge-label-text')].filter(e => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && boxes.some(b => hit(r, b)); }).map(e => e.textContent); }""")


def test_legend_covers_no_township_name(
        server: str, browser: Any, role_headers: dict[str, dict[str, str]]) -> None:
    """On a laptop screen the county opens in the part of the map the title, layer list and
    legend leave free: no township name is under them."""
    laptop = {"width": 1366, "height": 768}
    for url, shot in ((CAMERAS, "cameras_laptop"),
                      ("/maps/coverage/property?unit=township", "property_laptop")):
        ctx, page, _b, errors = open_page(browser, server + url, shot, role_headers["planner"],
                                          viewport=laptop)
        assert errors == [] and count(page, ".wangge-label-text") == 17
        assert covered_labels(page) == [], url
        ctx.close()


def test_site_markers_never_overlap(planner_cameras: tuple[Any, list[str], list[str]]) -> None:
    page, blocked, errors = planner_cameras
    county_view(page)
    assert blocked == [] and errors == []
    rects_js = """() => [...document.querySelectorAll('.wangge-site')].map(e => {
        const r = e.getBoundingClientRect();
        return {x: r.x, y: r.y, width: r.width, height: r.height, text: e.textContent}; })"""
    zoom = page.evaluate(f"() => {MAP_JS}.getZoom()")
    assert zoom <= 11  # the county view (half zoom steps)
    for dz in (0, 1, -1, 2):
        page.evaluate(f"(z) => {MAP_JS}.setZoom(z, {{animate: false}})", zoom + dz)
        page.wait_for_timeout(300)
        rects = page.evaluate(rects_js)
        assert len(rects) == 10 and sorted(int(r["text"]) for r in rects) == list(range(1, 11))
        assert all(r["width"] >= 20 for r in rects)  # the rank stays readable
        assert _overlaps(rects) == [], (zoom + dz, rects)
        if dz == 0:
            # moved badges are tied to their true position by a leader line
            assert count(page, "path.wangge-site-leader") > 0
            assert count(page, "path.wangge-site-leader") == count(page, "path.wangge-site-anchor")
            page.screenshot(path=str(SHOTS / "planner_sites_county.png"))
    assert errors == []


def test_every_map_has_clean_chrome_title_and_township_labels(
        planner_cameras: tuple[Any, list[str], list[str]], server: str, browser: Any,
        role_headers: dict[str, dict[str, str]]) -> None:
    page = planner_cameras[0]
    county_view(page)
    chrome_checks(page)
    assert "摄像头覆盖率" in page.inner_text(".wangge-title-main")
    assert "时段: 2026-07-31 – 2026-10-30" in page.inner_text(".wangge-title-sub")
    assert len(page.query_selector_all(".wangge-label")) == 17
    cases = [
        ("/maps/coverage/property", "chrome_property", role_headers["planner"], "物业管理覆盖率",
         "数据截至 "),
        (f"/maps/dispatch?{Q3}", "chrome_dispatch", None, "指挥调度图",
         "时段: 2026-07-31 – 2026-10-30"),
        ("/maps/cells/141123100001001", "chrome_cell", None, "网格员地图", "数据截至 "),
    ]
    for url, shot, headers, title, sub in cases:
        ctx, page, blocked, errors = open_page(browser, server + url, shot, headers)
        assert blocked == [] and errors == [], (url, blocked, errors)
        chrome_checks(page)
        assert title in page.inner_text(".wangge-title-main")
        assert sub in page.inner_text(".wangge-title-sub"), page.inner_text(".wangge-title")
        if "cells/" not in url:
            labels = page.evaluate("() => [...document.querySelectorAll('.wangge-label')]"
                                   ".map(e => e.textContent)")
            assert len(labels) == 17 and "蔚汾镇" in labels, labels
        ctx.close()


def test_property_map_shows_the_seed_targets_and_the_urban_clear_out(
        server: str, browser: Any, role_headers: dict[str, dict[str, str]],
        demo_engine: Any) -> None:
    with demo_engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM compound WHERE mgmt_mode = 'none'")
                            ).scalar_one()
    assert left > 0
    ctx, page, blocked, errors = open_page(browser, server + "/maps/coverage/property",
                                           "property", role_headers["planner"])
    assert blocked == [] and errors == []
    legend = page.inner_text(".wangge-legend")
    assert f"城区无物业管理小区清零 (2022-04 起, 城区 100 %): 未达标, 尚余 {left} 个" in legend
    assert "2022-12-31 前 80 %" in legend and "2023-12-31 前 90 %" in legend
    assert f"无物业管理小区 ({left}" in legend
    assert "mapclassify" not in page.content()
    hrefs = page.evaluate("() => [...document.querySelectorAll('a.wangge-download')]"
                          ".map(a => a.getAttribute('href'))")
    assert hrefs == ["/maps/coverage/property?format=png",
                     "/analysis/property-management?format=xlsx&unit=community&lang=zh"], hrefs
    ctx.close()
    ctx, page, _b, _e = open_page(browser, server + "/maps/coverage/property?lang=en",
                                  "property_en", role_headers["planner"])
    legend = page.inner_text(".wangge-legend")
    assert "No unmanaged compound in the urban area (100 % from 2022-04)" in legend
    assert "80 % by 2022-12-31" in legend and "90 % by 2023-12-31" in legend
    ctx.close()


def test_png_snapshot_has_title_period_and_township_labels(
        browser: Any, demo_url: str, tmp_path: Path) -> None:
    """``wangge map coverage-cameras -o FILE --png FILE`` (own process, as a user runs it)."""
    import os
    import subprocess
    import sys

    from PIL import Image

    f, png = tmp_path / "cameras.html", SHOTS / "planner_cli_cameras.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    res = subprocess.run(
        [sys.executable, "-m", "api.cli", "map", "coverage-cameras", "-o", str(f), "--png",
         str(png), "--from", "2026-07-31", "--to", "2026-10-30"],
        env={**os.environ, "WANGGE_DATABASE_URL": demo_url}, capture_output=True, text=True,
        timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "blocked" not in res.stdout
    assert Image.open(png).size == (1600, 1100)
    # what the snapshot shows, read from the same page
    ctx, page, blocked, errors = open_page(browser, f.as_uri(), "cli_cameras_dom")
    assert blocked == [] and errors == []
    chrome_checks(page)
    assert "摄像头覆盖率" in page.inner_text(".wangge-title")
    assert "2026-07-31 – 2026-10-30" in page.inner_text(".wangge-title")
    labels = page.evaluate("""() => [...document.querySelectorAll('.wangge-label-text')]
        .map(e => { const r = e.getBoundingClientRect();
          return [e.textContent, r.x, r.y, r.width, r.height,
                  parseFloat(getComputedStyle(e).fontSize)]; })""")
    assert len(labels) == 17
    inside = [lab for lab in labels if 0 <= lab[1] and lab[1] + lab[3] <= 1600
              and 0 <= lab[2] and lab[2] + lab[4] <= 1100]
    assert len(inside) == 17 and min(lab[5] for lab in labels) >= 13
    ctx.close()


def test_one_palette_camera_states_and_hot_spots() -> None:
    from maps import styles as st

    grid = {st.CELL_LINE, st.CELL_FILL, st.DEDICATED_LINE, st.DEDICATED_FILL, st.HERE}
    cams = {s["color"] for s in st.CAMERA_STYLES.values()}
    incidents = {c for s in st.INCIDENT_STYLES.values() for c in s.values()}
    assert not cams & grid and not cams & incidents and len(cams) == 3
    choropleth = {st.COVERAGE_ZERO, *st.COVERAGE_SCALE, *st.TARGET_SCALE, st.NO_DATA}
    assert not choropleth & (cams | incidents | grid)
    assert st.HOT_LINE not in incidents and st.OVERDUE not in choropleth | cams
    doc = st.__doc__ or ""
    assert "Cameras are never blue" in doc and "never a fill" in doc
    assert json.dumps(st.SPOT_LINES)  # plain data for the page


def test_hot_spots_need_a_minimum_count_and_say_their_weights(demo_engine: Any) -> None:
    import datetime as dt

    from geo.auth.principal import ANONYMOUS_COMMAND
    from geo.mapdata import analysis as cov
    from geo.periods import Period

    q3 = Period.from_dates(dt.date(2026, 7, 31), dt.date(2026, 10, 30))
    with demo_engine.connect() as conn:
        spots, summary = cov.hotspot_layer(conn, ANONYMOUS_COMMAND, "141123", q3)
        loose, loose_sum = cov.hotspot_layer(conn, ANONYMOUS_COMMAND, "141123", q3,
                                             min_incidents=0)
    assert summary["min_incidents"] == 3 and (spots["incidents"] >= 3).all() and len(spots)
    assert "binary contiguity" in summary["weights"] and "itself" in summary["weights"]
    # the rule only removes hot cells with fewer incidents; the others keep their bins
    few = loose[loose["incidents"] < 3]
    assert set(loose["code"]) - set(few["code"]) == set(spots["code"])
    assert summary["hot_below_min_incidents"] == len(few)
    assert loose_sum["hot_below_min_incidents"] == 0
