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
from typing import Any
from urllib.parse import quote, urlencode

import folium
from sqlalchemy import Connection

from geo.auth.principal import Principal
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
    VectorTileLayer,
    legend_html,
    new_map,
    shift_xy,
)

LIMIT_OPEN = 1000
LIMIT_CLOSED = 500
LIVE_MIN_ZOOM = 14
TILES_MIN_ZOOM = 12
CAMERA_MIN_ZOOM = 13
LIMIT_VIEW = 3000


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
    ml.add_admin(m, admin[admin["level"] == "township"], opts, "township")
    ml.add_admin(m, admin[admin["level"] != "township"], opts, "village")
    cells = gl.cells(conn, region, on=period.as_of.date(), principal=principal)
    ml.add_cells(m, cells, opts)

    counts = gi.incident_counts_by_cell(conn, principal, region, period, opts.overdue_days)
    ml.add_counts(m, counts, opts, show=False)
    heat = gi.incident_heat(conn, principal, region, period)
    if heat:
        lon, lat = shift_xy([h[1] for h in heat], [h[0] for h in heat], opts)
        LocalHeatMap([[round(float(lat[i]), 5), round(float(lon[i]), 5), h[2]]
                      for i, h in enumerate(heat)],
                     name=t["heat"], show=False, radius=14, blur=12, min_opacity=0.3,
                     max_zoom=14).add_to(m)

    # Open incidents of any age still open at the end of the period (the overdue list), then
    # the closed ones reported in the period.
    open_period = dataclasses.replace(period, start=period.start.replace(year=1970))
    closed_inc, n_closed = gi.incidents(conn, principal, region, period, closed_only=True,
                                        limit=limit_closed, overdue_days=opts.overdue_days)
    ml.add_incidents(m, closed_inc, opts, t["closed"] + " (" + period.label() + ")", radius=4)
    open_inc, n_open = gi.incidents(conn, principal, region, open_period, open_only=True,
                                    limit=limit_open, overdue_days=opts.overdue_days)
    ml.add_incidents(m, open_inc, opts, t["incidents_open"])  # drawn above the closed ones

    query = urlencode({"from": f"{period.start:%Y-%m-%d}",
                       "to": f"{(period.end - dt.timedelta(days=1)).date()}",
                       "lang": opts.lang, "basemap": opts.basemap,
                       "overdue_days": f"{opts.overdue_days:g}", "region": region})
    tiles = opts.base.overlay_crs == "EPSG:4490"  # tiles cannot follow a GCJ-02 shift
    if tiles:
        add_incident_tiles(m, opts, period, [open_inc, closed_inc])
    JsLayer("live", {"url": f"/maps/data/incidents?{query}"}, {"minZoom": LIVE_MIN_ZOOM},
            name=t["live"].format(z=LIVE_MIN_ZOOM), show=not tiles).add_to(m)

    cams = gl.cameras(conn, region, with_sector=False)
    ml.add_cameras(m, cams, opts, show=True, min_zoom=CAMERA_MIN_ZOOM)

    m.add_child(JsCall("search", ml.search_entries(gl.search_index(conn, region), opts),
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
        ("line", st.TOWNSHIP_LINE, t["townships"]),
        ("line", st.VILLAGE_LINE, t["villages"]),
        ("sw", st.CELL_FILL, t["cells"]),
        ("sw", st.DEDICATED_FILL, t["dedicated"]),
        ("dot", st.CAMERA_STYLES["online"]["color"], f"{t['cameras']} ({t['online']})"),
        ("dot", st.CAMERA_STYLES["offline"]["color"], f"{t['cameras']} ({t['offline']})"),
        ("dot", st.CAMERA_STYLES["fault"]["color"], f"{t['cameras']} ({t['fault']})"),
    ]
    notes = [f"{t['period']}: {period.label()}",
             f"{t['incidents_open']}: {shown_open}",
             f"{t['closed']}: {shown_closed}",
             t["overdue_rule"].format(days=f"{opts.overdue_days:g}"), t["counts_note"]]
    if tiles:
        notes.append(t["tiles_note"].format(z=TILES_MIN_ZOOM))
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomright", t["legend"]))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    if opts.refresh:
        m.add_child(JsCall("refresh", opts.refresh))
    return m


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


def add_incident_tiles(m: folium.Map, opts: MapOptions, period: gi.Period,
                       known: list[Any]) -> VectorTileLayer:
    """Every incident of the period as vector tiles (from zoom :data:`TILES_MIN_ZOOM`).

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
    data = {
        "url": tile_url(period), "closed": list(gi.CLOSED_STATUSES),
        "asof": period.as_of.isoformat(), "odays": opts.overdue_days,
        "styles": st.INCIDENT_STYLES, "cats": cats,
        "statuses": {s: opts.status_name(s) for s in (*gi.OPEN_STATUSES, *gi.CLOSED_STATUSES)},
        "urgencies": {u: t[u] for u in ("urgent", "normal")},
        "item": dict(ml.API_LINKS)["link_item"],
        "t": {k: t[k] for k in ("status", "urgency", "reported", "cell", "channel", "overdue",
                                "link_item")},
    }
    layer = VectorTileLayer("tiles", data, {"minZoom": TILES_MIN_ZOOM},
                            name=t["live_tiles"].format(z=TILES_MIN_ZOOM), show=True)
    layer.add_to(m)
    return layer
