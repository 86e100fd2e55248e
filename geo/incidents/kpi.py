"""KPIs of the case flow, per township, cell, department, worker or category, per month, ISO
week or day (or both), with 同比 and 环比.

Definitions (reports counted by their report time in [from, to), China Standard Time):

- reports: every report; repeat reports: those merged into another case (重复上报);
  repeat-report rate 重复上报率 = repeat reports / reports.
- cases: reports that are neither merged, rejected, cancelled nor still needing a location.
- closed 结案: cases with status closed; closed on time 按期结案: closed no later than the
  case's final due time (``final_due_at``: report time + the four step limits in working time,
  moved by pauses and extensions).
- due 应结案: closed cases + open cases that are overdue at ``as_of`` (their current step's due
  time or their final due time has passed, and they are not paused).
- no deadline 无时限: cases (open or closed) without a final due time
  (``geo.incidents.rollup.NO_DEADLINE_SQL``): never on time, never overdue.
- due with a deadline 应结案数(有时限) ``due_timed``: due minus the closed cases without one.
- closing rate 结案率 = closed / due; on-time closing rate 按期结案率 = closed on time /
  due with a deadline.
- average handling time 平均处置时长: mean working hours from report to closing, closed cases.
- rework rate 返工率 = cases returned for rework at least once / cases handled at least once.
- periods 时段: calendar months, ISO weeks (Monday to Sunday, "2026-W40") or days in China
  Standard Time; a period cut by from/to counts only its days inside the range (partial).
- 同比 yoy: the same period one year earlier (same month / day; ISO week with the same number);
  环比 pop: the previous period of the same length (previous month / week / day; for the whole
  range: as many months back when from and to are 1sts of months, else as many days back).
  An earlier period is cut the same way and judged at the same as_of (so it has had longer to
  close its cases). Given only where the earlier period has reports and lies within the
  region's data (from its first report on); otherwise null with the reason (yoy_reason,
  pop_reason). base = the earlier values; change = this - earlier (counts, hours);
  change_pct = change / earlier in per cent; change_pp = change of a rate in percentage points
  (0.93 -> 0.95: +2.0).
- grouped by worker, each row also has patrol figures (geo.patrols.analysis): patrol_km and
  patrol_hours of the patrols started in the range (points over 150 km/h or 5 km jumps not
  counted, pauses over 5 minutes neither), patrols, checkins (key-point check-ins), and
  key_points_due = the weekly due check-ins of the key points in the worker's cells times the
  weeks of the range. Not compared in yoy/pop.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime, periods
from geo.auth.fields import as_seen
from geo.auth.principal import Principal, incident_scope_sql
from geo.errors import InvalidInput
from geo.incidents import rollup
from geo.incidents.calendar import load_calendar
from geo.incidents.callback import SATISFIED
from geo.incidents.flow import NOT_A_CASE, OPEN, status_in_sql
from geo.localtime import CST

GROUPS = {
    "township": ("i.township_code",
                 "(SELECT name FROM admin_unit a WHERE a.region_code = i.region_code "
                 "AND a.code = i.township_code)"),
    "cell": ("i.cell_code",
             "(SELECT g.name FROM grid_cell g WHERE g.boundary_set_id = i.boundary_set_id "
             "AND g.code = i.cell_code)"),
    "department": ("i.department_code",
                   "(SELECT name FROM department d WHERE d.code = i.department_code)"),
    # The worker's name as the caller may read it (geo.auth.fields) is added in Python.
    "worker": ("i.worker_id::text",
               "(SELECT json_build_array(w.name, w.code) FROM grid_worker w "
               "WHERE w.id = i.worker_id)"),
    "category": ("i.category_code",
                 "(SELECT name FROM incident_category c WHERE c.code = i.category_code)"),
}
#: The definitions above in Chinese, for documents read by officials (the English ones are
#: this module's docstring; the two say the same).
DEFINITIONS_ZH = """统计口径 (按上报时间统计, 时段 [起始, 截止) 为北京时间):

- 上报数: 全部上报; 重复上报数: 被合并到其他案件的上报; 重复上报率 = 重复上报数 / 上报数。
- 案件数: 上报中除被合并、不予立案、已撤销和仍待定位以外的。
- 结案数: 状态为已结案的案件; 按期结案: 在最终期限 (上报时间加四个环节的工作时限, 随暂停和延期顺延)
  前结案。
- 应结案数: 已结案案件 + 截至统计时点已超期的在办案件 (当前环节期限或最终期限已过且未暂停)。
- 无时限案件数: 没有最终期限的案件 (在办或已结案), 不计为按期, 也不计为超期;
  应结案数(有时限) = 应结案数 - 其中无时限的已结案案件。
- 结案率 = 结案数 / 应结案数; 按期结案率 = 按期结案数 / 应结案数(有时限)。
- 平均处置时长: 已结案案件从上报到结案的平均工作小时数。
- 返工率 = 至少返工一次的案件 / 至少处置过一次的案件。
- 满意率 = 回访结果为满意或基本满意的案件 / 已回访案件 (回访: 结案后指挥中心登记的满意度)。
- 时段: 自然月、自然周 (ISO 周, 周一至周日) 或自然日; 被起止日期截断的时段只计范围内的日期。
- 同比: 去年同期; 环比: 上一个同样长度的时段。对比期没有上报时不作比较。
- 按网格员分组时另列巡查指标: 巡查里程(公里)与巡查时长(小时) 为时段内开始的巡查计入的里程和时长
  (速度超过150公里/小时或跳点超过5公里的轨迹点不计, 间隔超过5分钟视为暂停); 巡查次数; 关键点位签到
  次数; 关键点位应签到次数 = 其当前负责网格内关键点位每周应签到次数之和 × 时段周数。"""
#: Every value of ``group_by``: a dimension (GROUPS) or a calendar unit (geo.periods.UNITS).
GROUP_BY = [*GROUPS, "county", *periods.UNITS]
#: The Chinese label of every field of a KPI answer (the one place for them).
METRICS_ZH = {
    "reports": "上报数", "repeat_reports": "重复上报数", "cases": "案件数", "due": "应结案数",
    "closed": "结案数", "closed_on_time": "按期结案数", "closing_rate": "结案率",
    "no_deadline": "无时限案件数", "due_timed": "应结案数(有时限)",
    "on_time_rate": "按期结案率", "avg_handling_h": "平均处置时长(工作小时)",
    "rework_rate": "返工率", "repeat_rate": "重复上报率", "open": "在办数",
    "open_overdue": "超期在办数", "handled_once": "已处置案件数", "reworked": "返工案件数",
    "called_back": "已回访数", "satisfied": "满意数(含基本满意)", "satisfaction_rate": "满意率",
    "period": "时段", "from": "起始日期", "to": "截止日期(不含)", "partial": "不完整时段",
    "ongoing": "时段未结束", "periods": "各时段合计",
    "yoy": "同比", "pop": "环比", "base": "对比期数值", "change": "增减",
    "change_pct": "增减幅度(%)", "change_pp": "增减(百分点)",
    "yoy_reason": "无同比的原因", "pop_reason": "无环比的原因",
    # worker rows (group_by=worker): patrols (geo.patrols.analysis.worker_totals)
    "patrol_km": "巡查里程(公里)", "patrol_hours": "巡查时长(小时)", "patrols": "巡查次数",
    "checkins": "关键点位签到次数", "key_points_due": "关键点位应签到次数",
}
#: Compared in 同比/环比: counts and hours by difference and per cent, rates in points.
#: (Not the open counts: at one as_of an earlier period has had longer to close its cases.)
COMPARED_COUNTS = ("reports", "repeat_reports", "cases", "due", "closed", "closed_on_time",
                   "avg_handling_h")
COMPARED_RATES = ("closing_rate", "on_time_rate", "rework_rate", "repeat_rate")
_ADDITIVE = ("reports", "repeat_reports", "cases", "due", "closed", "closed_on_time", "open",
             "open_overdue", "no_deadline", "due_timed", "handled_once", "reworked",
             "_handling_ms", "called_back", "satisfied")
_TOTAL = "TOTAL"

Window = tuple[dt.date, dt.date]


def kpi(
    conn: Connection, principal: Principal, region_code: str, date_from: dt.date,
    date_to: dt.date, group_by: str = "township", as_of: dt.datetime | None = None,
    period: str | None = None, use_rollup: bool = True,
) -> dict[str, Any]:
    """KPIs of reports made in [date_from, date_to), grouped by ``group_by``.

    The counts come from the rollup (:mod:`geo.incidents.rollup`; ``use_rollup=False``: on the
    fly); what depends on ``as_of`` (overdue, due) or on the working-time calendar (handling
    hours) and the callbacks' satisfaction are read on the fly for the open, closed and
    called-back cases only.

    ``group_by`` is a dimension (township, cell, department, worker, category) or a calendar
    unit (month, week, day: one row per period of the range, empty periods included);
    ``period`` (month, week, day) splits a dimension grouping by period (one row per period
    and group, plus ``periods``: each period's totals). Every row and the total carry 同比
    (``yoy``) and 环比 (``pop``) when the earlier period has data (else null and
    ``yoy_reason`` / ``pop_reason``).
    """
    unit = _check(principal, region_code, date_from, date_to, group_by, period)
    dim = None if group_by in periods.UNITS else group_by
    as_of = as_of or localtime.now()
    spans = periods.spans(date_from, date_to, unit) if unit else []
    yoy_range = (periods.add_months(date_from, -12), periods.add_months(date_to, -12))
    pop_range = periods.previous_range(date_from, date_to)
    earlier = [*(x.year_earlier() for x in spans), *(x.previous() for x in spans)]
    windows = [(date_from, date_to), yoy_range, pop_range,
               *((s.first, s.end) for s in earlier if s is not None)]
    load = _load if rollup.source_for(rollup=use_rollup) == "incident" else _load_rollup
    scope: dict[str, Any] | None = None
    if dim == "county":  # one row per county the caller may see (a prefecture, a province)
        daily, names, warnings, first = _load_counties(conn, principal, load, _merged(windows),
                                                      as_of)
        scope = _scope(conn, principal)
        region_code = scope["code"]  # the answer is about the scope, not one county
    else:
        daily, names, warnings = load(conn, principal, region_code, dim, _merged(windows),
                                      as_of)
        first = periods.first_report(conn, region_code)
    first_day = localtime.local_date(first) if first is not None else None
    sums = _Sums(daily, first_day)

    total = sums.row(_TOTAL, "合计 / total", (date_from, date_to))
    sums.compare(total, _TOTAL, yoy_range, pop_range, "range")
    out: list[dict[str, Any]] = []
    period_rows: list[dict[str, Any]] = []
    if dim is None:  # one row per period
        for span in spans:
            row = {**sums.row(_TOTAL, span.name_zh, (span.first, span.end), span.label),
                   **_when(span, as_of)}
            _compare_span(sums, row, _TOTAL, span)
            out.append(row)
    elif unit is None:  # one row per group over the range
        for key in _ordered(sums.window(date_from, date_to)):
            row = sums.row(key, names.get(key), (date_from, date_to))
            sums.compare(row, key, yoy_range, pop_range, "range")
            out.append(row)
    else:  # one row per period and group, and each period's totals
        for span in spans:
            prow = {**sums.row(_TOTAL, span.name_zh, (span.first, span.end), span.label),
                    **_when(span, as_of)}
            _compare_span(sums, prow, _TOTAL, span)
            period_rows.append(prow)
            for key in _ordered(sums.window(span.first, span.end)):
                row = {**sums.row(key, names.get(key), (span.first, span.end)),
                       **_when(span, as_of)}
                _compare_span(sums, row, key, span)
                out.append(row)
    if dim == "worker":
        _add_patrols(conn, region_code, out, total, date_from, date_to)
    result = {
        "region_code": region_code, "from": date_from.isoformat(), "to": date_to.isoformat(),
        "as_of": as_of.isoformat(), "group_by": group_by, "period": unit, "groups": out,
        "total": total, "metrics_zh": METRICS_ZH,
        "definitions": (__doc__ or "").split("Definitions")[1].strip(),
        "definitions_zh": DEFINITIONS_ZH, "warnings": warnings,
    }
    if scope is not None:
        result["scope"] = scope
    if dim is not None and unit is not None:
        result["periods"] = period_rows
    return result


def _scope(conn: Connection, principal: Principal) -> dict[str, Any]:
    """What a grouping by county is about: the scope's code (the prefecture's or province's,
    :func:`geo.regions.scope.scope_code`) and its counties (code, name)."""
    from geo.regions.scope import counties_in_scope, scope_code

    counties = counties_in_scope(conn, principal)
    return {"code": scope_code(conn, principal, counties),
            "counties": [{"code": c, "name": n} for c, n in counties]}


def _load_counties(conn: Connection, principal: Principal, load: Any, windows: list[Window],
                   as_of: dt.datetime) -> tuple[dict[dt.date, dict[Any, dict[str, Any]]],
                                                dict[Any, Any], list[Any], dt.datetime | None]:
    """Each county's totals (the one-region loader, per region in the caller's scope) keyed by
    its code, its name, the calendars' warnings and the earliest report of them all."""
    from geo.regions.scope import counties_in_scope

    rows = counties_in_scope(conn, principal)
    daily: dict[dt.date, dict[Any, dict[str, Any]]] = {}
    names: dict[Any, Any] = {}
    warnings: list[Any] = []
    firsts = []
    for code, name in rows:
        d, _n, w = load(conn, principal, code, None, windows, as_of)
        for day, groups in d.items():
            for acc in groups.values():
                daily.setdefault(day, {})[code] = {**acc, "key": code, "name": name}
        names[code] = name
        warnings += [x for x in w if x not in warnings]
        first = periods.first_report(conn, code)
        if first is not None:
            firsts.append(first)
    return daily, names, warnings, min(firsts) if firsts else None


def _add_patrols(conn: Connection, region_code: str, rows: list[dict[str, Any]],
                 total: dict[str, Any], date_from: dt.date, date_to: dt.date) -> None:
    """Worker rows gain their patrol figures (geo.patrols.analysis.worker_totals) over the
    row's days; the total sums them."""
    from geo.patrols.analysis import PATROL_KPI_COLUMNS, worker_totals

    cache: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        a, b = row.get("from", date_from.isoformat()), row.get("to", date_to.isoformat())
        if (a, b) not in cache:
            cache[(a, b)] = worker_totals(conn, region_code, dt.date.fromisoformat(a),
                                          dt.date.fromisoformat(b))
        figures = cache[(a, b)].get(str(row["key"]), {})
        for col in PATROL_KPI_COLUMNS:
            row[col] = figures.get(col, 0)
    whole = cache.get((date_from.isoformat(), date_to.isoformat())) or worker_totals(
        conn, region_code, date_from, date_to)
    keys = {str(r["key"]) for r in rows}
    for col in PATROL_KPI_COLUMNS:
        total[col] = round(sum(v.get(col, 0) for k, v in whole.items() if k in keys), 2)


def _check(principal: Principal, region_code: str, date_from: dt.date, date_to: dt.date,
           group_by: str, period: str | None) -> str | None:
    """Validate the request; the calendar unit of the rows (None: no split by period)."""
    if group_by not in GROUP_BY:
        raise InvalidInput(f"未知分组 {group_by!r}, 可用: {', '.join(GROUP_BY)} / unknown "
                           f"group_by {group_by!r}; valid: {GROUP_BY}", field="group_by",
                           valid=GROUP_BY)
    if period is not None:
        periods.check_unit(period, "period")
        if group_by in periods.UNITS:
            raise InvalidInput(
                f"group_by={group_by} 已按时段分组, 不能再加 period; 分时段再按乡镇等分组请用 "
                f"group_by=township&period={period} / group_by={group_by} already groups by "
                f"period: drop period, or split another grouping by period with e.g. "
                f"group_by=township&period={period}", field="period")
    localtime.check_year(date_from, "from")
    localtime.check_year(date_to, "to")
    if date_to <= date_from:
        raise InvalidInput(f"结束日期须晚于开始日期 / to ({date_to}) must be after from "
                           f"({date_from})", field="to")
    unit = group_by if group_by in periods.UNITS else period
    if unit in ("day", "week") and (date_to - date_from).days > periods.TEN_YEARS_DAYS:
        how = "group_by=month" if group_by == unit else "period=month"
        raise InvalidInput(
            f"超过10年的时段不能按{periods.UNITS_ZH[unit]}分组, 请改用 {how} / a range over "
            f"10 years cannot be split by {unit}: use {how}", field="group_by"
            if group_by == unit else "period")
    principal.require_region(region_code)
    return unit


def _load(conn: Connection, principal: Principal, region_code: str, dim: str | None,
          windows: list[Window], as_of: dt.datetime,
          ) -> tuple[dict[dt.date, dict[Any, dict[str, Any]]], dict[Any, Any], list[Any]]:
    """Counts per local report day and group key (the rows of every window to compare), the
    groups' names and the calendar's warnings."""
    # Aggregates carry no personal field: planners and viewers see the whole region;
    # workers and departments their own scope.
    cond, params = ("TRUE", {}) if principal.role in ("planner", "viewer") else \
        incident_scope_sql(principal, "i")
    key, name = GROUPS[dim] if dim else ("NULL", "NULL")
    when = " OR ".join(f"(i.reported_at >= :t0_{n} AND i.reported_at < :t1_{n})"
                       for n in range(len(windows)))
    for n, (a, b) in enumerate(windows):
        params[f"t0_{n}"] = dt.datetime.combine(a, dt.time(), CST)
        params[f"t1_{n}"] = dt.datetime.combine(b, dt.time(), CST)
    rows = conn.execute(text(f"""
        SELECT {key} AS key, {name} AS name, i.status, i.reported_at, i.closed_at,
               i.due_at, i.final_due_at, i.paused_at,
               {rollup.flag_sql(rollup.ON_TIME_SQL, "i")} AS on_time,
               {rollup.flag_sql(rollup.NO_DEADLINE_SQL, "i")} AS no_deadline,
               {rollup.flag_sql(rollup.HANDLED_SQL, "i")} AS handled,
               {rollup.flag_sql(rollup.REWORKED_SQL, "i")} AS reworked,
               ({_SATISFACTION}) AS satisfaction
        FROM incident i
        WHERE i.region_code = :r AND ({when}) AND {cond}
    """), {**params, "r": region_code}).mappings().all()
    cal = load_calendar(conn, region_code)
    daily: dict[dt.date, dict[Any, dict[str, Any]]] = {}
    names: dict[Any, Any] = {}
    for r in rows:
        k = r["key"] if dim else _TOTAL
        if k not in names:
            names[k] = _label(principal, dim, r["name"])
        acc = _acc(daily, r["reported_at"], k)
        _count(acc, r["status"], 1, int(r["on_time"]), int(r["handled"]), int(r["reworked"]))
        _count_times(acc, r, as_of, cal)
        _count_callback(acc, r["status"], r["satisfaction"])
    return daily, names, cal.take_warnings()


#: The satisfaction of a case's latest callback (``incident i``).
_SATISFACTION = ("SELECT e.data->>'satisfaction' FROM incident_event e WHERE e.incident_id = "
                 "i.id AND e.kind = 'callback' ORDER BY e.id DESC LIMIT 1")
#: The rollup's column of each dimension (the key of ``GROUPS``).
_ROLLUP_KEY = {"township": "township_code", "cell": "cell_code",
               "department": "department_code", "worker": "worker_id",
               "category": "category_code"}


def _load_rollup(conn: Connection, principal: Principal, region_code: str, dim: str | None,
                 windows: list[Window], as_of: dt.datetime,
                 ) -> tuple[dict[dt.date, dict[Any, dict[str, Any]]], dict[Any, Any], list[Any]]:
    """What :func:`_load` answers, the counts from the rollup: only the open cases (overdue
    at ``as_of``), the closed ones (working-time handling hours) and the called-back ones
    (satisfaction) are read from ``incident``."""
    scoped = None if principal.role in ("planner", "viewer") else principal
    col = _ROLLUP_KEY[dim] if dim else None
    daily: dict[dt.date, dict[Any, dict[str, Any]]] = {}
    names: dict[Any, Any] = {}
    for a, b in windows:
        for r in rollup.counts(conn, scoped, [col, "status"] if col else ["status"],
                               regions=[region_code], start=localtime.day_start(a),
                               end=localtime.day_start(b), with_day=True):
            k = _key(dim, r[col]) if col else _TOTAL
            day = daily.setdefault(r["day"], {})
            acc = day.get(k)
            if acc is None:
                acc = day[k] = _empty(k, None)
            _count(acc, r["status"], int(r["n"]), int(r["on_time"]), int(r["handled"]),
                   int(r["reworked"]))
    cond, params = ("TRUE", {}) if scoped is None else incident_scope_sql(principal, "i")
    key, name = GROUPS[dim] if dim else ("NULL", "NULL")
    when = " OR ".join(f"(i.reported_at >= :t0_{n} AND i.reported_at < :t1_{n})"
                       for n in range(len(windows)))
    for n, (a, b) in enumerate(windows):
        params[f"t0_{n}"] = localtime.day_start(a)
        params[f"t1_{n}"] = localtime.day_start(b)
    params["r"] = region_code
    where = f"i.region_code = :r AND ({when}) AND {cond}"
    cal = load_calendar(conn, region_code)
    for case in conn.execute(text(f"""
        SELECT {key} AS key, i.status, i.reported_at, i.closed_at, i.due_at, i.final_due_at,
               i.paused_at, {rollup.flag_sql(rollup.NO_DEADLINE_SQL, "i")} AS no_deadline
        FROM incident i
        WHERE {where} AND ({status_in_sql("i.status", OPEN | {"closed"})})
    """), params).mappings():
        _count_times(_acc(daily, case["reported_at"], case["key"] if dim else _TOTAL), case,
                     as_of, cal)
    for cb in conn.execute(text(f"""
        SELECT {key} AS key, i.status, i.reported_at, s.satisfaction
        FROM (SELECT DISTINCT ON (e.incident_id) e.incident_id,
                     e.data->>'satisfaction' AS satisfaction
              FROM incident_event e WHERE e.kind = 'callback' AND e.region_code = :r
              ORDER BY e.incident_id, e.id DESC) s
        JOIN incident i ON i.id = s.incident_id
        WHERE {where} AND s.satisfaction IS NOT NULL
    """), params).mappings():
        _count_callback(_acc(daily, cb["reported_at"], cb["key"] if dim else _TOTAL),
                        cb["status"], cb["satisfaction"])
    if dim:  # one rollup row per group names it (the rollup has every column GROUPS reads)
        keys = {k for day in daily.values() for k in day}
        days = " OR ".join(f"(i.day >= :d0_{n} AND i.day < :d1_{n})"
                           for n in range(len(windows)))
        for n, (a, b) in enumerate(windows):
            params[f"d0_{n}"], params[f"d1_{n}"] = a, b
        for named in conn.execute(text(f"""
            SELECT {key} AS key, {name} AS name FROM (
                SELECT DISTINCT ON ({key}) i.* FROM {rollup.TABLE} i
                WHERE i.region_code = :r AND ({days}) AND {cond} ORDER BY {key}, i.id) i
        """), params).mappings():
            if named["key"] in keys:
                names[named["key"]] = _label(principal, dim, named["name"])
    return daily, names, cal.take_warnings()


def _key(dim: str | None, value: Any) -> Any:
    """A group key as :data:`GROUPS` gives it (worker ids as text)."""
    return str(value) if dim == "worker" and value is not None else value


def _label(principal: Principal, dim: str | None, raw: Any) -> Any:
    """A group's name as the caller may read it (a worker's name through geo.auth.fields)."""
    if dim == "worker" and raw is not None:
        return f"{as_seen(principal, 'workers', 'name', raw[0])} ({raw[1]})"
    return raw


def _acc(daily: dict[dt.date, dict[Any, dict[str, Any]]], reported_at: dt.datetime,
         key: Any) -> dict[str, Any]:
    day = daily.setdefault(localtime.local_date(reported_at), {})
    acc = day.get(key)
    if acc is None:
        acc = day[key] = _empty(key, None)
    return acc


def _merged(windows: list[Window]) -> list[Window]:
    """The days of ``windows`` as few disjoint windows (overlapping or touching ones joined)."""
    out: list[Window] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class _Sums:
    """Sums of the daily counts over windows of days (every count is additive)."""

    def __init__(self, daily: dict[dt.date, dict[Any, dict[str, Any]]],
                 first_day: dt.date | None) -> None:
        self.daily = daily
        self.days = sorted(daily)
        self.first_day = first_day
        self._cache: dict[Window, dict[Any, dict[str, Any]]] = {}

    def window(self, first: dt.date, end: dt.date) -> dict[Any, dict[str, Any]]:
        """Raw counts per group key (and ``TOTAL``) of the reports of days [first, end)."""
        got = self._cache.get((first, end))
        if got is not None:
            return got
        out: dict[Any, dict[str, Any]] = {}
        total = out[_TOTAL] = _empty(_TOTAL, None)
        for day in self.days[bisect_left(self.days, first):bisect_left(self.days, end)]:
            for k, acc in self.daily[day].items():
                if k != _TOTAL:
                    _add(out.setdefault(k, _empty(k, None)), acc)
                _add(total, acc)
        self._cache[(first, end)] = out
        return out

    def row(self, key: Any, name: Any, window: Window, shown: Any = None) -> dict[str, Any]:
        """The finished KPI row of ``key`` (``TOTAL``: all groups) over ``window``, keyed
        ``shown`` when given (a period's label)."""
        acc = self.window(*window).get(key) or _empty(key, None)
        return _finish({**acc, "key": key if shown is None else shown, "name": name})

    def compare(self, row: dict[str, Any], key: Any, yoy: Window | None, pop: Window,
                unit: str, no_yoy: str = "") -> None:
        """Add ``yoy`` and ``pop`` to ``row`` (or null and ``yoy_reason`` / ``pop_reason``);
        ``yoy`` None: there is no such period a year earlier (``no_yoy`` says why)."""
        for field, window, zh, en in (("yoy", yoy, "上年同期", "the same period a year earlier"),
                                      ("pop", pop, "上一时段", "the previous period")):
            if window is None:
                row[field] = None
                row[f"{field}_reason"] = no_yoy
                continue
            a, b = window
            shown = f"{a} .. {b - dt.timedelta(days=1)}"
            if self.first_day is None or a < self.first_day:
                since = f"数据始于 {self.first_day}" if self.first_day else "本区域无上报"
                since_en = (f"the region's data start on {self.first_day}" if self.first_day
                            else "the region has no reports")
                row[field] = None
                row[f"{field}_reason"] = (f"{zh} ({shown}) 不在数据范围内 ({since}) / {en} "
                                          f"({shown}) is not covered by the data ({since_en})")
                continue
            base = self.row(key, None, window)
            if not base["reports"]:
                row[field] = None
                row[f"{field}_reason"] = f"{zh} ({shown}) 无上报 / no reports in {en} ({shown})"
                continue
            row[field] = _change(row, base, window, unit)


def _compare_span(sums: _Sums, row: dict[str, Any], key: Any, span: periods.Span) -> None:
    before = span.year_earlier()
    prev = span.previous()
    week = span.start.isocalendar()[1]
    sums.compare(row, key, (before.first, before.end) if before else None,
                 (prev.first, prev.end), span.unit,
                 f"上年无第{week}周 / the year before has no ISO week {week}")


def _change(row: dict[str, Any], base: dict[str, Any], window: Window,
            unit: str) -> dict[str, Any]:
    """The comparison object: the earlier window, its values and the changes."""
    a, b = window
    label = f"{a} .. {b - dt.timedelta(days=1)}"
    for u in ((unit,) if unit in periods.UNITS else ("month",)):  # a whole unit: its label
        if periods.unit_start(a, u) == a and periods.unit_after(a, u) == b:
            label = periods.unit_label(a, u)
    change: dict[str, Any] = {}
    change_pct: dict[str, Any] = {}
    change_pp: dict[str, Any] = {}
    for m in COMPARED_COUNTS:
        now, then = row[m], base[m]
        diff = None if now is None or then is None else round(now - then, 2)
        change[m] = diff
        change_pct[m] = round(diff / then * 100, 2) if diff is not None and then else None
    for m in COMPARED_RATES:
        now, then = row[m], base[m]
        change_pp[m] = None if now is None or then is None else round((now - then) * 100, 2)
    return {"label": label, "from": a.isoformat(), "to": b.isoformat(),
            "base": {m: base[m] for m in (*COMPARED_COUNTS, *COMPARED_RATES)},
            "change": change, "change_pct": change_pct, "change_pp": change_pp}


def _when(span: periods.Span, as_of: dt.datetime) -> dict[str, Any]:
    """A period row's period: label, days [from, to), cut by the range, not yet over."""
    return {"period": span.label, "from": span.first.isoformat(), "to": span.end.isoformat(),
            "partial": span.partial,
            "ongoing": localtime.day_start(span.end) > as_of}


def _ordered(groups: dict[Any, dict[str, Any]]) -> Iterable[Any]:
    keys = [k for k in groups if k != _TOTAL]
    return sorted(keys, key=lambda k: (k is None, str(k)))


def _empty(key: Any, name: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "reports": 0, "repeat_reports": 0, "cases": 0,
            "due": 0, "closed": 0, "closed_on_time": 0, "open": 0, "open_overdue": 0,
            "no_deadline": 0, "due_timed": 0,
            "handled_once": 0, "reworked": 0, "_handling_ms": 0, "called_back": 0,
            "satisfied": 0}


def _add(into: dict[str, Any], acc: dict[str, Any]) -> None:
    for m in _ADDITIVE:
        into[m] += acc[m]


def _count(acc: dict[str, Any], status: str, n: int, on_time: int, handled: int,
           reworked: int) -> None:
    """Add ``n`` reports of one status (``on_time``, ``handled``, ``reworked`` of them: the
    rules of :mod:`geo.incidents.rollup`) to ``acc``; open ones count as open here, as overdue
    in :func:`_count_times`."""
    acc["reports"] += n
    if status == "merged":
        acc["repeat_reports"] += n
        return
    if status in NOT_A_CASE:
        return
    acc["cases"] += n
    acc["handled_once"] += handled
    acc["reworked"] += reworked
    if status == "closed":
        acc["closed"] += n
        acc["due"] += n
        acc["due_timed"] += n  # less those without a deadline: _count_times
        acc["closed_on_time"] += on_time
    elif status in OPEN:
        acc["open"] += n


def _count_times(acc: dict[str, Any], r: Any, as_of: dt.datetime, cal: Any) -> None:
    """What one case adds that depends on ``as_of`` or the calendar: a closed case its
    working-time handling, an open one overdue at ``as_of`` its due count; either one without
    a deadline (``r["no_deadline"]``: ``rollup.NO_DEADLINE_SQL``) its no_deadline count and
    a closed one no due-with-a-deadline count."""
    status = r["status"]
    if r["no_deadline"] and (status == "closed" or status in OPEN):
        acc["no_deadline"] += 1
        if status == "closed":
            acc["due_timed"] -= 1
    if status == "closed":
        # whole milliseconds: sums do not depend on the order of the rows
        acc["_handling_ms"] += round(
            cal.working_minutes_between(r["reported_at"], r["closed_at"]) * 60_000)
    elif status in OPEN:
        late = r["paused_at"] is None and (
            (r["due_at"] is not None and r["due_at"] < as_of)
            or (r["final_due_at"] is not None and r["final_due_at"] < as_of))
        if late:
            acc["open_overdue"] += 1
            acc["due"] += 1
            acc["due_timed"] += 1


def _count_callback(acc: dict[str, Any], status: str, satisfaction: str | None) -> None:
    """A case's latest callback: called back, and satisfied or not."""
    if satisfaction is not None and status not in NOT_A_CASE:
        acc["called_back"] += 1
        acc["satisfied"] += satisfaction in SATISFIED


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _finish(acc: dict[str, Any]) -> dict[str, Any]:
    """The row with its rates and average handling time (internal sums dropped)."""
    acc["closing_rate"] = _rate(acc["closed"], acc["due"])
    acc["on_time_rate"] = _rate(acc["closed_on_time"], acc["due_timed"])
    acc["avg_handling_h"] = (round(acc["_handling_ms"] / 3_600_000 / acc["closed"], 2)
                             if acc["closed"] else None)
    acc["rework_rate"] = _rate(acc["reworked"], acc["handled_once"])
    acc["repeat_rate"] = _rate(acc["repeat_reports"], acc["reports"])
    acc["satisfaction_rate"] = _rate(acc["satisfied"], acc["called_back"])
    del acc["_handling_ms"]
    return acc


METRICS_EN = {
    "reports": "Reports", "repeat_reports": "Repeat reports", "cases": "Cases", "due": "Due",
    "closed": "Closed", "closed_on_time": "Closed on time", "closing_rate": "Closing rate",
    "no_deadline": "Cases without a deadline", "due_timed": "Due (with a deadline)",
    "on_time_rate": "On-time closing rate", "avg_handling_h": "Avg handling (working h)",
    "rework_rate": "Rework rate", "repeat_rate": "Repeat-report rate", "open": "Open",
    "open_overdue": "Open and overdue", "called_back": "Callbacks",
    "satisfied": "Satisfied (incl. basically)", "satisfaction_rate": "Satisfaction rate",
    "patrol_km": "Patrol km", "patrol_hours": "Patrol hours",
    "patrols": "Patrols", "checkins": "Key-point check-ins", "key_points_due": "Check-ins due",
}
_XLSX_COUNTS = ("reports", "cases", "due", "closed", "closed_on_time", "repeat_reports", "open",
                "open_overdue", "called_back", "satisfied", "no_deadline", "due_timed")
_XLSX_RATES = {"closing_rate": ("closed", "due"),
               "on_time_rate": ("closed_on_time", "due_timed"),
               "repeat_rate": ("repeat_reports", "reports"),
               "satisfaction_rate": ("satisfied", "called_back")}
GROUPS_ZH = {"township": ("乡镇", "Township"), "county": ("区县", "County"),
             "cell": ("网格", "Cell"),
             "department": ("部门", "Department"), "worker": ("网格员", "Grid worker"),
             "category": ("类别", "Category"), "month": ("月份", "Month"),
             "week": ("周", "Week"), "day": ("日期", "Day")}


def kpi_xlsx(result: dict[str, Any], lang: str = "zh") -> bytes:
    """The KPI table as a workbook of the one Excel writer (:mod:`geo.io.workbook`): Chinese
    headers (``lang="en"``: English), the period of each row when grouped by time, 环比 and
    同比 of the reports and the closing rate, a totals row (rates recomputed) and the
    definitions on the 说明 sheet."""
    from geo.io.workbook import About, Column, Sheet, write_workbook

    group_zh, group_en = GROUPS_ZH.get(result["group_by"], (result["group_by"],) * 2)
    cols = [Column("key", f"{group_zh}编码", f"{group_en} code"),
            Column("name", group_zh, group_en)]
    if result.get("period"):
        cols.insert(0, Column("period", "时段", "Period"))
    for key in ("reports", "cases", "due", "closed", "closed_on_time", "closing_rate",
                "on_time_rate", "avg_handling_h", "rework_rate", "repeat_reports",
                "repeat_rate", "open", "open_overdue", "no_deadline", "due_timed",
                "called_back", "satisfied", "satisfaction_rate"):
        kind = ("percent" if key.endswith("_rate") else
                "float" if key == "avg_handling_h" else "int")
        cols.append(Column(key, METRICS_ZH[key], METRICS_EN[key], kind,
                           total=key in _XLSX_COUNTS, ratio=_XLSX_RATES.get(key)))
    if result["group_by"] == "worker":
        from geo.patrols.analysis import PATROL_KPI_COLUMNS

        cols += [Column(key, METRICS_ZH[key], METRICS_EN[key],
                        "float" if key in ("patrol_km", "patrol_hours") else "int", total=True)
                 for key in PATROL_KPI_COLUMNS]
    for cmp, zh, en in (("pop", "环比", "vs previous period"),
                        ("yoy", "同比", "vs a year earlier")):
        cols += [Column(f"{cmp}_reports", f"上报数{zh}(%)", f"Reports {en} (%)", "float",
                        note_zh=f"上报数较{'上期' if cmp == 'pop' else '去年同期'}的增减百分比",
                        note_en=f"change of reports {en}, per cent"),
                 Column(f"{cmp}_closing_rate", f"结案率{zh}(百分点)",
                        f"Closing rate {en} (points)", "float",
                        note_zh="结案率的增减, 以百分点计", note_en="in percentage points")]

    def row(g: dict[str, Any]) -> dict[str, Any]:
        out = dict(g)
        for cmp in ("pop", "yoy"):
            c = g.get(cmp) or {}
            out[f"{cmp}_reports"] = (c.get("change_pct") or {}).get("reports")
            out[f"{cmp}_closing_rate"] = (c.get("change_pp") or {}).get("closing_rate")
        return out

    title_zh = f"事件考核指标 {result['from']} 至 {result['to']} (不含), 按{group_zh}"
    title_en = f"Case KPIs {result['from']} to {result['to']} (exclusive), by {group_en}"
    about = About(title_zh, title_en, inputs=[
        ("区域", "Region", result["region_code"]), ("起始日期", "From", result["from"]),
        ("截止日期(不含)", "To (exclusive)", result["to"]),
        ("分组", "Grouped by", group_zh if lang != "en" else group_en),
        ("数据截至", "Data as of", dt.datetime.fromisoformat(result["as_of"]))],
        notes=[(result.get("definitions_zh") or result["definitions"],
                result["definitions"])])
    sheet = Sheet("考核指标", "KPIs", cols, [row(g) for g in result["groups"]], totals=True)
    return write_workbook([sheet], about, lang)
