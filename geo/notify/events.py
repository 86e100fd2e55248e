"""Live case events: the ``wangge_events`` notification and each event's JSON, scoped.

:func:`announce` is called by :func:`geo.incidents.cases.add_event` in the case change's
transaction: PostgreSQL delivers ``NOTIFY wangge_events, '<incident_event.id>'`` at commit (never
for a rolled-back change) to every listening process (``api.live``). A stream then reads the
event with :func:`load` and shows it to a caller only inside her scope (:func:`visible`: the
rule of ``GET /incidents``, :func:`geo.auth.principal.incident_scope_sql`), fields masked by the
one field policy (:func:`geo.auth.fields.mask_row`). :func:`replay` reads the events after a
``Last-Event-ID`` with that same SQL condition.

Alerts (overdue, rework, escalation: :data:`ALERT_RULES`, written by :mod:`geo.notify.rules`)
travel the same channel as ``alert:<outbox.id>`` (:func:`announce_alert`, in the transaction
that writes the outbox row): a stream shows one as ``event: alert`` (:func:`alert_json`) to a
caller who may see its case (:func:`visible`, the same rule).

Resuming: a stream's position is a :class:`Cursor`, the newest ``incident_event`` id and the
newest alert (``outbox``) id it has passed, sent as every message's ``id:`` (``"<event>:<alert>"``,
:meth:`Cursor.text`); a reconnecting ``EventSource`` sends it back as ``Last-Event-ID`` and
:func:`replay` / :func:`replay_alerts` read what came after, with the same scope condition. A
plain ``"<event>"`` (the ids before alerts had one) still resumes the case events.

Alerts that come together (one scan over a backlog, one replay) are coalesced for a stream by
:func:`alert_summary`: past :data:`COALESCE_AT` visible alerts, one ``event: alerts`` message
with the count per rule and the newest few, instead of one message per case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo.auth.fields import mask_row
from geo.auth.principal import Principal, incident_scope_sql
from geo.crs.transforms import point_from_cgcs2000
from geo.db.tables.vocab import NOTIFY_RULE, URGENCY
from geo.incidents.flow import STATUS_ZH
from geo.localtime import CST

CHANNEL = "wangge_events"
ALERT_PREFIX = "alert:"  # a notification's payload for an alert: "alert:<outbox.id>"
REPLAY_MAX = 1000  # events replayed after a Last-Event-ID; beyond that: event "reset"
ALERT_RULES = ("overdue", "rework", "escalation")  # outbox rules also shown live on the maps
COALESCE_AT = 3  # more visible alerts than this arriving together: one summary message
SUMMARY_NEWEST = 5  # the newest alerts a summary names


@dataclass(frozen=True)
class Cursor:
    """Where a stream is: the newest case event and the newest alert it has passed."""

    event: int
    alert: int | None = None  # None: a plain Last-Event-ID of old (no alert replay)

    def text(self) -> str:
        """The ``id:`` of a message: ``"<event>:<alert>"``."""
        return f"{self.event}:{self.alert or 0}"

    @staticmethod
    def parse(value: str, max_id: int) -> Cursor | None:
        """``"<event>"`` or ``"<event>:<alert>"`` (ASCII digits, each <= ``max_id``), else
        None."""
        parts = value.strip().split(":")
        if len(parts) > 2 or not all(p.isascii() and p.isdigit() and len(p) <= 19
                                     and int(p) <= max_id for p in parts):
            return None
        return Cursor(int(parts[0]), int(parts[1]) if len(parts) == 2 else None)

EVENT_SQL = """SELECT e.id AS event_id, e.kind, e.at, i.region_code, i.code, i.status,
  i.urgency, i.category_code, i.cell_code, i.department_code, i.due_at, i.paused_at,
  ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
  (SELECT c.name FROM incident_category c WHERE c.code = i.category_code) AS category_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.township_code) AS township_name
  FROM incident_event e JOIN incident i ON i.id = e.incident_id"""


def announce(conn: Connection, event_id: int) -> None:
    """Tell every listening process about event ``event_id`` when this transaction commits."""
    conn.execute(text("SELECT pg_notify(:ch, :id)"), {"ch": CHANNEL, "id": str(event_id)})


ALERT_SQL = """SELECT o.id AS alert_id, o.rule, o.recipient, o.created_at AS at,
  o.payload->>'overdue_h' AS overdue_h, i.region_code, i.code, i.status, i.urgency,
  i.category_code, i.cell_code, i.department_code, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
  (SELECT c.name FROM incident_category c WHERE c.code = i.category_code) AS category_name,
  (SELECT a.name FROM admin_unit a WHERE a.region_code = i.region_code
     AND a.code = i.township_code) AS township_name
  FROM outbox o JOIN incident i ON i.id = o.incident_id"""


def announce_alert(conn: Connection, outbox_id: int) -> None:
    """Tell every listening process about the alert in outbox row ``outbox_id`` at commit."""
    conn.execute(text("SELECT pg_notify(:ch, :id)"),
                 {"ch": CHANNEL, "id": f"{ALERT_PREFIX}{outbox_id}"})


def load_alerts(conn: Connection, outbox_ids: list[int]) -> list[dict[str, Any]]:
    """The alerts ``outbox_ids`` with their case (unscoped: filter with :func:`visible`)."""
    rows = conn.execute(text(ALERT_SQL + " WHERE o.id = ANY(:ids) ORDER BY o.id"),
                        {"ids": outbox_ids}).mappings().all()
    return [dict(r) for r in rows]


def last_alert_id(conn: Connection) -> int:
    """The newest outbox row's id (0 when there is none)."""
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one())


def replay_alerts(conn: Connection, principal: Principal, after: int, limit: int = REPLAY_MAX
                  ) -> tuple[list[dict[str, Any]], bool]:
    """The alerts of the caller's scope after outbox id ``after`` (oldest first, at most
    ``limit``) and whether there were more; the condition of :func:`replay`."""
    cond, params = incident_scope_sql(principal, "i")
    rows = conn.execute(text(ALERT_SQL + f" WHERE o.id > :after AND o.rule = ANY(:rules) "
                             f"AND {cond} ORDER BY o.id LIMIT :n"),
                        {**params, "after": after, "rules": list(ALERT_RULES),
                         "n": limit + 1}).mappings().all()
    return [dict(r) for r in rows[:limit]], len(rows) > limit


def alert_summary(principal: Principal, rows: list[dict[str, Any]], crs: str | None = None
                  ) -> dict[str, Any]:
    """The ``data`` of one ``event: alerts`` message: many alerts that came together (rows the
    caller may see, oldest first) as their count per rule and the newest few."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["rule"]] = counts.get(r["rule"], 0) + 1
    return {
        "count": len(rows),
        "by_rule": [{"rule": k, "rule_name": NOTIFY_RULE.label(k),
                     "rule_name_en": NOTIFY_RULE.label(k, "en"), "count": n}
                    for k, n in counts.items()],
        "newest": [alert_json(principal, r, crs) for r in rows[::-1][:SUMMARY_NEWEST]],
        "first_alert_id": rows[0]["alert_id"], "last_alert_id": rows[-1]["alert_id"],
    }


def alert_json(principal: Principal, row: dict[str, Any], crs: str | None = None
               ) -> dict[str, Any]:
    """The ``data`` of one ``event: alert`` message, as the caller may see it."""
    lon, lat = (point_from_cgcs2000(row["lon"], row["lat"], crs) if row["lon"] is not None
                else (None, None))
    out = {
        "alert_id": row["alert_id"], "rule": row["rule"],
        "rule_name": NOTIFY_RULE.label(row["rule"]),
        "rule_name_en": NOTIFY_RULE.label(row["rule"], "en"), "recipient": row["recipient"],
        "code": row["code"], "status": row["status"],
        "status_name": STATUS_ZH.get(row["status"], row["status"]),
        "urgency": row["urgency"], "urgency_name": URGENCY.label(row["urgency"]),
        "category_code": row["category_code"], "category_name": row["category_name"],
        "region_code": row["region_code"], "township_name": row["township_name"],
        "lon": lon, "lat": lat,
        "overdue_h": float(row["overdue_h"]) if row["overdue_h"] is not None else None,
        "at": row["at"].astimezone(CST).isoformat(),
        "cell_code": row["cell_code"], "department_code": row["department_code"],
    }
    return mask_row(principal, "incidents", out)


def load(conn: Connection, event_ids: list[int]) -> list[dict[str, Any]]:
    """The events ``event_ids`` with their case as it is now (unscoped: filter with
    :func:`visible`), oldest first."""
    rows = conn.execute(text(EVENT_SQL + " WHERE e.id = ANY(:ids) ORDER BY e.id"),
                        {"ids": event_ids}).mappings().all()
    return [dict(r) for r in rows]


def last_id(conn: Connection) -> int:
    """The newest event's id (0 when there is none)."""
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM incident_event")
                            ).scalar_one())


def replay(conn: Connection, principal: Principal, after: int, limit: int = REPLAY_MAX
           ) -> tuple[list[dict[str, Any]], bool]:
    """The caller's events after ``after`` (oldest first, at most ``limit``) and whether there
    were more (the client must then reload its list)."""
    cond, params = incident_scope_sql(principal, "i")
    rows = conn.execute(text(EVENT_SQL + f" WHERE e.id > :after AND {cond} "
                             "ORDER BY e.id LIMIT :n"),
                        {**params, "after": after, "n": limit + 1}).mappings().all()
    return [dict(r) for r in rows[:limit]], len(rows) > limit


def visible(principal: Principal, row: dict[str, Any]) -> bool:
    """May the caller see this event's case (the scope of ``GET /incidents``)?"""
    if principal.regions is not None and row["region_code"] not in principal.regions:
        return False
    return principal.may_see_incident(row["cell_code"], row["department_code"])


def event_json(principal: Principal, row: dict[str, Any], crs: str | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """The ``data`` of one SSE message, as the caller may see it."""
    from geo.incidents.cases import is_overdue

    now = now or dt.datetime.now(CST)
    lon, lat = point_from_cgcs2000(row["lon"], row["lat"], crs)
    out = {
        "event_id": row["event_id"], "kind": row["kind"], "code": row["code"],
        "status": row["status"], "status_name": STATUS_ZH.get(row["status"], row["status"]),
        "urgency": row["urgency"], "urgency_name": URGENCY.label(row["urgency"]),
        "category_code": row["category_code"], "category_name": row["category_name"],
        "region_code": row["region_code"], "township_name": row["township_name"],
        "lon": lon, "lat": lat, "overdue": is_overdue(row, now),
        "at": row["at"].astimezone(CST).isoformat(),
        "cell_code": row["cell_code"], "department_code": row["department_code"],
    }
    return mask_row(principal, "incidents", out)
