"""Export a layer to GeoJSON, GeoPackage, Shapefile (zipped), CSV or XLSX, in any CRS.

The access contract applies: incidents are filtered with
:func:`geo.auth.principal.incident_scope_sql`; reporter names and phones are exported only where
``principal.may_see_personal`` allows (masked otherwise); grid workers' names and phones are
masked for every role that does not see all incidents.

Filters: ``where`` is an ECQL expression over the exported columns (``status = 'closed' AND
reported_at >= '2025-01-01'``), or CQL2 text as the OGC ``filter`` (e.g.
``T_AFTER(reported_at, TIMESTAMP('2026-10-01T00:00:00Z'))``), parsed by pygeofilter and bound to
those columns only;
``bbox`` is ``minx,miny,maxx,maxy`` in ``crs``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo.auth.fields import (
    as_seen,
    guarded_fields,
    may_filter_on,
    revealed_ids,
    withheld_fields,
)
from geo.auth.principal import Principal
from geo.boundaries.sets import set_valid_at
from geo.crs.names import UnknownCRSError, normalize_crs
from geo.crs.transforms import transform_geometry
from geo.crs.validate import bbox_polygon
from geo.errors import Forbidden, InvalidInput
from geo.incidents.flow import open_status_sql
from geo.io import LAYERS
from geo.layers.cql import (
    check_filter,
    check_filter_text,
    kinds_from_description,
    parse_cql2_text,
    temporal_as_comparison,
)

FORMATS = {
    "geojson": ("application/geo+json", ".geojson"),
    "gpkg": ("application/geopackage+sqlite3", ".gpkg"),
    "shp": ("application/zip", ".zip"),
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
}
MAX_ROWS = 2_000_000

_QUERIES: dict[str, str] = {
    "cells": """SELECT c.code, c.name, c.kind, c.parent_code, c.township_code, c.households,
                       c.population, round(c.area_m2::numeric, 1) AS area_m2,
                       b.name AS boundary_set, c.geom
                FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id
                WHERE c.region_code = :r AND c.boundary_set_id = :set_id""",
    "admin": """SELECT code, name, level, parent_code, households, population, geom
                FROM admin_unit WHERE region_code = :r""",
    "compounds": """SELECT code, name, address, community_code, households, buildings,
                           built_year, mgmt_mode, company_name, owners_committee, geom
                    FROM compound WHERE region_code = :r""",
    "cameras": """SELECT gb_id, name, bearing_deg, fov_deg, range_m, status, project,
                         installed_at, geom FROM camera WHERE region_code = :r""",
    "incidents": """SELECT incident.code, incident.category_code, incident.channel,
                           incident.status, incident.urgency, incident.reported_at,
                           incident.description, incident.location_text,
                           incident.reporter_name, incident.reporter_phone,
                           incident.cell_code, incident.community_code,
                           incident.township_code, incident.department_code,
                           incident.due_at, incident.final_due_at,
                           ({open_sql} AND incident.paused_at IS NULL
                            AND incident.due_at < now()) AS overdue,
                           incident.dispatched_at, incident.closed_at, incident.geom
                    FROM incident WHERE incident.region_code = :r AND {scope}""",
    "buildings": """SELECT code, name, compound_code, address, floors, units, source,
                           synthetic, geom FROM building WHERE region_code = :r""",
    "addresses": """SELECT code, full_text, level, township, community, road, number,
                           compound, compound_code, building, unit, room, source, synthetic,
                           geom FROM std_address WHERE region_code = :r""",
    "workers": """SELECT w.code, w.name, w.phone, w.role_note, w.active,
                         (SELECT string_agg(a.cell_code, ';' ORDER BY a.cell_code)
                          FROM worker_assignment a WHERE a.worker_id = w.id
                          AND a.valid_to IS NULL) AS cells
                  FROM grid_worker w WHERE w.region_code = :r""",
}


@dataclass
class ExportResult:
    """The exported file's bytes, media type and suggested file name."""

    content: bytes
    media_type: str
    filename: str
    rows: int
    revealed: list[Any] = field(default_factory=list)  # codes whose personal fields went out


def _parse_bbox(bbox: str | None, crs: str) -> Any:
    """``minx,miny,maxx,maxy`` in ``crs`` as a CGCS2000 polygon (None without a bbox)."""
    if not bbox:
        return None
    try:
        parts = [float(p) for p in bbox.split(",")]
    except ValueError as exc:
        raise InvalidInput(
            f"bbox 应为 minx,miny,maxx,maxy / bbox must be minx,miny,maxx,maxy, got {bbox!r}",
            field="bbox") from exc
    return bbox_polygon(parts, crs)


def _attributes(node: Any) -> set[str]:
    """Names of the attributes a parsed ECQL expression mentions."""
    from pygeofilter import ast

    if isinstance(node, ast.Attribute):
        return {node.name}
    out: set[str] = set()
    for sub in node.get_sub_nodes() if isinstance(node, ast.Node) else []:
        out |= _attributes(sub)
    return out


@lru_cache(maxsize=1)
def _where_evaluator() -> Any:
    """pygeofilter's SQL evaluator plus temporal predicates (read by the OGC filter's rule,
    :func:`geo.layers.cql.temporal_as_comparison`) and instants as quoted ISO 8601 text."""
    from pygeofilter import ast, values
    from pygeofilter.backends.evaluator import handle
    from pygeofilter.backends.sql.evaluate import SQLEvaluator

    class WhereSQL(SQLEvaluator):  # type: ignore[misc]
        @handle(ast.TemporalPredicate, subclasses=True)
        def temporal(self, node: Any, *_: Any) -> Any:
            return self.evaluate(temporal_as_comparison(node), False)

        @handle(values.Interval)
        def interval(self, node: Any, *_: Any) -> None:
            return None  # read by ``temporal`` from the node

        @handle(dt.datetime, dt.date)
        def instant(self, node: dt.date) -> str:
            return f"'{node.isoformat()}'"

    return WhereSQL


def _where_sql(where: str | None, kinds: dict[str, str], refused: list[str]) -> str:
    """SQL of an ECQL (or CQL2 text) ``where`` over the columns ``kinds`` describes (name ->
    filter kind); naming a ``refused`` column is InvalidInput.

    ``refused`` are the columns the caller may not filter on (:func:`geo.auth.fields.
    may_filter_on`): a filter on a field one may not read unmasked is an oracle for it. The
    limits and type rules are the OGC filter's (:func:`geo.layers.cql.check_filter`).
    """
    columns = list(kinds)
    where = (where or "").strip()  # a file sent with --data-urlencode where@file ends in \n
    if not where:
        return "TRUE"
    check_filter_text(where)
    from pygeofilter.parsers.ecql import parse

    allowed = [c for c in columns if c != "geom" and c not in refused]
    try:
        ast = parse(where)
    except Exception as exc:  # noqa: BLE001 - lark/pygeofilter raise many kinds
        try:  # CQL2 text, as the OGC filter: T_AFTER(reported_at, TIMESTAMP('...'))
            ast = parse_cql2_text(where)
        except Exception:  # noqa: BLE001 - not CQL2 text either: the ECQL reason
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(
                f"无法解析 where 条件 / cannot parse where {where!r}: {first}. Columns: "
                f"{allowed}; example: status = 'closed' AND reported_at >= '2025-01-01' or "
                "T_AFTER(reported_at, TIMESTAMP('2026-10-01T00:00:00Z'))",
                field="where") from exc
    try:
        check_filter(ast, kinds, field="where")  # limits and types first: _attributes recurses
    except InvalidInput as exc:
        prop = exc.detail.get("property")
        if isinstance(prop, str) and prop not in kinds:
            raise InvalidInput(f"where 中的未知字段 [{prop!r}] / unknown columns in where: "
                               f"[{prop!r}]; columns: {allowed}", field="where") from exc
        raise
    named = _attributes(ast)
    forbidden = sorted(named & set(refused))
    if forbidden:
        raise InvalidInput(
            f"where 不能使用字段 {forbidden} (无权查看其明文) / where may not name {forbidden}: "
            "you may not read these fields unmasked; filterable columns: "
            f"{allowed}", field="where", refused_fields=forbidden)
    unknown = sorted(named - set(allowed))
    if unknown:
        raise InvalidInput(f"where 中的未知字段 {unknown} / unknown columns in where: {unknown}; "
                           f"columns: {allowed}", field="where")
    try:
        return str(_where_evaluator()({c: c for c in allowed}, {}).evaluate(ast))
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - pygeofilter raises many kinds
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(
            f"无法转换 where 条件 / cannot use where {where!r}: {first}. Columns: {allowed}",
            field="where") from exc


def export_layer(
    conn: Connection,
    principal: Principal,
    layer: str,
    fmt: str,
    region_code: str,
    crs: str | None = None,
    where: str | None = None,
    bbox: str | None = None,
    at: dt.date | None = None,
    boundary_set: str | None = None,
    lang: str = "zh",
) -> ExportResult:
    """Export ``layer`` of ``region_code`` as ``fmt`` in ``crs`` (default EPSG:4490).

    XLSX is for people (:mod:`geo.io.sheets`): Chinese headers (English with ``lang="en"``),
    names beside codes, typed local times, a definitions sheet. The other formats, CSV
    included, are for systems: the column keys and codes as stored, whatever ``lang``.

    Raises
    ------
    InvalidInput
        Unknown layer, format or CRS; a bad ``where`` or ``bbox``.
    Forbidden
        The caller may not see the region.
    """
    if layer not in LAYERS:
        raise InvalidInput(f"未知图层 {layer!r}，可选 {LAYERS} / unknown layer {layer!r}",
                           field="layer")
    if fmt not in FORMATS:
        raise InvalidInput(f"未知格式 {fmt!r}，可选 {list(FORMATS)} / unknown format {fmt!r}",
                           field="format")
    try:
        out_crs = normalize_crs(crs or "EPSG:4490")
    except UnknownCRSError as exc:
        raise InvalidInput(str(exc), field="crs") from exc
    if not principal.in_region(region_code):
        raise Forbidden(f"无权访问区域 {region_code} / no access to region {region_code}")
    if principal.role == "viewer" and layer in ("incidents", "workers"):
        raise Forbidden(f"公众角色只能导出公开图层 / viewers may export public layers only "
                        f"(cells, admin, compounds, cameras, buildings, addresses), not {layer}")
    params: dict[str, Any] = {"r": region_code}
    base = _QUERIES[layer]
    if layer == "cells":
        if boundary_set:
            from geo.boundaries.sets import find_set

            params["set_id"] = int(find_set(conn, region_code, boundary_set)["id"])
        else:
            params["set_id"] = set_valid_at(conn, region_code, at)[0]
    if layer == "incidents":
        from geo.auth.principal import incident_scope_sql

        scope, sp = incident_scope_sql(principal, "incident")
        if principal.role == "planner":
            scope = "TRUE"  # planners get incidents without personal fields (dropped below)
        params.update(sp)
        base = base.format(scope=scope, open_sql=open_status_sql("incident.status"))
    probe = conn.execute(text(f"SELECT * FROM ({base}) q LIMIT 0"), params)
    cols = [str(c) for c in probe.keys()]
    kinds = kinds_from_description(probe.cursor.description)
    cond = _where_sql(where, kinds,
                      [c for c in cols if not may_filter_on(principal, layer, c)])
    has_geom = "geom" in cols
    sql = f"SELECT * FROM ({base}) q WHERE {cond}"
    box = _parse_bbox(bbox, out_crs)
    if box is not None:
        if not has_geom:
            raise InvalidInput(f"图层 {layer} 没有几何，不能用 bbox / layer {layer} has no "
                               "geometry: bbox does not apply", field="bbox")
        sql += " AND ST_Intersects(q.geom, ST_GeomFromText(:bbox, 4490))"
        params["bbox"] = box.wkt
    select = ", ".join(f'q."{c}"' for c in cols if c != "geom")
    if has_geom:
        select += ", ST_AsBinary(q.geom) AS geom_wkb"
    try:
        rows = conn.execute(text(f"SELECT {select} FROM ({sql}) q LIMIT {MAX_ROWS + 1}"),
                            params).mappings().all()
    except Exception as exc:  # noqa: BLE001 - a where clause of the wrong type
        if "DataError" in type(exc).__name__ or "ProgrammingError" in type(exc).__name__:
            raise InvalidInput(f"where 条件无效 / invalid where: {where!r}", field="where") from exc
        raise
    if len(rows) > MAX_ROWS:  # refused, never a file silently cut at the limit
        raise InvalidInput(
            f"超过 {MAX_ROWS:,} 行, 请用 where 或 bbox 缩小范围 / more than {MAX_ROWS:,} rows: "
            "narrow the export with where or bbox", field="where")
    df = pd.DataFrame([dict(r) for r in rows], columns=[c for c in cols if c != "geom"] + (
        ["geom_wkb"] if has_geom else []))
    revealed = revealed_ids(principal, layer, rows, "code") if "code" in cols else []
    _mask(df, layer, principal)
    geoms = None
    if has_geom:
        wkb = df.pop("geom_wkb").tolist()
        geoms = np.array([shapely.from_wkb(bytes(w)) if w is not None else None for w in wkb],
                         dtype=object)
        if out_crs != "EPSG:4490" and len(geoms):
            ok = np.array([g is not None for g in geoms], dtype=bool)
            if ok.any():
                geoms[ok] = transform_geometry(np.asarray(list(geoms[ok]), dtype=object),
                                               "EPSG:4490", out_crs)
    # the file name never carries request text beyond letters, digits, _ and - (review F7)
    name = f"{layer}_{re.sub(r'[^0-9A-Za-z_-]', '_', region_code)}"
    if fmt == "xlsx":
        content = _workbook(conn, principal, layer, df, geoms, out_crs, region_code, lang,
                            where, bbox, at, boundary_set)
    else:
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].map(_plain)
        content = _write(df, geoms, fmt, out_crs, name)
    media, ext = FORMATS[fmt]
    return ExportResult(content, media, name + ext, len(df), revealed)


def _geometry_columns(geoms: np.ndarray | None, n: int, crs: str) -> dict[str, list[Any]]:
    """Coordinates for a table: lon/lat (x/y when projected) of points, else WKT; and the CRS."""
    if geoms is None:
        return {}
    out: dict[str, list[Any]] = {}
    if all(g is None or g.geom_type == "Point" for g in geoms):
        xn, yn = ("lon", "lat") if _geographic(crs) else ("x", "y")
        out[xn] = [None if g is None else round(g.x, 8) for g in geoms]
        out[yn] = [None if g is None else round(g.y, 8) for g in geoms]
    else:
        out["wkt"] = [None if g is None else shapely.to_wkt(g, rounding_precision=8)
                      for g in geoms]
    out["crs"] = [crs] * n
    return out


def _workbook(conn: Connection, principal: Principal, layer: str, df: pd.DataFrame,
              geoms: np.ndarray | None, crs: str, region_code: str, lang: str,
              where: str | None, bbox: str | None, at: dt.date | None,
              boundary_set: str | None) -> bytes:
    """The XLSX of the (masked) rows: :func:`geo.io.sheets.layer_workbook`."""
    from geo.db.tables.vocab import ROLE
    from geo.io.sheets import layer_workbook

    extra = _geometry_columns(geoms, len(df), crs)
    out = df.astype(object).where(df.notna(), None)
    for key, values in extra.items():
        out[key] = values
    rows = [{str(k): v for k, v in r.items()} for r in out.to_dict("records")]
    none = "none" if lang == "en" else "无"
    inputs: list[tuple[str, str, Any]] = [
        ("筛选条件", "Filter (where)", where or none),
        ("范围 (经纬度框)", "Extent (bbox)", bbox or none),
        ("坐标系", "CRS", crs),
    ]
    if layer == "cells":
        inputs.append(("边界版本", "Boundary set", boundary_set or (
            at.isoformat() if at else ("active" if lang == "en" else "当前启用的边界"))))
    inputs.append(("导出角色", "Caller's role", ROLE.label(principal.role, lang)))
    notes = []
    if withheld_fields(principal, layer):
        notes.append(("按权限, 上报人姓名、电话、事件描述和地点描述不提供 (列为空)。",
                      "By the caller's role, reporters' names and phones, descriptions and "
                      "address text are withheld (empty columns)."))
    return layer_workbook(conn, layer, rows, list(extra), region_code, inputs, lang, notes)


def _plain(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    if v is not None and not isinstance(v, str | int | float | bool):
        return float(v) if hasattr(v, "__float__") else str(v)
    return v


def _mask(df: pd.DataFrame, layer: str, principal: Principal) -> None:
    """Apply the field policy (:mod:`geo.auth.fields`) to the exported rows, in place."""
    if df.empty:
        return
    for name in withheld_fields(principal, layer):
        if name in df.columns:
            df[name] = None
    guarded = [n for n in guarded_fields(layer) if n in df.columns and
               n not in withheld_fields(principal, layer)]
    if not guarded:
        return
    cells = df["cell_code"] if "cell_code" in df.columns else [None] * len(df)
    depts = df["department_code"] if "department_code" in df.columns else [None] * len(df)
    for name in guarded:
        df[name] = [as_seen(principal, layer, name, v, c, d)
                    for v, c, d in zip(df[name], cells, depts, strict=True)]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_spreadsheet_text(value: Any) -> Any:
    """A text cell that Excel/WPS would evaluate (``=HYPERLINK(...)``, ``+1``, ``@SUM``) with a
    leading apostrophe, so it is shown as the text it is; other values unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _write(df: pd.DataFrame, geoms: np.ndarray | None, fmt: str, crs: str, name: str) -> bytes:
    crs_for_file = crs if crs.startswith("EPSG:") else None  # GCJ02/BD09: no EPSG CRS
    if fmt == "csv":  # for systems: column keys and codes as stored (XLSX: _workbook)
        out = df.copy()
        for key, values in _geometry_columns(geoms, len(df), crs).items():
            out[key] = values
        for c in out.columns:  # text a spreadsheet would run as a formula stays text (F9)
            if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
                out[c] = out[c].map(as_spreadsheet_text)
        return out.to_csv(index=False).encode("utf-8-sig")
    import geopandas as gpd
    import pyogrio

    if geoms is None:
        geoms = np.full(len(df), None, dtype=object)
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(list(geoms)), crs=crs_for_file)
    tmp = Path(tempfile.mkdtemp(prefix="wangge_export_"))
    try:
        if fmt == "geojson":
            path = tmp / f"{name}.geojson"
            pyogrio.write_dataframe(gdf, path, driver="GeoJSON", layer=name)
            data = path.read_bytes()
            if crs_for_file is None:  # GCJ02/BD09 are no EPSG CRS: say so in the file
                doc = json.loads(data)
                doc["crs_note"] = f"coordinates are {crs}"
                doc.pop("crs", None)
                data = json.dumps(doc, ensure_ascii=False).encode()
            return data
        if fmt == "gpkg":
            path = tmp / f"{name}.gpkg"
            pyogrio.write_dataframe(gdf, path, driver="GPKG", layer=name)
            return path.read_bytes()
        shp_dir = tmp / name
        shp_dir.mkdir()
        shp_df = gdf.rename(columns={c: c[:10] for c in gdf.columns if c != "geometry"})
        pyogrio.write_dataframe(shp_df, shp_dir / f"{name}.shp", driver="ESRI Shapefile",
                                encoding="UTF-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(shp_dir.iterdir()):
                zf.write(f, f.name)
        return buf.getvalue()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _geographic(crs: str) -> bool:
    from geo.crs.names import is_geographic

    return is_geographic(crs)

