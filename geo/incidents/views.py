"""Read-side views of cases: scoped lists, a worker's cells, the command-centre board."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime, periods
from geo.auth.principal import Principal, incident_scope_sql
from geo.crs.names import normalize_crs
from geo.crs.transforms import geojson_from_cgcs2000, offset_grid
from geo.db.tables.vocab import INCIDENT_STATUS
from geo.errors import InvalidInput
from geo.incidents import rollup
from geo.incidents.cases import CASE_COLUMNS, OPEN_SQL, incident_json
from geo.incidents.flow import (
    CLOSED_STATUSES,
    OPEN,
    OPEN_STATUSES,
)
from geo.incidents.requests import pending_by_case


def status_filter(given: list[str]) -> list[str]:
    """The statuses a ``status`` parameter names: codes, ``open`` (every status not yet
    ended) or ``closed`` (ended); anything else is a 422 listing the valid values, never an
    empty list that reads as "nothing open"."""
    groups = {"open": list(OPEN_STATUSES), "closed": list(CLOSED_STATUSES)}
    out: list[str] = []
    for value in given:
        code = value.strip()
        if code in groups:
            out.extend(groups[code])
        elif code in INCIDENT_STATUS.codes:
            out.append(code)
        else:
            valid = [*groups, *INCIDENT_STATUS.codes]
            raise InvalidInput(
                f"未知状态 {value!r}; 可用: open (未结), closed (已结), "
                + ", ".join(f"{c} ({INCIDENT_STATUS.label(c)})" for c in INCIDENT_STATUS.codes)
                + f" / unknown status {value!r}; valid: {valid} (overdue cases: "
                "GET /incidents/overdue)", field="status", valid=valid)
    return out


def list_incidents(
    conn: Connection, principal: Principal, region_code: str | None = None,
    status: list[str] | None = None, cell_codes: list[str] | None = None,
    overdue_only: bool = False, now: dt.datetime | None = None, limit: int = 200,
    offset: int = 0, near: tuple[float, float] | None = None, compact: bool = False,
    crs: str | None = None, newest: bool = False,
) -> list[dict[str, Any]]:
    """Incidents in the caller's scope, most urgent first (overdue, then by due time).

    ``newest``: the latest reports first instead (the wall screen's list).

    ``near`` (CGCS2000 lon, lat): nearest first instead, each with ``distance_m`` (geodesic).
    ``compact`` and ``crs``: as :func:`geo.incidents.cases.incident_json`.
    """
    now = now or localtime.now()
    cond, params = incident_scope_sql(principal, "i")
    where = [cond]
    if region_code:
        where.append("i.region_code = :region")
        params["region"] = region_code
    if status:
        where.append("i.status = ANY(:statuses)")
        params["statuses"] = status_filter(status)
    if cell_codes is not None:
        where.append("i.cell_code = ANY(:cells)")
        params["cells"] = list(cell_codes)
    if overdue_only:
        where.append(f"{OPEN_SQL} AND i.paused_at IS NULL AND i.due_at < :now")
    params.update(now=now, lim=limit, off=offset)
    dist, order = "NULL", "i.due_at NULLS LAST, i.id"
    if newest:
        order = "i.reported_at DESC, i.id DESC"
    if near is not None:
        params.update(near_x=near[0], near_y=near[1])
        dist = ("ST_Distance(i.geom::geography, "
                "ST_SetSRID(ST_MakePoint(:near_x, :near_y), 4490)::geography)")
        order = "distance_m NULLS LAST, i.id"
    rows = conn.execute(text(
        f"SELECT {CASE_COLUMNS}, {dist} AS distance_m FROM incident i WHERE {' AND '.join(where)} "
        f"ORDER BY {order} LIMIT :lim OFFSET :off"), params).mappings().all()
    pending = pending_by_case(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        row = dict(r)
        distance_m = row.pop("distance_m")
        item = incident_json(conn, row, principal, now, compact=compact, crs=crs,
                             pending=pending[row["id"]])
        if near is not None:
            item["distance_m"] = None if distance_m is None else round(float(distance_m), 1)
        out.append(item)
    return out


def my_cells(conn: Connection, principal: Principal, region_code: str,
             crs: str | None = None) -> dict[str, Any]:
    """The caller's cells (a grid worker's ``cell_codes``) with open and overdue counts; the
    geometry in ``crs`` (default CGCS2000). Asked in GCJ-02, ``offset`` is the offset from
    WGS84 to GCJ-02 on a grid around her cells
    (:func:`geo.crs.transforms.offset_grid`): the phone places its GPS position on such a map
    by interpolating it, offline, with no copy of the formula."""
    codes = sorted(principal.cell_codes)
    if not codes:
        return {"user": principal.user, "role": principal.role, "cells": [],
                "message": "您没有负责的网格 / you are responsible for no cell"}
    rows = conn.execute(text(f"""
        SELECT c.code, c.name, c.kind, c.parent_code, c.township_code, c.households,
               ST_AsGeoJSON(c.geom, 7)::json AS geometry,
               (SELECT count(*) FROM incident i WHERE i.region_code = c.region_code
                  AND i.cell_code = c.code AND {OPEN_SQL}) AS open_incidents,
               (SELECT count(*) FROM incident i WHERE i.region_code = c.region_code
                  AND i.cell_code = c.code AND {OPEN_SQL}
                  AND i.paused_at IS NULL AND i.due_at < now()) AS overdue_incidents
        FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active
        WHERE c.region_code = :r AND c.code = ANY(:codes) ORDER BY c.code
    """), {"r": region_code, "codes": codes}).mappings().all()
    cells = [{**dict(r), "geometry": geojson_from_cgcs2000(r["geometry"], crs)} for r in rows]
    out = {"user": principal.user, "role": principal.role,
           "worker_name": _own_worker_name(conn, principal),
           "crs": normalize_crs(crs or "EPSG:4490"), "cells": cells,
           **_around_cells(conn, principal, region_code, codes, crs)}
    if rows:
        from shapely.geometry import shape

        boxes = [shape(r["geometry"]).bounds for r in rows]
        offset = offset_grid((min(b[0] for b in boxes), min(b[1] for b in boxes),
                              max(b[2] for b in boxes), max(b[3] for b in boxes)), crs)
        if offset is not None:
            out["offset"] = offset
    return out


def _own_worker_name(conn: Connection, principal: Principal) -> str | None:
    """The caller's own name as a grid worker (her header on the phone), not her login."""
    if principal.user_id is None:
        return None
    name: str | None = conn.execute(text(
        "SELECT w.name FROM app_user u JOIN grid_worker w ON w.id = u.worker_id "
        "WHERE u.id = :u"), {"u": principal.user_id}).scalar()
    return name


def _around_cells(conn: Connection, principal: Principal, region_code: str,
                  codes: list[str], crs: str | None) -> dict[str, Any]:
    """What a worker's map of her cells shows around them: the neighbouring cells (code, name,
    outline), the compounds (id, code, name, address, outline) and cameras (gb_id, name,
    status, point) in her cells, geometry in ``crs``."""
    from shapely.geometry import mapping

    from geo.mapdata import foundation

    def geo(g: Any) -> dict[str, Any] | None:
        return geojson_from_cgcs2000(dict(mapping(g)), crs) if g is not None else None

    seen = set(codes)
    neighbours: list[dict[str, Any]] = []
    for code in codes:
        for r in foundation.cells(conn, region_code, near_code=code,
                                  principal=principal).to_dict("records"):
            if r["code"] not in seen:
                seen.add(r["code"])
                neighbours.append({"code": r["code"], "name": r["name"],
                                   "geometry": geo(r["geometry"])})
    compounds = [{"id": int(r["id"]), "code": r["code"], "name": r["name"],
                  "address": r["address"], "geometry": geo(r["geometry"])}
                 for r in foundation.compounds(conn, region_code, within_cells=codes
                                               ).to_dict("records")]
    cameras = [{"gb_id": r["gb_id"], "name": r["name"], "status": r["status"],
                "geometry": geo(r["geometry"])}
               for r in foundation.cameras(conn, region_code, within_cells=codes,
                                           with_sector=False).to_dict("records")]
    return {"neighbours": neighbours, "compounds": compounds, "cameras": cameras}


def board(
    conn: Connection, principal: Principal, region_code: str, now: dt.datetime | None = None,
    overdue_limit: int = 50, period: str = "all", use_rollup: bool = True,
) -> dict[str, Any]:
    """Command-centre board: counts by status, category and township (reports, open, overdue
    and urgent open ones); the overdue list.

    ``period``: ``all`` (every report, the default), ``today``, ``week`` (the ISO week, from
    Monday) or ``month``: only the reports made in the current day / week / month in China
    Standard Time at ``now`` (:func:`geo.periods.current_period`), the overdue list included;
    the answer's ``period`` states its bounds. The counts come from the rollup
    (:mod:`geo.incidents.rollup`) when it can answer them (``use_rollup=False``: always on the
    fly); what depends on ``now`` (overdue) is counted on the fly over the open cases.
    """
    now = now or localtime.now()
    span = periods.current_period(period, now)
    cond, params = incident_scope_sql(principal, "i")
    params.update(r=region_code, now=now)
    if span is not None:
        cond = f"({cond}) AND i.reported_at >= :p_start AND i.reported_at < :p_end"
        params.update(p_start=span.start, p_end=span.end)
    base = f"FROM incident i WHERE i.region_code = :r AND {cond}"
    if rollup.source_for(start=span.start if span else None, end=span.end if span else None,
                         rollup=use_rollup) == "rollup":
        by_status, by_cat, by_town = _board_counts(conn, principal, region_code, span, base,
                                                   params)
    else:
        by_status, by_cat, by_town = _board_counts_on_the_fly(conn, base, cond, params)
    overdue_total = conn.execute(text(
        f"SELECT count(*) {base} AND {OPEN_SQL} AND i.paused_at IS NULL "
        "AND i.due_at < :now"), params).scalar_one()
    if span is None:
        overdue = list_incidents(conn, principal, region_code, overdue_only=True, now=now,
                                 limit=overdue_limit)
    else:
        overdue = _overdue_reported_in(conn, principal, base, params, now, overdue_limit)
    return {
        "region_code": region_code, "as_of": now.isoformat(),
        "period": _board_period(period, span),
        "by_status": by_status,
        "open": sum(v for k, v in by_status.items() if k in OPEN),
        "by_category": by_cat,
        "by_township": by_town,
        "overdue_total": overdue_total,
        "overdue": [{k: o[k] for k in ("id", "code", "status", "category", "cell_code",
                                         "township_code", "department_code", "due_at",
                                         "reported_at")} for o in overdue],
    }


def _board_counts_on_the_fly(conn: Connection, base: str, cond: str, params: dict[str, Any],
                             ) -> tuple[dict[str, int], list[dict[str, Any]],
                                        list[dict[str, Any]]]:
    """The board's counts by status, category and township, from ``incident``."""
    by_status: dict[str, int] = {s: n for s, n in conn.execute(text(
        f"SELECT i.status, count(*) {base} GROUP BY 1 ORDER BY 1"), params)}
    by_cat = conn.execute(text(
        "SELECT i.category_code, c.name, count(*) AS n, count(*) FILTER (WHERE "
        f"{OPEN_SQL}) AS open FROM incident i JOIN incident_category c "
        f"ON c.code = i.category_code WHERE i.region_code = :r AND {cond} "
        "GROUP BY 1, 2 ORDER BY 3 DESC"), params).mappings().all()
    by_town = conn.execute(text(
        f"SELECT i.township_code, a.name, count(*) AS n, count(*) FILTER (WHERE "
        f"{OPEN_SQL}) AS open, count(*) FILTER (WHERE {OPEN_SQL} "
        "AND i.paused_at IS NULL AND i.due_at < :now) AS overdue, count(*) FILTER (WHERE "
        f"{OPEN_SQL} AND i.urgency = 'urgent') AS urgent "
        "FROM incident i LEFT JOIN admin_unit a ON a.region_code = i.region_code "
        f"AND a.code = i.township_code WHERE i.region_code = :r AND {cond} "
        "GROUP BY 1, 2 ORDER BY 1 NULLS LAST"), params).mappings().all()
    return by_status, [dict(r) for r in by_cat], [dict(r) for r in by_town]


def _board_counts(conn: Connection, principal: Principal, region_code: str,
                  span: periods.Period | None, base: str, params: dict[str, Any],
                  ) -> tuple[dict[str, int], list[dict[str, Any]], list[dict[str, Any]]]:
    """The board's counts from the rollup (:mod:`geo.incidents.rollup`), the same rows as
    :func:`_board_counts_on_the_fly`; overdue per township (it depends on ``now``) on the fly
    over the open cases only."""
    start, end = (span.start, span.end) if span else (None, None)

    def count(*by: str) -> list[dict[str, Any]]:
        return rollup.counts(conn, principal, by, regions=[region_code], start=start, end=end)

    by_status: dict[str, int] = {}
    for r in sorted(count("status"), key=lambda r: r["status"]):
        by_status[r["status"]] = int(r["n"])
    names: dict[str, str] = dict(conn.execute(text(
        "SELECT code, name FROM incident_category")).all())
    cats: dict[str, dict[str, Any]] = {}
    for r in count("category_code", "status"):
        c = cats.setdefault(r["category_code"], {"category_code": r["category_code"],
                                                 "name": names.get(r["category_code"]),
                                                 "n": 0, "open": 0})
        c["n"] += int(r["n"])
        c["open"] += int(r["n"]) if r["status"] in OPEN else 0
    by_cat = sorted(cats.values(), key=lambda c: (-c["n"], c["category_code"]))
    late: dict[str | None, int] = dict(conn.execute(text(
        f"SELECT i.township_code, count(*) {base} AND {OPEN_SQL} AND i.paused_at IS NULL "
        "AND i.due_at < :now GROUP BY 1"), params).all())
    towns: dict[str | None, dict[str, Any]] = {}
    for r in count("township_code", "status", "urgency"):
        k = r["township_code"]
        row = towns.setdefault(k, {"township_code": k, "name": None, "n": 0, "open": 0,
                                   "overdue": int(late.get(k, 0)), "urgent": 0})
        row["n"] += int(r["n"])
        if r["status"] in OPEN:
            row["open"] += int(r["n"])
            row["urgent"] += int(r["n"]) if r["urgency"] == "urgent" else 0
    town_names: dict[str | None, str] = dict(conn.execute(text(
        "SELECT code, name FROM admin_unit WHERE region_code = :r AND code = ANY(:c)"),
        {"r": region_code, "c": [k for k in towns if k is not None]}).all())
    for k, row in towns.items():
        row["name"] = town_names.get(k)
    by_town = sorted(towns.values(), key=lambda t: (t["township_code"] is None,
                                                     t["township_code"] or ""))
    return by_status, by_cat, by_town



def _overdue_reported_in(conn: Connection, principal: Principal, base: str,
                         params: dict[str, Any], now: dt.datetime,
                         limit: int) -> list[dict[str, Any]]:
    """The board's overdue list for a period: as :func:`list_incidents` with
    ``overdue_only`` (most urgent first), among the reports of the board's period (``base``)."""
    rows = conn.execute(text(
        f"SELECT {CASE_COLUMNS} {base} AND {OPEN_SQL} AND i.paused_at IS NULL "
        "AND i.due_at < :now ORDER BY i.due_at NULLS LAST, i.id LIMIT :lim"),
        {**params, "lim": limit}).mappings().all()
    return [incident_json(conn, dict(r), principal, now) for r in rows]


def _board_period(name: str, span: periods.Period | None) -> dict[str, Any]:
    """The board's ``period``: its name and, but for ``all``, its label and bounds."""
    out: dict[str, Any] = {"name": name, "name_zh": periods.CURRENT_ZH[name]}
    if span is None:
        return {**out, "label": None, "from": None, "to": None, "start": None, "end": None}
    unit = periods.CURRENT[name]
    return {**out, "label": periods.unit_label(span.first_day, unit),
            "from": span.first_day.isoformat(), "to": localtime.local_date(span.end).isoformat(),
            "start": span.start.isoformat(), "end": span.end.isoformat()}


def categories_for(conn: Connection, principal: Principal,
                   region_code: str | None = None) -> list[dict[str, Any]]:
    """The incident categories with Chinese names, most used by the caller first.

    ``used_by_me``: the caller's own reports (intake events) of the last 90 days;
    ``used_in_scope``: the cases of the caller's scope (:func:`incident_scope_sql`) of the last
    365 days. Ties keep the categories' code order.
    """
    cond, params = incident_scope_sql(principal, "i")
    if region_code:
        cond += " AND i.region_code = :region"
        params["region"] = region_code
    rows = conn.execute(text(f"""
        WITH mine AS (
            SELECT i.category_code, count(*) AS n FROM incident_event e
            JOIN incident i ON i.id = e.incident_id
            WHERE e.kind = 'intake' AND e.actor = :me AND e.at > now() - interval '90 days'
            GROUP BY 1),
        scope AS (
            SELECT i.category_code, count(*) AS n FROM incident i
            WHERE i.reported_at > now() - interval '365 days' AND {cond} GROUP BY 1)
        SELECT c.code, c.name, c.name_en, c.department_code, d.name AS department_name,
               d.name_en AS department_name_en, c."group", c.dup_radius_m,
               coalesce(mine.n, 0) AS used_by_me, coalesce(scope.n, 0) AS used_in_scope
        FROM incident_category c LEFT JOIN department d ON d.code = c.department_code
        LEFT JOIN mine ON mine.category_code = c.code
        LEFT JOIN scope ON scope.category_code = c.code
        ORDER BY used_by_me DESC, used_in_scope DESC, c.code
    """), {**params, "me": principal.user}).mappings().all()
    return [dict(r) for r in rows]


def nearby(conn: Connection, principal: Principal, region_code: str, lon: float, lat: float,
           category: str, at: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Open or recent cases that a report of ``category`` at (``lon``, ``lat``) (CGCS2000)
    would duplicate: the intake's own rule (:func:`geo.incidents.routing.duplicate_candidates`),
    only those in the caller's scope, with Chinese names."""
    from geo.db.tables.vocab import INCIDENT_STATUS
    from geo.incidents.cases import in_scope
    from geo.incidents.routing import categories, duplicate_candidates, resolve_category

    principal.require_region(region_code)  # another county's cases are not "nearby" to know
    cat = resolve_category(conn, category)
    found = in_scope(principal, duplicate_candidates(
        conn, region_code, lon, lat, at or localtime.now(), cat, limit=20))
    names = categories(conn)
    return [{**d, "category_name": names.get(d["category"], {}).get("name"),
             "status_zh": INCIDENT_STATUS.label(d["status"])} for d in found]


def duplicates_of(conn: Connection, principal: Principal,
                  incident_id: int | str) -> dict[str, Any]:
    """Possible duplicates of a case in the caller's scope, earlier and later reports alike
    (the intake's rule around the case's place and report time), merged ones excluded."""
    from geo.incidents.cases import fetch
    from geo.incidents.routing import categories

    row = fetch(conn, incident_id, principal)
    case = incident_json(conn, row, principal, compact=True)
    if row["lon"] is None:
        return {"incident": case, "count": 0, "items": [],
                "message": "事件尚未定位 / the case has no location yet"}
    items = nearby(conn, principal, row["region_code"], row["lon"], row["lat"],
                   row["category_code"], at=row["reported_at"])
    items = [d for d in items if d["id"] != row["id"]]
    cat = categories(conn)[row["category_code"]]
    return {"incident": case, "count": len(items), "items": items,
            "rule": f"同类组「{cat['group']}」, {cat['dup_radius_m']:g} 米内, 前后 "
                    f"{cat['dup_window_h']:g} 小时内 / same category group within "
                    f"{cat['dup_radius_m']:g} m and {cat['dup_window_h']:g} h"}
