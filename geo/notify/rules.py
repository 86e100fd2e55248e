"""Who is told what: outbox rows written in the transaction of the change that causes them.

Event-driven rules (:func:`on_event`, called by :func:`geo.incidents.cases.add_event` for every
case event, so a rolled-back change leaves no message and a committed one always has its
messages):

- ``dispatch``: a case moved to 已派遣 -> the assigned grid worker (SMS) and the department
  (webhook);
- ``rework``: a case sent back to 返工 -> the command centre (webhook);
- ``hotline``: a case whose channel is the 12345 hotline changes status, or gets its 回访 ->
  the 12345 system (write-back webhook: the status, and on closing the result).

Time-driven rules (:func:`scan`, run by the delivery worker every ``scan_every_s``):

- ``overdue``: an open, unpaused case past its step's due time -> the command centre;
- ``escalation``: still overdue ``escalate_after_h`` hours later (default 24 h: the domain brief
  gives no figure) -> the township (webhook).

The alerts (:data:`geo.notify.events.ALERT_RULES`: overdue, rework, escalation) also go to the
SSE stream: the
row's id is announced (:func:`geo.notify.events.announce_alert`) in the same transaction, so
every app process streams it at commit to the callers who may see the case, as
``event: alert`` (never for a rolled-back change, never twice for a deduplicated one).

Each time-driven message has a ``dedupe_key`` (rule, case, the due time it missed): a second
scan inserts nothing (``ON CONFLICT DO NOTHING``); a case overdue again at a later step is told
again.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from sqlalchemy import Connection, text

from geo.db.tables.vocab import CHANNEL, URGENCY
from geo.incidents.flow import STATUS_ZH, open_status_sql
from geo.localtime import CST
from geo.notify.events import ALERT_RULES, announce_alert

ESCALATE_AFTER_H = 24.0  # the domain brief names no figure; WANGGE_ESCALATE_AFTER_H
HOTLINE = "12345"

CASE_SQL = """SELECT i.id, i.region_code, i.code, i.status, i.channel, i.urgency,
  i.category_code, i.routing->>'source_ref' AS source_ref, i.worker_id, i.department_code,
  i.township_code, i.due_at, i.final_due_at, i.closed_at,
  (SELECT c.name FROM incident_category c WHERE c.code = i.category_code) AS category_name,
  (SELECT d.name FROM department d WHERE d.code = i.department_code) AS department_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.township_code) AS township_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.region_code) AS county_name,
  (SELECT w.phone FROM grid_worker w WHERE w.id = i.worker_id) AS worker_phone
  FROM incident i"""


def _when(t: dt.datetime | None) -> str | None:
    return t.astimezone(CST).strftime("%Y-%m-%d %H:%M") if t is not None else None


def case_facts(case: dict[str, Any]) -> dict[str, Any]:
    """What every message says about its case (Chinese names beside the codes)."""
    return {
        "code": case["code"], "status": case["status"],
        "status_name": STATUS_ZH.get(case["status"], case["status"]),
        "channel": case["channel"], "channel_name": CHANNEL.label(case["channel"]),
        "urgency": case["urgency"], "urgency_name": URGENCY.label(case["urgency"]),
        "category_code": case["category_code"], "category_name": case["category_name"],
        "department_code": case["department_code"], "department_name": case["department_name"],
        "township_code": case["township_code"], "township_name": case["township_name"],
        "county_name": case["county_name"], "due": _when(case["due_at"]),
        "source_ref": case["source_ref"],
    }


def enqueue(conn: Connection, case: dict[str, Any], rule: str, channel: str, recipient: str,
            payload: dict[str, Any], event_id: int | None = None,
            dedupe_key: str | None = None) -> bool:
    """One outbox row (in the caller's transaction); False when ``dedupe_key`` exists already.
    An alert (:data:`ALERT_RULES`) is announced to the live streams at commit."""
    message_id = str(uuid.uuid4())
    body = {"message_id": message_id, "rule": rule, "recipient": recipient,
            **case_facts(case), **payload}
    row_id = conn.execute(text(
        "INSERT INTO outbox (message_id, region_code, incident_id, event_id, rule, channel, "
        "recipient, dedupe_key, payload) VALUES (:m, :r, :i, :e, :rule, :ch, :to, :k, "
        "CAST(:p AS jsonb)) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"),
        {"m": message_id, "r": case["region_code"], "i": case["id"], "e": event_id,
         "rule": rule, "ch": channel, "to": recipient, "k": dedupe_key,
         "p": json.dumps(body, ensure_ascii=False, default=str)}).scalar()
    if row_id is not None and rule in ALERT_RULES:
        announce_alert(conn, int(row_id))
    return row_id is not None


def on_event(conn: Connection, incident_id: int, event_id: int, kind: str,
             to_status: str | None, at: dt.datetime, note: str | None,
             data: dict[str, Any] | None) -> int:
    """The messages of one case event; returns how many were written."""
    if kind not in ("transition", "callback", "reassign"):
        return 0
    found = conn.execute(text(CASE_SQL + " WHERE i.id = :i"), {"i": incident_id}
                         ).mappings().first()
    if found is None:
        return 0
    case = dict(found)
    n = 0
    common = {"event_id": event_id, "kind": kind, "at": at.astimezone(CST).isoformat(),
              "note": note}
    if kind == "transition" and to_status == "dispatched":
        if case["worker_id"] is not None:
            n += enqueue(conn, case, "dispatch", "sms", f"worker:{case['worker_id']}",
                         {**common, "phone": case["worker_phone"]}, event_id)
        if case["department_code"]:
            n += enqueue(conn, case, "dispatch", "webhook",
                         f"department:{case['department_code']}", common, event_id)
    if kind == "transition" and to_status == "rework":
        n += enqueue(conn, case, "rework", "webhook", "command", common, event_id)
    if case["channel"] == HOTLINE and kind in ("transition", "callback"):
        extra: dict[str, Any] = {}
        if to_status == "closed":
            extra["result"] = {"closed_at": _when(case["closed_at"]), "note": note,
                               "on_time": (data or {}).get("on_time")}
        if kind == "callback":
            extra["callback"] = {k: (data or {}).get(k)
                                 for k in ("satisfaction", "satisfaction_name")}
        n += enqueue(conn, case, "hotline", "hotline", "12345", {**common, **extra}, event_id)
    return n


def scan(conn: Connection, now: dt.datetime, escalate_after_h: float = ESCALATE_AFTER_H
         ) -> dict[str, int]:
    """Enqueue the overdue and escalation messages due by ``now``, each once."""
    counts = {"overdue": 0, "escalation": 0}
    rows = conn.execute(text(
        CASE_SQL + f" WHERE {open_status_sql('i.status')} AND i.paused_at IS NULL "
        "AND i.due_at IS NOT NULL AND i.due_at < :now ORDER BY i.due_at"),
        {"now": now}).mappings().all()
    late = dt.timedelta(hours=escalate_after_h)
    for r in rows:
        case = dict(r)
        due = case["due_at"].isoformat()
        hours = round((now - case["due_at"]).total_seconds() / 3600, 1)
        counts["overdue"] += enqueue(
            conn, case, "overdue", "webhook", "command", {"overdue_h": hours},
            dedupe_key=f"overdue:{case['id']}:{due}")
        if case["due_at"] + late < now and case["township_code"]:
            counts["escalation"] += enqueue(
                conn, case, "escalation", "webhook", f"township:{case['township_code']}",
                {"overdue_h": hours, "escalate_after_h": escalate_after_h},
                dedupe_key=f"escalation:{case['id']}:{due}")
    return counts
