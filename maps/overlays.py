"""Folium overlays built from :mod:`geo.mapdata.foundation` and :mod:`geo.mapdata.incidents`
frames (shared by the dispatch, cell and coverage maps). Every function takes the map and
:class:`maps.frame.MapOptions` and shifts geometries to the basemap's CRS (GCJ-02 for AMap)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from geo.mapdata import foundation as gl
from maps import styles as st
from maps.frame import (
    JsLayer,
    MapOptions,
    Tooltip,
    shift,
    shift_xy,
)

API_LINKS = [
    # (text key, URL template): a case is linked by its code and county (the numeric id is no
    # OGC item id: that link was a 404; a code may be held by two counties: the code alone was
    # a 409 for a prefecture), to the case with its history and allowed actions
    ("link_cell", "/cells/at?lon={lon}&lat={lat}"),
    ("link_item", "/incidents/{code}?region={region}"),
]


def _geojson(gdf: gpd.GeoDataFrame, columns: list[str], opts: MapOptions) -> dict[str, Any]:
    return gl.to_geojson(shift(gdf, opts), columns)


def add_admin(m: folium.Map, units: gpd.GeoDataFrame, opts: MapOptions, level: str,
              show: bool = True, labels: bool = True) -> folium.GeoJson:
    """Township or village/community outlines with a name tooltip; township names are also
    written on the map (``labels``)."""
    t = opts.t
    units = units.copy()
    if opts.lang == "en":
        units["label"] = [f"{en or zh}" for zh, en in zip(units["name"], units["name_en"],
                                                          strict=True)]
    else:
        units["label"] = units["name"]
    style = ({"color": st.TOWNSHIP_LINE, "weight": 3, "fill": False, "dashArray": None}
             if level == "township" else
             {"color": st.VILLAGE_LINE, "weight": 1.2, "fill": False, "dashArray": "4 3"})
    layer = folium.GeoJson(
        _geojson(units, ["code", "label"], opts),
        name=t["townships"] if level == "township" else t["villages"],
        style_function=lambda _f: style,
        highlight_function=None,
        tooltip=Tooltip(["label", "code"], aliases=[t["name"], t["code"]]),
        show=show, smooth_factor=1.0,
    )
    layer.add_to(m)
    if level == "township" and labels and not units.empty:
        add_labels(m, units, opts, t["township_names"], show=show)
    return layer


def add_labels(m: folium.Map, units: gpd.GeoDataFrame, opts: MapOptions, name: str,
               show: bool = True) -> JsLayer:
    """Names written on the map at each unit's point inside it (``label`` column): township
    names readable at county zoom, in a PNG as on screen."""
    points = shift(units[["label", "geometry"]], opts).geometry.representative_point()
    rows = [[round(float(p.y), 6), round(float(p.x), 6), str(lab)]
            for p, lab in zip(points, units["label"], strict=True)]
    layer = JsLayer("labels", {"rows": rows, "color": st.LABEL_TEXT, "halo": st.LABEL_HALO},
                    name=name, show=show)
    layer.add_to(m)
    return layer


def add_cells(m: folium.Map, cells: gpd.GeoDataFrame, opts: MapOptions, name: str | None = None,
              highlight: str | None = None, fill_opacity: float = 0.06) -> folium.GeoJson:
    """Cell outlines: code, name, village/community, worker on duty (masked phone) in tooltip."""
    t = opts.t
    cells = cells.copy()
    cells["worker"] = [
        f"{n or '—'} {p or ''}".strip() for n, p in zip(cells["worker_name"],
                                                       cells["worker_phone_masked"], strict=True)
    ]
    cells["parent"] = cells["parent_name"].fillna("")

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        props = feature["properties"]
        if props["code"] == highlight:
            return {"color": st.FOCUS, "weight": 4, "fillColor": st.FOCUS_FILL, "fillOpacity": 0.12}
        if props["kind"] == "dedicated":
            return {"color": st.DEDICATED_LINE, "weight": 2, "dashArray": "6 4",
                    "fillColor": st.DEDICATED_FILL,
                    "fillOpacity": 0.15}
        return {"color": st.CELL_LINE, "weight": 1.2, "fillColor": st.CELL_FILL,
                "fillOpacity": fill_opacity}

    layer = folium.GeoJson(
        _geojson(cells, ["code", "name", "kind", "parent", "worker"], opts),
        name=name or t["cells"], style_function=style,
        tooltip=Tooltip(["code", "name", "parent", "worker"],
                        aliases=[t["code"], t["name"], t["village"], t["worker"]]),
    )
    layer.add_to(m)
    return layer


def _text(value: Any) -> str | None:
    """A string, or None for missing values (pandas turns None into NaN)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)


def incident_rows(gdf: gpd.GeoDataFrame, opts: MapOptions) -> dict[str, Any]:
    """Compact incident table for ``Wangge.incidents`` (no personal fields).

    Repeated strings (category, status, department ...) are dictionary-encoded: the row holds
    an index into ``dicts[col]``. ``lat0``/``lon0`` (CGCS2000, for API links) are only sent when
    the basemap shifts the drawn position.
    """
    shifted = opts.base.overlay_crs != "EPSG:4490"
    coded = ("region", "cat", "status", "urgency", "dept", "channel", "desc", "cls")
    cols = ["lat", "lon", *(["lat0", "lon0"] if shifted else []), "id", "code", "region", "cat",
            "status", "urgency", "reported", "desc", "loc", "cell", "dept", "channel", "cls", "urg"]
    dicts: dict[str, list[Any]] = {c: [] for c in coded}
    index: dict[str, dict[Any, int]] = {c: {} for c in coded}

    def enc(col: str, value: Any) -> int:
        pos = index[col].get(value)
        if pos is None:
            pos = index[col][value] = len(dicts[col])
            dicts[col].append(value)
        return pos

    rows: list[list[Any]] = []
    if not gdf.empty:
        lon0 = gdf.geometry.x.to_numpy()
        lat0 = gdf.geometry.y.to_numpy()
        lon, lat = shift_xy(lon0, lat0, opts)
        cat_col = "category_name_en" if opts.lang == "en" else "category_name"
        tz = dt.timezone(dt.timedelta(hours=8))
        for i, r in enumerate(gdf.itertuples(index=False)):
            cls = "overdue" if r.overdue else ("open" if r.is_open else "closed")
            reported = r.reported_at.astimezone(tz)
            row: list[Any] = [round(float(lat[i]), 6), round(float(lon[i]), 6)]
            if shifted:
                row += [round(float(lat0[i]), 6), round(float(lon0[i]), 6)]
            row += [
                int(r.id), r.code, enc("region", r.region_code),
                enc("cat", _text(getattr(r, cat_col)) or r.category_name),
                enc("status", opts.status_name(r.status)),
                enc("urgency", opts.t.get(r.urgency, r.urgency)), f"{reported:%Y-%m-%d %H:%M}",
                enc("desc", _text(r.description)), _text(r.location_text), _text(r.cell_code),
                enc("dept", _text(r.department_name)), enc("channel", r.channel), enc("cls", cls),
                r.urgency == "urgent",
            ]
            rows.append(row)
    t = opts.t
    texts = {k: t[k] for k in ("status", "urgency", "reported", "description", "location",
                               "cell", "department", "channel", "overdue", "open_case")}
    return {"cols": cols, "rows": rows, "dicts": dicts, "styles": st.INCIDENT_STYLES, "t": texts,
            "links": [[t[k], url] for k, url in API_LINKS], "order": st.INCIDENT_ORDER,
            "urgentWeight": st.URGENT_WEIGHT}


def add_incidents(m: folium.Map, gdf: gpd.GeoDataFrame, opts: MapOptions, name: str,
                  show: bool = True, radius: int = 6, closed_radius: float | None = None
                  ) -> JsLayer:
    """Incident points coloured by overdue / open / closed, popups with the case summary
    (closed ones drawn with ``closed_radius`` when given)."""
    layer = JsLayer("incidents", incident_rows(gdf, opts),
                    {"radius": radius, "closedRadius": closed_radius}, name=name, show=show)
    layer.add_to(m)
    return layer


def point_rows(gdf: gpd.GeoDataFrame, opts: MapOptions) -> dict[str, Any]:
    """Anonymous incident points for ``Wangge.points`` (planners): position, category and
    status class only (the frame of :func:`geo.mapdata.incidents.incident_points`)."""
    dicts: dict[str, list[str]] = {"cat": [], "cls": []}
    index: dict[str, dict[str, int]] = {"cat": {}, "cls": {}}

    def enc(col: str, value: str) -> int:
        pos = index[col].get(value)
        if pos is None:
            pos = index[col][value] = len(dicts[col])
            dicts[col].append(value)
        return pos

    rows: list[list[Any]] = []
    if not gdf.empty:
        lon, lat = shift_xy(gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy(), opts)
        cat_col = "category_name_en" if opts.lang == "en" else "category_name"
        for i, r in enumerate(gdf.itertuples(index=False)):
            cls = "overdue" if r.overdue else ("open" if r.is_open else "closed")
            cat = _text(getattr(r, cat_col)) or _text(r.category_name) or r.category_code
            rows.append([round(float(lat[i]), 6), round(float(lon[i]), 6), enc("cat", cat),
                         enc("cls", cls)])
    t = opts.t
    return {"rows": rows, "dicts": dicts, "styles": st.INCIDENT_STYLES,
            "t": {k: t[k] for k in ("overdue", "open", "closed")}}


def add_points(m: folium.Map, gdf: gpd.GeoDataFrame, opts: MapOptions, name: str,
               show: bool = True, radius: int = 4, closed_radius: float | None = None
               ) -> JsLayer:
    """Incidents as anonymous points coloured by overdue / open / closed (no popup)."""
    layer = JsLayer("points", point_rows(gdf, opts),
                    {"radius": radius, "closedRadius": closed_radius}, name=name, show=show)
    layer.add_to(m)
    return layer


def add_counts(m: folium.Map, counts: list[dict[str, Any]], opts: MapOptions,
               show: bool = True) -> JsLayer:
    """Per-cell incident counts (aggregated in SQL) as proportional circles."""
    lon, lat = shift_xy([c["lon"] for c in counts], [c["lat"] for c in counts], opts)
    rows = [[round(float(lat[i]), 6), round(float(lon[i]), 6), c["cell_code"], c["name"],
             int(c["total"]), int(c["open"]), int(c["overdue"])] for i, c in enumerate(counts)]
    t = opts.t
    layer = JsLayer("counts", {"rows": rows, "colors": st.COUNT_COLORS,
                                "t": {k: t[k] for k in ("total", "open", "overdue")}},
                    name=t["incidents_counts"], show=show)
    layer.add_to(m)
    return layer


def camera_rows(cams: gpd.GeoDataFrame, opts: MapOptions) -> dict[str, Any]:
    """Compact camera table for ``Wangge.cameras`` (sectors drawn from bearing/fov/range)."""
    rows: list[list[Any]] = []
    if not cams.empty:
        lon, lat = shift_xy(cams.geometry.x.to_numpy(), cams.geometry.y.to_numpy(), opts)
        for i, r in enumerate(cams.itertuples(index=False)):
            bearing = None if r.bearing_deg is None or np.isnan(r.bearing_deg) else r.bearing_deg
            rows.append([round(float(lat[i]), 6), round(float(lon[i]), 6), r.gb_id, r.name,
                         bearing, r.fov_deg, r.range_m, r.status])
    t = opts.t
    return {"rows": rows, "styles": st.CAMERA_STYLES, "fill": st.CAMERA_FILL,
            "t": {k: t[k] for k in ("online", "offline", "fault", "nobearing")}}


def add_cameras(m: folium.Map, cams: gpd.GeoDataFrame, opts: MapOptions, show: bool = True,
                sectors: bool = True, min_zoom: int = 0) -> JsLayer:
    """Camera positions with their view sectors, coloured by status (drawn from ``min_zoom``);
    without ``sectors`` the positions only."""
    label = opts.t["cameras"] if sectors else opts.t["camera_points"]
    name = label + (opts.t["from_zoom"].format(z=min_zoom) if min_zoom else "")
    layer = JsLayer("cameras", camera_rows(cams, opts), {"sectors": sectors, "minZoom": min_zoom},
                    name=name, show=show)
    layer.add_to(m)
    return layer


def add_compounds(m: folium.Map, comps: gpd.GeoDataFrame, opts: MapOptions,
                  show: bool = True) -> folium.GeoJson | folium.FeatureGroup:
    """Compounds coloured by property-management mode (an empty layer when there are none)."""
    t = opts.t
    if comps.empty or "mgmt_mode" not in comps.columns:
        group = folium.FeatureGroup(name=t["compounds"], show=show)
        group.add_to(m)
        return group
    comps = comps.copy()
    comps["mode"] = [t[f"mode_{x}"] for x in comps["mgmt_mode"]]
    comps["company"] = comps["company_name"].fillna("")
    layer = folium.GeoJson(
        _geojson(comps, ["code", "name", "mgmt_mode", "mode", "company", "households"], opts),
        name=t["compounds"],
        style_function=lambda f: {"color": st.MGMT_COLORS[f["properties"]["mgmt_mode"]],
                                  "weight": 1.5, "fillColor": st.MGMT_COLORS[f["properties"]
                                                                          ["mgmt_mode"]],
                                  "fillOpacity": 0.45},
        tooltip=Tooltip(["name", "mode", "company", "households"],
                        aliases=[t["name"], t["compounds"], "", t["households"]]),
        show=show,
    )
    layer.add_to(m)
    return layer


def search_entries(index: list[dict[str, Any]], opts: MapOptions) -> list[dict[str, Any]]:
    """Search index with bounds shifted to the basemap's CRS."""
    if opts.base.overlay_crs == "EPSG:4490" or not index:
        return index
    b = np.array([e["bounds"] for e in index], dtype=float)
    x0, y0 = shift_xy(b[:, 0], b[:, 1], opts)
    x1, y1 = shift_xy(b[:, 2], b[:, 3], opts)
    return [{**e, "bounds": [round(float(x0[i]), 6), round(float(y0[i]), 6),
                             round(float(x1[i]), 6), round(float(y1[i]), 6)]}
            for i, e in enumerate(index)]


def patrol_rows(patrols: list[dict[str, Any]], opts: MapOptions,
                tolerance: float = 0.00001) -> dict[str, Any]:
    """Compact patrol tracks for ``Wangge.patrols``: per patrol the worker's name (as the
    caller may read it), start and end time (CST), km, and the line as [lat, lon] pairs
    shifted to the basemap's CRS and simplified to about a metre (``tolerance`` degrees).

    ``patrols`` are items of :func:`geo.patrols.views.list_patrols` read in CGCS2000; who may
    see them was decided by :mod:`geo.patrols.access` before (raw tracks)."""
    import shapely

    t = opts.t
    rows: list[list[Any]] = []
    for p in patrols:
        track = p.get("track")
        if not track or len(track.get("coordinates") or []) < 2:
            continue
        line = shapely.simplify(shapely.linestrings(track["coordinates"]), tolerance)
        xy = shapely.get_coordinates(line)
        lon, lat = shift_xy(xy[:, 0], xy[:, 1], opts)
        name = p["worker"].get("name") or p["worker"].get("code") or ""
        start = str(p["started_at"])[11:16]
        end = str(p["ended_at"])[11:16] if p.get("ended_at") else t["under_way"]
        rows.append([str(name), start, end, round(float(p["length_m"]) / 1000, 2),
                     [[round(float(a), 6), round(float(b), 6)]
                      for a, b in zip(lat, lon, strict=True)]])
    return {"rows": rows, "color": st.PATROL, "t": {"km": t["km"], "track": t["patrol_track"]}}


def add_patrols(m: folium.Map, patrols: list[dict[str, Any]], opts: MapOptions, day: dt.date,
                show: bool = False) -> JsLayer:
    """Patrol tracks (raw: command centre and admins) as lines, the worker's name, times and
    km in each tooltip; one entry in the layer control, off by default."""
    data = patrol_rows(patrols, opts)
    layer = JsLayer("patrols", data, {}, name=opts.t["patrols_today"].format(
        n=len(data["rows"]), day=f"{day:%m-%d}"), show=show)
    layer.add_to(m)
    return layer
