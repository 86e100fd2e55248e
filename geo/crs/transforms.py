"""Transforms between coordinate reference systems: WGS84 / CGCS2000, GCJ-02, BD-09 and EPSG.

**CGCS2000** (EPSG:4490) is the national geodetic datum. Its realisation differs from WGS84
(EPSG:4326) by a few centimetres, which is below the accuracy of any source used here, so --
exactly as PROJ does -- the two are treated as identical (null transform). GCJ-02 and BD-09
(:mod:`geo.crs.china`) go through WGS84; everything else is handled by :mod:`pyproj`
through cached transformers, so projected CRSs such as EPSG:4546 (CGCS2000 / 3-degree
Gauss-Kruger CM 111E) work too. CRS names are read by :func:`geo.crs.names.normalize_crs`.

All longitude/latitude pairs in this module are ``(lon, lat)`` in degrees (x first).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from geo.crs.china import (
    bd09_to_gcj02,
    float_pair,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)
from geo.crs.names import BD09, CGCS2000, GCJ02, WGS84, normalize_crs

__all__ = [
    "from_cgcs2000",
    "geojson_from_cgcs2000",
    "point_from_cgcs2000",
    "to_cgcs2000",
    "transform_geometry",
    "transform_xy",
]

FloatArray = npt.NDArray[np.float64]


@lru_cache(maxsize=128)
def _transformer(src: str, dst: str) -> Transformer:
    """Cached ``Transformer.from_crs(src, dst, always_xy=True)`` for EPSG names."""
    return Transformer.from_crs(src, dst, always_xy=True)


def _is_cgcs_or_wgs(name: str) -> bool:
    return name in (CGCS2000, WGS84)


def _epsg_transform(
    x: FloatArray, y: FloatArray, src: str, dst: str
) -> tuple[FloatArray, FloatArray]:
    if src == dst or (_is_cgcs_or_wgs(src) and _is_cgcs_or_wgs(dst)):
        return x, y
    tx, ty = _transformer(src, dst).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def to_cgcs2000(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: str | int | None
) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in ``crs`` to CGCS2000 (EPSG:4490) longitude/latitude.

    Parameters
    ----------
    x, y : array_like or float
        Coordinates in ``crs`` (lon/lat for geographic CRSs, easting/northing otherwise).
    crs : str, int or None
        Source CRS, any form accepted by :func:`normalize_crs`.

    Returns
    -------
    tuple of numpy.ndarray
        CGCS2000 longitudes and latitudes as float64 arrays (0-d for scalar input).
    """
    return transform_xy(x, y, crs, CGCS2000)


def from_cgcs2000(
    lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str | int | None
) -> tuple[FloatArray, FloatArray]:
    """Convert CGCS2000 (EPSG:4490) longitude/latitude to coordinates in ``crs``.

    Parameters
    ----------
    lon, lat : array_like or float
        CGCS2000 longitudes and latitudes in degrees.
    crs : str, int or None
        Target CRS, any form accepted by :func:`normalize_crs`.

    Returns
    -------
    tuple of numpy.ndarray
        Coordinates in ``crs`` as float64 arrays (0-d for scalar input).
    """
    return transform_xy(lon, lat, CGCS2000, crs)


def transform_xy(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    src_crs: str | int | None,
    dst_crs: str | int | None,
) -> tuple[FloatArray, FloatArray]:
    """Convert coordinate arrays between any two CRSs accepted by :func:`normalize_crs`.

    EPSG -> EPSG goes through a single cached pyproj transformer; GCJ-02 and BD-09 go
    through WGS84, which is taken as identical to CGCS2000.

    Parameters
    ----------
    x, y : array_like or float
        Source coordinates (x = longitude/easting).
    src_crs, dst_crs : str, int or None
        Source and target CRS.

    Returns
    -------
    tuple of numpy.ndarray
        Target coordinates as new float64 arrays.
    """
    src = normalize_crs(src_crs)
    dst = normalize_crs(dst_crs)
    fx, fy = float_pair(x, y)
    if src == dst:
        return fx, fy
    # Step 1: into an EPSG CRS (GCJ02/BD09 -> WGS84 == CGCS2000).
    if src == GCJ02:
        fx, fy = gcj02_to_wgs84(fx, fy)
        src = CGCS2000
    elif src == BD09:
        fx, fy = gcj02_to_wgs84(*bd09_to_gcj02(fx, fy))
        src = CGCS2000
    # Step 2: EPSG -> EPSG, or EPSG -> CGCS2000 followed by the offset formulas.
    if dst == GCJ02:
        return wgs84_to_gcj02(*_epsg_transform(fx, fy, src, CGCS2000))
    if dst == BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(*_epsg_transform(fx, fy, src, CGCS2000)))
    return _epsg_transform(fx, fy, src, dst)


def transform_geometry(geom: Any, src_crs: str | int | None, dst_crs: str | int | None) -> Any:
    """Transform a shapely geometry between any two supported CRSs.

    Parameters
    ----------
    geom : shapely.Geometry (or array of geometries)
        Geometry with coordinates in ``src_crs``. Z values, if any, are kept unchanged.
    src_crs, dst_crs : str, int or None
        Source and target CRS, any form accepted by :func:`normalize_crs`.

    Returns
    -------
    shapely.Geometry
        A new geometry of the same type with coordinates in ``dst_crs``.
    """
    src = normalize_crs(src_crs)
    dst = normalize_crs(dst_crs)
    if src == dst:
        return geom

    def _xy(coords: FloatArray) -> FloatArray:
        tx, ty = transform_xy(coords[:, 0], coords[:, 1], src, dst)
        out = np.array(coords, dtype=np.float64, copy=True)
        out[:, 0] = tx
        out[:, 1] = ty
        return out

    if isinstance(geom, np.ndarray):
        out = geom.copy()
        has_z = shapely.has_z(geom)
        for flag in (False, True):
            mask = has_z == flag
            if mask.any():
                out[mask] = shapely.transform(geom[mask], _xy, include_z=flag)
        return out
    return shapely.transform(geom, _xy, include_z=bool(shapely.has_z(geom)))


def point_from_cgcs2000(lon: float | None, lat: float | None, crs: str | int | None,
                        digits: int = 7) -> tuple[float | None, float | None]:
    """One stored CGCS2000 point as answered in ``crs`` (rounded); None stays None.

    The one conversion of answered coordinates: a phone that asked in GCJ-02 gets its cases
    where its map draws them.
    """
    if lon is None or lat is None:
        return lon, lat
    if normalize_crs(crs) == CGCS2000:
        return lon, lat
    x, y = from_cgcs2000(lon, lat, crs)
    if not (np.isfinite(x) and np.isfinite(y)):
        from geo.errors import InvalidInput

        raise InvalidInput(f"坐标无法用 {crs} 表示 (超出其适用范围) / a point cannot be given in "
                           f"{crs} (outside its area of use): ask in EPSG:4490, EPSG:4326, GCJ02 "
                           "or BD09", field="crs")
    return round(float(x), digits), round(float(y), digits)


def geojson_from_cgcs2000(geometry: dict[str, Any] | None,
                          crs: str | int | None) -> dict[str, Any] | None:
    """A stored CGCS2000 GeoJSON geometry as answered in ``crs``."""
    if geometry is None or normalize_crs(crs) == CGCS2000:
        return geometry
    from shapely.geometry import mapping, shape

    return dict(mapping(transform_geometry(shape(geometry), CGCS2000, crs)))


OFFSET_STEP = 0.01  # degrees between the nodes of an offset grid (~1 km; bilinear error < 0.1 m)
OFFSET_MARGIN = 0.05  # degrees around the area asked for (~5 km)


def offset_grid(bounds: tuple[float, float, float, float], crs: str | int | None,
                step: float = OFFSET_STEP, margin: float = OFFSET_MARGIN) -> dict[str, Any] | None:
    """The offset from WGS84 to GCJ-02 sampled on a grid over ``bounds`` (lon0, lat0, lon1,
    lat1 in WGS84/CGCS2000) plus ``margin``: for a client that must place a WGS84 position
    (a phone's GPS) on a GCJ-02 map (AMap) with no network, without a copy of the formula.

    A client adds the bilinear interpolation of ``dlon`` / ``dlat`` at its position (rows by
    latitude from ``lat0``, columns by longitude from ``lon0``, ``step`` degrees apart); the
    GCJ-02 offset varies slowly, so inside the grid that is the formula to within a decimetre,
    and within 25 m some 5 km beyond it (clamped to the edge). None for any other ``crs``
    (WGS84/CGCS2000 and EPSG CRSs have no offset; BD-09's short-period terms would need a much
    finer grid).
    """
    if normalize_crs(crs) != GCJ02:
        return None
    x0, y0, x1, y1 = (float(v) for v in bounds)
    lon0 = math.floor((x0 - margin) / step) * step
    lat0 = math.floor((y0 - margin) / step) * step
    nx = int(math.ceil((x1 + margin - lon0) / step)) + 1
    ny = int(math.ceil((y1 + margin - lat0) / step)) + 1
    lons = lon0 + step * np.arange(nx)
    lats = lat0 + step * np.arange(ny)
    gx, gy = np.meshgrid(lons, lats)
    tx, ty = transform_xy(gx, gy, WGS84, crs)
    return {"crs": normalize_crs(crs), "from": WGS84, "lon0": round(lon0, 6),
            "lat0": round(lat0, 6), "step": step, "nx": nx, "ny": ny,
            "dlon": np.round(tx - gx, 9).tolist(), "dlat": np.round(ty - gy, 9).tolist()}
