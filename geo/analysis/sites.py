"""Where to add cameras: a maximal covering location problem (MCLP) over candidate sectors.

Demand is the period's incidents (rejected, cancelled and merged ones left out) that no online
camera sees yet (existing cameras are fixed), weighted (urgent incidents count
``urgent_weight``). Candidates are sites (compound entrances and/or a square lattice of
``spacing_m`` inside the region or one unit) times ``bearings`` compass directions, each a
sector of ``fov_deg`` and ``range_m`` built on the ellipsoid like ``camera.sector``. A
candidate covers an incident when the incident lies within ``range_m`` (geodesic distance) and
within ``fov_deg / 2`` of the bearing (geodesic azimuth).

Solvers: ``mclp`` is the exact integer programme (PuLP + CBC, as PySAL ``spopt``'s MCLP):
maximise the covered weight sum_i w_i y_i subject to y_i <= sum_{j covers i} x_j and
sum_j x_j <= k. ``greedy`` adds, k times, the candidate with the largest newly covered weight
(at least 1 - 1/e of the optimum; the tests compare both with brute force on small cases).
``auto`` uses ``mclp`` when the problem is small enough, else ``greedy``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree
from sqlalchemy import Connection, text

from geo.analysis.common import (
    boundary_set,
    check_categories,
    check_region,
    incident_detail_level,
    region_metric_srid,
    result,
    unit_geometry,
)
from geo.analysis.demand import NOT_DEMAND, demand_points
from geo.analysis.sectors import GEOD, sector_polygon
from geo.auth.principal import Principal
from geo.errors import InvalidInput, TooLarge
from geo.periods import Period

MAX_SITES = 6000
MAX_CANDIDATES = 40_000
MCLP_MAX_CANDIDATES = 15_000
MCLP_MAX_NONZEROS = 300_000

def coverage_sets(site_lon: np.ndarray, site_lat: np.ndarray, bearings_deg: np.ndarray,
                  fov_deg: float, range_m: float, dem_lon: np.ndarray, dem_lat: np.ndarray,
                  metric: Transformer) -> list[np.ndarray]:
    """For every (site, bearing) candidate, the indices of the demand points it sees.

    Candidates are ordered site-major: candidate ``s * len(bearings) + b``.
    """
    nb = len(bearings_deg)
    out: list[np.ndarray] = [np.empty(0, dtype=int)] * (len(site_lon) * nb)
    if len(dem_lon) == 0 or len(site_lon) == 0:
        return out
    dx, dy = metric.transform(dem_lon, dem_lat)
    sx, sy = metric.transform(site_lon, site_lat)
    tree = cKDTree(np.column_stack([dx, dy]))
    near = tree.query_ball_point(np.column_stack([sx, sy]), r=range_m * 1.01 + 1.0)
    half = fov_deg / 2.0
    for s, idx in enumerate(near):
        if not idx:
            continue
        ids = np.asarray(idx, dtype=int)
        az, _, dist = GEOD.inv(np.full(len(ids), site_lon[s]), np.full(len(ids), site_lat[s]),
                               dem_lon[ids], dem_lat[ids])
        in_range = dist <= range_m
        for b, bearing in enumerate(bearings_deg):
            diff = np.abs((np.asarray(az) - bearing + 180.0) % 360.0 - 180.0)
            ok = in_range & ((diff <= half + 1e-9) | (dist < 1e-6))
            out[s * nb + b] = ids[ok]
    return out


def greedy_max_cover(sets: list[np.ndarray], weights: np.ndarray, k: int
                     ) -> list[tuple[int, float]]:
    """Lazy greedy maximal covering: up to ``k`` (candidate, gained weight) in pick order.

    Stops early when no candidate adds weight. Ties go to the lowest candidate index.
    """
    covered = np.zeros(len(weights), dtype=bool)
    heap = [(-float(weights[s].sum()), j) for j, s in enumerate(sets) if len(s)]
    heapq.heapify(heap)
    picks: list[tuple[int, float]] = []
    while heap and len(picks) < k:
        _, j = heapq.heappop(heap)
        gain = float(weights[sets[j]][~covered[sets[j]]].sum())
        if gain <= 0:
            continue
        if heap and (-gain, j) > heap[0]:  # stale bound: re-queue with the true gain
            heapq.heappush(heap, (-gain, j))
            continue
        picks.append((j, gain))
        covered[sets[j]] = True
    return picks


def mclp_max_cover(sets: list[np.ndarray], weights: np.ndarray, k: int,
                   time_limit_s: float = 30.0) -> tuple[list[int], str]:
    """Exact MCLP with PuLP/CBC: the chosen candidates and the solver status.

    Demand points with identical candidate sets are merged first (same optimum, smaller
    programme).
    """
    import pulp

    cand = [j for j, s in enumerate(sets) if len(s)]
    if not cand or k <= 0:
        return [], "Optimal"
    covering: dict[int, list[int]] = {}
    for j in cand:
        for i in sets[j]:
            covering.setdefault(int(i), []).append(j)
    groups: dict[tuple[int, ...], float] = {}
    for i, js in covering.items():
        key = tuple(sorted(js))
        groups[key] = groups.get(key, 0.0) + float(weights[i])
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = {j: prob.add_variable(f"x{j}", cat="Binary") for j in cand}
    y = [prob.add_variable(f"y{g}", lowBound=0, upBound=1) for g in range(len(groups))]
    prob += pulp.lpSum(w * y[g] for g, w in enumerate(groups.values()))
    for g, key in enumerate(groups):
        prob += y[g] <= pulp.lpSum(x[j] for j in key)
    prob += pulp.lpSum(x.values()) <= k
    with warnings.catch_warnings():  # PuLP 3.3 announces 4.0 renames; CBC ships with it
        warnings.simplefilter("ignore", DeprecationWarning)
        prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, threads=1))
    status = pulp.LpStatus[prob.status]
    chosen = [j for j in cand if (x[j].value() or 0) > 0.5]
    return chosen, status


def order_by_gain(chosen: list[int], sets: list[np.ndarray], weights: np.ndarray
                  ) -> list[tuple[int, float]]:
    """Order chosen candidates greedily and give each its marginal gain."""
    sub = greedy_max_cover([sets[j] for j in chosen], weights, len(chosen))
    return [(chosen[j], g) for j, g in sub]


def _lattice(region_m: Any, dem_xy: np.ndarray, spacing_m: float, range_m: float
             ) -> np.ndarray:
    """Lattice points (metric) inside ``region_m`` and within ``range_m`` of some demand."""
    if len(dem_xy) == 0:
        return np.empty((0, 2))
    minx, miny = dem_xy.min(axis=0) - range_m
    maxx, maxy = dem_xy.max(axis=0) + range_m
    x0 = np.floor(minx / spacing_m) * spacing_m
    y0 = np.floor(miny / spacing_m) * spacing_m
    xs = np.arange(x0, maxx + spacing_m, spacing_m)
    ys = np.arange(y0, maxy + spacing_m, spacing_m)
    if len(xs) * len(ys) > 5_000_000:
        raise TooLarge(
            f"候选点阵过大 / the candidate lattice would have {len(xs) * len(ys)} points; "
            "increase spacing_m or restrict to a unit (within=)", field="spacing_m")
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    d, _ = cKDTree(dem_xy).query(pts, distance_upper_bound=range_m)
    pts = pts[np.isfinite(d)]
    if len(pts) and region_m is not None:
        inside = shapely.contains_xy(region_m, pts[:, 0], pts[:, 1])
        pts = pts[inside]
    return pts


def camera_sites(conn: Connection, principal: Principal, region_code: str, k: int,
                 period: Period, within: str | None = None, candidates: str = "both",
                 spacing_m: float = 100.0, bearings: int = 8, fov_deg: float = 90.0,
                 range_m: float = 80.0, solver: str = "auto",
                 categories: list[str] | None = None, urgent_weight: float = 2.0,
                 at: dt.date | None = None) -> dict[str, Any]:
    """Recommend ``k`` new camera sites and bearings that cover the most uncovered incidents.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller; planners get demand points without codes, viewers only counts.
    region_code
        County code.
    k
        Budget: number of new cameras (1..200).
    period
        Incidents reported in this period are the demand.
    within
        Code of a unit (cell, village/community, township, compound) to restrict demand and
        candidate sites to; default the whole region.
    candidates
        ``entrances`` (compound entrances), ``lattice`` (square lattice of ``spacing_m``
        metres, only points within ``range_m`` of some demand) or ``both``.
    spacing_m, bearings, fov_deg, range_m
        Lattice spacing; number of compass directions per site (evenly from north); field of
        view and range of the new cameras.
    solver
        ``mclp`` (exact, PuLP/CBC), ``greedy`` or ``auto``.
    categories
        Restrict demand to these incident categories.
    urgent_weight
        Weight of an urgent incident (a normal one weighs 1).
    at
        Boundary set used to name each site's cell (default: the active set).

    Returns
    -------
    dict
        Tables ``sites`` (rank, lon, lat, bearing, source, cell, ``gain_incidents``,
        ``gain_weight``, cumulative, ``standalone_incidents``, sector polygon) and ``demand``
        (uncovered incidents with the rank of the new site that would see them).
    """
    if not 1 <= k <= 200:
        raise InvalidInput("k 须在 1..200 / k (number of new cameras) must be within 1..200",
                           field="k")
    if candidates not in ("entrances", "lattice", "both"):
        raise InvalidInput("candidates 须为 entrances, lattice 或 both / candidates must be "
                           "entrances, lattice or both", field="candidates")
    if solver not in ("auto", "mclp", "greedy"):
        raise InvalidInput("solver 须为 auto, mclp 或 greedy / solver must be auto, mclp or "
                           "greedy", field="solver")
    if not (10 <= spacing_m <= 5000 and 1 <= bearings <= 36 and 0 < fov_deg <= 360
            and 1 <= range_m <= 1000 and 0 < urgent_weight <= 100):
        raise InvalidInput(
            "参数超出范围 / out of range: 10<=spacing_m<=5000, 1<=bearings<=36, "
            "0<fov_deg<=360, 1<=range_m<=1000, 0<urgent_weight<=100", field="spacing_m")
    check_region(conn, principal, region_code)
    categories = check_categories(conn, categories)
    bset = boundary_set(conn, region_code, at)
    srid = region_metric_srid(conn, region_code)
    fwd = Transformer.from_crs("EPSG:4490", f"EPSG:{srid}", always_xy=True)
    inv = Transformer.from_crs(f"EPSG:{srid}", "EPSG:4490", always_xy=True)
    unit = None
    if within:
        unit = unit_geometry(conn, region_code, bset["id"], within)
        region_ll = shapely.from_wkb(unit["wkb"])
    else:
        wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM admin_unit WHERE region_code = "
                                ":r AND level = 'county' LIMIT 1"), {"r": region_code}).scalar()
        region_ll = shapely.from_wkb(bytes(wkb)) if wkb is not None else None

    dem = pd.DataFrame(demand_points(
        conn, principal, region_code, period, categories,
        within_wkb=unit["wkb"] if unit else None)[[
            "id", "code", "category_code", "urgency", "reported_at", "cell_code", "lon", "lat",
            "in_scope", "covered"]])
    n_total = len(dem)
    n_existing = int(dem["covered"].sum()) if n_total else 0
    dem = dem[~dem["covered"].astype(bool)].reset_index(drop=True)
    weights = np.where(dem["urgency"] == "urgent", urgent_weight, 1.0).astype(float)
    dem_lon = dem["lon"].to_numpy(dtype=float)
    dem_lat = dem["lat"].to_numpy(dtype=float)
    dx, dy = fwd.transform(dem_lon, dem_lat)
    dem_xy = np.column_stack([dx, dy]) if len(dem) else np.empty((0, 2))

    sites: list[tuple[float, float, str, str | None]] = []  # lon, lat, source, compound
    if candidates in ("entrances", "both"):
        rows = conn.execute(text(
            "SELECT code, name, ST_X(entrance), ST_Y(entrance) FROM compound WHERE region_code "
            "= :r AND entrance IS NOT NULL AND (CAST(:within AS bytea) IS NULL OR ST_Covers("
            "ST_GeomFromWKB(CAST(:within AS bytea), 4490), entrance)) ORDER BY code"),
            {"r": region_code, "within": unit["wkb"] if unit else None}).all()
        sites += [(float(x), float(y), "entrance", f"{code} {name}") for code, name, x, y in rows]
    if candidates in ("lattice", "both"):
        region_m = (shapely.transform(region_ll, lambda xy: np.column_stack(
            fwd.transform(xy[:, 0], xy[:, 1]))) if region_ll is not None else None)
        if region_m is not None:
            shapely.prepare(region_m)
        pts = _lattice(region_m, dem_xy, spacing_m, range_m)
        if len(pts):
            lons, lats = inv.transform(pts[:, 0], pts[:, 1])
            sites += [(float(a), float(b), "lattice", None) for a, b in zip(lons, lats,
                                                                              strict=True)]
    if len(sites) > MAX_SITES or len(sites) * bearings > MAX_CANDIDATES:
        raise TooLarge(
            f"候选点过多 ({len(sites)} 个点 x {bearings} 个方向) / too many candidates "
            f"({len(sites)} sites x {bearings} bearings, limits {MAX_SITES} sites and "
            f"{MAX_CANDIDATES} candidates): increase spacing_m, use candidates=entrances, "
            "shorten the period or restrict to a unit (within=)", field="spacing_m")
    site_lon = np.array([s[0] for s in sites], dtype=float)
    site_lat = np.array([s[1] for s in sites], dtype=float)
    bearing_list = np.arange(bearings) * (360.0 / bearings)
    sets = coverage_sets(site_lon, site_lat, bearing_list, fov_deg, range_m, dem_lon, dem_lat,
                         fwd)
    n_useful = sum(1 for s in sets if len(s))
    nnz = sum(len(s) for s in sets)
    used = solver
    status = "heuristic"
    if solver == "auto":
        used = "mclp" if (n_useful <= MCLP_MAX_CANDIDATES and nnz <= MCLP_MAX_NONZEROS) \
            else "greedy"
    if used == "mclp":
        chosen, status = mclp_max_cover(sets, weights, k)
        picks = order_by_gain(chosen, sets, weights)
    else:
        picks = greedy_max_cover(sets, weights, k)

    nb = len(bearing_list)
    covered_by = np.zeros(len(dem), dtype=int)
    rows_out = []
    cum_w = 0.0
    cum_n = 0
    for rank, (j, gain) in enumerate(picks, start=1):
        s, b = divmod(j, nb)
        new = sets[j][covered_by[sets[j]] == 0]
        covered_by[new] = rank
        cum_w += gain
        cum_n += len(new)
        rows_out.append({
            "rank": rank, "lon": round(site_lon[s], 7), "lat": round(site_lat[s], 7),
            "bearing_deg": float(bearing_list[b]), "fov_deg": fov_deg, "range_m": range_m,
            "source": sites[s][2], "compound": sites[s][3],
            "gain_incidents": len(new), "gain_weight": round(gain, 3),
            "cumulative_incidents": cum_n, "cumulative_weight": round(cum_w, 3),
            "standalone_incidents": len(sets[j]),
            "geometry": sector_polygon(site_lon[s], site_lat[s], float(bearing_list[b]),
                                       fov_deg, range_m),
        })
    site_df = gpd.GeoDataFrame(rows_out, columns=[
        "rank", "lon", "lat", "bearing_deg", "fov_deg", "range_m", "source", "compound",
        "gain_incidents", "gain_weight", "cumulative_incidents", "cumulative_weight",
        "standalone_incidents", "geometry"], geometry="geometry", crs="EPSG:4490")
    if len(site_df):
        cells = conn.execute(text("""
            SELECT p.ord, (SELECT c.code FROM grid_cell c WHERE c.boundary_set_id = :s
                            AND c.kind = 'basic' AND ST_Covers(c.geom, p.g)
                            ORDER BY c.code LIMIT 1)
              FROM (SELECT ord, ST_SetSRID(ST_MakePoint(x, y), 4490) AS g
                      FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]))
                           WITH ORDINALITY AS t(x, y, ord)) p ORDER BY p.ord"""),
            {"s": bset["id"], "xs": list(site_df["lon"]), "ys": list(site_df["lat"])}).all()
        site_df.insert(6, "cell_code", [c for _, c in cells])

    level = incident_detail_level(principal)
    dem["new_site_rank"] = covered_by
    dem_geom = shapely.points(dem_lon, dem_lat) if len(dem) else np.array([], dtype=object)
    # Every uncovered incident counts as demand (an aggregate, in the summary), but the table
    # lists only the cases in the caller's scope for the incident roles (incident_detail_level
    # "full"), as camera-coverage's uncovered_incidents does; planners get anonymous points.
    in_scope = dem["in_scope"].astype(bool).to_numpy()
    demand = gpd.GeoDataFrame(dem.drop(columns=["lon", "lat", "covered", "id", "in_scope"]),
                              geometry=gpd.GeoSeries(dem_geom, crs="EPSG:4490"),
                              crs="EPSG:4490")
    demand["weight"] = weights
    if level == "anonymous":
        demand = demand[["category_code", "urgency", "weight", "new_site_rank", "geometry"]]
    elif level == "none":
        demand = demand.iloc[0:0][["category_code", "weight", "new_site_rank", "geometry"]]
    else:
        demand = demand[in_scope][["code", "category_code", "urgency", "reported_at",
                                   "cell_code", "weight", "new_site_rank", "geometry"]]

    total_w = float(weights.sum())
    summary = {
        "incidents": n_total, "covered_by_existing_cameras": n_existing,
        "uncovered_demand_incidents": len(dem), "uncovered_demand_weight": round(total_w, 3),
        "sites_recommended": len(site_df),
        "newly_covered_incidents": int((covered_by > 0).sum()),
        "newly_covered_weight": round(cum_w, 3),
        "newly_covered_share_pct": round(100.0 * cum_w / total_w, 2) if total_w else 0.0,
        "candidate_sites": len(sites), "candidates": len(sites) * nb,
        "useful_candidates": n_useful, "solver": used, "solver_status": status,
    }
    inputs = {
        "region": region_code, "k": k, "period": period.as_dict(),
        "within": {k2: unit[k2] for k2 in ("code", "name", "level")} if unit else None,
        "candidates": candidates, "spacing_m": spacing_m, "bearings": bearings,
        "bearings_deg": [float(b) for b in bearing_list], "fov_deg": fov_deg,
        "range_m": range_m, "solver": solver, "categories": categories or "all",
        "urgent_weight": urgent_weight, "existing_cameras": "online cameras fixed; incidents "
        "they see are not demand", "boundary_set": bset, "metric_crs": f"EPSG:{srid}",
        "incident_statuses_excluded": list(NOT_DEMAND),
    }
    return result("camera-sites", inputs, summary, {"sites": site_df, "demand": demand})
