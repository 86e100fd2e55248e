"""Spatial questions: within a distance, k nearest, intersecting a geometry, inside a unit,
and a cell's summary. Answers are GeoJSON in CGCS2000 longitude/latitude (EPSG:4490)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse

from api.deps import EXPENSIVE, ConnDep, PrincipalDep, SettingsDep
from api.reveal import audit_revealed_features
from api.schemas import ok
from api.schemas import places as schemas_places
from geo.crs.validate import to_cgcs2000_point
from geo.errors import InvalidInput
from geo.layers import spatial

router = APIRouter(tags=["spatial 空间查询"])

GEOJSON = "application/geo+json"
DEFAULT_INSIDE = "cells,compounds,cameras,incidents"

Lon = Annotated[float, Query(description="Longitude (x) in `crs`", examples=[111.13])]
Lat = Annotated[float, Query(description="Latitude (y) in `crs`", examples=[38.46])]
Crs = Annotated[
    str, Query(description="CRS of the input point: EPSG:4490 (default), EPSG:4326, GCJ02, "
               "BD09 or any EPSG code. Answers are EPSG:4490 lon/lat.")
]


@router.get(
    "/spatial/{layer}/within",
    dependencies=[EXPENSIVE],
    summary="Features within a distance of a point / 距离范围内的要素",
    responses=ok(schemas_places.SpatialAnswer) |
       {200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown layer"},
               422: {"description": "bad point, CRS or distance"}}, response_model=None)
def within(
    request: Request,
    conn: ConnDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    layer: Annotated[str, Path(description=f"One of {', '.join(spatial.SPATIAL_LAYERS)}")],
    lon: Lon,
    lat: Lat,
    distance_m: Annotated[float, Query(description="Radius in metres (geodesic), <= 50 km")],
    crs: Crs = "EPSG:4490",
    limit: Annotated[int, Query(description="Maximum features (capped)")] = 1000,
) -> JSONResponse:
    """Features of ``layer`` within ``distance_m`` metres, nearest first, with ``distance_m``."""
    lon_c, lat_c = to_cgcs2000_point(lon, lat, crs)
    body = spatial.within_distance(conn, layer, lon_c, lat_c, distance_m, principal, limit,
                                   settings.max_page_size)
    audit_revealed_features(request, principal, body)
    return JSONResponse(body, media_type=GEOJSON)


@router.get(
    "/spatial/{layer}/nearest",
    dependencies=[EXPENSIVE],
    summary="The k nearest features to a point / 最近的 k 个要素",
    responses=ok(schemas_places.SpatialAnswer) |
       {200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown layer"},
               422: {"description": "bad point, CRS or k"}}, response_model=None)
def nearest(
    request: Request,
    conn: ConnDep,
    principal: PrincipalDep,
    layer: Annotated[str, Path(description=f"One of {', '.join(spatial.NEAREST_LAYERS)}")],
    lon: Lon,
    lat: Lat,
    k: Annotated[int, Query(description="How many (1..1000)")] = 5,
    crs: Crs = "EPSG:4490",
) -> JSONResponse:
    """The ``k`` nearest cameras, cells, compounds or incidents, ordered by geodesic metres.

    Uses the index (``<->`` KNN) for candidates, then the exact distance on the ellipsoid.
    """
    lon_c, lat_c = to_cgcs2000_point(lon, lat, crs)
    body = spatial.nearest(conn, layer, lon_c, lat_c, k, principal)
    audit_revealed_features(request, principal, body)
    return JSONResponse(body, media_type=GEOJSON)


_INTERSECTS_EXAMPLE = {
    "geometry": {"type": "Polygon", "coordinates": [[[111.12, 38.45], [111.14, 38.45],
                                                     [111.14, 38.47], [111.12, 38.47],
                                                     [111.12, 38.45]]]},
    "crs": "EPSG:4490",
}


@router.post(
    "/spatial/{layer}/intersects",
    dependencies=[EXPENSIVE],
    summary="Features intersecting a posted GeoJSON geometry / 与给定几何相交的要素",
    responses=ok(schemas_places.SpatialAnswer) |
       {200: {"content": {GEOJSON: {}}}, 404: {"description": "unknown layer"},
               422: {"description": "not GeoJSON, or invalid geometry (GEOS reason)"}},
               response_model=None)
def intersects(
    request: Request,
    layer: Annotated[str, Path(description=f"One of {', '.join(spatial.SPATIAL_LAYERS)}")],
    conn: ConnDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    body: Annotated[dict[str, Any], Body(
        description='{"geometry": GeoJSON geometry (or Feature), "crs": "EPSG:4490"}',
        examples=[_INTERSECTS_EXAMPLE])],
    limit: Annotated[int, Query(description="Maximum features (capped)")] = 1000,
) -> JSONResponse:
    """Features of ``layer`` intersecting the geometry; an invalid geometry is a 422 naming
    the GEOS reason (e.g. ``Self-intersection[111.13 38.46]``)."""
    if "geometry" not in body:
        raise InvalidInput('请求体须含 "geometry" / the body needs a "geometry"', field="geometry")
    crs = body.get("crs")
    if crs is not None and not isinstance(crs, str):
        raise InvalidInput("crs 须为字符串 / crs must be a string", field="crs")
    request.state.read_only = True  # a query with a body: not a write in the audit log
    result = spatial.intersecting(conn, layer, body["geometry"], crs, principal, limit,
                                  settings.max_page_size)
    audit_revealed_features(request, principal, result)
    return JSONResponse(result, media_type=GEOJSON)


@router.get(
    "/spatial/inside/{kind}/{code}",
    dependencies=[EXPENSIVE],
    summary="Everything inside a cell, village, community or township / 单元内的一切",
    responses=ok(schemas_places.SpatialAnswer) | {
        404: {"description": "unknown unit"}, 422: {"description": "bad kind/layers"}},
    response_model=None)
def inside(
    request: Request,
    conn: ConnDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    kind: Annotated[str, Path(description="cell, village, community or township")],
    code: Annotated[str, Path(description="15-digit cell code, 12-digit village/community "
                              "code or 9-digit township code")],
    layers: Annotated[str, Query(description="Comma-separated: cells, compounds, cameras, "
                                 "camera_sectors, incidents")] = DEFAULT_INSIDE,
    limit: Annotated[int, Query(description="Maximum features per layer (capped)")] = 1000,
) -> JSONResponse:
    """Cells, compounds, cameras and incidents (scoped to the caller) inside a unit."""
    names = tuple(x.strip() for x in layers.split(",") if x.strip())
    if not names:
        raise InvalidInput("layers 为空 / layers is empty", field="layers")
    body = spatial.inside(conn, kind, code, principal, names, limit, settings.max_page_size)
    audit_revealed_features(request, principal, body)
    return JSONResponse(body)


@router.get(
    "/cells/{code}/summary",
    summary="A cell's summary: worker, compounds, cameras, open incidents, neighbours / 网格概况",
    responses=ok(schemas_places.CellSummary) | {
        404: {"description": "no such cell in the active boundary set"}},
    response_model=None)
def cell_summary(
    conn: ConnDep,
    principal: PrincipalDep,
    code: Annotated[str, Path(description="15-digit cell code")],
) -> JSONResponse:
    """The card of one cell in the active boundary set."""
    return JSONResponse(json.loads(json.dumps(spatial.cell_summary(conn, code, principal),
                                              default=str)))
