"""The monthly leadership report (网格化服务管理月报): its figures, gathered in one place.

Every figure comes from the function that answers the same question over HTTP, called with
the same inputs, so the report equals what ``/kpi`` and the analyses return for the month:

- headline, township table, categories, 12-month trend: :func:`geo.incidents.kpi.kpi`
  (``/kpi``, the trend with ``group_by=month``); for a reader whose scope holds several
  counties (a prefecture or province) also one row per county (``group_by=county``), while
  the other sections stay those of ``region_code``; 同比 and 环比 are its ``yoy`` (the same month a
  year earlier) and ``pop`` (the month before), null when that month has no reports;
- overdue cases still open: :func:`geo.incidents.views.list_incidents` (``/incidents/overdue``),
  scoped and masked for the caller;
- camera coverage: :func:`geo.analysis.coverage.camera_coverage` (``/analysis/coverage``);
- property management against the targets: :func:`geo.analysis.property.property_management`;
- hot spots: :func:`geo.analysis.spots.hotspots`; recommended camera sites:
  :func:`geo.analysis.sites.camera_sites`.

The report states its inputs: region, month, boundary set and the time the data was read
(``as_of``, default now: the KPIs count what is overdue at that time).

A reader whose scope holds several counties (a prefecture or province) who names no county
gets the report of her whole scope (:func:`scope_report`): the headline with 同比/环比 and the
counties ranked from ``/kpi?group_by=county`` (its total is the scope's), the trend from the
same grouping split by month (its ``periods``), the categories and overdue cases of every
county (each case with its county) and a map of the counties' outlines; the per-county
analyses (cameras, property, hot spots, camera sites) stay in each county's report.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.analysis.common import boundary_set
from geo.analysis.coverage import camera_coverage
from geo.analysis.property import property_management
from geo.analysis.sites import camera_sites
from geo.analysis.spots import hotspots
from geo.auth.fields import as_seen
from geo.auth.principal import Principal
from geo.errors import Forbidden, InvalidInput, NotFound
from geo.incidents.kpi import kpi
from geo.incidents.views import list_incidents
from geo.localtime import CST
from geo.periods import Period, add_months
from geo.regions.scope import counties_in_scope
from geo.regions.scope import scope_code as scope_code_of

TREND_MONTHS = 12
TOP_CATEGORIES = 8
OVERDUE_SHOWN = 20
SITES = 5
HOTSPOT_PERMUTATIONS = 199
# Roles the report is written for: it names cases and their owners (scoped as in /incidents).
REPORT_ROLES = ("admin", "command", "department", "worker", "planner", "viewer")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(value: str) -> dt.date:
    """``YYYY-MM`` as the month's first day; a 422 naming the form otherwise."""
    m = _MONTH.match((value or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(f"月份须为 YYYY-MM (如 2026-10) / month must be YYYY-MM, e.g. "
                           f"2026-10; got {value!r}", field="month")
    if not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidInput(f"月份的年份须在 2000-2100 之间 / the month's year must be between 2000 "
                           f"and 2100; got {value!r}", field="month")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


HEADLINE = ("reports", "cases", "closed", "closing_rate", "on_time_rate", "open_overdue",
            "avg_handling_h", "repeat_rate")


def monthly_report(conn: Connection, principal: Principal, region_code: str, month: str,
                   as_of: dt.datetime | None = None) -> dict[str, Any]:
    """All figures of the monthly report of ``month`` (``YYYY-MM``) for ``principal``.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The reader: KPIs and cases are scoped to them as in ``/kpi`` and ``/incidents``.
    region_code
        County code.
    month
        ``YYYY-MM``; a month that has not begun is a 422.
    as_of
        When the data is read (default now, at most the end of the month for the analyses'
        period; the KPIs count cases overdue at ``as_of``).

    Returns
    -------
    dict
        ``inputs``, ``headline`` (with ``yoy`` 同比 and ``mom`` 环比), ``trend``,
        ``counties`` (rows and total; None for a county reader), ``townships``,
        ``categories``, ``overdue``, ``cameras``, ``property``, ``hotspots``, ``sites``.
    """
    first, after, as_of = _check_month(principal, month, as_of)

    def month_kpi(start: dt.date, group_by: str = "township") -> dict[str, Any]:
        return kpi(conn, principal, region_code, start, add_months(start, 1), group_by, as_of)

    current = month_kpi(first)
    headline = current["total"]  # with yoy (同比) and pop (环比), as /kpi answers them
    # a prefecture or province reader: one row per county in scope (/kpi?group_by=county)
    scope = counties_in_scope(conn, principal)
    by_county = month_kpi(first, "county") if len(scope) > 1 else None
    months = kpi(conn, principal, region_code, add_months(first, 1 - TREND_MONTHS), after,
                 "month", as_of)
    trend = [_trend_row(g) for g in months["groups"]]
    townships = _ranked(current["groups"])
    cats_now = month_kpi(first, "category")
    categories = []
    for g in sorted(cats_now["groups"], key=lambda g: (-g["reports"], str(g["key"])))[
            :TOP_CATEGORIES]:
        pop = g.get("pop") or {}
        categories.append({**{k: g[k] for k in ("key", "name", "reports", "closing_rate")},
                           "reports_before": (pop.get("base") or {}).get("reports"),
                           "change": pop or None})

    overdue_rows = _overdue_rows(conn, principal, region_code, as_of)
    names = _names(conn, region_code)

    last_day = after - dt.timedelta(days=1)
    period = Period.from_dates(first, last_day, as_of=min(as_of, dt.datetime.combine(
        after, dt.time(), CST)))
    cams = camera_coverage(conn, principal, region_code, "township", period, at=last_day)
    prop = property_management(conn, principal, region_code, as_of=min(last_day,
                               as_of.astimezone(CST).date()))
    spots = hotspots(conn, principal, region_code, period, permutations=HOTSPOT_PERMUTATIONS,
                     by_category=False, at=last_day)
    sites = camera_sites(conn, principal, region_code, SITES, period, at=last_day)
    bset = boundary_set(conn, region_code, last_day)
    site_rows = sites["tables"].get("sites")
    return {
        "inputs": {
            "region_code": region_code, "region_name": names["region"],
            "month": f"{first:%Y-%m}", "from": first.isoformat(), "to": after.isoformat(),
            "as_of": as_of.astimezone(CST).isoformat(timespec="seconds"),
            "boundary_set": bset["name"], "reader": principal.user, "role": principal.role,
            "reader_name": _display_name(conn, principal.user),
            "synthetic": _synthetic(conn, region_code),
            "counties": [{"code": c, "name": n} for c, n in scope] if by_county else None,
        },
        "headline": {k: v for k, v in headline.items() if k not in ("yoy", "pop")},
        "yoy": headline.get("yoy"),
        "mom": headline.get("pop"),
        "trend": trend,
        "counties": ({"rows": by_county["groups"], "total": by_county["total"]}
                     if by_county else None),
        "townships": townships,
        "categories": categories,
        # hidden: the reader's role reads no case list (planners, viewers), so the list is
        # empty by scope, not because nothing is overdue (the headline counts them)
        "overdue": {"total": len(overdue_rows), "rows": overdue_rows[:OVERDUE_SHOWN],
                    "hidden": not principal.reads_incident_details()},
        "cameras": {"summary": cams["summary"], "units": cams["tables"].get("units")},
        "property": {"summary": prop["summary"], "unit": prop["inputs"]["unit"],
                     "unmanaged": prop["tables"].get("unmanaged_compounds")},
        "hotspots": {"summary": spots["summary"], "table": spots["tables"]},
        "sites": {"summary": sites["summary"], "rows": site_rows,
                  "cell_names": {c: names["cell"].get(c) for c in (
                      site_rows["cell_code"] if site_rows is not None and "cell_code" in
                      site_rows else [])}},
        "definitions": current["definitions"],
        "definitions_zh": current.get("definitions_zh") or current["definitions"],
        "warnings": current["warnings"],
    }


def _check_month(principal: Principal, month: str, as_of: dt.datetime | None
                 ) -> tuple[dt.date, dt.date, dt.datetime]:
    """The month's first day, the next month's and ``as_of`` (default now); a reader outside
    :data:`REPORT_ROLES` is a 403 and a month that has not begun a 422."""
    if principal.role not in REPORT_ROLES:
        raise Forbidden(f"角色 {principal.role} 不能读月报 / role {principal.role} cannot read "
                        "the monthly report")
    first = parse_month(month)
    as_of = as_of or localtime.now()
    if dt.datetime.combine(first, dt.time(), CST) > as_of:
        raise InvalidInput(f"{first:%Y-%m} 尚未开始 / month {first:%Y-%m} has not begun",
                           field="month")
    return first, add_months(first, 1), as_of


def _ranked(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Townships or counties by closing rate (best first), then by reports."""
    return sorted((g for g in groups if g["key"] is not None),
                  key=lambda g: (-(g["closing_rate"] if g["closing_rate"] is not None else -1),
                                 -g["reports"], str(g["key"])))


def _trend_row(g: dict[str, Any]) -> dict[str, Any]:
    return {"month": g["key"], **{k: g[k] for k in (
        "reports", "cases", "closed", "due", "closing_rate", "on_time_rate")}}


def _overdue_rows(conn: Connection, principal: Principal, region_code: str,
                  as_of: dt.datetime) -> list[dict[str, Any]]:
    """The county's open overdue cases (``/incidents/overdue``) as the report lists them."""
    overdue = list_incidents(conn, principal, region_code, overdue_only=True, now=as_of,
                             limit=10_000)
    names = _names(conn, region_code)
    return [{
        "code": o["code"], "category": names["category"].get(o["category"], o["category"]),
        "township": names["township"].get(o["township_code"] or "", "—"),
        "cell_code": o["cell_code"],
        "worker": _worker_name(principal, names["worker"].get(o["worker_id"])),
        "department": names["department"].get(o["department_code"] or "", "—"),
        "status": o["status_zh"] or o["status"], "reported_at": o["reported_at"],
        "due_at": o["due_at"],
        "overdue_days": _days_late(o["due_at"], as_of),
    } for o in overdue]


def scope_report(conn: Connection, principal: Principal, counties: list[tuple[str, str]],
                 month: str, as_of: dt.datetime | None = None, scope_code: str | None = None
                 ) -> dict[str, Any]:
    """The monthly report of a reader's whole scope (``counties``: (code, name) of the
    counties she oversees, :func:`geo.regions.scope.counties_in_scope`, more than one).

    Same keys as :func:`monthly_report`; ``inputs.scope`` is True, ``region_code`` is the
    prefecture's or province's code (``scope_code``, default the reader's) and ``region_name`` the
    counties' names; ``counties`` holds the counties ranked by closing rate; ``townships``
    is empty; ``categories`` add each county's reports (``by_county``: code -> reports) and
    have no closing rate (``/kpi`` groups categories within one county only); the overdue
    rows name their county (``county``); ``cameras``, ``property``, ``hotspots`` and
    ``sites`` are None (analyses of one county: its own report)."""
    first, after, as_of = _check_month(principal, month, as_of)
    anchor = counties[0][0]  # any county of the scope: group_by=county covers them all
    current = kpi(conn, principal, anchor, first, after, "county", as_of)
    headline = current["total"]
    months = kpi(conn, principal, anchor, add_months(first, 1 - TREND_MONTHS), after,
                 "county", as_of, period="month")
    cats: dict[Any, dict[str, Any]] = {}
    overdue_rows: list[dict[str, Any]] = []
    for code, name in counties:
        for g in kpi(conn, principal, code, first, after, "category", as_of)["groups"]:
            row = cats.setdefault(g["key"], {"key": g["key"], "name": g["name"], "reports": 0,
                                             "reports_before": 0, "by_county": {},
                                             "closing_rate": None, "change": None})
            row["reports"] += g["reports"]
            row["by_county"][code] = g["reports"]
            before = ((g.get("pop") or {}).get("base") or {}).get("reports")
            row["reports_before"] += before or 0
        overdue_rows += [{**r, "county": name, "county_code": code}
                         for r in _overdue_rows(conn, principal, code, as_of)]
    overdue_rows.sort(key=lambda r: -(r["overdue_days"] or 0))
    categories = sorted(cats.values(), key=lambda g: (-g["reports"], str(g["key"])))[
        :TOP_CATEGORIES]
    code = scope_code or scope_code_of(conn, principal, counties)
    return {
        "inputs": {
            "scope": True, "scope_code": code, "region_code": code,
            "region_name": "、".join(n for _c, n in counties),
            "month": f"{first:%Y-%m}", "from": first.isoformat(), "to": after.isoformat(),
            "as_of": as_of.astimezone(CST).isoformat(timespec="seconds"),
            "boundary_set": "、".join(
                f"{n}: {_set_name(conn, c, after - dt.timedelta(days=1))}"
                for c, n in counties),
            "reader": principal.user, "role": principal.role,
            "reader_name": _display_name(conn, principal.user),
            "synthetic": any(_synthetic(conn, c) for c, _n in counties),
            "counties": [{"code": c, "name": n} for c, n in counties],
        },
        "headline": {k: v for k, v in headline.items() if k not in ("yoy", "pop")},
        "yoy": headline.get("yoy"),
        "mom": headline.get("pop"),
        "trend": [_trend_row(g) for g in months["periods"]],
        "counties": {"rows": _ranked(current["groups"]), "total": current["total"]},
        "townships": [],
        "categories": categories,
        "overdue": {"total": len(overdue_rows), "rows": overdue_rows[:OVERDUE_SHOWN],
                    "hidden": not principal.reads_incident_details()},
        "cameras": None, "property": None, "hotspots": None, "sites": None,
        "definitions": current["definitions"],
        "definitions_zh": current.get("definitions_zh") or current["definitions"],
        "warnings": current["warnings"],
    }


NO_GRID = "名下暂无网格 (no grid yet)"


def _set_name(conn: Connection, region_code: str, day: dt.date) -> str:
    """The name of a county's boundary set valid on ``day`` in a scope's report, or
    :data:`NO_GRID` for a county without one (added by ``wangge region add``, no cells yet:
    the scope's report answers for the other counties, this one has zeros)."""
    try:
        return str(boundary_set(conn, region_code, day)["name"])
    except NotFound:
        return NO_GRID


def _worker_name(principal: Principal, name: str | None) -> str:
    """A grid worker's name as the reader may see it (the one rule for workers' names)."""
    return as_seen(principal, "workers", "name", name) if name else "—"


def _display_name(conn: Connection, username: str) -> str | None:
    """The reader's display name (e.g. 住建局规划分析), None when the account has none."""
    return conn.execute(text("SELECT display_name FROM app_user WHERE username = :u"),
                        {"u": username}).scalar()


def _days_late(due_at: str | None, as_of: dt.datetime) -> float | None:
    if not due_at:
        return None
    return round((as_of - dt.datetime.fromisoformat(due_at)).total_seconds() / 86400, 1)


def _names(conn: Connection, region_code: str) -> dict[str, Any]:
    """Display names of the codes the report shows (categories, departments, townships)."""
    return {
        "category": dict(conn.execute(text("SELECT code, name FROM incident_category")).all()),
        "department": dict(conn.execute(text("SELECT code, name FROM department")).all()),
        "township": dict(conn.execute(text(
            "SELECT code, name FROM admin_unit WHERE region_code = :r AND level = 'township'"),
            {"r": region_code}).all()),
        "worker": dict(conn.execute(text(
            "SELECT id, name FROM grid_worker WHERE region_code = :r"), {"r": region_code}).all()),
        "cell": dict(conn.execute(text(
            "SELECT g.code, g.name FROM grid_cell g JOIN boundary_set b ON b.id = "
            "g.boundary_set_id AND b.is_active WHERE b.region_code = :r"),
            {"r": region_code}).all()),
        "region": conn.execute(text(
            "SELECT name FROM region WHERE code = :r"), {"r": region_code}).scalar() or
        region_code,
    }


def _synthetic(conn: Connection, region_code: str) -> bool:
    """True when the region's content is the synthetic demo (said on the cover)."""
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM app_user WHERE region_code = :r AND synthetic)"),
        {"r": region_code}).scalar())
