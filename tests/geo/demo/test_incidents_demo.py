"""The demo's 20,000 incidents carry routing, deadlines and histories consistent with the flow."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.incidents.flow import open_status_sql


def one(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_statuses_span_the_flow(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        counts = {s: n for s, n in conn.execute(text(
            "SELECT status, count(*) FROM incident GROUP BY 1"))}
    for status in ("reported", "registered", "dispatched", "in_progress", "handled",
                   "verified", "rework", "closed", "rejected", "cancelled", "merged"):
        assert counts.get(status, 0) > 0, status
    assert counts["closed"] > 15_000
    with demo_engine.connect() as conn:
        bad = conn.execute(text(
            "SELECT count(*) FROM incident d JOIN incident p ON p.id = d.merged_into_id "
            "WHERE d.status <> 'merged' OR p.status = 'merged' OR p.category_code <> "
            "d.category_code OR d.closed_at > p.closed_at")).scalar()
        assert bad == 0
        assert conn.execute(text("SELECT count(*) FROM incident WHERE status = 'merged' "
                                 "AND merged_into_id IS NULL")).scalar() == 0


def test_every_history_matches_its_incident(demo_engine: Engine) -> None:
    # exactly one intake event, at the report time
    assert one(demo_engine, """
        SELECT count(*) FROM incident i WHERE (SELECT count(*) FROM incident_event e
          WHERE e.incident_id = i.id AND e.kind = 'intake' AND e.at = i.reported_at) <> 1
    """) == 0
    # the last event leads to the incident's status
    assert one(demo_engine, """
        SELECT count(*) FROM incident i
        JOIN LATERAL (SELECT to_status FROM incident_event e WHERE e.incident_id = i.id
                      ORDER BY e.at DESC, e.id DESC LIMIT 1) last ON true
        WHERE last.to_status <> i.status
    """) == 0
    # events never go back in time, and each transition starts where the previous ended
    assert one(demo_engine, """
        SELECT count(*) FROM (
          SELECT at, from_status, lag(at) OVER w AS prev_at, lag(to_status) OVER w AS prev_to
          FROM incident_event WHERE kind IN ('intake', 'transition')
          WINDOW w AS (PARTITION BY incident_id ORDER BY at, id)) s
        WHERE prev_at IS NOT NULL AND (at < prev_at OR from_status IS DISTINCT FROM prev_to)
    """) == 0
    # step times equal the events'
    assert one(demo_engine, """
        SELECT count(*) FROM incident i WHERE i.status = 'closed' AND (
          i.closed_at <> (SELECT max(at) FROM incident_event e WHERE e.incident_id = i.id)
          OR i.registered_at <> (SELECT at FROM incident_event e WHERE e.incident_id = i.id
                                 AND e.to_status = 'registered')
          OR i.handled_at <> (SELECT max(at) FROM incident_event e WHERE e.incident_id = i.id
                              AND e.to_status = 'handled'))
    """) == 0
    assert one(demo_engine, """
        SELECT count(*) FROM incident i WHERE i.rework_count <> (SELECT count(*)
          FROM incident_event e WHERE e.incident_id = i.id AND e.to_status = 'rework')
    """) == 0


def test_deadlines_and_routing(demo_engine: Engine) -> None:
    assert one(demo_engine, f"SELECT count(*) FROM incident WHERE {open_status_sql('status')} "
                            "AND (due_at IS NULL OR final_due_at IS NULL)") == 0
    end = "'2026-10-31 23:00+08'"
    late = one(demo_engine, f"SELECT count(*) FROM incident WHERE {open_status_sql('status')} "
                            f"AND due_at < {end}")
    in_time = one(demo_engine, f"SELECT count(*) FROM incident WHERE {open_status_sql('status')} "
                               f"AND due_at >= {end}")
    assert late and in_time  # some open cases overdue at the demo's end, some not
    assert one(demo_engine, "SELECT count(*) FROM incident WHERE routing IS NULL "
                            "OR routing->'cell'->>'reason' IS NULL") == 0
    assert one(demo_engine, "SELECT count(*) FROM incident WHERE routing ? 'cameras'") > 0
    assert one(demo_engine, "SELECT count(*) FROM incident WHERE final_due_at < reported_at "
                            "OR due_at < reported_at") == 0
