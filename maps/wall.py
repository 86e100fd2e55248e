"""The figures of the command centre's wall screen (``/maps/dispatch?wall=1``).

No counting of its own: today's intake, open, overdue and urgent open cases come from the
board (:func:`geo.incidents.views.board`, ``period=today`` and ``all``), the closing rate of
this month from the KPIs (:func:`geo.incidents.kpi.kpi`, by township), the lists from
:func:`geo.incidents.views.list_incidents` (overdue first by due time; the newest reports).
The page gets them inline and again from ``GET /maps/dispatch/figures`` after live events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection

from geo import localtime
from geo.auth.principal import Principal
from geo.incidents import kpi as kpi_
from geo.incidents import views
from maps.panel import case_class

LIST_LEN = 8


def _item(inc: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    due = inc.get("due_at")
    late_min = None
    if inc.get("overdue") and due:
        late_min = int((now - dt.datetime.fromisoformat(due)).total_seconds() // 60)
    return {"code": inc["code"], "category_name": inc.get("category_name"),
            "township_name": inc.get("township_name"), "status_name": inc.get("status_zh"),
            "urgent": inc.get("urgency") == "urgent", "cls": case_class(inc),
            "reported_at": inc.get("reported_at"), "due_at": due, "late_min": late_min}


def wall_figures(conn: Connection, principal: Principal, region_code: str,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Counters (with a by-township breakdown) and the two lists of the wall screen."""
    now = now or localtime.now()
    all_ = views.board(conn, principal, region_code, now, overdue_limit=1)
    today = views.board(conn, principal, region_code, now, overdue_limit=1, period="today")
    day = localtime.local_date(now)
    month = kpi_.kpi(conn, principal, region_code, day.replace(day=1),
                     day + dt.timedelta(days=1), group_by="township", as_of=now)
    towns: dict[Any, dict[str, Any]] = {}
    for r in all_["by_township"]:
        towns[r["township_code"]] = {"code": r["township_code"], "name": r["name"],
                                     "today": 0, "open": r["open"], "overdue": r["overdue"],
                                     "urgent": r["urgent"], "closing_rate": None}
    for r in today["by_township"]:
        towns.setdefault(r["township_code"], {"code": r["township_code"], "name": r["name"],
                                              "open": 0, "overdue": 0, "urgent": 0,
                                              "closing_rate": None})["today"] = r["n"]
    for g in month["groups"]:
        if g.get("key") in towns:
            towns[g["key"]]["closing_rate"] = g.get("closing_rate")
    return {
        "as_of": now.isoformat(),
        "totals": {"today": sum(today["by_status"].values()), "open": all_["open"],
                   "overdue": all_["overdue_total"],
                   "urgent": sum(int(r["urgent"]) for r in all_["by_township"]),
                   "closing_rate": month["total"].get("closing_rate")},
        "townships": sorted(towns.values(), key=lambda r: (r["code"] is None, r["code"] or "")),
        "newest": [_item(i, now) for i in views.list_incidents(
            conn, principal, region_code, now=now, limit=LIST_LEN, compact=True, newest=True)],
        "most_overdue": [_item(i, now) for i in views.list_incidents(
            conn, principal, region_code, overdue_only=True, now=now, limit=LIST_LEN,
            compact=True)],
    }
