"""``run_import``: files into PostGIS, a dry run unless told to commit, all or nothing.

Every import runs in ONE transaction. A dry run does all the work (rows staged with COPY,
merged, checked) and rolls back, so its report is exactly what a commit would do; a commit
that fails half-way (an error, a refused row without ``skip_refused``, a killed process)
leaves the database as it was. Re-importing the same file changes nothing (``unchanged``).

Layers and their keys: ``cells`` (a new pending boundary set; see :mod:`geo.boundaries.sets`),
``admin`` (region + code), ``compounds`` (region + code), ``cameras`` (GB/T 28181 id),
``incidents`` (region + code, streamed: millions of rows in bounded memory), ``workers``
(region + code, optional assignment to a cell).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon
from sqlalchemy import Connection, Engine, text

from geo.boundaries.activate import activate_set
from geo.boundaries.checks import DEFAULT_MIN_AREA_M2, check_boundary_set
from geo.boundaries.sets import active_set_id
from geo.crs.names import UnknownCRSError, is_geographic, normalize_crs
from geo.crs.transforms import transform_geometry
from geo.db.tables.foundation import CAMERA_STATUSES, CHANNELS, INCIDENT_STATUSES, MGMT_MODES
from geo.errors import InvalidInput
from geo.incidents.routing import route_incidents
from geo.io import LAYERS
from geo.io.parse import (
    find_field,
    is_empty,
    parse_bearing,
    parse_date,
    parse_int,
    parse_number,
    parse_time,
)
from geo.io.read import Chunk, Source, crs_label, open_source

MAX_LISTED = 100
Progress = Callable[[int, int | None], None]


@dataclass
class ImportOptions:
    """Options of one import (CLI flags and upload form fields map 1:1 onto these)."""

    region: str
    region_name: str | None = None
    crs: str | None = None
    layer: str | None = None
    lon_field: str | None = None
    lat_field: str | None = None
    wkt_field: str | None = None
    code_field: str | None = None
    name_field: str | None = None
    parent_field: str | None = None
    township_field: str | None = None
    kind_field: str | None = None
    level: str | None = None
    level_field: str | None = None
    category_field: str | None = None
    category_map: dict[str, str] = field(default_factory=dict)
    default_category: str | None = None
    time_field: str | None = None
    time_format: str | None = None
    timezone: str = "Asia/Shanghai"
    description_field: str | None = None
    address_field: str | None = None
    bearing_field: str | None = None
    cell_field: str | None = None
    phone_field: str | None = None
    channel: str = "12345"
    status: str = "reported"
    strict: bool = False
    skip_refused: bool = False
    commit: bool = False
    activate: bool = False
    force: bool = False
    set_name: str | None = None
    valid_from: dt.date | None = None
    min_area_m2: float = DEFAULT_MIN_AREA_M2
    route: bool = True
    chunk_rows: int = 50_000


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    layer: str
    region: str
    file: str
    format: str
    crs: dict[str, Any]
    dry_run: bool
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    repaired_count: int = 0
    merged: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_count: int = 0
    refused_reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    no_location: int = 0
    region_created: bool = False
    boundary_set: dict[str, Any] | None = None
    checks: dict[str, Any] | None = None
    activation: dict[str, Any] | None = None
    routed: int | None = None
    notes: list[str] = field(default_factory=list)
    committed: bool = False
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return json.loads(json.dumps(asdict(self), default=str))

    def refuse(self, row: int, code: Any, reason: str, example: dict[str, Any] | None = None,
               kind: str | None = None) -> None:
        """Record a refused row (the first MAX_LISTED are listed, all are counted)."""
        self.refused_count += 1
        key = kind or reason.split(" / ")[0][:40]
        self.refused_reasons[key] = self.refused_reasons.get(key, 0) + 1
        if len(self.refused) < MAX_LISTED:
            item: dict[str, Any] = {"row": row, "code": None if is_empty(code) else str(code),
                                    "reason": reason}
            if example:
                item["example"] = example
            self.refused.append(item)

    def summary_lines(self) -> list[str]:
        """Text for the terminal (Chinese / English)."""
        mode = "已提交 COMMITTED" if self.committed else "试运行 DRY RUN (nothing written)"
        if self.error:
            mode = "未写入 NOT WRITTEN"
        out = [
            f"{mode}: {self.layer} <- {self.file} ({self.format}), region {self.region}"
            + (" (new region)" if self.region_created else ""),
            f"坐标系 CRS: {self.crs.get('source')} (from {self.crs.get('from')})",
            f"行 rows: {self.rows}; 新增 new: {self.new}; 更新 updated: {self.updated}; "
            f"不变 unchanged: {self.unchanged}"
            + (f"; 删除 removed: {self.removed}" if self.removed else "")
            + f"; 修复 repaired: {self.repaired_count}; 拒绝 refused: {self.refused_count}"
            + (f"; 重复 duplicates: {self.duplicates}" if self.duplicates else "")
            + (f"; 无坐标 no location: {self.no_location}" if self.no_location else ""),
        ]
        for note in self.notes:
            out.append(f"  note: {note}")
        for m in self.merged[:10]:
            out.append(f"  合并 merged: {m['code']} from {m['parts']} features (rows {m['rows']})")
        for r in self.repaired[:10]:
            out.append(f"  修复 repaired row {r['row']} {r.get('code')}: {r['reason']}")
        for r in self.refused[:10]:
            ex = f" example: {r['example']}" if r.get("example") else ""
            out.append(f"  拒绝 refused row {r['row']} {r.get('code')}: {r['reason']}{ex}")
        if self.refused_count > 10:
            out.append(f"  ... {self.refused_count - 10} more refused: {self.refused_reasons}")
        if self.boundary_set:
            out.append(f"边界集 boundary set: {self.boundary_set}")
        if self.checks:
            from geo.boundaries.checks import describe_checks

            out.extend("检查 checks: " + line if i == 0 else line
                       for i, line in enumerate(describe_checks(self.checks)))
        if self.activation:
            out.append(f"已启用 activated: {self.activation.get('activated')} "
                       f"(incidents re-routed: {self.activation.get('incidents_rerouted')})")
        if self.routed is not None:
            out.append(f"事件已分派到网格 incidents routed to a cell: {self.routed}")
        if self.error:
            out.append(f"错误 error: {self.error}")
        out.append(f"{self.seconds:.1f} s")
        return out


# =====================================================================================
# CRS
# =====================================================================================


@dataclass
class CrsPlan:
    """Where the coordinates come from and how to bring them to EPSG:4490."""

    label: str
    source: str  # "file", "--crs", "default"
    name: str | None  # normalised name for geo.crs.transforms, or None (WKT-only CRS)
    crs: CRS | None
    geographic: bool

    def to_4490(self, geoms: np.ndarray) -> np.ndarray:
        """Transform an object array of geometries (None kept) to EPSG:4490."""
        ok = np.array([g is not None for g in geoms], dtype=bool)
        out = np.full(len(geoms), None, dtype=object)
        if not ok.any():
            return out
        arr = np.asarray(list(geoms[ok]), dtype=object)
        if self.name is not None:
            out[ok] = transform_geometry(arr, self.name, "EPSG:4490")
        else:
            assert self.crs is not None
            tr = Transformer.from_crs(self.crs, "EPSG:4490", always_xy=True)
            out[ok] = shapely.transform(
                arr, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
            )
        return out


def _same_crs(a: str, b: str) -> bool:
    geo_same = {"EPSG:4326", "EPSG:4490"}
    return a == b or (a in geo_same and b in geo_same)


def plan_crs(file_crs: CRS | None, given: str | None) -> CrsPlan:
    """Decide the source CRS: the file's own when present (a conflicting --crs is an error).

    Raises
    ------
    InvalidInput
        Unknown --crs, or --crs contradicting the CRS the file declares.
    """
    given_name: str | None = None
    if given:
        try:
            given_name = normalize_crs(given)
        except UnknownCRSError as exc:
            raise InvalidInput(str(exc), field="crs") from exc
    if file_crs is not None:
        code = file_crs.to_epsg(min_confidence=60)
        file_name = f"EPSG:{code}" if code else None
        label = file_name or str(file_crs.name)
        if given_name is not None and (file_name is None or not _same_crs(file_name, given_name)):
            raise InvalidInput(
                f"文件自带坐标系 {label}，与 --crs {given_name} 冲突；请去掉 --crs 或修正 .prj"
                f" / the file declares its CRS as {label}, which conflicts with --crs "
                f"{given_name}: drop --crs or fix the file's CRS (.prj)", field="crs"
            )
        return CrsPlan(label, "file", file_name, None if file_name else file_crs,
                       bool(file_crs.is_geographic))
    if given_name is not None:
        return CrsPlan(given_name, "--crs", given_name, None, is_geographic(given_name))
    return CrsPlan("EPSG:4490", "default (file has no CRS; give --crs if not CGCS2000)",
                   "EPSG:4490", None, True)


class _Cols:
    """A chunk's columns as Python lists (row access by index is far cheaper than pandas)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.columns = [str(c) for c in df.columns]
        self._lists = {str(c): df[c].tolist() for c in df.columns}
        self.n = len(df)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, col: str) -> list[Any]:
        return self._lists[col]

    def row(self, i: int) -> list[Any]:
        """All values of row ``i``."""
        return [self._lists[c][i] for c in self.columns]


def _example(attrs: pd.DataFrame | _Cols, i: int, geom: Any) -> dict[str, Any]:
    if isinstance(attrs, _Cols):
        attrs = attrs.df
    row = {str(k): (None if is_empty(v) else str(v)) for k, v in attrs.iloc[i].items()}
    items = list(row.items())[:8]
    out = dict(items)
    if geom is not None:
        out["geometry"] = shapely.to_wkt(geom, rounding_precision=6)[:120]
    return out


def _plausibility(plan: CrsPlan, geoms: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Per-geometry: can these raw coordinates be in the claimed CRS? (ok mask, reasons)."""
    n = len(geoms)
    reasons: list[str | None] = [None] * n
    ok = np.ones(n, dtype=bool)
    has = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    if not has.any():
        return ok, reasons
    b = shapely.bounds(np.asarray(list(geoms[has]), dtype=object))
    idx = np.flatnonzero(has)
    for k, i in enumerate(idx):
        minx, miny, maxx, maxy = b[k]
        ax, ay = max(abs(minx), abs(maxx)), max(abs(miny), abs(maxy))
        if plan.geographic:
            if ax <= 180 and ay <= 90:
                continue
            ok[i] = False
            if max(ax, ay) > 1000:
                reasons[i] = (
                    f"坐标 ({minx:.1f}, {miny:.1f}) 是米制投影坐标，不可能是 {plan.label} 的"
                    "经纬度；请用 --crs 指定投影 (如 EPSG:4546 高斯-克吕格 111E) / coordinates "
                    f"like ({minx:.1f}, {miny:.1f}) are metres of a projected CRS, not degrees of "
                    f"{plan.label}: give the projected CRS with --crs (e.g. EPSG:4546)")
            elif ay > 90 and ax <= 90:
                reasons[i] = (
                    f"纬度 {miny:.6f} 超出 ±90：经纬度写反了? 经度应在前 / latitude "
                    f"{miny:.6f} is beyond ±90: longitude and latitude look swapped (x must be "
                    "the longitude)")
            else:
                reasons[i] = (f"坐标超出经纬度范围 / coordinates ({minx}, {miny}) are outside "
                              "the range of longitude/latitude")
        else:
            if ax <= 180 and ay <= 90:
                ok[i] = False
                reasons[i] = (
                    f"坐标 ({minx:.6f}, {miny:.6f}) 像经纬度 (度)，不可能是投影坐标系 {plan.label} "
                    f"的米 / coordinates ({minx:.6f}, {miny:.6f}) look like degrees, not metres "
                    f"of the projected CRS {plan.label}: give --crs EPSG:4490 (or GCJ02/BD09)")
            elif plan.name and re.match(r"EPSG:45(3[4-9]|4\d|5[0-4])$", plan.name) and ax > 1e7:
                ok[i] = False
                reasons[i] = (
                    f"东坐标 {minx:.1f} 带有带号前缀，应使用带带号的坐标系 (EPSG:4513-4533) / the "
                    f"easting {minx:.1f} carries a zone prefix: use the CRS with zone number "
                    f"(EPSG:4513-4533) instead of {plan.name}")
    return ok, reasons


# =====================================================================================
# The region and its extent (to refuse rows outside it)
# =====================================================================================


def _ensure_region(conn: Connection, opts: ImportOptions, report: ImportReport) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_]{1,12}", opts.region):
        raise InvalidInput(
            f"区域代码 {opts.region!r} 无效：1-12 位字母或数字 / invalid region code "
            f"{opts.region!r}: 1-12 letters or digits (e.g. 141123, CHI001)", field="region")
    exists = conn.execute(text("SELECT 1 FROM region WHERE code = :r"),
                          {"r": opts.region}).scalar()
    if not exists:
        conn.execute(
            text("INSERT INTO region (code, region_code, name, source) VALUES (:r, :r, :n, :s)"),
            {"r": opts.region, "n": opts.region_name or opts.region,
             "s": f"created by import of {report.file}"},
        )
        report.region_created = True


def _region_extent(conn: Connection, region: str) -> tuple[Any, str] | None:
    """The region's county boundary (buffered ~100 m), else its cells' extent (+~1 km)."""
    wkb = conn.execute(
        text("SELECT ST_AsBinary(ST_Buffer(ST_Union(geom), 0.001)) FROM admin_unit "
             "WHERE region_code = :r AND level = 'county'"), {"r": region}
    ).scalar()
    if wkb is not None:
        return shapely.from_wkb(bytes(wkb)), "the county boundary"
    wkb = conn.execute(
        text("SELECT ST_AsBinary(ST_Expand(ST_Extent(g.geom)::geometry, 0.01)) FROM grid_cell g "
             "JOIN boundary_set b ON b.id = g.boundary_set_id WHERE g.region_code = :r AND "
             "(b.is_active OR NOT EXISTS (SELECT 1 FROM boundary_set x WHERE x.region_code = :r "
             "AND x.is_active))"), {"r": region}
    ).scalar()
    if wkb is not None:
        return shapely.from_wkb(bytes(wkb)), "the extent of the region's grid cells"
    return None


# =====================================================================================
# Geometry clean-up
# =====================================================================================


def _polygonal(g: Any) -> MultiPolygon | None:
    if g is None or g.is_empty:
        return None
    if isinstance(g, Polygon):
        return MultiPolygon([g]) if g.area > 0 else None
    if isinstance(g, MultiPolygon):
        return g if g.area > 0 else None
    parts = [p for p in getattr(g, "geoms", []) if isinstance(p, Polygon | MultiPolygon)]
    polys: list[Polygon] = []
    for p in parts:
        polys.extend([p] if isinstance(p, Polygon) else list(p.geoms))
    polys = [p for p in polys if p.area > 0]
    return MultiPolygon(polys) if polys else None


def _clean_polygon(g: Any, strict: bool) -> tuple[MultiPolygon | None, str | None, str | None]:
    """(geometry, repair note, refusal reason) for a polygon layer row."""
    if g is None:
        return None, None, "没有几何 / no geometry"
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        return None, None, (f"需要面状几何，得到 {g.geom_type} / a polygon is needed, got "
                            f"{g.geom_type}")
    g = shapely.force_2d(g)
    if shapely.is_valid(g):
        out = _polygonal(g)
        return (out, None, None) if out is not None else (
            None, None, "面积为零 / zero-area polygon")
    why = shapely.is_valid_reason(g)
    if strict:
        return None, None, (f"几何无效 ({why})，--strict 模式下拒绝 / invalid geometry ({why}), "
                            "refused with --strict")
    fixed = _polygonal(shapely.make_valid(g))
    if fixed is None:
        return None, None, (f"几何无效且无法修复 ({why}; 如环少于 4 个点) / invalid geometry that "
                            f"cannot be repaired ({why}; e.g. a ring of fewer than 4 points)")
    return fixed, f"make_valid: {why}", None


def _point(g: Any) -> tuple[Point | None, str | None]:
    if g is None or g.is_empty:
        return None, None
    if isinstance(g, Point):
        return (g, None) if not g.has_z else (shapely.force_2d(g), None)
    g = shapely.force_2d(g)
    if g.geom_type == "MultiPoint" and len(g.geoms) == 1:
        return g.geoms[0], None
    return None, f"需要点几何，得到 {g.geom_type} / a point is needed, got {g.geom_type}"


# =====================================================================================
# Reading rows: field mapping, CRS, region check, per-layer values
# =====================================================================================


@dataclass
class _Ctx:
    layer: str
    opts: ImportOptions
    src: Source
    plan: CrsPlan
    report: ImportReport
    extent: tuple[Any, str] | None
    fields: dict[str, str | None]
    tz: ZoneInfo
    categories: dict[str, str]
    layer_checked: bool = False


_ROLE_OPTION = {
    "code": "code_field", "name": "name_field", "parent": "parent_field",
    "township": "township_field", "kind": "kind_field", "level": "level_field",
    "category": "category_field", "time": "time_field", "description": "description_field",
    "address": "address_field", "bearing": "bearing_field", "cell": "cell_field",
    "phone": "phone_field",
}
_LAYER_ROLES = {
    "cells": ("code", "name", "parent", "township", "kind", "households", "population"),
    "admin": ("code", "name", "parent", "level", "households", "population"),
    "compounds": ("code", "name", "address", "households", "buildings", "built_year",
                  "mgmt_mode", "company", "parent"),
    "cameras": ("code", "name", "bearing", "fov", "range", "status"),
    "incidents": ("code", "category", "time", "description", "address", "reporter_name",
                  "reporter_phone", "channel"),
    "workers": ("code", "name", "phone", "cell", "valid_from"),
}


def _map_fields(layer: str, columns: list[str], opts: ImportOptions) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for role in _LAYER_ROLES[layer]:
        opt = _ROLE_OPTION.get(role)
        given = getattr(opts, opt) if opt else None
        try:
            out[role] = find_field(columns, role, given)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=opt or role) from exc
    need_code = layer not in ("incidents",)
    if need_code and out["code"] is None:
        raise InvalidInput(
            f"找不到编码列，请用 --code-field 指定；现有列: {columns} / no code column: give "
            f"--code-field; columns are: {columns}", field="code_field")
    if layer == "incidents" and out["time"] is None:
        raise InvalidInput(
            f"找不到时间列，请用 --time-field 指定；现有列: {columns} / no time column: give "
            f"--time-field; columns are: {columns}", field="time_field")
    return out


def _val(attrs: _Cols, col: str | None, i: int) -> Any:
    if col is None:
        return None
    v = attrs[col][i]
    if v is None or v == "":
        return None
    return None if is_empty(v) else v


def _code(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v == int(v):
        v = int(v)
    s = str(v).strip()
    return s or None


def _chunk_geoms(ctx: _Ctx, chunk: Chunk) -> tuple[np.ndarray, list[str | None]]:
    """Geometries of a chunk in EPSG:4490 and a refusal reason per row (None = fine)."""
    n = len(chunk.attrs)
    reasons = list(chunk.geom_errors)
    ok, why = _plausibility(ctx.plan, chunk.geoms)
    bad = [i for i in range(n) if not ok[i]]
    with_geom = sum(1 for g in chunk.geoms if g is not None)
    if not ctx.layer_checked and with_geom and len(bad) * 2 > with_geom:
        i = bad[0]
        raise InvalidInput(
            f"整个图层被拒绝 (layer refused): {len(bad)}/{with_geom} 行的坐标不可能是 "
            f"{ctx.plan.label} / rows cannot be in {ctx.plan.label}: {why[i]}. "
            f"示例行 example row {chunk.start + i + 1}: {_example(chunk.attrs, i, chunk.geoms[i])}",
            example=_example(chunk.attrs, i, chunk.geoms[i]),
        )
    geoms = chunk.geoms.copy()
    for i in bad:
        reasons[i] = why[i]
        geoms[i] = None
    try:
        out = ctx.plan.to_4490(geoms)
    except Exception as exc:  # noqa: BLE001 - pyproj errors vary
        raise InvalidInput(f"坐标转换失败 / coordinate transformation failed: {exc}") from exc
    for i, g in enumerate(out):
        if g is not None and not np.isfinite(shapely.bounds(g)).all():
            out[i] = None
            reasons[i] = (f"坐标无法从 {ctx.plan.label} 转换 / coordinates cannot be transformed "
                          f"from {ctx.plan.label}")
    if ctx.extent is not None:
        extent, what = ctx.extent
        has = np.array([g is not None for g in out], dtype=bool)
        if has.any():
            inside = np.ones(n, dtype=bool)
            inside[has] = shapely.intersects(extent, np.asarray(list(out[has]), dtype=object))
            outside = [i for i in range(n) if has[i] and not inside[i]]
            if not ctx.layer_checked and len(outside) * 2 > int(has.sum()) and outside:
                i = outside[0]
                hint = _swap_hint(ctx, chunk.geoms[i], extent)
                raise InvalidInput(
                    f"整个图层被拒绝 (layer refused): {len(outside)}/{int(has.sum())} 行在区域 "
                    f"{ctx.opts.region} 之外 ({what}) / rows lie outside region {ctx.opts.region} "
                    f"({what}) when read as {ctx.plan.label}.{hint} 示例行 example row "
                    f"{chunk.start + i + 1}: {_example(chunk.attrs, i, chunk.geoms[i])}",
                    example=_example(chunk.attrs, i, chunk.geoms[i]),
                )
            for i in outside:
                out[i] = None
                reasons[i] = (f"位于区域 {ctx.opts.region} 之外 ({what}) / outside region "
                              f"{ctx.opts.region} ({what})")
    if with_geom:
        ctx.layer_checked = True
    return out, reasons


def _swap_hint(ctx: _Ctx, raw: Any, extent: Any) -> str:
    if raw is None:
        return ""
    try:
        swapped = shapely.transform(raw, lambda xy: xy[:, ::-1])
        if ctx.plan.geographic:
            back = ctx.plan.to_4490(np.array([swapped], dtype=object))[0]
            if back is not None and shapely.intersects(extent, back):
                return (" 经纬度写反了：交换后位于区域内 / longitude and latitude are swapped: "
                        "swapped, the rows fall inside the region.")
        for alt in ("EPSG:4546", "GCJ02"):
            if alt != ctx.plan.name:
                back = transform_geometry(raw, alt, "EPSG:4490")
                if np.isfinite(shapely.bounds(back)).all() and shapely.intersects(extent, back):
                    return (f" 读作 {alt} 时位于区域内 / read as {alt} they fall inside: "
                            f"--crs {alt}?")
    except Exception:  # noqa: BLE001 - a hint only
        return ""
    return " 坐标系是否正确? / is the CRS right?"


# =====================================================================================
# Staging and set-based merge
# =====================================================================================


def _copy_rows(conn: Connection, table: str, cols: list[str], rows: Iterator[tuple[Any, ...]]
               ) -> int:
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    with raw.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)
            n += 1
    return n


def _stage(conn: Connection, table: str, cols: list[str]) -> str:
    stg = f"stg_{table}"
    conn.execute(text(f"DROP TABLE IF EXISTS {stg}"))
    conn.execute(text(f"CREATE TEMP TABLE {stg} ON COMMIT DROP AS SELECT {', '.join(cols)} "
                      f"FROM {table} WITH NO DATA"))
    conn.execute(text(f"ALTER TABLE {stg} ADD COLUMN _rn bigint"))
    return stg


def _merge(conn: Connection, table: str, stg: str, keys: list[str], cols: list[str],
           region: str | None, report: ImportReport, extra_set: str = "",
           insert_only: tuple[str, ...] = ()) -> None:
    """Upsert staging rows into ``table`` by ``keys``; count new/updated/unchanged.

    ``insert_only`` columns are written for new rows only (an incident's status belongs to
    its case flow once it exists).
    """
    key_eq = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    total = conn.execute(text(f"SELECT count(*) FROM {stg}")).scalar_one()
    conn.execute(text(
        f"DELETE FROM {stg} s USING (SELECT {', '.join(keys)}, max(_rn) AS m FROM {stg} "
        f"GROUP BY {', '.join(keys)} HAVING count(*) > 1) d WHERE "
        + " AND ".join(f"s.{k} = d.{k}" for k in keys) + " AND s._rn < d.m"))
    distinct = conn.execute(text(f"SELECT count(*) FROM {stg}")).scalar_one()
    report.duplicates += int(total - distinct)
    if report.duplicates:
        report.notes.append(f"{report.duplicates} rows repeat a code already in the file: "
                            "the last one counts")
    vals = [c for c in cols if c not in keys and c != "region_code" and c not in insert_only]
    region_cond = "t.region_code = s.region_code AND " if region is not None else ""
    sets = ", ".join(f"{c} = s.{c}" for c in vals) + (f", {extra_set}" if extra_set else "")
    differ = "(" + ", ".join(f"t.{c}" for c in vals) + ") IS DISTINCT FROM (" + ", ".join(
        f"s.{c}" for c in vals) + ")"
    upd = conn.execute(text(
        f"UPDATE {table} t SET {sets} FROM {stg} s WHERE {region_cond}{key_eq} AND {differ}"
    )).rowcount
    ins = conn.execute(text(
        f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {stg} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {region_cond}{key_eq})"
    )).rowcount
    report.updated += int(upd or 0)
    report.new += int(ins or 0)
    report.unchanged += int(distinct - (upd or 0) - (ins or 0))


def _ewkb_many(geoms: np.ndarray) -> list[str | None]:
    """Hex EWKB (SRID 4490) of an object array of geometries, None kept (vectorised)."""
    out: list[str | None] = [None] * len(geoms)
    ok = np.flatnonzero(np.array([g is not None for g in geoms], dtype=bool))
    if len(ok):
        arr = shapely.set_srid(np.asarray(list(geoms[ok]), dtype=object), 4490)
        for k, w in zip(ok, shapely.to_wkb(arr, hex=True, include_srid=True), strict=True):
            out[int(k)] = str(w)
    return out


def _ewkb(g: Any) -> str | None:
    if g is None:
        return None
    return str(shapely.to_wkb(shapely.set_srid(g, 4490), hex=True, include_srid=True))


# =====================================================================================
# Layers
# =====================================================================================


def _iter_chunks(ctx: _Ctx, progress: Progress | None) -> Iterator[tuple[Chunk, np.ndarray,
                                                                       list[str | None]]]:
    done = 0
    for chunk in ctx.src.chunks():
        if ctx.layer == "workers":
            geoms = np.full(len(chunk.attrs), None, dtype=object)
            reasons: list[str | None] = [None] * len(chunk.attrs)
        else:
            geoms, reasons = _chunk_geoms(ctx, chunk)
        yield chunk, geoms, reasons
        done += len(chunk.attrs)
        ctx.report.rows = done
        if progress:
            progress(done, ctx.src.total)


def _import_cells(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    parts: dict[str, list[dict[str, Any]]] = {}
    for chunk, geoms, reasons in _iter_chunks(ctx, progress):
        a = _Cols(chunk.attrs)
        for i in range(len(a)):
            row = chunk.start + i + 1
            code = _code(_val(a, f["code"], i))
            if code is None:
                report.refuse(row, None, "没有编码 / no code", kind="no code")
                continue
            if reasons[i]:
                report.refuse(row, code, str(reasons[i]), _example(a, i, chunk.geoms[i]))
                continue
            g, repair, refusal = _clean_polygon(geoms[i], opts.strict)
            if refusal:
                report.refuse(row, code, refusal, _example(a, i, chunk.geoms[i]))
                continue
            if repair:
                report.repaired_count += 1
                if len(report.repaired) < MAX_LISTED:
                    report.repaired.append({"row": row, "code": code, "reason": repair})
            kind = str(_val(a, f["kind"], i) or "basic").strip().lower()
            kind = {"基础网格": "basic", "专属网格": "dedicated"}.get(kind, kind)
            if kind not in ("basic", "dedicated"):
                report.refuse(row, code, f"网格类型应为 basic/dedicated / kind must be basic or "
                                         f"dedicated, got {kind!r}")
                continue
            try:
                hh = parse_int(_val(a, f["households"], i))
                pop = parse_int(_val(a, f["population"], i))
            except ValueError as exc:
                report.refuse(row, code, str(exc))
                continue
            parts.setdefault(code, []).append({
                "row": row, "name": str(_val(a, f["name"], i) or code), "kind": kind,
                "parent": _code(_val(a, f["parent"], i)),
                "township": _code(_val(a, f["township"], i)), "households": hh,
                "population": pop, "geom": g})
    cells = []
    for code, items in parts.items():
        first = items[0]
        geom = first["geom"]
        if len(items) > 1:
            geom = _polygonal(shapely.make_valid(shapely.union_all([p["geom"] for p in items])))
            report.merged.append({"code": code, "parts": len(items),
                                  "rows": [p["row"] for p in items][:20]})
        hhs = [int(p["households"]) for p in items if p["households"] is not None]
        pops = [int(p["population"]) for p in items if p["population"] is not None]
        cells.append({**first, "code": code, "geom": geom,
                      "households": sum(hhs) if hhs else None,
                      "population": sum(pops) if pops else None})
    cells.sort(key=lambda c: c["code"])
    if not cells:
        raise InvalidInput("文件中没有可导入的网格 / no importable cell in the file")
    # Parents: given, or the first 12 digits of a 15-digit code when that unit exists.
    units: dict[str, str | None] = dict(conn.execute(
        text("SELECT code, parent_code FROM admin_unit WHERE region_code = :r"),
        {"r": opts.region}).all())
    unknown_parents: set[str] = set()
    for c in cells:
        if c["parent"] is None and len(c["code"]) == 15 and c["code"][:12] in units:
            c["parent"] = c["code"][:12]
        if c["parent"] is not None and c["parent"] not in units and units:
            unknown_parents.add(c["parent"])
        if c["township"] is None and c["parent"] in units:
            c["township"] = units[c["parent"]]
    if unknown_parents:
        report.notes.append(f"parent codes not among the region's admin units (no parent "
                            f"checks for them): {sorted(unknown_parents)[:20]}")
    digest = hashlib.sha256()
    for c in cells:
        wkb = shapely.to_wkb(shapely.normalize(shapely.set_precision(c["geom"], 1e-9)))
        digest.update(json.dumps([c["code"], c["name"], c["kind"], c["parent"],
                                  c["township"], c["households"]]).encode() + wkb)
    content_hash = digest.hexdigest()
    same = conn.execute(
        text("SELECT id, name, is_active, valid_to = valid_from AS pending FROM boundary_set "
             "WHERE region_code = :r AND checks->>'content_hash' = :h ORDER BY id DESC LIMIT 1"),
        {"r": opts.region, "h": content_hash},
    ).mappings().first()
    if same is not None:
        report.unchanged = len(cells)
        report.boundary_set = {"id": same["id"], "name": same["name"],
                               "state": "active" if same["is_active"] else (
                                   "pending" if same["pending"] else "history"),
                               "note": "identical content already imported: nothing to do"}
        if opts.activate and same["pending"]:
            report.activation = activate_set(conn, opts.region, str(same["id"]), opts.force,
                                              None, opts.min_area_m2)
        return
    vf = opts.valid_from or dt.date.today()
    name = opts.set_name or f"{Path(report.file).stem} ({dt.date.today().isoformat()})"
    base, k = name, 1
    while conn.execute(text("SELECT 1 FROM boundary_set WHERE region_code = :r AND name = :n"),
                       {"r": opts.region, "n": name}).scalar():
        k += 1
        name = f"{base} #{k}"
    set_id = conn.execute(
        text("INSERT INTO boundary_set (region_code, name, valid_from, valid_to, is_active, "
             "source, checks) VALUES (:r, :n, :vf, :vf, false, :src, CAST(:c AS jsonb)) "
             "RETURNING id"),
        {"r": opts.region, "n": name, "vf": vf, "src": report.file,
         "c": json.dumps({"content_hash": content_hash})},
    ).scalar_one()
    cols = ["region_code", "boundary_set_id", "code", "name", "kind", "parent_code",
            "township_code", "households", "population", "attrs", "geom"]
    _copy_rows(conn, "grid_cell", cols, (
        (opts.region, set_id, c["code"], c["name"], c["kind"], c["parent"], c["township"],
         c["households"], c["population"], json.dumps({"source_row": c["row"]}),
         _ewkb(c["geom"])) for c in cells))
    conn.execute(text("UPDATE grid_cell SET area_m2 = ST_Area(geom::geography) "
                      "WHERE boundary_set_id = :s"), {"s": set_id})
    prev = active_set_id(conn, opts.region)
    if prev is None:
        report.new = len(cells)
    else:
        diff = conn.execute(text("""
            SELECT count(*) FILTER (WHERE o.code IS NULL) AS new,
                   count(*) FILTER (WHERE o.code IS NOT NULL AND (
                        (n.name, n.kind, n.parent_code) IS DISTINCT FROM
                        (o.name, o.kind, o.parent_code)
                        OR (NOT ST_OrderingEquals(n.geom, o.geom) AND
                            ST_Area(ST_SymDifference(n.geom, o.geom)::geography) >= 1.0)))
                        AS updated,
                   count(o.code) AS matched
            FROM grid_cell n LEFT JOIN grid_cell o ON o.boundary_set_id = :o AND o.code = n.code
            WHERE n.boundary_set_id = :s"""), {"s": set_id, "o": prev}).mappings().one()
        report.new = int(diff["new"])
        report.updated = int(diff["updated"])
        report.unchanged = int(diff["matched"]) - report.updated
        report.removed = int(conn.execute(
            text("SELECT count(*) FROM grid_cell o WHERE o.boundary_set_id = :o AND NOT EXISTS "
                 "(SELECT 1 FROM grid_cell n WHERE n.boundary_set_id = :s AND n.code = o.code)"),
            {"s": set_id, "o": prev}).scalar_one())
    checks = check_boundary_set(conn, set_id, opts.min_area_m2)
    checks["content_hash"] = content_hash
    conn.execute(text("UPDATE boundary_set SET checks = CAST(:c AS jsonb) WHERE id = :s"),
                 {"c": json.dumps(checks, default=str), "s": set_id})
    report.checks = checks
    report.boundary_set = {"id": set_id, "name": name, "valid_from": vf.isoformat(),
                           "state": "pending",
                           "activate_with": f"wangge boundaries activate {set_id} "
                                            f"--region {opts.region}"}
    if opts.activate:
        report.activation = activate_set(conn, opts.region, str(set_id), opts.force, None,
                                          opts.min_area_m2)
        report.boundary_set["state"] = "active"


_LEVEL_BY_LEN = {6: "county", 9: "township", 12: "village"}


def _import_admin(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "level", "parent_code", "households", "population",
            "geom", "source"]
    stg = _stage(conn, "admin_unit", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in _iter_chunks(ctx, progress):
            a = _Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = _code(_val(a, f["code"], i))
                if code is None:
                    report.refuse(row, None, "没有编码 / no code", kind="no code")
                    continue
                if reasons[i]:
                    report.refuse(row, code, str(reasons[i]), _example(a, i, chunk.geoms[i]))
                    continue
                g, repair, refusal = _clean_polygon(geoms[i], opts.strict)
                if refusal:
                    report.refuse(row, code, refusal, _example(a, i, chunk.geoms[i]))
                    continue
                if repair:
                    report.repaired_count += 1
                    report.repaired.append({"row": row, "code": code, "reason": repair})
                level = str(_val(a, f["level"], i) or opts.level or _LEVEL_BY_LEN.get(
                    len(code), "")).strip().lower()
                level = {"县": "county", "区县": "county", "乡镇": "township", "镇": "township",
                         "乡": "township", "街道": "township", "村": "village",
                         "行政村": "village", "社区": "community"}.get(level, level)
                if level not in ("county", "township", "village", "community"):
                    report.refuse(row, code, "无法确定级别，请用 --level 指定 / unknown level: "
                                             "give --level county|township|village|community")
                    continue
                parent = _code(_val(a, f["parent"], i))
                if parent is None and level != "county":
                    parent = {"township": code[:6], "village": code[:9],
                              "community": code[:9]}.get(level)
                try:
                    hh = parse_int(_val(a, f["households"], i))
                    pop = parse_int(_val(a, f["population"], i))
                except ValueError as exc:
                    report.refuse(row, code, str(exc))
                    continue
                yield (opts.region, code, str(_val(a, f["name"], i) or code), level, parent,
                       hh, pop, _ewkb(g), f"import {report.file}", row)

    _copy_rows(conn, stg, cols + ["_rn"], rows())
    _merge(conn, "admin_unit", stg, ["code"], cols, opts.region, report)


_MGMT = {"物业公司": "company", "物业服务企业": "company", "专业物业": "company",
         "社区托管": "community", "社会组织代管": "social_org", "业主自管": "owners",
         "业委会自管": "owners", "自管": "owners", "无": "none", "无物业": "none"}


def _import_compounds(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "address", "community_code", "households",
            "buildings", "built_year", "mgmt_mode", "company_name", "geom"]
    stg = _stage(conn, "compound", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in _iter_chunks(ctx, progress):
            a = _Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = _code(_val(a, f["code"], i))
                if code is None:
                    report.refuse(row, None, "没有编码 / no code", kind="no code")
                    continue
                if reasons[i]:
                    report.refuse(row, code, str(reasons[i]), _example(a, i, chunk.geoms[i]))
                    continue
                g, repair, refusal = _clean_polygon(geoms[i], opts.strict)
                if refusal:
                    report.refuse(row, code, refusal, _example(a, i, chunk.geoms[i]))
                    continue
                if repair:
                    report.repaired_count += 1
                    report.repaired.append({"row": row, "code": code, "reason": repair})
                mode = str(_val(a, f["mgmt_mode"], i) or "none").strip()
                mode = _MGMT.get(mode, mode.lower())
                if mode not in MGMT_MODES:
                    report.refuse(row, code, f"物业管理方式无效 {mode!r} / mgmt_mode must be one "
                                             f"of {MGMT_MODES}")
                    continue
                try:
                    nums = [parse_int(_val(a, f[k], i)) for k in ("households", "buildings",
                                                                   "built_year")]
                except ValueError as exc:
                    report.refuse(row, code, str(exc))
                    continue
                yield (opts.region, code, str(_val(a, f["name"], i) or code),
                       _val(a, f["address"], i), _code(_val(a, f["parent"], i)), *nums, mode,
                       _val(a, f["company"], i), _ewkb(g), row)

    _copy_rows(conn, stg, cols + ["_rn"], rows())
    _merge(conn, "compound", stg, ["code"], cols, opts.region, report)


def _import_cameras(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "gb_id", "name", "bearing_deg", "fov_deg", "range_m", "status",
            "geom"]
    stg = _stage(conn, "camera", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in _iter_chunks(ctx, progress):
            a = _Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = _code(_val(a, f["code"], i))
                if code is None or not re.fullmatch(r"\d{20}", code):
                    report.refuse(row, code, "设备编码应为 20 位数字 (GB/T 28181) / the camera id "
                                             "must be 20 digits (GB/T 28181)", kind="bad gb_id")
                    continue
                if reasons[i] or geoms[i] is None:
                    report.refuse(row, code, str(reasons[i] or "没有坐标 / no coordinates"),
                                  _example(a, i, chunk.geoms[i]))
                    continue
                pt, why = _point(geoms[i])
                if pt is None:
                    report.refuse(row, code, str(why))
                    continue
                try:
                    bearing = parse_bearing(_val(a, f["bearing"], i))
                    fov = parse_number(_val(a, f["fov"], i)) or 90.0
                    rng = parse_number(_val(a, f["range"], i)) or 50.0
                except ValueError as exc:
                    report.refuse(row, code, str(exc))
                    continue
                status = str(_val(a, f["status"], i) or "online").strip().lower()
                status = {"在线": "online", "离线": "offline", "故障": "fault"}.get(status, status)
                if status not in CAMERA_STATUSES or not (0 < fov <= 360) or not (
                        0 < rng <= 5000):
                    report.refuse(row, code, f"状态/视场角/距离无效 / invalid status {status!r}, "
                                             f"fov {fov} or range {rng} "
                                             "(fov 0-360, range 0-5000 m)")
                    continue
                yield (opts.region, code, _val(a, f["name"], i), bearing, fov, rng, status,
                       _ewkb(pt), row)

    _copy_rows(conn, stg, cols + ["_rn"], rows())
    foreign = conn.execute(text(
        "SELECT s.gb_id, c.region_code FROM stg_camera s JOIN camera c ON c.gb_id = s.gb_id "
        "WHERE c.region_code <> s.region_code LIMIT 5")).all()
    if foreign:
        raise InvalidInput(
            f"摄像头编码已属于其他区域 / camera ids already belong to another region: "
            f"{[tuple(r) for r in foreign]}")
    _merge(conn, "camera", stg, ["gb_id"], cols, None, report)


def _category_lookup(conn: Connection) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, name, name_en in conn.execute(
            text("SELECT code, name, name_en FROM incident_category")).all():
        for k in (code, name, name_en):
            if k:
                out[str(k).strip().lower()] = str(code)
    return out


def _ensure_default_category(conn: Connection, code: str, region: str) -> None:
    conn.execute(
        text("INSERT INTO incident_category (code, region_code, name, name_en) VALUES "
             "(:c, :r, '其他(导入)', 'Other (imported)') ON CONFLICT (code) DO NOTHING"),
        {"c": code, "r": region})


def _fast_times(col: pd.Series, fmt: str | None, tz: ZoneInfo) -> list[dt.datetime | None]:
    """Vectorised parse of a chunk's times; None where the row needs :func:`parse_time`."""
    n = len(col)
    try:
        ts = pd.to_datetime(col, format=fmt or "ISO8601", errors="coerce")
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    except (ValueError, TypeError, AttributeError):
        return [None] * n
    out: list[dt.datetime | None] = []
    for t in ts:
        if pd.isna(t) or not (1900 <= t.year <= 2100):
            out.append(None)
        else:
            out.append(t.to_pydatetime())
    return out


def _import_incidents(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    if opts.channel not in CHANNELS:
        raise InvalidInput(f"渠道应为 {CHANNELS} 之一 / channel must be one of {CHANNELS}",
                           field="channel")
    if opts.status not in INCIDENT_STATUSES:
        raise InvalidInput(f"状态应为 {INCIDENT_STATUSES} 之一 / status must be one of "
                           f"{INCIDENT_STATUSES}", field="status")
    if not conn.execute(text("SELECT EXISTS (SELECT 1 FROM incident_category)")).scalar():
        from geo.incidents.reference import ensure_reference

        ensure_reference(conn, opts.region)  # the installation's initial categories
        report.notes.append("reference categories and departments created (none existed)")
    if opts.default_category:
        _ensure_default_category(conn, opts.default_category, opts.region)
    cats = _category_lookup(conn)
    cmap = {k.strip().lower(): v for k, v in opts.category_map.items()}
    for v in set(cmap.values()):
        if v.lower() not in cats:
            raise InvalidInput(f"--category-map 中的类别 {v!r} 不存在 / unknown category code "
                               f"{v!r} in --category-map", field="category_map")
    cols = ["region_code", "code", "category_code", "channel", "status", "urgency",
            "reported_at", "description", "location_text", "reporter_name", "reporter_phone",
            "geom"]
    stg = _stage(conn, "incident", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in _iter_chunks(ctx, progress):
            a = _Cols(chunk.attrs)
            wkbs = _ewkb_many(geoms)
            times = _fast_times(chunk.attrs[f["time"]], opts.time_format, ctx.tz)
            for i in range(len(a)):
                row = chunk.start + i + 1
                raw_code = _code(_val(a, f["code"], i))
                try:
                    when = times[i] or parse_time(_val(a, f["time"], i), opts.time_format,
                                                  ctx.tz)
                except ValueError as exc:
                    report.refuse(row, raw_code, str(exc), _example(a, i, chunk.geoms[i]),
                                  kind="bad date")
                    continue
                if when is None:
                    report.refuse(row, raw_code, "没有时间 / no date-time", kind="no date")
                    continue
                if reasons[i] and chunk.geom_errors[i] is None:
                    report.refuse(row, raw_code, str(reasons[i]), _example(a, i, chunk.geoms[i]))
                    continue
                pt, why = _point(geoms[i])
                if why:
                    report.refuse(row, raw_code, why)
                    continue
                raw_cat = _val(a, f["category"], i)
                key = str(raw_cat).strip().lower() if raw_cat is not None else ""
                cat = cmap.get(key) or cats.get(key) or opts.default_category
                if cat is None:
                    report.refuse(row, raw_code, f"未知事件类别 {raw_cat!r}；用 --category-map 或 "
                                                 f"--default-category / unknown category "
                                                 f"{raw_cat!r}: give --category-map "
                                                 "'VALUE=code' or --default-category",
                                  kind="unknown category")
                    continue
                code = raw_code or "IMP" + hashlib.sha1(
                    "|".join(str(v) for v in a.row(i)).encode()).hexdigest()[:20]
                if pt is None:
                    report.no_location += 1
                desc = _val(a, f["description"], i)
                if desc is None and raw_cat is not None and cat != key:
                    desc = str(raw_cat)
                yield (opts.region, code, cat, opts.channel,
                       opts.status if pt is not None else "needs_location", "normal", when,
                       desc, _val(a, f["address"], i), _val(a, f["reporter_name"], i),
                       _val(a, f["reporter_phone"], i),
                       wkbs[i] if pt is not None and pt is geoms[i] else _ewkb(pt), row)

    _copy_rows(conn, stg, cols + ["_rn"], rows())
    reset = ("boundary_set_id = NULL, cell_code = NULL, community_code = NULL, "
             "township_code = NULL, worker_id = NULL, version = t.version + 1, "
             "updated_at = now()")
    _merge(conn, "incident", stg, ["code"], cols, opts.region, report, extra_set=reset,
           insert_only=("status",))
    if opts.route:
        route_incidents(conn, opts.region)
        report.routed = int(conn.execute(text(
            "SELECT count(*) FROM incident i JOIN stg_incident s ON s.region_code = "
            "i.region_code AND s.code = i.code WHERE i.cell_code IS NOT NULL")).scalar_one())


def _import_workers(conn: Connection, ctx: _Ctx, progress: Progress | None) -> None:
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "phone"]
    stg = _stage(conn, "grid_worker", cols)
    conn.execute(text("ALTER TABLE stg_grid_worker ADD COLUMN cell_code text, "
                      "ADD COLUMN valid_from date"))
    today = dt.date.today()

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, _g, _r in _iter_chunks(ctx, progress):
            a = _Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = _code(_val(a, f["code"], i))
                name = _val(a, f["name"], i)
                if code is None or name is None:
                    report.refuse(row, code, "没有编码或姓名 / no code or name", kind="no code")
                    continue
                try:
                    vf = parse_date(_val(a, f["valid_from"], i), opts.time_format) or today
                except ValueError as exc:
                    report.refuse(row, code, str(exc), kind="bad date")
                    continue
                phone = _val(a, f["phone"], i)
                if isinstance(phone, float):
                    phone = str(int(phone))
                yield (opts.region, code, str(name), phone, row,
                       _code(_val(a, f["cell"], i)), vf)

    _copy_rows(conn, stg, cols + ["_rn", "cell_code", "valid_from"], rows())
    _merge(conn, "grid_worker", stg, ["code"], cols, opts.region, report)
    # Assignments: a worker named for a cell takes it over from valid_from.
    n = conn.execute(text("""
        WITH s AS (SELECT w.id AS worker_id, s.cell_code, s.valid_from FROM stg_grid_worker s
                   JOIN grid_worker w ON w.region_code = s.region_code AND w.code = s.code
                   WHERE s.cell_code IS NOT NULL),
        fresh AS (SELECT s.* FROM s WHERE NOT EXISTS (
                   SELECT 1 FROM worker_assignment a WHERE a.region_code = :r
                   AND a.worker_id = s.worker_id AND a.cell_code = s.cell_code
                   AND a.valid_to IS NULL)),
        closed AS (UPDATE worker_assignment a SET valid_to = f.valid_from FROM fresh f
                   WHERE a.region_code = :r AND a.valid_to IS NULL AND a.valid_from < f.valid_from
                   AND (a.cell_code = f.cell_code OR a.worker_id = f.worker_id) RETURNING a.id)
        INSERT INTO worker_assignment (region_code, worker_id, cell_code, valid_from, note)
        SELECT :r, worker_id, cell_code, valid_from, 'import' FROM fresh RETURNING id
    """), {"r": opts.region}).rowcount
    if n:
        report.notes.append(f"{n} worker assignments to cells started")


_HANDLERS: dict[str, Callable[[Connection, _Ctx, Progress | None], None]] = {
    "cells": _import_cells, "admin": _import_admin, "compounds": _import_compounds,
    "cameras": _import_cameras, "incidents": _import_incidents, "workers": _import_workers,
}


def run_import(
    engine: Engine,
    layer: str,
    path: str | Path,
    opts: ImportOptions,
    progress: Progress | None = None,
    display_name: str | None = None,
) -> ImportReport:
    """Import ``path`` into ``layer`` of region ``opts.region``; dry run unless ``opts.commit``.

    Parameters
    ----------
    engine
        Engine of a migrated database.
    layer
        One of :data:`geo.io.LAYERS`.
    path
        The file (or Shapefile folder / zip).
    opts
        Options: CRS, field mapping, strictness, commit.
    progress
        Called with (rows read, total rows or None) after each chunk.
    display_name
        The name shown in the report (an upload's original file name).

    Returns
    -------
    ImportReport
        ``committed`` True only when everything was written. A commit refused because of
        refused rows carries ``error`` and leaves the database untouched.

    Raises
    ------
    InvalidInput
        Unreadable file, unknown CRS or a conflicting one, a layer whose coordinates cannot be
        in the claimed CRS (with the reason and an example row). Nothing is written.
    """
    t0 = time.monotonic()
    if layer not in LAYERS:
        raise InvalidInput(f"未知图层 {layer!r}，可选 {LAYERS} / unknown layer {layer!r}; "
                           f"layers: {LAYERS}", field="layer")
    try:
        tz = ZoneInfo(opts.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"未知时区 / unknown timezone {opts.timezone!r}",
                           field="timezone") from exc
    src = open_source(path, layer=opts.layer, lon_field=opts.lon_field,
                      lat_field=opts.lat_field, wkt_field=opts.wkt_field,
                      geometry_required=layer not in ("workers", "incidents"),
                      chunk_rows=opts.chunk_rows)
    try:
        return _run(engine, layer, path, opts, src, tz, t0, progress, display_name)
    finally:
        src.close()


def _run(engine: Engine, layer: str, path: str | Path, opts: ImportOptions, src: Source,
         tz: ZoneInfo, t0: float, progress: Progress | None, display_name: str | None
         ) -> ImportReport:
    plan = plan_crs(src.file_crs, opts.crs)
    report = ImportReport(
        layer=layer, region=opts.region, file=display_name or Path(path).name, format=src.fmt,
        crs={"source": plan.label, "from": plan.source, "file_crs": crs_label(src.file_crs)},
        dry_run=not opts.commit, notes=list(src.notes),
    )
    fields = _map_fields(layer, src.columns, opts)
    report.notes.append("fields: " + ", ".join(f"{k}={v!r}" for k, v in fields.items() if v))
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _ensure_region(conn, opts, report)
            ctx = _Ctx(layer, opts, src, plan, report, _region_extent(conn, opts.region),
                       fields, tz, {})
            _HANDLERS[layer](conn, ctx, progress)
            if report.rows and report.refused_count == report.rows:
                raise InvalidInput(
                    f"所有 {report.rows} 行都被拒绝 / all {report.rows} rows were refused: "
                    f"{report.refused[0]['reason'] if report.refused else ''}",
                    report=report.to_dict())
            if opts.commit and report.refused_count and not opts.skip_refused:
                report.error = (
                    f"{report.refused_count} 行被拒绝，未写入任何数据；修正后重试或用 "
                    f"--skip-refused 只导入其余行 / {report.refused_count} rows refused, "
                    "nothing written: fix them, or give --skip-refused to import the other rows")
                trans.rollback()
            elif opts.commit:
                trans.commit()
                report.committed = True
            else:
                trans.rollback()
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
    report.dry_run = not report.committed
    report.seconds = round(time.monotonic() - t0, 2)
    return report
