"""Reading patrols: lists with tracks in the CRS asked for (raw tracks: geo.patrols.access)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.fields import as_seen
from geo.auth.principal import Principal
from geo.crs.names import UnknownCRSError, normalize_crs
from geo.crs.transforms import from_cgcs2000
from geo.db.tables.vocab import PATROL_FLAG
from geo.errors import InvalidInput

MAX_PATROLS = 2_000


def answer_crs(crs: str | None) -> str:
    """The normalised name of the CRS an answer is written in (422 when unknown)."""
    try:
        return normalize_crs(crs or "EPSG:4490")
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc


def out_xy(lon: Any, lat: Any, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """CGCS2000 lon/lat -> coordinates in ``crs`` (arrays)."""
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    if crs == "EPSG:4490" or len(lon_a) == 0:
        return lon_a, lat_a
    x, y = from_cgcs2000(lon_a, lat_a, crs)
    return np.atleast_1d(np.asarray(x)), np.atleast_1d(np.asarray(y))


def line_geojson(wkb: bytes | None, crs: str) -> dict[str, Any] | None:
    """A stored LINESTRING (WKB, EPSG:4490) as a GeoJSON LineString in ``crs``."""
    if wkb is None:
        return None
    coords = shapely.get_coordinates(shapely.from_wkb(bytes(wkb)))
    x, y = out_xy(coords[:, 0], coords[:, 1], crs)
    return {"type": "LineString",
            "coordinates": [[round(float(a), 7), round(float(b), 7)]
                            for a, b in zip(x, y, strict=True)]}


def period_bounds(date_from: dt.date | None, date_to: dt.date | None,
                  default_days: int = 30) -> tuple[dt.date, dt.date]:
    """[from, to] inclusive dates; default the ``default_days`` ending today (CST)."""
    to = date_to or localtime.now().date()
    localtime.check_year(to, "to")  # before any arithmetic: 0001-01-01 - 30 days overflows
    frm = date_from or (to - dt.timedelta(days=default_days - 1))
    localtime.check_year(frm, "from")
    if to < frm:
        raise InvalidInput(f"to ({to}) 早于 from ({frm}) / to is before from", field="to")
    if (to - frm).days > 366:
        raise InvalidInput("一次最多查询 366 天 / at most 366 days per request: narrow from/to",
                           field="from")
    return frm, to


def list_patrols(
    conn: Connection, principal: Principal, region_code: str, date_from: dt.date,
    date_to: dt.date, crs: str, worker_ids: list[int] | None = None,
    cell_code: str | None = None, with_tracks: bool = True, limit: int = 500,
) -> dict[str, Any]:
    """Patrols started in [date_from, date_to] (CST dates), newest first, with their tracks.

    The caller must have been checked for raw access (geo.patrols.access) by the route:
    this function filters by ``worker_ids`` (a worker: her own) and never by role.
    """
    name = answer_crs(crs)
    params: dict[str, Any] = {
        "r": region_code, "t0": localtime.day_start(date_from),
        "t1": localtime.day_start(date_to + dt.timedelta(days=1)), "lim": min(limit, MAX_PATROLS)}
    conds = ["p.region_code = :r", "p.started_at >= :t0", "p.started_at < :t1"]
    if worker_ids is not None:
        conds.append("p.worker_id = ANY(:w)")
        params["w"] = worker_ids
    if cell_code is not None:
        conds.append("EXISTS (SELECT 1 FROM grid_cell c JOIN boundary_set s ON "
                     "s.id = c.boundary_set_id AND s.is_active WHERE c.region_code = :r "
                     "AND c.code = :cell AND ST_Intersects(c.geom, p.track))")
        params["cell"] = cell_code
    rows = conn.execute(text(f"""
        SELECT p.id, p.client_id, p.worker_id, w.code AS worker_code, w.name AS worker_name,
               p.started_at, p.ended_at, p.length_m, p.duration_s, p.points, p.points_flagged,
               p.synthetic, {"ST_AsBinary(p.track)" if with_tracks else "NULL"} AS track
        FROM patrol p JOIN grid_worker w ON w.id = p.worker_id
        WHERE {" AND ".join(conds)}
        ORDER BY p.started_at DESC, p.id DESC LIMIT :lim
    """), params).mappings().all()
    flagged: dict[int, list[dict[str, Any]]] = {}
    ids = [int(r["id"]) for r in rows if r["points_flagged"]]
    if ids and with_tracks:
        for f in conn.execute(text(
                "SELECT patrol_id, t, flag, ST_X(geom), ST_Y(geom) FROM patrol_point "
                "WHERE patrol_id = ANY(:ids) AND flag IS NOT NULL ORDER BY patrol_id, t"),
                {"ids": ids}):
            x, y = out_xy([f[3]], [f[4]], name)
            flagged.setdefault(int(f[0]), []).append({
                "t": f[1].astimezone(localtime.CST).isoformat(), "reason": f[2],
                "reason_zh": PATROL_FLAG.label(f[2]), "lon": round(float(x[0]), 7),
                "lat": round(float(y[0]), 7)})
    items = []
    for r in rows:
        item = {
            "id": int(r["id"]), "client_id": r["client_id"],
            "worker": {"id": int(r["worker_id"]), "code": r["worker_code"],
                       "name": as_seen(principal, "workers", "name", r["worker_name"])},
            "started_at": r["started_at"].astimezone(localtime.CST).isoformat(),
            "ended_at": (r["ended_at"].astimezone(localtime.CST).isoformat()
                         if r["ended_at"] else None),
            "length_m": round(float(r["length_m"]), 1),
            "duration_s": round(float(r["duration_s"]), 1),
            "points": int(r["points"]), "points_flagged": int(r["points_flagged"]),
            "synthetic": bool(r["synthetic"]),
        }
        if with_tracks:
            item["track"] = line_geojson(r["track"], name)
            item["flagged"] = flagged.get(int(r["id"]), [])
        items.append(item)
    return {"region_code": region_code, "from": date_from.isoformat(),
            "to": date_to.isoformat(), "crs": name, "count": len(items), "items": items}
