"""Patrol tracks: validate a segment sent by the phone, store it, keep the patrol's figures.

The rules (the one place for them):

- points come in time order, strictly increasing (else 422 naming the first point out of
  order); a point at a time already stored for the patrol is a resend and skipped
  (``points_duplicate``); a point earlier than the last stored one and not stored is a 422;
- every point lies inside the region (the county boundary; 422 naming the point);
- a point more than :data:`JUMP_LIMIT_M` (5 km) from the last counted point, or reached at more
  than :data:`SPEED_LIMIT_KMH` (150 km/h), is kept with ``flag`` ``jump`` / ``speed`` and is
  not counted; the next point is compared with the last counted one;
- the patrol's figures: ``length_m`` = the geodesic length (CGCS2000 ellipsoid) between
  consecutive counted points, ``duration_s`` = the time between them; a pause longer than
  :data:`GAP_S` (5 minutes, the phone lost its position or the worker stopped recording)
  adds neither. ``track`` is the line through the counted points.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import Geod
from sqlalchemy import Connection, text

from geo import localtime
from geo.crs.validate import coords_to_cgcs2000
from geo.db.tables.vocab import PATROL_FLAG
from geo.db.upsert import upsert
from geo.errors import InvalidInput, TooLarge
from geo.incidents.intake import check_field_time

SPEED_LIMIT_KMH = 150.0
JUMP_LIMIT_M = 5_000.0
GAP_S = 300.0
MAX_POINTS = 20_000  # per segment: a day's walk at one point a second
GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid (GRS80; flattening differs by 1e-10)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Segment:
    """A validated segment: times (aware), CGCS2000 lon/lat, accuracy (NaN: not given)."""

    t: list[dt.datetime]
    lon: FloatArray
    lat: FloatArray
    accuracy_m: FloatArray


def parse_time(value: Any, field: str) -> dt.datetime:
    """An ISO 8601 instant; a time without zone is China Standard Time."""
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInput(f"{field} 不是 ISO 8601 时间: {value!r} "
                               "(例 2026-11-20T09:30:00+08:00)"
                               f" / {field} is not an ISO 8601 time: {value!r} (e.g. "
                               "2026-11-20T09:30:00+08:00)", field=field) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=localtime.CST)
    localtime.check_year(t, field)
    return t


def check_times(started_at: dt.datetime, ended_at: dt.datetime | None, seg: Segment) -> None:
    """A worker's patrol is sent as it happens (or queued on the phone for a day at most):
    its start, end and every point within field staff's time window
    (:func:`geo.incidents.intake.check_field_time`, 422 naming the first time outside)."""
    check_field_time(started_at, "started_at")
    if ended_at is not None:
        check_field_time(ended_at, "ended_at")
    for i, t in enumerate(seg.t):
        check_field_time(t, f"points[{i}].t")


def parse_segment(points: list[dict[str, Any]], crs: str | None) -> Segment:
    """Validate the points of a segment (time order, coordinates in ``crs``) -> CGCS2000.

    Raises
    ------
    InvalidInput
        A bad time, a time not after the previous point's, an unusable coordinate; the
        message names the point (its index and time).
    TooLarge
        More than :data:`MAX_POINTS` points.
    """
    if len(points) > MAX_POINTS:
        raise TooLarge(f"一段轨迹最多 {MAX_POINTS} 个点, 收到 {len(points)}; 请分段发送 / at most "
                       f"{MAX_POINTS} points per segment, got {len(points)}: send shorter segments")
    times = [parse_time(p.get("t"), f"points[{i}].t") for i, p in enumerate(points)]
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            raise InvalidInput(
                f"轨迹点须按时间先后排列: 第 {i} 个点 ({times[i].isoformat()}) "
                f"不晚于第 {i - 1} 个点 ({times[i - 1].isoformat()}); "
                "请按时间排序并去掉重复时间 / points must be in time "
                f"order: points[{i}] ({times[i].isoformat()}) is not after points[{i - 1}] "
                f"({times[i - 1].isoformat()}); sort them by t and drop repeated times",
                field=f"points[{i}].t", index=i)
    xs = [_number(p.get("lon"), f"points[{i}].lon") for i, p in enumerate(points)]
    ys = [_number(p.get("lat"), f"points[{i}].lat") for i, p in enumerate(points)]
    acc = np.array([_number(p["accuracy_m"], f"points[{i}].accuracy_m")
                    if p.get("accuracy_m") is not None else math.nan
                    for i, p in enumerate(points)], dtype=np.float64)
    if (acc < 0).any():
        i = int(np.flatnonzero(acc < 0)[0])
        raise InvalidInput(f"points[{i}].accuracy_m 不能为负 / accuracy_m must be >= 0",
                           field=f"points[{i}].accuracy_m")
    lon, lat, errors = coords_to_cgcs2000(xs, ys, crs)
    for i, err in enumerate(errors):
        if err:
            raise InvalidInput(f"第 {i} 个点 ({times[i].isoformat()}): {err} / points[{i}]: {err}",
                               field=f"points[{i}]", index=i)
    return Segment(times, lon, lat, acc)


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} 须为数字 / {field} must be a number, got {value!r}",
                           field=field)
    return float(value)


def distances_m(lon: FloatArray, lat: FloatArray) -> FloatArray:
    """Geodesic metres between consecutive points (length n-1)."""
    if len(lon) < 2:
        return np.zeros(0)
    _, _, d = GEOD.inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return np.asarray(d, dtype=np.float64)


def flag_points(seconds: FloatArray, lon: FloatArray, lat: FloatArray,
                last: tuple[float, float, float] | None = None) -> list[str | None]:
    """``speed`` / ``jump`` / None per point, comparing each with the last counted point.

    ``seconds`` are epoch seconds; ``last`` is the last counted point already stored
    (seconds, lon, lat), or None.
    """
    flags: list[str | None] = []
    ref = last
    for i in range(len(seconds)):
        if ref is None:
            flags.append(None)
            ref = (seconds[i], lon[i], lat[i])
            continue
        _, _, d = GEOD.inv(ref[1], ref[2], lon[i], lat[i])
        dt_s = seconds[i] - ref[0]
        flag = None
        if d > JUMP_LIMIT_M:
            flag = "jump"
        elif d > 0 and (dt_s <= 0 or d / dt_s * 3.6 > SPEED_LIMIT_KMH):
            flag = "speed"
        flags.append(flag)
        if flag is None:
            ref = (seconds[i], lon[i], lat[i])
    return flags


def figures(seconds: FloatArray, lon: FloatArray, lat: FloatArray) -> tuple[float, float]:
    """(length_m, duration_s) of counted points in time order; pauses over GAP_S add neither."""
    if len(seconds) < 2:
        return 0.0, 0.0
    d = distances_m(lon, lat)
    gaps = np.diff(seconds)
    walked = gaps <= GAP_S
    return float(d[walked].sum()), float(gaps[walked].sum())


def _outside_region(conn: Connection, region_code: str, seg: Segment) -> int | None:
    """Index of the first point outside the region (county boundary, else the active cells)."""
    row = conn.execute(text("""
        WITH b AS (
            SELECT COALESCE(
                (SELECT ST_Union(geom) FROM admin_unit WHERE region_code = :r
                 AND level = 'county'),
                (SELECT ST_Union(c.geom) FROM grid_cell c JOIN boundary_set s
                 ON s.id = c.boundary_set_id AND s.is_active WHERE c.region_code = :r)) AS g)
        SELECT p.i FROM b, unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]))
            WITH ORDINALITY AS p(lon, lat, i)
        WHERE b.g IS NULL OR NOT ST_Covers(b.g, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4490))
        ORDER BY p.i LIMIT 1
    """), {"r": region_code, "lon": seg.lon.tolist(), "lat": seg.lat.tolist()}).first()
    return None if row is None else int(row[0]) - 1


def store_segment(
    conn: Connection, region_code: str, worker_id: int, user_id: int | None, client_id: str,
    started_at: dt.datetime, ended_at: dt.datetime | None, seg: Segment,
    synthetic: bool = False,
) -> dict[str, Any]:
    """Create the worker's patrol ``client_id`` or append ``seg`` to it; return the answer.

    Raises
    ------
    InvalidInput
        A point outside the region, a point earlier than the last stored point (and not a
        resend of a stored one), ``ended_at`` before ``started_at``.
    """
    if ended_at is not None and ended_at < started_at:
        raise InvalidInput(f"ended_at ({ended_at.isoformat()}) 早于 started_at "
                           f"({started_at.isoformat()}) / ended_at is before started_at",
                           field="ended_at")
    if seg.t:
        bad = _outside_region(conn, region_code, seg)
        if bad is not None:
            raise InvalidInput(
                f"第 {bad} 个点 ({seg.t[bad].isoformat()}, {seg.lon[bad]:.6f}, {seg.lat[bad]:.6f}"
                f") 不在本区域 {region_code} 内; 请检查坐标和 crs (手机地图多为 GCJ02)"
                f" / points[{bad}] "
                f"({seg.t[bad].isoformat()}, lon {seg.lon[bad]:.6f}, lat {seg.lat[bad]:.6f}) lies "
                f"outside region {region_code}: check the coordinates and crs (phone maps are "
                "usually GCJ02)", field=f"points[{bad}]", index=bad)
    first_t = min([started_at, *seg.t[:1]])
    # The patrol of (worker, client id): made by the first segment, widened by later ones.
    patrol_id = upsert(
        conn, "patrol",
        {"region_code": ":r", "worker_id": ":w", "user_id": ":u", "client_id": ":c",
         "started_at": ":s", "ended_at": ":e", "synthetic": ":syn"},
        key=("region_code", "worker_id", "client_id"),
        update={"started_at": "LEAST(started_at, :s)", "ended_at": "COALESCE(:e, ended_at)",
                "updated_at": "now()"},
        params={"r": region_code, "w": worker_id, "u": user_id, "c": client_id, "s": first_t,
                "e": ended_at, "syn": synthetic})
    # Serialise segments of one patrol (two resends arriving together).
    conn.execute(text("SELECT 1 FROM patrol WHERE id = :p FOR UPDATE"), {"p": patrol_id})
    keep = list(range(len(seg.t)))
    duplicates = 0
    if seg.t:
        stored = {r[0] for r in conn.execute(text(
            "SELECT t FROM patrol_point WHERE patrol_id = :p AND t >= :t0"),
            {"p": patrol_id, "t0": seg.t[0]})}
        last_t = conn.execute(text("SELECT max(t) FROM patrol_point WHERE patrol_id = :p"),
                              {"p": patrol_id}).scalar()
        keep = []
        for i, t in enumerate(seg.t):
            if t in stored:
                duplicates += 1
            elif last_t is not None and t < last_t:
                raise InvalidInput(
                    f"第 {i} 个点 ({t.isoformat()}) 早于本次巡查已收到的最后一个点 "
                    f"({last_t.isoformat()}); 请按时间顺序发送各段 / points[{i}] ({t.isoformat()}) "
                    f"is earlier than the patrol's last point already received "
                    f"({last_t.isoformat()}): send segments in time order",
                    field=f"points[{i}].t", index=i)
            else:
                keep.append(i)
    flagged: list[dict[str, Any]] = []
    if keep:
        last = conn.execute(text(
            "SELECT extract(epoch FROM t), ST_X(geom), ST_Y(geom) FROM patrol_point "
            "WHERE patrol_id = :p AND flag IS NULL ORDER BY t DESC LIMIT 1"),
            {"p": patrol_id}).first()
        ts = [seg.t[i] for i in keep]
        secs = np.array([t.timestamp() for t in ts])
        lon, lat = seg.lon[keep], seg.lat[keep]
        flags = flag_points(secs, lon, lat,
                            None if last is None else (float(last[0]), float(last[1]),
                                                       float(last[2])))
        acc = seg.accuracy_m[keep]
        conn.execute(text("""
            INSERT INTO patrol_point (region_code, patrol_id, t, geom, accuracy_m, flag)
            SELECT :r, :p, p.t, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4490),
                   NULLIF(p.acc, 'NaN'::float8), p.flag
            FROM unnest(CAST(:t AS timestamptz[]), CAST(:lon AS float8[]),
                        CAST(:lat AS float8[]), CAST(:acc AS float8[]), CAST(:f AS text[]))
                 AS p(t, lon, lat, acc, flag)
        """), {"r": region_code, "p": patrol_id, "t": ts, "lon": lon.tolist(),
               "lat": lat.tolist(), "acc": acc.tolist(), "f": flags})
        flagged = [{"t": t.isoformat(), "reason": f, "reason_zh": PATROL_FLAG.label(f)}
                   for t, f in zip(ts, flags, strict=True) if f]
    answer = refresh_patrol(conn, patrol_id)
    return {**answer, "client_id": client_id, "points_accepted": len(keep),
            "points_duplicate": duplicates, "points_flagged": flagged}


def refresh_patrol(conn: Connection, patrol_id: int) -> dict[str, Any]:
    """Recompute a patrol's line and figures from its counted points; its summary."""
    rows = conn.execute(text(
        "SELECT extract(epoch FROM t), ST_X(geom), ST_Y(geom), flag IS NOT NULL FROM "
        "patrol_point WHERE patrol_id = :p ORDER BY t"), {"p": patrol_id}).all()
    counted = [r for r in rows if not r[3]]
    secs = np.array([float(r[0]) for r in counted])
    lon = np.array([float(r[1]) for r in counted])
    lat = np.array([float(r[2]) for r in counted])
    length_m, duration_s = figures(secs, lon, lat)
    line = None
    if len(counted) >= 2:
        line = "SRID=4490;LINESTRING(" + ", ".join(
            f"{x:.8f} {y:.8f}" for x, y in zip(lon, lat, strict=True)) + ")"
    row = conn.execute(text("""
        UPDATE patrol SET track = ST_GeomFromEWKT(:g), length_m = :l, duration_s = :d,
               points = :n, points_flagged = :nf, updated_at = now()
        WHERE id = :p RETURNING id, ended_at
    """), {"g": line, "l": length_m, "d": duration_s, "n": len(rows),
           "nf": len(rows) - len(counted), "p": patrol_id}).one()
    return {"id": int(row[0]), "length_m": round(length_m, 1),
            "duration_s": round(duration_s, 1), "ended": row[1] is not None,
            "points": len(rows), "points_flagged_total": len(rows) - len(counted)}
