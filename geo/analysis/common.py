"""Shared pieces of the planners' analyses: periods, unit sets, metric CRS, result shape.

Every analysis returns a plain dict::

    {"analysis": "camera-coverage",           # name
     "inputs": {...},                         # period, region, boundary set, parameters
     "summary": {...},                        # headline numbers
     "tables": {"units": GeoDataFrame, ...}}  # one (Geo)DataFrame per table, EPSG:4490

``tables`` hold GeoDataFrames (geometry in CGCS2000, EPSG:4490) or plain DataFrames; the first
table is the main one. :func:`to_payload` turns a result into JSON (tables as GeoJSON
FeatureCollections) and :mod:`geo.analysis.export` writes CSV/XLSX/GeoJSON files.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors
from sqlalchemy import Connection, text

from geo.auth.principal import Principal
from geo.boundaries.sets import set_valid_at
from geo.db.tables.vocab import ANALYSIS_UNIT
from geo.errors import Forbidden, InvalidInput, NotFound
from geo.lookup.postgis import region_name

UNITS = ANALYSIS_UNIT.codes


def check_unit(unit: str, allowed: tuple[str, ...] = UNITS) -> str:
    """Validate a unit name."""
    if unit not in allowed:
        raise InvalidInput(
            f"未知统计单元 {unit!r}, 可选 {list(allowed)} / unknown unit {unit!r}; use one of "
            f"{list(allowed)}",
            field="unit",
        )
    return unit


def check_region(conn: Connection, principal: Principal, region_code: str) -> str:
    """Region name, after checking it exists and the caller may see it."""
    name = region_name(conn, region_code)
    if not principal.in_region(region_code):
        raise Forbidden(
            f"无权查看区域 {region_code} / you may not see region {region_code}",
            region=region_code,
        )
    return name


def metric_srid(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger zone (no prefix) for a longitude.

    EPSG:4534 (CM 75E) .. EPSG:4554 (CM 135E); Xing County (111 E) -> EPSG:4546.
    """
    return int(min(4554, max(4534, 4534 + round((lon - 75.0) / 3.0))))


def region_metric_srid(conn: Connection, region_code: str) -> int:
    """Metric SRID for a region: the Gauss-Kruger zone of the county's centroid."""
    lon = conn.execute(
        text("SELECT ST_X(ST_Centroid(geom)) FROM admin_unit WHERE region_code = :r "
             "AND level = 'county' LIMIT 1"), {"r": region_code}
    ).scalar()
    return metric_srid(float(lon) if lon is not None else 111.0)


def boundary_set(conn: Connection, region_code: str, at: dt.date | None) -> dict[str, Any]:
    """The boundary set used (active, or valid at ``at``) as ``{"id", "name"}``."""
    set_id, name = set_valid_at(conn, region_code, at)
    return {"id": set_id, "name": name, "valid_at": at.isoformat() if at else "active"}


def unit_sql(unit: str) -> str:
    """SELECT of a unit set: ``code, name, level, parent_code, township_code, households, geom``.

    Bind parameters ``:r`` (region) and ``:set_id`` (boundary set, used by ``cell``). Cells are
    the basic cells of the boundary set; ``community`` means villages and communities.
    """
    if unit == "cell":
        return ("SELECT code, name, 'cell'::text AS level, parent_code, township_code, "
                "households, geom FROM grid_cell WHERE boundary_set_id = :set_id "
                "AND kind = 'basic'")
    if unit == "compound":
        return ("SELECT c.code, c.name, 'compound'::text AS level, c.community_code AS "
                "parent_code, a.parent_code AS township_code, c.households, c.geom "
                "FROM compound c LEFT JOIN admin_unit a ON a.region_code = c.region_code "
                "AND a.code = c.community_code WHERE c.region_code = :r")
    levels = {"community": "('village', 'community')", "township": "('township')",
              "county": "('county')"}[unit]
    return ("SELECT code, name, level::text AS level, parent_code, "
            "CASE WHEN level = 'township' THEN code WHEN level = 'county' THEN NULL "
            "ELSE parent_code END AS township_code, households, geom FROM admin_unit "
            f"WHERE region_code = :r AND level IN {levels}")


def unit_geometry(conn: Connection, region_code: str, set_id: int, code: str) -> dict[str, Any]:
    """Look up any unit (cell, village/community, township, county, compound) by code.

    Returns ``{"code", "name", "level", "wkb"}``; raises NotFound with a hint otherwise.
    """
    row = conn.execute(text("""
        SELECT code, name, level::text, ST_AsBinary(geom) FROM admin_unit
         WHERE region_code = :r AND code = :c
        UNION ALL
        SELECT code, name, 'cell', ST_AsBinary(geom) FROM grid_cell
         WHERE boundary_set_id = :s AND code = :c
        UNION ALL
        SELECT code, name, 'compound', ST_AsBinary(geom) FROM compound
         WHERE region_code = :r AND code = :c
        LIMIT 1"""), {"r": region_code, "s": set_id, "c": code}).first()
    if row is None:
        raise NotFound(
            f"找不到单元 {code} / no cell, village, community, township or compound with code "
            f"{code} in region {region_code}",
            field="within",
        )
    return {"code": row[0], "name": row[1], "level": row[2], "wkb": bytes(row[3])}


def read_gdf(conn: Connection, sql: str, params: dict[str, Any],
             geom_col: str = "geom") -> gpd.GeoDataFrame:
    """Run ``sql`` whose ``geom_col`` is WKB (``ST_AsBinary``) and return a GeoDataFrame."""
    res = conn.execute(text(sql), params)
    cols = list(res.keys())
    rows = res.all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
    if df.empty:
        geoms = np.array([], dtype=object)
    else:
        geoms = shapely.from_wkb([bytes(b) if b is not None else None for b in df[geom_col]])
    df = df.drop(columns=[geom_col])
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4490", index=df.index),
                            crs="EPSG:4490")


def result(name: str, inputs: dict[str, Any], summary: dict[str, Any],
           tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Assemble an analysis result (see module docstring)."""
    return {"analysis": name, "inputs": inputs, "summary": summary, "tables": tables}


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, (dt.date, dt.datetime, pd.Timestamp)):
        return v.isoformat()
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if v is pd.NaT:
        return None
    return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a (Geo)DataFrame as JSON-safe dicts (geometry dropped)."""
    cols = [c for c in df.columns if not isinstance(df, gpd.GeoDataFrame)
            or c != df.geometry.name]
    return [{c: _clean(v) for c, v in zip(cols, row, strict=True)}
            for row in df[cols].itertuples(index=False, name=None)]


def _rounded(g: Any, precision: int) -> Any:
    """Round coordinates for output; topology-preserving, or point-wise where GEOS gives up."""
    try:
        return shapely.set_precision(g, 10.0 ** -precision)
    except shapely.errors.GEOSException:
        return shapely.set_precision(g, 10.0 ** -precision, mode="pointwise")


def feature_collection(df: pd.DataFrame, precision: int = 7) -> dict[str, Any]:
    """A (Geo)DataFrame as a GeoJSON FeatureCollection (geometry null for plain tables)."""
    props = records(df)
    if isinstance(df, gpd.GeoDataFrame) and len(df):
        geoms = [
            None if g is None or g.is_empty else
            shapely.geometry.mapping(_rounded(g, precision))
            for g in df.geometry
        ]
    else:
        geoms = [None] * len(props)
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": g, "properties": p}
                         for g, p in zip(geoms, props, strict=True)]}


def to_payload(res: dict[str, Any], with_geometry: bool = True) -> dict[str, Any]:
    """JSON body of a result: inputs, summary and every table as a FeatureCollection."""
    tables: dict[str, Any] = {}
    for name, df in res["tables"].items():
        if with_geometry:
            tables[name] = feature_collection(df)
        else:
            tables[name] = records(df)
    return {"analysis": res["analysis"], "inputs": _clean(res["inputs"]),
            "summary": _clean(res["summary"]), "tables": tables}


def incident_detail_level(principal: Principal) -> str:
    """How much of individual incidents the caller gets in an analysis.

    ``full``: rows in the caller's scope (``incident_scope_sql``), with codes, never reporter
    fields (analyses do not need them); ``anonymous``: planners get points with category, date
    and cell only (no code, no description, no personal field); ``none``: viewers get counts.
    """
    if principal.sees_all_incidents() or principal.role in ("worker", "department"):
        return "full"
    if principal.role == "planner":
        return "anonymous"
    return "none"


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, 1 = all in one)."""
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    idx = np.arange(1, n + 1)
    return float((2.0 * (idx * x).sum()) / (n * x.sum()) - (n + 1.0) / n)


def check_categories(conn: Connection, categories: list[str] | None) -> list[str] | None:
    """Validate incident category codes (comma-separated values are split)."""
    if not categories:
        return None
    cats = [c.strip() for item in categories for c in item.split(",") if c.strip()]
    known = {c for (c,) in conn.execute(text("SELECT code FROM incident_category"))}
    unknown = [c for c in cats if c not in known]
    if unknown:
        raise InvalidInput(
            f"未知事件类别 {unknown} / unknown incident categories {unknown}; known: "
            f"{sorted(known)}", field="category")
    return cats or None
