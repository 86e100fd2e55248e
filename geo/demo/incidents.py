"""Demo content of the dispatch package: histories, routing reasons and deadlines.

Run by ``geo.demo.county.load_demo`` inside its transaction, after the core rows (the 20,000
synthetic incidents with their step times) and ``geo.incidents.routing.route_incidents``.
For every incident it writes the ``incident_event`` rows of its history (intake, each
transition, rework when verification failed), consistent with its status and step times,
spreads the open cases across the flow (reported ... verified, rework), sets
``due_at``/``final_due_at``/``deadline`` in working time and records the routing reasons and
the cameras that see each point. Bulk writes use COPY.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from geo.demo.incident_rows import DEMO_END
from geo.incidents.calendar import load_calendar
from geo.incidents.flow import KEEPS_CLOCK, STEP_OF_STATUS, final_due, start_clock
from geo.incidents.reference import county_limits

ACTOR = {"12345": "12345热线", "110": "110指挥中心", "patrol": "网格员巡查", "photo": "随手拍",
         "camera": "视频巡查", "petition": "信访"}
MIN = dt.timedelta(minutes=1)


def _history(r: dict[str, Any], rng: np.random.Generator) -> tuple[str, list[tuple[Any, ...]],
                                                                   dict[str, Any]]:
    """(final status, transitions [(from, to, at, actor, note)], step-time columns).

    Cases reported in the demo's last week are cut after a random step of their flow, as if
    seen live: the open cases then span every status from reported to verified.
    """
    status, events, _ = _full_history(r, rng)
    if r["reported_at"] > DEMO_END - dt.timedelta(days=7) and len(events) > 1 \
            and rng.random() < 0.6:
        events = events[:int(rng.integers(1, len(events)))]
        status = events[-1][1]
        back = events[-1][2] + 60 * MIN
        if status == "handled" and back <= DEMO_END and rng.random() < 0.4:
            events.append(("handled", "rework", back, "指挥中心值班员",
                           "核查未通过, 返工 / verification failed"))
            status = "rework"

    def last(to: str) -> Any:
        return max((e[2] for e in events if e[1] == to), default=None)

    cols = {
        "registered_at": last("registered"), "dispatched_at": last("dispatched"),
        "handled_at": last("handled"),
        "closed_at": next((e[2] for e in events if e[1] in ("closed", "rejected",
                                                            "cancelled")), None),
        "rework_count": sum(1 for e in events if e[1] == "rework"),
    }
    return status, events, cols


def _merged_history(r: dict[str, Any]) -> tuple[str, list[tuple[Any, ...]], dict[str, Any]]:
    """A duplicate merged by the duty officer 20 minutes after it came in."""
    t0 = r["reported_at"]
    at = t0 + 20 * MIN
    events = [(None, "reported", t0, ACTOR[r["channel"]], "上报 / reported"),
              ("reported", "merged", at, "指挥中心值班员", "重复上报, 合并 / duplicate merged")]
    return "merged", events, {"registered_at": None, "dispatched_at": None,
                              "handled_at": None, "closed_at": at, "rework_count": 0}


def _full_history(r: dict[str, Any], rng: np.random.Generator) -> tuple[
        str, list[tuple[Any, ...]], dict[str, Any]]:
    """The whole history implied by the core demo's status and step times."""
    st = r["status"]
    t0 = r["reported_at"]
    reg, disp, hand, clo = r["registered_at"], r["dispatched_at"], r["handled_at"], r["closed_at"]
    ev: list[tuple[Any, ...]] = [(None, "reported", t0, ACTOR[r["channel"]], "上报 / reported")]
    upd: dict[str, Any] = {"handled_at": hand, "rework_count": 0}
    cmd = "指挥中心值班员"
    worker = "网格员"
    if st == "rejected":
        ev.append(("reported", "rejected", clo, cmd, "非本平台受理范围 / not our matter"))
        return st, ev, upd
    if st == "cancelled":
        ev.append(("reported", "registered", reg, cmd, "立案 / registered"))
        ev.append(("registered", "cancelled", clo, cmd, "上报人撤销 / withdrawn by reporter"))
        return st, ev, upd
    if reg is None:
        return "reported", ev, upd
    ev.append(("reported", "registered", reg, cmd, "立案 / registered"))
    if disp is None:
        return "registered", ev, upd
    ev.append(("registered", "dispatched", disp, cmd, "派遣 / dispatched"))
    start = disp + 5 * MIN + (hand - disp) * 0.1 if hand else disp + 20 * MIN
    if hand is None and (start > DEMO_END or rng.random() < 0.3):
        return "dispatched", ev, upd
    ev.append(("dispatched", "in_progress", start, worker, "到场处置 / on site"))
    if hand is None:
        return "in_progress", ev, upd
    if st == "closed" and r["rework_count"] > 0:
        gap = clo - hand
        back = hand + gap * 0.2
        ev.append(("in_progress", "handled", hand, worker, "处置完毕 / handled"))
        ev.append(("handled", "rework", back, cmd, "核查未通过, 返工 / verification failed"))
        ev.append(("rework", "in_progress", hand + gap * 0.25, worker, "返工处置 / rework"))
        h2 = hand + gap * 0.7
        ev.append(("in_progress", "handled", h2, worker, "返工完毕 / handled again"))
        ev.append(("handled", "verified", hand + gap * 0.9, cmd, "核查通过 / verified"))
        ev.append(("verified", "closed", clo, cmd, "结案 / closed"))
        upd.update(handled_at=h2, rework_count=1)
        return "closed", ev, upd
    ev.append(("in_progress", "handled", hand, worker, "处置完毕 / handled"))
    if st == "closed":
        ev.append(("handled", "verified", hand + (clo - hand) * 0.8, cmd, "核查通过 / verified"))
        ev.append(("verified", "closed", clo, cmd, "结案 / closed"))
        return "closed", ev, upd
    # An open handled case: some wait for verification, some were verified, some sent back.
    u = rng.random()
    if u < 0.2 and hand + 60 * MIN <= DEMO_END:
        ev.append(("handled", "rework", hand + 60 * MIN, cmd, "核查未通过, 返工 / rework"))
        upd["rework_count"] = 1
        return "rework", ev, upd
    if u < 0.4 and hand + 60 * MIN <= DEMO_END:
        ev.append(("handled", "verified", hand + 60 * MIN, cmd, "核查通过 / verified"))
        return "verified", ev, upd
    return "handled", ev, upd


def _copy_text(value: Any) -> str:
    """One field in COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    out = str(value)
    if "\\" in out or "\t" in out or "\n" in out:
        out = out.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return out


def _routing(r: dict[str, Any], cams: list[dict[str, Any]] | None) -> dict[str, Any]:
    worker_reason = ("上报日在岗的网格员 / worker on duty on the report date" if r["worker_id"]
                     else "该网格当日无在岗网格员 / no worker on duty in the cell that day")
    out: dict[str, Any] = {
        "demo": True,
        "place": {"source": "coordinates", "crs": "EPSG:4490",
                  "reason": "演示数据坐标 / demo coordinates (CGCS2000)"},
        "cell": {"code": r["cell_code"], "boundary_set_id": r["boundary_set_id"],
                 "reason": "上报日有效边界集中覆盖该点的基础网格 / basic cell covering the "
                           "point in the boundary set valid on the report date"},
        "community": {"code": r["community_code"]},
        "township": {"code": r["township_code"]},
        "worker": {"id": r["worker_id"], "reason": worker_reason},
        "department": {"code": r["department_code"],
                       "reason": "按类别的主管部门 / the department of the category"},
    }
    if cams is not None:
        out["cameras"] = cams
    return out


def demo_hook(conn: Connection, region_code: str, rng: np.random.Generator) -> None:
    """Give the demo's incidents histories, deadlines and routing reasons (see module doc)."""
    cal = load_calendar(conn, region_code)
    limits: dict[str, Any] = county_limits(conn, region_code)
    rows = conn.execute(text(
        "SELECT id, status, urgency, category_code, channel, reported_at, registered_at, "
        "dispatched_at, handled_at, closed_at, rework_count, cell_code, boundary_set_id, "
        "community_code, township_code, worker_id, department_code FROM incident "
        "WHERE region_code = :r AND synthetic ORDER BY id"), {"r": region_code}).mappings().all()
    if not rows:  # a county filled with no incident (demo load --region --incidents 0)
        return
    # Cameras whose sector sees each open case (the ones a duty officer checks first).
    cams: dict[int, list[dict[str, Any]]] = {}
    for iid, gb_id, name, dist in conn.execute(text("""
        SELECT i.id, c.gb_id, c.name,
               round(ST_Distance(c.geom::geography, i.geom::geography)::numeric, 1)
        FROM incident i JOIN camera c ON c.region_code = i.region_code
         AND c.status = 'online' AND c.sector && i.geom AND ST_Covers(c.sector, i.geom)
        WHERE i.region_code = :r AND i.synthetic
          AND i.status NOT IN ('closed', 'rejected', 'cancelled')
        ORDER BY 1, 4
    """), {"r": region_code}):
        cams.setdefault(iid, []).append({"gb_id": gb_id, "name": name,
                                         "distance_m": float(dist)})
    # Duplicates: the same category reported again in the same compound within 48 h while the
    # first case was still open; about half of them were merged by the duty officer.
    merged_into: dict[int, int] = {}
    primaries: set[int] = set()
    for dup, first in conn.execute(text("""
        SELECT DISTINCT ON (b.id) b.id, a.id
        FROM incident a JOIN incident b ON b.region_code = a.region_code
         AND b.compound_id = a.compound_id AND b.category_code = a.category_code
         AND b.reported_at > a.reported_at AND b.reported_at < a.reported_at + interval '48 h'
         AND b.reported_at < a.closed_at - interval '1 h'
        WHERE a.region_code = :r AND a.synthetic AND a.status = 'closed' AND b.status = 'closed'
          AND a.compound_id IS NOT NULL
        ORDER BY b.id, a.reported_at
    """), {"r": region_code}):
        if dup in primaries or first in merged_into or rng.random() < 0.5:
            continue
        merged_into[dup] = first
        primaries.add(first)
    raw = conn.connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    cur.execute("CREATE TEMP TABLE _demo_inc (id bigint, status text, due_at timestamptz, "
                "final_due_at timestamptz, deadline jsonb, registered_at timestamptz, "
                "dispatched_at timestamptz, handled_at timestamptz, closed_at timestamptz, "
                "rework_count int, routing jsonb, merged_into_id bigint) ON COMMIT DROP")
    inc_lines: list[str] = []
    ev_lines: list[str] = []
    for r in rows:
        if r["id"] in merged_into:
            status, events, upd = _merged_history(dict(r))
        else:
            status, events, upd = _history(dict(r), rng)
        lim = limits.get(r["category_code"])
        final = final_due(cal, lim, r["urgency"], r["reported_at"])
        step_start = next(
            (e for e in reversed(events) if e[1] in STEP_OF_STATUS
             and e[1] not in KEEPS_CLOCK), events[0])
        due, clock = start_clock(cal, lim, r["urgency"], STEP_OF_STATUS[step_start[1]],
                                 step_start[2])
        for frm, to, at, actor, note in events:
            kind = "intake" if frm is None else "transition"
            data = json.dumps({"due_at": clock["due_at"]}) if at == step_start[2] else "{}"
            ev_lines.append("\t".join(_copy_text(v) for v in (
                region_code, r["id"], kind, frm, to, actor, at, note, data)))
        routing = _routing(dict(r), cams.get(r["id"]) if status not in (
            "closed", "rejected", "cancelled") else None)
        inc_lines.append("\t".join(_copy_text(v) for v in (
            r["id"], status, due, final, json.dumps(clock, ensure_ascii=False),
            upd["registered_at"], upd["dispatched_at"], upd["handled_at"], upd["closed_at"],
            upd["rework_count"], json.dumps(routing, ensure_ascii=False),
            merged_into.get(r["id"]))))
    # One COPY at a time: a connection carries a single COPY stream.
    with cur.copy("COPY _demo_inc FROM STDIN") as copy:
        copy.write("\n".join(inc_lines) + "\n")
    with cur.copy("COPY incident_event (region_code, incident_id, kind, from_status, "
                  "to_status, actor, at, note, data) FROM STDIN") as copy:
        copy.write("\n".join(ev_lines) + "\n")
    cur.execute("ALTER TABLE _demo_inc ADD PRIMARY KEY (id)")
    cur.execute("ANALYZE _demo_inc")
    cur.execute("""
        UPDATE incident i SET status = d.status, due_at = d.due_at,
               final_due_at = d.final_due_at, deadline = d.deadline,
               registered_at = d.registered_at, dispatched_at = d.dispatched_at,
               handled_at = d.handled_at, closed_at = d.closed_at,
               rework_count = d.rework_count, routing = d.routing,
               merged_into_id = d.merged_into_id
        FROM _demo_inc d WHERE i.id = d.id
    """)
