"""Upload files for import (admins; dry run unless commit=true) and download exports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from api.deps import (
    COMMAND_ONLY,
    EXPENSIVE,
    ConnDep,
    EngineDep,
    PrincipalDep,
    SettingsDep,
    asked_region,
    caller_region,
    require_known_region,
)
from api.reveal import note_revealed
from api.schemas import files, ok
from api.schemas import places as schemas_places
from api.uploads import category_map_form, commit_flag, content_disposition, import_upload
from geo.errors import Forbidden
from geo.io import LAYERS
from geo.io.export import FORMATS, export_layer
from geo.io.importer import ImportOptions
from geo.localtime import TZ_NAME

router = APIRouter(tags=["import/export 导入导出"])

IMPORT_ROLES = ("admin", "command")
_LAYER_PATTERN = "^(" + "|".join(LAYERS) + ")$"


@router.post(
    "/admin/import/{layer}",
    dependencies=[COMMAND_ONLY],
    summary="Import a file into a layer / 导入文件 (dry run unless commit=true)",
    responses=ok(schemas_places.ImportReport) | {
        200: {"description": "The import report (dry run or committed)"},
        403: {"description": "Only admins and the command centre may import"},
        413: {"description": "File too large"},
        422: {"description": "Unreadable file, bad CRS, refused layer or refused rows"},
    }, response_model=None)
def post_import(
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    layer: Annotated[str, PathParam(pattern=_LAYER_PATTERN, description=f"One of {LAYERS}")],
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GeoPackage, KML, "
                                     "CSV or XLSX")],
    region: Annotated[str | None, Form()] = None,
    region_name: Annotated[str | None, Form()] = None,
    crs: Annotated[str | None, Form(description="EPSG code, GCJ02 or BD09")] = None,
    src_layer: Annotated[str | None, Form(alias="layer_name")] = None,
    lon_field: Annotated[str | None, Form()] = None,
    lat_field: Annotated[str | None, Form()] = None,
    wkt_field: Annotated[str | None, Form()] = None,
    code_field: Annotated[str | None, Form()] = None,
    name_field: Annotated[str | None, Form()] = None,
    parent_field: Annotated[str | None, Form()] = None,
    level: Annotated[str | None, Form()] = None,
    category_field: Annotated[str | None, Form()] = None,
    category_map: Annotated[str | None, Form(description="VALUE=code;VALUE2=code2")] = None,
    default_category: Annotated[str | None, Form()] = None,
    time_field: Annotated[str | None, Form()] = None,
    time_format: Annotated[str | None, Form()] = None,
    timezone: Annotated[str, Form()] = TZ_NAME,
    bearing_field: Annotated[str | None, Form()] = None,
    channel: Annotated[str, Form()] = "12345",
    as_cases: Annotated[bool, Form(description="incidents: each row as a live case (routed, "
                                "deadlines, duplicate flags), as POST /incidents/bulk")] = False,
    strict: Annotated[bool, Form()] = False,
    skip_refused: Annotated[bool, Form()] = False,
    commit: Annotated[bool | None, Form()] = None,
    commit_q: Annotated[bool | None, Query(alias="commit", description="commit, also accepted "
                                           "in the query")] = None,
    activate: Annotated[bool, Form()] = False,
    set_name: Annotated[str | None, Form()] = None,
    valid_from: Annotated[dt.date | None, Form()] = None,
    profile: Annotated[str | None, Form(description="incidents: a saved import profile")] = None,
) -> JSONResponse:
    """Run an import of the uploaded file; answer its report.

    A dry run (nothing written) unless ``commit=true``; with it everything is written in one
    transaction or nothing is (refused rows make the whole commit fail unless
    ``skip_refused=true``: 422 with the report).
    """
    if principal.role not in IMPORT_ROLES:
        raise Forbidden("只有管理员和指挥中心可以导入数据 / only admins and the command centre "
                        "may import data")
    region_code = caller_region(settings, principal, region)
    cmap = category_map_form(category_map)
    opts = ImportOptions(
        region=region_code, region_name=region_name, crs=crs, layer=src_layer,
        lon_field=lon_field, lat_field=lat_field, wkt_field=wkt_field, code_field=code_field,
        name_field=name_field, parent_field=parent_field, level=level,
        category_field=category_field, category_map=cmap, default_category=default_category,
        time_field=time_field, time_format=time_format, timezone=timezone,
        bearing_field=bearing_field, channel=channel, strict=strict,
        skip_refused=skip_refused, commit=commit_flag(commit, commit_q), activate=activate,
        set_name=set_name,
        valid_from=valid_from, as_cases=as_cases, profile=profile,
    )
    report = import_upload(engine, settings, layer, file, opts, principal)
    body: dict[str, Any] = report.to_dict()
    return JSONResponse(body, status_code=422 if report.error else 200)


@router.get(
    "/export/{layer}",
    dependencies=[EXPENSIVE],
    summary="Download a layer as GeoJSON, GeoPackage, Shapefile (zip), CSV or XLSX / 导出",
    response_class=Response,
    responses=files(*(m for m, _ in FORMATS.values()), description="The file") |
    {422: {"description": "Unknown format, CRS, bad where or bbox"}},
)
def get_export(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    layer: Annotated[str, PathParam(pattern=_LAYER_PATTERN, description=f"One of {LAYERS}")],
    format: Annotated[str, Query(pattern="^(geojson|gpkg|shp|csv|xlsx)$")] = "geojson",
    crs: Annotated[str, Query(description="EPSG code, GCJ02 or BD09")] = "EPSG:4490",
    where: Annotated[str | None, Query(description="ECQL, e.g. status = 'closed'")] = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in crs")] = None,
    region: Annotated[str | None, Query()] = None,
    at: Annotated[dt.date | None, Query(description="Cells valid on this date")] = None,
    boundary_set: Annotated[str | None, Query(alias="set")] = None,
    lang: Annotated[str, Query(pattern="^(zh|en)$", description="XLSX headers, sheet names "
                               "and labels: zh (default) or en; other formats keep the "
                               "column keys and codes")] = "zh",
) -> Response:
    """Export a layer; personal fields only for callers allowed to see them.

    XLSX is for people: Chinese headers and sheet names (``lang=en``: English), names beside
    codes, local times typed as dates, a definitions sheet (说明). CSV, GeoJSON, GeoPackage
    and Shapefile are for systems: column keys and codes as stored.
    """
    region = asked_region(region)
    if region is not None:
        require_known_region(conn.engine, region, principal)
    region = caller_region(settings, principal, region)
    res = export_layer(conn, principal, layer, format, region, crs,
                       where, bbox, at, boundary_set, lang)
    note_revealed(request, res.revealed, layer.rstrip("s"), f"{layer.rstrip('s')}_codes")
    return Response(
        res.content, media_type=res.media_type,
        headers={"Content-Disposition": content_disposition(res.filename),
                 "X-Row-Count": str(res.rows)},
    )
