"""KPIs of the case flow, per township, cell, department, worker or category.

Definitions (reports counted by their report time in [from, to), China Standard Time):

- reports: every report; repeat reports: those merged into another case (重复上报);
  repeat-report rate 重复上报率 = repeat reports / reports.
- cases: reports that are neither merged, rejected, cancelled nor still needing a location.
- closed 结案: cases with status closed; closed on time 按期结案: closed no later than the
  case's final due time (``final_due_at``: report time + the four step limits in working time,
  moved by pauses and extensions).
- due 应结案: closed cases + open cases that are overdue at ``as_of`` (their current step's due
  time or their final due time has passed, and they are not paused).
- closing rate 结案率 = closed / due; on-time closing rate 按期结案率 = closed on time / due.
- average handling time 平均处置时长: mean working hours from report to closing, closed cases.
- rework rate 返工率 = cases returned for rework at least once / cases handled at least once.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.fields import as_seen
from geo.auth.principal import Principal, incident_scope_sql
from geo.errors import Forbidden, InvalidInput
from geo.incidents.calendar import load_calendar
from geo.incidents.flow import NOT_A_CASE, OPEN
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
METRICS_ZH = {
    "reports": "上报数", "repeat_reports": "重复上报数", "cases": "案件数", "due": "应结案数",
    "closed": "结案数", "closed_on_time": "按期结案数", "closing_rate": "结案率",
    "on_time_rate": "按期结案率", "avg_handling_h": "平均处置时长(工作小时)",
    "rework_rate": "返工率", "repeat_rate": "重复上报率", "open": "在办数",
    "open_overdue": "超期在办数",
}


def kpi(
    conn: Connection, principal: Principal, region_code: str, date_from: dt.date,
    date_to: dt.date, group_by: str = "township", as_of: dt.datetime | None = None,
) -> dict[str, Any]:
    """KPIs of reports made in [date_from, date_to), grouped by ``group_by``."""
    if group_by not in GROUPS:
        raise InvalidInput(f"未知分组 {group_by!r} / unknown group_by {group_by!r}; valid: "
                           f"{sorted(GROUPS)}", field="group_by", valid=sorted(GROUPS))
    if date_to <= date_from:
        raise InvalidInput(f"结束日期须晚于开始日期 / to ({date_to}) must be after from "
                           f"({date_from})", field="to")
    if not principal.in_region(region_code):
        raise Forbidden(f"无权访问区域 {region_code} / region {region_code} is outside your scope")
    as_of = as_of or localtime.now()
    # Aggregates carry no personal field: planners and viewers see the whole region;
    # workers and departments their own scope.
    cond, params = ("TRUE", {}) if principal.role in ("planner", "viewer") else \
        incident_scope_sql(principal, "i")
    key, name = GROUPS[group_by]
    t0 = dt.datetime.combine(date_from, dt.time(), CST)
    t1 = dt.datetime.combine(date_to, dt.time(), CST)
    rows = conn.execute(text(f"""
        SELECT {key} AS key, {name} AS name, i.status, i.reported_at, i.closed_at,
               i.due_at, i.final_due_at, i.paused_at, i.rework_count, i.handled_at
        FROM incident i
        WHERE i.region_code = :r AND i.reported_at >= :t0 AND i.reported_at < :t1 AND {cond}
    """), {**params, "r": region_code, "t0": t0, "t1": t1}).mappings().all()
    cal = load_calendar(conn, region_code)
    groups: dict[Any, dict[str, Any]] = {}
    total = _empty("TOTAL", "合计 / total")
    for r in rows:
        g = groups.get(r["key"])
        if g is None:
            label = r["name"]
            if group_by == "worker" and label is not None:
                label = f"{as_seen(principal, 'workers', 'name', label[0])} ({label[1]})"
            g = groups[r["key"]] = _empty(r["key"], label)
        for acc in (g, total):
            _count(acc, r, as_of, cal)
    out = sorted(groups.values(), key=lambda g: (g["key"] is None, str(g["key"])))
    for g in [*out, total]:
        _finish(g)
    return {
        "region_code": region_code, "from": date_from.isoformat(), "to": date_to.isoformat(),
        "as_of": as_of.isoformat(), "group_by": group_by, "groups": out, "total": total,
        "metrics_zh": METRICS_ZH, "definitions": (__doc__ or "").split("Definitions")[1].strip(),
        "warnings": cal.take_warnings(),
    }


def _empty(key: Any, name: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "reports": 0, "repeat_reports": 0, "cases": 0,
            "due": 0, "closed": 0, "closed_on_time": 0, "open": 0, "open_overdue": 0,
            "handled_once": 0, "reworked": 0, "_handling_min": 0.0}


def _count(acc: dict[str, Any], r: Any, as_of: dt.datetime, cal: Any) -> None:
    acc["reports"] += 1
    status = r["status"]
    if status == "merged":
        acc["repeat_reports"] += 1
        return
    if status in NOT_A_CASE:
        return
    acc["cases"] += 1
    if r["handled_at"] is not None or r["rework_count"] > 0:
        acc["handled_once"] += 1
    if r["rework_count"] > 0:
        acc["reworked"] += 1
    if status == "closed":
        acc["closed"] += 1
        acc["due"] += 1
        if r["final_due_at"] is None or r["closed_at"] <= r["final_due_at"]:
            acc["closed_on_time"] += 1
        acc["_handling_min"] += cal.working_minutes_between(r["reported_at"], r["closed_at"])
    elif status in OPEN:
        acc["open"] += 1
        late = r["paused_at"] is None and (
            (r["due_at"] is not None and r["due_at"] < as_of)
            or (r["final_due_at"] is not None and r["final_due_at"] < as_of))
        if late:
            acc["open_overdue"] += 1
            acc["due"] += 1


def _rate(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _finish(acc: dict[str, Any]) -> None:
    acc["closing_rate"] = _rate(acc["closed"], acc["due"])
    acc["on_time_rate"] = _rate(acc["closed_on_time"], acc["due"])
    acc["avg_handling_h"] = (round(acc["_handling_min"] / 60 / acc["closed"], 2)
                             if acc["closed"] else None)
    acc["rework_rate"] = _rate(acc["reworked"], acc["handled_once"])
    acc["repeat_rate"] = _rate(acc["repeat_reports"], acc["reports"])
    del acc["_handling_min"]


def kpi_xlsx(result: dict[str, Any]) -> bytes:
    """The KPI table as an XLSX workbook (Chinese headers with English in brackets)."""
    import openpyxl
    from openpyxl.styles import Font

    cols = ["key", "name", "reports", "cases", "due", "closed", "closed_on_time",
            "closing_rate", "on_time_rate", "avg_handling_h", "rework_rate", "repeat_reports",
            "repeat_rate", "open", "open_overdue"]
    zh = {"key": "编码", "name": "名称", **METRICS_ZH}
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "KPI"
    ws.append([f"事件考核指标 KPI  {result['from']} ~ {result['to']} (按 {result['group_by']}, "
               f"截至 {result['as_of']})"])
    ws.append([f"{zh[c]} ({c})" for c in cols])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    from geo.io.export import as_spreadsheet_text

    for g in [*result["groups"], result["total"]]:
        ws.append([as_spreadsheet_text(g.get(c)) for c in cols])
    for row in ws.iter_rows(min_row=3):
        for cell, c in zip(row, cols, strict=False):
            if c.endswith("_rate") and cell.value is not None:
                cell.number_format = "0.0%"
    ws2 = wb.create_sheet("定义 Definitions")
    for line in result["definitions"].splitlines():
        ws2.append([line])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
