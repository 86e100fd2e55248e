"""Incidents: one case, lists, the board, a worker's cells, KPIs, photos."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, RootModel

from api.schemas.base import Answer, list_config, model_config

_INCIDENT = {
    "id": 20001, "code": "SJ2025093000001", "region_code": "141123", "status": "dispatched",
    "status_zh": "已派遣", "category": "ebike_charging", "channel": "12345", "urgency": "normal",
    "reported_at": "2025-09-30T15:00:00+08:00", "description": "电动车在楼道充电",
    "location_text": "兴华家园3号楼", "reporter_name": "赵*", "reporter_phone": "137****1234",
    "personal": "masked", "lon": 111.1362, "lat": 38.4614, "cell_code": "141123100003001",
    "community_code": "141123100003", "township_code": "141123100", "worker_id": 12,
    "department_code": "xiaofang", "compound_id": 7, "routing": {"cell": {"code":
                                                                         "141123100003001"}},
    "due_at": "2025-10-01T11:00:00+08:00", "final_due_at": "2025-10-03T17:00:00+08:00",
    "overdue": False, "version": 3, "pending_requests": [],
    "allowed_actions": [
        {"action": "in_progress", "label": "签收处置", "label_en": "accept and start",
         "method": "POST", "path": "/incidents/SJ2025093000001/transition",
         "body": {"to": "in_progress"}},
        {"action": "request_return", "label": "退回指挥中心",
         "label_en": "return to the command centre", "method": "POST",
         "path": "/incidents/SJ2025093000001/requests", "body": {"kind": "return", "reason": ""}},
    ],
}


class Incident(Answer):
    """One case: what, where, routing (with reasons), deadlines, masked personal fields."""

    id: int
    code: str
    region_code: str
    status: str
    status_zh: str | None = None
    category: str | None = None
    channel: str | None = None
    urgency: str | None = None
    reported_at: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    lon: float | None = None
    lat: float | None = None
    cell_code: str | None = None
    department_code: str | None = None
    routing: dict[str, Any] | None = None
    due_at: str | None = None
    overdue: bool | None = None
    crs: str | None = None
    pending_requests: list[dict[str, Any]] | None = None
    allowed_actions: list[dict[str, Any]] | None = None
    model_config = model_config(_INCIDENT)


class Categories(Answer):
    """The categories a report may take, the caller's most used first."""

    count: int
    items: list[dict[str, Any]]
    model_config = model_config({"count": 1, "items": [
        {"code": "fire_lane_blocked", "name": "占用消防通道", "name_en": "Blocked fire lane",
         "department_code": "xiaofang", "department_name": "消防救援大队",
         "department_name_en": "Fire and rescue brigade", "group": "fire",
         "dup_radius_m": 100.0, "used_by_me": 3, "used_in_scope": 41}]})


class Nearby(Answer):
    """Cases a new report here would duplicate, in the caller's scope."""

    count: int
    items: list[dict[str, Any]]
    model_config = model_config({"count": 1, "items": [
        {"id": 20001, "code": "SJ2025093000001", "category": "fire_lane_blocked",
         "category_name": "占用消防通道", "channel": "patrol", "status": "dispatched",
         "status_zh": "已派遣", "cell_code": "141123100007005", "department_code": "xiaofang",
         "distance_m": 38.2, "hours_apart": -20.5}]})


class CaseRequest(Answer):
    """A worker's or department's request to the command centre on a case."""

    id: int
    incident: str
    kind: str
    kind_label: str
    state: str
    model_config = model_config({
        "id": 7, "incident": "SJ2025093000001", "kind": "return", "kind_label": "退回指挥中心",
        "minutes": None, "reason": "不属于本网格", "state": "pending", "state_label": "待审批",
        "requested_by": "demo-worker", "requested_at": "2026-12-04T10:20:00+08:00"})


class IncidentList(RootModel[list[Incident]]):
    """Incidents in the caller's scope, newest first."""

    model_config = list_config([_INCIDENT])


class OverdueList(Answer):
    """Overdue open cases, most overdue first."""

    count: int
    as_of: str
    items: list[Incident]
    model_config = model_config({"count": 1, "as_of": "2026-10-31T23:59:59+08:00",
                                 "items": [_INCIDENT]})


class Board(Answer):
    """The command-centre board: counts by status, category and township; overdue cases; all
    reports, or those of today / this ISO week / this month (``period``)."""

    region_code: str
    as_of: str
    period: dict[str, Any] | None = None
    by_status: dict[str, int]
    open: int
    by_category: list[dict[str, Any]]
    by_township: list[dict[str, Any]]
    overdue_total: int
    overdue: list[dict[str, Any]]
    model_config = model_config({
        "region_code": "141123", "as_of": "2026-10-31T23:59:59+08:00",
        "period": {"name": "week", "name_zh": "本周", "label": "2026-W44",
                   "from": "2026-10-26", "to": "2026-11-02",
                   "start": "2026-10-26T00:00:00+08:00", "end": "2026-11-02T00:00:00+08:00"},
        "by_status": {"closed": 180, "dispatched": 30}, "open": 40,
        "by_category": [{"category_code": "dispute", "name": "矛盾纠纷", "n": 20, "open": 4}],
        "by_township": [{"township_code": "141123100", "name": "蔚汾镇", "n": 140,
                         "open": 30, "overdue": 9}],
        "overdue_total": 12,
        "overdue": [{"id": 20001, "code": "SJ2026102800001", "status": "dispatched",
                     "category": "ebike_charging", "cell_code": "141123100003001",
                     "township_code": "141123100", "department_code": "xiaofang",
                     "due_at": "2026-10-29T11:00:00+08:00",
                     "reported_at": "2026-10-28T15:00:00+08:00"}]})


class BoardByCounty(Answer):
    """``/board?group_by=county``: one row per county in the caller's scope (a prefecture or
    province command centre: every county below), each the county's own board, and totals."""

    group_by: str
    as_of: str | None
    period: dict[str, Any] | None = None
    counties: list[dict[str, Any]]
    total: dict[str, Any]
    model_config = model_config({
        "group_by": "county", "as_of": "2026-10-31T23:59:59+08:00", "period": None,
        "counties": [{"region_code": "141123", "name": "兴县", "reports": 20000,
                      "by_status": {"closed": 18500, "dispatched": 300}, "open": 1500,
                      "overdue_total": 420, "by_township": [], "overdue": []},
                     {"region_code": "141124", "name": "临县", "reports": 1500,
                      "by_status": {"closed": 1400, "dispatched": 20}, "open": 100,
                      "overdue_total": 30, "by_township": [], "overdue": []}],
        "total": {"reports": 21500, "by_status": {"closed": 19900, "dispatched": 320},
                  "open": 1600, "overdue_total": 450}})


class BoardAnswer(RootModel[Board | BoardByCounty]):
    """The board of one county, or (``group_by=county``) one row per county."""

    model_config = ConfigDict(json_schema_extra=Board.model_config["json_schema_extra"])


class MyCells(Answer):
    """A worker's cells now (empty with a message for other roles)."""

    user: str
    role: str
    worker_name: str | None = None
    cells: list[dict[str, Any]]
    neighbours: list[dict[str, Any]] = []
    compounds: list[dict[str, Any]] = []
    cameras: list[dict[str, Any]] = []
    offset: dict[str, Any] | None = Field(None, description=(
        "asked in GCJ02: the offset from WGS84 to GCJ-02 on a grid around the cells "
        "(lon0, lat0, step, nx, ny, dlon[row][col], dlat[row][col]; rows by latitude): add its "
        "bilinear interpolation to a GPS position to draw it on the map"))
    model_config = model_config({"user": "demo-worker", "role": "worker",
                                 "worker_name": "王丽", "cells": [
        {"code": "141123100007005", "name": "蔚汾社区第5网格"}], "neighbours": [
        {"code": "141123100007004", "name": "蔚汾社区第4网格"}], "compounds": [
        {"id": 7, "code": "XQ0007", "name": "兴华家园", "address": "蔚汾路3号"}], "cameras": [
        {"gb_id": "14112300001320000001", "name": "蔚汾路口", "status": "online"}]})


class MyIncidents(Answer):
    """A worker's open cases, nearest first when a position is given."""

    user: str
    crs: str | None = None
    count: int
    items: list[Incident]
    model_config = model_config({"user": "demo-worker", "crs": "EPSG:4490", "count": 1,
                                 "items": [dict(_INCIDENT, distance_m=122.4)]})


class Kpi(Answer):
    """KPIs per group, per period (month, ISO week, day) or both: closing rate, on-time
    closing rate, handling time, rework rate; 同比 (``yoy``) and 环比 (``pop``) per row."""

    region_code: str
    group_by: str
    period: str | None = None
    groups: list[dict[str, Any]]
    periods: list[dict[str, Any]] | None = None
    total: dict[str, Any]
    model_config = model_config({
        "region_code": "141123", "from": "2026-09-01", "to": "2026-11-01",
        "as_of": "2026-11-01T08:00:00+08:00", "group_by": "month", "period": "month",
        "groups": [{"key": "2026-10", "name": "2026年10月", "period": "2026-10",
                    "from": "2026-10-01", "to": "2026-11-01", "partial": False,
                    "ongoing": False, "reports": 894, "due": 807, "closed": 713,
                    "closed_on_time": 590, "closing_rate": 0.8835, "on_time_rate": 0.7311,
                    "yoy": {"label": "2025-10", "from": "2025-10-01", "to": "2025-11-01",
                            "base": {"reports": 917, "closing_rate": 0.9909},
                            "change": {"reports": -23}, "change_pct": {"reports": -2.51},
                            "change_pp": {"closing_rate": -10.74}},
                    "pop": {"label": "2026-09", "from": "2026-09-01", "to": "2026-10-01",
                            "base": {"reports": 812, "closing_rate": 0.9858},
                            "change": {"reports": 82}, "change_pct": {"reports": 10.1},
                            "change_pp": {"closing_rate": -10.23}}}],
        "total": {"key": "TOTAL", "name": "合计 / total", "reports": 1706, "due": 1579,
                  "closed": 1474,
                  "yoy": {"label": "2025-09-01 .. 2025-10-31", "from": "2025-09-01",
                          "to": "2025-11-01", "base": {"reports": 1820},
                          "change": {"reports": -114}, "change_pct": {"reports": -6.26},
                          "change_pp": {"closing_rate": -10.5}},
                  "pop": None,
                  "pop_reason": "上一时段 (2026-07-01 .. 2026-08-31) 不在数据范围内 (数据始于 "
                                "2026-08-01) / the previous period (2026-07-01 .. 2026-08-31) "
                                "is not covered by the data (the region's data start on "
                                "2026-08-01)"},
        "warnings": []})


class Photos(Answer):
    """Photos stored for a case."""

    incident_id: int
    incident_code: str
    attachments: list[dict[str, Any]]
    model_config = model_config({"incident_id": 20001, "incident_code": "SJ2025093000001",
                                 "attachments": [{"id": 1, "filename": "photo.jpg",
                                                  "content_type": "image/jpeg",
                                                  "bytes": 81234}]})


class CategoryLimits(Answer):
    """A category's time limits in a county after its admin's edit, with each step's clock."""

    code: str
    region_code: str
    limits: dict[str, Any]
    steps: dict[str, Any]
    model_config = model_config({
        "code": "manhole_cover", "region_code": "141123",
        "limits": {"urgent": {"clock": "calendar", "register": 10, "dispatch": 10,
                              "handle": 120, "verify": 60}},
        "steps": {"urgent": {"register": {"minutes": 10, "clock": "calendar"}}}})
