"""回访 (callback): after closing, the command centre records the caller's satisfaction.

One callback per case (a second is 409), version-checked like every write, audited as the case
event ``callback`` (:func:`geo.incidents.cases.add_event`, which also sends it back to the
12345 system for hotline cases: :mod:`geo.notify.rules`). The KPI's 满意率 counts the latest
callback of each case (:data:`SATISFIED`, :mod:`geo.incidents.kpi`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.principal import Principal
from geo.db.tables.vocab import SATISFACTION
from geo.errors import Conflict, Forbidden, InvalidInput
from geo.incidents.cases import add_event, check_version, fetch, incident_json, update_row
from geo.incidents.flow import STATUS_ZH

#: The answers that count as satisfied in the 满意率 (satisfaction rate).
SATISFIED = ("satisfied", "basically_satisfied")


def may_call_back(conn: Connection, principal: Principal, inc: dict[str, Any]) -> bool:
    """Whether ``principal`` may record the callback of case ``inc`` now (the checks of
    :func:`record_callback` other than the version): command centre, closed, none yet."""
    return (principal.sees_all_incidents() and inc["status"] == "closed"
            and not has_callback(conn, int(inc["id"])))


def has_callback(conn: Connection, incident_id: int) -> bool:
    """Whether the case has had its callback (one per case)."""
    return conn.execute(text("SELECT 1 FROM incident_event WHERE incident_id = :i AND "
                             "kind = 'callback'"), {"i": incident_id}).first() is not None


def record_callback(conn: Connection, incident_id: int | str, principal: Principal,
                    satisfaction: str, note: str | None = None,
                    version: int | None = None) -> dict[str, Any]:
    """Record the caller's satisfaction with a closed case; the case as it is now."""
    row = fetch(conn, incident_id, principal, lock=True)
    if not principal.sees_all_incidents():
        raise Forbidden("只有指挥中心可以登记回访 / only the command centre records callbacks")
    check_version(row, version)
    if satisfaction not in SATISFACTION.codes:
        raise InvalidInput(
            f"满意度应为 {', '.join(f'{c} ({SATISFACTION.label(c)})' for c in SATISFACTION.codes)}"
            f" 之一 / satisfaction must be one of {list(SATISFACTION.codes)}",
            field="satisfaction")
    if row["status"] != "closed":
        label = STATUS_ZH.get(row["status"], row["status"])
        raise Conflict(f"事件 {row['code']} 状态为「{label}」, 结案后才能回访 / a callback comes "
                       f"after closing (the case is {row['status']})")
    if has_callback(conn, row["id"]):
        raise Conflict(f"事件 {row['code']} 已回访 / the case has had its callback")
    update_row(conn, row, {})
    add_event(conn, row, "callback", principal.user, localtime.now(), note,
              {"satisfaction": satisfaction,
               "satisfaction_name": SATISFACTION.label(satisfaction),
               "satisfaction_en": SATISFACTION.label(satisfaction, "en")})
    return incident_json(conn, fetch(conn, row["id"], principal), principal, with_events=True)
