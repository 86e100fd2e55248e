"""The landing page ``/`` follows who opens it (issue 21, pages people read), in headless
Chromium with the internet cut off, on two counties (兴县 demo + 临县):

- the prefecture command centre (demo-prefecture, 吕梁市) sees her counties: the wall screen
  and dispatch map across them, the report of her whole scope, and each county's own pages
  (``?region=CODE``), every link opening (< 400) for her;
- a 兴县 user sees her county, nothing of 临县;
- anonymous: the public entry points, as before (tests/api/test_landing.py).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import REPO_ROOT
from tests.served import bearer_for, log_in
from tests.two_counties import LIN, XING, served_fixture, two_county_fixture

pytestmark = pytest.mark.browser
SHOTS = REPO_ROOT / "artifacts" / "screenshots"

two_counties = two_county_fixture()
served = served_fixture("WANGGE_TEST_LANDING_SCOPE_PORT", 8195, "landing-scope")


def _landing(browser: Any, base: str, user: tuple[str, str] | None, shot: str
             ) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 1400}, locale="zh-CN")
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith((base + "/", "data:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    if user is None:
        page.goto(base + "/")
    else:
        log_in(page, base, "", "/", user)
        page.wait_for_url(base + "/", timeout=60_000)  # "/" matches the login page too
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"landing-{shot}.png"), full_page=True)
    return page, blocked


def _hrefs(page: Any, selector: str = "body") -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('{selector} a'))
        .map(a => a.getAttribute('href'))""")


def test_prefecture_sees_her_counties(browser: Any, served: str,
                                      two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    page, blocked = _landing(browser, served, PREFECTURE_USER[:2], "prefecture")
    assert not blocked, blocked
    text = page.inner_text("body")
    assert "我的区县 (2 个)" in text and "市级指挥中心大屏" in text, text
    assert PREFECTURE_USER[0] in text and "指挥中心" in text  # who is signed in, in Chinese
    hrefs = _hrefs(page)
    assert "/maps/dispatch?wall=1" in hrefs and "/maps/dispatch" in hrefs
    assert any(h.startswith("/reports/monthly?") and "region=" not in h for h in hrefs)
    for code, name in ((XING, "兴县"), (LIN, "临县")):
        box = page.locator(f"section.county[data-region='{code}']")
        assert box.count() == 1 and name in box.locator("h3").inner_text()
        own = _hrefs(page, f"section.county[data-region=\"{code}\"]")
        assert f"/maps/dispatch?region={code}" in own, own
        assert f"/maps/dispatch?wall=1&region={code}" in own, own
        assert any(h.startswith("/reports/monthly?") and h.endswith(f"region={code}")
                   for h in own), own
        assert any(h.startswith("/maps/cells/") for h in own), own
        assert all(h.endswith(f"region={code}") for h in own), own
    # no generic county link that would ask her which county (422)
    assert "/maps/coverage/cameras" not in hrefs
    # every link opens for her (the wall of 临县 included)
    with httpx.Client(base_url=served, headers=bearer_for(engine, PREFECTURE_USER[0]),
                      timeout=120) as api:
        for href in hrefs:
            r = api.get(href, follow_redirects=False)
            assert r.status_code < 400, (href, r.status_code, r.text[:300])
    # English on request
    page.goto(served + "/?lang=en")
    text = page.inner_text("body")
    assert "My counties (2)" in text and "Prefecture command centre wall" in text
    assert "/maps/dispatch?wall=1&lang=en" in _hrefs(page)
    page.close()


@pytest.mark.parametrize("role", ["command", "worker"])
def test_county_user_sees_her_county(browser: Any, served: str, role: str) -> None:
    page, blocked = _landing(browser, served, DEMO_USERS[role][:2], f"xing-{role}")
    assert not blocked, blocked
    text = page.inner_text("body")
    assert "我的区县: 兴县" in text and "(141123)" in text and DEMO_USERS[role][0] in text, text
    assert "临县" not in page.content() and LIN not in page.content()
    assert page.locator("section.county").count() == 0
    assert "/maps/dispatch" in _hrefs(page)
    page.close()


def test_anonymous_sees_the_public_entry_points(browser: Any, served: str) -> None:
    page, blocked = _landing(browser, served, None, "anonymous")
    assert not blocked, blocked
    text = page.inner_text("body")
    assert "已登录" not in text and "我的区县" not in text and "临县" not in text
    hrefs = _hrefs(page)
    assert "/maps/dispatch" in hrefs and "/login" in hrefs and "/docs" in hrefs
    page.close()
