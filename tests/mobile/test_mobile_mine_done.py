"""The grid worker's phone /m/ (issue 21, pages people read), in headless Chromium with phone
emulation, nothing leaving 127.0.0.1:

- where she stands, the app says plainly whether it is her cell, from the server's one answer
  (``GET /cells/at`` -> ``caller.assigned_to_you``): 是我的网格 in her cell; 不是我的网格，属于 X
  网格员 in a neighbour's;
- a case she marks handled (办结, status ``handled``: mobile.DONE_STATUSES from the case flow)
  leaves her 待办 list at once, before the write is even sent, and shows under 已处置; it stays
  there once the server has it, and after a reload.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from geo.demo.users import DEMO_USERS
from tests.conftest import demo_worker_spot
from tests.mobile.test_mobile_browser import PHONE
from tests.served import app_fixture, bearer

pytestmark = pytest.mark.browser
PORT = int(os.environ.get("WANGGE_TEST_MOBILE_MINE_PORT", "8196"))
served = app_fixture(PORT, "mobile-mine")


def _neighbour_spot(base: str, engine: Engine, cell: str) -> tuple[float, float, str]:
    """A point in a nearby cell that is not hers (as the server answers it)."""
    with engine.connect() as conn:
        spots = conn.execute(text(
            "SELECT c.code, ST_X(ST_PointOnSurface(c.geom)), ST_Y(ST_PointOnSurface(c.geom)) "
            "FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
            "WHERE c.kind = 'basic' AND c.code <> :c ORDER BY c.geom <-> (SELECT g.geom FROM "
            "grid_cell g JOIN boundary_set s ON s.id = g.boundary_set_id AND s.is_active "
            "WHERE g.code = :c) LIMIT 10"), {"c": cell}).all()
    with httpx.Client(base_url=base, headers=bearer(engine, "worker")) as api:
        for code, lon, lat in spots:
            f = api.get("/cells/at", params={"lon": lon, "lat": lat}).json()
            p = f["properties"]
            if p["code"] == code and not p["caller"]["assigned_to_you"] and p["worker"]:
                return float(lon), float(lat), str(p["worker"]["name"])
    raise AssertionError("no neighbour cell with a worker")


def test_is_it_mine_and_handled_leaves_todo(browser: Any, served: tuple[str, Engine]) -> None:
    base, engine = served
    with engine.begin() as conn:
        cell, lon, lat = demo_worker_spot(conn)
        # a case of her cell she can mark handled (dispatched to her)
        code = conn.execute(text(
            "UPDATE incident SET status = 'dispatched' WHERE id = (SELECT id FROM incident "
            "WHERE cell_code = :c AND status IN ('dispatched', 'in_progress', 'reported', "
            "'registered') ORDER BY reported_at DESC LIMIT 1) RETURNING code"),
            {"c": cell}).scalar_one()
    n_lon, n_lat, n_worker = _neighbour_spot(base, engine, cell)

    context = browser.new_context(**PHONE, geolocation={"longitude": lon, "latitude": lat,
                                                        "accuracy": 8},
                                  permissions=["geolocation"])
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(f"{base}/m/")
    page.wait_for_url("**/login?next=*")
    username, password, _ = DEMO_USERS["worker"]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/m/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)

    # -- is it mine: in her cell, then in a neighbour's
    mine = page.locator("#cell-mine")
    page.wait_for_function("() => document.getElementById('cell-mine').dataset.mine === 'true'",
                           timeout=30_000)
    assert mine.is_visible() and mine.inner_text().startswith("是我的网格"), mine.inner_text()
    assert cell in mine.inner_text()
    context.set_geolocation({"longitude": n_lon, "latitude": n_lat, "accuracy": 8})
    page.wait_for_function("() => document.getElementById('cell-mine').dataset.mine === "
                           "'false'", timeout=30_000)
    said = mine.inner_text()
    assert said.startswith("不是我的网格，属于 ") and f"{n_worker} 网格员" in said, said
    context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})

    # -- 办结: the card leaves 待办 at once and shows under 已处置
    page.click("nav.tabs button[data-view=view-todo]")
    card = page.locator(f"#todo li[data-code='{code}']")
    card.wait_for(timeout=30_000)
    before = int(page.evaluate("document.body.dataset.todo"))
    done = int(page.evaluate("document.body.dataset.done || '0'"))
    card.locator("button[data-action=handled]").click()
    card.locator(".actform textarea[name=note]").fill("消防通道已清理完毕")
    # the list is drawn again (fresh data, a new position, the tab): her form and text stay
    page.click("nav.tabs button[data-view=view-todo]")
    assert card.locator(".actform textarea[name=note]").input_value() == "消防通道已清理完毕"
    context.set_offline(True)  # not sent yet: the phone alone moves the card
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    card.locator(".actform button[type=submit]").click()
    page.wait_for_selector(f"#done li[data-code='{code}']", timeout=10_000)
    assert page.locator(f"#todo li[data-code='{code}']").count() == 0
    assert int(page.evaluate("document.body.dataset.todo")) == before - 1
    assert int(page.evaluate("document.body.dataset.done")) == done + 1
    assert page.locator("#done-box").is_visible()
    assert "已处置" in page.inner_text("#done-box")
    assert "待发送" in page.inner_text(f"#done li[data-code='{code}']")
    context.set_offline(False)
    page.wait_for_function("() => document.body.dataset.queue === '0' && "
                           "Number(document.body.dataset.sent || 0) >= 1", timeout=30_000)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM incident WHERE code = :c"),
                            {"c": code}).scalar_one() == "handled"
    page.wait_for_function(f"() => !!document.querySelector(\"#done li[data-code='{code}']\")"
                           f" && !document.querySelector(\"#todo li[data-code='{code}']\")",
                           timeout=30_000)
    # after a reload too (the server's status, mobile.DONE_STATUSES)
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    page.click("nav.tabs button[data-view=view-todo]")
    page.wait_for_selector(f"#done li[data-code='{code}']", timeout=30_000)
    assert page.locator(f"#todo li[data-code='{code}']").count() == 0
    outside = [u for u in requests if not u.startswith((base + "/", "data:", "blob:"))]
    assert outside == [], outside
    context.close()
