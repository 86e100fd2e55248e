"""Planners' analyses: camera coverage, property management, grid health, hotspots, new sites.

Each function takes ``(conn, principal, region_code, ...)`` and returns a plain dict
``{"analysis", "inputs", "summary", "tables"}`` whose tables are GeoDataFrames in EPSG:4490
(see :mod:`geo.analysis.common`); :func:`to_payload` makes JSON of it and
:func:`write_result` writes CSV/XLSX/GeoJSON. :mod:`geo.analysis.maplayers` gives the layers
the Folium maps draw.

Names are imported lazily: ``geo.models`` imports :mod:`geo.analysis.models` (the tables), which
must not pull geopandas, esda and PuLP into every process that only needs the schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_NAMES = {
    "Period": "common", "last_full_quarter": "common", "make_period": "common",
    "to_payload": "common", "camera_coverage": "coverage", "write_result": "export",
    "grid_health": "grid", "hotspots": "spots", "parse_targets": "property",
    "property_management": "property", "camera_sectors": "sectors",
    "sector_polygon": "sectors", "camera_sites": "sites",
}

__all__ = [
    "Period", "camera_coverage", "camera_sectors", "camera_sites", "grid_health", "hotspots",
    "last_full_quarter", "make_period", "parse_targets", "property_management",
    "sector_polygon", "to_payload", "write_result",
]

if TYPE_CHECKING:
    from geo.analysis.common import Period, last_full_quarter, make_period, to_payload
    from geo.analysis.coverage import camera_coverage
    from geo.analysis.export import write_result
    from geo.analysis.grid import grid_health
    from geo.analysis.property import parse_targets, property_management
    from geo.analysis.sectors import camera_sectors, sector_polygon
    from geo.analysis.sites import camera_sites
    from geo.analysis.spots import hotspots


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'geo.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"geo.analysis.{module}"), name)
