"""Vector tiles: ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (Mapbox Vector Tile, Web Mercator XYZ)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.deps import EXPENSIVE, ConnDep, PrincipalDep
from geo.layers.ogc import parse_datetime
from geo.layers.tiles import TILE_PROPERTIES, tile

router = APIRouter(tags=["tiles 矢量瓦片"], dependencies=[EXPENSIVE])

MVT = "application/vnd.mapbox-vector-tile"


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
    conn: ConnDep,
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
    if not data:
        return Response(status_code=204, headers={"Cache-Control": "max-age=60"})
    return Response(data, media_type=MVT, headers={"Cache-Control": "max-age=60"})
