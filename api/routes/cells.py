"""Grid cells: "which cell is this point in"."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api.settings import Settings
from geo.coords import normalize_crs, transform_geometry
from geo.fastlookup import cell_at_fast_async
from geo.lookup import to_cgcs2000_point

router = APIRouter(tags=["cells 网格"])

GEOJSON = "application/geo+json"


@router.get(
    "/cells/at",
    summary="Which grid cell covers a point / 该点属于哪个网格",
    response_class=JSONResponse,
    responses={
        200: {"description": "GeoJSON Feature of the covering cell", "content": {GEOJSON: {}}},
        404: {"description": "No cell covers the point (message names the region)"},
        422: {"description": "Missing or invalid lon/lat/crs"},
    },
)
async def get_cell_at(
    request: Request,
    lon: Annotated[float, Query(description="Longitude (x) in `crs`", examples=[111.13])],
    lat: Annotated[float, Query(description="Latitude (y) in `crs`", examples=[38.46])],
    crs: Annotated[
        str,
        Query(description="CRS of lon/lat and of the answer: EPSG:4490 (default), EPSG:4326, "
              "GCJ02 (AMap/Tencent), BD09 (Baidu), or another EPSG code"),
    ] = "EPSG:4490",
    region: Annotated[
        str | None,
        Query(description="Region (county) code, 6 digits (GB/T 2260)", pattern=r"^[0-9]{6,12}$"),
    ] = None,
    at: Annotated[
        dt.date | None,
        Query(description="Use the boundaries valid on this date (default: the active set)"),
    ] = None,
    tolerance_m: Annotated[
        float, Query(ge=0, le=1000, description="Edge distance counted as near_boundary")
    ] = -1,
) -> JSONResponse:
    """Return the basic grid cell covering the point as a GeoJSON Feature.

    A point on an edge shared by several cells is answered by the cell with the lowest code;
    every covering cell is listed in ``covering`` and every cell within the tolerance in
    ``candidates``.
    """
    # The hot path of the service: settings and engine straight from app.state, because
    # FastAPI runs sync dependencies (SettingsDep, EngineDep) in the thread pool, two thread
    # hops per request (measured by scripts/bench/lookup.py).
    settings: Settings = request.app.state.settings
    engine: Engine = request.app.state.engine
    out_crs = normalize_crs(crs) if crs else "EPSG:4490"
    lon_c, lat_c = to_cgcs2000_point(lon, lat, crs)
    tol = settings.boundary_tolerance_m if tolerance_m < 0 else tolerance_m
    # hot path: in-process index + one asyncpg round trip (api.routes.cells_batch opens the pool)
    pool = getattr(request.app.state, "lookup_pool", None)
    hit = await cell_at_fast_async(pool, engine, lon_c, lat_c, region or settings.default_region,
                                   tol, at)
    geometry = hit.geometry
    if geometry is not None and out_crs != "EPSG:4490":
        from shapely.geometry import mapping, shape

        geometry = dict(mapping(transform_geometry(shape(geometry), "EPSG:4490", out_crs)))
    props: dict[str, Any] = {
        "code": hit.code,
        "name": hit.name,
        "kind": hit.kind,
        "village_or_community": hit.parent,
        "township": hit.township,
        "worker": _public_worker(hit.worker),
        "near_boundary": {
            "near": hit.near_boundary,
            "distance_to_edge_m": hit.distance_to_edge_m,
            "tolerance_m": tol,
        },
        "candidates": hit.candidates,
        "covering": hit.covering,
        "dedicated": hit.dedicated,
        "boundary_set": {"id": hit.boundary_set_id, "name": hit.boundary_set_name},
        "query": {"lon": lon, "lat": lat, "crs": out_crs, "lon_cgcs2000": round(lon_c, 8),
                  "lat_cgcs2000": round(lat_c, 8), "at": at.isoformat() if at else None},
    }
    feature = {"type": "Feature", "id": hit.code, "geometry": geometry, "properties": props}
    return JSONResponse(feature, media_type=GEOJSON)


def _public_worker(worker: dict[str, Any] | None) -> dict[str, Any] | None:
    if worker is None:
        return None
    phone = worker.get("phone") or ""
    masked = phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone
    name = worker.get("name") or ""
    return {
        "code": worker.get("code"),
        "name": name,
        "phone_masked": masked,
        "on_duty_since": str(worker.get("valid_from")),
    }
