"""Case operations: read, transitions, merge, reassignment, pause/resume/extension, notes.

Every change locks the incident row (``SELECT ... FOR UPDATE``), checks the caller's scope and
the optimistic version (If-Match), applies the change with ``version = version + 1`` and writes
one audited ``incident_event`` (who, when, note, photos). The loser of a race gets 409.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.fields import Access, as_seen, field_access, mask_row, mask_text_tree
from geo.auth.principal import Principal, incident_scope_sql, mask_personal_text
from geo.crs.names import normalize_crs
from geo.crs.transforms import point_from_cgcs2000
from geo.db.tables.vocab import CHANNEL, URGENCY
from geo.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.incidents.calendar import WorkCalendar, load_calendar
from geo.incidents.flow import (
    COMMAND_ONLY,
    KEEPS_CLOCK,
    MIN_NOTE,
    NOTE_REQUIRED,
    OPEN,
    STATUS_ZH,
    STEP_OF_STATUS,
    TERMINAL,
    check_transition,
    open_status_sql,
    start_clock,
)
from geo.incidents.routing import resolve_department
from geo.io.text import check_text
from geo.localtime import CST
from geo.notify.events import announce
from geo.notify.rules import on_event

CASE_COLUMNS = """i.id, i.region_code, i.code, i.category_code, i.channel, i.status, i.urgency,
  i.reported_at, i.description, i.location_text, i.reporter_name, i.reporter_phone,
  ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.boundary_set_id, i.cell_code, i.community_code,
  i.township_code, i.worker_id, i.department_code, i.compound_id, i.routing, i.due_at,
  i.final_due_at, i.paused_at, i.deadline, i.registered_at, i.dispatched_at, i.handled_at,
  i.closed_at, i.rework_count, i.merged_into_id, i.version, i.updated_at,
  (SELECT c.name FROM incident_category c WHERE c.code = i.category_code) AS category_name,
  (SELECT d.name FROM department d WHERE d.code = i.department_code) AS department_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.township_code) AS township_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.community_code) AS community_name"""

MAX_ID = 2**63 - 1
OPEN_SQL = open_status_sql("i.status")


def parse_version(if_match: str | None, version: int | None) -> int | None:
    """The expected version from an If-Match header (``"3"``, ``W/"3"``) or a body field."""
    if if_match:
        raw = if_match.strip()
        if raw == "*":
            return version
        raw = raw.removeprefix("W/").strip('"').removeprefix("v")
        try:
            return int(raw)
        except ValueError as exc:
            raise InvalidInput(
                f"If-Match 无法解析: {if_match!r} / If-Match must be the ETag of the incident, "
                'e.g. "3"', field="If-Match") from exc
    return version


def is_overdue(row: dict[str, Any], now: dt.datetime) -> bool:
    """An open, unpaused case past its current step's due time."""
    return (row["status"] in OPEN and row.get("paused_at") is None
            and row.get("due_at") is not None and row["due_at"] < now)


def incident_json(
    conn: Connection, row: dict[str, Any], principal: Principal, now: dt.datetime | None = None,
    with_events: bool = False, compact: bool = False, crs: str | None = None,
    pending: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The public JSON of an incident; reporter fields masked unless the caller may see them.

    ``compact``: without ``routing`` and ``deadline`` (a list on a phone). ``crs``: ``lon`` and
    ``lat`` in that CRS (GCJ02 for a phone map), said in ``crs``. ``pending``: the case's
    pending requests when the caller read them already (a list); else they are read here.
    Every case says what the caller may do next (``allowed_actions``).
    """
    from geo.incidents.actions import allowed_actions
    from geo.incidents.requests import pending_of

    now = now or localtime.now()
    routing = dict(row["routing"] or {})
    if routing.get("duplicates") and not principal.sees_all_incidents():
        # judged by where each related case is now (it may have been reassigned since)
        ids = [d.get("id") for d in routing["duplicates"] if isinstance(d.get("id"), int)]
        now_at = {i: (c, dp) for i, c, dp in conn.execute(text(
            "SELECT id, cell_code, department_code FROM incident WHERE id = ANY(:ids)"),
            {"ids": ids})}
        routing["duplicates"] = in_scope(principal, [
            {**d, "cell_code": now_at.get(d.get("id"), (None, None))[0],
             "department_code": now_at.get(d.get("id"), (None, None))[1]}
            for d in routing["duplicates"]])
    out: dict[str, Any] = {
        "id": row["id"], "code": row["code"], "region_code": row["region_code"],
        "status": row["status"], "status_zh": STATUS_ZH.get(row["status"]),
        "category": row["category_code"], "category_name": row.get("category_name"),
        "channel": row["channel"], "channel_name": CHANNEL.label(row["channel"]),
        "urgency": row["urgency"], "urgency_name": URGENCY.label(row["urgency"]),
        "reported_at": _iso(row["reported_at"]),
        "description": row["description"], "location_text": row["location_text"],
        "reporter_name": row["reporter_name"], "reporter_phone": row["reporter_phone"],
        "lon": row["lon"], "lat": row["lat"],
        "cell_code": row["cell_code"], "community_code": row["community_code"],
        "community_name": row.get("community_name"),
        "township_code": row["township_code"], "township_name": row.get("township_name"),
        "worker_id": row["worker_id"],
        "department_code": row["department_code"], "department_name": row.get("department_name"),
        "compound_id": row["compound_id"],
        "routing": routing,
        "due_at": _iso(row["due_at"]), "final_due_at": _iso(row["final_due_at"]),
        "overdue": is_overdue(row, now), "paused": row["paused_at"] is not None,
        "deadline": row["deadline"],
        "calendar_incomplete": bool((row["deadline"] or {}).get("calendar_incomplete")),
        "registered_at": _iso(row["registered_at"]), "dispatched_at": _iso(row["dispatched_at"]),
        "handled_at": _iso(row["handled_at"]), "closed_at": _iso(row["closed_at"]),
        "rework_count": row["rework_count"], "merged_into_id": row["merged_into_id"],
        "version": row["version"],
    }
    out = mask_row(principal, "incidents", out)

    def seen(name: str, value: Any) -> Any:
        return as_seen(principal, "incidents", name, value, row["cell_code"],
                       row["department_code"])

    # Copies of free text inside routing and event data (an unresolved place, reasons, notes
    # of reassignments) are masked like the free-text fields; the worker's name as the one
    # rule for workers' names says.
    free_text_full = sees_free_text(principal, row)
    if not free_text_full:
        out["routing"] = mask_text_tree(out["routing"])
    worker = out["routing"].get("worker")
    if isinstance(worker, dict) and worker.get("name"):
        out["routing"]["worker"] = {**worker,
                                    "name": as_seen(principal, "workers", "name", worker["name"])}
    if with_events:
        out["events"] = [{**e, "note": seen("note", e["note"]),
                          "data": e["data"] if free_text_full else mask_text_tree(e["data"])}
                         for e in events_of(conn, row["id"])]
        out["attachments"] = [{**a, "filename": attachment_name(principal, row, a["filename"],
                                                                free_text_full)}
                              for a in attachments_of(conn, row["id"])]
        merged = conn.execute(text(
            "SELECT id, code, channel, reported_at, description FROM incident "
            "WHERE merged_into_id = :i ORDER BY reported_at"), {"i": row["id"]}).mappings().all()
        out["reports"] = [
            {"id": row["id"], "code": row["code"], "channel": row["channel"],
             "reported_at": _iso(row["reported_at"]),
             "description": seen("description", row["description"])},
            *({**dict(m), "reported_at": _iso(m["reported_at"]),
               "description": seen("description", m["description"])} for m in merged),
        ]
        out["channels"] = sorted({r["channel"] for r in out["reports"]})
    if pending is None:
        pending = pending_of(conn, row["id"])
    out["pending_requests"] = pending if free_text_full else mask_text_tree(pending)
    out["allowed_actions"] = allowed_actions(principal, row, pending)
    if compact:
        for key in ("routing", "deadline"):
            out.pop(key, None)
    if crs is not None:
        out["lon"], out["lat"] = point_from_cgcs2000(out["lon"], out["lat"], crs)
        out["crs"] = normalize_crs(crs)
    return out


def sees_free_text(principal: Principal, row: Mapping[str, Any]) -> bool:
    """Whether the caller reads a case's free text (and the copies of it: routing reasons,
    event data, attachment names) unmasked; ``row`` has the case's cell and department."""
    return field_access(principal, "incidents", "description", row["cell_code"],
                        row["department_code"]) is Access.FULL


def attachment_name(principal: Principal, row: Mapping[str, Any], name: str,
                    full: bool | None = None) -> str:
    """An attachment's file name as the caller may read it: masked like the case's free text
    (a name such as ``报案人13812345678.png``; review round 10, F5). ``full``: the caller's
    :func:`sees_free_text` when already known."""
    if full is None:
        full = sees_free_text(principal, row)
    return name if full or not name else (mask_personal_text(name) or name)


def in_scope(principal: Principal, related: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The related cases (duplicates, merge candidates) the caller may know exist.

    A case outside the caller's scope is left out without a trace (no count either): naming
    it, or counting it, would tell a worker that something was reported where she may not
    look. Entries without their scope keys (stored before they were recorded) count as
    outside.
    """
    return [d for d in related
            if principal.may_see_incident(d.get("cell_code"), d.get("department_code"))]


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(CST).isoformat() if t is not None else None


def events_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """The audited history of an incident, oldest first."""
    rows = conn.execute(text(
        "SELECT id, kind, from_status, to_status, actor, at, note, data FROM incident_event "
        "WHERE incident_id = :i ORDER BY at, id"), {"i": incident_id}).mappings().all()
    return [{**dict(r), "at": _iso(r["at"])} for r in rows]


def attachments_of(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Attachments (photos) stored with an incident."""
    rows = conn.execute(text(
        "SELECT id, event_id, filename, content_type, size_bytes, sha256, uploaded_by, "
        "created_at FROM incident_attachment WHERE incident_id = :i ORDER BY id"),
        {"i": incident_id}).mappings().all()
    return [{**dict(r), "created_at": _iso(r["created_at"])} for r in rows]


def fetch(conn: Connection, incident_id: int | str, principal: Principal,
          lock: bool = False, region: str | None = None) -> dict[str, Any]:
    """One incident (by id or code) in the caller's scope; 404 otherwise. A code is looked
    up in county ``region`` when given (an id is unique: ``region`` does not change what it
    names). The one resolver of a case named in a request (every route and action).

    A code is unique within a county only (a history import may bring a code another county
    also has): a code held by several counties of the caller's scope is refused with 409
    listing them (:func:`ambiguous_code`) unless ``region`` picks one; a caller of one county
    resolves it within her county only (her scope).
    """
    cond, params = incident_scope_sql(principal, "i")
    # an id is ASCII digits: '²' or '２４６' are digits to Python, and read as codes here
    is_id = str(incident_id).isascii() and str(incident_id).isdigit()
    if is_id and int(incident_id) > MAX_ID:
        raise NotFound(f"事件 {incident_id} 不存在 / incident {incident_id} not found")
    key = "i.id = :k" if is_id else "i.code = :k"
    k: int | str = int(incident_id) if is_id else str(incident_id)
    if region is not None and not is_id:  # an id names one case anyway
        cond += " AND i.region_code = :case_region"
        params = {**params, "case_region": region}
    sql = f"SELECT {CASE_COLUMNS} FROM incident i WHERE {key} AND {cond} ORDER BY i.region_code"
    if lock:
        sql += " FOR UPDATE OF i"
    rows = conn.execute(text(sql), {**params, "k": k}).mappings().fetchmany(2)
    if not rows:
        raise NotFound(f"事件 {incident_id} 不存在或不在您的范围内 / incident {incident_id} "
                       "not found (or not in your scope)", incident=str(incident_id))
    if len(rows) > 1:
        raise ambiguous_code(conn, str(incident_id), principal)
    return dict(rows[0])


def ambiguous_code(conn: Connection, code: str, principal: Principal) -> Conflict:
    """The refusal (409) of a case code held by several counties of the caller's scope: it
    lists them (code and name) and says how to pick one (``?region=``)."""
    cond, params = incident_scope_sql(principal, "i")
    counties = [(str(c), str(n)) for c, n in conn.execute(text(
        f"SELECT r.code, r.name FROM region r WHERE EXISTS (SELECT 1 FROM incident i "
        f"WHERE i.region_code = r.code AND i.code = :k AND {cond}) ORDER BY r.code"),
        {**params, "k": code}).all()]
    zh = ", ".join(f"{c} {n}" for c, n in counties)
    en = ", ".join(f"{c} ({n})" for c, n in counties)
    return Conflict(
        f"事件编号 {code} 在你范围内的 {len(counties)} 个区县都有 ({zh}): 请用 ?region=<区县代码> "
        f"指定, 如 ?region={counties[0][0]} / case code {code} exists in {len(counties)} "
        f"counties of your scope ({en}): pick one with ?region=<county code>, e.g. "
        f"?region={counties[0][0]}", incident=code, field="region",
        counties=[{"code": c, "name": n} for c, n in counties])


def get_incident(conn: Connection, incident_id: int | str, principal: Principal,
                 now: dt.datetime | None = None, crs: str | None = None) -> dict[str, Any]:
    """An incident with its events, attachments and merged reports."""
    return incident_json(conn, fetch(conn, incident_id, principal), principal, now,
                         with_events=True, crs=crs)


def _category(conn: Connection, code: str, region_code: str) -> dict[str, Any]:
    """A category with its time limits in county ``region_code``."""
    from geo.incidents.reference import LIMITS_SQL

    row = conn.execute(text(f'SELECT c.code, c."group", {LIMITS_SQL} AS limits '
                            "FROM incident_category c WHERE c.code = :c"),
                       {"c": code, "lim_region": region_code}).mappings().one()
    return dict(row)


def check_version(row: dict[str, Any], expected: int | None) -> None:
    """Raise Conflict (409) when the caller's expected version is not the row's."""
    if expected is not None and int(expected) != int(row["version"]):
        raise Conflict(
            f"事件 {row['code']} 已被他人修改 (当前版本 {row['version']}, 您的版本 {expected}), "
            f"请刷新后重试 / incident {row['code']} was changed by someone else (version "
            f"{row['version']}, yours {expected}): reload and retry",
            current_version=row["version"], your_version=expected,
        )


# Events that are steps of the case flow, dated by ``at``: they must come in order.
STEP_EVENTS = ("intake", "transition", "pause", "resume")
# How far in the past a step's time may lie before it counts as backdating (clock skew,
# a form filled in over a few minutes).
BACKDATE_GRACE = dt.timedelta(minutes=5)


def check_time(
    conn: Connection, row: dict[str, Any], at: dt.datetime | None, principal: Principal,
) -> dt.datetime:
    """The time of a step on a case: ``at`` if it is allowed, else now.

    A case's history only moves forward: ``at`` must be aware, not in the future, not before
    the report and not before the case's latest step (:data:`STEP_EVENTS`; notes, merges and
    reassignments are dated when they are made and do not count). Only the command centre (and
    admins) may backdate a step (``at`` more than :data:`BACKDATE_GRACE` ago), e.g. to enter
    what was done on paper during an outage; :func:`add_event` records when such a step was entered.
    Grid workers and departments leave ``at`` out (now) or give the current time.
    """
    now = localtime.now()
    if at is None:
        return now
    if at.tzinfo is None:
        raise InvalidInput(f"时间缺少时区 / time without time zone: {at}; add +08:00",
                           field="at")
    if at > now + BACKDATE_GRACE:
        raise InvalidInput(f"时间 {at} 在未来 / time {at} is in the future", field="at")
    at = min(at, now)  # a clock a little ahead: the step happens now, never in the future
    if at < row["reported_at"]:
        raise InvalidInput(f"时间 {at} 早于上报时间 / time {at} is before the report "
                           f"({row['reported_at']})", field="at")
    last = conn.execute(text(
        "SELECT max(at) FROM incident_event WHERE incident_id = :i AND kind = ANY(:steps)"),
        {"i": row["id"], "steps": list(STEP_EVENTS)}).scalar_one()
    if last is not None and at < last:
        raise InvalidInput(
            f"时间 {at.astimezone(CST):%Y-%m-%d %H:%M:%S} 早于该事件上一步 "
            f"({last.astimezone(CST):%Y-%m-%d %H:%M:%S}): 办理过程只能向后记录 / time {at} "
            f"is before the case's previous step ({last}); steps are recorded in order",
            field="at")
    if at < now - BACKDATE_GRACE and not principal.sees_all_incidents():
        raise Forbidden(
            "只有指挥中心可以补录过去的时间; 不填 at 即按当前时间记录 / only the command centre "
            "may backdate a step; leave out 'at' to record it now")
    return at


def denial(principal: Principal, target: str | None) -> str | None:
    """Why the caller may not move a case (to ``target``), or None when they may.

    ``target`` None: a change that is no step (a note, a photo). The one rule behind
    :func:`may_act` and a case's ``allowed_actions`` (:mod:`geo.incidents.actions`).
    """
    if principal.role in ("planner", "viewer"):
        return f"角色 {principal.role} 只读 / role {principal.role} is read-only"
    if target in COMMAND_ONLY and not principal.sees_all_incidents():
        label = STATUS_ZH.get(target, target)
        return (f"只有指挥中心可以将事件置为「{label}」; 网格员和部门可签收处置、办结, 或提出"
                "申请 (延期、退回、挂起: POST /incidents/{code}/requests) / only the command "
                f"centre may set {target}; grid workers and departments move cases to "
                "in_progress and handled, or ask the command centre (extension, return, "
                "suspension: POST /incidents/{code}/requests)")
    return None


def may_act(principal: Principal, row: dict[str, Any], target: str | None) -> None:
    """Raise Forbidden unless the caller may move this case (to ``target``)."""
    reason = denial(principal, target)
    if reason is not None:
        raise Forbidden(reason)


# A step's note (办结说明, 备注, 退回理由 ...): a paragraph, not a document; every reader of the
# case (the phone app included) downloads it.
MAX_NOTE = 2000


def add_event(
    conn: Connection, row: dict[str, Any], kind: str, actor: str, at: dt.datetime,
    note: str | None = None, data: dict[str, Any] | None = None,
    from_status: str | None = None, to_status: str | None = None,
) -> int:
    """Insert one audited event; return its id.

    The one place case events are written: it also announces the event to the live stream
    (``pg_notify``, delivered at commit) and writes the outbox messages the change causes
    (:mod:`geo.notify.rules`), both in the caller's transaction.

    An event dated more than :data:`BACKDATE_GRACE` before now (a backdated step, a report
    entered later) also records ``entered_at``, when it was written.
    """
    if note is not None:  # every note of every step: the same characters and length
        check_text(note, "note")
        if len(note) > MAX_NOTE:
            raise InvalidInput(f"备注最多 {MAX_NOTE} 字 (收到 {len(note)} 字) / a note is limited "
                               f"to {MAX_NOTE} characters (got {len(note)})", field="note")
    now = localtime.now()
    if at < now - BACKDATE_GRACE:
        data = {**(data or {}), "entered_at": now.isoformat()}
    event_id = int(conn.execute(text(
        "INSERT INTO incident_event (region_code, incident_id, kind, from_status, to_status, "
        "actor, at, note, data) VALUES (:r, :i, :k, :f, :t, :a, :at, :n, CAST(:d AS jsonb)) "
        "RETURNING id"),
        {"r": row["region_code"], "i": row["id"], "k": kind, "f": from_status, "t": to_status,
         "a": actor, "at": at, "n": note, "d": json.dumps(data or {}, default=str)},
    ).scalar_one())
    # In the same transaction: the live event (delivered by PostgreSQL at commit, to every
    # process) and the notifications this change causes (geo.notify.rules).
    announce(conn, event_id)
    on_event(conn, row["id"], event_id, kind, to_status, at, note, data)
    return event_id


def update_row(conn: Connection, row: dict[str, Any], sets: dict[str, Any]) -> None:
    """Apply ``sets`` and bump the version (the row is locked by the caller)."""
    parts = [f"{k} = :{k}" if k not in ("routing", "deadline") else f"{k} = CAST(:{k} AS jsonb)"
             for k in sets]
    params = {k: (json.dumps(v, default=str) if k in ("routing", "deadline") and v is not None
                  else v) for k, v in sets.items()}
    n = conn.execute(text(
        f"UPDATE incident SET {', '.join(parts + ['version = version + 1', 'updated_at = now()'])}"
        " WHERE id = :_id AND version = :_v"),
        {**params, "_id": row["id"], "_v": row["version"]}).rowcount
    if n != 1:  # cannot happen under FOR UPDATE; kept as a guard against lost updates
        raise Conflict(f"事件 {row['code']} 已被他人修改 / incident changed concurrently")


def transition(
    conn: Connection, incident_id: int | str, target: str, principal: Principal,
    version: int | None = None, note: str | None = None, at: dt.datetime | None = None,
    photo_ids: list[int] | None = None, cal: WorkCalendar | None = None,
) -> dict[str, Any]:
    """Move a case to ``target`` (409 naming both states when not allowed)."""
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, target)
    if target == "reported" and row["status"] == "needs_location":
        raise Conflict("待定位事件请先定位 (POST /incidents/{id}/locate) / locate the case first")
    check_transition(row["status"], target)
    if target == "merged":
        raise Conflict("合并请用 POST /incidents/{id}/merge / use the merge endpoint")
    when = check_time(conn, row, at, principal)
    if (target in NOTE_REQUIRED and not principal.sees_all_incidents()
            and len((note or "").strip()) < MIN_NOTE):
        raise InvalidInput(f"「{STATUS_ZH[target]}」须填写处置说明 (至少 {MIN_NOTE} 个字) / "
                           f"say in a note what was done (at least {MIN_NOTE} characters)",
                           field="note")
    cal = cal or load_calendar(conn, row["region_code"])
    sets: dict[str, Any] = {"status": target}
    stamp = {"registered": "registered_at", "dispatched": "dispatched_at",
             "handled": "handled_at", "closed": "closed_at", "rejected": "closed_at",
             "cancelled": "closed_at"}.get(target)
    if stamp and not (target == "registered" and row["registered_at"] is not None):
        sets[stamp] = when  # a case returned to the command centre keeps its registration
    if target == "rework":
        sets["rework_count"] = row["rework_count"] + 1
    data: dict[str, Any] = {}
    if target in STEP_OF_STATUS and target not in KEEPS_CLOCK:
        cat = _category(conn, row["category_code"], row["region_code"])
        due, clock = start_clock(cal, cat["limits"], row["urgency"], STEP_OF_STATUS[target],
                                 when)
        sets["due_at"], sets["deadline"] = due, clock
        sets["paused_at"] = None
        data["due_at"] = due.isoformat()
        if clock["warnings"]:
            data["warnings"] = clock["warnings"]
    if target in TERMINAL:
        sets["paused_at"] = None
        late = row["due_at"] is not None and when > row["due_at"]
        # the KPIs' rule (geo.incidents.rollup.ON_TIME_SQL): no final due time, no verdict
        data["on_time"] = (None if row["final_due_at"] is None else when <= row["final_due_at"])
        data["step_late"] = late
    previous_due = row["due_at"]
    if previous_due is not None and row["paused_at"] is None and when > previous_due:
        data["previous_step_late_by_min"] = round((when - previous_due).total_seconds() / 60, 1)
    if photo_ids:
        data["photos"] = _claim_photos(conn, row, photo_ids)
    update_row(conn, row, sets)
    add_event(conn, row, "transition", principal.user, when, note, data,
              from_status=row["status"], to_status=target)
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def _claim_photos(conn: Connection, row: dict[str, Any], photo_ids: list[int]) -> list[int]:
    found = {r for (r,) in conn.execute(text(
        "SELECT id FROM incident_attachment WHERE incident_id = :i AND id = ANY(:ids)"),
        {"i": row["id"], "ids": [p for p in photo_ids if 0 < p <= MAX_ID]})}
    missing = sorted(set(photo_ids) - found)
    if missing:
        raise InvalidInput(f"照片 {missing} 不属于事件 {row['code']} / photos {missing} are not "
                           "attachments of this incident (upload them first)", field="photo_ids")
    return sorted(found)


def add_note(
    conn: Connection, incident_id: int | str, principal: Principal, note: str,
    version: int | None = None, photo_ids: list[int] | None = None,
) -> dict[str, Any]:
    """Add a note (and photos) to a case without changing its status."""
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, None)
    data = {"photos": _claim_photos(conn, row, photo_ids)} if photo_ids else {}
    update_row(conn, row, {})
    add_event(conn, row, "note", principal.user, localtime.now(), note, data)
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def merge(
    conn: Connection, incident_id: int | str, duplicate_ids: list[int | str],
    principal: Principal, version: int | None = None, note: str | None = None,
) -> dict[str, Any]:
    """Merge duplicate reports into this case: each keeps its report, channel and history."""
    if not duplicate_ids:
        raise InvalidInput("请给出要合并的事件 / give the duplicates to merge",
                           field="duplicate_ids")
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, "merged")
    if row["status"] in TERMINAL:
        raise Conflict(f"事件 {row['code']} 状态为「{STATUS_ZH[row['status']]}」, "
                       f"不能作为合并目标 / a {row['status']} case cannot absorb duplicates",
                       current=row["status"])
    now = localtime.now()
    merged: list[dict[str, Any]] = []
    for dup_key in duplicate_ids:
        dup = fetch(conn, dup_key, principal, lock=True)
        if dup["id"] == row["id"]:
            raise InvalidInput("事件不能与自身合并 / a case cannot merge with itself",
                               field="duplicate_ids")
        if any(m["id"] == dup["id"] for m in merged):
            raise InvalidInput(f"事件 {dup['code']} 重复列出 / case {dup['code']} is listed "
                               "twice", field="duplicate_ids")
        if dup["region_code"] != row["region_code"]:
            # each county's cases are its own: a case merged into another county's would be
            # closed into an object its county cannot open (review round 10, F4)
            raise InvalidInput(
                f"事件 {dup['code']} 属于区县 {dup['region_code']}, {row['code']} 属于区县 "
                f"{row['region_code']}: 不同区县的事件不能合并 / case {dup['code']} is of county "
                f"{dup['region_code']} and {row['code']} of {row['region_code']}: cases of "
                "different counties are not merged", field="duplicate_ids")
        check_transition(dup["status"], "merged")
        update_row(conn, dup, {"status": "merged", "merged_into_id": row["id"],
                            "closed_at": now, "paused_at": None})
        add_event(conn, dup, "transition", principal.user, now, note,
                  {"merged_into": row["code"], "merged_into_id": row["id"]},
                  from_status=dup["status"], to_status="merged")
        # Earlier duplicates merged into the duplicate follow it.
        conn.execute(text("UPDATE incident SET merged_into_id = :p WHERE merged_into_id = :d"),
                     {"p": row["id"], "d": dup["id"]})
        merged.append({"id": dup["id"], "code": dup["code"], "channel": dup["channel"],
                       "reported_at": dup["reported_at"].isoformat()})
    routing = dict(row["routing"] or {})
    routing["merged_reports"] = [*routing.get("merged_reports", []), *merged]
    update_row(conn, row, {"routing": routing})
    add_event(conn, row, "merge", principal.user, now, note,
              {"merged": merged, "channels": sorted({row["channel"]} |
                                                    {m["channel"] for m in merged})})
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)


def reassign(
    conn: Connection, incident_id: int | str, principal: Principal,
    cell_code: str | None = None, department_code: str | None = None,
    version: int | None = None, note: str | None = None, category_code: str | None = None,
) -> dict[str, Any]:
    """Reassign a case to another cell (and its worker on duty) and/or department, or classify
    it (``category_code``: a case filed as 待分类 by a hotline import; the department follows
    the new category unless given)."""
    if not cell_code and not department_code and not category_code:
        raise InvalidInput("请给出新网格 cell_code、新部门 department_code 或类别 category_code / "
                           "give cell_code, department_code or category_code", field="cell_code")
    row = fetch(conn, incident_id, principal, lock=True)
    check_version(row, version)
    may_act(principal, row, "dispatched")
    if row["status"] in TERMINAL:
        raise Conflict(f"事件状态为「{STATUS_ZH[row['status']]}」, 不能改派 / a "
                       f"{row['status']} case cannot be reassigned", current=row["status"])
    sets: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if cell_code:
        cell = conn.execute(text(
            "SELECT c.code, c.parent_code, c.township_code, c.boundary_set_id FROM grid_cell c "
            "JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
            "WHERE c.region_code = :r AND c.code = :c"),
            {"r": row["region_code"], "c": cell_code}).mappings().first()
        if cell is None:
            raise InvalidInput(f"未知网格 {cell_code} / unknown cell {cell_code} in the active "
                               "boundary set (GET /cells/at finds the right one)",
                               field="cell_code")
        from geo.workers import worker_on_duty

        worker = worker_on_duty(conn, row["region_code"], cell_code, localtime.now().date())
        sets.update(cell_code=cell_code, community_code=cell["parent_code"],
                    township_code=cell["township_code"],
                    worker_id=worker["id"] if worker else None)
        data["cell"] = {"from": row["cell_code"], "to": cell_code}
        data["worker"] = {"from": row["worker_id"], "to": worker["id"] if worker else None}
    if category_code:
        from geo.incidents.routing import resolve_category

        cat = resolve_category(conn, category_code)
        sets["category_code"] = cat["code"]
        data["category"] = {"from": row["category_code"], "to": cat["code"]}
        if not department_code and cat["department_code"]:
            department_code = cat["department_code"]
    if department_code:
        dept = resolve_department(conn, department_code)
        sets["department_code"] = dept["code"]
        data["department"] = {"from": row["department_code"], "to": dept["code"]}
    routing = dict(row["routing"] or {})
    routing.setdefault("reassignments", []).append(
        {**data, "by": principal.user, "at": localtime.now().isoformat(), "note": note})
    sets["routing"] = routing
    update_row(conn, row, sets)
    add_event(conn, row, "reassign", principal.user, localtime.now(), note, data)
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)
