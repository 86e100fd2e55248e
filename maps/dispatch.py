"""The command centre's dispatch map (``GET /maps/dispatch``).

Built for a county's worth of data: polygons simplified in PostGIS, incidents of the period
aggregated per cell and snapped to a grid for the heat map *in SQL* (so the page grows with
the number of cells, not of incidents), and at most ``limit_open`` open and ``limit_closed``
closed incidents drawn one by one (overdue and urgent first). Cameras travel as compact rows
(position, bearing, field of view, range) and their sectors are drawn in the browser.

The heaviest layer, every incident of the period, is not in the page at all: from zoom
:data:`TILES_MIN_ZOOM` the browser loads it as Mapbox vector tiles from
``/tiles/incidents/{z}/{x}/{y}.pbf?datetime=<period>`` (``ST_AsMVT``, scoped to the caller like
every incident answer) and draws them with Leaflet.VectorGrid. Below that zoom a county's
incidents would make tiles of tens of thousands of points, so the low-zoom view stays the
aggregation above (per-cell counts, heat grid, capped layers). With the AMap basemap the
overlays are shifted to GCJ-02, which tiles cut in Web Mercator from CGCS2000 cannot follow:
there the zoomed-in view is the ``/maps/data/incidents?bbox=`` layer (shifted on the server).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import folium
import pandas as pd
from sqlalchemy import Connection

from geo.auth.principal import Principal
from geo.boundaries.sets import active_set_id
from geo.crs.transforms import transform_xy
from geo.mapdata import foundation as gl
from geo.mapdata import incidents as gi
from maps import overlays as ml
from maps import styles as st
from maps.frame import (
    JsCall,
    JsLayer,
    LocalHeatMap,
    MapOptions,
    Tooltip,
    VectorTileLayer,
    legend_html,
    new_map,
    shift,
    shift_xy,
)
from maps.wall import scope_figures, wall_figures

LIMIT_OPEN = 1000
LIMIT_CLOSED = 500
LIVE_MIN_ZOOM = 14
TILES_MIN_ZOOM = 12
CAMERA_MIN_ZOOM = 13
SECTOR_MIN_ZOOM = 16
LIMIT_VIEW = 3000


LIST_TO_LOCATE = 20  # cases listed in the dispatch map's review list (待定位)
COUNT_TO_LOCATE = 200  # counted up to this, then "200+"


def build_dispatch_map(
    conn: Connection,
    principal: Principal,
    opts: MapOptions,
    limit_open: int = LIMIT_OPEN,
    limit_closed: int = LIMIT_CLOSED,
) -> folium.Map:
    """Build the dispatch map for ``opts`` (period, basemap, language, refresh)."""
    opts = opts.validated()
    t = opts.t
    region = opts.region_code
    period = gi.resolve_period(conn, region, opts.start, opts.end)
    m = new_map(opts, gl.region_bounds(conn, region), t["dispatch_title"],
                f"{t['period']}: {period.first_day} – {period.last_day}")

    admin = gl.admin_units(conn, region, ("township", "village", "community"))
    if admin.empty:  # a county just added (wangge region add): its outline, no townships yet
        admin = gl.admin_units(conn, region, ("county",))
        ml.add_admin(m, admin, opts, "township")
    else:
        ml.add_admin(m, admin[admin["level"] == "township"], opts, "township")
        ml.add_admin(m, admin[admin["level"] != "township"], opts, "village")
    # a county without an active boundary set (just added, no cells yet) has no cells, no
    # counts per cell and nothing to search: its outline and zero counters
    has_grid = active_set_id(conn, region) is not None
    if has_grid:
        cells = gl.cells(conn, region, on=period.as_of.date(), principal=principal)
        ml.add_cells(m, cells, opts)
        counts = gi.incident_counts_by_cell(conn, principal, region, period, opts.overdue_days)
        ml.add_counts(m, counts, opts, show=False)
    heat = gi.incident_heat(conn, principal, region, period)
    if heat:
        # no max_zoom: for leaflet.heat it is the zoom of full intensity, for the layer control
        # a visibility limit (the checkbox was disabled from zoom 15 while the heat still drew)
        lon, lat = shift_xy([h[1] for h in heat], [h[0] for h in heat], opts)
        LocalHeatMap([[round(float(lat[i]), 5), round(float(lon[i]), 5), h[2]]
                      for i, h in enumerate(heat)],
                     name=t["heat"], show=False, radius=14, blur=12, min_opacity=0.3
                     ).add_to(m)

    # Open incidents of any age still open at the end of the period (the overdue list), then
    # the closed ones reported in the period.
    open_period = dataclasses.replace(period, start=period.start.replace(year=1970))
    closed_inc, n_closed = gi.incidents(conn, principal, region, period, closed_only=True,
                                        limit=limit_closed, overdue_days=opts.overdue_days)
    open_inc, n_open = gi.incidents(conn, principal, region, open_period, open_only=True,
                                    limit=limit_open, overdue_days=opts.overdue_days)

    query = urlencode({"from": f"{period.start:%Y-%m-%d}",
                       "to": f"{(period.end - dt.timedelta(days=1)).date()}",
                       "lang": opts.lang, "basemap": opts.basemap,
                       "overdue_days": f"{opts.overdue_days:g}", "region": region})
    tiles = opts.base.overlay_crs == "EPSG:4490"  # tiles cannot follow a GCJ-02 shift
    add_incident_layer(m, opts, period, open_inc, closed_inc, tiles, query)

    cams = gl.cameras(conn, region, with_sector=False)
    ml.add_cameras(m, cams, opts, show=True, min_zoom=CAMERA_MIN_ZOOM, sectors=False)
    # the view sectors only on demand and at street level, drawn below the incidents
    JsLayer("cameras", ml.camera_rows(cams, opts),
            {"sectors": True, "points": False, "minZoom": SECTOR_MIN_ZOOM},
            name=t["sectors"].format(z=SECTOR_MIN_ZOOM), show=False).add_to(m)

    add_patrols_today(conn, principal, m, opts)

    m.add_child(JsCall("search", ml.search_entries(
                           gl.search_index(conn, region) if has_grid else [], opts),
                       {k: t[k] for k in ("placeholder", "go", "notfound")}, st.FOCUS))
    last_day = (period.end - dt.timedelta(days=1)).date()
    m.add_child(JsCall("period", {"from": f"{period.start:%Y-%m-%d}", "to": f"{last_day}"},
                       {k: t[k] for k in ("from", "to", "apply")}))
    shown_open = t["shown_of"].format(shown=len(open_inc), total=n_open)
    shown_closed = t["shown_of"].format(shown=len(closed_inc), total=max(n_closed, 0))
    rows = [
        ("dot", st.INCIDENT_STYLES["overdue"]["fill"], t["overdue"]),
        ("dot", st.INCIDENT_STYLES["open"]["fill"], t["open_not_overdue"]),
        ("dot", st.INCIDENT_STYLES["closed"]["fill"], t["closed"]),
        ("ring", st.INCIDENT_STYLES["open"]["color"], t["urgent_ring"]),
        ("line", st.TOWNSHIP_LINE, t["townships"]),
        ("line", st.VILLAGE_LINE, t["villages"]),
        ("sw", st.CELL_FILL, t["cells"]),
        ("sw", st.DEDICATED_FILL, t["dedicated"]),
        ("dot", st.CAMERA_STYLES["online"]["color"], f"{t['camera_points']} ({t['online']})"),
        ("dot", st.CAMERA_STYLES["offline"]["color"],
         f"{t['camera_points']} ({t['offline']})"),
        ("dot", st.CAMERA_STYLES["fault"]["color"], f"{t['camera_points']} ({t['fault']})"),
    ]
    notes = [f"{t['period']}: {period.label()}",
             f"{t['incidents_open']}: {shown_open}",
             f"{t['closed']}: {shown_closed}",
             t["overdue_rule"].format(days=f"{opts.overdue_days:g}"), t["counts_note"]]
    if tiles:
        notes.append(t["tiles_note"].format(z=TILES_MIN_ZOOM))
    wall = bool(opts.extra.get("wall"))
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright", t["legend"]))
    to_locate = _to_locate(conn, principal, region, opts)
    if to_locate:
        m.add_child(JsCall("legend", to_locate[1], "topleft", to_locate[0]))
    folium.LayerControl(collapsed=wall, position="topright").add_to(m)
    m.add_child(JsCall("dispatch", live_config(conn, principal, opts, period, wall)))
    return m


def add_patrols_today(conn: Connection, principal: Principal, m: folium.Map,
                      opts: MapOptions) -> bool:
    """Today's (CST) patrol tracks of the region's workers, a layer off by default; only
    for a caller who may read raw tracks (:func:`geo.patrols.access.may_see_raw`: the command
    centre and admins of the region; nobody else gets the layer, not even empty). Workers are
    named as the workers' field policy lets the caller read them."""
    from geo import localtime
    from geo.patrols import access, views

    if not access.may_see_raw(principal, opts.region_code):
        return False
    day = localtime.now().date()
    got = views.list_patrols(conn, principal, opts.region_code, day, day, "EPSG:4490",
                             limit=views.MAX_PATROLS)
    ml.add_patrols(m, got["items"], opts, day, show=False)
    return True


def _to_locate(conn: Connection, principal: Principal, region: str, opts: MapOptions
               ) -> tuple[str, str] | None:
    """The review list: open cases waiting for a place (``needs_location``: no coordinates
    and no confident address match), newest first, each opening the side panel (where the
    address matcher's suggestion fills the locate form). None when there are none."""
    from html import escape

    from geo.incidents import views

    items = views.list_incidents(conn, principal, region, ["needs_location"], limit=COUNT_TO_LOCATE
                                 + 1, compact=True, newest=True)
    if not items:
        return None
    n = str(len(items)) if len(items) <= COUNT_TO_LOCATE else f"{COUNT_TO_LOCATE}+"
    items = items[:LIST_TO_LOCATE]
    t = opts.t
    rows = "".join(
        f"<li><a href='#' class='wangge-open-case' data-code='{escape(str(i['code']))}' "
        f"data-region='{escape(str(i.get('region_code') or ''))}'>"
        f"{escape(str(i['code']))}</a> {escape(str(i.get('category_name') or ''))}"
        f"{' · ' + escape(str(i['location_text'])) if i.get('location_text') else ''}</li>"
        for i in items)
    return (t["to_locate"].format(n=n),
            f"<div class='note'>{escape(t['to_locate_note'])}</div>"
            f"<ol class='wangge-to-locate'>{rows}</ol>")


def live_config(conn: Connection, principal: Principal, opts: MapOptions, period: gi.Period,
                wall: bool, counties: list[tuple[str, str]] | None = None,
                bounds: tuple[float, float, float, float] | None = None,
                scope: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``Wangge.dispatch`` needs: the event stream, the side panel, the wall screen's
    figures (inline, then from ``/maps/dispatch/figures``), texts and the one palette.

    ``counties`` (several, with their ``bounds`` and ``scope``, their figures when already
    read): the wall screen of the whole scope (:func:`maps.wall.scope_figures`, refetched
    from ``/maps/dispatch/figures`` without ``region``); the event stream is the caller's
    whole scope already (``/events``), each event naming its county (``countyNames``)."""
    t = opts.t
    keys = ("panel", "close_panel", "open_case", "wall_title", "today_intake", "open_n",
            "overdue_n", "urgent_n", "closing_rate", "newest", "most_overdue", "ack", "alarm",
            "alerts_many", "alerts_newest",
            "live_on", "live_off", "live_logout", "by_township", "township", "overdue", "urgent",
            "done", "status", "urgency", "reported", "cell", "channel", "link_item",
            "county", "by_county", "wall_title_scope")
    events = opts.extra.get("events")
    if events and opts.base.overlay_crs != "EPSG:4490":  # live markers shift like the rest
        events += "?crs=" + quote(opts.base.overlay_crs)
    if counties:
        figures = "/maps/dispatch/figures"
        initial = (scope or scope_figures(conn, principal, counties)) if wall else None
    else:
        figures = "/maps/dispatch/figures?region=" + quote(opts.region_code)
        initial = wall_figures(conn, principal, opts.region_code) if wall else None
        bounds = gl.region_bounds(conn, opts.region_code)
    return {
        "events": events, "lang": opts.lang,
        # the case by code and county (a code may be held by two counties: Wangge.caseUrl)
        "panel": "/maps/dispatch/case/{code}?region={region}&lang=" + opts.lang,
        "figures": figures, "byCounty": bool(counties),
        # a live event names its county on the wall of several (region_code -> name, as the
        # lists of maps.wall.scope_figures name it); a county's wall names none
        "countyNames": dict(counties) if counties else {},
        "wall": wall, "refresh": opts.refresh,
        "bounds": [round(float(v), 6) for v in bounds or ()],
        "initial": initial,
        "closed": list(gi.CLOSED_STATUSES), "styles": st.INCIDENT_STYLES,
        "alarm": st.ALARM, "wallColors": st.WALL, "t": {k: t[k] for k in keys},
    }


def incidents_in_view(
    conn: Connection,
    principal: Principal,
    opts: MapOptions,
    bbox: tuple[float, float, float, float],
    limit: int = LIMIT_VIEW,
) -> dict[str, Any]:
    """Every incident of the period (and every open one) inside ``bbox`` given in the map's
    coordinates (GCJ-02 for AMap), as the compact rows of ``Wangge.incidents``."""
    opts = opts.validated()
    x0, y0, x1, y1 = gl.check_bbox(bbox)
    if opts.base.overlay_crs != "EPSG:4490":
        xs, ys = transform_xy([x0, x1], [y0, y1], opts.base.overlay_crs, "EPSG:4490")
        x0, x1, y0, y1 = float(xs[0]), float(xs[1]), float(ys[0]), float(ys[1])
    period = gi.resolve_period(conn, opts.region_code, opts.start, opts.end)
    gdf, total = gi.incidents(conn, principal, opts.region_code, period, limit=limit,
                              overdue_days=opts.overdue_days, bbox=(x0, y0, x1, y1))
    out = ml.incident_rows(gdf, opts)
    out["total"] = total
    return out


def tile_url(period: gi.Period) -> str:
    """URL template of the incident vector tiles of ``period`` (RFC 3339 interval, inclusive)."""
    last = period.end - dt.timedelta(microseconds=1)
    interval = f"{period.start.isoformat()}/{last.isoformat()}"
    return "/tiles/incidents/{z}/{x}/{y}.pbf?datetime=" + quote(interval, safe="")


def add_incident_layer(m: folium.Map, opts: MapOptions, period: gi.Period,
                       open_inc: Any, closed_inc: Any, tiles: bool, query: str
                       ) -> VectorTileLayer:
    """The one incident layer of the dispatch map (one entry in the layer control).

    Below :data:`TILES_MIN_ZOOM` the capped markers (at most ``limit_open`` open and
    ``limit_closed`` closed ones); from that zoom every incident of the period as vector tiles
    and no capped marker (never both). With a GCJ-02 basemap (no tiles) the capped markers
    up to :data:`LIVE_MIN_ZOOM`, then every incident in view from ``/maps/data/incidents``.
    Drawn in their own pane above the camera sectors, overdue over urgent over open over
    closed; cases changed since the page opened are redrawn on top (``Wangge.dispatch``).
    """
    t = opts.t
    frames = [f for f in (closed_inc, open_inc) if not f.empty]
    capped = ml.incident_rows(pd.concat(frames) if frames else open_inc, opts)
    data: dict[str, Any] = {"capped": capped}
    if tiles:
        data["tiles"] = tiles_data(opts, period, [open_inc, closed_inc])
        data["switch"] = TILES_MIN_ZOOM
    else:
        data["bbox"] = {"url": f"/maps/data/incidents?{query}"}
        data["switch"] = LIVE_MIN_ZOOM
    layer = VectorTileLayer("incidentLayer", data, {"radius": 6, "closedRadius": 4},
                            name=t["incidents_layer"].format(z=data["switch"]), show=True)
    layer.add_to(m)
    return layer


def tiles_data(opts: MapOptions, period: gi.Period, known: list[Any]) -> dict[str, Any]:
    """What ``Wangge.tiles`` needs for the incident vector tiles of the period.

    ``known`` are incident frames already loaded for the page: their category names label the
    tiles' category codes (tiles carry codes only).
    """
    t = opts.t
    cat_col = "category_name_en" if opts.lang == "en" else "category_name"
    cats: dict[str, str] = {}
    for gdf in known:
        if not gdf.empty:
            for code, name, zh in zip(gdf["category_code"], gdf[cat_col], gdf["category_name"],
                                      strict=True):
                cats[str(code)] = str(name if isinstance(name, str) and name else zh)
    return {
        "url": tile_url(period), "closed": list(gi.CLOSED_STATUSES),
        "asof": period.as_of.isoformat(), "odays": opts.overdue_days,
        "styles": st.INCIDENT_STYLES, "cats": cats,
        "statuses": {s: opts.status_name(s) for s in (*gi.OPEN_STATUSES, *gi.CLOSED_STATUSES)},
        "urgencies": {u: t[u] for u in ("urgent", "normal")},
        "item": dict(ml.API_LINKS)["link_item"],
        "t": {k: t[k] for k in ("status", "urgency", "reported", "cell", "channel", "overdue",
                                "link_item", "open_case")},
    }


def build_prefecture_map(conn: Connection, principal: Principal, opts: MapOptions,
                         counties: list[tuple[str, str]],
                         county_link: Callable[[str], str] | None = None) -> folium.Map:
    """The dispatch map of a caller whose scope holds several counties (a prefecture or a
    province command centre, ``/maps/dispatch`` without ``?region=``): every county's outline
    and its counters (today's intake, open, overdue, closing rate this month: the wall
    screen's, :func:`maps.wall.wall_figures`, no count of its own). A click on a county zooms
    to it; its name opens that county's dispatch map (``?region=CODE``, or
    ``county_link(code)``: the command line's file of that county, written beside this one).

    With ``wall`` in ``opts.extra`` (``?wall=1``) it is the wall screen of the whole scope:
    the outlines and boxes, the side panel of counters by county and the lists across
    counties (:func:`maps.wall.scope_figures`), live from ``/events`` (every county of the
    caller's scope)."""
    from html import escape

    opts = opts.validated()
    t = opts.t
    frames = [gl.admin_units(conn, code, ("county",)) for code, _name in counties]
    units = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    x0, y0, x1, y1 = (float(v) for v in units.total_bounds)
    wall = bool(opts.extra.get("wall"))
    m = new_map(opts, (x0, y0, x1, y1), t["wall_title_scope" if wall else "prefecture_title"],
                " · ".join(name for _code, name in counties))
    scope = scope_figures(conn, principal, counties)
    figures = {r["code"]: r for r in scope["counties"]}
    names = dict(counties)
    keep = {"lang": opts.lang, "basemap": opts.basemap}

    def link(code: str) -> str:
        if county_link is not None:
            return county_link(code)
        return "/maps/dispatch?" + urlencode({"region": code, **keep})

    def counters(code: str) -> list[tuple[str, str, str]]:
        f = figures[code]
        rate = f.get("closing_rate")
        return [("today", t["today_intake"], f"{f['today']}"),
                ("open", t["open_n"], f"{f['open']}"),
                ("overdue", t["overdue_n"], f"{f['overdue']}"),
                ("rate", t["closing_rate"], "—" if rate is None else f"{rate:.1%}")]

    colours = {"today": st.LABEL_TEXT, "open": st.COUNT_COLORS["open"],
               "overdue": st.COUNT_COLORS["overdue"], "rate": st.COUNT_COLORS["closed"]}
    shown = units.copy()
    shown["label"] = [names.get(str(c), str(n)) for c, n in zip(shown["code"], shown["name"],
                                                               strict=True)]
    shown["figures"] = [" · ".join(f"{lab} {val}" for _k, lab, val in counters(str(c)))
                        for c in shown["code"]]
    folium.GeoJson(
        gl.to_geojson(shift(shown, opts), ["code", "label", "figures"]), name=t["counties"],
        style_function=lambda _f: {"color": st.TOWNSHIP_LINE, "weight": 3,
                                   "fillColor": st.CELL_FILL, "fillOpacity": 0.12},
        highlight_function=lambda _f: {"weight": 5, "fillOpacity": 0.25},
        tooltip=Tooltip(["label", "figures"], aliases=[t["county"], t["by_county"]]),
        zoom_on_click=True, smooth_factor=1.0,
    ).add_to(m)
    points = shift(shown[["code", "geometry"]], opts).geometry.representative_point()
    for code, pt in zip(shown["code"], points, strict=True):
        code = str(code)
        body = "".join(
            f"<div class='wangge-county-{k}'><span style='color:{colours[k]}'>{escape(val)}"
            f"</span> {escape(lab)}</div>" for k, lab, val in counters(code))
        html = (f"<div class='wangge-box wangge-county' data-region='{escape(code)}'>"
                f"<a href='{escape(link(code))}' title='{escape(t['open_county'])}'>"
                f"<b>{escape(names.get(code, code))}</b></a>{body}</div>")
        folium.Marker([round(float(pt.y), 6), round(float(pt.x), 6)],
                      icon=folium.DivIcon(html=html, icon_size=(150, 96),
                                          icon_anchor=(75, 48))).add_to(m)

    head = "".join(f"<th>{escape(lab)}</th>" for _k, lab, _v in counters(counties[0][0]))
    rows = "".join(
        f"<tr data-region='{escape(code)}'><td><a href='{escape(link(code))}'>"
        f"{escape(name)}</a></td>"
        + "".join(f"<td style='color:{colours[k]};text-align:right'>{escape(v)}</td>"
                  for k, _lab, v in counters(code)) + "</tr>"
        for code, name in counties)
    table = (f"<table class='wangge-counties'><tr><th>{escape(t['county'])}</th>{head}</tr>"
             f"{rows}</table><div class='note'>{escape(t['counties_note'])}</div>")
    m.add_child(JsCall("legend", table, "topleft", t["by_county"]))
    legend = [("line", st.TOWNSHIP_LINE, t["counties"]),
              ("dot", colours["open"], t["open_n"]),
              ("dot", colours["overdue"], t["overdue_n"]),
              ("dot", colours["rate"], t["closing_rate"])]
    m.add_child(JsCall("legend", legend_html("", legend, [t["counties_note"]]), "bottomright",
                       t["legend"]))
    folium.LayerControl(collapsed=wall, position="topright").add_to(m)
    if wall:
        period = gi.resolve_period(conn, opts.region_code, opts.start, opts.end)
        m.add_child(JsCall("dispatch", live_config(conn, principal, opts, period, wall,
                                                   counties, (x0, y0, x1, y1), scope)))
    return m
