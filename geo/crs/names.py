"""CRS names: the forms callers may give for a coordinate reference system, and their normal form.

:func:`normalize_crs` turns an EPSG code, OGC URN/URI or a name (``CGCS2000``, ``WGS84``,
``GCJ02``, ``BD09``) into ``"EPSG:NNNN"``, ``"GCJ02"`` or ``"BD09"``; :class:`UnknownCRSError`
says, in Chinese then English, which forms are accepted.

The one rule for which CRSs a caller may name (input, output, bbox, filter, export, import):
only 2-D horizontal ones, geographic 2D (lon/lat) or projected (x/y). A geocentric, vertical,
compound, 3-D or engineering CRS cannot hold a 2-D position: :class:`UnsupportedCRSError` says
what it is and what to use instead.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

__all__ = [
    "BD09",
    "CGCS2000",
    "GCJ02",
    "WGS84",
    "UnknownCRSError",
    "UnsupportedCRSError",
    "is_geographic",
    "normalize_crs",
]

#: Canonical names returned by :func:`normalize_crs`.
CGCS2000 = "EPSG:4490"
WGS84 = "EPSG:4326"
GCJ02 = "GCJ02"
BD09 = "BD09"


class UnknownCRSError(ValueError):
    """Raised by :func:`normalize_crs` for a CRS that cannot be identified."""


class UnsupportedCRSError(UnknownCRSError):
    """Raised by :func:`normalize_crs` for a known CRS that is no 2-D horizontal one
    (geocentric, vertical, compound, 3-D, engineering, ...): it cannot hold a 2-D position."""


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
        f"或 pyproj 能识别且有 EPSG 代码的任何二维地理或投影坐标系。 / "
        f"Unknown coordinate reference system {value!r}{extra_en}. Accepted forms: "
        f"{_ACCEPTED_FORMS}, or any 2-D geographic or projected CRS pyproj knows that has an "
        "EPSG code."
    )


_USE_ZH = ("EPSG:4490 (CGCS2000 经纬度)、EPSG:4326 (WGS 84 经纬度)、CGCS2000 高斯-克吕格投影带 "
           "EPSG:4491-4554 (如 EPSG:4546, 中央经线 111°E)、GCJ02 或 BD09")
_USE_EN = ("EPSG:4490 (CGCS2000 lon/lat), EPSG:4326 (WGS 84 lon/lat), a CGCS2000 Gauss-Kruger "
           "zone EPSG:4491-4554 (e.g. EPSG:4546, central meridian 111°E), GCJ02 or BD09")


def _not_horizontal(code: int, crs: CRS) -> UnsupportedCRSError | None:
    """Why ``crs`` cannot hold a 2-D horizontal position (None: it can)."""
    if crs.is_compound:
        zh, en = "复合坐标系 (水平 + 高程)", "a compound CRS (horizontal + height)"
    elif crs.is_geocentric:
        zh, en = "地心坐标系 (X, Y, Z)", "a geocentric CRS (X, Y, Z from the earth's centre)"
    elif crs.is_vertical:
        zh, en = "高程坐标系 (只有高度)", "a vertical CRS (heights only)"
    elif not (crs.is_geographic or crs.is_projected):
        zh, en = f"{crs.type_name}, 不是地理或投影坐标系", (
            f"a {crs.type_name}, neither geographic nor projected")
    elif len(crs.axis_info) != 2:
        zh, en = f"{len(crs.axis_info)}维坐标系", f"a {len(crs.axis_info)}-D CRS"
    else:
        return None
    try:
        flat = crs.to_2d()
        flat_code = flat.to_epsg() if len(flat.axis_info) == 2 and (
            flat.is_geographic or flat.is_projected) and not flat.is_compound else None
    except Exception:  # noqa: BLE001 - no 2-D counterpart: no hint
        flat_code = None
    hint_zh = f"其水平部分为 EPSG:{flat_code}; " if flat_code else ""
    hint_en = f"its horizontal part is EPSG:{flat_code}; " if flat_code else ""
    return UnsupportedCRSError(
        f"坐标参考系 EPSG:{code} ({crs.name}) 是{zh}, 不能表示二维平面位置; "
        f"只接受二维地理或投影坐标系。{hint_zh}请使用 {_USE_ZH} / the CRS "
        f"EPSG:{code} ({crs.name}) is {en} and cannot hold a 2-D position: only 2-D "
        f"geographic or projected CRSs are accepted; {hint_en}use {_USE_EN}"
    )


@lru_cache(maxsize=256)
def _check_epsg(code: int) -> str:
    """Return ``"EPSG:code"`` if pyproj knows the code and it is a 2-D horizontal CRS; raise
    CRSError for an unknown code, :class:`UnsupportedCRSError` for any other kind of CRS."""
    problem = _not_horizontal(code, CRS.from_epsg(code))
    if problem is not None:
        raise problem
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
    return _check_epsg(code)


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
    UnsupportedCRSError
        (an UnknownCRSError) If it names a CRS that is no 2-D geographic or projected one
        (geocentric, vertical, compound, 3-D, engineering): the message says what to use.
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
