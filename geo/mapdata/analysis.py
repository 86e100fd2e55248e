"""Map layers from the full analyses, in the shape the Folium maps (``maps/``) consume.

Coverage figures for the maps, from the planners' analyses: the same function names,
signatures and columns (``f(conn, region_code, unit) -> GeoDataFrame``, one row per unit,
EPSG:4490, geometry simplified for display), computed by :mod:`geo.analysis` (history-aware
management modes, sliver-tolerant gaps and overlaps, metric areas). Shares are 0..1 here
(``*_pct`` columns of the analyses are percents).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.analysis.common import read_gdf, region_metric_srid, unit_sql
from geo.analysis.coverage import BLIND_COMPOUNDS_SQL, coverage_by_unit
from geo.analysis.grid import GAPS_SQL, OVERLAPS_SQL
from geo.analysis.property import COMPOUNDS_SQL
from geo.auth.principal import Principal
from geo.boundaries.sets import set_valid_at
from geo.crs.metres import metres_to_degrees
from geo.errors import InvalidInput, TooLarge
from geo.periods import Period

UNITS = ("cell", "community", "township")
CRS = "EPSG:4490"
_SIMPLIFY_M = {"cell": 8.0, "community": 20.0, "township": 60.0}


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
    gdf["geometry"] = shapely.simplify(gdf.geometry.values, metres_to_degrees(_SIMPLIFY_M[unit]),
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
    set_id, _ = set_valid_at(conn, region_code, None)
    units = coverage_by_unit(conn, region_code, unit, set_id)
    out = units[["code", "name", "area_m2", "covered_m2", "cameras_online",
                 "cameras_no_bearing", "geometry"]].rename(columns={"cameras_online": "cameras"})
    out["share"] = (out["covered_m2"] / out["area_m2"].where(out["area_m2"] > 0)).clip(0, 1)
    return _simplified(out, unit)


def blind_compound_codes(conn: Connection, region_code: str) -> set[str]:
    """Codes of the compounds no online camera's sector touches (the camera-coverage
    analysis's ``blind_compounds``)."""
    return {str(c) for c in read_gdf(conn, BLIND_COMPOUNDS_SQL, {"r": region_code})["code"]}


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
    set_id, _ = set_valid_at(conn, region_code, None)
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
    set_id, _ = set_valid_at(conn, region_code, None)
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


# Hot spots and recommended camera sites for the planners' camera-coverage map. The analyses
# are issue 6's (:func:`geo.analysis.spots.hotspots`, :func:`geo.analysis.sites.camera_sites`);
# these wrappers only choose map-friendly defaults and keep aggregates: never incident codes
# or personal fields (``camera_sites``' ``demand`` table is dropped here).

HOTSPOT_PERMUTATIONS = 199
MAX_MAP_SITES = 50


def hotspot_layer(conn: Connection, principal: Principal, region_code: str, period: Period,
                  permutations: int = HOTSPOT_PERMUTATIONS,
                  min_incidents: int | None = None) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Cells that are significant Getis-Ord Gi* hot spots of incident density.

    Calls :func:`geo.analysis.spots.hotspots` (unit ``cell``, measure incidents per km^2,
    binary contiguity weights: touching cells plus the cell itself; a hot spot needs at least
    ``min_incidents`` incidents in the cell, the analysis' default 3) with ``permutations``
    (199 by default: a map should open in a second; the analysis endpoint defaults to 999) and
    keeps the hot cells of the 90/95/99 % confidence bins (cold spots, in this county most
    rural cells, are left off the map).

    Returns
    -------
    tuple
        GeoDataFrame (code, name, incidents, per_km2, gi_z, gi_p, gi_bin, spot, geometry
        simplified) and the analysis' summary plus its method and permutations.
    """
    from geo.analysis.spots import MIN_HOT_INCIDENTS, hotspots

    res = hotspots(conn, principal, region_code, period, unit="cell",
                   permutations=permutations, by_category=False,
                   min_incidents=MIN_HOT_INCIDENTS if min_incidents is None else min_incidents)
    units = res["tables"]["units"]
    units = units[units["gi_bin"] > 0]
    cols = ["code", "name", "incidents", "per_km2", "gi_z", "gi_p", "gi_bin", "spot",
            "geometry"]
    out = gpd.GeoDataFrame(units[cols].reset_index(drop=True), geometry="geometry", crs=CRS)
    summary = {**res["summary"], "permutations": permutations,
               "method": res["inputs"]["method"], "measure": res["inputs"]["measure"],
               "period": res["inputs"]["period"]}
    return _simplified(out, "cell"), summary


def camera_site_layer(conn: Connection, principal: Principal, region_code: str, period: Period,
                      k: int = 10, candidates: str = "both") -> tuple[gpd.GeoDataFrame,
                                                                       dict[str, Any]]:
    """``k`` recommended new camera sites with their sectors and the coverage each one gains.

    Calls :func:`geo.analysis.sites.camera_sites` (MCLP or greedy, the analysis' own limits)
    and adds ``gain_area_m2``: the part of each new sector that neither an online camera nor a
    better-ranked new site already sees (metric CRS of the region). ``k`` is capped at
    :data:`MAX_MAP_SITES` for the map. When the candidate set is too large for the analysis
    (a long period: lattice points near every uncovered incident), the search falls back to
    the compound entrances (``summary["candidates_used"]``) instead of failing the map.

    Returns
    -------
    tuple
        GeoDataFrame (rank, lon, lat, bearing_deg, fov_deg, range_m, source, compound,
        cell_code, gain_incidents, gain_weight, cumulative_incidents, standalone_incidents,
        sector_area_m2, gain_area_m2, geometry = the sector) and the analysis' summary.
    """
    from geo.analysis.sites import camera_sites

    if not 1 <= k <= MAX_MAP_SITES:
        raise InvalidInput(f"地图上 k 须在 1..{MAX_MAP_SITES} / on the map k must be within "
                           f"1..{MAX_MAP_SITES} (the analysis endpoint allows more)", field="k")
    used = candidates
    try:
        res = camera_sites(conn, principal, region_code, k, period, candidates=candidates)
    except TooLarge:
        if candidates == "entrances":
            raise
        # a long period makes the 100 m lattice too large: a map still shows the best sites
        # among the compound entrances (and says so) rather than failing
        used = "entrances"
        res = camera_sites(conn, principal, region_code, k, period, candidates=used)
    sites = res["tables"]["sites"].copy()  # the "demand" table (incident codes) is not used
    srid = region_metric_srid(conn, region_code)
    sites["sector_area_m2"] = 0.0
    sites["gain_area_m2"] = 0.0
    if len(sites):
        metric = sites.to_crs(epsg=srid)
        x0, y0, x1, y1 = (float(v) for v in sites.total_bounds)
        existing = read_gdf(conn, """
            SELECT ST_AsBinary(sector) AS geom FROM camera
             WHERE region_code = :r AND status = 'online' AND sector IS NOT NULL
               AND sector && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)""",
                            {"r": region_code, "x0": x0, "y0": y0, "x1": x1, "y1": y1})
        seen = (shapely.union_all(existing.to_crs(epsg=srid).geometry.values)
                if len(existing) else shapely.Polygon())
        areas, gains = [], []
        for sector in metric.geometry.values:  # rank order: earlier sites count as seen
            areas.append(float(sector.area))
            gains.append(float(shapely.difference(sector, seen).area))
            seen = shapely.union(seen, sector)
        sites["sector_area_m2"] = np.round(areas, 1)
        sites["gain_area_m2"] = np.round(gains, 1)
    keep = ["rank", "lon", "lat", "bearing_deg", "fov_deg", "range_m", "source", "compound",
            "cell_code", "gain_incidents", "gain_weight", "cumulative_incidents",
            "standalone_incidents", "sector_area_m2", "gain_area_m2", "geometry"]
    sites = gpd.GeoDataFrame(sites[[c for c in keep if c in sites.columns]],
                             geometry="geometry", crs=CRS)
    summary = {**res["summary"], "k": k, "candidates_asked": candidates,
               "candidates_used": used,
               "gain_area_m2": float(sites["gain_area_m2"].sum()) if len(sites) else 0.0}
    return sites, summary


def property_targets(conn: Connection, principal: Principal, region_code: str,
                     as_of: dt.date | None = None) -> dict[str, Any]:
    """The property-management targets of the region and where the county stands, as the
    analysis (:func:`geo.analysis.property.property_management`, unit ``county``) says.

    Returns
    -------
    dict
        ``as_of``, ``compounds``, ``managed_pct``, ``targets`` (by, target_pct, state, met:
        the ``pm_target`` table or the seed's 80 % by 2022 and 90 % by 2023),
        ``targets_source``, ``urban_clear_out`` (the seed's first target: no unmanaged compound
        in the urban area from April 2022: ``from``, ``state``, ``met``, ``remaining`` =
        unmanaged urban compounds left) and ``unmanaged_codes``.
    """
    from geo.analysis.property import property_management

    res = property_management(conn, principal, region_code, as_of, unit="county")
    summ = res["summary"]
    unmanaged = res["tables"]["unmanaged_compounds"]
    return {"as_of": summ["as_of"], "compounds": summ["compounds"],
            "managed_pct": summ["managed_pct"], "targets": summ["targets"],
            "targets_source": res["inputs"]["targets_source"],
            "urban_clear_out": {**summ["no_unmanaged_urban"], "remaining": len(unmanaged)},
            "unmanaged_codes": list(unmanaged["code"])}
