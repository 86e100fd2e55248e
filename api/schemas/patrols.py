"""Patrols (巡查): a segment's answer, tracks, key points, check-ins, the analysis."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config

_LINE = {"type": "LineString", "coordinates": [[111.1362, 38.4614], [111.1365, 38.4616]]}
_PATROL = {
    "id": 12, "client_id": "5f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
    "worker": {"id": 3, "code": "W141123100003001", "name": "王芳"},
    "started_at": "2026-11-20T09:00:00+08:00", "ended_at": "2026-11-20T10:05:00+08:00",
    "length_m": 3120.4, "duration_s": 3870.0, "points": 390, "points_flagged": 1,
    "synthetic": False, "track": _LINE,
    "flagged": [{"t": "2026-11-20T09:31:10+08:00", "reason": "jump", "reason_zh": "跳点超过5公里",
                 "lon": 111.2, "lat": 38.5}],
}


class SegmentAnswer(Answer):
    """What became of a segment: points kept and counted, resent (skipped), flagged."""

    id: int
    client_id: str
    points_accepted: int
    points_duplicate: int
    points_flagged: list[dict[str, Any]]
    length_m: float
    duration_s: float
    ended: bool
    model_config = model_config({
        "id": 12, "client_id": "5f1c2d3e-aaaa-bbbb-cccc-0123456789ab", "points_accepted": 60,
        "points_duplicate": 0, "points_flagged": [{"t": "2026-11-20T09:31:10+08:00",
                                                   "reason": "speed",
                                                   "reason_zh": "速度超过150公里/小时"}],
        "length_m": 712.5, "duration_s": 590.0, "ended": False, "points": 61,
        "points_flagged_total": 1})


class PatrolList(Answer):
    """Patrols with their tracks (GeoJSON LineString in ``crs``), newest first."""

    region_code: str
    crs: str
    count: int
    items: list[dict[str, Any]]
    model_config = model_config({"region_code": "141123", "from": "2026-11-01",
                                 "to": "2026-11-30", "crs": "GCJ02", "count": 1,
                                 "items": [_PATROL]})


class KeyPoints(Answer):
    """The key points of my cells, with this ISO week's check-ins."""

    crs: str
    count: int
    items: list[dict[str, Any]]
    model_config = model_config({
        "crs": "EPSG:4490", "week_from": "2026-11-16", "week_to": "2026-11-22", "count": 1,
        "items": [{"id": 7, "kind": "compound_gate", "kind_label": "小区出入口",
                   "kind_label_en": "compound gate", "ref": "XQ0007", "name": "兴华家园 大门",
                   "cell_code": "141123100003001", "lon": 111.1362, "lat": 38.4614,
                   "radius_m": 50.0, "due_per_week": 2, "checkins_this_week": 1,
                   "checked_in_this_week": True, "due_remaining_this_week": 1,
                   "last_checkin_at": "2026-11-18T10:02:00+08:00"}]})


class Checkin(Answer):
    """A check-in recorded: the key point and how far from it the worker stood."""

    id: int
    key_point: dict[str, Any]
    distance_m: float
    model_config = model_config({
        "id": 101, "at": "2026-11-20T09:40:00+08:00", "distance_m": 12.4,
        "key_point": {"id": 7, "kind": "compound_gate", "kind_label": "小区出入口",
                      "name": "兴华家园 大门", "cell_code": "141123100003001", "radius_m": 50.0}})


class PatrolAnalysis(Answer):
    """Patrol figures per ISO week, cell and worker (aggregates, no tracks), and the cells not
    patrolled for ``idle_days`` days."""

    region_code: str
    count: int
    items: list[dict[str, Any]]
    cells_not_patrolled: list[dict[str, Any]]
    summary: dict[str, Any]
    model_config = model_config({
        "region_code": "141123", "from": "2026-10-05", "to": "2026-11-29",
        "boundary_set_id": 1, "cover_m": 50.0, "idle_days": 7, "count": 1,
        "items": [{"week": "2026-W47", "week_from": "2026-11-16",
                   "cell_code": "141123100003001", "cell_name": "兴华社区第1网格",
                   "worker_code": "W141123100003001", "worker_name": "王*", "patrols": 3,
                   "length_km": 7.412, "duration_h": 2.31, "covered_share": 0.4312,
                   "key_points_due": 4, "key_point_checkins": 3, "key_points_visited": 2}],
        "cells_not_patrolled": [{"cell_code": "141123100005002", "cell_name": "…",
                                 "last_patrol_at": None, "days_since": None}],
        "summary": {"length_km": 7.412, "duration_h": 2.31, "cells_patrolled": 1,
                    "cells_not_patrolled": 1},
        "definitions_zh": "巡查统计口径: …", "labels_zh": {"length_km": "巡查里程(公里)"}})

