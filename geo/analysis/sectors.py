"""Camera fields of view (sectors), in Python, identical in construction to PostGIS.

The database keeps ``camera.sector`` with the trigger of migration 0001
(``wangge_camera_sector``): the apex, then ``n = max(4, ceil(fov / 3))`` + 1 points projected on
the ellipsoid (``ST_Project``) from ``bearing - fov/2`` to ``bearing + fov/2``, back to the apex;
a NULL bearing (or fov >= 360) is a full circle of the range. :func:`sector_polygon` builds the
same polygon with :class:`pyproj.Geod` (WGS84 and CGCS2000 ellipsoids differ by 0.1 mm here), for
candidate sites that are not in the database and for the plain geopandas benchmark.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import Polygon
from sqlalchemy import Connection

from geo.analysis.common import check_region, read_gdf, result
from geo.auth.principal import Principal

GEOD = Geod(ellps="WGS84")
COVERING_STATUSES = ("online",)


def sector_polygon(lon: float, lat: float, bearing_deg: float | None, fov_deg: float,
                   range_m: float) -> Polygon:
    """The field of view of a camera at ``lon, lat`` (EPSG:4490) as a polygon.

    Parameters
    ----------
    lon, lat
        Camera position, degrees.
    bearing_deg
        Compass bearing of the view axis, clockwise from north; None = unknown (full circle).
    fov_deg
        Horizontal field of view in degrees (0 < fov <= 360).
    range_m
        Useful range in metres.
    """
    if bearing_deg is None or fov_deg >= 360:
        n = 64
        az = np.linspace(0.0, 360.0, n, endpoint=False)
        x, y, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, range_m))
        return Polygon(list(zip(x, y, strict=True)))
    n = max(4, math.ceil(fov_deg / 3.0))
    az = bearing_deg - fov_deg / 2.0 + fov_deg * np.arange(n + 1) / n
    x, y, _ = GEOD.fwd(np.full(n + 1, lon), np.full(n + 1, lat), az, np.full(n + 1, range_m))
    ring = [(lon, lat), *zip(x, y, strict=True), (lon, lat)]
    return Polygon(ring)


def geodesic_area_m2(geom: Any) -> float:
    """Area of a lon/lat geometry on the ellipsoid, m^2."""
    if geom is None or geom.is_empty:
        return 0.0
    area, _ = GEOD.geometry_area_perimeter(shapely.orient_polygons(geom))
    return abs(float(area))


def camera_sectors(conn: Connection, principal: Principal, region_code: str,
                   statuses: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every camera of a region with its sector and flags, for maps and checks.

    Returns a result whose table ``cameras`` has one row per camera: ``gb_id, name, status,
    bearing_deg, fov_deg, range_m, no_bearing`` (flag: treated as a full circle),
    ``counts_for_coverage`` (online and with a sector), ``sector_area_m2`` and the sector
    polygon as geometry (EPSG:4490). ``statuses`` filters the rows (default: all).
    """
    check_region(conn, principal, region_code)
    rows = read_gdf(conn, """
        SELECT id, gb_id, name, status, bearing_deg, fov_deg, range_m, project,
               ST_X(geom) AS lon, ST_Y(geom) AS lat,
               bearing_deg IS NULL AS no_bearing,
               (status = 'online' AND sector IS NOT NULL) AS counts_for_coverage,
               ST_Area(sector::geography) AS sector_area_m2,
               ST_AsBinary(sector) AS geom
          FROM camera WHERE region_code = :r
           AND (CAST(:st AS text[]) IS NULL OR status = ANY(CAST(:st AS text[])))
         ORDER BY gb_id""", {"r": region_code, "st": list(statuses) if statuses else None})
    summary = {
        "cameras": len(rows),
        "counting_for_coverage": int(rows["counts_for_coverage"].sum()) if len(rows) else 0,
        "no_bearing": int(rows["no_bearing"].sum()) if len(rows) else 0,
        "by_status": {str(k): int(v) for k, v in rows["status"].value_counts().items()},
    }
    inputs = {"region": region_code, "statuses": list(statuses) if statuses else "all",
              "rule": "sector = field of view (bearing clockwise from north, fov, range_m, "
                      "on the ellipsoid); NULL bearing = full circle (flagged); only online "
                      "cameras count for coverage"}
    return result("camera-sectors", inputs, summary, {"cameras": rows})
