"""Issue 18 item 6 on the wall screen: an overdue alert written to the outbox (as the delivery
worker's scan writes it) raises the alarm banner of the command centre's wall screen, named
超期告警 with the case, without a reload."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.incidents.flow import open_status_sql
from geo.notify import rules
from tests.maps.test_dispatch_live import SHOTS, WALL, Session, live_db, server  # noqa: F401


def test_an_overdue_alert_rings_on_the_wall(server: str, browser: Any,  # noqa: F811
                                            live_db: tuple[str, Engine]) -> None:  # noqa: F811
    engine = live_db[1]
    wall = Session(browser, server, "command", WALL)
    wall.open_map("wall=1")
    page = wall.page
    page.wait_for_function("() => Wangge.dispatchNow && Wangge.dispatchNow.connected",
                           timeout=10_000)
    page.evaluate("() => { window.__probe = 'kept'; }")
    with engine.begin() as conn:
        case = dict(conn.execute(text(
            rules.CASE_SQL + f" WHERE {open_status_sql('i.status')} AND i.geom IS NOT NULL "
            "ORDER BY i.id LIMIT 1")).mappings().one())
        assert rules.enqueue(conn, case, "overdue", "webhook", "command", {"overdue_h": 5.0},
                             dedupe_key=f"test-wall:{case['id']}")
    page.wait_for_selector(".wangge-alarm:not([hidden])", timeout=3_000)
    banner = page.inner_text(".wangge-alarm")
    assert "超期告警" in banner and case["code"] in banner, banner
    assert page.evaluate("() => Wangge.dispatchNow.alerts.length") == 1
    assert page.evaluate("() => Wangge.dispatchNow.alerts[0].rule") == "overdue"
    assert page.evaluate("() => window.__probe") == "kept"  # no reload
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dispatch-wall-alert.png"))
    page.click(".wangge-alarm button.ack")
    assert page.is_hidden(".wangge-alarm")
    assert not wall.errors, wall.errors
    wall.close()
