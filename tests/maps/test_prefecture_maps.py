"""The prefecture view of the dispatch map (issue 21 item 2), with real logins, in headless
Chromium with the internet cut off, on two counties (兴县 demo + 临县 added by ``region add`` /
``demo load --region``).

- The prefecture command centre (demo-prefecture, 吕梁市) opening ``/maps/dispatch`` without
  ``?region=`` sees both county outlines and each county's counters (today's intake, open,
  overdue, closing rate this month), equal to the wall screen's for that county
  (``/maps/dispatch/figures?region=``); a click on a county zooms to it; its name opens the
  county's own dispatch map (``?region=141124``).
- The 兴县 command centre and grid worker get their county's map exactly as before: no county
  boxes, nothing of 临县 in the page; ``?region=141124`` is refused (403).
Screenshots: artifacts/screenshots/prefecture-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import REPO_ROOT
from tests.served import bearer_for, log_in
from tests.two_counties import LIN, XING, cell_point, lin_codes, served_fixture, two_county_fixture

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "artifacts" / "screenshots"

two_counties = two_county_fixture()
served = served_fixture("WANGGE_TEST_PREFECTURE_MAPS_PORT", 8187, "prefecture-maps")


def _open(browser: Any, base: str, user: tuple[str, str], path: str, shot: str
          ) -> tuple[Any, list[str], list[str]]:
    """Log in as ``user`` (name, password) through the form and open ``path`` offline."""
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    blocked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Any) -> None:
        if r.request.url.startswith((base + "/", "data:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    log_in(page, base, "", path, user)
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"prefecture-{shot}.png"))
    return page, blocked, errors


MAP_JS = ("() => { for (const k of Object.keys(window)) { if (k.startsWith('map_') && "
          "window[k] instanceof L.Map) return k; } return null; }")


def _expected_counters(base: str, engine: Engine, code: str) -> list[str]:
    """The wall screen's counters of the county, as the page writes them."""
    with httpx.Client(base_url=base, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        r = api.get(f"/maps/dispatch/figures?region={code}")
    assert r.status_code == 200, r.text
    f = r.json()["totals"]
    rate = f["closing_rate"]
    return [str(f["today"]), str(f["open"]), str(f["overdue"]),
            "—" if rate is None else f"{rate:.1%}"]


def test_prefecture_sees_every_county(browser: Any, served: str,
                                      two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    page, blocked, errors = _open(browser, served, PREFECTURE_USER[:2], "/maps/dispatch",
                                  "dispatch")
    assert not errors and not blocked, (errors, blocked)
    # both outlines: one interactive path per county in the counties layer
    outlines = page.locator(".leaflet-overlay-pane path.leaflet-interactive")
    assert outlines.count() == 2
    for code, name in ((XING, "兴县"), (LIN, "临县")):
        box = page.locator(f".wangge-county[data-region='{code}']")
        assert box.count() == 1 and box.is_visible(), code
        assert name in box.inner_text()
        want = _expected_counters(served, engine, code)
        got = [page.locator(f".wangge-county[data-region='{code}'] .wangge-county-{k} span")
               .inner_text() for k in ("today", "open", "overdue", "rate")]
        assert got == want, (code, got, want)
        row = page.locator(f"table.wangge-counties tr[data-region='{code}'] td")
        assert [row.nth(i).inner_text() for i in range(1, 5)] == want
    assert int(_expected_counters(served, engine, LIN)[1]) > 0  # 临县 has open cases

    # a click inside 临县 (away from its box) zooms to it
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell "
            "WHERE region_code = :r ORDER BY ST_Y(ST_Centroid(geom)) DESC LIMIT 1) s"),
            {"r": LIN}).one()
    name = page.evaluate(MAP_JS)
    assert name
    z0 = page.evaluate(f"() => window['{name}'].getZoom()")
    pt = page.evaluate(f"() => window['{name}'].latLngToContainerPoint([{lat}, {lon}])")
    box = page.locator(f"#{name}").bounding_box()
    page.mouse.click(box["x"] + pt["x"], box["y"] + pt["y"])
    page.wait_for_timeout(1200)
    z1 = page.evaluate(f"() => window['{name}'].getZoom()")
    center = page.evaluate(f"() => window['{name}'].getCenter()")
    page.screenshot(path=str(SHOTS / "prefecture-zoomed.png"))
    assert z1 > z0, (z0, z1)
    with engine.connect() as conn:
        inside = conn.execute(text(
            "SELECT ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490)) FROM admin_unit "
            "WHERE region_code = :r AND level = 'county'"),
            {"x": center["lng"], "y": center["lat"], "r": LIN}).scalar_one()
    assert inside, center

    # the county's name opens its own dispatch map
    page.goto(f"{served}/maps/dispatch")
    page.wait_for_load_state("networkidle")
    page.locator(f".wangge-county[data-region='{LIN}'] a").click()
    page.wait_for_url(re.compile(r"region=" + LIN), timeout=60_000)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "prefecture-county.png"))
    html = page.content()
    assert page.locator(".wangge-county").count() == 0
    assert "指挥调度图" in html and LIN in html
    page.close()


@pytest.mark.parametrize("role", ["command", "worker"])
def test_xing_users_see_nothing_of_lin(browser: Any, served: str,
                                       two_counties: tuple[str, Engine], role: str) -> None:
    engine = two_counties[1]
    page, blocked, errors = _open(browser, served, DEMO_USERS[role][:2], "/maps/dispatch",
                                  f"xing-{role}")
    assert not errors and not blocked, (errors, blocked)
    assert page.locator(".wangge-county").count() == 0
    html = page.content()
    assert "临县" not in html and LIN not in html and "指挥调度图" in html
    with httpx.Client(base_url=served, headers=bearer_for(engine, DEMO_USERS[role][0])
                      ) as api:
        for path in (f"/maps/dispatch?region={LIN}", f"/maps/dispatch/figures?region={LIN}"):
            r = api.get(path)
            assert r.status_code == 403 and "SJ" + LIN not in r.text, (path, r.status_code)
    page.close()


def _wall_rows(page: Any) -> dict[str, list[str]]:
    """The wall screen's rows by county (data-region) as the page writes them."""
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll(
        '.wangge-wall-side .wangge-towns tbody tr')).map(tr => [tr.dataset.region || '',
        Array.from(tr.cells).map(td => td.textContent)]))""")


def test_prefecture_wall_screen_covers_every_county(browser: Any, served: str,
                                                    two_counties: tuple[str, Engine]) -> None:
    """The prefecture's wall screen (``?wall=1`` without ``region``): both county outlines,
    one row of counters per county equal to that county's own wall figures, the scope's
    counters their sum (closing rate: /kpi?group_by=county's total), the lists across
    counties naming each case's county, and the live events of every county."""
    engine = two_counties[1]
    page, blocked, errors = _open(browser, served, PREFECTURE_USER[:2],
                                  "/maps/dispatch?wall=1", "wall")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(500)
    assert not errors and not blocked, (errors, blocked)
    assert page.locator(".wangge-wall-side h1").inner_text() == "市级指挥中心大屏"
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 2
    with httpx.Client(base_url=served, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        own = {code: api.get(f"/maps/dispatch/figures?region={code}").json()["totals"]
               for code in (XING, LIN)}
        scope = api.get("/maps/dispatch/figures")
        today = dt.date.fromisoformat(scope.json()["as_of"][:10])
        kpi = api.get("/kpi", params={"group_by": "county", "as_of": scope.json()["as_of"],
                                      "from": str(today.replace(day=1)),
                                      "to": str(today + dt.timedelta(days=1))})
    assert scope.status_code == 200 and kpi.status_code == 200, (scope.text, kpi.text)
    fig = scope.json()
    assert [r["code"] for r in fig["counties"]] == [XING, LIN]
    rows = _wall_rows(page)
    assert set(rows) == {XING, LIN}, rows
    for code, name in ((XING, "兴县"), (LIN, "临县")):
        f = own[code]
        assert rows[code][0].startswith(name), rows[code]  # 兴县(演示): the demo's name
        assert rows[code][1:5] == [str(f["today"]), str(f["open"]), str(f["overdue"]),
                                   str(f["urgent"])], (code, rows[code], f)
        row = next(r for r in fig["counties"] if r["code"] == code)
        assert {k: row[k] for k in f} == f, (code, row, f)
        assert page.locator(f".wangge-county[data-region='{code}']").count() == 1
    assert own[LIN]["open"] > 0 and own[XING]["open"] > 0
    for k in ("today", "open", "overdue", "urgent"):
        n = page.locator(f".wangge-wall-side .wangge-counter.{k} .n").inner_text()
        assert n == str(own[XING][k] + own[LIN][k]) == str(fig["totals"][k]), (k, n)
    assert fig["totals"]["closing_rate"] == kpi.json()["total"]["closing_rate"]
    # the lists across counties, each case with its county
    listed = page.locator(".wangge-wall-list.most_overdue li .county").all_inner_texts()
    assert listed and all(x.strip()[:2] in ("兴县", "临县") for x in listed), listed
    lin = lin_codes(engine)
    for i in fig["newest"] + fig["most_overdue"]:
        want = (LIN, "临县") if i["code"] in lin else (XING, "兴县")
        assert (i["county_code"], i["county_name"][:2]) == want, i
    assert {i["county_code"] for i in fig["most_overdue"]} == {XING, LIN}

    # live: a new case in 临县 reaches the prefecture's wall screen
    page.wait_for_function("() => window.Wangge.dispatchNow.connected === true",
                           timeout=60_000)
    lon, lat = cell_point(engine, LIN)
    with httpx.Client(base_url=served, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        r = api.post("/incidents", json={"category": "ebike_charging", "urgency": "urgent",
                                         "description": "电动车在楼道充电 (市级大屏测试)",
                                         "lon": lon, "lat": lat, "region": LIN})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    page.wait_for_function(  # the page keys a case by code and county (Wangge.caseKey)
        f"() => !!window.Wangge.dispatchNow.seen[window.Wangge.caseKey('{code}', '{LIN}')]",
        timeout=60_000)
    page.wait_for_function(f"() => document.querySelector('.wangge-wall-list.newest')"
                           f".textContent.includes('{code}')", timeout=60_000)
    # the live event names its county, as the lists do: the urgent case's alarm banner
    banner = page.locator(".wangge-alarm .what")
    banner.wait_for(timeout=30_000)
    # (the synthetic townships are called 临县第N乡镇: the county's name stands before them)
    assert code in banner.inner_text() and re.search(
        r"· 临县\S* 临县第\d+乡镇", banner.inner_text()), banner.inner_text()
    page.screenshot(path=str(SHOTS / "prefecture-wall-live.png"))
    page.close()


@pytest.mark.parametrize("role", ["command"])
def test_xing_wall_screen_shows_nothing_of_lin(browser: Any, served: str,
                                               two_counties: tuple[str, Engine],
                                               role: str) -> None:
    """A county's wall screen stays its own: by township, nothing of 临县, even without
    ``region`` (her scope is one county)."""
    engine = two_counties[1]
    page, blocked, errors = _open(browser, served, DEMO_USERS[role][:2],
                                  "/maps/dispatch?wall=1", f"xing-wall-{role}")
    assert not errors and not blocked, (errors, blocked)
    assert page.locator(".wangge-wall-side h1").inner_text() == "指挥中心大屏"
    assert page.locator(".wangge-county").count() == 0
    assert page.locator(".wangge-wall-side .wangge-towns tbody tr").count() > 1
    html = page.content()
    assert "临县" not in html and LIN not in html
    with httpx.Client(base_url=served, headers=bearer_for(engine, DEMO_USERS[role][0])
                      ) as api:
        fig = api.get("/maps/dispatch/figures").json()
    assert "counties" not in fig and fig["townships"]
    lin = lin_codes(engine)
    assert fig["newest"] and not {i["code"] for i in fig["newest"] + fig["most_overdue"]} & lin
    page.close()


def test_cli_writes_the_prefecture_map(browser: Any, served: str,
                                       two_counties: tuple[str, Engine],
                                       tmp_path: Any) -> None:
    """``wangge map dispatch --region 141100`` writes the prefecture map (both outlines, each
    county's counters as the prefecture's own page shows them), opening offline from disk;
    a county code writes that county's map; an unknown code is a clear CLI error."""
    from click.testing import CliRunner

    from api.cli import main as cli

    url, engine = two_counties
    env = {"WANGGE_DATABASE_URL": url}
    out = tmp_path / "吕梁市.html"
    res = CliRunner().invoke(cli, ["map", "dispatch", "--region", "141100", "-o", str(out)],
                             env=env)
    assert res.exit_code == 0, res.output
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    blocked: list[str] = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else (blocked.append(r.request.url), r.abort()))
    page.goto(out.as_uri())
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "prefecture-cli.png"))
    assert not blocked, blocked
    assert "市级指挥调度图" in page.content()
    assert page.locator(".leaflet-overlay-pane path.leaflet-interactive").count() == 2
    for code in (XING, LIN):
        want = _expected_counters(served, engine, code)
        got = [page.locator(f".wangge-county[data-region='{code}'] .wangge-county-{k} span")
               .inner_text() for k in ("today", "open", "overdue", "rate")]
        assert got == want, (code, got, want)
    page.close()

    county = tmp_path / "临县.html"
    res = CliRunner().invoke(cli, ["map", "dispatch", "--region", LIN, "-o", str(county)],
                             env=env)
    assert res.exit_code == 0, res.output
    html = county.read_text(encoding="utf-8")
    assert "wangge-county" not in html and "指挥调度图" in html and "临县" in html

    for bad, says in (("999999", "未知区域"), ("吕梁", "未知区域"), ("141200", "没有区县")):
        res = CliRunner().invoke(cli, ["map", "dispatch", "--region", bad, "-o",
                                       str(tmp_path / "x.html")], env=env)
        assert res.exit_code == 2 and says in res.output and LIN in res.output, (
            bad, res.output)
        assert "Traceback" not in res.output


def test_cli_files_open_offline_with_their_county_links(browser: Any,
                                                       two_counties: tuple[str, Engine],
                                                       tmp_path: Any) -> None:
    """``wangge map dispatch --region 141100`` and ``wangge report monthly --region 141100``
    write files that work on their own, offline: the prefecture map's county names link to
    the county maps the command writes beside it (no server URL), each opening from disk
    with no request leaving the file; the report has no link out and loads nothing."""
    from urllib.parse import unquote

    from click.testing import CliRunner

    from api.cli import main as cli

    url, _engine = two_counties
    env = {"WANGGE_DATABASE_URL": url}
    out = tmp_path / "吕梁市.html"
    res = CliRunner().invoke(cli, ["map", "dispatch", "--region", "141100", "-o", str(out)],
                             env=env)
    assert res.exit_code == 0, res.output
    report = tmp_path / "吕梁市月报.html"
    res = CliRunner().invoke(cli, ["report", "monthly", "--month", "2026-10", "--region",
                                   "141100", "-o", str(report)], env=env)
    assert res.exit_code == 0, res.output

    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    blocked: list[str] = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:")) else (blocked.append(r.request.url), r.abort()))

    def links() -> list[str]:
        return page.evaluate("() => Array.from(document.querySelectorAll('a[href]'))"
                             ".map(a => a.href)")

    page.goto(out.as_uri())
    page.wait_for_load_state("networkidle")
    for href in links():  # every link stays in the folder (or on the page)
        assert href.startswith(tmp_path.as_uri() + "/") or href.startswith(
            out.as_uri() + "#"), href
    for code, name in ((XING, "兴县"), (LIN, "临县")):
        page.goto(out.as_uri())
        page.wait_for_load_state("networkidle")
        page.locator(f".wangge-county[data-region='{code}'] a").click()
        page.wait_for_url(lambda u, code=code: unquote(u).endswith(f"/吕梁市-{code}.html"),
                          timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert (tmp_path / f"吕梁市-{code}.html").exists()
        html = page.content()
        assert "指挥调度图" in html and name in html and "wangge-county" not in html
        assert not [h for h in links() if not h.startswith(("file:", "data:", "about:"))]
    page.goto(report.as_uri())
    page.wait_for_load_state("networkidle")
    assert "临县" in page.content() and "兴县" in page.content()
    assert not [h for h in links() if not h.startswith(report.as_uri() + "#")], links()
    assert not blocked, blocked
    page.close()
