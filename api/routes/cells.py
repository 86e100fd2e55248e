"""Grid cells: "which cell is this point in"."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine

from api.deps import PrincipalDep, asked_region
from api.lifespan import DB_DOWN, shard_lookup_pool
from api.schemas import cells as schemas_cells
from api.schemas import ok
from api.settings import Settings
from geo.auth.fields import as_seen
from geo.auth.principal import ANONYMOUS_VIEWER, Principal, mask_phone
from geo.crs.names import normalize_crs
from geo.crs.transforms import geojson_from_cgcs2000
from geo.crs.validate import to_cgcs2000_point
from geo.db import shards
from geo.errors import InvalidInput
from geo.lookup.single_async import cell_at_fast_async
from geo.regions import locate as region_lookup

router = APIRouter(tags=["cells 网格"])

GEOJSON = "application/geo+json"


def _param(name: str, description: str, schema: dict[str, Any],
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {**schema, "title": name, "description": description}}


# GET /cells/at's query parameters, documented here and parsed by _query (FastAPI's
# per-parameter validation was the largest single cost of this hot path, measured with
# cProfile under scripts/bench/lookup.py's load). Bad values get the same 422 naming the field.
_AT_PARAMS = [
    _param("lon", "Longitude (x) in `crs`", {"type": "number", "examples": [111.13]}, True),
    _param("lat", "Latitude (y) in `crs`", {"type": "number", "examples": [38.46]}, True),
    _param("crs", "CRS of lon/lat and of the answer: EPSG:4490 (default), EPSG:4326, GCJ02 "
           "(AMap/Tencent), BD09 (Baidu), or another EPSG code",
           {"type": "string", "default": "EPSG:4490"}),
    _param("region", "Region (county) code, 6 digits (GB/T 2260); default: the configured region",
           {"type": "string", "pattern": "^[0-9]{6,12}$"}),
    _param("at", "Use the boundaries valid on this date (default: the active set)",
           {"type": "string", "format": "date"}),
    _param("tolerance_m", "Edge distance counted as near_boundary (default: the configured "
           "tolerance, 10 m)", {"type": "number", "minimum": 0, "maximum": 1000}),
]
_REGION = re.compile(r"[0-9]{6,12}")


def _number(raw: str | None, name: str, required: bool = False) -> float | None:
    if raw is None:
        if required:
            raise InvalidInput(f"缺少参数 {name} / missing query parameter {name}", field=name)
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(f"{name} 须为数字 / {name} must be a number, got {raw!r}", field=name)
    return value


def _query(params: Any) -> tuple[float, float, str, str | None, dt.date | None, float | None]:
    """lon, lat, crs, region, at, tolerance_m from the query string (422 naming a bad one)."""
    lon = _number(params.get("lon"), "lon", True)
    lat = _number(params.get("lat"), "lat", True)
    crs = params.get("crs") or "EPSG:4490"
    region = asked_region(params.get("region"))
    if region is not None and not _REGION.fullmatch(region):
        raise InvalidInput(f"region 须为 6-12 位数字区划代码 / region must be a 6-12 digit code, "
                           f"got {region!r}", field="region")
    at = None
    if params.get("at") is not None:
        try:
            at = dt.date.fromisoformat(params["at"])
        except ValueError as exc:
            raise InvalidInput(f"at 须为日期 YYYY-MM-DD / at must be a date YYYY-MM-DD: "
                               f"{params['at']!r}", field="at") from exc
    tol = _number(params.get("tolerance_m"), "tolerance_m")
    if tol is not None and not 0 <= tol <= 1000:
        raise InvalidInput(f"tolerance_m 须在 0..1000 / tolerance_m must be in 0..1000, got {tol}",
                           field="tolerance_m")
    assert lon is not None and lat is not None  # required above
    return lon, lat, crs, region, at, tol


@router.get(
    "/cells/at",
    summary="Which grid cell covers a point / 该点属于哪个网格",
    response_class=JSONResponse,
    responses=ok(schemas_cells.CellAt) | {
        200: {"description": "GeoJSON Feature of the covering cell", "content": {GEOJSON: {}}},
        404: {"description": "No cell covers the point (message names the region)"},
        422: {"description": "Missing or invalid lon/lat/crs/region/at/tolerance_m"},
    },
    openapi_extra={"parameters": _AT_PARAMS}, response_model=None)
async def get_cell_at(request: Request, principal: PrincipalDep) -> Response:
    """Return the basic grid cell covering the point as a GeoJSON Feature.

    A point on an edge shared by several cells is answered by the cell with the lowest code;
    every covering cell is listed in ``covering`` and every cell within the tolerance in
    ``candidates``. Cells are a public layer: the worker's phone is masked for every role,
    and a point in another county than the caller's is answered as the public sees it.
    A logged-in caller also gets ``caller`` (user, role, ``assigned_to_you``: whether the cell
    is one of a grid worker's cells now).
    """
    body = await cell_at_answer(request.app.state, request.query_params, principal)
    return Response(body, media_type=GEOJSON)


async def cell_at_answer(state: Any, params: Any, principal: Principal | None = None) -> bytes:
    """The body of ``GET /cells/at`` for query ``params`` (a mapping of str to str), as
    ``principal`` sees it (None or anonymous: the public answer).

    Shared by the route above and by :mod:`api.middleware.hot_path`, which answers anonymous calls
    without the router. Raises the route's errors (InvalidInput, NotFound, ...).
    """
    # The hot path of the service: settings and engine straight from app.state, because
    # FastAPI runs sync dependencies (SettingsDep, EngineDep) in the thread pool, two thread
    # hops per request (measured by scripts/bench/lookup.py).
    settings: Settings = state.settings
    engine: Engine = state.engine
    lon, lat, crs, region, at, tolerance_m = _query(params)
    out_crs = normalize_crs(crs)
    lon_c, lat_c = to_cgcs2000_point(lon, lat, crs)
    tol = settings.boundary_tolerance_m if tolerance_m is None else tolerance_m
    # hot path: in-process index + one asyncpg round trip (api.routes.cells_batch opens the pool)
    pool = getattr(state, "lookup_pool", None)
    if region is None and region_lookup.needs_refresh(engine):
        await asyncio.to_thread(region_lookup.refresh, engine)
    region_code = region_lookup.region_of_point(engine, region, settings.region_or_default(None),
                                                lon_c, lat_c)
    if shards.routes_stale(engine):
        await asyncio.to_thread(shards.reader, engine, region_code)
    engine, shard = shards.reader(engine, region_code)
    if shard is None:
        hit = await cell_at_fast_async(pool, engine, lon_c, lat_c, region_code, tol, at)
    else:  # a county on another server: the lookup reads its shard directly
        try:
            pool = await shard_lookup_pool(state, engine)
            hit = await cell_at_fast_async(pool, engine, lon_c, lat_c, region_code, tol, at)
        except DB_DOWN as exc:
            raise shards.ShardDown(shard) from exc
    geometry_json = hit.geometry_json
    if hit.geometry is not None and (out_crs != "EPSG:4490" or geometry_json is None):
        geometry_json = _dumps(geojson_from_cgcs2000(hit.geometry, out_crs))
    props: dict[str, Any] = {
        "code": hit.code,
        "name": hit.name,
        "kind": hit.kind,
        "village_or_community": hit.parent,
        "township": hit.township,
        "worker": _public_worker(hit.worker,
                                 (principal or ANONYMOUS_VIEWER).seen_from(region_code)),
        "near_boundary": {
            "near": hit.near_boundary,
            "distance_to_edge_m": hit.distance_to_edge_m,
            "tolerance_m": tol,
        },
        "candidates": hit.candidates,
        "covering": hit.covering,
        "dedicated": hit.dedicated,
        "boundary_set": {"id": hit.boundary_set_id, "name": hit.boundary_set_name},
        "region": region_code,
        "query": {"lon": lon, "lat": lat, "crs": out_crs, "lon_cgcs2000": round(lon_c, 8),
                  "lat_cgcs2000": round(lat_c, 8), "at": at.isoformat() if at else None},
    }
    if principal is not None and principal.authenticated:
        props["caller"] = {"user": principal.user, "role": principal.role,
                           "assigned_to_you": hit.code in principal.cell_codes}
    # The Feature written as text: the geometry's JSON is cached per cell by the lookup and
    # spliced in (encoding a densified polygon again is the costliest step of the answer).
    body = (f'{{"type":"Feature","id":{_dumps(hit.code)},"geometry":{geometry_json or "null"},'
            f'"properties":{_dumps(props)}}}')
    return body.encode("utf-8")


_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _public_worker(worker: dict[str, Any] | None, principal: Principal) -> dict[str, Any] | None:
    """The worker on duty: phone always masked, name as the one field policy says."""
    if worker is None:
        return None
    return {
        "code": worker.get("code"),
        "name": as_seen(principal, "workers", "name", worker.get("name") or ""),
        "phone_masked": mask_phone(worker.get("phone") or ""),
        "on_duty_since": str(worker.get("valid_from")),
    }
