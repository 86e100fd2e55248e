"""The phone app /m/: what waits on the phone is shown on the case's card, in headless Chromium
(phone emulation, her position inside her cell, the network switched off with
``context.set_offline``).

Offline, the worker adds a note to one case and accepts another (签收处置); each card shows
"待发送 · 离线已保存" with the action and the time it was made (China Standard Time). She
reloads the app (served by the service worker, the queue kept in IndexedDB): the marks are
still there. Meanwhile the second case was accepted from another device, so its replay is
refused (409, the case moved on). Back online: the note is sent once and its mark is gone; the
refused write stays on its card as 发送失败 with the server's message (never dropped, never
retried for ever), counted by the badge as failed, not as waiting, and 删除 clears it.
Screenshots: artifacts/screenshots/mobile-card-*.png.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import REPO_ROOT, demo_worker_spot
from tests.mobile.test_mobile_browser import PHONE
from tests.served import app_fixture, bearer, log_in

pytestmark = pytest.mark.browser
HOST, PORT = "127.0.0.1", int(os.environ.get("WANGGE_TEST_MOBILE_CARD_PORT", "8183"))
BASE = f"http://{HOST}:{PORT}"
SHOTS = REPO_ROOT / "artifacts" / "screenshots"
NOTE = "离线备注: 已通知物业清理楼道 (待发送测试)"


served = app_fixture(PORT, "mobile-card-data")


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"mobile-card-{name}.png"))


def _mark(page: Any, code: str) -> str:
    return str(page.inner_text(f"#todo li[data-code='{code}'] .queued"))


def test_queued_actions_on_the_card(served: tuple[str, Engine], browser: Any) -> None:
    server, engine = served
    with engine.connect() as conn:
        _, lon, lat = demo_worker_spot(conn)
    with httpx.Client(base_url=server, headers=bearer(engine, "worker")) as api:
        items = api.get("/me/incidents", params={"limit": 200}).json()["items"]

    def with_action(action: str, skip: set[str]) -> dict[str, Any]:
        return next(i for i in items if i["code"] not in skip
                    and action in {a["action"] for a in i["allowed_actions"]})

    noted = with_action("note", set())
    accepted = with_action("in_progress", {noted["code"]})
    a_card = f"#todo li[data-code='{noted['code']}']"
    b_card = f"#todo li[data-code='{accepted['code']}']"

    context = browser.new_context(**PHONE, geolocation={"longitude": lon, "latitude": lat,
                                                        "accuracy": 8},
                                  permissions=["geolocation"])
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    log_in(page, BASE, "worker", "/m/")
    page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=30_000)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    page.click("nav.tabs button[data-view=view-todo]")
    page.wait_for_selector(a_card)
    page.wait_for_selector(b_card)
    assert page.locator("#todo .queued").count() == 0

    # -- offline: a note on one case, 签收处置 on another
    context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    made = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    page.click(f"{a_card} button[data-action=note]")
    page.fill(f"{a_card} .actform textarea", NOTE)
    page.click(f"{a_card} .actform button[type=submit]")
    page.click(f"{b_card} button[data-action=in_progress]")
    page.click(f"{b_card} .actform button[type=submit]")
    page.wait_for_selector(f"{a_card} .queued .q-item[data-state=waiting]")
    page.wait_for_selector(f"{b_card} .queued .q-item[data-state=waiting]")
    mark = _mark(page, noted["code"])
    assert "待发送 · 离线已保存" in mark and "添加备注" in mark, mark
    # the time it was made, as she reads it (CST), not the UTC of the ISO string
    assert f"{made:%H:%M}" in mark or f"{made + dt.timedelta(minutes=1):%H:%M}" in mark, mark
    assert "签收处置" in _mark(page, accepted["code"])
    # the step waiting on the phone is not offered a second time
    assert page.is_disabled(f"{b_card} .actions button[data-action=in_progress]")
    page.evaluate("sel => document.querySelector(sel).scrollIntoView()", b_card)
    _shot(page, "offline")

    # meanwhile the second case is accepted from another device: the replay will be refused
    with httpx.Client(base_url=server, headers=bearer(engine, "worker")) as api:
        r = api.post(f"/incidents/{accepted['code']}/transition", json={"to": "in_progress"})
        assert r.status_code == 200, r.text

    # -- the app reopens offline: the marks come back from the queue
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    page.wait_for_function("() => document.body.dataset.ready === 'true'")
    page.click("nav.tabs button[data-view=view-todo]")
    page.wait_for_selector(f"{a_card} .queued .q-item[data-state=waiting]")
    page.wait_for_selector(f"{b_card} .queued .q-item[data-state=waiting]")
    assert "待发送 · 离线已保存" in _mark(page, noted["code"])
    _shot(page, "reloaded")

    # -- back online: the note goes once and its mark with it; the refusal stays, explained
    context.set_offline(False)
    page.wait_for_function(
        f"() => !document.querySelector(\"{a_card} .queued\") && "
        "document.body.dataset.failed === '1'", timeout=30_000)
    page.wait_for_selector(f"{b_card} .queued .q-item[data-state=error]", timeout=30_000)
    failed = _mark(page, accepted["code"])
    assert "发送失败" in failed and "签收处置" in failed, failed
    assert "不允许" in failed, failed  # the server's message (409: the case moved on)
    page.evaluate("sel => document.querySelector(sel).scrollIntoView()", b_card)
    _shot(page, "refused")
    with engine.connect() as conn:
        n = conn.execute(text(
            "SELECT count(*) FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            "WHERE i.code = :c AND e.note = :n"), {"c": noted["code"], "n": NOTE}).scalar_one()
    assert n == 1
    # not retried for ever: the queue rests with the one refused item, which the badge
    # counts as failed, not as waiting to be sent (review round 14, item 3)
    page.wait_for_timeout(2500)
    assert page.evaluate("[document.body.dataset.queue, document.body.dataset.failed]") \
        == ["0", "1"]
    badge = page.inner_text("#queue-btn")
    assert "发送失败 1 项" in badge and "待发送" not in badge, badge
    page.click("#queue-btn")  # the queue: the refused write, as failed, with its reason
    row = page.inner_text("#queue li.error")
    assert "发送失败" in row and "签收处置" in row and "不允许" in row, row
    _shot(page, "refused-queue")
    page.click("nav.tabs button[data-view=view-todo]")

    # -- 删除 on the card clears the refused write
    page.click(f"{b_card} .queued button[data-queue=drop]")
    page.wait_for_function(f"() => !document.querySelector(\"{b_card} .queued\") && "
                           "document.body.dataset.queue === '0' && "
                           "document.body.dataset.failed === '0'")
    assert page.is_hidden("#queue-btn")
    assert [e for e in errors] == [], errors
    context.close()
