"""Mapbox vector tiles (``ST_AsMVT``) for layers too large for GeoJSON in a browser.

Tiles are in Web Mercator (EPSG:3857, the XYZ scheme of every web map). Incidents never carry
personal fields in tiles and are scoped to the caller like every other incident answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal, literal_column, select

from geo.auth.principal import Principal
from geo.errors import InvalidInput, NotFound
from geo.layers.registry import base_conditions, get_layer, where_all

MAX_ZOOM = 22
EXTENT = 4096
BUFFER = 64
TILE_PROPERTIES: dict[str, tuple[str, ...]] = {
    # a case code may be held by two counties: region_code names the case with it
    "incidents": ("code", "region_code", "category_code", "channel", "status", "urgency",
                  "reported_at", "due_at", "cell_code", "township_code"),
    "cells": ("code", "name", "kind", "parent_code", "township_code", "households"),
    "compounds": ("code", "name", "mgmt_mode", "households"),
    "cameras": ("gb_id", "name", "status", "bearing_deg", "range_m"),
    "camera_sectors": ("gb_id", "status", "range_m"),
}


def check_tile(z: int, x: int, y: int) -> None:
    """Raise InvalidInput for a zoom outside 0..22 and NotFound for x/y outside the matrix."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(
            f"缩放级别 z={z} 须在 0..{MAX_ZOOM} / zoom z={z} must be in 0..{MAX_ZOOM}", field="z"
        )
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise NotFound(
            f"瓦片 {z}/{x}/{y} 不存在: 该级别 x, y 须在 0..{n - 1} / tile {z}/{x}/{y} does not "
            f"exist: at zoom {z} x and y are in 0..{n - 1}", z=z, x=x, y=y,
        )


def tile(conn: Connection, layer_id: str, z: int, x: int, y: int, principal: Principal,
         start: dt.datetime | None = None, end: dt.datetime | None = None) -> bytes:
    """The MVT tile ``z/x/y`` of a layer (empty bytes when nothing is in it).

    ``start``/``end`` (inclusive) restrict a layer with a time property (incidents:
    ``reported_at``) to a period, as the ``datetime`` parameter of the OGC items does.
    """
    layer = get_layer(layer_id, tuple(TILE_PROPERTIES))
    check_tile(z, x, y)
    if (start is not None or end is not None) and not layer.datetime_column:
        raise InvalidInput(
            f"图层 {layer.id} 没有时间属性, 不能用 datetime / layer {layer.id} has no temporal "
            "property: drop the datetime parameter", field="datetime",
        )
    t = layer.table
    geom = layer.column("geometry")
    env = func.ST_TileEnvelope(z, x, y)
    margin_deg = 360.0 / (1 << z) * BUFFER / EXTENT
    props: list[Any] = []
    for name in TILE_PROPERTIES[layer.id]:
        kind = layer.properties.get(name)
        col = t.c[name]
        props.append((cast(col, String) if kind in ("datetime", "date") else col).label(name))
    conds = base_conditions(layer, principal)
    conds.append(geom.op("&&")(func.ST_Expand(func.ST_Transform(env, 4490), margin_deg)))
    if layer.datetime_column:
        when = layer.column(layer.datetime_column)
        if start is not None:
            conds.append(when >= start)
        if end is not None:
            conds.append(when <= end)
    rows = (
        select(
            func.ST_AsMVTGeom(func.ST_Transform(geom, 3857), env, EXTENT, BUFFER, True)
            .label("geom"),
            *props,
        )
        .where(where_all(conds))
        .subquery("mvtgeom")
    )
    stmt = select(
        func.ST_AsMVT(literal_column("mvtgeom"), literal(layer.id), EXTENT, literal("geom"))
    ).select_from(rows).where(rows.c.geom.is_not(None))
    data = conn.execute(stmt).scalar()
    return bytes(data) if data else b""
