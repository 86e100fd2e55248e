"""The grid worker's map of one cell (``GET /maps/cells/{code}``), readable on a phone.

The cell (highlighted) and its neighbours' outlines, the cell's compounds coloured by property
management mode, its cameras with their sectors, its open incidents, and, given ``lon``/``lat``
(in any CRS accepted by ``geo.crs.names.normalize_crs``, e.g. GCJ-02 from a phone's map app),
a "where am I" marker saying which cell the point is in and how far from its edge.
"""

from __future__ import annotations

import folium
from sqlalchemy import Connection

from geo import localtime
from geo.auth.principal import Principal
from geo.crs.validate import to_cgcs2000_point
from geo.errors import NotFound, WanggeError
from geo.lookup.postgis import cell_at
from geo.mapdata import foundation as gl
from geo.mapdata import incidents as gi
from maps import overlays as ml
from maps import styles as st
from maps.frame import (
    JsCall,
    MapOptions,
    legend_html,
    new_map,
    shift_xy,
)

PAD_DEG = 0.002


def build_cell_map(
    conn: Connection,
    principal: Principal,
    opts: MapOptions,
    code: str,
    here: tuple[float | None, float | None] | None = None,
    crs: str = "EPSG:4490",
    limit: int = 500,
) -> folium.Map:
    """Build the map of cell ``code``; ``here`` is an optional ``(lon, lat)`` in ``crs``.

    Raises
    ------
    NotFound
        Unknown cell code (the message says where to find codes).
    InvalidInput
        Bad options or a bad "where am I" point.
    """
    opts = opts.validated()
    t = opts.t
    region = opts.region_code
    if not gl.cell_exists(conn, region, code):
        raise NotFound(
            f"网格 {code} 不存在 / no grid cell {code} in region {region}: use a 15-digit code "
            "such as the ones in GET /maps/dispatch tooltips or GET /cells/at", code=code)
    here_ll = None
    if here is not None:
        lon, lat = here
        if lon is None or lat is None:
            from geo.errors import InvalidInput

            raise InvalidInput("lon 和 lat 需同时给出 / give both lon and lat", field="lon")
        here_ll = to_cgcs2000_point(lon, lat, crs)
    cells = gl.cells(conn, region, near_code=code, simplify_m=1.0, principal=principal)
    target = cells[cells["code"] == code]
    x0, y0, x1, y1 = (float(v) for v in target.total_bounds)
    if here_ll is not None:
        x0, x1 = min(x0, here_ll[0]), max(x1, here_ll[0])
        y0, y1 = min(y0, here_ll[1]), max(y1, here_ll[1])
    title = f"{t['cell_title']} {code} {target.iloc[0]['name']}"
    m = new_map(opts, (x0 - PAD_DEG, y0 - PAD_DEG, x1 + PAD_DEG, y1 + PAD_DEG), title,
                f"{t['data_as_of']} {localtime.now():%Y-%m-%d %H:%M}")
    ml.add_cells(m, cells, opts, name=f"{t['cells']} / {t['neighbours']}", highlight=code,
                 fill_opacity=0.03)
    comps = gl.compounds(conn, region, within_cells=[code])
    ml.add_compounds(m, comps, opts)
    cams = gl.cameras(conn, region, within_cells=[code], with_sector=False)
    ml.add_cameras(m, cams, opts)
    inc, total = gi.incidents(conn, principal, region, None, open_only=True, cell_codes=[code],
                              limit=limit)
    ml.add_incidents(m, inc, opts, t["incidents_open"], radius=8)
    if here_ll is not None:
        label = t["here"]
        try:
            hit = cell_at(conn, here_ll[0], here_ll[1], region, with_geometry=False)
            label += f" · {t['cell']} {hit.code} · {hit.distance_to_edge_m:.0f} m"
        except WanggeError:
            label += " · —"
        hx, hy = shift_xy([here_ll[0]], [here_ll[1]], opts)
        m.add_child(JsCall("here", round(float(hy[0]), 7), round(float(hx[0]), 7), label))
    rows = [("sw", st.MGMT_COLORS[k], t[f"mode_{k}"]) for k in st.MGMT_COLORS]
    rows += [("dot", st.INCIDENT_STYLES["overdue"]["fill"], t["overdue"]),
             ("dot", st.INCIDENT_STYLES["open"]["fill"], t["open_not_overdue"]),
             ("dot", st.CAMERA_STYLES["online"]["color"], t["cameras"]),
             ("line", st.FOCUS, f"{t['cell']} {code}"), ("line", st.CELL_LINE, t["neighbours"])]
    notes = [f"{t['incidents_open']}: {t['shown_of'].format(shown=len(inc), total=total)}"]
    m.add_child(JsCall("legend", legend_html("", rows, notes), "bottomleft", t["legend"]))
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    return m
