"""Planners' analyses over HTTP: JSON with inputs, summary and tables as GeoJSON.

Every answer states its inputs (period, boundary set, parameters). With ``table=NAME`` the
answer is that table alone as a GeoJSON FeatureCollection (``application/geo+json``) carrying
``analysis``, ``inputs`` and ``summary`` as foreign members, e.g. for QGIS or a map.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Connection

from api.deps import EXPENSIVE, LOGGED_IN, ConnDep, PrincipalDep, SettingsDep, caller_region
from api.schemas import ok
from api.schemas import places as schemas_places
from api.uploads import content_disposition
from geo.analysis import (
    camera_coverage,
    camera_sectors,
    camera_sites,
    grid_health,
    hotspots,
    make_period,
    parse_targets,
    property_management,
    to_payload,
)
from geo.analysis.common import feature_collection
from geo.analysis.sheets import analysis_workbook
from geo.errors import InvalidInput
from geo.io.sheets import load_names
from geo.io.workbook import MEDIA_TYPE as XLSX

# Any logged-in role: each analysis returns what the role may see (incident_detail_level).
# One request's work over HTTP (review round 3, R11): units x permutations of Gi* is the cost;
# the CLI, run by the operator, allows more.
HTTP_MAX_PERMUTATIONS = 999
FINE_H3_MAX_PERMUTATIONS = 199

router = APIRouter(prefix="/analysis", tags=["analysis 分析"],
                   dependencies=[LOGGED_IN, EXPENSIVE])

GEOJSON = "application/geo+json"

Region = Annotated[str | None, Query(description="Region (county) code; default the server's")]
From = Annotated[dt.date | None, Query(
    alias="from", description="First day of the period (default: the last full quarter)")]
To = Annotated[dt.date | None, Query(description="Last day of the period (inclusive)")]
At = Annotated[dt.date | None, Query(
    description="Use the boundary set valid on this date (default: the active set)")]
Category = Annotated[list[str] | None, Query(
    description="Incident category codes (repeat or comma-separate); default all")]
Table = Annotated[str | None, Query(
    description="Answer only this table, as a GeoJSON FeatureCollection")]
Geometry = Annotated[bool, Query(
    description="Include geometries (tables as FeatureCollections); false gives plain rows")]
Format = Annotated[Literal["json", "xlsx"], Query(
    description="json, or xlsx: a workbook with Chinese sheet names and headers, labels and "
                "names instead of codes, and a definitions sheet 说明 (all tables, or table=)")]
Lang = Annotated[Literal["zh", "en"], Query(description="XLSX language: zh (default) or en")]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON: analysis, inputs, summary, tables (GeoJSON FeatureCollections);"
                         " with table=: one FeatureCollection; format=xlsx: a workbook",
          "content": {GEOJSON: {}, XLSX: {}}},
    404: {"description": "Unknown region, boundary set or unit"},
    422: {"description": "Invalid parameter (the message names it and how to fix it)"},
}


# Tables of each analysis, to refuse an unknown ``table=`` before computing anything.
TABLES = {
    "camera-coverage": ("units", "blind_compounds", "uncovered_incidents",
                        "cells_by_uncovered_incidents"),
    "camera-sectors": ("cameras",),
    "property-management": ("units", "unmanaged_compounds", "compounds"),
    "grid-health": ("gaps", "overlaps", "vacant_cells", "worker_load"),
    "hotspots": ("units", "by_category"),
    "camera-sites": ("sites", "demand"),
}


def _check_table(analysis: str, table: str | None) -> None:
    if table is not None and table not in TABLES[analysis]:
        known = list(TABLES[analysis])
        raise InvalidInput(f"没有表 {table!r}, 可选 {known} / no table {table!r}; choose one of "
                           f"{known}", field="table")


def _respond(res: dict[str, Any], table: str | None, geometry: bool,
             fmt: str = "json", lang: str = "zh", conn: Connection | None = None) -> Response:
    if fmt == "xlsx":
        names = load_names(conn, str(res["inputs"]["region"]), lang) if conn else None
        data = analysis_workbook(res, names, lang, table)
        safe = re.sub(r"[^0-9A-Za-z_-]", "_", f"{res['analysis']}_{res['inputs']['region']}")
        return Response(data, media_type=XLSX, headers={
            "Content-Disposition": content_disposition(f"{safe}.xlsx")})
    if table is None:
        return JSONResponse(to_payload(res, with_geometry=geometry))
    if table not in res["tables"]:
        raise InvalidInput(
            f"没有表 {table!r}, 可选 {list(res['tables'])} / no table {table!r}; choose one of "
            f"{list(res['tables'])}", field="table")
    body = to_payload({**res, "tables": {}})
    fc = feature_collection(res["tables"][table])
    return JSONResponse({"type": "FeatureCollection", "analysis": body["analysis"],
                         "table": table, "inputs": body["inputs"], "summary": body["summary"],
                         "features": fc["features"]}, media_type=GEOJSON)


@router.get("/camera-coverage", summary="Camera coverage per unit / 摄像头覆盖分析",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_camera_coverage(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
    unit: Annotated[str, Query(description="cell | community | township | county | compound")]
    = "cell",
    from_: From = None, to: To = None, at: At = None, region: Region = None,
    category: Category = None,
    top: Annotated[int, Query(ge=0, le=10_000, description="Cells ranked by uncovered "
                              "incidents to return (0 = all)")] = 20,
    table: Table = None, geometry: Geometry = True, format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    """Covered area (m^2, %) of each unit by the union of online cameras' sectors, compounds no
    camera sees, the period's incidents outside every sector and cells ranked by them."""
    _check_table("camera-coverage", table)
    region = caller_region(settings, principal, region)
    res = camera_coverage(conn, principal, region, unit,
                          make_period(from_, to), at, category, top)
    return _respond(res, table, geometry, format, lang, conn)


@router.get("/camera-sectors", summary="Camera sectors and flags / 摄像头视域",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_camera_sectors(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep, region: Region = None,
    status: Annotated[list[str] | None, Query(description="online | offline | fault")] = None,
    table: Table = None, geometry: Geometry = True, format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    """Every camera's field of view; cameras without bearing are flagged (full circle)."""
    _check_table("camera-sectors", table)
    res = camera_sectors(conn, principal, caller_region(settings, principal, region),
                         tuple(status) if status else None)
    return _respond(res, table, geometry, format, lang, conn)


@router.get("/property-management", summary="Property-management coverage / 物业覆盖",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_property_management(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
    as_of: Annotated[dt.date | None, Query(description="State on this date (default today)")]
    = None,
    unit: Annotated[str, Query(description="community | township | county")] = "community",
    targets: Annotated[str | None, Query(
        description="Targets DATE:PERCENT, comma-separated (default: the region's, else "
                    "2022-12-31:80,2023-12-31:90)")] = None,
    region: Region = None, table: Table = None, geometry: Geometry = True,
    format: Format = "json", lang: Lang = "zh",
) -> Response:
    """Share of compounds and households under each management mode, against the targets."""
    _check_table("property-management", table)
    region = caller_region(settings, principal, region)
    res = property_management(conn, principal, region, as_of, unit,
                              parse_targets(targets) if targets else None)
    return _respond(res, table, geometry, format, lang, conn)


@router.get("/grid-health", summary="Grid gaps, overlaps, vacant cells, worker load / 网格体检",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_grid_health(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
    from_: From = None, to: To = None, at: At = None, region: Region = None,
    sliver_m: Annotated[float, Query(ge=0, le=100, description="Pieces narrower than twice "
                                     "this are slivers, ignored")] = 0.05,
    min_area_m2: Annotated[float, Query(ge=0, le=1e6, description="Smaller pieces are "
                                        "ignored")] = 1.0,
    on: Annotated[dt.date | None, Query(description="Day of the duty roster (default today)")]
    = None,
    table: Table = None, geometry: Geometry = True, format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    """Gaps and overlaps with areas, cells without a worker on duty, worker load and Gini."""
    _check_table("grid-health", table)
    res = grid_health(conn, principal, caller_region(settings, principal, region),
                      make_period(from_, to), at, sliver_m, min_area_m2, on)
    return _respond(res, table, geometry, format, lang, conn)


@router.get("/hotspots", summary="Incident density and Gi* hot spots / 事件热点",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_hotspots(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
    unit: Annotated[str, Query(description="cell | h3")] = "cell",
    resolution: Annotated[int, Query(description="H3 resolution 5..10")] = 8,
    measure: Annotated[str | None, Query(description="count | per_km2 | per_1000_hh")] = None,
    from_: From = None, to: To = None, at: At = None, region: Region = None,
    category: Category = None,
    permutations: Annotated[int, Query(
        ge=0, le=HTTP_MAX_PERMUTATIONS, description="Conditional permutations for the pseudo "
        "p-values (at most 999 over HTTP, 199 on H3 resolution 9 and finer; the CLI allows "
        "9,999)")] = 999,
    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
    fdr: Annotated[bool, Query(description="Control the false discovery rate over all "
                               "units")] = False,
    table: Table = None, geometry: Geometry = True, format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    """Incidents per 1,000 households and per km^2, Getis-Ord Gi* hot and cold spots."""
    _check_table("hotspots", table)
    if unit == "h3" and resolution >= 9 and permutations > FINE_H3_MAX_PERMUTATIONS:
        # tens of thousands of hexagons x 999 permutations is minutes of CPU for one request
        raise InvalidInput(
            f"H3 分辨率 {resolution} 时 permutations 至多 {FINE_H3_MAX_PERMUTATIONS} / with H3 "
            f"resolution {resolution} give permutations <= {FINE_H3_MAX_PERMUTATIONS} (or a "
            "coarser resolution, or the CLI: wangge analyse hotspots)", field="permutations")
    region = caller_region(settings, principal, region)
    res = hotspots(conn, principal, region, make_period(from_, to),
                   unit, category, measure, resolution, permutations, alpha, at, fdr=fdr)
    return _respond(res, table, geometry, format, lang, conn)


@router.get("/camera-sites", summary="Where to add cameras / 新增摄像头选址",
            responses=ok(schemas_places.Analysis) | _RESPONSES, response_model=None)
def get_camera_sites(
    conn: ConnDep, settings: SettingsDep, principal: PrincipalDep,
    k: Annotated[int, Query(ge=1, le=200, description="Number of new cameras")] = 10,
    from_: From = None, to: To = None, at: At = None, region: Region = None,
    within: Annotated[str | None, Query(description="Restrict to a unit code (cell, village/"
                                        "community, township, compound)")] = None,
    candidates: Annotated[str, Query(description="entrances | lattice | both")] = "both",
    spacing_m: Annotated[float, Query(ge=10, le=5000)] = 100.0,
    bearings: Annotated[int, Query(ge=1, le=36)] = 8,
    fov_deg: Annotated[float, Query(gt=0, le=360)] = 90.0,
    range_m: Annotated[float, Query(ge=1, le=1000)] = 80.0,
    solver: Annotated[str, Query(description="auto | mclp | greedy")] = "auto",
    category: Category = None,
    urgent_weight: Annotated[float, Query(gt=0, le=100)] = 2.0,
    table: Table = None, geometry: Geometry = True, format: Format = "json",
    lang: Lang = "zh",
) -> Response:
    """The k sites and bearings covering the most incidents no camera sees yet."""
    _check_table("camera-sites", table)
    res = camera_sites(conn, principal, caller_region(settings, principal, region), k,
                       make_period(from_, to), within, candidates, spacing_m, bearings, fov_deg,
                       range_m, solver, category, urgent_weight, at)
    return _respond(res, table, geometry, format, lang, conn)
