"""Answers of the reports for officials (``/reports/monthly?format=json``)."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config


class MonthlyReport(Answer):
    """The figures of the monthly report: its inputs, the headline with 同比 (``yoy``) and 环比
    (``mom``), the 12-month trend, townships ranked, categories, overdue cases, cameras,
    property management, hot spots and recommended camera sites."""

    inputs: dict[str, Any]
    headline: dict[str, Any]
    yoy: dict[str, Any] | None
    mom: dict[str, Any] | None
    trend: list[dict[str, Any]]
    townships: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    overdue: dict[str, Any]
    cameras: dict[str, Any]
    property: dict[str, Any]
    hotspots: dict[str, Any]
    sites: dict[str, Any]
    model_config = model_config({
        "inputs": {"region_code": "141123", "region_name": "兴县(演示)", "month": "2026-10",
                   "from": "2026-10-01", "to": "2026-11-01",
                   "as_of": "2026-11-15T10:00:00+08:00", "boundary_set": "兴县网格 2021",
                   "reader": "demo-command", "role": "command", "synthetic": True},
        "headline": {"reports": 894, "cases": 847, "closed": 713, "closing_rate": 0.8418},
        "yoy": {"reports": {"before": 917, "diff": -23, "pct": -2.5}},
        "mom": {"reports": {"before": 812, "diff": 82, "pct": 10.1}},
        "trend": [{"month": "2026-10", "reports": 894, "closing_rate": 0.8418}],
        "townships": [{"key": "141123100", "name": "蔚汾镇", "reports": 500}],
        "categories": [{"key": "ebike_charging", "name": "电动车违规充电", "reports": 80}],
        "overdue": {"total": 1, "rows": [{"code": "SJ20261003N0000001", "worker": "廖*"}]},
        "cameras": {"summary": {"covered_pct": 0.28}, "units": []},
        "property": {"summary": {"managed_pct": 91.67}, "unmanaged": []},
        "hotspots": {"summary": {"hot_units": 68}},
        "sites": {"summary": {"sites_recommended": 5}, "rows": []},
        "definitions": "...", "warnings": []})
