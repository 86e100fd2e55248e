"""Incidents: one case, lists, the board, a worker's cells, KPIs, photos."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

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
    "overdue": False, "version": 3,
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
    model_config = model_config(_INCIDENT)


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
    """The command-centre board: counts by status, category and township; overdue cases."""

    region_code: str
    as_of: str
    by_status: dict[str, int]
    open: int
    by_category: list[dict[str, Any]]
    by_township: list[dict[str, Any]]
    overdue_total: int
    overdue: list[dict[str, Any]]
    model_config = model_config({
        "region_code": "141123", "as_of": "2026-10-31T23:59:59+08:00",
        "by_status": {"closed": 18000, "dispatched": 300}, "open": 1200,
        "by_category": [{"category_code": "dispute", "name": "矛盾纠纷", "n": 900, "open": 40}],
        "by_township": [{"township_code": "141123100", "name": "蔚汾镇", "n": 14000,
                         "open": 800, "overdue": 90}],
        "overdue_total": 300,
        "overdue": [{"id": 20001, "code": "SJ2025093000001", "status": "dispatched",
                     "category": "ebike_charging", "cell_code": "141123100003001",
                     "township_code": "141123100", "department_code": "xiaofang",
                     "due_at": "2025-10-01T11:00:00+08:00",
                     "reported_at": "2025-09-30T15:00:00+08:00"}]})


class MyCells(Answer):
    """A worker's cells now (empty with a message for other roles)."""

    user: str
    role: str
    cells: list[dict[str, Any]]
    model_config = model_config({"user": "demo-worker", "role": "worker", "cells": [
        {"code": "141123100007005", "name": "蔚汾社区第5网格"}]})


class MyIncidents(Answer):
    """A worker's open cases, nearest first when a position is given."""

    user: str
    count: int
    items: list[Incident]
    model_config = model_config({"user": "demo-worker", "count": 1,
                                 "items": [dict(_INCIDENT, distance_m=122.4)]})


class Kpi(Answer):
    """KPIs per group: closing rate, on-time closing rate, handling time, rework rate."""

    region_code: str
    group_by: str
    groups: list[dict[str, Any]]
    total: dict[str, Any]
    model_config = model_config({
        "region_code": "141123", "from": "2026-10-01", "to": "2026-11-01",
        "as_of": "2026-10-31T23:59:59+08:00", "group_by": "township",
        "groups": [{"key": "141123100", "name": "蔚汾镇", "due": 1000, "closed": 950,
                    "closed_on_time": 900, "closing_rate": 0.95, "on_time_rate": 0.9}],
        "total": {"key": "total", "due": 1400, "closed": 1300}, "warnings": []})


class Photos(Answer):
    """Photos stored for a case."""

    incident_id: int
    incident_code: str
    attachments: list[dict[str, Any]]
    model_config = model_config({"incident_id": 20001, "incident_code": "SJ2025093000001",
                                 "attachments": [{"id": 1, "filename": "photo.jpg",
                                                  "content_type": "image/jpeg",
                                                  "bytes": 81234}]})
