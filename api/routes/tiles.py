"""Vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (Mapbox Vector Tile, Web Mercator XYZ).

Tiles are cached for a minute. A tile whose content depends on who asks (incidents, scoped to
the caller; any layer for a caller limited to some regions) says ``private`` and varies with the
credentials, so no shared cache hands one caller's tile to another; the others are public.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import EXPENSIVE, LOGGED_IN, ConnDep, CountyReadConnDep, PrincipalDep
from geo.auth.principal import Principal
from geo.layers.ogc import parse_datetime
from geo.layers.registry import get_layer
from geo.layers.tiles import TILE_PROPERTIES, check_tile, tile
from geo.mapdata.incidents import OVERVIEW_TOWNSHIP_MAX_ZOOM, overview_tile

router = APIRouter(tags=["tiles 矢量瓦片"], dependencies=[EXPENSIVE])

MVT = "application/vnd.mapbox-vector-tile"
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60"}
PRIVATE_CACHE = {"Cache-Control": "private, max-age=60", "Vary": "Authorization, Cookie"}


def cache_headers(layer_id: str, principal: Principal) -> dict[str, str]:
    """Caching of a tile: private when its content depends on the caller (incidents are scoped
    to the caller, every layer to a caller's regions: ``geo.layers.registry.base_conditions``)."""
    if get_layer(layer_id).incidents or principal.regions is not None:
        return PRIVATE_CACHE
    return PUBLIC_CACHE


@router.get(
    "/tiles/overview/{z}/{x}/{y}.pbf",
    dependencies=[LOGGED_IN],
    summary="Overview tile: incident counts per township or cell / 事件数概览瓦片",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "Mapbox vector tile, layer "
                     "incident_counts: one point per township (zoom <= "
                     f"{OVERVIEW_TOWNSHIP_MAX_ZOOM}) or basic cell with n and open"},
               204: {"description": "Empty tile"},
               404: {"description": "x/y outside the zoom's matrix"},
               422: {"description": "Zoom outside 0..22 or non-integer z/x/y"}},
)
def get_overview_tile(
    conn: ConnDep,
    principal: PrincipalDep,
    z: Annotated[int, Path(description="Zoom 0..22")],
    x: Annotated[int, Path(description="Column 0..2^z-1")],
    y: Annotated[int, Path(description="Row 0..2^z-1 (XYZ, north at 0)")],
    datetime: Annotated[str | None, Query(
        description="Reports in this RFC 3339 instant or interval, as in the OGC items; "
                    "default all time")] = None,
) -> Response:
    """Counts only (reports ``n`` and open cases ``open`` per township or cell), of the
    caller's counties: a province or prefecture screen at low zoom. Read from the rollups
    (:func:`geo.incidents.rollup.cell_counts_sql`) where the period allows."""
    check_tile(z, x, y)
    start, end = parse_datetime(datetime) if datetime else (None, None)
    if end is not None:  # the OGC end is inclusive, the rollups' end exclusive
        end += dt.timedelta(microseconds=1)
    regions = None if principal.regions is None else sorted(principal.regions)
    n, _total, _open, data = overview_tile(conn, z, x, y, start=start, end=end,
                                           regions=regions)
    headers = PRIVATE_CACHE if principal.regions is not None else PUBLIC_CACHE
    if not n:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.pbf",
    summary="Vector tile of a layer / 矢量瓦片",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "Mapbox vector tile"},
               204: {"description": "Empty tile"},
               404: {"description": "Unknown layer, or x/y outside the zoom's matrix"},
               422: {"description": "Zoom outside 0..22 or non-integer z/x/y"}},
)
def get_tile(
    conn: CountyReadConnDep,
    principal: PrincipalDep,
    layer: Annotated[str, Path(description=f"One of {', '.join(TILE_PROPERTIES)}")],
    z: Annotated[int, Path(description="Zoom 0..22")],
    x: Annotated[int, Path(description="Column 0..2^z-1")],
    y: Annotated[int, Path(description="Row 0..2^z-1 (XYZ, north at 0)")],
    datetime: Annotated[str | None, Query(
        description="Incidents reported in this RFC 3339 instant or interval "
                    "(2025-06-01/2025-06-30, ../2025-06-30), as in the OGC items")] = None,
) -> Response:
    """One tile; incidents are scoped to the caller and never carry personal fields."""
    start, end = parse_datetime(datetime) if datetime else (None, None)
    data = tile(conn, layer, z, x, y, principal, start, end)
    headers = cache_headers(layer, principal)
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MVT, headers=headers)
