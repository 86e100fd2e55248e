"""Issue 18 item 6, the SSE channel: an alert written to the outbox (overdue, rework,
escalation) reaches the ``GET /events`` streams of the callers who may see its case, as
``event: alert``, at commit, through any app process; never a caller out of scope, never a
rolled-back alert.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, text

from geo.notify import rules
from geo.notify.events import ALERT_RULES
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


def _two_cases(base: str, engine: Engine) -> tuple[httpx.Client, str, str, str, str]:
    """A client, the command centre's and the worker's tokens, a new case in the worker's
    cell and one in another cell (codes)."""
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
        ox, oy = _other_cell_point(conn, cell)
    http = httpx.Client(timeout=10)
    command, worker = _login(http, base, "command"), _login(http, base, "worker")
    http.cookies.clear()
    return (http, command, worker, _report(http, base, command, x, y)["code"],
            _report(http, base, command, ox, oy)["code"])


def test_alerts_reach_the_streams_in_scope(two: tuple[str, str, Engine]) -> None:  # noqa: F811
    p1, p2, engine = two
    http, command, worker, inside, outside = _two_cases(p1, engine)
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
    assert got["id"].endswith(f":{got['data']['alert_id']}")  # the stream's position
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


def _alerts(m: dict[str, Any]) -> list[tuple[int, str]]:
    """(alert id, case code) of an ``alert`` message or of a summary's newest."""
    if m.get("event") == "alert":
        return [(m["data"]["alert_id"], m["data"]["code"])]
    if m.get("event") == "alerts":
        return [(a["alert_id"], a["code"]) for a in m["data"]["newest"]]
    return []


def _outbox_alerts(engine: Engine, after: int, code: str | None = None) -> list[int]:
    with engine.connect() as conn:
        return [i for (i,) in conn.execute(text(
            "SELECT o.id FROM outbox o JOIN incident i ON i.id = o.incident_id "
            "WHERE o.id > :a AND o.rule = ANY(:r) AND (CAST(:c AS text) IS NULL OR i.code = :c) "
            "ORDER BY o.id"), {"a": after, "r": list(ALERT_RULES), "c": code})]


def _events_after(engine: Engine, after: int) -> list[int]:
    with engine.connect() as conn:
        return [i for (i,) in conn.execute(text(
            "SELECT id FROM incident_event WHERE id > :a ORDER BY id"), {"a": after})]


def test_alerts_are_replayed_after_a_reconnect(two: tuple[str, str, Engine]) -> None:  # noqa: F811
    """An alert missed while away comes back once on reconnecting with the last message's id,
    in the caller's scope only; case events resume as before; a plain event id still works."""
    p1, p2, engine = two
    http, command, worker, inside, outside = _two_cases(p1, engine)
    boss = Reader(f"{p2}/events", _bearer(command))
    mine = Reader(f"{p1}/events", _bearer(worker))
    fresh = Reader(f"{p1}/events", _bearer(command))  # will hear nothing before it drops
    boss.drain(0.5)
    mine.drain(0.1)
    fresh.drain(0.1)
    fresh_at = fresh.last_id
    assert fresh_at is not None  # a position before any event: a reconnect can resume
    fresh.close()
    _alert(engine, inside, "overdue", "command")
    seen = boss.until(lambda m: (inside in [c for _, c in _alerts(m)]))
    first = seen["data"]["alert_id"]
    assert seen["id"].endswith(f":{first}")  # the position names the alert
    mine.until(lambda m: (inside in [c for _, c in _alerts(m)]))
    boss_at, mine_at = boss.last_id, mine.last_id
    assert boss_at and mine_at
    boss.close()
    mine.close()
    # missed while away: alerts on both cases (one by a rework through the case flow, with
    # its case events), then reconnect with the last message's id
    _alert(engine, inside, "escalation", "township:x")
    _alert(engine, outside, "overdue", "command")
    for step in ("registered", "dispatched", "handled", "rework"):
        r = http.post(f"{p1}/incidents/{outside}/transition", headers=_bearer(command),
                      json={"to": step})
        assert r.status_code == 200, (step, r.text)
    missed = _outbox_alerts(engine, first)
    assert len(missed) == 3
    back = Reader(f"{p2}/events", {**_bearer(command), "Last-Event-ID": boss_at})
    got = back.drain(1.5)
    replayed = [a for m in got for a, _ in _alerts(m)]
    assert replayed == missed  # each missed alert once, none seen before
    events_after = _events_after(engine, int(boss_at.split(":")[0]))
    assert len(events_after) >= 4
    assert [m["data"]["event_id"] for m in got if m.get("event") == "incident"] == events_after
    assert [int(m["id"].split(":")[1]) for m in got][-1] == missed[-1]
    # live after the replay: a new alert once, the replayed ones never again
    _alert(engine, inside, "rework", "command")
    live = back.until(lambda m: m.get("event") == "alert")
    assert [a for a, _ in _alerts(live)] == _outbox_alerts(engine, missed[-1])
    assert not [m for m in back.drain(1.0) if _alerts(m)]
    # the worker gets back the alerts of her cell only
    again = Reader(f"{p1}/events?last_event_id={mine_at}", _bearer(worker))
    assert [a for m in again.drain(1.5) for a, _ in _alerts(m)] \
        == _outbox_alerts(engine, first, inside)
    # a stream dropped before any event resumes from its first position
    resumed = Reader(f"{p1}/events", {**_bearer(command), "Last-Event-ID": fresh_at})
    summary = [m for m in resumed.drain(1.5) if _alerts(m)]
    assert len(summary) == 1 and summary[0]["event"] == "alerts"  # five at once: coalesced
    assert summary[0]["data"]["count"] == 5
    assert [a for a, _ in _alerts(summary[0])] == _outbox_alerts(engine, first - 1)[::-1]
    # a plain event id (before alerts had positions) replays case events only
    plain = Reader(f"{p2}/events", {**_bearer(command),
                                    "Last-Event-ID": boss_at.split(":")[0]})
    old = plain.drain(1.5)
    assert not [m for m in old if _alerts(m)]
    assert [m["data"]["event_id"] for m in old if m.get("event") == "incident"] == events_after
    for r_ in (back, again, resumed, plain):
        r_.close()
