"""Key points (关键点位) of a worker's cells and check-ins at them (签到).

A check-in counts when the worker stands within the key point's ``radius_m`` (geodesic metres
on the CGCS2000 ellipsoid, computed in PostGIS geography); farther is a 422 saying how far.
A key point is due ``due_per_week`` times per ISO week (Monday to Sunday, CST).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.crs.validate import to_cgcs2000_point
from geo.db.tables.vocab import KEY_POINT_KIND
from geo.errors import InvalidInput, NotFound
from geo.incidents.intake import check_field_time
from geo.patrols.tracks import parse_time
from geo.patrols.views import answer_crs, out_xy

# Check-ins may be sent late from the offline queue, but not from the future.


def week_start(day: dt.date) -> dt.datetime:
    """00:00 CST of the Monday of ``day``'s ISO week."""
    return localtime.day_start(day - dt.timedelta(days=day.weekday()))


def key_points(conn: Connection, region_code: str, cell_codes: list[str], worker_id: int | None,
               crs: str, at: dt.datetime | None = None) -> dict[str, Any]:
    """The active key points of ``cell_codes`` with this ISO week's check-ins of the worker."""
    name = answer_crs(crs)
    at = at or localtime.now()
    w0 = week_start(localtime.local_date(at))
    rows = conn.execute(text("""
        SELECT k.id, k.kind, k.ref, k.name, ST_X(k.geom) AS lon, ST_Y(k.geom) AS lat,
               k.radius_m, k.due_per_week, k.cell_code,
               (SELECT count(*) FROM patrol_checkin c WHERE c.key_point_id = k.id
                AND c.worker_id = :w AND c.at >= :w0 AND c.at < :w1) AS week_checkins,
               (SELECT max(c.at) FROM patrol_checkin c WHERE c.key_point_id = k.id
                AND c.worker_id = :w) AS last_checkin_at
        FROM key_point k
        WHERE k.region_code = :r AND k.active AND k.cell_code = ANY(:cells)
        ORDER BY k.cell_code, k.kind, k.name, k.id
    """), {"r": region_code, "cells": cell_codes, "w": worker_id if worker_id else -1,
           "w0": w0, "w1": w0 + dt.timedelta(days=7)}).mappings().all()
    x, y = out_xy([r["lon"] for r in rows], [r["lat"] for r in rows], name)
    items = []
    for i, r in enumerate(rows):
        done = int(r["week_checkins"])
        items.append({
            "id": int(r["id"]), "kind": r["kind"], "kind_label": KEY_POINT_KIND.label(r["kind"]),
            "kind_label_en": KEY_POINT_KIND.label(r["kind"], "en"), "ref": r["ref"],
            "name": r["name"], "cell_code": r["cell_code"],
            "lon": round(float(x[i]), 7), "lat": round(float(y[i]), 7),
            "radius_m": float(r["radius_m"]), "due_per_week": int(r["due_per_week"]),
            "checkins_this_week": done, "checked_in_this_week": done > 0,
            "due_remaining_this_week": max(0, int(r["due_per_week"]) - done),
            "last_checkin_at": (r["last_checkin_at"].astimezone(localtime.CST).isoformat()
                                if r["last_checkin_at"] else None),
        })
    return {"crs": name, "week_from": w0.date().isoformat(),
            "week_to": (w0 + dt.timedelta(days=6)).date().isoformat(),
            "count": len(items), "items": items}


def check_in(conn: Connection, region_code: str, cell_codes: list[str], worker_id: int,
             user_id: int | None, key_point_id: int, lon: float, lat: float, crs: str | None,
             at: Any = None) -> dict[str, Any]:
    """Record a check-in at a key point of the worker's cells.

    Raises
    ------
    NotFound
        No active key point ``key_point_id`` in the worker's cells.
    InvalidInput
        Farther than the key point's radius, a time in the future, bad coordinates.
    """
    x, y = to_cgcs2000_point(lon, lat, crs)
    when = parse_time(at, "at") if at is not None else localtime.now()
    check_field_time(when, "at")  # field staff's window: not backdated, not ahead
    kp = conn.execute(text("""
        SELECT k.id, k.kind, k.name, k.radius_m, k.cell_code,
               ST_Distance(k.geom::geography,
                           ST_SetSRID(ST_MakePoint(:x, :y), 4490)::geography) AS d
        FROM key_point k
        WHERE k.id = :k AND k.region_code = :r AND k.active AND k.cell_code = ANY(:cells)
    """), {"k": key_point_id, "r": region_code, "cells": cell_codes, "x": x, "y": y}
    ).mappings().first()
    if kp is None:
        raise NotFound(f"您的网格中没有关键点位 {key_point_id}; 请用 GET /me/key-points 查看"
                       f" / no key "
                       f"point {key_point_id} in your cells: list them at GET /me/key-points",
                       field="key_point_id")
    d = float(kp["d"])
    if d > float(kp["radius_m"]):
        raise InvalidInput(
            f"距关键点位「{kp['name']}」{d:.0f} 米, 超出签到半径 {kp['radius_m']:.0f} 米; "
            "请走近后再签到 "
            f"(也请检查 crs, 手机地图多为 GCJ02) / you are {d:.0f} m from key point "
            f"{kp['name']!r}, beyond its check-in radius of {kp['radius_m']:.0f} m: move closer "
            "(and check crs; phone maps are usually GCJ02)", field="lon", distance_m=round(d, 1),
            radius_m=float(kp["radius_m"]))
    new_id = conn.execute(text("""
        INSERT INTO patrol_checkin (region_code, key_point_id, worker_id, user_id, at, geom,
                                    distance_m)
        VALUES (:r, :k, :w, :u, :at, ST_SetSRID(ST_MakePoint(:x, :y), 4490), :d) RETURNING id
    """), {"r": region_code, "k": key_point_id, "w": worker_id, "u": user_id, "at": when,
           "x": x, "y": y, "d": d}).scalar_one()
    return {"id": int(new_id), "at": when.astimezone(localtime.CST).isoformat(),
            "distance_m": round(d, 1),
            "key_point": {"id": int(kp["id"]), "kind": kp["kind"],
                          "kind_label": KEY_POINT_KIND.label(kp["kind"]), "name": kp["name"],
                          "cell_code": kp["cell_code"], "radius_m": float(kp["radius_m"])}}
