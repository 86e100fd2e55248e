"""The Xing County (兴县, 141123) demo: a real county boundary, synthetic content.

The county boundary is real (:mod:`geo.demo.boundary`). No open township or village boundaries
exist, so townships, villages, communities, grid cells, workers, compounds, cameras
(:mod:`geo.demo.generate`) and incidents (:mod:`geo.demo.incident_rows`) are generated,
deterministically from a seed, and every row is marked ``synthetic = true``. Geometry is built
in metres (EPSG:4546) and stored in EPSG:4490 (:mod:`geo.demo.store`): shared edges are
computed once, so cells of one parent partition it exactly. The case flow's history
(:mod:`geo.demo.incidents`) and the demo users (:mod:`geo.demo.users`) are added by their hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, Engine, text

from geo.analysis.coverage import store_region
from geo.demo import store
from geo.demo.boundary import REGION, load_county_boundary, multi, to_lonlat, to_metric
from geo.demo.generate import make_admin_units, make_cameras, make_cells, make_compounds
from geo.demo.incident_rows import copy_incidents, make_incidents
from geo.incidents.reference import ensure_reference
from geo.incidents.routing import route_incidents


def database_is_empty(engine: Engine) -> bool:
    """True when no region has been loaded."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM region")).scalar() == 0


def delete_region(conn: Connection, region_code: str) -> None:
    """Delete every row of a region (dependent tables first)."""
    for table in (
        "incident_event", "incident", "worker_assignment", "grid_worker", "compound_mgmt_history",
        "compound", "camera", "grid_cell", "boundary_set", "admin_unit",
    ):
        conn.execute(text(f"DELETE FROM {table} WHERE region_code = :r"), {"r": region_code})
    for hook in _extensions("demo_delete_hook"):
        hook(conn, region_code)
    conn.execute(text("UPDATE incident_category SET region_code = region_code"))
    conn.execute(text("DELETE FROM region WHERE code = :r"), {"r": region_code})


def _extensions(attr: str) -> list[Callable[..., None]]:
    """The demo content of the other packages: incidents' case flow, the demo users, patrols,
    the building and standard-address register.

    Each module defines ``demo_hook(conn, region_code, rng)`` (run inside the load transaction,
    after the core rows) and may define ``demo_delete_hook(conn, region_code)``.
    """
    from geo.demo import addresses, incidents, patrols, users

    return [getattr(mod, attr) for mod in (incidents, users, patrols, addresses)
            if hasattr(mod, attr)]


def load_demo(
    engine: Engine,
    seed: int = 20221,
    n_incidents: int = 20_000,
    progress: Callable[[str], Any] = lambda s: None,
) -> dict[str, Any]:
    """Generate and load the demo county in one transaction; return counts.

    Parameters
    ----------
    engine
        Engine of a migrated database.
    seed
        Random seed; the same seed gives the same rows (every step draws from one generator,
        in this order).
    n_incidents
        Number of synthetic incidents (2025-01-01 .. 2026-10-31).
    progress
        Callback receiving progress messages.

    Returns
    -------
    dict
        Row counts per table and ``workers_generated``.
    """
    rng = np.random.default_rng(seed)
    fwd, inv = to_metric(), to_lonlat()
    county = multi(shapely.transform(load_county_boundary(),
                                     lambda xy: np.column_stack(fwd.transform(*xy.T))))

    def ll(g: BaseGeometry) -> BaseGeometry:
        return shapely.transform(g, lambda xy: np.column_stack(inv.transform(*xy.T)))

    progress("generating townships, villages, communities (synthetic boundaries)")
    admin = make_admin_units(county, fwd, rng)
    progress("generating grid cells (partition of every village and community)")
    cells = make_cells(admin, rng)
    progress("generating compounds in the county seat")
    compounds = make_compounds(admin, rng)
    progress("generating cameras (雪亮工程)")
    cameras = make_cameras(admin, compounds, county, rng)
    progress(f"generating {n_incidents} incidents (2025-01-01 .. 2026-10-31)")
    incidents = make_incidents(rng, n_incidents, compounds, admin.urban, admin.village_points,
                               county)

    progress("writing to PostGIS in one transaction")
    ewkt = store.ewkt_writer(ll)
    with engine.begin() as conn:
        delete_region(conn, REGION)
        store.insert_region(conn)
        ensure_reference(conn, REGION)
        store.insert_admin_units(conn, admin.units, ewkt)
        store.insert_cells(conn, cells, ewkt)
        n_workers = store.insert_workers(conn, rng, [c for c in cells if c["kind"] == "basic"] +
                                         [c for c in cells if c["kind"] == "dedicated"])
        store.insert_compounds(conn, compounds, ewkt)
        store.insert_mgmt_history(conn, rng)
        store.insert_cameras(conn, cameras, ewkt)
        store_region(conn, REGION)  # the camera coverage per cell, once for all of them
        copy_incidents(conn, incidents, ll)
        route_incidents(conn, REGION)
        for hook in _extensions("demo_hook"):
            hook(conn, REGION, rng)
        report = _counts(conn)
        report["workers_generated"] = n_workers
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("ANALYZE"))
    return report


def _counts(conn: Connection) -> dict[str, Any]:
    return {table: conn.execute(
        text(f"SELECT count(*) FROM {table} WHERE region_code = :r"), {"r": REGION}).scalar()
        for table in ("admin_unit", "grid_cell", "grid_worker", "compound", "camera",
                      "incident")}
