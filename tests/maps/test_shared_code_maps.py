"""A case code two counties hold, opened from the dispatch map and the wall screen (issue 21,
review round 14, item 1): the prefecture command centre (吕梁市) clicks a 临县 case whose code a
兴县 case also has (as a history import may bring it). Every way the pages open a case names
its county, so she gets the 临县 case, never the 409 "held by several counties":

- a capped marker (its click and its popup's 办理 link), its popup's API link;
- a vector-tile incident (zoom 16: its click and its popup's API link);
- the live marker drawn after the panel opened, the wall screen's lists;
- the page keys the case by code and county (``Wangge.caseKey``): opening 临县's never hides
  兴县's case of the same code.

In headless Chromium with the internet cut off, on two counties (兴县 demo + 临县).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from geo.demo.grid_county import PREFECTURE_USER
from tests.served import bearer_for, log_in
from tests.two_counties import LIN, XING, served_fixture, two_county_fixture

pytestmark = pytest.mark.browser

two_counties = two_county_fixture()
served = served_fixture("WANGGE_TEST_SHARED_CODE_PORT", 8197, "shared-code")

MAP = ("Object.values(window).find(v => v instanceof L.Map)")


def _page(browser: Any, base: str, path: str) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    blocked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        (base + "/", "data:", "about:")) else (blocked.append(r.request.url), r.abort()))
    log_in(page, base, "", path, PREFECTURE_USER[:2])
    page.wait_for_load_state("networkidle")
    return page, blocked, errors


@contextmanager
def _shared(engine: Engine, code: str) -> Iterator[None]:
    """A 兴县 case renamed to ``code`` (a 临县 case's) while the block runs."""
    with engine.begin() as conn:
        xing_id, xing_code = conn.execute(text(
            "SELECT id, code FROM incident WHERE region_code = :r ORDER BY id LIMIT 1"),
            {"r": XING}).one()
        conn.execute(text("UPDATE incident SET code = :c WHERE id = :i"),
                     {"c": code, "i": xing_id})
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incident SET code = :c WHERE id = :i"),
                         {"c": xing_code, "i": xing_id})


@pytest.fixture()
def shared(two_counties: tuple[str, Engine]) -> Iterator[dict[str, Any]]:
    """The newest open 临县 case (drawn on its county's map), its code held by 兴县 too."""
    engine = two_counties[1]
    with engine.connect() as conn:
        lin = conn.execute(text(
            "SELECT id, code, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM incident "
            "WHERE region_code = :r AND geom IS NOT NULL AND status NOT IN "
            "('closed', 'rejected', 'cancelled', 'merged') ORDER BY reported_at DESC, id DESC "
            "LIMIT 1"), {"r": LIN}).mappings().one()
    with _shared(engine, lin["code"]):
        yield dict(lin)


def _panel_case(page: Any) -> dict[str, Any]:
    """The case the side panel shows (its data-case), or the panel's error message."""
    page.wait_for_function("() => { const p = document.querySelector('.wangge-panel'); "
                           "return p && !p.hidden && (p.querySelector('article') || "
                           "p.querySelector('.wangge-panel-msg.err')); }", timeout=30_000)
    err = page.locator(".wangge-panel .wangge-panel-msg.err")
    assert err.count() == 0, err.inner_text()
    return json.loads(page.locator(".wangge-panel article").get_attribute("data-case"))


def _api_link(page: Any, base: str, engine: Engine) -> dict[str, Any]:
    """Fetch the open popup's link to the case (``/incidents/...``) as the prefecture user."""
    html = page.inner_html(".leaflet-popup-content")
    link = re.search(r"""href=["'](/incidents/[^"']+)["']""", html)
    assert link, html
    href = link.group(1).replace("&amp;", "&")
    with httpx.Client(base_url=base, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        r = api.get(href)
    assert r.status_code == 200, (href, r.status_code, r.text[:300])
    return r.json()


def test_a_shared_code_opens_its_county_case_from_the_map(
        browser: Any, served: str, two_counties: tuple[str, Engine],
        shared: dict[str, Any]) -> None:
    engine, code = two_counties[1], shared["code"]
    with httpx.Client(base_url=served, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        assert api.get(f"/incidents/{code}").status_code == 409  # the code alone is ambiguous

    # a vector-tile incident at zoom 16 (before the panel draws the case live on top)
    page, blocked, errors = _page(browser, served, f"/maps/dispatch?region={LIN}")
    # (set again until it holds: the page's own first fit may end after it)
    page.wait_for_function(f"""() => {{ const m = {MAP};
        if (m.getZoom() !== 16) {{
          m.setView([{shared['lat']}, {shared['lon']}], 16, {{animate: false}}); return false; }}
        return document.querySelectorAll('path.wangge-vt-incident').length > 0; }}""",
                           timeout=30_000, polling=500)
    page.wait_for_timeout(800)
    box = page.evaluate(f"""() => {{ const m = {MAP};
        const p = m.latLngToContainerPoint([{shared['lat']}, {shared['lon']}]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.x + p.x, r.y + p.y]; }}""")
    page.mouse.click(box[0], box[1])
    case = _panel_case(page)
    assert (case["code"], case["region_code"]) == (code, LIN), case
    assert _api_link(page, served, engine)["id"] == shared["id"]
    page.close()

    # a capped marker (county zoom): its popup's API link and 办理 link
    key = f"Wangge.caseKey('{code}', '{LIN}')"
    capped = f"Wangge.incidentLayerNow.capped.byCode[{key}]"
    page, blocked2, errors2 = _page(browser, served, f"/maps/dispatch?region={LIN}")
    assert page.evaluate(f"() => !!{capped}")
    page.evaluate(f"() => {capped}.openPopup()")
    assert _api_link(page, served, engine)["id"] == shared["id"]
    page.click(".leaflet-popup-content a.wangge-open-case")
    case = _panel_case(page)
    assert (case["code"], case["region_code"]) == (code, LIN), case
    # the page keys a case by code and county: 临县's is redrawn on top, 兴县's of the same
    # code is left alone (never hidden for it)
    assert page.evaluate(f"() => [!!Wangge.hidden[Wangge.caseKey('{code}', '{LIN}')], "
                         f"!!Wangge.hidden[Wangge.caseKey('{code}', '{XING}')], "
                         f"!!Wangge.hidden['{code}']]") == [True, False, False]
    # the case drawn live on top after the panel opened: its click opens it again
    page.evaluate("() => document.querySelector('.wangge-panel-close').click()")
    page.evaluate(f"() => Wangge.dispatchNow.cases[{key}].marker.fire('click')")
    case = _panel_case(page)
    assert (case["code"], case["region_code"]) == (code, LIN), case
    page.close()

    # a click on the capped marker itself
    page, blocked3, errors3 = _page(browser, served, f"/maps/dispatch?region={LIN}")
    page.evaluate(f"() => {capped}.fire('click')")
    case = _panel_case(page)
    assert (case["code"], case["region_code"]) == (code, LIN), case
    assert not (blocked or blocked2 or blocked3 or errors or errors2 or errors3), \
        (blocked, blocked2, blocked3, errors, errors2, errors3)
    page.close()


def test_a_shared_code_opens_its_county_case_from_the_wall(
        browser: Any, served: str, two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    with httpx.Client(base_url=served, headers=bearer_for(engine, PREFECTURE_USER[0])) as api:
        lists = api.get("/maps/dispatch/figures").json()
    code = next(i["code"] for k in ("newest", "most_overdue") for i in lists[k]
                if i["county_code"] == LIN)
    with _shared(engine, code):
        page, blocked, errors = _page(browser, served, "/maps/dispatch?wall=1")
        item = page.locator(f".wangge-wall-list a[data-code='{code}']")
        item.first.wait_for(timeout=30_000)
        item.first.click()
        case = _panel_case(page)
        assert (case["code"], case["region_code"]) == (code, LIN), case
        assert not blocked and not errors, (blocked, errors)
        page.close()
