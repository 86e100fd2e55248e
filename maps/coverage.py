"""Planners' coverage maps: camera coverage and property-management coverage.

Choropleths per cell, village/community or township (``unit``), classed with mapclassify
(camera coverage: Fisher-Jenks natural breaks; property management: the seed's targets
50/80/90 %), with a classed legend. The camera map also shows grid gaps and overlaps and the
incidents of the period that no online camera sees; the property map highlights unmanaged
compounds. Figures come from :mod:`geo.mapdata.analysis` (the planners' analyses).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from typing import Any

import folium
import geopandas as gpd
import mapclassify
import numpy as np
from sqlalchemy import Connection

from geo.auth.principal import Principal
from geo.errors import InvalidInput
from geo.mapdata import analysis as cov
from geo.mapdata import foundation as gl
from geo.mapdata import incidents as gi
from geo.periods import Period
from maps import overlays as ml
from maps import styles as st
from maps.frame import (
    JsCall,
    JsLayer,
    MapOptions,
    Tooltip,
    legend_html,
    new_map,
    shift,
    shift_xy,
)

LIMIT_OUTSIDE = 2000
DEFAULT_SITES = 10
SPOT_CONFIDENCE = {3: "99 %", 2: "95 %", 1: "90 %"}


def pct(share: float) -> str:
    """A share as a percentage with enough decimals to tell small classes apart."""
    p = share * 100
    return f"{p:.0f}" if p >= 10 else (f"{p:.1f}" if p >= 1 else f"{p:.2f}")


def classify(values: np.ndarray, kind: str) -> tuple[np.ndarray, list[str], list[str]]:
    """Class index per value (-1 for NaN), class labels and colours, using mapclassify."""
    ok = ~np.isnan(values)
    idx = np.full(values.shape, -1, dtype=int)
    if kind == "property":
        bins = [0.5, 0.8, 0.9, 1.0]
        if ok.any():
            idx[ok] = mapclassify.UserDefined(values[ok], bins=bins).yb
        labels = ["< 50 %", "50 – 80 %", "80 – 90 %", "≥ 90 %"]
        return idx, labels, st.TARGET_SCALE
    vals = values[ok]
    k = int(min(5, max(1, len(np.unique(vals)))))
    if k < 2:
        if ok.any():
            idx[ok] = 0
        hi = float(vals.max()) if vals.size else 0.0
        return idx, [f"{pct(hi)} %"], st.COVERAGE_SCALE[:1]
    with warnings.catch_warnings():  # "Numba not installed": the pure-Python path is fine
        warnings.simplefilter("ignore", UserWarning)
        mc = mapclassify.FisherJenks(vals, k=k)
    idx[ok] = mc.yb
    lo = float(vals.min())
    labels = []
    for b in mc.bins:
        labels.append(f"{pct(lo)} – {pct(float(b))} %")
        lo = float(b)
    scale = st.COVERAGE_SCALE
    colors = scale if k == 5 else [scale[round(i * 4 / (k - 1))] for i in range(k)]
    return idx, labels, colors


def _choropleth(m: folium.Map, gdf: gpd.GeoDataFrame, opts: MapOptions, kind: str,
                fields: list[str], aliases: list[str], name: str) -> tuple[list[str], list[str]]:
    values = gdf["share"].to_numpy(dtype=float)
    idx, labels, colors = classify(values, kind)
    gdf = gdf.copy()
    gdf["cls"] = idx
    gdf["share_pct"] = ["—" if math.isnan(v) else f"{pct(v)} %" for v in values]

    def style(f: dict[str, Any]) -> dict[str, Any]:
        c = f["properties"]["cls"]
        return {"color": st.UNIT_LINE, "weight": 0.8, "fillOpacity": 0.75,
                "fillColor": st.NO_DATA if c < 0 else colors[c]}

    folium.GeoJson(gl.to_geojson(shift(gdf, opts), ["code", "name", "cls", "share_pct", *fields]),
                   name=name, style_function=style,
                   tooltip=Tooltip(["code", "name", "share_pct", *fields],
                                   aliases=[opts.t["code"], opts.t["name"], opts.t["share"],
                                            *aliases])).add_to(m)
    return labels, colors


def analysis_period(period: gi.Period) -> Period:
    """The map's half-open period as the analyses' inclusive dates."""
    last = period.end - dt.timedelta(seconds=1)
    return Period.from_dates(period.start.date(), last.date())


def add_hotspots(m: folium.Map, spots: gpd.GeoDataFrame, opts: MapOptions
                 ) -> folium.GeoJson | folium.FeatureGroup:
    """Cells that are significant Gi* hot spots (orange, by confidence); an empty layer when
    there are none (no incidents in the period, or no significant cluster)."""
    t = opts.t
    if spots.empty:
        group = folium.FeatureGroup(name=t["hotspots"])
        group.add_to(m)
        return group
    spots = spots.copy()
    spots["kind"] = [t["hot"] if b > 0 else t["cold"] for b in spots["gi_bin"]]
    spots["conf"] = [SPOT_CONFIDENCE[abs(int(b))] for b in spots["gi_bin"]]
    spots["per_km2_s"] = [f"{v:.1f}" for v in spots["per_km2"]]
    spots["z_s"] = [f"{v:.2f}" for v in spots["gi_z"]]
    spots["p_s"] = [f"{v:.3f}" for v in spots["gi_p"]]
    spots["gi_bin"] = spots["gi_bin"].astype(int)

    def style(f: dict[str, Any]) -> dict[str, Any]:
        b = int(f["properties"]["gi_bin"])
        return {"color": st.HOT_LINE if b > 0 else st.COLD_LINE, "weight": 2,
                "fillColor": st.SPOT_COLORS[b], "fillOpacity": 0.55,
                "className": "wangge-hotspot " + ("hot" if b > 0 else "cold")}

    cols = ["code", "name", "kind", "conf", "incidents", "per_km2_s", "z_s", "p_s"]
    layer = folium.GeoJson(
        gl.to_geojson(shift(spots, opts), [*cols, "gi_bin"]), name=t["hotspots"],
        style_function=style,
        tooltip=Tooltip(cols, aliases=[t["code"], t["name"], "", t["confidence"],
                                       t["incidents_n"], t["per_km2"], t["gi_z"], t["gi_p"]]))
    layer.add_to(m)
    return layer


def site_rows(sites: gpd.GeoDataFrame, opts: MapOptions) -> dict[str, Any]:
    """Compact rows for ``Wangge.sites``: position, sector ring and the gained coverage only."""
    t = opts.t
    rows: list[list[Any]] = []
    if not sites.empty:
        lon, lat = shift_xy(sites["lon"].to_numpy(), sites["lat"].to_numpy(), opts)
        sectors = shift(sites[["geometry"]], opts).geometry
        for i, r in enumerate(sites.itertuples(index=False)):
            ring = [[round(y, 6), round(x, 6)] for x, y in sectors.iloc[i].exterior.coords]
            rows.append([round(float(lat[i]), 6), round(float(lon[i]), 6), int(r.rank),
                         float(r.bearing_deg), float(r.fov_deg), float(r.range_m), ring,
                         int(r.gain_incidents), float(r.gain_weight),
                         int(r.cumulative_incidents), int(r.standalone_incidents),
                         round(float(r.gain_area_m2)), round(float(r.sector_area_m2)),
                         r.cell_code or "", t["src_" + r.source],
                         r.compound if isinstance(r.compound, str) else ""])
    keys = ("site", "rank", "bearing", "fov", "range", "gain_inc", "gain_weight", "cum_inc",
            "standalone", "gain_area", "sector_area", "cell", "source", "compound")
    return {"rows": rows, "color": st.SITE, "t": {k: t[k] for k in keys}}


def _unit_label(opts: MapOptions, unit: str) -> str:
    return opts.t[f"unit_{unit}"]


def build_camera_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                              unit: str = "cell", k: int = DEFAULT_SITES,
                              candidates: str = "both", hotspots: bool = True) -> folium.Map:
    """Camera coverage choropleth + gaps/overlaps + incidents outside every camera view,
    Gi* hot spots and ``k`` recommended camera sites (0: none) with their sectors and
    gained coverage, over the period of ``opts`` (default: the 92 days ending with the latest
    report). Both analyses are :mod:`geo.analysis`'s (hot spots with 199 permutations)."""
    opts = opts.validated()
    cov.check_unit(unit)
    if not 0 <= k <= cov.MAX_MAP_SITES:
        raise InvalidInput(f"k 须在 0..{cov.MAX_MAP_SITES} (0 = 不显示建议点位) / k must be within "
                           f"0..{cov.MAX_MAP_SITES} (0 = no recommended sites)", field="k")
    t = opts.t
    region = opts.region_code
    period = gi.resolve_period(conn, region, opts.start, opts.end, default_days=92)
    title = f"{t['cam_cov_title']} ({_unit_label(opts, unit)})"
    m = new_map(opts, gl.region_bounds(conn, region), title)
    gdf = cov.camera_coverage(conn, region, unit)
    labels, colors = _choropleth(m, gdf, opts, "camera", ["cameras"], [t["cameras_n"]],
                                 f"{t['share']} ({_unit_label(opts, unit)})")
    town = gl.admin_units(conn, region, ("township",))
    ml.add_admin(m, town, opts, "township")
    gaps = cov.grid_gaps_overlaps(conn, region)
    if not gaps.empty:
        gaps = gaps.copy()
        gaps["label"] = [t[k] for k in gaps["kind"]]
        gaps["area"] = [f"{a:.0f} m²" for a in gaps["area_m2"]]
        folium.GeoJson(
            gl.to_geojson(shift(gaps, opts), ["kind", "label", "codes", "area"]),
            name=f"{t['gap']} / {t['overlap']}",
            style_function=lambda f: {"color": st.FOCUS if f["properties"]["kind"] == "gap"
                                      else st.OVERLAP_LINE, "weight": 3, "fillOpacity": 0.6,
                                      "fillColor": st.FOCUS},
            tooltip=Tooltip(["label", "codes", "area"], aliases=["", "", ""]),
        ).add_to(m)
    cams = gl.cameras(conn, region, statuses=("online",), with_sector=False)
    ml.add_cameras(m, cams, opts, show=False)
    outside, n_out = gi.incidents(conn, principal, region, period, limit=LIMIT_OUTSIDE,
                                  outside_cameras=True)
    ml.add_incidents(m, outside, opts, t["outside"], radius=4)
    rows = [("sw", c, lab) for c, lab in zip(colors, labels, strict=True)]
    rows += [("sw", st.FOCUS, f"{t['gap']} / {t['overlap']} ({len(gaps)})")]
    rows += [("dot", st.INCIDENT_STYLES[s]["fill"], f"{t['outside']}: {t[s]}")
             for s in ("overdue", "open", "closed")]
    notes = [f"{t['period']}: {period.label()}",
             f"{t['outside']}: {t['shown_of'].format(shown=len(outside), total=n_out)}",
             "mapclassify FisherJenks"]
    a_period = analysis_period(period)
    if hotspots:
        spots, spot_sum = cov.hotspot_layer(conn, principal, region, a_period)
        add_hotspots(m, spots, opts)
        rows += [("sw", st.SPOT_COLORS[b], f"{t['hot' if b > 0 else 'cold']} "
                  f"{SPOT_CONFIDENCE[abs(b)]} ({int((spots['gi_bin'] == b).sum())})")
                 for b in (3, 2, 1)]
        notes.append(t["hot_note"].format(perm=spot_sum["permutations"],
                                          period=period.label()))
    if k:
        sites, site_sum = cov.camera_site_layer(conn, principal, region, a_period, k,
                                                candidates)
        JsLayer("sites", site_rows(sites, opts), name=t["sites"].format(k=len(sites))).add_to(m)
        rows += [("dot", st.SITE, f"{t['site']} ({len(sites)})"),
                 ("sw", st.SITE, t["site_sector"])]
        notes.append(t["sites_note"].format(
            solver=site_sum["solver"], k=k, cands=site_sum["candidates"],
            n=site_sum["newly_covered_incidents"], share=site_sum["newly_covered_share_pct"],
            area=f"{site_sum['gain_area_m2'] / 1e6:.3f}"))
        if site_sum["candidates_used"] != candidates:
            notes.append(t["sites_fallback"])
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright",
                      f"{t['legend']} · {t['share']} ({_unit_label(opts, unit)})"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def build_property_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                                unit: str = "community") -> folium.Map:
    """Property-management share choropleth against the 80 % / 90 % targets."""
    opts = opts.validated()
    cov.check_unit(unit)
    t = opts.t
    region = opts.region_code
    gdf = cov.property_share(conn, region, unit)
    title = f"{t['prop_title']} ({_unit_label(opts, unit)})"
    comps = gl.compounds(conn, region)
    if comps.empty or unit == "township":
        bounds = gl.region_bounds(conn, region)
    else:
        x0, y0, x1, y1 = (float(v) for v in comps.total_bounds)
        bounds = (x0 - 0.01, y0 - 0.01, x1 + 0.01, y1 + 0.01)
    m = new_map(opts, bounds, title)
    labels, colors = _choropleth(m, gdf, opts, "property", ["compounds", "managed"],
                                 [t["compounds_n"], t["managed"]],
                                 f"{t['share']} ({_unit_label(opts, unit)})")
    ml.add_admin(m, gl.admin_units(conn, region, ("township",)), opts, "township")
    ml.add_compounds(m, comps, opts)
    unmanaged = comps[comps["mgmt_mode"] == "none"]
    if not unmanaged.empty:
        folium.GeoJson(
            gl.to_geojson(shift(unmanaged, opts), ["code", "name", "address"]),
            name=f"{t['mode_none']} ({len(unmanaged)})",
            style_function=lambda _f: {"color": st.UNMANAGED_LINE, "weight": 4,
                                         "fillOpacity": 0.0},
            tooltip=Tooltip(["name", "address"], aliases=["", ""]),
        ).add_to(m)
    rows = [("sw", c, lab) for c, lab in zip(colors, labels, strict=True)]
    rows += [("sw", st.NO_DATA, t["no_data"])]
    rows += [("sw", st.MGMT_COLORS[k], t[f"mode_{k}"]) for k in st.MGMT_COLORS]
    total = int(gdf["compounds"].sum())
    managed = int(gdf["managed"].sum())
    share = managed / total * 100 if total else float("nan")
    notes = [f"{t['managed']}: {managed} / {total} ({share:.1f} %) · {t['target']} 80 % (2022), "
             "90 % (2023)", "mapclassify UserDefined"]
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright",
                      f"{t['legend']} · {t['share']} ({_unit_label(opts, unit)})"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m
