"""Incident density and Getis-Ord Gi* hot and cold spots, per grid cell or per H3 hexagon.

Per cell: incidents of the period (optionally of some categories), per 1,000 households and per
km^2. Gi* (``esda.G_Local(star=True)``) is run on the chosen measure with binary contiguity
weights: cells touching within 10 cm (found in PostGIS, robust to the ~1 cm slivers of real
boundaries); a cell with no neighbour gets its nearest cell. A unit is ``hot`` (``cold``)
when its Gi* z-score is positive (negative) and its permutation pseudo p-value is below
``alpha``; ``gi_bin`` is +-3/2/1 for 99/95/90 % confidence, as in ArcGIS's Hot Spot Analysis.

A hot spot also needs at least ``min_incidents`` incidents (default :data:`MIN_HOT_INCIDENTS`,
3) in the unit itself: Gi* sums a unit with its neighbours, so a large rural cell with one
incident next to the busy county seat would otherwise come out a "99 % hot spot". Such units
keep their z-score and p-value but get ``gi_bin`` 0 and ``spot`` ``none`` (counted in
``summary.hot_below_min_incidents``). Cold spots are not affected.

Cells are very uneven (urban cells ~0.2 km^2, rural ones ~20 km^2): ``unit="h3"`` counts
incidents in equal-area H3 hexagons (``h3`` 4.x) over the whole county (empty hexagons count
as zeros) with the six hexagon neighbours as weights.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon
from sqlalchemy import Connection, text

from geo.analysis.common import (
    boundary_set,
    check_categories,
    check_region,
    check_unit,
    read_gdf,
    result,
)
from geo.analysis.demand import NOT_DEMAND, demand_points
from geo.auth.principal import Principal
from geo.errors import InvalidInput, TooLarge
from geo.periods import Period

MEASURES = ("count", "per_km2", "per_1000_hh")
MAX_HEXAGONS = 60_000
MIN_HOT_INCIDENTS = 3
WEIGHTS = {
    "cell": "binary contiguity: cells touching (within 10 cm) plus the cell itself (Gi*); a "
            "cell with no neighbour gets its nearest cell",
    "h3": "binary contiguity: the six neighbouring hexagons plus the hexagon itself (Gi*)",
}

NEIGHBOURS_SQL = """
SELECT a.code, b.code FROM grid_cell a
  JOIN grid_cell b ON b.boundary_set_id = a.boundary_set_id AND b.kind = 'basic'
   AND a.code < b.code AND ST_DWithin(a.geom, b.geom, 1e-6)
 WHERE a.boundary_set_id = :s AND a.kind = 'basic'
"""


def star_weights(neighbours: dict[Any, list[Any]], ids: list[Any]) -> Any:
    """Binary libpysal weights for Gi*: each unit's neighbours plus itself (self-weight 1)."""
    from libpysal.weights import W

    nb = {i: [i, *[j for j in neighbours.get(i, []) if j != i]] for i in ids}
    w = W(nb, id_order=list(ids), silence_warnings=True)
    w.transform = "B"
    return w


def getis_ord(y: np.ndarray, w: Any, permutations: int = 999, seed: int = 12345,
              alpha: float = 0.05, fdr: bool = False) -> pd.DataFrame:
    """Getis-Ord Gi* of ``y`` (ordered as ``w.id_order``) with weights from :func:`star_weights`.

    Returns a DataFrame indexed by the unit ids with ``gi_z``, ``gi_p`` (permutation pseudo
    p-value, or the normal p-value when ``permutations`` is 0), ``gi_bin`` (-3..3) and
    ``spot`` (``hot``, ``cold`` or ``none``). With ``fdr`` the p-value cut-off is lowered to
    control the false discovery rate over all units (``esda.fdr``), instead of ``alpha`` per
    unit.
    """
    import esda

    ids = list(w.id_order)
    y = np.asarray(y, dtype=float)
    n = len(ids)
    if n < 3 or float(np.var(y)) == 0.0:
        z = np.zeros(n)
        p = np.ones(n)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = esda.G_Local(y, w, transform="B", permutations=permutations, star=None,
                             n_jobs=1, seed=seed)
        z = np.asarray(g.Zs, dtype=float)
        p = np.asarray(g.p_sim if permutations > 0 else g.p_norm, dtype=float)
    z = np.nan_to_num(z)
    p = np.nan_to_num(p, nan=1.0)
    cutoff = float(esda.fdr(p, alpha)) if fdr and n else alpha
    sign = np.sign(z)
    bins = np.where(p < 0.01, 3, np.where(p < 0.05, 2, np.where(p < 0.10, 1, 0))) * sign
    spot = np.where((p < cutoff) & (z > 0), "hot", np.where((p < cutoff) & (z < 0), "cold",
                                                             "none"))
    return pd.DataFrame({"gi_z": z.round(4), "gi_p": p.round(4), "gi_bin": bins.astype(int),
                         "spot": spot}, index=ids)


def _cell_units(conn: Connection, set_id: int) -> tuple[gpd.GeoDataFrame, dict[Any, list[Any]]]:
    cells = read_gdf(conn, """
        SELECT code, name, parent_code, township_code, coalesce(households, 0) AS households,
               ST_Area(geom::geography) / 1e6 AS area_km2, ST_AsBinary(geom) AS geom
          FROM grid_cell WHERE boundary_set_id = :s AND kind = 'basic' ORDER BY code""",
                     {"s": set_id})
    nb: dict[Any, list[Any]] = {}
    for a, b in conn.execute(text(NEIGHBOURS_SQL), {"s": set_id}):
        nb.setdefault(a, []).append(b)
        nb.setdefault(b, []).append(a)
    lonely = [c for c in cells["code"] if c not in nb]
    if lonely and len(cells) > 1:
        cent = shapely.get_coordinates(cells.geometry.representative_point())
        codes = list(cells["code"])
        for c in lonely:
            i = codes.index(c)
            d = np.hypot(*(cent - cent[i]).T)
            d[i] = np.inf
            j = int(np.argmin(d))
            nb.setdefault(c, []).append(codes[j])
            nb.setdefault(codes[j], []).append(c)
    return cells, nb


def _hex_units(conn: Connection, region_code: str, resolution: int,
               incidents: pd.DataFrame) -> tuple[gpd.GeoDataFrame, dict[Any, list[Any]]]:
    wkb = conn.execute(text("SELECT ST_AsBinary(geom) FROM admin_unit WHERE region_code = :r "
                            "AND level = 'county' LIMIT 1"), {"r": region_code}).scalar()
    hexes: set[str] = set()
    if wkb is not None:
        county = shapely.from_wkb(bytes(wkb))
        area_km2 = county.area * 111.0 * 85.0  # rough, only to refuse absurd requests
        if area_km2 / h3.average_hexagon_area(resolution, unit="km^2") > MAX_HEXAGONS:
            raise TooLarge(
                f"H3 分辨率 {resolution} 生成的六边形过多 / H3 resolution {resolution} gives more "
                f"than {MAX_HEXAGONS} hexagons for this county; use a lower resolution",
                field="resolution")
        hexes |= set(h3.geo_to_cells(county, resolution))
    hexes |= set(incidents["hex"]) if len(incidents) else set()
    ids = sorted(hexes)
    polys = [Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h)]) for h in ids]
    area = [h3.cell_area(h, unit="km^2") for h in ids]
    units = gpd.GeoDataFrame({"code": ids, "area_km2": area}, geometry=polys, crs="EPSG:4490")
    idset = set(ids)
    nb = {h: [x for x in h3.grid_ring(h, 1) if x in idset] for h in ids}
    return units, nb


def hotspots(conn: Connection, principal: Principal, region_code: str, period: Period,
             unit: str = "cell", categories: list[str] | None = None,
             measure: str | None = None, resolution: int = 8, permutations: int = 999,
             alpha: float = 0.05, at: dt.date | None = None, by_category: bool = True,
             seed: int = 12345, fdr: bool = False,
             min_incidents: int = MIN_HOT_INCIDENTS) -> dict[str, Any]:
    """Incident density per unit and Gi* hot/cold spots.

    Parameters
    ----------
    conn
        Open connection.
    principal
        The caller (only counts are returned: fine for every role).
    region_code
        County code.
    period
        Incidents reported in this period (rejected, cancelled and merged ones left out).
    unit
        ``cell`` (basic cells of the boundary set) or ``h3`` (hexagons of ``resolution``).
    categories
        Restrict to these incident categories (default all).
    measure
        Variable of Gi*: ``count``, ``per_km2`` or ``per_1000_hh`` (cells only). Default
        ``per_km2`` for cells, ``count`` for hexagons (equal areas).
    resolution
        H3 resolution (5..10; 8 is about 0.74 km^2).
    permutations, alpha, seed
        Conditional permutations for pseudo p-values, significance level, random seed.
    at
        Boundary set valid on this date (default: the active set).
    fdr
        Control the false discovery rate over all units (``esda.fdr``) instead of testing
        each unit at ``alpha``.
    by_category
        Also run Gi* per category and summarise (table ``by_category``; p-values from the
        normal approximation there, to stay fast).
    min_incidents
        Fewest incidents a unit needs itself to be a hot spot (default 3; 0 or 1: no rule).

    Returns
    -------
    dict
        Tables ``units`` (``incidents``, ``per_1000_hh``, ``per_km2``, ``gi_z``, ``gi_p``,
        ``gi_bin``, ``spot``, polygon) and ``by_category``.
    """
    check_unit(unit, ("cell", "h3"))
    if measure is None:
        measure = "per_km2" if unit == "cell" else "count"
    if measure not in MEASURES or (unit == "h3" and measure == "per_1000_hh"):
        allowed = MEASURES if unit == "cell" else ("count", "per_km2")
        raise InvalidInput(f"未知指标 {measure!r}, 可选 {list(allowed)} / unknown measure "
                           f"{measure!r}; use one of {list(allowed)}", field="measure")
    if not 5 <= resolution <= 10:
        raise InvalidInput("H3 分辨率须在 5..10 / resolution must be within 5..10",
                           field="resolution")
    if not 0 <= min_incidents <= 1000:
        raise InvalidInput("min_incidents 须在 0..1000 / min_incidents must be within 0..1000",
                           field="min_incidents")
    if not 0 <= permutations <= 9999 or not 0 < alpha < 0.5:
        raise InvalidInput("permutations 须在 0..9999, alpha 在 (0, 0.5) / permutations must be "
                           "0..9999 and alpha in (0, 0.5)", field="permutations")
    check_region(conn, principal, region_code)
    categories = check_categories(conn, categories)
    bset = boundary_set(conn, region_code, at)
    dem = demand_points(conn, principal, region_code, period, categories, unit="cell",
                        set_id=bset["id"], with_coverage=False)
    inc = pd.DataFrame({"category_code": dem["category_code"], "cell": dem["unit_code"],
                        "lon": dem["lon"], "lat": dem["lat"]})
    if unit == "cell":
        units, nb = _cell_units(conn, bset["id"])
        inc["key"] = inc["cell"]
    else:
        inc["hex"] = [h3.latlng_to_cell(lat, lon, resolution)
                      for lon, lat in zip(inc["lon"], inc["lat"], strict=True)]
        units, nb = _hex_units(conn, region_code, resolution, inc)
        inc["key"] = inc["hex"]
    ids = list(units["code"])

    def measure_of(counts: pd.Series) -> np.ndarray:
        c = counts.reindex(ids).fillna(0).to_numpy(dtype=float)
        if measure == "per_km2":
            return c / units["area_km2"].to_numpy(dtype=float)
        if measure == "per_1000_hh":
            hh = units["households"].to_numpy(dtype=float)
            return np.where(hh > 0, 1000.0 * c / np.where(hh > 0, hh, 1), 0.0)
        return c

    counts = inc.groupby("key").size()
    units["incidents"] = counts.reindex(ids).fillna(0).astype(int).to_numpy()
    units["per_km2"] = (units["incidents"] / units["area_km2"]).round(3)
    if unit == "cell":
        units["per_1000_hh"] = np.where(
            units["households"] > 0,
            1000.0 * units["incidents"] / units["households"].where(units["households"] > 0, 1),
            np.nan).round(3)
    units["area_km2"] = units["area_km2"].astype(float).round(4)
    w = star_weights(nb, ids)
    gi = getis_ord(measure_of(counts), w, permutations, seed, alpha, fdr)
    units = units.join(gi, on="code")
    too_few = (units["gi_bin"] > 0) & (units["incidents"] < min_incidents)
    units.loc[too_few, "gi_bin"] = 0
    units.loc[too_few & (units["spot"] == "hot"), "spot"] = "none"
    units = units[[c for c in units.columns if c != "geometry"] + ["geometry"]]

    rows = []
    if by_category:
        for cat, sub in inc.groupby("category_code"):
            # normal-approximation p-values here: 18 permutation runs would take seconds
            sub_counts = sub.groupby("key").size()
            g = getis_ord(measure_of(sub_counts), w, 0, seed, alpha, fdr)
            few = sub_counts.reindex(g.index).fillna(0).to_numpy() < min_incidents
            g.loc[few & (g["spot"] == "hot").to_numpy(), "spot"] = "none"
            hot = g[g["spot"] == "hot"].sort_values("gi_z", ascending=False)
            rows.append({"category_code": cat, "incidents": len(sub),
                         "hot_units": int((g["spot"] == "hot").sum()),
                         "cold_units": int((g["spot"] == "cold").sum()),
                         "top_hot_units": ",".join(map(str, hot.index[:5]))})
    names: dict[str, str] = {
        str(c): str(n) for c, n in conn.execute(text("SELECT code, name FROM incident_category"))}
    by_cat = pd.DataFrame(rows, columns=["category_code", "incidents", "hot_units",
                                         "cold_units", "top_hot_units"])
    by_cat.insert(1, "category_name", by_cat["category_code"].map(names))
    by_cat = by_cat.sort_values("incidents", ascending=False).reset_index(drop=True)

    summary = {
        "units": len(units), "incidents": len(inc),
        "incidents_outside_units": int(inc["key"].isna().sum()),
        "hot_units": int((units["spot"] == "hot").sum()),
        "cold_units": int((units["spot"] == "cold").sum()),
        "top_hot": list(units[units["spot"] == "hot"].sort_values("gi_z", ascending=False)
                        ["code"][:10]),
        "max_per_km2": float(units["per_km2"].max()) if len(units) else 0.0,
        "min_incidents": min_incidents,
        "hot_below_min_incidents": int(too_few.sum()),
        "weights": WEIGHTS[unit],
    }
    if unit == "cell" and len(units) > 1:
        areas = units["area_km2"].to_numpy(dtype=float)
        cv = float(areas.std() / areas.mean()) if areas.mean() > 0 else 0.0
        summary["cell_area_cv"] = round(cv, 3)
        if cv > 1.0:
            summary["advice"] = ("网格面积差异很大, 建议同时查看 H3 六边形 (unit=h3) / cells are "
                                 "very uneven in size: compare with H3 hexagons (unit=h3)")
    inputs = {"region": region_code, "period": period.as_dict(), "unit": unit,
              "boundary_set": bset if unit == "cell" else None,
              "h3_resolution": resolution if unit == "h3" else None,
              "categories": categories or "all", "measure": measure,
              "method": "Getis-Ord Gi* (esda.G_Local, star=True), binary contiguity weights",
              "weights": WEIGHTS[unit], "min_incidents": min_incidents,
              "permutations": permutations, "alpha": alpha, "seed": seed,
              "multiple_testing": "false discovery rate (esda.fdr)" if fdr else "none",
              "by_category_p_values": "normal approximation (no permutations)",
              "incident_statuses_excluded": list(NOT_DEMAND)}
    return result("hotspots", inputs, summary, {"units": units, "by_category": by_cat})
