"""The phone app /m/ after the newcomer's walk and the security review, in headless Chromium
(phone emulation, her position overridden inside her cell).

- The offline queue belongs to the login that made it: worker A queues a report offline, her
  login ends, worker B logs in on the same phone: A's report is not sent under B's session (it
  waits, counted as another account's), B sees none of A's cached cases; B logs out with the
  app's 退出 button: the cached reads are gone; A logs in again and her report arrives once.
- Case cards: the place text, 在地图上看, a pending request shown as waiting for the command
  centre, 办结 asks for a handling note, the extension asked in working days/hours.
- Overdue cases of the demo (data ending 2026-10-31) read sensibly; one count of 待办.
- The 上报 map never zooms past the tiles that exist (maxNativeZoom).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.users import add_user
from geo.demo.users import DEMO_USERS
from tests.conftest import (
    create_database,
    demo_worker_spot,
    drop_database,
    make_settings,
    serve_in_thread,
)
from tests.mobile.test_mobile_browser import PHONE

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_MOBILE_REVIEW_PORT", "8181"))
BASE = f"http://{HOST}:{PORT}"
SECOND = ("m-review-worker-b", "worker-b-password-2026")
A_REPORT = "A 离线上报: 路灯不亮 (换号测试)"


@pytest.fixture(scope="module")
def review_db(admin_engine: Engine, demo_template: str) -> Iterator[tuple[str, Engine]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.begin() as conn:  # a second worker account bound to the same grid worker
        worker_code = conn.execute(text(
            "SELECT w.code FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
            "WHERE u.username = :u"), {"u": DEMO_USERS["worker"][0]}).scalar_one()
        add_user(conn, SECOND[0], "worker", "141123", password=SECOND[1],
                 worker_code=worker_code)
    yield url, engine
    engine.dispose()
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def server(review_db: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    settings = make_settings(review_db[0], demo_open=False,
                             data_dir=tmp_path_factory.mktemp("mobile-review-data"))
    with serve_in_thread(settings, HOST, PORT) as url:
        yield url


def _login(page: Any, username: str, password: str) -> None:
    page.goto(f"{BASE}/m/")
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{BASE}/m/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)


def _phone(browser: Any, lon: float, lat: float) -> Any:
    return browser.new_context(**PHONE, geolocation={"longitude": lon, "latitude": lat,
                                                     "accuracy": 8},
                               permissions=["geolocation"])


def _cached_keys(page: Any) -> list[str]:
    return page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('wangge-m.'))"
                         ".sort()")


def test_queue_is_bound_to_its_user(server: str, review_db: tuple[str, Engine],
                                    browser: Any) -> None:
    _, engine = review_db
    with engine.connect() as conn:
        _cell, lon, lat = demo_worker_spot(conn)
    context = _phone(browser, lon, lat)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())

    # -- worker A: logged in, data cached, a report queued offline
    _login(page, *DEMO_USERS["worker"][:2])
    page.wait_for_function("() => (JSON.parse(localStorage.getItem('wangge-m.incidents') "
                           "|| '[]')).length > 0", timeout=30_000)
    context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    page.click("nav.tabs button[data-view=view-report]")
    options = page.eval_on_selector_all("#r-cat option", "os => os.map(o => o.value)")
    page.select_option("#r-cat", options[1])
    page.fill("#r-note", A_REPORT)
    page.click("#r-send")
    page.wait_for_function("() => document.body.dataset.queue === '1'")
    page.close()

    # -- her login ends elsewhere (cookie gone); worker B logs in on the same phone
    context.clear_cookies()
    context.set_offline(False)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    _login(page, *SECOND)
    page.wait_for_timeout(2000)  # time for a wrong flush to reach the server
    with engine.connect() as conn:
        sent = conn.execute(text("SELECT count(*) FROM incident WHERE description = :d"),
                            {"d": A_REPORT}).scalar_one()
    assert sent == 0, "A's queued report was sent under B's session"
    page.wait_for_function("() => document.body.dataset.others === '1'")
    assert page.eval_on_selector("body", "b => b.dataset.queue") == "0"
    page.click("#queue-btn")
    assert page.is_visible("#queue-others") and page.inner_text("#queue-others-n") == "1"
    assert A_REPORT not in page.content()  # B never sees A's queued text
    me = page.evaluate("JSON.parse(localStorage.getItem('wangge-m.me'))")
    assert me["user"] == SECOND[0]

    # -- B logs out with the app's button: every cached read goes
    page.click("#logout")
    page.wait_for_url("**/login?next=*")
    assert _cached_keys(page) == [], _cached_keys(page)

    # -- A logs in again: her report goes, once
    page.fill("input[name=username]", DEMO_USERS["worker"][0])
    page.fill("input[name=password]", DEMO_USERS["worker"][1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{BASE}/m/")
    page.wait_for_function("() => document.body.dataset.ready === 'true' && "
                           "document.body.dataset.queue === '0' && "
                           "document.body.dataset.others === '0'",
                           timeout=90_000)  # the flush waits for the app's retry under load
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.actor FROM incident i JOIN incident_event e ON e.incident_id = i.id "
            "AND e.kind = 'intake' WHERE i.description = :d"), {"d": A_REPORT}).all()
    assert [r[0] for r in rows] == [DEMO_USERS["worker"][0]], rows
    context.close()


def test_cards_map_and_counts(server: str, review_db: tuple[str, Engine],
                              browser: Any) -> None:
    _, engine = review_db
    with engine.connect() as conn:
        _cell, lon, lat = demo_worker_spot(conn)
        worker_name = conn.execute(text(
            "SELECT w.name FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
            "WHERE u.username = :u"), {"u": DEMO_USERS["worker"][0]}).scalar_one()
    context = _phone(browser, lon, lat)
    page = context.new_page()
    _login(page, *DEMO_USERS["worker"][:2])

    # -- 我的网格: her name, the neighbours named on the map and in the banner, her cases
    page.wait_for_function("() => document.getElementById('cell-status').dataset.inside")
    assert page.inner_text("#who").startswith(worker_name), page.inner_text("#who")
    assert page.locator(".neighbour-name").count() >= 1
    assert re.search(r"距 \S+ 边界 \d+ 米|距网格边界 \d+ 米", page.inner_text("#cell-status"))
    assert page.locator("path.case-dot").count() >= 1

    # -- 待办: one count, the cards' place, deadline date, no "已超时 563天"
    page.click("nav.tabs button[data-view=view-todo]")
    page.wait_for_selector("#todo li[data-code]")
    cards = page.locator("#todo > li").count()
    assert page.inner_text("#todo-count").startswith(f"{cards} 件待办")
    dues = page.eval_on_selector_all("#todo .due", "es => es.map(e => e.textContent)")
    assert dues and all(re.search(r"\d{4}/\d{2}/\d{2}", d) for d in dues), dues[:3]
    late_days = [int(m.group(1)) for d in dues if (m := re.search(r"已超时 (\d+)天", d))]
    assert all(n <= 30 for n in late_days), dues
    with_place = page.evaluate(
        "JSON.parse(localStorage.getItem('wangge-m.incidents')).filter(i => i.location_text)"
        ".length")
    assert page.locator("#todo .place, #done .place").count() == with_place

    # -- 办结 asks for a handling note; the extension in working days and hours
    card = page.locator("#todo li[data-code]:has(button[data-action=handled])").first
    if card.count():
        card.locator("button[data-action=handled]").click()
        note = card.locator(".actform textarea[name=note]")
        assert note.get_attribute("required") is not None
    card = page.locator("#todo li[data-code]:has(button[data-action=request_extension])").first
    code = card.get_attribute("data-code")
    card.locator("button[data-action=request_extension]").click()
    labels = card.locator(".actform select[name=minutes] option").all_inner_texts()
    assert "1 个工作日" in labels and "4 小时" in labels, labels
    card.locator(".actform select[name=minutes]").select_option(label="2 个工作日")
    card.locator(".actform textarea[name=reason]").fill("物业下周才能清运")
    card.locator(".actform button[type=submit]").click()
    page.wait_for_function("() => document.body.dataset.queue === '0' && "
                           "Number(document.body.dataset.sent || 0) >= 1", timeout=30_000)
    with engine.connect() as conn:
        minutes = conn.execute(text(
            "SELECT r.minutes FROM incident_request r JOIN incident i ON i.id = r.incident_id "
            "WHERE i.code = :c AND r.state = 'pending'"), {"c": code}).scalar_one()
    assert minutes == 960
    pending = page.locator(f"#todo li[data-code='{code}'] .request")
    pending.wait_for(timeout=30_000)
    assert "2 个工作日" in pending.inner_text() and "等待指挥中心审批" in pending.inner_text()

    # -- 在地图上看: the case on the map of her cell
    page.locator(f"#todo li[data-code='{code}'] button[data-action=map]").click()
    assert page.is_visible("#map")
    assert code in page.inner_text("#map")
    context.close()


def test_report_map_overzooms(server: str, review_db: tuple[str, Engine],
                              browser: Any) -> None:
    """Over AMap tiles (here answered locally) the 上报 map has a basemap and zooms past the
    tiles' zoom 18 by enlarging them, never asking for a zoom with no tiles."""
    from tests.mobile.test_mobile_browser import _png

    _, engine = review_db
    with engine.connect() as conn:
        _cell, lon, lat = demo_worker_spot(conn)
    context = _phone(browser, lon, lat)
    zooms: list[int] = []
    tile = _png((230, 230, 220))

    def amap(route: Any) -> None:
        z = re.search(r"[?&]z=(\d+)", route.request.url)
        zooms.append(int(z.group(1)) if z else -1)
        route.fulfill(status=200, content_type="image/png", body=tile)

    context.route(re.compile(r"^https://webrd0\d\.is\.autonavi\.com/"), amap)
    page = context.new_page()
    _login(page, *DEMO_USERS["worker"][:2])
    page.check("#amap")
    page.click("nav.tabs button[data-view=view-report]")
    page.wait_for_selector("#r-map img.leaflet-tile")
    assert "GCJ-02" in page.inner_text("#r-pos")
    for _ in range(4):  # from 17 to the map's maximum
        button = page.locator("#r-map .leaflet-control-zoom-in")
        if "leaflet-disabled" in (button.get_attribute("class") or ""):
            break
        button.click()
        page.wait_for_timeout(400)
    assert "leaflet-disabled" in (page.locator("#r-map .leaflet-control-zoom-in")
                                  .get_attribute("class") or "")
    page.wait_for_timeout(500)
    assert page.locator("#r-map img.leaflet-tile-loaded").count() > 0
    assert zooms and max(zooms) == 18, sorted(set(zooms))
    context.close()
