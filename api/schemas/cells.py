"""Which cell: the single answer (a Feature) and the batch answer."""

from __future__ import annotations

from typing import Any

from api.schemas.base import Answer, model_config
from api.schemas.common import Geometry

_CELL = {
    "type": "Feature", "id": "141123100003001",
    "geometry": {"type": "MultiPolygon", "coordinates": [[[[111.13, 38.46], [111.14, 38.46],
                                                           [111.14, 38.47], [111.13, 38.46]]]]},
    "properties": {
        "code": "141123100003001", "name": "南关社区第1网格", "kind": "basic",
        "village_or_community": {"code": "141123100003", "name": "南关社区"},
        "township": {"code": "141123100", "name": "蔚汾镇"},
        "worker": {"code": "W0001", "name": "廖静", "phone_masked": "150****2203"},
        "near_boundary": {"distance_m": 93.8, "within_tolerance": False},
        "candidates": ["141123100003001"], "covering": ["141123100003001"], "dedicated": [],
        "boundary_set": {"id": 1, "name": "demo"}, "region": "141123",
        "query": {"lon": 111.1362, "lat": 38.4614, "crs": "GCJ02"},
    },
}


class CellProperties(Answer):
    """The cell, its units, the worker on duty (phone masked) and the edge distance."""

    code: str
    name: str
    kind: str
    village_or_community: dict[str, Any] | None = None
    township: dict[str, Any] | None = None
    worker: dict[str, Any] | None = None
    near_boundary: dict[str, Any] | None = None
    candidates: list[Any]
    covering: list[Any] | None = None
    dedicated: list[Any] | None = None
    region: str | None = None  # the county answering: ?region=, else the one covering the point


class CellAt(Answer):
    """``GET /cells/at``: the cell covering a point, as a GeoJSON Feature."""

    type: str
    id: str
    geometry: Geometry | None = None
    properties: CellProperties
    model_config = model_config(_CELL)


class BatchRow(Answer):
    """One point of a batch: its cell (or None), edge flag, candidates, error."""

    cell_code: str | None = None
    near_boundary: bool | None = None
    candidates: list[Any] | None = None
    error: str | None = None


class BatchAnswer(Answer):
    """``POST /cells/at``: one row per point (``format=columns``: one array per field)."""

    boundary_set_id: int
    region: str
    tolerance_m: float
    count: int
    found: int
    near_boundary: int
    errors: int
    results: list[BatchRow] | None = None
    model_config = model_config({
        "boundary_set_id": 1, "region": "141123", "tolerance_m": 10.0, "count": 1, "found": 1,
        "near_boundary": 0, "errors": 0,
        "results": [{"cell_code": "141123100003001", "near_boundary": False,
                     "candidates": ["141123100003001"], "error": None}]})
