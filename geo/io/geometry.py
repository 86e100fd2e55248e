"""Parse untrusted GeoJSON geometries: a valid CGCS2000 shapely geometry or ``InvalidInput``.

Real-world files (Excel exports, phone apps, hand-drawn cells) bring broken geometries:
rings of fewer than four points, unclosed or self-intersecting rings ("bow ties"),
NaN or infinite coordinates, latitude and longitude swapped, nested garbage. This module is
the one gate they go through: every problem it cannot repair is refused with
:class:`geo.errors.InvalidInput` (Chinese first, then English, saying how to fix it), and
nothing else ever escapes it. Self-intersecting polygons are repaired with
``shapely.make_valid`` (polygonal parts kept) and the repair is reported in ``notes``.

Callers: the spatial API (:func:`geo.layers.spatial.parse_geojson_geometry`: refuses invalid
input, no repair) and the importer (:func:`clean_polygon` and :func:`as_point` on each row's
geometry once it is in CGCS2000: repaired with ``make_valid`` and listed, or refused with
``--strict``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely.geometry import MultiPoint, MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from geo.crs.names import CGCS2000, UnknownCRSError, normalize_crs
from geo.crs.transforms import transform_geometry
from geo.crs.validate import projected_problems
from geo.errors import InvalidInput, TooLarge

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon")
MAX_VERTICES = 1_000_000
_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass
class ParsedGeometry:
    """A valid geometry in CGCS2000 and what was done to it."""

    geom: BaseGeometry
    notes: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """Whether anything was repaired (the notes say what)."""
        return bool(self.notes)


def _bad(zh: str, en: str, **detail: Any) -> InvalidInput:
    return InvalidInput(f"{zh} / {en}", field="geometry", **detail)


def _unwrap(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry")
    if not isinstance(obj, dict):
        raise _bad("几何必须是 GeoJSON 对象", "geometry must be a GeoJSON object "
                   '(e.g. {"type": "Point", "coordinates": [111.13, 38.46]})')
    gtype = obj.get("type")
    if gtype not in GEOMETRY_TYPES:
        raise _bad(f"不支持的几何类型 {gtype!r}",
                   f"unsupported geometry type {gtype!r}; use one of {list(GEOMETRY_TYPES)}")
    if "coordinates" not in obj:
        raise _bad("几何缺少 coordinates", "geometry has no 'coordinates'")
    return obj


def _check_numbers(coords: Any, depth: int = 0) -> int:
    """Count positions; refuse non-numbers, NaN/inf and absurd nesting."""
    if depth > 5:
        raise _bad("坐标嵌套过深", "coordinates are nested too deeply")
    if not isinstance(coords, list | tuple):
        raise _bad("坐标必须是数组", "coordinates must be arrays of numbers")
    if coords and all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
        if len(coords) < 2:
            raise _bad("坐标点至少需要 x 和 y", "a position needs at least x and y")
        if not all(math.isfinite(float(c)) for c in coords):
            raise _bad("坐标含 NaN 或无穷大", "coordinates contain NaN or infinity")
        return 1
    n = 0
    for c in coords:
        n += _check_numbers(c, depth + 1)
        if n > MAX_VERTICES:
            raise TooLarge(f"几何顶点超过 {MAX_VERTICES} / more than {MAX_VERTICES} vertices")
    return n


def _check_rings(data: dict[str, Any], notes: list[str]) -> Any:
    """Rings of >= 4 positions, closed (an unclosed ring is closed, with a note)."""
    polys = [data["coordinates"]] if data["type"] == "Polygon" else list(data["coordinates"])
    out = []
    for poly in polys:
        if not isinstance(poly, list | tuple) or not poly:
            raise _bad("多边形没有环", "a polygon needs at least one ring (the exterior)")
        rings = []
        for ring in poly:
            if not isinstance(ring, list | tuple) or any(
                not isinstance(p, list | tuple) for p in ring
            ):
                raise _bad("环必须是坐标点数组", "a ring must be an array of positions")
            ring = [list(p) for p in ring]
            if ring and ring[0][:2] != ring[-1][:2]:
                ring.append(list(ring[0]))
                if "closed an unclosed ring" not in notes:
                    notes.append("closed an unclosed ring")
            if len(ring) < 4:
                raise _bad(f"多边形的环只有 {len(ring)} 个点, 至少需要 4 个(首尾相同)",
                           f"a GeoJSON polygon ring has {len(ring)} positions; it needs at "
                           "least 4 (first == last)", positions=len(ring))
            rings.append(ring)
        out.append(rings)
    return out[0] if data["type"] == "Polygon" else out


def polygonal_parts(geom: BaseGeometry | None) -> MultiPolygon | None:
    """The polygons of a geometry (collections searched) with an area, or ``None``.

    Parameters
    ----------
    geom
        Any geometry, e.g. the result of ``shapely.make_valid``.

    Returns
    -------
    MultiPolygon or None
        The non-empty polygons with an area as one MultiPolygon; ``None`` when there are none.
    """
    if geom is None or geom.is_empty:
        return None
    parts: list[BaseGeometry] = []
    stack: list[BaseGeometry] = [geom]
    while stack:
        g = stack.pop()
        if g.geom_type in _POLYGONAL:
            parts.extend(getattr(g, "geoms", [g]))
        elif hasattr(g, "geoms"):
            stack.extend(g.geoms)
    polys = [p for p in parts if isinstance(p, Polygon) and not p.is_empty and p.area > 0]
    if not polys:
        return None
    if isinstance(geom, MultiPolygon) and len(polys) == len(geom.geoms):
        return geom
    return MultiPolygon(polys)


def clean_polygon(geom: BaseGeometry | None, strict: bool
                  ) -> tuple[MultiPolygon | None, str | None, str | None]:
    """A polygon of an imported row through the gate: kept, repaired or refused.

    Parameters
    ----------
    geom
        The row's geometry, already in CGCS2000 (``None`` when the row has none).
    strict
        Refuse invalid polygons instead of repairing them with ``make_valid``.

    Returns
    -------
    tuple
        ``(geometry, repair note, refusal reason)``: a valid MultiPolygon and ``None`` or the
        repair made, or ``(None, None, reason)``.
    """
    if geom is None:
        return None, None, "没有几何 / no geometry"
    if geom.geom_type not in _POLYGONAL:
        return None, None, (f"需要面状几何，得到 {geom.geom_type} / a polygon is needed, got "
                            f"{geom.geom_type}")
    geom = shapely.force_2d(geom)
    if shapely.is_valid(geom):
        out = polygonal_parts(geom)
        return (out, None, None) if out is not None else (
            None, None, "面积为零 / zero-area polygon")
    why = shapely.is_valid_reason(geom)
    if strict:
        return None, None, (f"几何无效 ({why})，--strict 模式下拒绝 / invalid geometry ({why}), "
                            "refused with --strict")
    fixed = polygonal_parts(shapely.make_valid(geom))
    if fixed is None:
        return None, None, (f"几何无效且无法修复 ({why}; 如环少于 4 个点) / invalid geometry that "
                            f"cannot be repaired ({why}; e.g. a ring of fewer than 4 points)")
    return fixed, f"make_valid: {why}", None


def as_point(geom: BaseGeometry | None) -> tuple[Point | None, str | None]:
    """A point of an imported row: ``(point, None)``, ``(None, None)`` or ``(None, reason)``.

    Parameters
    ----------
    geom
        The row's geometry in CGCS2000, or ``None`` (no location: not an error).

    Returns
    -------
    tuple
        The 2-D point (a one-point MultiPoint unwrapped), or the refusal reason.
    """
    if geom is None or geom.is_empty:
        return None, None
    if isinstance(geom, Point):
        return (geom, None) if not geom.has_z else (shapely.force_2d(geom), None)
    geom = shapely.force_2d(geom)
    if isinstance(geom, MultiPoint) and len(geom.geoms) == 1:
        return geom.geoms[0], None
    return None, f"需要点几何，得到 {geom.geom_type} / a point is needed, got {geom.geom_type}"


def _check_lonlat_bounds(geom: BaseGeometry, crs: str) -> None:
    minx, miny, maxx, maxy = geom.bounds
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise _bad(f"坐标无法从 {crs} 转换", f"coordinates cannot be transformed from {crs}")
    if miny < -90 or maxy > 90:
        hint = ""
        if -90 <= minx and maxx <= 90:
            hint = " 经纬度是否写反了? / Are lon and lat swapped (GeoJSON is [lon, lat])?"
        raise _bad("纬度超出 [-90, 90]", f"latitude outside [-90, 90].{hint}")
    if minx < -180 or maxx > 180:
        raise _bad("经度超出 [-180, 180]", "longitude outside [-180, 180]")


def parse_geometry(
    obj: Any,
    crs: str | int | None = CGCS2000,
    allowed: Iterable[str] = GEOMETRY_TYPES,
    repair: bool = True,
) -> ParsedGeometry:
    """Turn an untrusted GeoJSON geometry (or Feature) in ``crs`` into a valid CGCS2000 one.

    Parameters
    ----------
    obj
        Parsed JSON: a GeoJSON geometry object or a Feature holding one.
    crs
        CRS of the coordinates (anything :func:`geo.crs.names.normalize_crs` accepts).
    allowed
        Geometry types accepted (others are refused).
    repair
        Repair invalid polygons with ``make_valid`` (else refuse them).

    Raises
    ------
    InvalidInput
        For anything that is not a usable geometry, with the reason.
    TooLarge
        Beyond ``MAX_VERTICES`` positions.
    """
    try:
        src = normalize_crs(crs)
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    data = _unwrap(obj)
    allowed = tuple(allowed)
    if data["type"] not in allowed:
        raise _bad(f"此处不接受 {data['type']}", f"{data['type']} not accepted here; "
                   f"expected {list(allowed)}")
    _check_numbers(data["coordinates"])
    notes: list[str] = []
    if data["type"] in _POLYGONAL:
        data = {"type": data["type"], "coordinates": _check_rings(data, notes)}
    try:
        geom = shape(data)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError,
            shapely.errors.GEOSException) as exc:
        reason = str(exc)
        if "LinearRing" in reason or "linearring" in reason.lower():
            raise _bad("多边形的环至少需要 4 个点(首尾相同)",
                       "a polygon ring needs at least 4 positions (first == last)") from exc
        raise _bad("几何无法解析", f"geometry cannot be parsed: {reason[:200]}") from exc
    if geom.is_empty:
        raise _bad("几何为空", "geometry is empty")
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    if src != CGCS2000:
        xy = shapely.get_coordinates(geom)  # metres of a projected CRS: the one rule
        problem = next((p for p in projected_problems(xy[:, 0], xy[:, 1], src) if p), None)
        if problem:
            raise InvalidInput(problem, field="geometry", crs=src)
        try:
            geom = transform_geometry(geom, src, CGCS2000)
        except (ValueError, shapely.errors.GEOSException) as exc:
            raise _bad(f"坐标无法从 {src} 转换", f"coordinates cannot be transformed from "
                       f"{src}") from exc
    _check_lonlat_bounds(geom, src)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        if not repair:
            raise _bad(f"几何无效: {reason}", f"invalid geometry: {reason}; fix it in the "
                       "source (e.g. QGIS 'Fix geometries', ST_MakeValid, or by removing the "
                       "self-intersection)", reason=reason)
        fixed = shapely.make_valid(geom)
        if geom.geom_type in _POLYGONAL:
            parts = polygonal_parts(fixed)
            if parts is None:
                raise _bad("多边形退化(面积为零), 无法修复",
                           f"polygon is degenerate (zero area) and cannot be repaired: {reason}",
                           reason=reason)
            fixed = parts.geoms[0] if geom.geom_type == "Polygon" and len(parts.geoms) == 1 \
                else parts
        if fixed.is_empty or not fixed.is_valid:
            raise _bad(f"几何无效且无法修复: {reason}",
                       f"invalid geometry that cannot be repaired: {reason}", reason=reason)
        notes.append(f"repaired: {reason}")
        geom = fixed
    return ParsedGeometry(geom, notes)
