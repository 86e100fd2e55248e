"""The one router of incidents: point -> cell, worker on duty, community, township, department.

- :func:`route_point`: one incident on intake (cell, worker, community, township, cameras that
  see the point and duplicate candidates; each decision with its reason);
- :func:`route_incidents`: every unrouted incident of a region at once, set-based (boundary
  activation, the demo);
- :class:`Router`: rows not yet written, in process (history imports route each chunk
  before COPY, so every row is written once, already routed; issue 20).

All use the boundary set valid on the incident's report date (China Standard Time), the
covering basic cell with the lowest code, and the worker on duty on that date (the latest
assignment in force). Everything runs
on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Connection, text

from geo.boundaries.sets import valid_at_sql, valid_on
from geo.crs.metres import metres_to_degrees
from geo.errors import InvalidInput, NotFound
from geo.incidents.flow import VOID, status_in_sql
from geo.localtime import local_date, local_date_sql
from geo.lookup.batch import answer_many
from geo.lookup.index import CellIndex, set_index
from geo.lookup.postgis import cell_at
from geo.workers import on_duty_sql, worker_on_duty


def categories(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every incident category by code (name, department, group, duplicate window, limits)."""
    rows = conn.execute(text(
        'SELECT code, name, name_en, department_code, "group", dup_radius_m, dup_window_h, '
        "limits FROM incident_category ORDER BY code")).mappings().all()
    return {r["code"]: dict(r) for r in rows}


def resolve_category(conn: Connection, value: str | None) -> dict[str, Any]:
    """A category by code or Chinese/English name; 422 listing the valid ones otherwise."""
    cats = categories(conn)
    key = (value or "").strip()
    if key in cats:
        return cats[key]
    for c in cats.values():
        if key and key in (c["name"], c["name_en"]):
            return c
    valid = [f"{c['code']} ({c['name']})" for c in cats.values()]
    raise InvalidInput(
        f"未知事件类别 {key!r} / unknown incident category {key!r}; valid categories: "
        + ", ".join(valid),
        field="category", valid=sorted(cats),
    )


def resolve_department(conn: Connection, value: str) -> dict[str, Any]:
    """A department by code or name; 422 listing the valid ones otherwise."""
    rows = conn.execute(text(
        "SELECT code, name, name_en FROM department ORDER BY code")).mappings().all()
    for r in rows:
        if value in (r["code"], r["name"], r["name_en"]):
            return dict(r)
    raise InvalidInput(
        f"未知部门 {value!r} / unknown department {value!r}; valid departments: "
        + ", ".join(f"{r['code']} ({r['name']})" for r in rows),
        field="department", valid=[r["code"] for r in rows],
    )


def resolve_place(conn: Connection, region_code: str, place: str) -> dict[str, Any] | None:
    """Free address text -> a point, by the offline address matcher (:mod:`geo.addresses`).

    Returns None when the text is empty. Otherwise a dict with ``source`` (the level matched:
    room, building, compound, road, village, township or none), ``match`` (the matcher's
    answer: level, confidence, matched register text, reason), ``reason`` and, when the match
    is good enough to place the case (:data:`geo.addresses.match.REVIEW`), ``lon``/``lat``
    (and ``compound_id``/``compound_code`` at compound level or finer). A weaker match keeps
    no point: the case waits as ``needs_location`` on the command centre's review list, with
    the matcher's suggestion beside it.
    """
    from geo.addresses.match import REVIEW, match_address

    place = place.strip()
    if not place:
        return None
    m = match_address(conn, region_code, place)
    out: dict[str, Any] = {"source": m.level, "match": m.as_dict(), "reason": m.reason}
    if m.placed:
        out.update(lon=m.lon, lat=m.lat)
        if m.compound_id is not None:
            out.update(compound_id=m.compound_id, compound_code=m.compound_code)
    elif m.level != "none":
        out["review"] = True
        out["reason"] = (f"{m.reason}; 置信度 {m.confidence:.2f} 低于 {REVIEW}, 待指挥中心核实位置 "
                         f"/ confidence {m.confidence:.2f} below {REVIEW}: the command centre "
                         "confirms the place")
    return out


def route_point(
    conn: Connection,
    region_code: str,
    lon: float,
    lat: float,
    reported_at: dt.datetime,
    category: dict[str, Any],
    exclude_id: int | None = None,
) -> dict[str, Any]:
    """Cell, worker, community, township, cameras and duplicates of a CGCS2000 point.

    Raises
    ------
    NotFound
        When no cell of the boundary set valid at ``reported_at`` covers the point.
    """
    day = local_date(reported_at)
    hit = cell_at(conn, lon, lat, region_code, at=day, with_geometry=False)
    worker = worker_on_duty(conn, region_code, hit.code, day)
    routing: dict[str, Any] = {
        "cell": {
            "code": hit.code, "name": hit.name, "boundary_set_id": hit.boundary_set_id,
            "near_boundary": hit.near_boundary, "distance_to_edge_m": hit.distance_to_edge_m,
            "candidates": hit.candidates,
            "reason": f"{day} 有效的边界集「{hit.boundary_set_name}」中覆盖该点的基础网格 "
                      f"(共边时取编码最小者) / basic cell covering the point in the boundary "
                      f"set valid on {day} (lowest code on a shared edge)",
        },
        "community": {**(hit.parent or {}), "reason": "网格所属村/社区 / the cell's parent"},
        "township": {**(hit.township or {}), "reason": "网格所属乡镇 / the cell's township"},
        "worker": (
            {"id": worker["id"], "code": worker["code"], "name": worker["name"],
             "reason": f"{day} 在岗的网格员 (自 {worker['valid_from']}) / worker on duty "
                       f"on {day} (since {worker['valid_from']})"}
            if worker else
            {"id": None, "reason": f"{day} 该网格无在岗网格员, 由指挥中心指派 / no worker on "
                                   f"duty in this cell on {day}: the command centre assigns"}
        ),
        "dedicated": hit.dedicated,
    }
    routing["cameras"] = cameras_seeing(conn, region_code, lon, lat)
    routing["cameras_reason"] = (
        "在线摄像头中视场扇区覆盖该点者, 由近及远 / online cameras whose field-of-view sector "
        "covers the point, nearest first"
    )
    routing["duplicates"] = duplicate_candidates(
        conn, region_code, lon, lat, reported_at, category, exclude_id)
    routing["duplicates_reason"] = (
        f"同类组「{category['group']}」, {category['dup_radius_m']:g} 米内, 前后 "
        f"{category['dup_window_h']:g} 小时内的未合并事件 / same category group "
        f"{category['group']!r} within {category['dup_radius_m']:g} m and "
        f"{category['dup_window_h']:g} h"
    )
    routing["_ids"] = {
        "boundary_set_id": hit.boundary_set_id, "cell_code": hit.code,
        "community_code": (hit.parent or {}).get("code"),
        "township_code": (hit.township or {}).get("code"),
        "worker_id": worker["id"] if worker else None,
    }
    return routing


# A reported point farther than this from its county is not a place in the county at all
# (axes swapped, a wrong CRS, a phone's (0, 0)): refused, nothing stored. Nearer, outside every
# cell (a gap in the grid, a GPS error, a case just over the county line) it is kept as
# ``needs_location`` for the command centre.
NEAR_REGION_M = 5000.0

_REGION_DISTANCE = text("""
    SELECT ST_Distance(ST_Union(geom)::geography,
                       ST_SetSRID(ST_MakePoint(:lon, :lat), 4490)::geography)
    FROM admin_unit WHERE region_code = :r AND level = 'county'
""")


def far_from_region(conn: Connection, region_code: str, lon: float, lat: float) -> str | None:
    """Why a CGCS2000 point is no place of ``region_code`` (outside China, or more than
    :data:`NEAR_REGION_M` from the county's boundary), or None. A region without a county
    boundary is judged by the China rectangle only."""
    from geo.crs.china import out_of_china

    where = f"({lon:.6f}, {lat:.6f})"
    fix = ("请检查经纬度是否写反、坐标系 (crs) 是否正确 / check that lon and lat are not swapped "
           "and that crs is the system the coordinates are in")
    if bool(out_of_china(lon, lat)):
        return f"点 {where} 不在中国境内; {fix} (the point {where} is outside China)"
    metres = conn.execute(_REGION_DISTANCE, {"lon": lon, "lat": lat, "r": region_code}).scalar()
    if metres is not None and metres > NEAR_REGION_M:
        km = metres / 1000
        return (f"点 {where} 距 {region_code} 县界 {km:.1f} 公里, 不是本县的地点; {fix} (the "
                f"point {where} is {km:.1f} km outside county {region_code}; a point within "
                f"{NEAR_REGION_M / 1000:g} km is kept for the command centre to locate)")
    return None


def cameras_seeing(
    conn: Connection, region_code: str, lon: float, lat: float, limit: int = 10
) -> list[dict[str, Any]]:
    """Online cameras whose sector covers the point, nearest first."""
    rows = conn.execute(text("""
        WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4490) AS g)
        SELECT c.id, c.gb_id, c.name, c.bearing_deg,
               round(ST_Distance(c.geom::geography, p.g::geography)::numeric, 1) AS distance_m
        FROM camera c, p
        WHERE c.region_code = :r AND c.status = 'online' AND c.sector && p.g
          AND ST_Covers(c.sector, p.g)
        ORDER BY ST_Distance(c.geom::geography, p.g::geography), c.gb_id
        LIMIT :n
    """), {"lon": lon, "lat": lat, "r": region_code, "n": limit}).mappings().all()
    return [{**dict(r), "distance_m": float(r["distance_m"])} for r in rows]


def duplicate_candidates(
    conn: Connection,
    region_code: str,
    lon: float,
    lat: float,
    reported_at: dt.datetime,
    category: dict[str, Any],
    exclude_id: int | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Reports of the same category group near in place and time (not merged/rejected)."""
    rows = conn.execute(text(f"""
        WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4490) AS g)
        SELECT i.id, i.code, i.category_code, i.channel, i.status, i.reported_at,
               i.cell_code, i.department_code,
               round(ST_Distance(i.geom::geography, p.g::geography)::numeric, 1) AS distance_m
        FROM incident i JOIN incident_category c ON c.code = i.category_code, p
        WHERE i.region_code = :r AND c."group" IS NOT DISTINCT FROM :grp
          AND i.id IS DISTINCT FROM :ex
          AND NOT {status_in_sql('i.status', VOID)}
          AND i.reported_at BETWEEN :t - make_interval(secs => :win * 3600)
                                AND :t + make_interval(secs => :win * 3600)
          AND i.geom && ST_Expand(p.g, :deg)
          AND ST_DWithin(i.geom::geography, p.g::geography, :rad)
        ORDER BY ST_Distance(i.geom::geography, p.g::geography), i.reported_at
        LIMIT :n
    """), {"lon": lon, "lat": lat, "r": region_code, "grp": category["group"],
           "ex": exclude_id, "t": reported_at, "win": float(category["dup_window_h"]),
           "rad": float(category["dup_radius_m"]),
           "deg": metres_to_degrees(float(category["dup_radius_m"]), lat), "n": limit},
    ).mappings().all()
    out = []
    for r in rows:
        hours = (r["reported_at"] - reported_at).total_seconds() / 3600
        out.append({"id": r["id"], "code": r["code"], "category": r["category_code"],
                    "channel": r["channel"], "status": r["status"],
                    "cell_code": r["cell_code"], "department_code": r["department_code"],
                    "distance_m": float(r["distance_m"]), "hours_apart": round(hours, 2)})
    return out


def link_back(conn: Connection, new: dict[str, Any], duplicates: list[dict[str, Any]]) -> None:
    """Duplicates both ways: each earlier case a new report was flagged against lists the new
    report in its ``routing.duplicates`` too (the hotline case an officer is working on shows
    the grid worker's report of the same thing). Not a change of the earlier case's content:
    its version stays, so nobody's open form goes stale."""
    for d in duplicates:
        entry = {"id": new["id"], "code": new["code"], "category": new["category_code"],
                 "channel": new["channel"], "status": new["status"],
                 "cell_code": new["cell_code"], "department_code": new["department_code"],
                 "distance_m": d["distance_m"], "hours_apart": -d["hours_apart"],
                 "later_report": True}
        conn.execute(text(
            "UPDATE incident SET routing = jsonb_set(coalesce(routing, '{}'::jsonb), "
            "'{duplicates}', coalesce(routing->'duplicates', '[]'::jsonb) || "
            "jsonb_build_array(CAST(:e AS jsonb))) WHERE id = :i"),
            {"i": d["id"], "e": json.dumps(entry)})


def not_in_region_reason(exc: NotFound) -> str:
    """The reason recorded when a point lies in no cell."""
    return exc.message


# The report date of incident i in China Standard Time.
_REPORT_DAY = local_date_sql("i.reported_at")

# Cells: joined cell by cell, so each polygon is prepared once for all its points.
_ROUTE_CELLS = text(f"""
UPDATE incident SET boundary_set_id = s.sid, cell_code = s.code,
       community_code = s.parent_code, township_code = s.township_code
FROM (
    SELECT DISTINCT ON (i.id) i.id, g.boundary_set_id AS sid, g.code, g.parent_code,
           g.township_code
    FROM boundary_set b
    JOIN grid_cell g ON g.boundary_set_id = b.id AND g.kind = 'basic'
    JOIN incident i ON i.region_code = b.region_code AND i.cell_code IS NULL
     AND i.geom IS NOT NULL AND ST_Covers(g.geom, i.geom)
     AND {valid_at_sql("b", _REPORT_DAY)}
    WHERE b.region_code = :r
    ORDER BY i.id, g.code
) s
WHERE incident.id = s.id
""")

_ROUTE_WORKERS = text(f"""
UPDATE incident i SET worker_id = a.worker_id
FROM worker_assignment a
WHERE i.region_code = :r AND i.worker_id IS NULL AND a.region_code = i.region_code
  AND a.cell_code = i.cell_code AND {on_duty_sql("a", _REPORT_DAY)}
""")

_ROUTE_DEPARTMENTS = text("""
UPDATE incident i SET department_code = c.department_code
FROM incident_category c
WHERE i.region_code = :r AND i.department_code IS NULL AND c.code = i.category_code
""")


def route_incidents(conn: Connection, region_code: str) -> None:
    """Set cell, community, township, worker on duty and department of unrouted incidents.

    Uses the boundary set valid on each incident's report date and the worker assignment valid
    then; set-based (one statement per step). Incidents already routed keep their answers
    (clear ``cell_code``/``worker_id``/``department_code`` first to route them again).

    Parameters
    ----------
    conn
        Open connection (the caller's transaction).
    region_code
        The county whose incidents are routed.
    """
    conn.execute(_ROUTE_CELLS, {"r": region_code})
    conn.execute(_ROUTE_WORKERS, {"r": region_code})
    conn.execute(_ROUTE_DEPARTMENTS, {"r": region_code})


@dataclass
class RoutedRows:
    """Per row, what :func:`route_incidents` would set (None: not routed)."""

    boundary_set_id: npt.NDArray[np.object_]
    cell_code: npt.NDArray[np.object_]
    community_code: npt.NDArray[np.object_]
    township_code: npt.NDArray[np.object_]
    worker_id: npt.NDArray[np.object_]


_SETS = text("SELECT id, valid_from, valid_to, is_active FROM boundary_set "
             "WHERE region_code = :r AND (valid_to IS NULL OR valid_to > valid_from)")
_ASSIGNMENTS = text("SELECT cell_code, worker_id, valid_from, valid_to FROM worker_assignment "
                    "WHERE region_code = :r")


@dataclass
class Router:
    """Routes rows in process: the answers of :func:`route_incidents` before anything is written.

    Loaded once (:meth:`load`: the region's boundary sets and their cell indexes, the worker
    assignments), then :meth:`route` needs no database, so a history import routes each chunk
    while its COPY is open. The boundary set of a report day is
    :func:`geo.boundaries.sets.set_valid_at`'s choice (the active set first, then the latest
    ``valid_from``; the rule :func:`~geo.boundaries.sets.valid_on`); the cell is the batch
    lookup's covering cell with the lowest code (:func:`geo.lookup.batch.answer_many`,
    tolerance 0, the index "which cell" uses); the worker is the latest assignment on duty that
    day (:func:`geo.workers.on_duty_sql`'s rule).
    """

    sets: list[Any]
    indexes: dict[int, CellIndex]
    assignments: pd.DataFrame

    @classmethod
    def load(cls, conn: Connection, region_code: str) -> Router:
        """The router of ``region_code`` (every boundary set that can be valid on some day)."""
        sets = sorted(conn.execute(_SETS, {"r": region_code}).all(),
                      key=lambda s: (not s.is_active, -s.valid_from.toordinal()))
        indexes = {s.id: set_index(conn, region_code, s.id, 0.0) for s in sets}
        assignments = pd.DataFrame(conn.execute(_ASSIGNMENTS, {"r": region_code}).all(),
                                   columns=["cell_code", "worker_id", "valid_from", "valid_to"])
        return cls(sets, indexes, assignments)

    def route(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64],
              days: list[dt.date | None]) -> RoutedRows:
        """Route rows: ``lon``/``lat`` CGCS2000 degrees (NaN: no point), ``days`` each row's
        report date in China Standard Time (None: not routed)."""
        n = len(lon)
        out = RoutedRows(*(np.full(n, None, dtype=object) for _ in range(5)))
        if not self.sets or n == 0:
            return out
        set_of_day: dict[dt.date, int] = {}
        for d in set(days):
            if d is not None:
                sid = next((s.id for s in self.sets if valid_on(s.valid_from, s.valid_to, d)),
                           None)
                if sid is not None:
                    set_of_day[d] = sid
        set_of_row = np.array([set_of_day.get(d, -1) if d is not None else -1 for d in days],
                              dtype=np.int64)
        usable = np.isfinite(lon) & np.isfinite(lat) & (set_of_row >= 0)
        for sid in np.unique(set_of_row[usable]).tolist():
            rows = np.flatnonzero(usable & (set_of_row == sid))
            index = self.indexes[sid]
            hit = answer_many(index, lon[rows], lat[rows], 0.0).hit
            found = hit >= 0
            rows, hit = rows[found], hit[found]
            out.boundary_set_id[rows] = sid
            out.cell_code[rows] = np.asarray(index.codes, dtype=object)[hit]
            out.community_code[rows] = np.asarray(index.parents, dtype=object)[hit]
            out.township_code[rows] = np.asarray(index.townships, dtype=object)[hit]
        self._route_workers(out, days)
        return out

    def _route_workers(self, out: RoutedRows, days: list[dt.date | None]) -> None:
        routed = np.flatnonzero(out.cell_code != None)  # noqa: E711 - element-wise
        if self.assignments.empty or not len(routed):
            return
        rows = pd.DataFrame({"row": routed, "cell_code": out.cell_code[routed],
                             "day": [days[i] for i in routed.tolist()]})
        m = rows.merge(self.assignments, on="cell_code")
        if m.empty:
            return
        on_duty = [valid_on(f, t, d) for f, t, d in
                   zip(m["valid_from"].tolist(), m["valid_to"].tolist(), m["day"].tolist(),
                       strict=True)]
        m = m[on_duty].sort_values(["row", "valid_from"], ascending=[True, False])
        m = m.drop_duplicates("row")
        out.worker_id[m["row"].to_numpy()] = np.asarray(
            [int(w) for w in m["worker_id"].tolist()], dtype=object)
