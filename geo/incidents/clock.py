"""The case clock: pause, resume, extension and the initial deadlines of a new case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.principal import Principal
from geo.errors import Conflict, InvalidInput
from geo.incidents.calendar import Clock, WorkCalendar, clock_of, load_calendar
from geo.incidents.cases import (
    add_event,
    check_time,
    check_version,
    fetch,
    incident_json,
    may_act,
    update_row,
)
from geo.incidents.flow import (
    OPEN,
    final_due,
    start_clock,
)


def _clocks(cal: WorkCalendar, row: dict[str, Any]) -> tuple[Clock, Clock]:
    """The clocks of a case's current step and of the whole case, as its deadline records
    them (cases stored before clocks per step ran in working time)."""
    deadline = row.get("deadline") or {}
    return (clock_of(cal, deadline.get("clock")), clock_of(cal, deadline.get("final_clock")))


def pause(
    conn: Connection, incident_id: int | str, principal: Principal, note: str | None = None,
    version: int | None = None, at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Stop the clock (挂起), e.g. waiting for the reporter or for weather."""
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, "registered")
    if row["status"] not in OPEN or row["paused_at"] is not None:
        raise Conflict(f"事件 {row['code']} ({row['status']}) 无法挂起 / only a running open "
                       "case can be paused", current=row["status"])
    when = check_time(conn, row, at, principal)
    step, whole = _clocks(load_calendar(conn, row["region_code"]), row)
    left = step.working_minutes_between(when, row["due_at"]) if row["due_at"] else None
    left_final = (whole.working_minutes_between(when, row["final_due_at"])
                  if row["final_due_at"] else None)
    data = {"remaining_min": left, "remaining_final_min": left_final}
    update_row(conn, row, {"paused_at": when})
    add_event(conn, row, "pause", principal.user, when, note, data)
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def resume(
    conn: Connection, incident_id: int | str, principal: Principal, note: str | None = None,
    version: int | None = None, at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Restart the clock: the working time left at the pause runs again from now."""
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, "registered")
    if row["paused_at"] is None:
        raise Conflict(f"事件 {row['code']} 未挂起 / the case is not paused")
    when = check_time(conn, row, at, principal)
    last = conn.execute(text(
        "SELECT data FROM incident_event WHERE incident_id = :i AND kind = 'pause' "
        "ORDER BY at DESC, id DESC LIMIT 1"), {"i": row["id"]}).scalar_one()
    cal = load_calendar(conn, row["region_code"])
    step, whole = _clocks(cal, row)
    sets: dict[str, Any] = {"paused_at": None}
    if last.get("remaining_min") is not None:
        sets["due_at"] = step.add_working_minutes(when, max(0.0, last["remaining_min"]))
    if last.get("remaining_final_min") is not None:
        sets["final_due_at"] = whole.add_working_minutes(
            when, max(0.0, last["remaining_final_min"]))
    deadline = dict(row["deadline"] or {})
    if "due_at" in sets:
        deadline["due_at"] = sets["due_at"].isoformat()
    warnings = cal.take_warnings()
    if warnings:
        deadline["calendar_incomplete"] = True
        deadline["warnings"] = warnings
    sets["deadline"] = deadline
    update_row(conn, row, sets)
    add_event(conn, row, "resume", principal.user, when, note,
              {"due_at": deadline.get("due_at"), "paused_min":
               round((when - row["paused_at"]).total_seconds() / 60, 1)})
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def extend(
    conn: Connection, incident_id: int | str, principal: Principal, minutes: int,
    note: str | None = None, version: int | None = None,
) -> dict[str, Any]:
    """Grant an extension (延期) of ``minutes`` working minutes to the current step and case."""
    if minutes <= 0 or minutes > 480 * 60:
        raise InvalidInput(f"延期分钟数须在 1..28800 之间 / extension must be 1..28800 working "
                           f"minutes, got {minutes}", field="minutes")
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, "registered")
    if row["status"] not in OPEN or row["due_at"] is None:
        raise Conflict(f"事件 {row['code']} ({row['status']}) 没有运行中的期限 / no running "
                       "deadline to extend", current=row["status"])
    if row["paused_at"] is not None:
        raise Conflict("挂起中的事件请先恢复再延期 / resume the case before extending it")
    cal = load_calendar(conn, row["region_code"])
    step, whole = _clocks(cal, row)
    due = step.add_working_minutes(row["due_at"], minutes)
    final = (whole.add_working_minutes(row["final_due_at"], minutes)
             if row["final_due_at"] else None)
    deadline = dict(row["deadline"] or {})
    deadline["extension_min"] = int(deadline.get("extension_min") or 0) + minutes
    deadline["due_at"] = due.isoformat()
    warnings = cal.take_warnings()
    if warnings:
        deadline["calendar_incomplete"] = True
        deadline["warnings"] = warnings
    update_row(conn, row, {"due_at": due, "final_due_at": final, "deadline": deadline})
    add_event(conn, row, "extend", principal.user, localtime.now(), note,
              {"minutes": minutes, "from": row["due_at"].isoformat(), "to": due.isoformat()})
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def initial_deadlines(
    cal: WorkCalendar, limits: dict[str, Any] | None, urgency: str, step: str,
    start: dt.datetime, reported_at: dt.datetime,
) -> tuple[dt.datetime, dt.datetime, dict[str, Any]]:
    """Due time of the first step and of the whole case, with the clock JSON."""
    due, clock = start_clock(cal, limits, urgency, step, start)
    final = final_due(cal, limits, urgency, reported_at)
    more = cal.take_warnings()
    if more:
        clock["calendar_incomplete"] = True
        clock["warnings"] = sorted(set(clock["warnings"]) | set(more))
    return due, final, clock


# ---------------------------------------------------------------- views
