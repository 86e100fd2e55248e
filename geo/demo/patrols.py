"""Demo patrols (巡查): key points, synthetic tracks and check-ins, all ``synthetic = true``.

Key points: the entrance of every compound (小区出入口, due twice a week) and every third
online camera (摄像头, due once a week), in the basic cell holding them. Tracks: for
:data:`N_WORKERS` workers on duty in the county seat (蔚汾镇; the ``demo-worker`` user's
worker first), :data:`PATROLS_PER_WEEK` patrols on weekdays of the :data:`WEEKS` ISO weeks
ending :data:`LAST_DAY` (the demo's data end), started between 09:00 and 16:00 CST, 30-60
minutes at walking speed (1.0-1.4 m/s, a point every 10 s, GPS noise of a few metres) between
random waypoints inside the cell shrunk by 15 m, passing the cell's key points on some
patrols and checking in there. Deterministic (own seed), written with COPY.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from sqlalchemy import Connection, text

from geo import localtime
from geo.boundaries.sets import active_set_id
from geo.demo.users import pick_demo_worker
from geo.patrols.tracks import figures, flag_points

SEED = 1717
N_WORKERS = 20
WEEKS = 8
PATROLS_PER_WEEK = 3
LAST_DAY = dt.date(2026, 11, 1)  # a Sunday: the ISO week of the demo's last reports
STEP_S = 10.0
METRIC = "EPSG:4546"


def demo_delete_hook(conn: Connection, region_code: str) -> None:
    """Remove the region's patrol rows (before its workers and the region go)."""
    conn.execute(text("DELETE FROM patrol_checkin WHERE region_code = :r"), {"r": region_code})
    conn.execute(text("DELETE FROM patrol WHERE region_code = :r"), {"r": region_code})
    conn.execute(text("DELETE FROM key_point WHERE region_code = :r"), {"r": region_code})


def demo_hook(conn: Connection, region_code: str, rng: np.random.Generator) -> None:
    """Key points, tracks and check-ins (``rng`` unused: patrols draw from their own seed, so
    the rest of the demo stays as it was)."""
    demo_delete_hook(conn, region_code)
    set_id = active_set_id(conn, region_code)
    if set_id is None:
        return
    _key_points(conn, region_code, set_id)
    _tracks(conn, region_code, set_id, np.random.default_rng(SEED))


def _key_points(conn: Connection, region_code: str, set_id: int) -> None:
    conn.execute(text("""
        INSERT INTO key_point (region_code, kind, ref, name, geom, radius_m, due_per_week,
                               cell_code, synthetic)
        SELECT c.region_code, 'compound_gate', c.code, c.name || ' 出入口', c.entrance, 50, 2,
               (SELECT g.code FROM grid_cell g WHERE g.boundary_set_id = :s AND g.kind = 'basic'
                AND ST_Covers(g.geom, c.entrance) ORDER BY g.code LIMIT 1), true
        FROM compound c WHERE c.region_code = :r AND c.entrance IS NOT NULL
        ORDER BY c.code
    """), {"r": region_code, "s": set_id})
    conn.execute(text("""
        INSERT INTO key_point (region_code, kind, ref, name, geom, radius_m, due_per_week,
                               cell_code, synthetic)
        SELECT region_code, 'camera', gb_id, COALESCE(name, '摄像头 ' || gb_id), geom, 50, 1,
               cell, true
        FROM (SELECT cam.*, row_number() OVER (ORDER BY cam.gb_id) AS n,
                     (SELECT g.code FROM grid_cell g WHERE g.boundary_set_id = :s
                      AND g.kind = 'basic' AND ST_Covers(g.geom, cam.geom)
                      ORDER BY g.code LIMIT 1) AS cell
              FROM camera cam WHERE cam.region_code = :r AND cam.status = 'online') x
        WHERE n % 3 = 0
        ORDER BY gb_id
    """), {"r": region_code, "s": set_id})


def _workers(conn: Connection, region_code: str, set_id: int) -> list[dict[str, Any]]:
    """(worker id, cell code, cell in metres, key points in metres) of the patrolling workers."""
    try:
        demo_code, demo_cell = pick_demo_worker(conn, region_code)
    except RuntimeError:
        demo_code, demo_cell = "", ""
    rows = conn.execute(text("""
        SELECT DISTINCT ON (w.id) w.id, w.code, a.cell_code,
               ST_AsBinary(ST_Transform(g.geom, 4546)) AS wkb
        FROM worker_assignment a JOIN grid_worker w ON w.id = a.worker_id
        JOIN grid_cell g ON g.boundary_set_id = :s AND g.code = a.cell_code AND g.kind = 'basic'
        WHERE a.region_code = :r AND a.valid_to IS NULL AND g.township_code = :t
        ORDER BY w.id, (a.cell_code = :dc) DESC, a.cell_code
    """), {"r": region_code, "s": set_id, "t": region_code + "100",
           "dc": demo_cell}).mappings().all()
    rows = sorted(rows, key=lambda r: (r["code"] != demo_code, r["cell_code"]))[:N_WORKERS]
    keys = conn.execute(text(
        "SELECT id, cell_code, ST_X(ST_Transform(geom, 4546)), ST_Y(ST_Transform(geom, 4546)) "
        "FROM key_point WHERE region_code = :r ORDER BY id"), {"r": region_code}).all()
    out = []
    for r in rows:
        cell = shapely.from_wkb(bytes(r["wkb"]))
        inner = cell.buffer(-15.0)
        out.append({"id": int(r["id"]), "cell": r["cell_code"],
                    "area": inner if not inner.is_empty else cell,
                    "keys": [(int(k[0]), float(k[2]), float(k[3])) for k in keys
                             if k[1] == r["cell_code"]]})
    return out


def _inside(area: Any, rng: np.random.Generator) -> tuple[float, float]:
    x0, y0, x1, y1 = area.bounds
    for _ in range(200):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if area.contains(shapely.Point(x, y)):
            return float(x), float(y)
    p = area.representative_point()
    return float(p.x), float(p.y)


def _walk(area: Any, rng: np.random.Generator, seconds: float,
          via: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Positions every STEP_S seconds for ``seconds`` (metres) and the step passing ``via``."""
    speed = rng.uniform(1.0, 1.4)
    n = int(seconds // STEP_S) + 1
    xs, ys = np.empty(n), np.empty(n)
    x, y = _inside(area, rng)
    target = via if via is not None else _inside(area, rng)
    via_step = None
    for i in range(n):
        xs[i], ys[i] = x, y
        dx, dy = target[0] - x, target[1] - y
        d = float(np.hypot(dx, dy))
        step = speed * STEP_S
        if d <= step:
            x, y = target
            if via is not None and target == via and via_step is None:
                via_step = i + 1
            target = _inside(area, rng)
        else:
            x, y = x + dx / d * step, y + dy / d * step
    xs += rng.normal(0, 3.0, n)
    ys += rng.normal(0, 3.0, n)
    return xs, ys, (via_step if via_step is not None and via_step < n else None)


def _tracks(conn: Connection, region_code: str, set_id: int, rng: np.random.Generator) -> None:
    to_ll = Transformer.from_crs(METRIC, "EPSG:4490", always_xy=True)
    workers = _workers(conn, region_code, set_id)
    first_monday = LAST_DAY - dt.timedelta(days=7 * WEEKS - 1)
    patrols: list[tuple[Any, ...]] = []
    points = io.StringIO()
    checkins: list[dict[str, Any]] = []
    n = len(workers) * WEEKS * PATROLS_PER_WEEK
    ids = [int(i) for (i,) in conn.execute(text(
        "SELECT nextval('patrol_id_seq') FROM generate_series(1, :n)"), {"n": n})]
    k = 0
    for w in workers:
        for week in range(WEEKS):
            monday = first_monday + dt.timedelta(days=7 * week)
            days = sorted(rng.choice(5, PATROLS_PER_WEEK, replace=False))
            for day in days:
                start = dt.datetime.combine(monday + dt.timedelta(days=int(day)), dt.time(9),
                                            localtime.CST) + dt.timedelta(
                    minutes=int(rng.integers(0, 7 * 60)))
                key = None
                if w["keys"] and rng.random() < 0.6:
                    key = w["keys"][int(rng.integers(len(w["keys"])))]
                xs, ys, via_step = _walk(w["area"], rng, float(rng.uniform(1800, 3600)),
                                         (key[1], key[2]) if key else None)
                lon, lat = to_ll.transform(xs, ys)
                lon, lat = np.asarray(lon), np.asarray(lat)
                t0 = start.timestamp()
                secs = np.asarray(t0 + np.arange(len(xs)) * STEP_S, dtype=np.float64)
                if any(flag_points(secs, lon, lat)):  # a walk is never flagged
                    raise RuntimeError("demo patrol walk flagged: check the generator")
                length_m, duration_s = figures(secs, lon, lat)
                pid = ids[k]
                k += 1
                end = start + dt.timedelta(seconds=float(secs[-1] - t0))
                line = "SRID=4490;LINESTRING(" + ",".join(
                    f"{a:.7f} {b:.7f}" for a, b in zip(lon, lat, strict=True)) + ")"
                patrols.append((pid, w["id"], f"demo-{pid}", start, end, line, length_m,
                                duration_s, len(xs)))
                for j in range(len(xs)):
                    t = dt.datetime.fromtimestamp(float(secs[j]), localtime.CST).isoformat()
                    acc = 5.0 + round(float(rng.uniform(0, 10)), 1)
                    points.write(f"{region_code}\t{pid}\t{t}\tSRID=4490;POINT({lon[j]:.7f} "
                                 f"{lat[j]:.7f})\t{acc}\n")
                if key is not None and via_step is not None:
                    at = dt.datetime.fromtimestamp(float(secs[via_step]), localtime.CST)
                    checkins.append({"r": region_code, "k": key[0], "w": w["id"], "at": at,
                                     "x": float(lon[via_step]), "y": float(lat[via_step])})
    if not patrols:
        return
    conn.execute(text("""
        INSERT INTO patrol (id, region_code, worker_id, client_id, started_at, ended_at, track,
                            length_m, duration_s, points, points_flagged, synthetic)
        VALUES (:id, :r, :w, :c, :s, :e, ST_GeomFromEWKT(:g), :l, :d, :n, 0, true)
    """), [{"id": p[0], "r": region_code, "w": p[1], "c": p[2], "s": p[3], "e": p[4],
            "g": p[5], "l": p[6], "d": p[7], "n": p[8]} for p in patrols])
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor().copy("COPY patrol_point (region_code, patrol_id, t, geom, accuracy_m) "
                           "FROM STDIN") as copy:
        copy.write(points.getvalue())
    if checkins:
        conn.execute(text("""
            INSERT INTO patrol_checkin (region_code, key_point_id, worker_id, at, geom,
                                        distance_m, synthetic)
            SELECT :r, k.id, :w, :at, p.g, ST_Distance(k.geom::geography, p.g::geography), true
            FROM key_point k, LATERAL (SELECT ST_SetSRID(ST_MakePoint(:x, :y), 4490) AS g) p
            WHERE k.id = :k
        """), checkins)
