"""Onboarding a county: ``wangge region add CODE`` and the region that covers a point.

A region (county) is a row of ``region`` plus its county-level admin unit, whose polygon is
the county boundary: the importers check every imported row against it
(:func:`geo.io.importer.rows.region_extent`), so after :func:`add_region` the county's data
officer imports the grid (``wangge import cells FILE --region CODE --commit --activate``),
which creates and switches on the first boundary set.

The boundary comes from the packaged official data (:mod:`geo.regions.official`) or from a
file read by the importers' own reader and CRS rules (:func:`boundary_from_file`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import Connection, text

from geo.analysis.coverage import store_region
from geo.auth.changes import auth_changed
from geo.errors import Conflict, InvalidInput
from geo.io.geometry import polygonal_parts
from geo.io.importer.crs_plan import plan_crs, plausibility
from geo.io.read import open_source

# A county-level division code (GB/T 2260): 6 digits, not ending in 00 (that is a
# prefecture) nor 0000 (a province).
_COUNTY_CODE = re.compile(r"\d{4}(?!00)\d{2}")
# Where a Chinese county can be (CGCS2000 degrees), generously.
_CHINA = (73.0, 3.0, 136.0, 54.0)
# Neighbouring counties share edges; digitised boundaries overlap a little along them.
MAX_OVERLAP_FRACTION = 0.01


def import_cells_command(code: str) -> str:
    """The next step for county ``code`` added without a grid: the command that imports its
    grid and switches it on (said by ``wangge region add`` and by the landing page)."""
    return f"wangge import cells FILE --region {code} --commit --activate"


def check_county_code(code: str) -> str:
    """``code`` if it is a county-level adcode, else a 422 saying what one looks like."""
    code = (code or "").strip()
    if not _COUNTY_CODE.fullmatch(code):
        raise InvalidInput(
            f"区县代码 {code!r} 无效: 应为 6 位行政区划代码, 且不以 00 结尾 (如 临县 141124) / "
            f"invalid county code {code!r}: a 6-digit administrative division code not ending "
            "in 00 (e.g. 141124 for Lin County)", field="code")
    return code


def boundary_from_file(path: str | Path, crs: str | None = None,
                       layer: str | None = None) -> tuple[MultiPolygon, list[str]]:
    """Every polygon of a boundary file, in CGCS2000, as one MultiPolygon (plus notes).

    Read like an import (GeoJSON, Shapefile, GeoPackage, KML, zip): the file's own CRS, or
    ``crs`` (an EPSG code, GCJ02 or BD09); swapped or projected coordinates are refused with
    the importers' message.
    """
    src = open_source(path, layer)
    notes = list(src.notes)
    try:
        plan = plan_crs(src.file_crs, crs)
        parts = []
        for chunk in src.chunks():
            ok, reasons = plausibility(plan, chunk.geoms)
            bad = [r for r in reasons if r]
            if bad:
                raise InvalidInput(f"边界文件坐标有误 / the boundary file's coordinates are "
                                   f"wrong: {bad[0]}", field="boundary")
            for g in plan.to_4490(chunk.geoms[ok]):
                poly = polygonal_parts(g)
                if poly is not None and not poly.is_empty:
                    parts.append(poly)
    finally:
        src.close()
    if not parts:
        raise InvalidInput("边界文件中没有面要素 / the boundary file holds no polygon: give a "
                           "file with the county's (Multi)Polygon", field="boundary")
    merged = shapely.union_all(np.asarray(parts, dtype=object))
    if not merged.is_valid:
        notes.append(f"repaired with make_valid: {shapely.is_valid_reason(merged)}")
        merged = shapely.make_valid(merged)
    geom = polygonal_parts(merged)
    if geom is None or geom.is_empty:
        raise InvalidInput("边界无有效面 / the boundary has no valid polygon", field="boundary")
    notes.append(f"{plan.label} ({plan.source}) -> EPSG:4490")
    return geom, notes


def _check_boundary(conn: Connection, code: str, boundary: MultiPolygon) -> dict[str, float]:
    minx, miny, maxx, maxy = boundary.bounds
    if not (_CHINA[0] <= minx and maxx <= _CHINA[2] and _CHINA[1] <= miny and maxy <= _CHINA[3]):
        swapped = (_CHINA[1] <= minx and maxx <= _CHINA[3]
                   and _CHINA[0] <= miny and maxy <= _CHINA[2])
        raise InvalidInput(
            f"边界范围 {minx:.3f}..{maxx:.3f}, {miny:.3f}..{maxy:.3f} 不在中国境内"
            + (": 经纬度写反了? " if swapped else "; ")
            + f"/ the boundary's extent {minx:.3f}..{maxx:.3f}, {miny:.3f}..{maxy:.3f} is not in "
            "China" + (": longitude and latitude look swapped" if swapped else
                       ": is it in CGCS2000/WGS84 degrees? give its CRS with --crs"),
            field="boundary")
    row = conn.execute(text(
        "WITH b AS (SELECT ST_GeomFromWKB(:g, 4490) AS g) "
        "SELECT ST_Area(b.g::geography) / 1e6 AS km2, "
        "       max(ST_Area(ST_Intersection(a.geom, b.g)::geography)) / 1e6 AS overlap_km2, "
        "       (array_agg(a.region_code ORDER BY ST_Area(ST_Intersection(a.geom, b.g)) DESC))[1]"
        "         AS other "
        "FROM b LEFT JOIN admin_unit a ON a.level = 'county' AND a.region_code <> :r "
        "     AND a.geom && b.g AND ST_Intersects(a.geom, b.g) GROUP BY b.g"),
        {"g": shapely.to_wkb(boundary), "r": code}).mappings().one()
    km2, overlap = float(row["km2"]), float(row["overlap_km2"] or 0.0)
    if overlap > MAX_OVERLAP_FRACTION * km2:
        raise Conflict(
            f"边界与区县 {row['other']} 重叠 {overlap:.1f} km² (超过本县面积的 "
            f"{MAX_OVERLAP_FRACTION:.0%}): 是否用错了文件或代码? / the boundary overlaps region "
            f"{row['other']} by {overlap:.1f} km2 (more than {MAX_OVERLAP_FRACTION:.0%} of its "
            "area): wrong file or wrong code?", field="boundary", other=row["other"])
    return {"area_km2": round(km2, 1), "overlap_km2": round(overlap, 3)}


def add_region(conn: Connection, code: str, boundary: MultiPolygon, name: str,
               name_en: str | None, source: str, synthetic: bool = False) -> dict[str, Any]:
    """Create county ``code`` with its boundary (in ``conn``'s transaction); 409 if it exists.

    Writes the ``region`` row and the county-level ``admin_unit`` (the boundary the importers
    check rows against). Returns what was created.
    """
    code = check_county_code(code)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("需要区县名称 (--name) / the county needs a name (--name)",
                           field="name")
    if conn.execute(text("SELECT 1 FROM region WHERE code = :c"), {"c": code}).scalar():
        raise Conflict(f"区县 {code} 已存在 / region {code} exists already "
                       "(wangge region list shows it)", field="code")
    figures = _check_boundary(conn, code, boundary)
    conn.execute(
        text("INSERT INTO region (code, region_code, name, name_en, source, synthetic) "
             "VALUES (:c, :c, :n, :e, :s, :syn)"),
        {"c": code, "n": name, "e": name_en, "s": source, "syn": synthetic})
    conn.execute(
        text("INSERT INTO admin_unit (region_code, code, name, name_en, level, parent_code, geom,"
             " synthetic, source) VALUES (:c, :c, :n, :e, 'county', NULL, "
             "ST_Multi(ST_GeomFromWKB(:g, 4490)), false, :s)"),
        {"c": code, "n": name, "e": name_en, "g": shapely.to_wkb(boundary), "s": source})
    # the boundary sets the county's metric CRS: its camera coverage is stored from here on
    # (kept per cell by triggers as cells and cameras are imported; never computed by a read)
    store_region(conn, code)
    # users overseeing the prefecture or province now see this county too (api.auth_cache)
    auth_changed(conn)
    return {"code": code, "name": name, "name_en": name_en, "source": source, **figures,
            "parts": len(boundary.geoms),
            "bounds": [round(v, 4) for v in boundary.bounds]}


def list_regions(conn: Connection) -> list[dict[str, Any]]:
    """Every region with its area and what it holds (cells of the active set, incidents)."""
    return [dict(r) for r in conn.execute(text(
        "SELECT r.code, r.name, r.name_en, r.synthetic, r.source, "
        "  (SELECT round((ST_Area(ST_Union(a.geom)::geography) / 1e6)::numeric, 1) "
        "     FROM admin_unit a WHERE a.region_code = r.code AND a.level = 'county') AS area_km2,"
        "  (SELECT count(*) FROM grid_cell g JOIN boundary_set b ON b.id = g.boundary_set_id "
        "     WHERE g.region_code = r.code AND b.is_active) AS cells, "
        "  (SELECT count(*) FROM incident i WHERE i.region_code = r.code) AS incidents "
        "FROM region r ORDER BY r.code")).mappings()]


def regions_at(conn: Connection, lon: float, lat: float) -> list[str]:
    """Codes of the regions whose county boundary covers the point (CGCS2000), nearest first.

    Two on a shared border; none outside every county.
    """
    return [str(r) for r in conn.execute(text(
        "SELECT region_code FROM admin_unit WHERE level = 'county' AND "
        "ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490), 0.00001) "
        "ORDER BY ST_Distance(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490)), region_code"),
        {"x": lon, "y": lat}).scalars()]
