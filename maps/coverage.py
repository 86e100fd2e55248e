"""Planners' coverage maps: camera coverage and property-management coverage.

Choropleths per cell, village/community or township (``unit``) with a classed legend that says
how the classes were made. Camera coverage: fixed breaks a person reads at a glance, the same on
every map: "0 % (no camera view)" white, under 5 % nearly white (a rural cell a camera's corner
touches is not "covered"), then 5-25, 25-50, 50-75 and 75 % or more on a sequential violet
scale. Property management: classes at the targets (50/80/90 %), with the seed's
targets and the urban clear-out status in the legend. The camera map also shows grid gaps and
overlaps, the incidents of the period that no online camera sees (planners: as anonymous
points), Gi* hot spots as outlines over the coverage fill, and recommended camera sites whose
numbered badges never overlap. Figures come from :mod:`geo.mapdata.analysis` (the planners'
analyses).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import parse_qsl, urlencode

import folium
import geopandas as gpd
import numpy as np
from sqlalchemy import Connection

from geo.analysis.property import target_result
from geo.auth.principal import Principal
from geo.db.tables.vocab import TARGET_RESULT
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
    fit_bounds,
    legend_html,
    new_map,
    shift,
    shift_xy,
)

LIMIT_OUTSIDE = 2000
CAMERA_ZOOM = 14  # camera positions from this zoom (the town's streets), not at county zoom
DEFAULT_SITES = 10
SPOT_CONFIDENCE = {3: "99 %", 2: "95 %", 1: "90 %"}
SPOT_LEGEND = {3: "line-solid", 2: "line-dashed", 1: "line-dotted"}
# Camera coverage classes: 0 on its own, then these upper bounds (shares), then the rest.
COVERAGE_BREAKS = [0.05, 0.25, 0.5, 0.75]
PROPERTY_BINS = [0.5, 0.8, 0.9]


def pct(share: float) -> str:
    """A share as a percentage with enough decimals to tell small classes apart."""
    p = share * 100
    if 0 < p < 0.01:  # a corner of a sector in a large cell: not "0.00 %", which reads as none
        return "< 0.01"
    return f"{p:.0f}" if p >= 10 else (f"{p:.1f}" if p >= 1 else f"{p:.2f}")


def classify(values: np.ndarray, kind: str, zero_label: str = "0 %"
             ) -> tuple[np.ndarray, list[str], list[str]]:
    """Class index per value (-1 for NaN), class labels and colours.

    ``property``: classes at the targets (< 50 %, 50-80 %, 80-90 %, >= 90 %). ``camera``:
    fixed breaks that read the same on every map and period (:data:`COVERAGE_BREAKS`): exactly
    0 (``zero_label``, uncovered), under 5 % (next to nothing), 5-25, 25-50, 50-75 and 75 % or
    more.
    """
    ok = ~np.isnan(values)
    idx = np.full(values.shape, -1, dtype=int)
    if kind == "property":
        if ok.any():
            idx[ok] = np.searchsorted(PROPERTY_BINS, values[ok], side="right")
        labels = ["< 50 %", "50 – 80 %", "80 – 90 %", "≥ 90 %"]
        return idx, labels, list(st.TARGET_SCALE)
    idx[ok & (values <= 0)] = 0
    pos = ok & (values > 0)
    idx[pos] = 1 + np.searchsorted(COVERAGE_BREAKS, values[pos], side="right")
    cuts = [f"{b * 100:g}" for b in COVERAGE_BREAKS]
    labels = [zero_label, f"> 0 – < {cuts[0]} %",
              *(f"{a} – < {b} %" for a, b in zip(cuts, cuts[1:], strict=False)),
              f"≥ {cuts[-1]} %"]
    return idx, labels, [st.COVERAGE_ZERO, *st.COVERAGE_SCALE]


def _choropleth(m: folium.Map, gdf: gpd.GeoDataFrame, opts: MapOptions, kind: str,
                fields: list[str], aliases: list[str], name: str) -> tuple[list[str], list[str]]:
    values = gdf["share"].to_numpy(dtype=float)
    idx, labels, colors = classify(values, kind, opts.t["cov_zero"])
    gdf = gdf.copy()
    gdf["cls"] = idx
    gdf["share_pct"] = ["—" if math.isnan(v) else f"{pct(v)} %" for v in values]

    def style(f: dict[str, Any]) -> dict[str, Any]:
        c = f["properties"]["cls"]
        return {"color": st.UNIT_LINE, "weight": 0.6, "fillOpacity": st.CHOROPLETH_OPACITY,
                "fillColor": st.NO_DATA if c < 0 else colors[c],
                "className": f"wangge-coverage cls{c}"}

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


def add_hotspots(m: folium.Map, spots: gpd.GeoDataFrame, opts: MapOptions,
                 shares: dict[str, str] | None = None) -> folium.GeoJson | folium.FeatureGroup:
    """Cells that are significant Gi* hot spots, as outlines over the coverage fill (no fill:
    the coverage class stays readable inside): solid, dashed and dotted for 99/95/90 %
    confidence; an empty layer when there are none. ``shares``: coverage per cell code, for
    the tooltip."""
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
    spots["share_pct"] = [(shares or {}).get(c, "") for c in spots["code"]]
    spots["gi_bin"] = spots["gi_bin"].astype(int)

    def style(f: dict[str, Any]) -> dict[str, Any]:
        b = int(f["properties"]["gi_bin"])
        return {"color": st.HOT_LINE if b > 0 else st.COLD_LINE, **st.SPOT_LINES[abs(b)],
                "fill": True, "fillOpacity": 0.0, "lineJoin": "round",
                "className": "wangge-hotspot " + ("hot" if b > 0 else "cold")}

    cols = ["code", "name", "kind", "conf", "incidents", "per_km2_s", "z_s", "p_s", "share_pct"]
    layer = folium.GeoJson(
        gl.to_geojson(shift(spots, opts), [*cols, "gi_bin"]), name=t["hotspots"],
        style_function=style, highlight_function=None,
        tooltip=Tooltip(cols, aliases=[t["code"], t["name"], "", t["confidence"],
                                       t["incidents_n"], t["per_km2"], t["gi_z"], t["gi_p"],
                                       t["share"]]))
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


def _add_outside_incidents(m: folium.Map, conn: Connection, principal: Principal,
                           opts: MapOptions, period: gi.Period) -> tuple[int, int, bool]:
    """Incidents of the period no online camera sees: with their case summary for the roles
    that read incidents, as anonymous points for planners (the layer services' rule).
    Returns (drawn, total, anonymous)."""
    t = opts.t
    if gi.points_only(principal):
        pts, total = gi.incident_points(conn, principal, opts.region_code, period,
                                        limit=LIMIT_OUTSIDE, overdue_days=opts.overdue_days,
                                        outside_cameras=True)
        ml.add_points(m, pts, opts, t["outside"], radius=4, closed_radius=2.5)
        return len(pts), total, True
    outside, total = gi.incidents(conn, principal, opts.region_code, period,
                                  limit=LIMIT_OUTSIDE, overdue_days=opts.overdue_days,
                                  outside_cameras=True)
    ml.add_incidents(m, outside, opts, t["outside"], radius=4, closed_radius=2.5)
    return len(outside), total, False


def build_camera_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                              unit: str = "cell", k: int = DEFAULT_SITES,
                              candidates: str = "both", hotspots: bool = True) -> folium.Map:
    """Camera coverage choropleth + gaps/overlaps + incidents outside every camera view,
    Gi* hot spots (outlines) and ``k`` recommended camera sites (0: none) with their sectors
    and gained coverage, over the period of ``opts`` (default: the 92 days ending with the
    latest report). Both analyses are :mod:`geo.analysis`'s (hot spots with 199
    permutations)."""
    opts = opts.validated()
    cov.check_unit(unit)
    if not 0 <= k <= cov.MAX_MAP_SITES:
        raise InvalidInput(f"k 须在 0..{cov.MAX_MAP_SITES} (0 = 不显示建议点位) / k must be within "
                           f"0..{cov.MAX_MAP_SITES} (0 = no recommended sites)", field="k")
    t = opts.t
    region = opts.region_code
    period = gi.resolve_period(conn, region, opts.start, opts.end, default_days=92)
    a_period = analysis_period(period)
    title = f"{t['cam_cov_title']} ({_unit_label(opts, unit)})"
    subtitle = f"{t['period']}: {a_period.first_day} – {a_period.last_day}"
    bounds = gl.region_bounds(conn, region)
    m = new_map(opts, bounds, title, subtitle)
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
    blind = add_camera_compounds(m, gl.compounds(conn, region),
                                 cov.blind_compound_codes(conn, region), opts)
    cams = gl.cameras(conn, region, statuses=("online",), with_sector=False)
    ml.add_cameras(m, cams, opts, show=True, sectors=False, min_zoom=CAMERA_ZOOM)
    shown, n_out, anonymous = _add_outside_incidents(m, conn, principal, opts, period)
    rows = [("sw", c, lab) for c, lab in zip(colors, labels, strict=True)]
    rows += [("sw", st.FOCUS, f"{t['gap']} / {t['overlap']} ({len(gaps)})")]
    rows += [("line-dashed", st.FOCUS, t["blind_compounds"].format(n=blind[0])),
             ("line", st.UNIT_LINE, t["seen_compounds"].format(n=blind[1]))]
    rows += [("dot", st.CAMERA_STYLES["online"]["color"],
              t["camera_points"] + t["from_zoom"].format(z=CAMERA_ZOOM))]
    rows += [("dot", st.INCIDENT_STYLES[s]["fill"], f"{t['outside']}: {t[s]}")
             for s in ("overdue", "open", "closed")]
    notes = [t["cov_classes"],
             f"{t['outside']}: {t['shown_of'].format(shown=shown, total=n_out)}"]
    if anonymous:
        notes.append(t["points_note"])
    if hotspots:
        spots, spot_sum = cov.hotspot_layer(conn, principal, region, a_period)
        shares = ({str(c): f"{pct(v)} %" for c, v in zip(gdf["code"], gdf["share"], strict=True)
                   if not math.isnan(v)} if unit == "cell" else None)
        add_hotspots(m, spots, opts, shares)
        rows += [(SPOT_LEGEND[b], st.HOT_LINE, f"{t['hot']} {SPOT_CONFIDENCE[b]} "
                  f"({int((spots['gi_bin'] == b).sum())})") for b in (3, 2, 1)]
        notes.append(t["hot_note"].format(perm=spot_sum["permutations"], period=period.label(),
                                          min=spot_sum["min_incidents"]))
        if spot_sum["hot_below_min_incidents"]:
            notes.append(t["hot_dropped"].format(n=spot_sum["hot_below_min_incidents"],
                                                 min=spot_sum["min_incidents"]))
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
        notes.append(t["sites_layout"])
        if site_sum["candidates_used"] != candidates:
            notes.append(t["sites_fallback"])
    xlsx = "/analysis/camera-coverage?" + urlencode({
        "format": "xlsx", "unit": unit, "from": a_period.first_day.isoformat(),
        "to": a_period.last_day.isoformat(), "lang": opts.lang})
    m.add_child(JsCall("legend", legend_html("", rows, notes, downloads(opts, xlsx),
                                             t["download"]), "bottomright",
                      f"{t['legend']} · {t['share']} ({_unit_label(opts, unit)})"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(JsCall("fitClear", fit_bounds(bounds, opts)))
    return m


def downloads(opts: MapOptions, xlsx: str) -> list[tuple[str, str]]:
    """The page's download links: this map as a PNG (the same URL with ``format=png``) and the
    analysis behind it as a workbook; none in a standalone file (no server to ask)."""
    page = opts.extra.get("page_url")
    if not page:
        return []
    path, _, query = str(page).partition("?")
    params = [(k, v) for k, v in parse_qsl(query) if k != "format"] + [("format", "png")]
    return [(opts.t["dl_png"], f"{path}?{urlencode(params)}"), (opts.t["dl_xlsx"], xlsx)]


def add_camera_compounds(m: folium.Map, comps: gpd.GeoDataFrame, blind: set[str],
                         opts: MapOptions) -> tuple[int, int]:
    """Compounds as outlines over the coverage fill: dashed "look here" magenta where no online
    camera sees any of it, thin grey where one does. Returns (blind, seen) counts."""
    if comps.empty:
        return 0, 0
    comps = comps.copy()
    comps["blind"] = [c in blind for c in comps["code"]]
    comps["view"] = [opts.t["cov_zero"] if b else "" for b in comps["blind"]]
    folium.GeoJson(
        gl.to_geojson(shift(comps, opts), ["code", "name", "households", "blind", "view"]),
        name=opts.t["compounds_cov"],
        style_function=lambda f: ({"color": st.FOCUS, "weight": 2.5, "dashArray": "5 3",
                                   "fillOpacity": 0.0} if f["properties"]["blind"] else
                                  {"color": st.UNIT_LINE, "weight": 1.0, "fillOpacity": 0.0}),
        tooltip=Tooltip(["name", "households", "view"],
                        aliases=[opts.t["name"], opts.t["households"], ""]),
    ).add_to(m)
    n_blind = int(comps["blind"].sum())
    return n_blind, len(comps) - n_blind


def build_property_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                                unit: str = "community") -> folium.Map:
    """Property-management share choropleth, classed at the targets; the region's targets
    (80 % / 90 % of the seed, or the ``pm_target`` table) with whether they are met, and the
    seed's first target, no unmanaged compound in the urban area, with the compounds left."""
    opts = opts.validated()
    cov.check_unit(unit)
    t = opts.t
    region = opts.region_code
    gdf = cov.property_share(conn, region, unit)
    goals = cov.property_targets(conn, principal, region)
    title = f"{t['prop_title']} ({_unit_label(opts, unit)})"
    comps = gl.compounds(conn, region)
    if comps.empty or unit == "township":
        bounds = gl.region_bounds(conn, region)
    else:
        x0, y0, x1, y1 = (float(v) for v in comps.total_bounds)
        bounds = (x0 - 0.01, y0 - 0.01, x1 + 0.01, y1 + 0.01)
    m = new_map(opts, bounds, title, f"{t['data_as_of']} {goals['as_of']}")
    labels, colors = _choropleth(m, gdf, opts, "property", ["compounds", "managed"],
                                 [t["compounds_n"], t["managed"]],
                                 f"{t['share']} ({_unit_label(opts, unit)})")
    ml.add_admin(m, gl.admin_units(conn, region, ("township",)), opts, "township")
    ml.add_compounds(m, comps, opts)
    unmanaged = comps if comps.empty else comps[comps["mgmt_mode"] == "none"]  # (no columns)
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
    rows += [("line", st.UNMANAGED_LINE, t["unmanaged_n"].format(n=len(unmanaged)))]
    total = int(gdf["compounds"].sum())
    managed = int(gdf["managed"].sum())
    share = managed / total * 100 if total else float("nan")

    def state(item: dict[str, Any]) -> str:
        return TARGET_RESULT.label(target_result(item), opts.lang)

    urban = goals["urban_clear_out"]
    targets = "; ".join(t["target_item"].format(by=g["by"], pct=f"{g['target_pct']:g}",
                                                state=state(g)) for g in goals["targets"])
    notes = [f"{t['managed']}: {managed} / {total} ({share:.1f} %)",
             t["clear_out"].format(from_=urban["from"][:7], state=state(urban),
                                   n=urban["remaining"]),
             t["targets_line"].format(targets=targets),
             t["prop_classes"]]
    xlsx = "/analysis/property-management?" + urlencode({
        "format": "xlsx", "unit": unit if unit in ("community", "township") else "community",
        "lang": opts.lang})
    m.add_child(JsCall("legend", legend_html("", rows, notes, downloads(opts, xlsx),
                                             t["download"]), "bottomright",
                      f"{t['legend']} · {t['share']} ({_unit_label(opts, unit)})"))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(JsCall("fitClear", fit_bounds(bounds, opts)))
    return m


PATROL_DAYS = 7  # "not patrolled for N days": the planners' default N (as GET /analysis/patrols)
LIST_NOT_PATROLLED = 20  # cells listed by name in the legend's list


def build_patrol_coverage_map(conn: Connection, principal: Principal, opts: MapOptions,
                              days: int = PATROL_DAYS, to: dt.date | None = None
                              ) -> folium.Map:
    """Which basic cells were patrolled in the ``days`` days up to ``to`` and which were not:
    patrolled cells in the patrol colour, the others as "nothing covers it" with a dashed
    "look here" outline, each with its name, km and patrols of the period or the date of its
    last patrol ("从未巡查" when none). Aggregates only, never a track (planners may read
    these: :func:`geo.patrols.access.check_aggregates`, a grid worker her own cells and
    patrols); the figures are those of ``GET /analysis/patrols`` for the same days
    (:func:`geo.patrols.analysis.patrol_analysis`, the one definition of "not patrolled").

    ``to`` defaults to the day of the region's latest patrol, at most today (CST), stated in
    the title, as the dispatch map's period ends with the latest report.
    """
    from sqlalchemy import text as sql

    from geo import localtime
    from geo.patrols import access, analysis

    opts = opts.validated()
    t = opts.t
    region = opts.region_code
    access.check_aggregates(principal, region)
    today = localtime.now().date()
    if to is not None:
        localtime.check_year(to, "to")  # before any arithmetic (review round 8: 0001-01-01)
    if to is None:
        latest = conn.execute(sql(
            "SELECT max(COALESCE(ended_at, started_at)) FROM patrol WHERE region_code = :r"),
            {"r": region}).scalar()
        to = min(today, localtime.local_date(latest)) if latest is not None else today
    since = to - dt.timedelta(days=days - 1)
    own = access.own_worker(conn, principal)[0] if principal.role == "worker" else None
    figures = analysis.patrol_analysis(conn, principal, region, since, to, days, own)
    idle = {c["cell_code"]: c for c in figures["cells_not_patrolled"]}
    km: dict[str, float] = {}
    trips: dict[str, int] = {}
    for item in figures["items"]:
        km[item["cell_code"]] = km.get(item["cell_code"], 0.0) + item["length_km"]
        trips[item["cell_code"]] = trips.get(item["cell_code"], 0) + item["patrols"]

    cells = gl.cells(conn, region, on=to, kinds=("basic",), principal=principal)
    if principal.role == "worker":
        cells = cells[cells["code"].isin(sorted(principal.cell_codes))]
    cells = cells.copy()
    cells["patrolled"] = [c not in idle for c in cells["code"]]
    cells["km"] = [f"{km.get(c, 0.0):.2f}" for c in cells["code"]]
    cells["patrols"] = [trips.get(c, 0) for c in cells["code"]]

    def last(code: str) -> str:
        cell = idle.get(code)
        if cell is None:
            return t["patrolled"].format(days=days)
        if not cell["last_patrol_at"]:
            return t["never_patrolled"]
        return f"{cell['last_patrol_at'][:10]} ({cell['days_since']} {t['days_since']})"

    cells["last"] = [last(c) for c in cells["code"]]
    bounds: tuple[float, float, float, float] = gl.region_bounds(conn, region)
    if not cells.empty:
        x0, y0, x1, y1 = (float(v) for v in cells.total_bounds)
        bounds = (x0, y0, x1, y1)
    title = t["patrol_title"]
    m = new_map(opts, bounds, title, t["patrol_note"].format(
        to=to.isoformat(), days=days, since=since.isoformat()))
    folium.GeoJson(
        gl.to_geojson(shift(cells, opts), ["code", "name", "parent_name", "patrolled", "km",
                                           "patrols", "last"]),
        name=f"{title} ({t['unit_cell']})",
        style_function=lambda f: (
            {"color": st.UNIT_LINE, "weight": 0.6, "fillColor": st.PATROL,
             "fillOpacity": st.CHOROPLETH_OPACITY, "className": "wangge-patrol-cell patrolled"}
            if f["properties"]["patrolled"] else
            {"color": st.FOCUS, "weight": 2, "dashArray": "5 3", "fillColor": st.COVERAGE_ZERO,
             "fillOpacity": st.CHOROPLETH_OPACITY,
             "className": "wangge-patrol-cell not-patrolled"}),
        tooltip=Tooltip(["name", "parent_name", "code", "km", "patrols", "last"],
                        aliases=[t["name"], t["village"], t["code"],
                                 t["patrol_km_period"].format(days=days), t["patrols_n"],
                                 t["last_patrol"]]),
    ).add_to(m)
    ml.add_admin(m, gl.admin_units(conn, region, ("township",)), opts, "township")

    n_idle = int((~cells["patrolled"]).sum()) if not cells.empty else 0
    rows = [("sw", st.PATROL, t["patrolled"].format(days=days)),
            ("sw", st.COVERAGE_ZERO, t["not_patrolled"].format(days=days)),
            ("line-dashed", st.FOCUS, t["not_patrolled"].format(days=days)),
            ("line", st.TOWNSHIP_LINE, t["townships"])]
    notes = [f"{t['patrolled'].format(days=days)}: {len(cells) - n_idle} / {len(cells)}",
             f"{t['not_patrolled'].format(days=days)}: {n_idle}"]
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright",
                       f"{t['legend']} · {title}"))
    listed = cells[~cells["patrolled"]]
    if not listed.empty:
        from html import escape

        order = sorted(listed.itertuples(index=False),
                       key=lambda r: (-(idle[r.code]["days_since"] or 10**6), r.code))
        items = "".join(f"<li>{escape(str(r.name or r.code))} · {escape(r.last)}</li>"
                        for r in order[:LIST_NOT_PATROLLED])
        more = "<li>…</li>" if len(order) > LIST_NOT_PATROLLED else ""
        m.add_child(JsCall("legend", f"<ol class='wangge-not-patrolled'>{items}{more}</ol>",
                           "topleft", t["not_patrolled_list"].format(days=days, n=n_idle)))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(JsCall("fitClear", fit_bounds(bounds, opts)))
    return m
