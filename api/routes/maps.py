"""HTML maps (Folium): dispatch, grid worker's cell map, coverage; and the offline assets.

Every page links its JS/CSS under ``/static/`` (served here from the npm packages installed by
``maps/assets.sh``), carries a Content-Security-Policy allowing only this server (and the tile
host of a basemap the user chose) and, of inline scripts, only the page's own (by hash), and
never makes a request to another host by default.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Callable
from dataclasses import replace
from typing import Annotated

import folium
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from api.deps import (
    EXPENSIVE,
    LOGGED_IN,
    READ_INCIDENTS,
    CaseDep,
    ConnDep,
    PrincipalDep,
    SettingsDep,
    caller_region,
)
from api.reveal import audit_revealed
from api.schemas import ok
from api.schemas import places as schemas_places
from geo.auth.principal import Principal
from geo.errors import InvalidInput, NotFound
from geo.regions.scope import counties_in_scope
from maps import assets
from maps.cell import build_cell_map
from maps.coverage import (
    PATROL_DAYS,
    build_camera_coverage_map,
    build_patrol_coverage_map,
    build_property_coverage_map,
)
from maps.dispatch import build_dispatch_map, build_prefecture_map, incidents_in_view
from maps.frame import MapOptions, render_page, security_headers
from maps.panel import case_panel
from maps.wall import scope_figures, wall_figures

router = APIRouter(tags=["maps 地图"])


def _map_reader(principal: PrincipalDep) -> Principal:
    """The caller as the maps see them: maps never unmask (``?unmask=true`` is ignored: phone
    and ID numbers in free text stay masked on every map and its data; open the case, audited,
    to read them), so no map reveals what the audit log would have to name."""
    return replace(principal, unmask=False)


MapPrincipalDep = Annotated[Principal, Depends(_map_reader)]

# Out of the schema on purpose: each PNG is a headless-Chromium run, which the schema fuzzers
# would repeat for every role; the endpoints' descriptions say it.
FormatQ = Annotated[str, Query(description="html (default): the page; png: the map as a "
                              "picture", pattern="^(html|png)$", include_in_schema=False)]
LangQ = Annotated[str, Query(description="zh (default) or en", pattern="^(zh|en)$")]
BasemapQ = Annotated[str, Query(description="none (default, offline), tianditu, amap, osm")]
RegionQ = Annotated[str | None, Query(description="Region (county) code")]
HTML_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "HTML page (Leaflet/Folium)", "content": {"text/html": {}}},
    422: {"description": "Invalid parameter (lang, basemap, dates, unit ...)"},
}


def _options(settings: SettingsDep, lang: str, basemap: str, region: str | None,
             principal: Principal, whole_scope: bool = False, **extra: object) -> MapOptions:
    return MapOptions(lang=lang, basemap=basemap, tianditu_key=settings.tianditu_key,
                      region_code=caller_region(settings, principal, region, whole_scope),
                      **extra)  # type: ignore[arg-type]


def _has_events(request: Request) -> bool:
    """Whether this app serves the event stream ``GET /events`` (read once per app)."""
    state = request.app.state
    if not hasattr(state, "has_events"):
        from api.access_policy import walk_routes

        state.has_events = any(path == "/events" for path, _ in walk_routes(
            list(request.app.routes), ""))
    return bool(state.has_events)


def _page(html: str, opts: MapOptions) -> HTMLResponse:
    """The page with its headers; its CSP allows exactly the inline scripts in ``html``."""
    return HTMLResponse(html, headers=security_headers(opts, html))


@router.get("/maps/dispatch", dependencies=[READ_INCIDENTS, EXPENSIVE],
            summary="Dispatch map of the command centre / 指挥调度图",
            response_class=HTMLResponse, responses=HTML_RESPONSES)
def dispatch_map(
    request: Request, conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    from_: Annotated[dt.date | None, Query(alias="from", description="First day (reported)")]
    = None,
    to: Annotated[dt.date | None, Query(description="Last day, inclusive (default: latest)")]
    = None,
    refresh: Annotated[int, Query(ge=0, le=86400, description="Refetch the counters every N "
                                  "seconds (the page itself is never reloaded: it follows "
                                  "/events)")] = 0,
    overdue_days: Annotated[float, Query(gt=0, le=365, description="Overdue after N days "
                                         "when an incident has no due time")] = 3.0,
    wall: Annotated[bool, Query(description="Wall-screen mode (1920x1080 at 3 m): the county "
                                "with big counters by township, the newest and the most "
                                "overdue cases, an alarm for new urgent cases; for a caller "
                                "of several counties without region, every county with "
                                "counters by county and the lists across counties")] = False,
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
) -> HTMLResponse:
    """Cells, boundaries, incidents by status/overdue, cameras and sectors, search, period.

    A caller whose scope holds several counties (a prefecture or province command centre)
    gets, without ``region``, every county's outline with its counters (today's intake, open,
    overdue, closing rate this month), each linking to its county's map (``?region=CODE``);
    with ``wall=1`` the wall screen of all of them (counters by county, the newest and most
    overdue cases across counties, live events of every county in scope).

    Live: the page follows ``GET /events`` and updates markers, counters and lists in place;
    a click on a case opens its side panel (``/maps/dispatch/case/{code}``)."""
    # the page follows the event stream when this server has one (GET /events, issue 18)
    events = "/events" if _has_events(request) else None
    opts = _options(settings, lang, basemap, region, principal, whole_scope=True,
                    start=from_, end=to, refresh=refresh,
                    overdue_days=overdue_days, extra={"wall": wall, "events": events})
    if region is None:  # a prefecture or province: every county in scope
        counties = counties_in_scope(conn, principal)
        if len(counties) > 1:
            return _page(render_page(build_prefecture_map(conn, principal, opts, counties)),
                         opts)
    return _page(render_page(build_dispatch_map(conn, principal, opts)), opts)


@router.get("/maps/dispatch/figures", dependencies=[READ_INCIDENTS],
            summary="Wall-screen figures / 大屏统计",
            responses=ok(schemas_places.WallFigures), response_model=None)
def dispatch_figures(conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
                     region: RegionQ = None) -> JSONResponse:
    """The wall screen's counters in the caller's scope: today's intake, open, overdue, urgent
    open (the board, ``/board``) and this month's closing rate (``/kpi``), by township; the
    newest and the most overdue cases (names, not codes). Refetched by the page after live
    events. A caller of several counties without ``region`` gets her whole scope: the
    counters of all her counties, one row per county (``counties``, the closing rates of
    ``/kpi?group_by=county``) and the lists across counties, each case naming its county."""
    code = caller_region(settings, principal, region, whole_scope=True)
    counties = counties_in_scope(conn, principal) if region is None else []
    if len(counties) > 1:
        return JSONResponse(scope_figures(conn, principal, counties),
                            headers={"Cache-Control": "no-store"})
    data = wall_figures(conn, principal, code)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@router.get("/maps/dispatch/case/{incident_id}", dependencies=[READ_INCIDENTS],
            summary="Side panel of one case on the dispatch map / 调度图事件办理面板",
            response_class=HTMLResponse, responses={
                200: {"description": "HTML fragment: summary with names, photos, history, "
                      "routing with reasons, duplicates in your scope and the actions you may "
                      "take now as forms (posted as JSON to the case endpoints with If-Match "
                      "and X-CSRF-Token)", "content": {"text/html": {}}},
                404: {"description": "No such case, or not in your scope"}})
def dispatch_case_panel(
    request: Request, incident_id: CaseDep, conn: ConnDep, principal: PrincipalDep,
    lang: LangQ = "zh",
) -> HTMLResponse:
    """The case (by code or id) as the dispatch map's side panel shows it: summary (names, not
    codes), photos, history, routing suggestion with its reasons (cell, worker on duty,
    department, cameras that see the point, possible duplicates in the caller's scope) and the
    actions the caller may take now (``allowed_actions``: register, dispatch, reassign, 督办,
    merge, extend, close ...). The forms post to the existing case endpoints: same checks,
    version control and audit. The reporter's name and phone are masked unless
    ``?unmask=true`` (roles that may; audited)."""
    html, inc = case_panel(conn, principal, incident_id, lang)
    audit_revealed(request, principal, [inc])
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/maps/cells/{code}", dependencies=[READ_INCIDENTS, EXPENSIVE],
            summary="Grid worker's map of one cell / 网格员地图",
            response_class=HTMLResponse, responses={**HTML_RESPONSES, 404: {
                "description": "Unknown cell code"}})
def cell_map(
    code: str, conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    lon: Annotated[float | None, Query(description="Where am I: longitude in crs")] = None,
    lat: Annotated[float | None, Query(description="Where am I: latitude in crs")] = None,
    crs: Annotated[str, Query(description="CRS of lon/lat: EPSG:4490, GCJ02, BD09 ...")]
    = "EPSG:4490",
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
) -> HTMLResponse:
    """The cell and its neighbours, compounds by management mode, cameras, open incidents."""
    opts = _options(settings, lang, basemap, region, principal)
    here = (lon, lat) if lon is not None or lat is not None else None
    return _page(render_page(build_cell_map(conn, principal, opts, code, here, crs)), opts)


@router.get("/maps/coverage/cameras", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="Camera coverage (planners) / 摄像头覆盖率",
            response_class=HTMLResponse, responses=HTML_RESPONSES)
def camera_coverage_map(
    conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    unit: Annotated[str, Query(description="cell (default), community or township")] = "cell",
    from_: Annotated[dt.date | None, Query(alias="from", description="Incidents from")] = None,
    to: Annotated[dt.date | None, Query(description="Incidents to (inclusive)")] = None,
    k: Annotated[int, Query(ge=0, le=50, description="Recommended new camera sites to show "
                            "(0 = none); MCLP/greedy of /analysis/camera-sites")] = 10,
    candidates: Annotated[str, Query(pattern="^(both|entrances|lattice)$",
                                     description="Candidate sites: both (default), entrances "
                                     "(compound entrances) or lattice (100 m lattice)")] = "both",
    hotspots: Annotated[bool, Query(description="Show Gi* hot/cold spots of the period")]
    = True,
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
    format: FormatQ = "html", *, request: Request,
) -> Response:
    """Choropleth of camera coverage, grid gaps/overlaps, compounds no camera sees, cameras
    (from zoom 14), incidents outside every view, hot spots and recommended camera sites with
    their sectors and gained coverage (period default: the 92 days ending with the latest
    report). ``format=png``: the same map as a picture; the page links it and the analysis's
    workbook."""
    opts = _options(settings, lang, basemap, region, principal, start=from_, end=to)
    return _map_response(request, format, opts, lambda o: build_camera_coverage_map(
        conn, principal, o, unit, k=k, candidates=candidates, hotspots=hotspots),
        f"摄像头覆盖率_{unit}")


@router.get("/maps/coverage/property", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="Property-management coverage (planners) / 物业管理覆盖率",
            response_class=HTMLResponse, responses=HTML_RESPONSES)
def property_coverage_map(
    conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    unit: Annotated[str, Query(description="community (default), cell or township")]
    = "community",
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
    format: FormatQ = "html", *, request: Request,
) -> Response:
    """Choropleth of the managed share of compounds, unmanaged compounds highlighted.
    ``format=png``: the same map as a picture; the page links it and the analysis's
    workbook."""
    opts = _options(settings, lang, basemap, region, principal)
    return _map_response(request, format, opts, lambda o: build_property_coverage_map(
        conn, principal, o, unit), f"物业管理覆盖率_{unit}")


@router.get("/maps/coverage/patrols", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="Patrol coverage (planners) / 巡查覆盖",
            response_class=HTMLResponse, responses=HTML_RESPONSES)
def patrol_coverage_map(
    conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    days: Annotated[int, Query(ge=1, le=366, description="cells with no patrol track in this "
                               "many days up to `to` are 'not patrolled'")] = PATROL_DAYS,
    to: Annotated[dt.date | None, Query(description="last day (CST, inclusive); default the "
                                        "day of the latest patrol, at most today")] = None,
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
    format: FormatQ = "html", *, request: Request,
) -> Response:
    """Which basic cells were patrolled in the last ``days`` days and which were not (with the
    date of their last patrol), km and patrols per cell: aggregates of ``GET
    /analysis/patrols``, never a track. Command centre, admins, planners; a grid worker her own
    cells; departments and viewers 403. ``format=png``: the same map as a picture."""
    opts = _options(settings, lang, basemap, region, principal)
    return _map_response(request, format, opts, lambda o: build_patrol_coverage_map(
        conn, principal, o, days, to), f"巡查覆盖_{days}天")


def _map_response(request: Request, format: str, opts: MapOptions,
                  build: Callable[[MapOptions], folium.Map], name: str) -> Response:
    """The map page (with download links to its PNG and its analysis's workbook), or with
    ``format=png`` the same map printed by headless Chromium, network cut off."""
    if format != "png":
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        opts = replace(opts, extra={**opts.extra, "page_url": url})
        return _page(render_page(build(opts)), opts)
    import tempfile
    from pathlib import Path

    from api.cli.maps import snapshot
    from api.uploads import content_disposition
    from maps.frame import render_standalone

    html = render_standalone(build(opts))
    with tempfile.TemporaryDirectory() as tmp:
        page, png = Path(tmp) / "map.html", Path(tmp) / "map.png"
        page.write_text(html, encoding="utf-8")
        snapshot(page, png)
        data = png.read_bytes()
    return Response(data, media_type="image/png", headers={
        "Content-Disposition": content_disposition(f"{name}.png"),
        "Cache-Control": "private, no-store"})


@router.get("/maps/data/incidents", dependencies=[READ_INCIDENTS, EXPENSIVE],
            summary="Incidents in a map view (compact rows) / 视野内事件",
            responses=ok(schemas_places.MapRows) | {
                422: {"description": "Invalid bbox or parameters"}},
            response_model=None)
def incidents_in_view_data(
    conn: ConnDep, settings: SettingsDep, principal: MapPrincipalDep,
    bbox: Annotated[str, Query(description="minx,miny,maxx,maxy in the map's coordinates")],
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: Annotated[dt.date | None, Query()] = None,
    overdue_days: Annotated[float, Query(gt=0, le=365)] = 3.0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 3000,
    lang: LangQ = "zh", basemap: BasemapQ = "none", region: RegionQ = None,
) -> JSONResponse:
    """What the dispatch map loads when zoomed in: every incident of the period in view."""
    try:
        parts = tuple(float(v) for v in bbox.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4:
        raise InvalidInput("bbox 应为 minx,miny,maxx,maxy 四个数 / bbox must be four numbers "
                           "minx,miny,maxx,maxy", field="bbox")
    opts = _options(settings, lang, basemap, region, principal, start=from_, end=to,
                    overdue_days=overdue_days)
    data = incidents_in_view(conn, principal, opts, parts, limit)  # type: ignore[arg-type]
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@router.get("/static/{path:path}", include_in_schema=False)
def static_file(path: str) -> FileResponse:
    """Offline map assets: npm packages (``/static/vendor/``) and Wangge's own CSS/JS."""
    if "\x00" in path:  # the file system refuses it (ValueError): the caller's mistake
        raise InvalidInput(f"路径含 NUL 字符 / the path contains a NUL byte: /static/{path!r}",
                           field="path")
    target = assets.resolve("/static/" + path)
    if target is None:
        raise NotFound(f"静态文件不存在 / no such static file: /static/{path}")
    media = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".woff2":
        media = "font/woff2"
    return FileResponse(target, media_type=media, headers={
        "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
