"""GCJ-02 and BD-09, the offset coordinates of Chinese web maps, to and from WGS84.

* **GCJ-02** ("Mars coordinates", 国测局坐标) is WGS84 plus a deliberately obfuscating,
  position-dependent offset of a few hundred metres. It is used by AMap (高德), Tencent
  and Google Maps China. The forward formula is public knowledge (the widely circulated
  ``transformlat`` / ``transformlng`` polynomial on the Krasovsky ellipsoid); the inverse
  has no closed form and is solved here iteratively to well below one centimetre.
* **BD-09** (百度坐标) is a further small rotation/scaling of GCJ-02 used by Baidu Maps.

Outside mainland China, tested with the customary bounding rectangle (:func:`out_of_china`),
GCJ-02 is identical to WGS84. The GCJ-02 <-> BD-09 formula is applied everywhere.

Every function is vectorised: it takes array-likes (scalars, lists, arrays of any shape,
broadcast together), never modifies them, and returns new float64 arrays (0-d for scalar
input). WGS84 here is also CGCS2000 (see :mod:`geo.crs.transforms`). Conversions between
other CRSs and these two go through :func:`geo.crs.transforms.transform_xy`.
All pairs are ``(lon, lat)`` in degrees (x first).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "bd09_to_gcj02",
    "float_pair",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "wgs84_to_gcj02",
]

FloatArray = npt.NDArray[np.float64]

# --- GCJ-02 constants (Krasovsky 1940 ellipsoid, as in the public formula) -------------
_A = 6378245.0
_EE = 0.00669342162296594323
# --- BD-09 constant -------------------------------------------------------------------
_X_PI = math.pi * 3000.0 / 180.0

# --- out_of_china rectangle (lon 72.004..137.8347, lat 0.8293..55.8271) ----------------
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271

# Iterative inverses stop when the residual is below this many degrees (~1e-7 m).
_TOL_DEG = 1e-12
_MAX_ITER = 50


def float_pair(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert two array-likes to broadcast float64 arrays (copies, never views).

    Parameters
    ----------
    lon, lat : array_like
        Coordinates (scalars, sequences or arrays that broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        Two new float64 arrays of the broadcast shape.
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    bx, by = np.broadcast_arrays(x, y)
    return np.array(bx, dtype=np.float64), np.array(by, dtype=np.float64)


def out_of_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Test which points lie outside the GCJ-02 rectangle (where GCJ-02 == WGS84).

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees.

    Returns
    -------
    numpy.ndarray of bool
        True outside lon 72.004..137.8347 / lat 0.8293..55.8271 (NaN counts as outside);
        0-d for scalar input, so ``bool(out_of_china(lon, lat))`` tests one point.
    """
    return _out_of_china(*float_pair(lon, lat))


def _out_of_china(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    """Element-wise ``out_of_china`` rectangle test (NaN counts as outside)."""
    inside = (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)
    return np.logical_not(inside)


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 offset ``(dlon, dlat)`` in degrees at WGS84 ``(lon, lat)``.

    This is the widely published GCJ-02 formula, without the ``out_of_china`` test.
    """
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * math.pi) + 20.0 * np.sin(2.0 * x * math.pi)) * 2.0 / 3.0

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * math.pi) + 40.0 * np.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat = dlat + (
        (160.0 * np.sin(y / 12.0 * math.pi) + 320.0 * np.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    )

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * math.pi) + 40.0 * np.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon = dlon + (
        (150.0 * np.sin(x / 12.0 * math.pi) + 300.0 * np.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )

    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(radlat) * math.pi)
    return dlon, dlat


def _gcj_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS84 -> GCJ-02 on float64 arrays, honouring ``out_of_china``."""
    dlon, dlat = _gcj_delta(lon, lat)
    outside = _out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _gcj_inverse(glon: FloatArray, glat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 -> WGS84 by fixed-point iteration on float64 arrays.

    Solves ``w + delta(w) = g`` with ``w_{n+1} = w_n - (w_n + delta(w_n) - g)``. The
    offset field varies slowly (its Jacobian is ~1e-3), so each step gains about three
    decimal digits and 4-6 steps reach the 1e-12 degree tolerance.
    """
    outside = _out_of_china(glon, glat)
    active = np.logical_not(outside) & np.isfinite(glon) & np.isfinite(glat)
    wlon = glon.copy()
    wlat = glat.copy()
    for _ in range(_MAX_ITER):
        dlon, dlat = _gcj_delta(wlon, wlat)
        rlon = wlon + dlon - glon
        rlat = wlat + dlat - glat
        wlon = np.where(active, wlon - rlon, wlon)
        wlat = np.where(active, wlat - rlat, wlat)
        if not active.any():
            break
        err = np.maximum(np.abs(rlon), np.abs(rlat))
        if float(np.max(err[active])) < _TOL_DEG:
            break
    return np.where(outside, glon, wlon), np.where(outside, glat, wlat)


def _bd_forward(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 -> BD-09 on float64 arrays (the formula used by Baidu)."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_inverse(blon: FloatArray, blat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 -> GCJ-02: the customary closed-form inverse, refined by iteration.

    The closed form alone is off by up to a few centimetres; a couple of fixed-point
    steps make :func:`_bd_forward` reproduce the input to ~1e-12 degrees.
    """
    x = blon - 0.0065
    y = blat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon = z * np.cos(theta)
    glat = z * np.sin(theta)
    finite = np.isfinite(blon) & np.isfinite(blat)
    for _ in range(_MAX_ITER):
        flon, flat = _bd_forward(glon, glat)
        rlon = flon - blon
        rlat = flat - blat
        glon = np.where(finite, glon - rlon, glon)
        glat = np.where(finite, glat - rlat, glat)
        if not finite.any():
            break
        err = np.maximum(np.abs(rlon), np.abs(rlat))
        if float(np.max(err[finite])) < _TOL_DEG:
            break
    return glon, glat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 (or CGCS2000) coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes (new float64 arrays); unchanged outside China.
    """
    return _gcj_forward(*float_pair(lon, lat))


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates to WGS84 (iterative exact inverse, error << 1 cm).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 longitudes and latitudes (new float64 arrays); unchanged outside China,
        NaN stays NaN.
    """
    return _gcj_inverse(*float_pair(lon, lat))


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates to BD-09 (the formula used by Baidu).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitudes and latitudes (new float64 arrays).
    """
    return _bd_forward(*float_pair(lon, lat))


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 coordinates to GCJ-02 (exact inverse of :func:`gcj02_to_bd09`).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes (new float64 arrays).
    """
    return _bd_inverse(*float_pair(lon, lat))
