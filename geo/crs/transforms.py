"""Coordinate conversion for China: WGS84 / CGCS2000, GCJ-02, BD-09 and EPSG CRSs.

Chinese web maps do not publish coordinates in a geodetic CRS:

* **GCJ-02** ("Mars coordinates", 国测局坐标) is WGS84 plus a deliberately obfuscating,
  position-dependent offset of a few hundred metres. It is used by AMap (高德), Tencent
  and Google Maps China. The forward formula is public knowledge (the widely circulated
  ``transformlat`` / ``transformlng`` polynomial on the Krasovsky ellipsoid); the inverse
  has no closed form and is solved here iteratively to well below one centimetre.
* **BD-09** (百度坐标) is a further small rotation/scaling of GCJ-02 used by Baidu Maps.
* **CGCS2000** (EPSG:4490) is the national geodetic datum. Its realisation differs from
  WGS84 (EPSG:4326) by a few centimetres, which is below the accuracy of any source used
  here, so -- exactly as PROJ does -- the two are treated as identical (null transform).

Outside mainland China, tested with the customary bounding rectangle (``out_of_china``),
GCJ-02 is identical to WGS84. The GCJ-02 <-> BD-09 formula is applied everywhere.

Everything other than GCJ-02 and BD-09 is handled by :mod:`pyproj`, so projected CRSs such
as EPSG:4546 (CGCS2000 / 3-degree Gauss-Kruger CM 111E) work too.

All longitude/latitude pairs in this module are ``(lon, lat)`` in degrees (x first).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

__all__ = [
    "CGCS2000",
    "WGS84",
    "GCJ02",
    "BD09",
    "UnknownCRSError",
    "out_of_china",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "wgs84_to_gcj02_arr",
    "gcj02_to_wgs84_arr",
    "gcj02_to_bd09_arr",
    "bd09_to_gcj02_arr",
    "bd09_to_wgs84_arr",
    "wgs84_to_bd09_arr",
    "normalize_crs",
    "is_geographic",
    "to_cgcs2000",
    "from_cgcs2000",
    "transform_xy",
    "transform_geometry",
]

FloatArray = npt.NDArray[np.float64]

#: Canonical names returned by :func:`normalize_crs`.
CGCS2000 = "EPSG:4490"
WGS84 = "EPSG:4326"
GCJ02 = "GCJ02"
BD09 = "BD09"

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


class UnknownCRSError(ValueError):
    """Raised by :func:`normalize_crs` for a CRS that cannot be identified."""


# =====================================================================================
# GCJ-02 / BD-09 core (numpy, element-wise)
# =====================================================================================


def _pair(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert two array-likes to broadcast float64 arrays (copies, never views)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    bx, by = np.broadcast_arrays(x, y)
    return np.array(bx, dtype=np.float64), np.array(by, dtype=np.float64)


def _out_of_china_arr(lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
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
    outside = _out_of_china_arr(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _gcj_inverse(glon: FloatArray, glat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 -> WGS84 by fixed-point iteration on float64 arrays.

    Solves ``w + delta(w) = g`` with ``w_{n+1} = w_n - (w_n + delta(w_n) - g)``. The
    offset field varies slowly (its Jacobian is ~1e-3), so each step gains about three
    decimal digits and 4-6 steps reach the 1e-12 degree tolerance.
    """
    outside = _out_of_china_arr(glon, glat)
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


# =====================================================================================
# Scalar API
# =====================================================================================


def out_of_china(lon: float, lat: float) -> bool:
    """Return True if ``(lon, lat)`` lies outside the GCJ-02 rectangle.

    Parameters
    ----------
    lon, lat : float
        Longitude and latitude in degrees.

    Returns
    -------
    bool
        True outside lon 72.004..137.8347 / lat 0.8293..55.8271, where GCJ-02 == WGS84.
    """
    return not (_LON_MIN <= lon <= _LON_MAX and _LAT_MIN <= lat <= _LAT_MAX)


def _scalar(
    func: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: float,
    lat: float,
) -> tuple[float, float]:
    x, y = func(*_pair(lon, lat))
    return float(x), float(y)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert one WGS84 (or CGCS2000) point to GCJ-02.

    Parameters
    ----------
    lon, lat : float
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        GCJ-02 ``(lon, lat)``; unchanged outside China.
    """
    return _scalar(_gcj_forward, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to WGS84 (iterative exact inverse, error << 1 cm).

    Parameters
    ----------
    lon, lat : float
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        WGS84 ``(lon, lat)``; unchanged outside China.
    """
    return _scalar(_gcj_inverse, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to BD-09.

    Parameters
    ----------
    lon, lat : float
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        BD-09 ``(lon, lat)``.
    """
    return _scalar(_bd_forward, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert one BD-09 point to GCJ-02 (exact inverse of :func:`gcj02_to_bd09`).

    Parameters
    ----------
    lon, lat : float
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        GCJ-02 ``(lon, lat)``.
    """
    return _scalar(_bd_inverse, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert one WGS84 point to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        BD-09 ``(lon, lat)``.
    """
    x, y = wgs84_to_bd09_arr(np.float64(lon), np.float64(lat))
    return float(x), float(y)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert one BD-09 point to WGS84 (via GCJ-02).

    Parameters
    ----------
    lon, lat : float
        BD-09 longitude and latitude in degrees.

    Returns
    -------
    tuple of float
        WGS84 ``(lon, lat)``.
    """
    x, y = bd09_to_wgs84_arr(np.float64(lon), np.float64(lat))
    return float(x), float(y)


# =====================================================================================
# Vectorised API
# =====================================================================================


def wgs84_to_gcj02_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`wgs84_to_gcj02`.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes (float64, new arrays).
    """
    return _gcj_forward(*_pair(lon, lat))


def gcj02_to_wgs84_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`gcj02_to_wgs84` (iterative exact inverse).

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees (broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 longitudes and latitudes (float64, new arrays).
    """
    return _gcj_inverse(*_pair(lon, lat))


def gcj02_to_bd09_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`gcj02_to_bd09`.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitudes and latitudes (float64).
    """
    return _bd_forward(*_pair(lon, lat))


def bd09_to_gcj02_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`bd09_to_gcj02`.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes (float64).
    """
    return _bd_inverse(*_pair(lon, lat))


def bd09_to_wgs84_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`bd09_to_wgs84`.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS84 longitudes and latitudes (float64).
    """
    return _gcj_inverse(*_bd_inverse(*_pair(lon, lat)))


def wgs84_to_bd09_arr(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised :func:`wgs84_to_bd09`.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitudes and latitudes (float64).
    """
    return _bd_forward(*_gcj_forward(*_pair(lon, lat)))


# =====================================================================================
# CRS names
# =====================================================================================

_ALIASES: dict[str, str] = {
    "CGCS2000": CGCS2000,
    "CGCS 2000": CGCS2000,
    "CGCS-2000": CGCS2000,
    "CHINA GEODETIC COORDINATE SYSTEM 2000": CGCS2000,
    "WGS84": WGS84,
    "WGS 84": WGS84,
    "WGS-84": WGS84,
    "WGS_84": WGS84,
    "CRS84": WGS84,
    "OGC:CRS84": WGS84,
    "URN:OGC:DEF:CRS:OGC:1.3:CRS84": WGS84,
    "URN:OGC:DEF:CRS:OGC::CRS84": WGS84,
    "GCJ02": GCJ02,
    "GCJ-02": GCJ02,
    "GCJ_02": GCJ02,
    "GCJ": GCJ02,
    "BD09": BD09,
    "BD-09": BD09,
    "BD_09": BD09,
    "BD09LL": BD09,
    "BD-09LL": BD09,
}

_EPSG_PATTERNS = (
    re.compile(r"^(?:EPSG:)?(\d+)$"),
    re.compile(r"^URN:OGC:DEF:CRS:EPSG:[\d.]*:(\d+)$"),
    re.compile(r"^HTTPS?://WWW\.OPENGIS\.NET/DEF/CRS/EPSG/[^/]+/(\d+)$"),
)
_OGC_CRS84 = re.compile(r"^HTTPS?://WWW\.OPENGIS\.NET/DEF/CRS/OGC/[^/]+/CRS84$")

_ACCEPTED_FORMS = (
    '"EPSG:4490", "4490", 4490, "urn:ogc:def:crs:EPSG::4490", '
    '"http://www.opengis.net/def/crs/EPSG/0/4490", '
    '"http://www.opengis.net/def/crs/OGC/1.3/CRS84", "CGCS2000", "WGS84", '
    '"GCJ02"/"GCJ-02", "BD09"/"BD-09"'
)

_EPSG_UNKNOWN = "pyproj 不认识该 EPSG 代码 / EPSG code unknown to pyproj"


def _unknown(value: object, reason: str = "") -> UnknownCRSError:
    extra_zh = f"（{reason}）" if reason else ""
    extra_en = f" ({reason})" if reason else ""
    return UnknownCRSError(
        f"无法识别的坐标参考系 {value!r}{extra_zh}。可接受的形式：{_ACCEPTED_FORMS}，"
        f"或 pyproj 能识别且有 EPSG 代码的任何坐标系。 / "
        f"Unknown coordinate reference system {value!r}{extra_en}. Accepted forms: "
        f"{_ACCEPTED_FORMS}, or any CRS pyproj knows that has an EPSG code."
    )


@lru_cache(maxsize=256)
def _check_epsg(code: int) -> str:
    """Return ``"EPSG:code"`` if pyproj knows the code, else raise CRSError."""
    CRS.from_epsg(code)
    return f"EPSG:{code}"


@lru_cache(maxsize=256)
def _normalize_str(text: str) -> str:
    key = " ".join(text.strip().upper().split())
    if key in _ALIASES:
        return _ALIASES[key]
    if _OGC_CRS84.match(key):
        return WGS84
    for pattern in _EPSG_PATTERNS:
        m = pattern.match(key)
        if m:
            try:
                return _check_epsg(int(m.group(1)))
            except CRSError as exc:
                raise _unknown(text, _EPSG_UNKNOWN) from exc
    try:
        crs = CRS.from_user_input(text.strip())
    except CRSError as exc:
        raise _unknown(text) from exc
    code = crs.to_epsg()
    if code is None:
        raise _unknown(text, "没有对应的 EPSG 代码 / no matching EPSG code")
    return f"EPSG:{code}"


def normalize_crs(value: str | int | None) -> str:
    """Normalise a CRS designation to ``"EPSG:NNNN"``, ``"GCJ02"`` or ``"BD09"``.

    Parameters
    ----------
    value : str, int or None
        An EPSG code as int or string (``4490``, ``"4490"``, ``"epsg:4490"``), an OGC URN
        (``"urn:ogc:def:crs:EPSG::4490"``), an OGC URI
        (``"http://www.opengis.net/def/crs/EPSG/0/4490"``; ``.../OGC/1.3/CRS84`` means
        EPSG:4326), a name (``"CGCS2000"``, ``"WGS84"``, ``"GCJ02"``/``"GCJ-02"``,
        ``"BD09"``/``"BD-09"``, case-insensitive), or anything else pyproj understands and
        can map to an EPSG code. ``None`` means the service default, EPSG:4490.

    Returns
    -------
    str
        ``"EPSG:NNNN"``, ``"GCJ02"`` or ``"BD09"``.

    Raises
    ------
    UnknownCRSError
        If the value cannot be identified (message in Chinese, then English).
    """
    if value is None:
        return CGCS2000
    if isinstance(value, bool):
        raise _unknown(value)
    if isinstance(value, int | np.integer):
        if value <= 0:
            raise _unknown(value)
        try:
            return _check_epsg(int(value))
        except CRSError as exc:
            raise _unknown(value, _EPSG_UNKNOWN) from exc
    if not isinstance(value, str) or not value.strip():
        raise _unknown(value)
    return _normalize_str(value)


@lru_cache(maxsize=256)
def _crs(name: str) -> CRS:
    return CRS.from_user_input(name)


def is_geographic(crs: str) -> bool:
    """Return True if the CRS has longitude/latitude (degree) coordinates.

    Parameters
    ----------
    crs : str
        Any form accepted by :func:`normalize_crs`.

    Returns
    -------
    bool
        True for geographic CRSs (EPSG:4490, EPSG:4326, GCJ02, BD09, ...), False for
        projected ones (EPSG:4546, EPSG:3857, ...).
    """
    name = normalize_crs(crs)
    if name in (GCJ02, BD09):
        return True
    return bool(_crs(name).is_geographic)


# =====================================================================================
# Transforms between CRSs
# =====================================================================================


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
    fx, fy = _pair(x, y)
    if src == dst:
        return fx, fy
    # Step 1: into an EPSG CRS (GCJ02/BD09 -> WGS84 == CGCS2000).
    if src == GCJ02:
        fx, fy = _gcj_inverse(fx, fy)
        src = CGCS2000
    elif src == BD09:
        fx, fy = _gcj_inverse(*_bd_inverse(fx, fy))
        src = CGCS2000
    # Step 2: EPSG -> EPSG, or EPSG -> CGCS2000 followed by the offset formulas.
    if dst == GCJ02:
        return _gcj_forward(*_epsg_transform(fx, fy, src, CGCS2000))
    if dst == BD09:
        return _bd_forward(*_gcj_forward(*_epsg_transform(fx, fy, src, CGCS2000)))
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
