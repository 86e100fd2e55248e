"""Patrols (巡查): a worker's tracks and check-ins, the command centre's raw tracks, the
aggregates for planners. Tracks are personal location data: geo.patrols.access decides.

The ``/me/...`` routes answer for the caller's own grid worker; a ``?region=`` they are given
is checked as everywhere (``RegionDep``: an unknown code is a 404 listing her counties, a
county outside her scope the 403 saying so), never ignored or read as "not a grid worker"."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import (
    EXPENSIVE,
    LOGGED_IN,
    ConnDep,
    PrincipalDep,
    RegionDep,
    SettingsDep,
    asked_region,
    get_region,
)
from api.schemas import ok
from api.schemas import patrols as schemas
from geo.errors import InvalidInput
from geo.patrols import access, analysis, checkins, tracks, views

router = APIRouter(tags=["patrols 巡查"])


def asked_county(request: Request, settings: SettingsDep, principal: PrincipalDep,
                 region: Annotated[str | None, Query(description=(
                     "区县代码 (可省略: 按你所属的网格员) / county code (optional: your own grid "
                     "worker's)"))] = None) -> str | None:
    """A ``?region=`` given to a ``/me/...`` route, checked as every route checks it
    (:func:`api.deps.get_region`: unknown -> 404 listing the caller's counties, outside her
    scope -> 403); None when not given (the caller's own grid worker decides, as before)."""
    if asked_region(region) is None:
        return None
    return get_region(request, settings, principal, region)


AskedRegionDep = Annotated[str | None, Depends(asked_county)]

Crs = Annotated[str, Query(description="CRS of the answer's coordinates: EPSG:4490 (default), "
                           "EPSG:4326, GCJ02 (AMap/Tencent), BD09 (Baidu)")]
From = Annotated[dt.date | None, Query(alias="from", description="first day (CST), inclusive; "
                                       "default 30 days before to")]
To = Annotated[dt.date | None, Query(alias="to", description="last day (CST), inclusive; "
                                     "default today")]


class TrackPoint(BaseModel):
    """A point of a track: time (ISO 8601; without a zone: CST), position in ``crs``."""

    t: str = Field(description="ISO 8601 time, e.g. 2026-11-20T09:30:10+08:00")
    lon: float
    lat: float
    accuracy_m: float | None = Field(None, ge=0, description="GPS accuracy in metres")


class PatrolSegment(BaseModel):
    """A patrol, or the next segment of one (same ``client_id``)."""

    client_id: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="the phone's id of the patrol (a UUID)")
    started_at: str = Field(description="when the patrol started (ISO 8601)")
    ended_at: str | None = Field(None, description="when it ended; null while under way")
    crs: str = Field("EPSG:4490", description="CRS of the points: EPSG:4490, EPSG:4326, "
                     "GCJ02, BD09")
    points: list[TrackPoint] = Field(default_factory=list, max_length=tracks.MAX_POINTS)


class CheckinBody(BaseModel):
    """A check-in at a key point: where the worker stands, and when."""

    key_point_id: int
    lon: float
    lat: float
    crs: str = "EPSG:4490"
    at: str | None = Field(None, description="ISO 8601 time (default now)")


@router.post("/me/patrols", status_code=200, dependencies=[LOGGED_IN],
             summary="Send a patrol or its next segment / 上传巡查轨迹",
             responses=ok(schemas.SegmentAnswer), response_model=None)
def post_my_patrol(body: PatrolSegment, conn: ConnDep, principal: PrincipalDep,
                   _region: AskedRegionDep) -> dict[str, Any]:
    """Create the caller's patrol ``client_id`` or append the points to it (a grid worker).

    Points must be in time order (422 naming the first one out of order) and inside the
    region (422 naming the point). A point at a time already received is a resend and
    skipped (``points_duplicate``); send each segment with an ``Idempotency-Key``. A point
    over 150 km/h or 5 km from the last counted one is kept and flagged (``points_flagged``),
    not counted in ``length_m`` / ``duration_s``.
    """
    worker_id, region = access.own_worker(conn, principal)
    seg = tracks.parse_segment([p.model_dump() for p in body.points], body.crs)
    started = tracks.parse_time(body.started_at, "started_at")
    ended = tracks.parse_time(body.ended_at, "ended_at") if body.ended_at else None
    tracks.check_times(started, ended, seg)
    return tracks.store_segment(conn, region, worker_id, principal.user_id, body.client_id,
                                started, ended, seg)


@router.get("/me/patrols", dependencies=[LOGGED_IN],
            summary="My patrols with tracks / 我的巡查", responses=ok(schemas.PatrolList),
            response_model=None)
def get_my_patrols(conn: ConnDep, principal: PrincipalDep, _region: AskedRegionDep,
                   date_from: From = None, date_to: To = None,
                   crs: Crs = "EPSG:4490") -> dict[str, Any]:
    """The caller's patrols started from ``from`` to ``to`` (CST dates, inclusive), newest
    first, each with its track as a GeoJSON LineString in ``crs`` and its flagged points."""
    worker_id, region = access.own_worker(conn, principal)
    frm, to = views.period_bounds(date_from, date_to)
    return views.list_patrols(conn, principal, region, frm, to, crs, worker_ids=[worker_id])


@router.get("/me/key-points", dependencies=[LOGGED_IN],
            summary="Key points of my cells / 我的关键点位", responses=ok(schemas.KeyPoints),
            response_model=None)
def get_my_key_points(conn: ConnDep, principal: PrincipalDep, _region: AskedRegionDep,
                      crs: Crs = "EPSG:4490") -> dict[str, Any]:
    """Key points (compound gates, cameras, places) of the caller's cells with ``radius_m``,
    how often a week they are due and this ISO week's check-ins."""
    worker_id, region = access.own_worker(conn, principal)
    return checkins.key_points(conn, region, sorted(principal.cell_codes), worker_id, crs)


@router.post("/me/checkins", status_code=201, dependencies=[LOGGED_IN],
             summary="Check in at a key point / 关键点位签到",
             responses=ok(schemas.Checkin, status=201), response_model=None)
def post_my_checkin(body: CheckinBody, conn: ConnDep, principal: PrincipalDep,
                    _region: AskedRegionDep) -> dict[str, Any]:
    """Record a check-in; 422 when farther than the key point's ``radius_m`` (saying how far),
    404 when the key point is not in the caller's cells."""
    worker_id, region = access.own_worker(conn, principal)
    return checkins.check_in(conn, region, sorted(principal.cell_codes), worker_id,
                             principal.user_id, body.key_point_id, body.lon, body.lat,
                             body.crs, body.at)


@router.get("/patrols", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="Patrol tracks (command centre) / 巡查轨迹 (指挥中心)",
            responses=ok(schemas.PatrolList), response_model=None)
def get_patrols(conn: ConnDep, principal: PrincipalDep, region: RegionDep,
                date_from: From = None, date_to: To = None, crs: Crs = "EPSG:4490",
                worker: Annotated[str | None, Query(description="grid worker code")] = None,
                cell: Annotated[str | None, Query(description="only patrols crossing this "
                                                  "cell")] = None,
                tracks_: Annotated[bool, Query(alias="tracks", description="include the "
                                               "lines")] = True,
                limit: Annotated[int, Query(ge=1, le=views.MAX_PATROLS)] = 500,
                ) -> dict[str, Any]:
    """Every worker's patrols of the region with raw tracks: the command centre and admins
    only (personal location data; planners: ``GET /analysis/patrols``)."""
    access.check_raw(principal, region)
    frm, to = views.period_bounds(date_from, date_to, default_days=7)
    ids = None
    if worker is not None:
        row = conn.execute(text(
            "SELECT id FROM grid_worker WHERE region_code = :r AND code = :c"),
            {"r": region, "c": worker}).first()
        if row is None:
            raise InvalidInput(f"未知网格员编码 {worker!r} / unknown grid worker {worker!r}",
                               field="worker")
        ids = [int(row[0])]
    return views.list_patrols(conn, principal, region, frm, to, crs, worker_ids=ids,
                              cell_code=cell, with_tracks=tracks_, limit=limit)


@router.get("/analysis/patrols", dependencies=[LOGGED_IN, EXPENSIVE],
            tags=["analysis 分析"],
            summary="Patrol figures per cell, worker and week / 巡查分析 (汇总)",
            responses=ok(schemas.PatrolAnalysis), response_model=None)
def get_patrol_analysis(conn: ConnDep, principal: PrincipalDep, region: RegionDep,
                        date_from: From = None, date_to: To = None,
                        idle_days: Annotated[int, Query(ge=1, le=366, description=(
                            "cells with no patrol in this many days up to `to` are listed "
                            "in cells_not_patrolled"))] = 7,
                        ) -> dict[str, Any]:
    """Per ISO week, cell and worker: km patrolled, hours, share of the cell within 50 m of a
    track, key points visited vs due; and the cells not patrolled for ``idle_days`` days.
    Aggregates only (no track, no position): command centre, admins, planners (worker names
    masked); a grid worker her own rows; departments and viewers 403."""
    own = None
    if principal.role == "worker":
        own, _ = access.own_worker(conn, principal)
    frm, to = views.period_bounds(date_from, date_to, default_days=56)
    return analysis.patrol_analysis(conn, principal, region, frm, to, idle_days, own)
