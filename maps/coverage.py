"""Planners' coverage maps: camera coverage and property-management coverage.

Choropleths per cell, village/community or township (``unit``), classed with mapclassify
(camera coverage: Fisher-Jenks natural breaks; property management: the seed's targets
50/80/90 %), with a classed legend. The camera map also shows grid gaps and overlaps and the
incidents of the period that no online camera sees; the property map highlights unmanaged
compounds. Figures come from :mod:`geo.analysis.maplayers` (the planners' analyses).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import folium
import geopandas as gpd
import mapclassify
import numpy as np
from sqlalchemy import Connection

from geo import map_layers as gl
from geo.access import Principal
from geo.analysis import maplayers as cov
from maps import layers as ml
from maps.base import INCIDENT_STYLES, MGMT_COLORS, JsCall, MapOptions, legend_html, new_map, shift

PALETTE = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]  # low -> high (camera)
PALETTE_GOOD = ["#d73027", "#fc8d59", "#d9ef8b", "#1a9850"]  # below 50/80/90 %, >= 90 %
NO_DATA = "#bdbdbd"
LIMIT_OUTSIDE = 2000


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
        return idx, labels, PALETTE_GOOD
    vals = values[ok]
    k = int(min(5, max(1, len(np.unique(vals)))))
    if k < 2:
        if ok.any():
            idx[ok] = 0
        hi = float(vals.max()) if vals.size else 0.0
        return idx, [f"{pct(hi)} %"], PALETTE[:1]
    with warnings.catch_warnings():  # "Numba not installed": the pure-Python path is fine
        warnings.simplefilter("ignore", UserWarning)
        mc = mapclassify.FisherJenks(vals, k=k)
    idx[ok] = mc.yb
    lo = float(vals.min())
    labels = []
    for b in mc.bins:
        labels.append(f"{pct(lo)} – {pct(float(b))} %")
        lo = float(b)
    colors = PALETTE if k == 5 else [PALETTE[round(i * 4 / (k - 1))] for i in range(k)]
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
        return {"color": "#455a64", "weight": 0.8, "fillOpacity": 0.75,
                "fillColor": NO_DATA if c < 0 else colors[c]}

    folium.GeoJson(gl.to_geojson(shift(gdf, opts), ["code", "name", "cls", "share_pct", *fields]),
                   name=name, style_function=style,
                   tooltip=folium.GeoJsonTooltip(["code", "name", "share_pct", *fields],
                                                 aliases=[opts.t["code"], opts.t["name"],
                                                          opts.t["share"], *aliases],
                                                 sticky=True)).add_to(m)
    return labels, colors


def _unit_label(opts: MapOptions, unit: str) -> str:
    return opts.t[f"unit_{unit}"]


def build_camera_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                              unit: str = "cell") -> folium.Map:
    """Camera coverage choropleth + gaps/overlaps + incidents outside every camera view."""
    opts = opts.validated()
    cov.check_unit(unit)
    t = opts.t
    region = opts.region_code
    period = gl.resolve_period(conn, region, opts.start, opts.end, default_days=92)
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
            style_function=lambda f: {"color": "#d500f9" if f["properties"]["kind"] == "gap"
                                      else "#000000", "weight": 3, "fillOpacity": 0.6,
                                      "fillColor": "#d500f9"},
            tooltip=folium.GeoJsonTooltip(["label", "codes", "area"], aliases=["", "", ""]),
        ).add_to(m)
    cams = gl.cameras(conn, region, statuses=("online",), with_sector=False)
    ml.add_cameras(m, cams, opts, show=False)
    outside, n_out = gl.incidents(conn, principal, region, period, limit=LIMIT_OUTSIDE,
                                  outside_cameras=True)
    ml.add_incidents(m, outside, opts, t["outside"], radius=4)
    rows = [("sw", c, lab) for c, lab in zip(colors, labels, strict=True)]
    rows += [("sw", "#d500f9", f"{t['gap']} / {t['overlap']} ({len(gaps)})")]
    rows += [("dot", INCIDENT_STYLES[k]["fill"], f"{t['outside']}: {t[k]}")
             for k in ("overdue", "open", "closed")]
    notes = [f"{t['period']}: {period.label()}",
             f"{t['outside']}: {t['shown_of'].format(shown=len(outside), total=n_out)}",
             "mapclassify FisherJenks"]
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
            style_function=lambda _f: {"color": "#b71c1c", "weight": 4, "fillOpacity": 0.0},
            tooltip=folium.GeoJsonTooltip(["name", "address"], aliases=["", ""]),
        ).add_to(m)
    rows = [("sw", c, lab) for c, lab in zip(colors, labels, strict=True)]
    rows += [("sw", NO_DATA, t["no_data"])]
    rows += [("sw", MGMT_COLORS[k], t[f"mode_{k}"]) for k in MGMT_COLORS]
    total = int(gdf["compounds"].sum())
    managed = int(gdf["managed"].sum())
    share = managed / total * 100 if total else float("nan")
    notes = [f"{t['managed']}: {managed} / {total} ({share:.1f} %) · {t['target']} 80 % (2022), "
             "90 % (2023)", "mapclassify UserDefined"]
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright",
                      f"{t['legend']} · {t['share']} ({_unit_label(opts, unit)})"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m
