"""A county just added by ``wangge region add`` (no cells, no township units, no boundary
set yet) in the scope of the prefecture command centre (demo-prefecture, 吕梁市) breaks
nothing of the prefecture's (review M1, M2):

- the whole-scope monthly report (JSON, HTML; API and CLI) answers for the counties with data
  and lists the new county with zeros and the note 名下暂无网格 (it used to fail with 404
  "没有当日有效的网格边界集" for the whole prefecture);
- the dispatch map of the new county (page, wall screen, CLI) draws its outline with no
  townships and zero counters (it used to fail with 500 KeyError 'level'), and so do the
  prefecture's map and wall screen with the county in scope;
- the error of a region without a set valid on a date reads in proper English.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.cli import main as cli
from api.main import create_app
from geo.demo.grid_county import PREFECTURE_USER
from tests.conftest import make_settings, serve_in_thread
from tests.served import bearer_for, log_in
from tests.two_counties import LIN, XING, two_county_fixture

two_counties = two_county_fixture()
NEW = "141130"  # 交口县, added with a small square of its own (overlapping no other county)
MONTH = "2026-10"
PORT = int(os.environ.get("WANGGE_TEST_EMPTY_COUNTY_PORT", "8193"))
SHOTS = Path(os.environ.get("WANGGE_SHOTS", "/work/shots"))
AS_OF = "2026-11-05T12:00:00+08:00"


def _run(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"WANGGE_DATABASE_URL": url},
                              catch_exceptions=False)


@pytest.fixture(scope="module")
def added(two_counties: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[str, Engine]:
    url, engine = two_counties
    square = [[111.10, 36.90], [111.20, 36.90], [111.20, 37.00], [111.10, 37.00],
              [111.10, 36.90]]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
          "geometry": {"type": "Polygon", "coordinates": [square]}}]}
    path = tmp_path_factory.mktemp("empty-county") / "jiaokou.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    res = _run(url, "region", "add", NEW, "--boundary", str(path), "--name", "交口县")
    assert res.exit_code == 0, res.output
    return url, engine


def test_scope_report_and_maps_with_a_county_without_grid(
        added: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = added
    pref = bearer_for(engine, PREFECTURE_USER[0])
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        r = client.get("/reports/monthly", headers=pref,
                       params={"month": MONTH, "as_of": AS_OF, "format": "json"})
        assert r.status_code == 200, r.text[:500]
        report = r.json()
        assert [c["code"] for c in report["inputs"]["counties"]] == [XING, LIN, NEW]
        assert "交口县: 名下暂无网格" in report["inputs"]["boundary_set"]
        rows = {g["key"]: g for g in report["counties"]["rows"]}
        assert rows[XING]["reports"] > 0 and rows[LIN]["reports"] > 0
        assert rows.get(NEW, {"reports": 0})["reports"] == 0
        html = client.get("/reports/monthly", headers=pref,
                          params={"month": MONTH, "as_of": AS_OF, "format": "html"})
        assert html.status_code == 200, html.text[:500]
        assert "交口县" in html.text and "名下暂无网格" in html.text

        for params in ({"region": NEW}, {"region": NEW, "wall": "1"}, {}, {"wall": "1"}):
            page = client.get("/maps/dispatch", headers=pref, params=params)
            assert page.status_code == 200, (params, page.text[:500])
            assert "交口县" in page.text, params
        figures = client.get("/maps/dispatch/figures", headers=pref, params={"region": NEW})
        assert figures.status_code == 200, figures.text[:500]

    out = tmp_path / "jiaokou.html"
    res = _run(url, "map", "dispatch", "--region", NEW, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "交口县" in out.read_text(encoding="utf-8")
    pdf = tmp_path / "lvliang.html"
    res = _run(url, "report", "monthly", "--region", "141100", "--month", MONTH,
               "-o", str(pdf))
    assert res.exit_code == 0, res.output
    assert "名下暂无网格" in pdf.read_text(encoding="utf-8")


def test_landing_offers_no_dead_link_for_a_county_without_grid(
        added: tuple[str, Engine]) -> None:
    """The prefecture's landing page (review round 14, item 2): the county without a grid
    says what to do (尚无网格: 请先导入网格 wangge import cells ...) instead of offering its
    coverage maps, report and analyses, which answer 404 until a grid is active; every link
    it does offer for that county, and for the whole scope, opens (< 400) for her."""
    import re
    from html import unescape

    url, engine = added
    pref = bearer_for(engine, PREFECTURE_USER[0])
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        for lang, says in (("zh", "交口县 (141130) 尚无网格: 请先导入网格 wangge import cells "
                            f"FILE --region {NEW} --commit --activate"),
                           ("en", f"交口县 (141130) has no grid yet: import it first with "
                            f"wangge import cells FILE --region {NEW} --commit --activate")):
            page = client.get("/", headers=pref, params={"lang": lang})
            assert page.status_code == 200, page.text[:300]
            html = unescape(page.text)
            box = re.search(rf'<section class="county" data-region="{NEW}">(.*?)</section>',
                            html, re.S)
            assert box and says in box.group(1), html[-3000:]
            scope = html[:html.index('<section class="county"')]
            links = re.findall(r'href="([^"]+)"', box.group(1) + scope)
            assert f"/maps/dispatch?region={NEW}" in "".join(links), links
            for href in links:
                r = client.get(href, headers=pref, follow_redirects=False)
                assert r.status_code < 400, (lang, href, r.status_code, r.text[:300])
            for code in (XING, LIN):  # the counties with a grid keep every link
                other = re.search(rf'data-region="{code}">(.*?)</section>', html, re.S)
                assert other and "/maps/coverage/cameras" in other.group(1), code
                assert "wangge import cells" not in other.group(1), code


def test_no_set_valid_on_a_date_reads_in_english(added: tuple[str, Engine]) -> None:
    import datetime as dt

    from geo.boundaries.sets import set_valid_at
    from geo.errors import NotFound

    with added[1].connect() as conn, pytest.raises(NotFound) as err:
        set_valid_at(conn, NEW, dt.date(2026, 10, 31))
    assert f"region {NEW} has no boundary set valid on 2026-10-31" in str(err.value)


@pytest.mark.browser
def test_wall_with_a_county_without_grid_fits_the_screen(
        browser: Any, added: tuple[str, Engine],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The new county's own wall screen draws its outline, no error; the prefecture's wall
    screen with it in scope shows its five counter tiles inside the window at 1600x900 and
    1920x1080 (review L4: 本月结案率 was cut at the right edge). Screenshot:
    /work/shots/wall-fit.png (WANGGE_SHOTS)."""
    settings = make_settings(added[0], demo_open=False,
                             data_dir=tmp_path_factory.mktemp("empty-county-wall"))
    with serve_in_thread(settings, "127.0.0.1", PORT) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        log_in(page, base, "", f"/maps/dispatch?wall=1&region={NEW}", PREFECTURE_USER[:2])
        page.wait_for_load_state("networkidle")
        assert not errors, errors
        assert page.locator(".leaflet-overlay-pane path").count() >= 1  # the outline
        assert page.locator(".wangge-wall-side .wangge-counter.open .n").inner_text() == "0"
        page.goto(f"{base}/maps/dispatch?wall=1")
        page.wait_for_load_state("networkidle")
        assert not errors, errors

        # a prefecture's figures at their widest: thousands of cases, a closing rate of 100 %
        def widest(route: Any) -> None:
            figures = route.fetch().json()
            figures["totals"].update(today=1234, open=12345, overdue=12345, urgent=1234,
                                     closing_rate=1.0)
            route.fulfill(json=figures)

        page.route("**/maps/dispatch/figures*", widest)
        page.evaluate("() => window.Wangge.dispatchNow.figures()")
        page.wait_for_function("() => document.querySelector("
                               "'.wangge-wall-side .wangge-counter.open .n')"
                               ".textContent === '12345'")
        SHOTS.mkdir(parents=True, exist_ok=True)
        for w, h in ((1920, 1080), (1600, 900)):
            page.set_viewport_size({"width": w, "height": h})
            page.wait_for_timeout(300)
            boxes = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.wangge-wall-side .wangge-counter')).map(e => {
                const r = e.getBoundingClientRect(); const n = e.querySelector('.n');
                return [r.left, r.right, n.scrollWidth <= n.clientWidth + 1]; })""")
            page.screenshot(path=str(SHOTS / ("wall-fit.png" if w == 1600
                                              else f"wall-fit-{w}.png")))
            assert len(boxes) == 5, boxes
            assert all(0 <= left and right <= w and fits for left, right, fits in boxes), \
                (w, h, boxes)
        page.close()
