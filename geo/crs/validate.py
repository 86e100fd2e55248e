"""Points and arrays of coordinates -> validated CGCS2000 lon/lat.

The one place that checks coordinates given by callers (degree ranges, swapped axes, failed
projections) before a lookup or an import uses them: :func:`to_cgcs2000_point` for one point
(raises), :func:`coords_to_cgcs2000` for many (a reason per unusable row).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from geo.crs.names import UnknownCRSError, is_geographic, normalize_crs
from geo.crs.transforms import from_cgcs2000, to_cgcs2000, transform_geometry
from geo.errors import InvalidInput

# CRS names whose coordinates are degrees of longitude/latitude (checked before transforming).
_DEGREES = ("EPSG:4490", "EPSG:4326", "GCJ02", "BD09")


def degrees_in_metres_reason(x: float, y: float, name: str) -> str:
    """The message for numbers that look like degrees given to a metric (projected) CRS."""
    return (f"坐标 ({x}, {y}) 像经纬度(度), 不是投影坐标系 {name} 的米; 经纬度请用 "
            f"crs=EPSG:4490 (或 GCJ02/BD09), 或给出 {name} 的米制坐标 / the numbers ({x}, {y}) "
            f"look like degrees, not metres of the projected CRS {name}: give degrees with "
            f"crs=EPSG:4490 (or GCJ02/BD09), or metres in {name}")


def outside_crs_reason(x: float, y: float, name: str) -> str:
    """The message for a position the (projected) CRS cannot place on the earth."""
    return (f"坐标 ({x}, {y}) 超出 {name} 能表示的范围 (单位是米吗?) / the position ({x}, {y}) "
            f"lies outside what {name} can express (are the numbers metres of {name}?)")


def projected_problems(
    xs: npt.ArrayLike, ys: npt.ArrayLike, name: str,
    lon: npt.ArrayLike | None = None, lat: npt.ArrayLike | None = None,
) -> list[str | None]:
    """Per position given in a projected (metric) CRS: why it is unusable, or None.

    The one rule for metric coordinates: numbers within ±180/±90 (in either order) are degrees
    given to a metric CRS (a plausible projected position is never that close to the false
    origin here), and a position whose CGCS2000 transform does not map back to it (Web
    Mercator clamps at the poles and wraps at the antimeridian, 1e10 m "succeeds") lies outside
    what the CRS can express. Geographic CRSs (degrees) get no reasons: their ranges are checked by
    :func:`check_lonlat`. ``lon``/``lat`` are the transformed positions when already known.
    """
    x = np.atleast_1d(np.asarray(xs, dtype=np.float64))
    y = np.atleast_1d(np.asarray(ys, dtype=np.float64))
    out: list[str | None] = [None] * len(x)
    if name in _DEGREES or is_geographic(name):
        return out
    if lon is None or lat is None:
        lon, lat = to_cgcs2000(x, y, name)
    lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    with np.errstate(all="ignore"):
        bx, by = from_cgcs2000(lon_a, lat_a, name)
        bx, by = np.atleast_1d(bx), np.atleast_1d(by)
        tol = 1.0 + 1e-9 * np.maximum(np.abs(x), np.abs(y))
        back = (np.isfinite(bx) & np.isfinite(by) & (np.abs(bx - x) <= tol)
                & (np.abs(by - y) <= tol))
    for i in range(len(x)):
        if not (math.isfinite(x[i]) and math.isfinite(y[i])):
            continue  # callers report non-finite numbers themselves
        # degrees in either axis order: an OGC bbox in a northing-first CRS (EPSG:4546) comes
        # swapped, and "111,38" must not pass as northing 111 m, easting 38 m (review R12)
        small = sorted((abs(x[i]), abs(y[i])))
        if small[0] <= 90 and small[1] <= 180:
            out[i] = degrees_in_metres_reason(float(x[i]), float(y[i]), name)
        elif not back[i]:
            out[i] = outside_crs_reason(float(x[i]), float(y[i]), name)
    return out


def check_lonlat(lon: float, lat: float) -> None:
    """Raise InvalidInput unless lon/lat are valid degrees; hint at swapped axes.

    Parameters
    ----------
    lon, lat
        Degrees.

    Raises
    ------
    InvalidInput
        Latitude outside [-90, 90] (with a hint when the axes look swapped) or longitude
        outside [-180, 180].
    """
    if not (-90.0 <= lat <= 90.0):
        hint = ""
        if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
            hint = " 经纬度是否写反了? / Are lon and lat swapped? lon is east (e.g. 111.13), lat is north (e.g. 38.46)."  # noqa: E501
        raise InvalidInput(
            f"纬度 lat={lat} 超出 [-90, 90] / latitude lat={lat} is outside [-90, 90].{hint}",
            field="lat",
        )
    if not (-180.0 <= lon <= 180.0):
        raise InvalidInput(
            f"经度 lon={lon} 超出 [-180, 180] / longitude lon={lon} is outside [-180, 180]",
            field="lon",
        )


def to_cgcs2000_point(x: float, y: float, crs: str | int | None) -> tuple[float, float]:
    """Validate a point given in ``crs`` and return CGCS2000 lon/lat.

    Parameters
    ----------
    x, y
        The point in ``crs`` (lon/lat for geographic systems).
    crs
        Any form :func:`geo.crs.names.normalize_crs` accepts; None means CGCS2000.

    Returns
    -------
    tuple of float
        CGCS2000 (EPSG:4490) longitude and latitude.

    Raises
    ------
    InvalidInput
        Unknown CRS, latitude/longitude out of range (with a hint when they look swapped).
    """
    try:
        name = normalize_crs(crs or "EPSG:4490")
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    if name in _DEGREES:
        check_lonlat(x, y)
    if name == "EPSG:4490":  # the common case, on the hot path: nothing to transform
        return float(x), float(y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput(f"坐标须为有限数 / coordinates must be finite numbers, got ({x}, {y})",
                           field="lon")
    lon, lat = to_cgcs2000(x, y, name)
    lon_f, lat_f = float(np.ravel(lon)[0]), float(np.ravel(lat)[0])
    problem = projected_problems([x], [y], name, [lon_f], [lat_f])[0]
    if problem:
        raise InvalidInput(problem, field="crs", crs=name)
    if lon_f != lon_f or lat_f != lat_f:  # NaN from a failed projection
        raise InvalidInput(
            f"坐标无法从 {name} 转换 / coordinates cannot be transformed from {name}"
        )
    check_lonlat(lon_f, lat_f)
    return lon_f, lat_f


def coords_to_cgcs2000(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: str | int | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str | None]]:
    """Transform coordinates to CGCS2000 and validate them row by row.

    Parameters
    ----------
    x, y
        Coordinates in ``crs`` (NaN or inf: missing).
    crs
        Any form :func:`geo.crs.names.normalize_crs` accepts; None means CGCS2000.

    Returns
    -------
    tuple
        lon, lat (NaN where unusable) and a reason per row (None when usable).

    Raises
    ------
    InvalidInput
        Unknown CRS.
    """
    try:
        name = normalize_crs(crs or "EPSG:4490")
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    errors: list[str | None] = [None] * len(xs)
    bad_in = ~np.isfinite(xs) | ~np.isfinite(ys)
    if name in _DEGREES:
        swapped = (np.abs(ys) > 90) & (np.abs(xs) <= 90)
        out = (np.abs(ys) > 90) | (np.abs(xs) > 180)
    else:
        swapped = np.zeros(len(xs), dtype=bool)
        out = np.zeros(len(xs), dtype=bool)
    usable = ~(bad_in | out)
    lon = np.full(len(xs), np.nan)
    lat = np.full(len(xs), np.nan)
    if usable.any():
        tl, tt = to_cgcs2000(xs[usable], ys[usable], name)
        lon[usable], lat[usable] = tl, tt
    projected: list[str | None] = [None] * len(xs)
    if usable.any() and name not in _DEGREES:
        idx = np.flatnonzero(usable)
        for k, reason in zip(idx, projected_problems(xs[usable], ys[usable], name,
                                                     lon[usable], lat[usable]), strict=True):
            projected[k] = reason
    wrong = np.array([r is not None for r in projected], dtype=bool)
    failed = usable & (~np.isfinite(lon) | (np.abs(lat) > 90) | (np.abs(lon) > 180) | wrong)
    for i in np.flatnonzero(bad_in | out | failed):
        if bad_in[i]:
            errors[i] = "坐标缺失或不是数字 / missing or non-numeric coordinate"
        elif swapped[i]:
            errors[i] = (f"纬度 {ys[i]} 超出范围, 经纬度是否写反? / latitude {ys[i]} out of "
                         "range: are lon and lat swapped?")
        elif out[i]:
            errors[i] = f"坐标超出范围 / coordinate out of range ({xs[i]}, {ys[i]})"
        elif projected[i]:
            errors[i] = projected[i]
        else:
            errors[i] = f"坐标无法从 {name} 转换 / cannot transform from {name}"
        lon[i] = lat[i] = np.nan
    return lon, lat, errors


def bbox_polygon(values: Sequence[float], crs: str, swap_xy: bool = False) -> Any:
    """A bbox (4 numbers, or 6 with heights) in ``crs`` as a densified CGCS2000 polygon.

    Parameters
    ----------
    values
        minx, miny, maxx, maxy (lat/lon order when ``swap_xy``, as EPSG:4326 by reference).
    crs
        Normalised CRS name of the numbers.
    swap_xy
        True when the CRS's authority axis order is lat/lon.

    Raises
    ------
    InvalidInput
        Not 4 or 6 numbers, a number that is not finite (NaN, inf), minimum above maximum,
        zero width or height, degrees given to a metric CRS or a box the CRS cannot place on
        the earth (:func:`projected_problems`); the message says which (``field="bbox"``).
        Boxes in degrees are cut to [-180, 180] x [-90, 90] first.
    """
    vals = list(values)
    if len(vals) == 6:
        vals = [vals[0], vals[1], vals[3], vals[4]]
    if len(vals) != 4:
        raise InvalidInput(
            f"bbox 需要 4 个数 (minx,miny,maxx,maxy) / bbox needs 4 numbers, got {len(vals)}",
            field="bbox")
    if not all(math.isfinite(v) for v in vals):
        raise InvalidInput(f"bbox 须为有限数 / bbox numbers must be finite, got {vals}",
                           field="bbox")
    x1, y1, x2, y2 = vals
    if swap_xy:
        x1, y1, x2, y2 = y1, x1, y2, x2
    if x1 > x2 or y1 > y2:
        raise InvalidInput(f"bbox 最小值大于最大值 / bbox minimum above maximum: {vals}",
                           field="bbox")
    import shapely

    if x1 == x2 or y1 == y2:
        raise InvalidInput(f"bbox 的宽或高为零 / bbox {vals} has zero width or height: give "
                           "minx < maxx and miny < maxy", field="bbox")
    outside = InvalidInput(f"bbox {vals} 超出 {crs} 的范围 / bbox {vals} lies outside what "
                           f"{crs} can express", field="bbox")
    if crs in _DEGREES or is_geographic(crs):
        # Degrees: a map view past the antimeridian or the poles is cut to the earth.
        x1, x2, y1, y2 = max(x1, -180.0), min(x2, 180.0), max(y1, -90.0), min(y2, 90.0)
        if x1 >= x2 or y1 >= y2:
            raise outside
    corners = ([x1, x1, x2, x2], [y1, y2, y1, y2])
    problem = next((p for p in projected_problems(*corners, crs) if p), None)
    if problem:
        raise InvalidInput(f"bbox {vals}: {problem}", field="bbox")
    try:
        box = shapely.segmentize(shapely.box(x1, y1, x2, y2), max(x2 - x1, y2 - y1) / 16)
        out = transform_geometry(box, crs, "EPSG:4490")
    except (ValueError, shapely.errors.GEOSException) as exc:
        raise outside from exc
    if (out is None or out.is_empty or not all(math.isfinite(v) for v in out.bounds)
            or not out.is_valid):
        raise outside
    return out
