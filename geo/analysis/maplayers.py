"""Map layers from the full analyses, in the shape the Folium maps (``maps/``) consume.

Coverage figures for the maps, from the planners' analyses: the same function names,
signatures and columns (``f(conn, region_code, unit) -> GeoDataFrame``, one row per unit,
EPSG:4490, geometry simplified for display), computed by :mod:`geo.analysis` (history-aware
management modes, sliver-tolerant gaps and overlaps, metric areas). Shares are 0..1 here
(``*_pct`` columns of the analyses are percents).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.analysis.common import read_gdf, region_metric_srid, unit_sql
from geo.analysis.coverage import coverage_by_unit
from geo.analysis.grid import GAPS_SQL, OVERLAPS_SQL
from geo.analysis.property import COMPOUNDS_SQL
from geo.errors import InvalidInput
from geo.lookup import boundary_set_at

UNITS = ("cell", "community", "township")
CRS = "EPSG:4490"
_SIMPLIFY_DEG = {"cell": 8 / 111_000, "community": 20 / 111_000, "township": 60 / 111_000}


def check_unit(unit: str) -> str:
    """Validate a unit name (cell, community, township)."""
    if unit not in UNITS:
        raise InvalidInput(
            f"未知统计单元 unit={unit!r}, 可选 {', '.join(UNITS)} / unknown unit {unit!r}: "
            f"use one of {', '.join(UNITS)}", field="unit",
        )
    return unit


def _simplified(gdf: gpd.GeoDataFrame, unit: str) -> gpd.GeoDataFrame:
    gdf = gdf.copy()
    gdf["geometry"] = shapely.simplify(gdf.geometry.values, _SIMPLIFY_DEG[unit],
                                       preserve_topology=True)
    return gdf


def camera_coverage(conn: Connection, region_code: str, unit: str = "cell") -> gpd.GeoDataFrame:
    """Camera coverage per unit (online cameras; overlapping sectors counted once).

    Returns
    -------
    GeoDataFrame
        code, name, area_m2, covered_m2, share (0..1), cameras (online cameras inside the unit),
        cameras_no_bearing, geometry (simplified).
    """
    check_unit(unit)
    set_id, _ = boundary_set_at(conn, region_code, None)
    units = coverage_by_unit(conn, region_code, unit, set_id)
    out = units[["code", "name", "area_m2", "covered_m2", "cameras_online",
                 "cameras_no_bearing", "geometry"]].rename(columns={"cameras_online": "cameras"})
    out["share"] = (out["covered_m2"] / out["area_m2"].where(out["area_m2"] > 0)).clip(0, 1)
    return _simplified(out, unit)


def property_share(conn: Connection, region_code: str, unit: str = "community",
                   as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """Property-management share per unit (mode as of ``as_of``, default today).

    A compound belongs to its community; for cells, to the basic cell containing its
    point-on-surface; for townships, to its community's township.

    Returns
    -------
    GeoDataFrame
        code, name, compounds, managed, unmanaged, households, households_managed, share,
        share_households (0..1, NaN without compounds), geometry (simplified).
    """
    check_unit(unit)
    set_id, _ = boundary_set_at(conn, region_code, None)
    comp = read_gdf(conn, COMPOUNDS_SQL, {"r": region_code, "d": as_of or dt.date.today()})
    comp = comp[comp["mgmt_mode"].notna()].copy()
    if unit == "cell":
        cell_of: dict[str, str | None] = dict(conn.execute(text(
            "SELECT m.code, (SELECT g.code FROM grid_cell g WHERE g.boundary_set_id = :s AND "
            "g.kind = 'basic' AND ST_Covers(g.geom, ST_PointOnSurface(m.geom)) ORDER BY g.code "
            "LIMIT 1) FROM compound m WHERE m.region_code = :r"),
            {"s": set_id, "r": region_code}).all())
        comp["unit_code"] = comp["code"].map(cell_of)
    else:
        comp["unit_code"] = comp["community_code" if unit == "community" else "township_code"]
    comp["households"] = comp["households"].fillna(0).astype(int)
    comp["managed"] = comp["mgmt_mode"] != "none"
    comp["households_managed"] = comp["households"].where(comp["managed"], 0)
    g = comp.groupby("unit_code")
    units = read_gdf(conn, "SELECT code, name, ST_AsBinary(geom) AS geom FROM ("
                     + unit_sql(unit) + ") u ORDER BY code", {"r": region_code, "set_id": set_id})
    units["compounds"] = units["code"].map(g.size()).fillna(0).astype(int)
    units["managed"] = units["code"].map(g["managed"].sum()).fillna(0).astype(int)
    units["unmanaged"] = units["compounds"] - units["managed"]
    units["households"] = units["code"].map(g["households"].sum()).fillna(0).astype(int)
    units["households_managed"] = units["code"].map(
        g["households_managed"].sum()).fillna(0).astype(int)
    units["share"] = units["managed"] / units["compounds"].where(units["compounds"] > 0)
    units["share_households"] = (units["households_managed"]
                                 / units["households"].where(units["households"] > 0))
    cols = ["code", "name", "compounds", "managed", "unmanaged", "households",
            "households_managed", "share", "share_households", "geometry"]
    return _simplified(units[cols], unit)


def grid_gaps_overlaps(conn: Connection, region_code: str, min_area_m2: float = 1.0,
                       sliver_m: float = 0.05) -> gpd.GeoDataFrame:
    """Gaps (parts of a village/community in no basic cell) and overlaps of two basic cells.

    Slivers narrower than ``2 * sliver_m`` or smaller than ``min_area_m2`` are left out.

    Returns
    -------
    GeoDataFrame
        kind ('gap' | 'overlap'), codes (the parent, or the two cells), area_m2, geometry.
    """
    set_id, _ = boundary_set_at(conn, region_code, None)
    p = {"r": region_code, "s": set_id, "srid": region_metric_srid(conn, region_code),
         "sliver": sliver_m, "min_area": min_area_m2}
    gaps = read_gdf(conn, GAPS_SQL, p)
    gaps = gaps[gaps["scope"] == "parent"]
    ovl = read_gdf(conn, OVERLAPS_SQL, p)
    out = gpd.GeoDataFrame({
        "kind": ["gap"] * len(gaps) + ["overlap"] * len(ovl),
        "codes": list(gaps["unit_code"]) + [f"{a} / {b}" for a, b in zip(
            ovl["cell_a"], ovl["cell_b"], strict=True)],
        "area_m2": np.concatenate([gaps["area_m2"].to_numpy(dtype=float),
                                   ovl["area_m2"].to_numpy(dtype=float)]),
    }, geometry=gpd.GeoSeries(list(gaps.geometry) + list(ovl.geometry), crs=CRS), crs=CRS)
    return out.sort_values("area_m2", ascending=False).reset_index(drop=True)
