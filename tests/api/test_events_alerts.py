"""Issue 18 item 6, the SSE channel: an alert written to the outbox (overdue, rework,
escalation) reaches the ``GET /events`` streams of the callers who may see its case, as
``event: alert``, at commit, through any app process; never a caller out of scope, never a
rolled-back alert.
"""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, text

from geo.notify import rules
from tests.api.test_auth_cache import _bearer, _login, db  # noqa: F401
from tests.api.test_events import Reader, _other_cell_point, _report, two  # noqa: F401
from tests.conftest import demo_worker_spot


def _alert(engine: Engine, code: str, rule: str, recipient: str, commit: bool = True) -> None:
    with engine.connect() as conn:
        conn.begin()
        case = dict(conn.execute(text(rules.CASE_SQL + " WHERE i.code = :c"),
                                 {"c": code}).mappings().one())
        assert rules.enqueue(conn, case, rule, "webhook", recipient, {"overdue_h": 2.5},
                             dedupe_key=f"test:{rule}:{code}:{commit}")
        if commit:
            conn.commit()
        else:
            conn.rollback()


def test_alerts_reach_the_streams_in_scope(two: tuple[str, str, Engine]) -> None:  # noqa: F811
    p1, p2, engine = two
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
        ox, oy = _other_cell_point(conn, cell)
    http = httpx.Client(timeout=10)
    command, worker = _login(http, p1, "command"), _login(http, p1, "worker")
    http.cookies.clear()
    inside = _report(http, p1, command, x, y)["code"]
    outside = _report(http, p1, command, ox, oy)["code"]
    boss = Reader(f"{p2}/events", _bearer(command))
    mine = Reader(f"{p1}/events", _bearer(worker))
    assert boss.status == mine.status == 200
    boss.drain(0.5)  # both listeners listen; the intake events are past
    mine.drain(0.1)

    def is_alert(code: str, rule: str):  # type: ignore[no-untyped-def]
        return lambda m: (m.get("event") == "alert" and m["data"]["code"] == code
                          and m["data"]["rule"] == rule)

    _alert(engine, inside, "overdue", "command")  # as the delivery worker's scan writes it
    _alert(engine, outside, "overdue", "command")
    got = boss.until(is_alert(inside, "overdue"))
    assert "id" not in got  # Last-Event-ID stays an incident_event id
    d = got["data"]
    assert d["rule_name"] == "超期告警" and d["rule_name_en"] == "overdue"
    assert d["overdue_h"] == 2.5 and d["category_name"] == "占用消防通道"
    assert d["lon"] is not None and d["township_name"]
    boss.until(is_alert(outside, "overdue"))
    # the worker of the cell hears of her own case, never of the other cell's
    assert mine.until(is_alert(inside, "overdue"))["data"]["rule_name"] == "超期告警"
    _alert(engine, outside, "escalation", "township:x")
    boss.until(is_alert(outside, "escalation"))
    assert not [m for m in mine.drain(1.0)
                if m.get("event") == "alert" and m["data"]["code"] == outside]
    # a rolled-back alert is never shown; a dispatch message is not an alert
    _alert(engine, inside, "rework", "command", commit=False)
    _alert(engine, inside, "dispatch", "department:x")
    assert not [m for m in boss.drain(1.0) if m.get("event") == "alert"]
    # a real rework through the case flow raises it (written in the case change's transaction)
    with engine.connect() as conn:
        iid = conn.execute(text("SELECT id FROM incident WHERE code = :c"),
                           {"c": inside}).scalar_one()
    for step in ("registered", "dispatched", "handled", "rework"):
        r = http.post(f"{p1}/incidents/{inside}/transition", headers=_bearer(command),
                      json={"to": step})
        assert r.status_code == 200, (step, r.text)
    assert boss.until(is_alert(inside, "rework"))["data"]["status"] == "rework"
    mine.until(is_alert(inside, "rework"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE incident_id = :i "
                                 "AND rule = 'rework'"), {"i": iid}).scalar_one() == 1
    boss.close()
    mine.close()
