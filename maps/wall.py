"""The figures of the command centre's wall screen (``/maps/dispatch?wall=1``).

No counting of its own: today's intake, open, overdue and urgent open cases come from the
board (:func:`geo.incidents.views.board`, ``period=today`` and ``all``), the closing rate of
this month from the KPIs (:func:`geo.incidents.kpi.kpi`, by township), the lists from
:func:`geo.incidents.views.list_incidents` (overdue first by due time; the newest reports).
The page gets them inline and again from ``GET /maps/dispatch/figures`` after live events.

A caller whose scope holds several counties (a prefecture or province command centre) gets
the wall screen of her whole scope (:func:`scope_figures`): one row per county instead of per
township, each county's counters from the same board calls, the closing rates from the KPIs
grouped by county (``/kpi?group_by=county``: its total is the scope's rate, not an average of
rates), and the lists across counties (each case with its county).
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
    return {"code": inc["code"], "region_code": inc.get("region_code"),
            "category_name": inc.get("category_name"),
            "township_name": inc.get("township_name"), "status_name": inc.get("status_zh"),
            "urgent": inc.get("urgency") == "urgent", "cls": case_class(inc),
            "reported_at": inc.get("reported_at"), "due_at": due, "late_min": late_min}


def _boards(conn: Connection, principal: Principal, region_code: str, now: dt.datetime
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The county's board of every report and of today's (the wall's counts)."""
    return (views.board(conn, principal, region_code, now, overdue_limit=1),
            views.board(conn, principal, region_code, now, overdue_limit=1, period="today"))


def _counters(all_: dict[str, Any], today: dict[str, Any], rate: Any) -> dict[str, Any]:
    """The wall's five counters from the two boards and this month's closing rate."""
    return {"today": sum(today["by_status"].values()), "open": all_["open"],
            "overdue": all_["overdue_total"],
            "urgent": sum(int(r["urgent"]) for r in all_["by_township"]),
            "closing_rate": rate}


def _month(conn: Connection, principal: Principal, region_code: str, now: dt.datetime,
           group_by: str) -> dict[str, Any]:
    """This month's KPIs (reports from the 1st to today, CST) grouped by ``group_by``."""
    day = localtime.local_date(now)
    return kpi_.kpi(conn, principal, region_code, day.replace(day=1),
                    day + dt.timedelta(days=1), group_by=group_by, as_of=now)


def _lists(conn: Connection, principal: Principal, region_code: str, now: dt.datetime
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The county's newest reports and its most overdue open cases (overdue first)."""
    return (views.list_incidents(conn, principal, region_code, now=now, limit=LIST_LEN,
                                 compact=True, newest=True),
            views.list_incidents(conn, principal, region_code, overdue_only=True, now=now,
                                 limit=LIST_LEN, compact=True))


def _instant(iso: str | None, default: dt.datetime) -> dt.datetime:
    return dt.datetime.fromisoformat(iso) if iso else default


def wall_figures(conn: Connection, principal: Principal, region_code: str,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Counters (with a by-township breakdown) and the two lists of the wall screen."""
    now = now or localtime.now()
    all_, today = _boards(conn, principal, region_code, now)
    month = _month(conn, principal, region_code, now, "township")
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
    newest, overdue = _lists(conn, principal, region_code, now)
    return {
        "as_of": now.isoformat(),
        "totals": _counters(all_, today, month["total"].get("closing_rate")),
        "townships": sorted(towns.values(), key=lambda r: (r["code"] is None, r["code"] or "")),
        "newest": [_item(i, now) for i in newest],
        "most_overdue": [_item(i, now) for i in overdue],
    }


def scope_figures(conn: Connection, principal: Principal, counties: list[tuple[str, str]],
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """The wall screen of several counties (``counties``: (code, name) in the caller's scope,
    :func:`geo.regions.scope.counties_in_scope`): the scope's counters (the counties' counts
    added up; the closing rate of them all from ``/kpi?group_by=county``), one row per county
    (``counties``, no ``townships``) and the newest and most overdue cases across counties,
    each naming its county (``county_code``, ``county_name``)."""
    now = now or localtime.now()
    month = _month(conn, principal, counties[0][0], now, "county")
    rates = {g.get("key"): g.get("closing_rate") for g in month["groups"]}
    rows: list[dict[str, Any]] = []
    newest: list[dict[str, Any]] = []
    overdue: list[dict[str, Any]] = []
    for code, name in counties:
        all_, today = _boards(conn, principal, code, now)
        rows.append({"code": code, "name": name, **_counters(all_, today, rates.get(code))})
        got = _lists(conn, principal, code, now)
        for into, items in ((newest, got[0]), (overdue, got[1])):
            into += [{**_item(i, now), "county_code": code, "county_name": name}
                     for i in items]
    totals = {k: sum(int(r[k]) for r in rows) for k in ("today", "open", "overdue", "urgent")}
    newest.sort(key=lambda i: _instant(i["reported_at"], now), reverse=True)
    # the most overdue (earliest due) first, as list_incidents orders one county's
    overdue.sort(key=lambda i: (i["due_at"] is None, _instant(i["due_at"], now)))
    return {
        "as_of": now.isoformat(), "scope": [code for code, _n in counties],
        "totals": {**totals, "closing_rate": month["total"].get("closing_rate")},
        "townships": [], "counties": rows,
        "newest": newest[:LIST_LEN], "most_overdue": overdue[:LIST_LEN],
    }
