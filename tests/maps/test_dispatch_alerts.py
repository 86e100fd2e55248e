"""Issue 18 item 6 on the wall screen: an overdue alert written to the outbox (as the delivery
worker's scan writes it) raises the alarm banner of the command centre's wall screen, named
超期告警 with the case, without a reload."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo import localtime
from geo.incidents.flow import open_status_sql
from geo.notify import rules
from geo.notify.events import ALERT_RULES
from tests.maps.test_dispatch_live import SHOTS, WALL, Session, live_db, server  # noqa: F401


def _wall(base: str, browser: Any) -> tuple[Session, Any]:
    """The command centre's wall screen, its live stream connected."""
    wall = Session(browser, base, "command", WALL)
    wall.open_map("wall=1")
    wall.page.wait_for_function("() => Wangge.dispatchNow && Wangge.dispatchNow.connected",
                                timeout=10_000)
    return wall, wall.page


def test_an_overdue_alert_rings_on_the_wall(server: str, browser: Any,  # noqa: F811
                                            live_db: tuple[str, Engine]) -> None:  # noqa: F811
    engine = live_db[1]
    wall, page = _wall(server, browser)
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


def test_a_backlog_scan_rings_once(server: str, browser: Any,  # noqa: F811
                                   live_db: tuple[str, Engine]) -> None:  # noqa: F811
    """The first scan over the demo's backlog writes hundreds of overdue and escalation alerts
    in one go: the stream sends them as a summary (event ``alerts``, coalesced in the stream
    for each caller) and the wall's banner shows one entry, "N 件新告警" with the count per
    rule and the newest few, not one entry per case."""
    engine = live_db[1]
    wall, page = _wall(server, browser)
    with engine.begin() as conn:
        counts = rules.scan(conn, localtime.now())
        newest = conn.execute(text(
            "SELECT i.code FROM outbox o JOIN incident i ON i.id = o.incident_id "
            "WHERE o.rule = ANY(:r) ORDER BY o.id DESC LIMIT 1"),
            {"r": list(ALERT_RULES)}).scalar_one()
    total = counts["overdue"] + counts["escalation"]
    assert counts["overdue"] > 100, counts  # a backlog
    page.wait_for_selector(".wangge-alarm:not([hidden])", timeout=5_000)
    page.wait_for_function(f"() => Wangge.dispatchNow.alarm.queue.reduce("
                           f"(n, d) => n + (d.count || 1), 0) >= {total}", timeout=10_000)
    page.wait_for_timeout(1000)
    queue = page.evaluate("() => Wangge.dispatchNow.alarm.queue.map("
                          "d => ({count: d.count, byRule: d.byRule}))")
    assert len(queue) == 1, queue  # one banner entry for the whole backlog
    assert queue[0]["count"] == total
    assert queue[0]["byRule"] == {"超期告警": counts["overdue"], "超期升级": counts["escalation"]}
    banner = page.inner_text(".wangge-alarm")
    assert f"{total} 件新告警" in banner and "超期告警 " in banner and newest in banner, banner
    assert "(+" not in banner
    # the stream did not flood: a few summaries, each naming its newest few, not one per case
    assert page.evaluate("() => Wangge.dispatchNow.alerts.length") <= 20
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dispatch-wall-alert-backlog.png"))
    page.click(".wangge-alarm button.ack")
    assert page.is_hidden(".wangge-alarm")
    assert not wall.errors, wall.errors
    wall.close()
