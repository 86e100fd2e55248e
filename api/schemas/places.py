"""Analyses, spatial questions, a cell's summary, map rows, import reports."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config
from api.schemas.common import Feature


class Analysis(Answer):
    """A planners' analysis: inputs (period, boundary set ...), summary figures and tables."""

    analysis: str
    inputs: dict[str, Any]
    summary: dict[str, Any]
    tables: dict[str, Any]
    model_config = model_config({
        "analysis": "camera_coverage",
        "inputs": {"region": "141123", "unit": "cell",
                   "period": {"from": "2026-08-01", "to": "2026-10-31"}},
        "summary": {"units": 354, "covered_pct": 12.4, "incidents_uncovered": 812},
        "tables": {"units": {"type": "FeatureCollection", "features": []}}})


class SpatialAnswer(Answer):
    """Features answering a spatial question (within, nearest, intersects, inside)."""

    type: str
    features: list[Feature]
    numberReturned: int | None = None
    model_config = model_config({
        "type": "FeatureCollection", "layer": "cameras", "distance_m": 100.0,
        "truncated": False, "center": {"lon": 111.13, "lat": 38.46}, "numberReturned": 1,
        "features": [{"type": "Feature", "id": "14112300001310900001",
                      "geometry": {"type": "Point", "coordinates": [111.1301, 38.4602]},
                      "properties": {"gb_id": "14112300001310900001", "distance_m": 23.5}}]})


class CellSummary(Answer):
    """A cell: its units, worker on duty, compounds, cameras, open incidents, neighbours."""

    code: str
    name: str
    kind: str
    worker: dict[str, Any] | None = None
    compounds: list[dict[str, Any]]
    cameras: list[dict[str, Any]]
    open_incidents: dict[str, Any]
    neighbours: list[dict[str, Any]]
    model_config = model_config({
        "code": "141123100003001", "name": "南关社区第1网格", "kind": "basic",
        "village_or_community": {"code": "141123100003", "name": "南关社区"},
        "township": {"code": "141123100", "name": "蔚汾镇"}, "households": 420,
        "worker": {"code": "W0001", "name": "廖*", "phone_masked": "150****2203"},
        "compounds": [{"code": "XQ001", "name": "兴华家园", "mgmt_mode": "company",
                       "households": 300}],
        "cameras": [{"gb_id": "14112300001310900001", "name": "兴华家园东门",
                     "status": "online", "bearing_deg": 90.0, "range_m": 60.0}],
        "open_incidents": {"count": 3, "by_status": {"dispatched": 3}, "items": []},
        "neighbours": [{"code": "141123100003002", "name": "南关社区第2网格",
                        "shared_edge_m": 412.0}]})


class MapRows(Answer):
    """Incidents in a map view as compact rows (dictionary-encoded columns)."""

    cols: list[str]
    rows: list[list[Any]]
    dicts: dict[str, list[Any]]
    total: int
    model_config = model_config({
        "cols": ["lon", "lat", "cat", "status"], "rows": [[111.13, 38.46, 0, 1]],
        "dicts": {"cat": ["dispute"], "status": ["reported", "dispatched"]},
        "styles": {}, "t": {}, "links": [["SJ2025093000001"]], "total": 1})


class WallFigures(Answer):
    """The wall screen's counters (board and KPI figures), by township, and its two lists.
    For a caller of several counties without ``region``: ``scope`` (the counties' codes),
    ``counties`` (one row per county instead of townships, which is empty) and the lists
    across counties, each case with ``county_code`` and ``county_name``."""

    as_of: str
    totals: dict[str, Any]
    townships: list[dict[str, Any]]
    newest: list[dict[str, Any]]
    most_overdue: list[dict[str, Any]]
    scope: list[str] | None = None
    counties: list[dict[str, Any]] | None = None
    model_config = model_config({
        "as_of": "2026-12-05T09:00:00+08:00",
        "totals": {"today": 12, "open": 240, "overdue": 31, "urgent": 4, "closing_rate": 0.93},
        "townships": [{"code": "141123100", "name": "蔚汾镇", "today": 7, "open": 120,
                       "overdue": 18, "urgent": 3, "closing_rate": 0.91}],
        "newest": [{"code": "SJ2026120500001", "category_name": "占用消防通道",
                    "township_name": "蔚汾镇", "status_name": "已上报", "urgent": True,
                    "cls": "open", "reported_at": "2026-12-05T08:58:00+08:00",
                    "due_at": "2026-12-05T09:08:00+08:00", "late_min": None}],
        "most_overdue": []})


class ImportReport(Answer):
    """The one import report: what an import did or, in a dry run, would do."""

    layer: str
    region: str
    file: str
    dry_run: bool
    rows: int
    new: int
    updated: int
    unchanged: int
    refused: list[dict[str, Any]]
    refused_count: int
    committed: bool
    error: str | None = None
    model_config = model_config({
        "layer": "incidents", "region": "141123", "file": "12345.csv", "format": "csv",
        "crs": {"source": "EPSG:4490", "from": "rows"}, "dry_run": True, "rows": 4, "new": 3,
        "updated": 0, "unchanged": 0, "refused": [{"row": 4, "code": "H003",
                                                   "reason": "未知类别 / unknown category"}],
        "refused_count": 1, "no_location": 1, "duplicates": 0,
        "cases": [{"row": 2, "code": "SJ2026120400001", "status": "reported",
                   "duplicates": 0}], "committed": False, "error": None})
