"""Issue 15, findings 5 and 6: field staff report within their scope and today; a case's
history only moves forward; only the command centre backdates, and what it backdates says when
it was entered."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from geo import localtime
from geo.auth.principal import Principal
from geo.errors import Forbidden, InvalidInput
from geo.incidents import cases
from geo.incidents.intake import Report, create_incident

COMMAND = Principal(user="cmd", role="command")


@pytest.fixture()
def conn(demo_engine: Engine) -> Any:
    with demo_engine.connect() as c:
        tx = c.begin()
        try:
            yield c
        finally:
            tx.rollback()


def _two_cells(conn: Connection) -> tuple[Any, Any, str]:
    rows = conn.execute(text(
        "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
        "FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
        "WHERE kind = 'basic' ORDER BY code LIMIT 2")).all()
    cat = conn.execute(text("SELECT code FROM incident_category WHERE \"group\" IS NOT NULL "
                            "ORDER BY code LIMIT 1")).scalar_one()
    return rows[0], rows[1], cat


def test_worker_reports_in_her_own_cell_only(conn: Connection) -> None:
    mine, other, cat = _two_cells(conn)
    worker = Principal(user="w", role="worker", cell_codes=frozenset({mine[0]}))
    inc = create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2]), worker, "141123")
    assert inc["cell_code"] == mine[0]
    # another worker's cell: refused before anything is written, and told where to go
    before = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    with conn.begin_nested(), pytest.raises(Forbidden) as refused:
        create_incident(conn, Report(category=cat, lon=other[1], lat=other[2]), worker, "141123")
    assert other[0] in refused.value.message and "指挥中心" in refused.value.message
    assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == before
    # a report without a place would be out of her sight at once: she is asked for one
    with conn.begin_nested(), pytest.raises(InvalidInput):
        create_incident(conn, Report(category=cat, place="不存在的地方"), worker, "141123")
    # the command centre registers reports from anywhere
    assert create_incident(conn, Report(category=cat, lon=other[1], lat=other[2]), COMMAND,
                           "141123")["cell_code"] == other[0]


def test_department_reports_its_own_cases_only(conn: Connection) -> None:
    mine, _, cat = _two_cells(conn)
    dept = conn.execute(text("SELECT department_code FROM incident_category WHERE code = :c"),
                        {"c": cat}).scalar_one()
    other = conn.execute(text("SELECT code FROM department WHERE code <> :d ORDER BY code "
                              "LIMIT 1"), {"d": dept}).scalar_one()
    own = Principal(user="d", role="department", department_code=dept)
    assert create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2]), own,
                           "141123")["department_code"] == dept
    foreign = Principal(user="e", role="department", department_code=other)
    with conn.begin_nested(), pytest.raises(Forbidden):
        create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2]), foreign, "141123")


def test_field_staff_cannot_backdate_reports(conn: Connection) -> None:
    mine, _, cat = _two_cells(conn)
    worker = Principal(user="w", role="worker", cell_codes=frozenset({mine[0]}))
    now = localtime.now()
    # a report queued offline this morning is fine
    create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2],
                                 reported_at=now - dt.timedelta(hours=5)), worker, "141123")
    # one dated last year would start overdue against the cell's worker: refused
    with conn.begin_nested(), pytest.raises(Forbidden) as refused:
        create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2],
                                     reported_at=now - dt.timedelta(days=400)), worker, "141123")
    assert "24" in refused.value.message
    # the command centre enters an old paper report; its intake event says when it was entered
    old = create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2],
                                       reported_at=now - dt.timedelta(days=40)), COMMAND,
                          "141123")
    data = conn.execute(text("SELECT data FROM incident_event WHERE incident_id = :i "
                             "AND kind = 'intake'"), {"i": old["id"]}).scalar_one()
    assert "entered_at" in data


def test_steps_move_forward_and_only_the_command_centre_backdates(conn: Connection) -> None:
    mine, _, cat = _two_cells(conn)
    now = localtime.now()
    inc = create_incident(conn, Report(category=cat, lon=mine[1], lat=mine[2],
                                       reported_at=now - dt.timedelta(hours=3)), COMMAND,
                          "141123")
    cases.transition(conn, inc["id"], "registered", COMMAND, at=now - dt.timedelta(hours=2))
    cases.transition(conn, inc["id"], "dispatched", COMMAND, at=now - dt.timedelta(hours=1))
    worker = Principal(user="w", role="worker", cell_codes=frozenset({mine[0]}))
    # handled before it was dispatched: the history would run backwards
    with conn.begin_nested(), pytest.raises(InvalidInput) as backwards:
        cases.transition(conn, inc["id"], "in_progress", COMMAND,
                         at=now - dt.timedelta(hours=1, minutes=30))
    assert "上一步" in backwards.value.message
    # the command centre may backdate (forward of the last step); the event says when it was
    # entered
    cases.transition(conn, inc["id"], "in_progress", COMMAND, at=now - dt.timedelta(minutes=50))
    # a worker may not backdate at all (handling-time KPIs would be hers to choose)
    with conn.begin_nested(), pytest.raises(Forbidden):
        cases.transition(conn, inc["id"], "handled", worker, at=now - dt.timedelta(minutes=30))
    # ... but may give the current time, or none
    with conn.begin_nested(), pytest.raises(InvalidInput, match="处置说明"):  # 办结: a note
        cases.transition(conn, inc["id"], "handled", worker, at=localtime.now(), note=" ")
    done = cases.transition(conn, inc["id"], "handled", worker, at=localtime.now(),
                            note="已清理")
    with pytest.raises(InvalidInput):  # not before the previous step, command or not
        cases.transition(conn, inc["id"], "verified", COMMAND, at=now - dt.timedelta(hours=2))
    started = [e for e in done["events"] if e["to_status"] == "in_progress"]
    assert started and "entered_at" in started[0]["data"]
    assert not any("entered_at" in e["data"] for e in done["events"]
                   if e["to_status"] == "handled")
