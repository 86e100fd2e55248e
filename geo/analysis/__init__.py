"""Planners' analyses: camera coverage, property management, grid health, hotspots, new sites.

Each function takes ``(conn, principal, region_code, ...)`` and returns a plain dict
``{"analysis", "inputs", "summary", "tables"}`` whose tables are GeoDataFrames in EPSG:4490
(see :mod:`geo.analysis.common`); :func:`to_payload` makes JSON of it and
:func:`write_result` writes CSV/XLSX/GeoJSON. :mod:`geo.mapdata.analysis` gives the layers
the Folium maps draw.
"""

from geo.analysis.common import to_payload
from geo.analysis.coverage import camera_coverage
from geo.analysis.export import write_result
from geo.analysis.grid import grid_health
from geo.analysis.property import parse_targets, property_management
from geo.analysis.sectors import camera_sectors, sector_polygon
from geo.analysis.sites import camera_sites
from geo.analysis.spots import hotspots
from geo.periods import Period, last_full_quarter, make_period

__all__ = [
    "Period", "camera_coverage", "camera_sectors", "camera_sites", "grid_health", "hotspots",
    "last_full_quarter", "make_period", "parse_targets", "property_management",
    "sector_polygon", "to_payload", "write_result",
]
