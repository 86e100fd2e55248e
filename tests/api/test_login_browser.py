"""A grid worker opens her cell's map in headless Chromium with the service closed (no open
demo): the map sends her to the login form, she logs in, lands back on the map, and the map
draws with her cell's open incidents; nothing is fetched from another host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.demo.users import DEMO_USERS
from tests.conftest import REPO_ROOT, make_settings, serve_in_thread

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_LOGIN_HTTP_PORT", "8176"))
BASE = f"http://{HOST}:{PORT}"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def closed_server(demo_url: str) -> Iterator[str]:
    with serve_in_thread(make_settings(demo_url, demo_open=False), HOST, PORT) as url:
        yield url


def test_worker_logs_in_from_the_map(closed_server: str, demo_engine: Engine,
                                      browser: Any) -> None:
    username, password, _ = DEMO_USERS["worker"]
    with demo_engine.connect() as conn:
        cell = conn.execute(text(
            "SELECT a.cell_code FROM app_user u JOIN worker_assignment a ON a.worker_id = "
            "u.worker_id AND a.valid_to IS NULL WHERE u.username = :u ORDER BY 1 LIMIT 1"),
            {"u": username}).scalar_one()
    blocked: list[str] = []
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 390, "height": 780})  # a phone
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def route(r: Any) -> None:
        if r.request.url.startswith((BASE + "/", "data:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(f"{BASE}/maps/cells/{cell}")
    assert "/login?next=" in page.url
    assert page.locator("input[name=password]").count() == 1
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("p.err").count() == 1  # the form again, with the reason
    errors.clear()  # the 401 of the failed form post is logged by Chromium as an error
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.url == f"{BASE}/maps/cells/{cell}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "login_then_cell_map.png"))
    assert page.locator(".leaflet-container").count() == 1
    assert int(page.eval_on_selector_all("path.leaflet-interactive", "e => e.length")) > 0
    page.close()
    assert blocked == [], blocked
    assert errors == [], errors
