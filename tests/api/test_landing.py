"""Issue 16 item 6: the landing page ``GET /``: Chinese (English with ?lang=en), no login, no
outside resource, every link resolving (or asking for a login where the target needs one)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "href" and tag == "a":
                self.hrefs.append(value)
            elif name in ("src", "href", "action", "srcset", "poster", "data"):
                self.resources.append(value)


def _parse(html: str) -> _Links:
    p = _Links()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def closed(demo_url: str) -> Iterator[TestClient]:
    """The app with the open demo off: anonymous callers are viewers."""
    from api.main import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(demo_url, demo_open=False))) as c:
        yield c


def test_landing_in_chinese_without_login(closed: TestClient) -> None:
    r = closed.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "网格化服务管理" in html and "兴县" in html and "合成数据" in html
    assert 'lang="zh-CN"' in html
    # the demo's data label: Chinese, from the one vocabulary, no English beside it
    from geo.db.tables.vocab import DATA_ORIGIN

    assert f"均为{DATA_ORIGIN.label('synthetic')}, " in html and "synthetic" not in html
    assert "国家2000坐标系 (CGCS2000" not in html and "国家2000坐标系 CGCS2000" in html
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script" not in csp
    assert "<script" not in html.lower()
    # no outside resource (no CDN): nothing but local links and stylesheets inline
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html), html
    links = _parse(html)
    assert not links.resources
    paths = [h.split("?")[0] for h in links.hrefs]
    for must in ("/maps/dispatch", "/maps/coverage/cameras", "/maps/coverage/property", "/docs",
                 "/health", "/incidents/overdue", "/export/incidents"):
        assert must in paths, must
    assert any(p.startswith("/maps/cells/") for p in paths)


def test_landing_in_english(closed: TestClient) -> None:
    r = closed.get("/", params={"lang": "en"})
    assert r.status_code == 200
    assert "Grid-based service management" in r.text and "are synthetic." in r.text
    assert 'lang="en"' in r.text
    links = _parse(r.text).hrefs
    assert "/maps/dispatch?lang=en" in links and "/" in links


def test_every_link_resolves(closed: TestClient, client: TestClient) -> None:
    """Anonymous (viewer): < 400, or 401 / a redirect to the login page for what needs a login.
    Open demo (anonymous command centre): every link < 400."""
    import html as html_lib

    page = closed.get("/").text
    hrefs = _parse(page).hrefs
    assert len(hrefs) >= 15
    marked = {html_lib.unescape(h) for h in re.findall(
        r'<a href="([^"]+)">[^<]*</a> <span class="tag">需登录</span>', page)}
    assert "/maps/dispatch" in marked and "/docs" not in marked
    for href in hrefs:
        r = closed.get(href, follow_redirects=False)
        ok = r.status_code < 300 or r.status_code == 401 or (
            r.status_code in (302, 303, 307) and r.headers["location"].startswith("/login"))
        if href in marked:  # a viewer is refused what needs a login (403 names the reason)
            ok = ok or r.status_code == 403
        else:
            assert r.status_code < 400, (href, r.status_code, r.text[:200])
        assert ok, (href, r.status_code, r.text[:200])
    for href in _parse(client.get("/").text).hrefs:
        r = client.get(href, follow_redirects=False)
        assert r.status_code < 400, (href, r.status_code, r.text[:200])


def test_monthly_report_link_opens_the_latest_complete_month_with_data(
        fresh_demo_url: str) -> None:
    """The demo's incidents end 2026-10-31; a case reported today (the scenario walked on the
    demo) does not make the link open the current, nearly empty month: it opens the latest
    complete month with reports and says which."""
    from sqlalchemy import create_engine, text

    from api.main import create_app
    from geo import localtime
    from tests.conftest import make_settings

    engine = create_engine(fresh_demo_url)
    with engine.begin() as conn:
        last = conn.execute(text("SELECT max(reported_at) FROM incident")).scalar_one()
        conn.execute(text("UPDATE incident SET reported_at = now() "
                          "WHERE id = (SELECT min(id) FROM incident)"))
    engine.dispose()
    want = last.astimezone(localtime.CST).strftime("%Y-%m")
    assert want < localtime.now().strftime("%Y-%m")  # the demo ends before this month
    with TestClient(create_app(make_settings(fresh_demo_url, demo_open=False))) as c:
        page = c.get("/").text
        en = c.get("/", params={"lang": "en"}).text
    hrefs = [h for h in _parse(page).hrefs if h.startswith("/reports/monthly")]
    assert hrefs == [f"/reports/monthly?month={want}&format=html"]
    assert f"网格化服务管理月报 ({want}, 最近有数据的完整月份)" in page
    assert f"({want}, the latest complete month with data)" in en


def test_favicon_is_served(closed: TestClient) -> None:
    """Browsers ask every page's /favicon.ico: an icon, not a 404, without a login."""
    r = closed.get("/favicon.ico")
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")


def test_a_browser_following_any_login_link_gets_the_login_page_then_the_link(
        closed: TestClient) -> None:
    """Review round 7: the report and workbook links answered a browser with JSON 401/403
    (only /maps/* went to the login page). Every link marked 需登录, followed by a browser
    without a login, goes to the login form and after it back to the link, which opens."""
    import html as html_lib

    from geo.demo.users import DEMO_USERS

    page = closed.get("/").text
    marked = [html_lib.unescape(h) for h in re.findall(
        r'<a href="([^"]+)">[^<]*</a> <span class="tag">需登录</span>', page)]
    assert "/m/" in marked  # the grid worker's way in is on the page
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for href in marked:
        if href == "/m/":  # the app shell is public; the app itself asks for the login
            assert closed.get(href, headers=browser).status_code == 200
            continue
        r = closed.get(href, headers=browser, follow_redirects=False)
        assert r.status_code == 303, (href, r.status_code, r.text[:200])
        assert r.headers["location"].startswith("/login?next="), href
        # an API client keeps its JSON refusal with the reason
        api = closed.get(href, follow_redirects=False)
        assert api.status_code in (401, 403) and api.json()["detail"], href
    username, password, _ = DEMO_USERS["command"]
    login = closed.post("/login", data={"username": username, "password": password,
                                        "next": marked[0]}, follow_redirects=False)
    assert login.status_code == 303 and login.cookies.get("wangge_token")
    try:
        for href in marked:
            r = closed.get(href, headers=browser, follow_redirects=False)
            assert r.status_code == 200, (href, r.status_code, r.text[:200])
    finally:
        closed.cookies.clear()
