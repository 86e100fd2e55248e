"""Requests on a case (申请): a grid worker or department asks the command centre for more time
(延期), to give the case back (退单: wrongly dispatched, not theirs) or to suspend it (挂起:
waiting for the reporter, for weather). The command centre approves or refuses; an approval
does what the command centre would have done itself (extend, give back to ``registered``,
pause), in the same transaction, with the same checks and one event each.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.principal import Principal
from geo.db.tables.vocab import CASE_REQUEST, CASE_REQUEST_STATE
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.incidents import cases, clock
from geo.incidents.calendar import working_time_label
from geo.incidents.cases import (
    MAX_ID,
    _iso,
    add_event,
    check_version,
    fetch,
    incident_json,
    may_act,
    update_row,
)
from geo.incidents.flow import OPEN, STATUS_ZH

# The statuses a case may be given back from: it was dispatched to the asker.
RETURNABLE = frozenset({"dispatched", "in_progress", "rework"})
MAX_REASON = 2000
MAX_EXTENSION_MIN = 480 * 60


def pending_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The requests on a case still waiting for the command centre, oldest first."""
    rows = conn.execute(text(
        "SELECT id, kind, minutes, reason, requested_by, requested_at FROM incident_request "
        "WHERE incident_id = :i AND state = 'pending' ORDER BY requested_at, id"),
        {"i": incident_id}).mappings().all()
    return [request_json(dict(r)) for r in rows]


def pending_by_case(conn: Connection, incident_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """:func:`pending_of` for many cases in one query (a list)."""
    rows = conn.execute(text(
        "SELECT incident_id, id, kind, minutes, reason, requested_by, requested_at "
        "FROM incident_request WHERE incident_id = ANY(:ids) AND state = 'pending' "
        "ORDER BY requested_at, id"), {"ids": incident_ids}).mappings().all()
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in incident_ids}
    for r in rows:
        item = dict(r)
        out[item.pop("incident_id")].append(request_json(item))
    return out


def request_json(row: dict[str, Any]) -> dict[str, Any]:
    """A request as answered: codes with their Chinese labels."""
    out = {**row, "kind_label": CASE_REQUEST.label(row["kind"]),
           "kind_label_en": CASE_REQUEST.label(row["kind"], "en")}
    if row.get("minutes"):
        out["minutes_label"] = working_time_label(row["minutes"])
    if "state" in row:
        out["state_label"] = CASE_REQUEST_STATE.label(row["state"])
    for k in ("requested_at", "decided_at"):
        if k in out:
            out[k] = _iso(out[k])
    return out


def check_request(row: dict[str, Any], kind: str, pending: list[dict[str, Any]]) -> str | None:
    """Why a request of ``kind`` cannot be made on this case now, or None."""
    if row["status"] not in OPEN:
        return (f"事件状态为「{STATUS_ZH[row['status']]}」, 已结束, 不能再提出申请 / the case is "
                f"{row['status']}: no request can be made")
    if any(p["kind"] == kind for p in pending):
        return (f"已有待审批的「{CASE_REQUEST.label(kind)}」申请 / a {kind} request is already "
                "waiting for the command centre")
    if kind == "return" and row["status"] not in RETURNABLE:
        return (f"只有已派遣给您的事件可以退回 (当前「{STATUS_ZH[row['status']]}」) / only a "
                f"case dispatched to you can be returned (it is {row['status']})")
    if kind in ("extension", "suspend") and row["paused_at"] is not None:
        return "事件已挂起 / the case is already suspended"
    if kind == "extension" and row["due_at"] is None:
        return "事件没有运行中的期限 / the case has no running deadline to extend"
    return None


def create(
    conn: Connection, incident_id: int | str, principal: Principal, kind: str, reason: str,
    minutes: int | None = None,
) -> dict[str, Any]:
    """A worker's or department's request on a case in their scope (201)."""
    if kind not in CASE_REQUEST.codes:
        raise InvalidInput(
            f"未知申请类型 {kind!r}; 可用: " + ", ".join(
                f"{c} ({CASE_REQUEST.label(c)})" for c in CASE_REQUEST.codes)
            + f" / unknown request kind {kind!r}; valid: {list(CASE_REQUEST.codes)}",
            field="kind", valid=list(CASE_REQUEST.codes))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请填写申请理由 / give a reason", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"理由最多 {MAX_REASON} 字 / the reason is limited to {MAX_REASON} "
                           "characters", field="reason")
    if kind == "extension":
        if minutes is None or not 1 <= minutes <= MAX_EXTENSION_MIN:
            raise InvalidInput(f"延期须给出 1..{MAX_EXTENSION_MIN} 工作分钟 / an extension needs "
                               f"minutes between 1 and {MAX_EXTENSION_MIN}", field="minutes")
    else:
        minutes = None
    row = fetch(conn, incident_id, principal, lock=True)
    may_act(principal, row, None)
    if principal.sees_all_incidents():
        raise Forbidden("指挥中心直接延期、改派或挂起, 无需申请 (POST /incidents/{code}/extend, "
                        "/reassign, /pause) / the command centre acts directly: extend, "
                        "reassign or pause")
    reason_not = check_request(row, kind, pending_of(conn, row["id"]))
    if reason_not:
        raise Conflict(reason_not, current=row["status"])
    now = localtime.now()
    rid = int(conn.execute(text(
        "INSERT INTO incident_request (region_code, incident_id, kind, minutes, reason, "
        "requested_by, requested_at) VALUES (:r, :i, :k, :m, :why, :by, :at) RETURNING id"),
        {"r": row["region_code"], "i": row["id"], "k": kind, "m": minutes, "why": reason,
         "by": principal.user, "at": now}).scalar_one())
    update_row(conn, row, {})
    add_event(conn, row, "request", principal.user, now, reason,
              {"request_id": rid, "kind": kind, "minutes": minutes})
    return {"id": rid, "incident": row["code"], "kind": kind,
            "kind_label": CASE_REQUEST.label(kind), "minutes": minutes, "reason": reason,
            "state": "pending", "state_label": CASE_REQUEST_STATE.label("pending"),
            "requested_by": principal.user, "requested_at": _iso(now)}


def decide(
    conn: Connection, incident_id: int | str, request_id: int, principal: Principal,
    approve: bool, note: str | None = None, version: int | None = None,
) -> dict[str, Any]:
    """The command centre approves or refuses a pending request; answers the case."""
    row = fetch(conn, incident_id, principal, lock=True)  # 404 outside the caller's scope
    if not principal.sees_all_incidents() or principal.role not in ("admin", "command"):
        raise Forbidden("只有指挥中心可以审批申请 / only the command centre decides requests")
    check_version(row, version)
    if not 0 < request_id <= MAX_ID:
        raise NotFound(f"申请 {request_id} 不存在 / request {request_id} not found")
    req = conn.execute(text(
        "SELECT id, kind, minutes, reason, state, requested_by FROM incident_request "
        "WHERE id = :q AND incident_id = :i FOR UPDATE"),
        {"q": request_id, "i": row["id"]}).mappings().first()
    if req is None:
        raise NotFound(f"事件 {row['code']} 没有申请 {request_id} / request {request_id} not "
                       "found on this case")
    if req["state"] != "pending":
        raise Conflict(f"申请 {request_id} 已审批 ({CASE_REQUEST_STATE.label(req['state'])}) / "
                       f"request {request_id} was already decided ({req['state']})",
                       current=req["state"])
    now = localtime.now()
    conn.execute(text(
        "UPDATE incident_request SET state = :s, decided_by = :by, decided_at = :at, "
        "decision_note = :n WHERE id = :q"),
        {"s": "approved" if approve else "refused", "by": principal.user, "at": now,
         "n": note, "q": request_id})
    data = {"request_id": request_id, "kind": req["kind"], "approved": approve}
    if not approve:
        update_row(conn, row, {})
        add_event(conn, row, "decision", principal.user, now, note, data)
        return incident_json(conn, fetch(conn, row["id"], principal), principal,
                             with_events=True)
    add_event(conn, row, "decision", principal.user, now, note, data)
    why = f"同意{req['requested_by']}的申请: {req['reason']}"
    if note:
        why += f"; {note}"
    # what the command centre would have done itself, in this transaction
    if req["kind"] == "extension":
        return clock.extend(conn, row["id"], principal, int(req["minutes"]), note=why)
    if req["kind"] == "suspend":
        return clock.pause(conn, row["id"], principal, note=why)
    if row["status"] not in RETURNABLE:
        raise Conflict(f"事件已为「{STATUS_ZH[row['status']]}」, 不能再退回 / the case is "
                       f"{row['status']} now and cannot be returned", current=row["status"])
    return cases.transition(conn, row["id"], "registered", principal, note=why)
