"""Patrol figures per cell, worker and ISO week, and cells not patrolled (aggregates only).

Definitions (the one place):

- a patrol belongs to the ISO week (Monday-Sunday, CST) of its start;
- **km in a cell** = the patrol's ``length_m`` times the share of its line's geodesic length
  inside the cell (basic cells of the active boundary set); **time in a cell** likewise from
  ``duration_s``;
- **coverage** = the area of the cell within :data:`COVER_M` (50 m) of the worker's tracks of
  that week, over the cell's area; computed in the region's Gauss-Kruger zone (metres);
- **key points**: ``key_points_due`` = sum of ``due_per_week`` of the cell's active key points;
  ``key_point_checkins`` = check-ins of the worker in the cell that week, at most
  ``due_per_week`` per key point; ``key_points_visited`` = distinct key points checked in;
- **not patrolled**: basic cells whose last patrol track (any worker) ends more than
  ``idle_days`` days before the end of the period, or that were never patrolled.

No raw track or position leaves this module; grid workers' names are shown as the workers'
field policy lets the caller read them (planners: masked).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.analysis.common import region_metric_srid
from geo.auth.fields import as_seen
from geo.auth.principal import Principal
from geo.boundaries.sets import active_set_id
from geo.patrols.access import check_aggregates, worker_scope_sql

COVER_M = 50.0
_WEEK = "(date_trunc('week', {t} AT TIME ZONE 'Asia/Shanghai'))::date"


def patrol_analysis(
    conn: Connection, principal: Principal, region_code: str, date_from: dt.date,
    date_to: dt.date, idle_days: int = 7, own_worker_id: int | None = None,
) -> dict[str, Any]:
    """Rows per (ISO week, cell, worker) of patrols started in [date_from, date_to] (CST)."""
    check_aggregates(principal, region_code)
    set_id = active_set_id(conn, region_code)
    srid = region_metric_srid(conn, region_code)
    t0 = localtime.day_start(date_from)
    t1 = localtime.day_start(date_to + dt.timedelta(days=1))
    cond, params = worker_scope_sql(principal, own_worker_id, "p")
    kcond, kparams = worker_scope_sql(principal, own_worker_id, "ci")
    params.update(kparams)
    params.update({"r": region_code, "set": set_id if set_id is not None else -1, "t0": t0,
                   "t1": t1, "srid": srid, "cover": COVER_M})
    rows = conn.execute(text(f"""
        WITH cells AS (
            SELECT code, name, geom FROM grid_cell
            WHERE boundary_set_id = :set AND kind = 'basic'),
        p AS (
            SELECT p.id, p.worker_id, p.track, p.length_m, p.duration_s,
                   ST_Length(p.track::geography) AS line_m, {_WEEK.format(t="p.started_at")} AS week
            FROM patrol p
            WHERE p.region_code = :r AND p.started_at >= :t0 AND p.started_at < :t1
              AND p.track IS NOT NULL AND {cond}),
        pc AS (
            SELECT p.week, p.worker_id, c.code, p.track,
                   CASE WHEN p.line_m > 0 THEN LEAST(1.0,
                        ST_Length(ST_Intersection(p.track, c.geom)::geography) / p.line_m)
                        ELSE 0 END AS share, p.length_m, p.duration_s
            FROM p JOIN cells c ON ST_Intersects(p.track, c.geom)),
        agg AS (
            SELECT pc.week, pc.worker_id, pc.code, count(*) AS patrols,
                   sum(pc.length_m * pc.share) AS length_m,
                   sum(pc.duration_s * pc.share) AS duration_s,
                   ST_Buffer(ST_Collect(ST_Transform(pc.track, :srid)), :cover) AS near
            FROM pc GROUP BY pc.week, pc.worker_id, pc.code),
        ci AS (
            SELECT {_WEEK.format(t="ci.at")} AS week, ci.worker_id, k.cell_code AS code,
                   k.id AS kp, least(count(*), max(k.due_per_week)) AS n
            FROM patrol_checkin ci JOIN key_point k ON k.id = ci.key_point_id
            WHERE ci.region_code = :r AND ci.at >= :t0 AND ci.at < :t1 AND {kcond}
            GROUP BY 1, 2, 3, 4),
        cis AS (
            SELECT week, worker_id, code, sum(n) AS checkins, count(*) AS visited
            FROM ci GROUP BY 1, 2, 3),
        keys AS (
            SELECT region_code, cell_code AS code, sum(due_per_week) AS due
            FROM key_point WHERE region_code = :r AND active GROUP BY 1, 2),
        rowset AS (
            SELECT week, worker_id, code FROM agg
            UNION SELECT week, worker_id, code FROM cis WHERE code IS NOT NULL)
        SELECT rs.week, rs.worker_id, w.code AS worker_code, w.name AS worker_name,
               rs.code AS cell_code, c.name AS cell_name,
               COALESCE(a.patrols, 0) AS patrols, COALESCE(a.length_m, 0) AS length_m,
               COALESCE(a.duration_s, 0) AS duration_s,
               CASE WHEN a.near IS NULL OR c.geom IS NULL THEN 0 ELSE
                   ST_Area(ST_Intersection(ST_Transform(c.geom, :srid), a.near))
                   / NULLIF(ST_Area(ST_Transform(c.geom, :srid)), 0) END AS covered_share,
               COALESCE(k.due, 0) AS key_points_due, COALESCE(s.checkins, 0) AS checkins,
               COALESCE(s.visited, 0) AS visited
        FROM rowset rs
        JOIN grid_worker w ON w.id = rs.worker_id
        LEFT JOIN cells c ON c.code = rs.code
        LEFT JOIN agg a ON a.week = rs.week AND a.worker_id = rs.worker_id AND a.code = rs.code
        LEFT JOIN cis s ON s.week = rs.week AND s.worker_id = rs.worker_id AND s.code = rs.code
        LEFT JOIN keys k ON k.code = rs.code
        ORDER BY rs.week, rs.code, w.code
    """), params).mappings().all()
    items = [{
        "week": _week_label(r["week"]), "week_from": r["week"].isoformat(),
        "cell_code": r["cell_code"], "cell_name": r["cell_name"],
        "worker_code": r["worker_code"],
        "worker_name": as_seen(principal, "workers", "name", r["worker_name"]),
        "patrols": int(r["patrols"]), "length_km": round(float(r["length_m"]) / 1000, 3),
        "duration_h": round(float(r["duration_s"]) / 3600, 3),
        "covered_share": round(float(r["covered_share"] or 0), 4),
        "key_points_due": int(r["key_points_due"]), "key_point_checkins": int(r["checkins"]),
        "key_points_visited": int(r["visited"]),
    } for r in rows]
    idle = not_patrolled(conn, principal, region_code, set_id, date_to, idle_days)
    return {
        "region_code": region_code, "from": date_from.isoformat(), "to": date_to.isoformat(),
        "boundary_set_id": set_id, "cover_m": COVER_M, "idle_days": idle_days,
        "count": len(items), "items": items, "cells_not_patrolled": idle,
        "summary": {
            "length_km": round(sum(i["length_km"] for i in items), 3),
            "duration_h": round(sum(i["duration_h"] for i in items), 3),
            "cells_patrolled": len({i["cell_code"] for i in items if i["patrols"]}),
            "cells_not_patrolled": len(idle),
        },
        "definitions_zh": DEFINITIONS_ZH, "labels_zh": LABELS_ZH,
    }


def not_patrolled(conn: Connection, principal: Principal, region_code: str, set_id: int | None,
                  date_to: dt.date, idle_days: int) -> list[dict[str, Any]]:
    """Basic cells with no patrol track in the ``idle_days`` days up to the end of ``date_to``
    (a worker: only her own cells)."""
    end = localtime.day_start(date_to + dt.timedelta(days=1))
    cells = sorted(principal.cell_codes) if principal.role == "worker" else None
    rows = conn.execute(text("""
        SELECT c.code, c.name, last.t AS last_patrol
        FROM grid_cell c
        LEFT JOIN LATERAL (
            SELECT max(COALESCE(p.ended_at, p.started_at)) AS t FROM patrol p
            WHERE p.region_code = :r AND p.started_at < :end AND p.track && c.geom
              AND ST_Intersects(p.track, c.geom)) last ON TRUE
        WHERE c.boundary_set_id = :set AND c.kind = 'basic'
          AND (CAST(:cells AS text[]) IS NULL OR c.code = ANY(CAST(:cells AS text[])))
          AND (last.t IS NULL OR last.t < :since)
        ORDER BY last.t NULLS FIRST, c.code
    """), {"r": region_code, "set": set_id if set_id is not None else -1, "end": end,
           "since": end - dt.timedelta(days=idle_days), "cells": cells}).mappings().all()
    return [{"cell_code": r["code"], "cell_name": r["name"],
             "last_patrol_at": (r["last_patrol"].astimezone(localtime.CST).isoformat()
                                if r["last_patrol"] else None),
             "days_since": ((end - r["last_patrol"]).days if r["last_patrol"] else None)}
            for r in rows]


def worker_totals(conn: Connection, region_code: str, date_from: dt.date,
                  date_to_exclusive: dt.date) -> dict[str, dict[str, Any]]:
    """Per grid worker id (as text, the KPI's key): patrol km, hours, check-ins and key
    points due (per week, in the worker's cells now, times the weeks of the range) for patrols
    and check-ins in [date_from, date_to_exclusive) (CST). Aggregates only."""
    t0, t1 = localtime.day_start(date_from), localtime.day_start(date_to_exclusive)
    weeks = max(1, round((date_to_exclusive - date_from).days / 7))
    out: dict[str, dict[str, Any]] = {}
    for wid, km, h, n in conn.execute(text("""
        SELECT worker_id, sum(length_m) / 1000, sum(duration_s) / 3600, count(*)
        FROM patrol WHERE region_code = :r AND started_at >= :t0 AND started_at < :t1
        GROUP BY worker_id"""), {"r": region_code, "t0": t0, "t1": t1}):
        out[str(wid)] = {"patrol_km": round(float(km), 2), "patrol_hours": round(float(h), 2),
                         "patrols": int(n)}
    for wid, n in conn.execute(text("""
        SELECT worker_id, count(*) FROM patrol_checkin
        WHERE region_code = :r AND at >= :t0 AND at < :t1 GROUP BY worker_id"""),
            {"r": region_code, "t0": t0, "t1": t1}):
        out.setdefault(str(wid), {})["checkins"] = int(n)
    for wid, due in conn.execute(text("""
        SELECT a.worker_id, sum(k.due_per_week) FROM worker_assignment a
        JOIN key_point k ON k.region_code = a.region_code AND k.cell_code = a.cell_code
        WHERE a.region_code = :r AND k.active AND a.valid_from < :d1
          AND (a.valid_to IS NULL OR a.valid_to > :d0)
        GROUP BY a.worker_id"""), {"r": region_code, "d0": date_from,
                                   "d1": date_to_exclusive}):
        out.setdefault(str(wid), {})["key_points_due"] = int(due) * weeks
    for v in out.values():
        for key in PATROL_KPI_COLUMNS:
            v.setdefault(key, 0)
    return out


def _week_label(week: dt.date) -> str:
    year, number, _ = week.isocalendar()
    return f"{year:04d}-W{number:02d}"


#: Columns a worker's KPI row gains (geo.incidents.kpi) and their labels.
PATROL_KPI_COLUMNS = ("patrol_km", "patrol_hours", "patrols", "checkins", "key_points_due")
LABELS_ZH = {
    "week": "周 (ISO)", "cell_code": "网格编码", "cell_name": "网格", "worker_code": "网格员编码",
    "worker_name": "网格员", "patrols": "巡查次数", "length_km": "巡查里程(公里)",
    "duration_h": "巡查时长(小时)", "covered_share": "50米范围覆盖网格面积比例",
    "key_points_due": "关键点位应签到次数", "key_point_checkins": "关键点位有效签到次数",
    "key_points_visited": "签到过的关键点位数", "patrol_km": "巡查里程(公里)",
    "patrol_hours": "巡查时长(小时)", "checkins": "签到次数",
}
DEFINITIONS_ZH = (
    "巡查统计口径: 巡查按开始时间计入 ISO 周 (周一至周日, 北京时间); "
    "网格内里程 = 巡查里程 × 轨迹在网格内的长度比例, 时长同理; "
    "计入里程和时长的只有未被标记的轨迹点 (速度超过150公里/小时或跳点超过5公里的点保留但不计), "
    "两点间隔超过5分钟视为暂停, 不计里程和时长; "
    "覆盖比例 = 网格内距该网格员当周轨迹50米以内的面积 / 网格面积; "
    "关键点位应签到次数 = 网格内关键点位每周应签到次数之和, "
    "有效签到每个点位每周最多计应签到次数; "
    "未巡查网格: 统计截止前 N 天内没有任何巡查轨迹经过的基础网格。"
)
