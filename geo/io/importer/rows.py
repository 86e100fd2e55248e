"""Reading rows: the region and its extent, the import context, a chunk's geometries in
EPSG:4490 with a refusal reason per row, and the ONE row prelude of polygon layers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from sqlalchemy import Connection, text

from geo.crs.transforms import transform_geometry
from geo.errors import InvalidInput
from geo.io.geometry import clean_polygon
from geo.io.importer.crs_plan import CrsPlan, plausibility
from geo.io.importer.fields import Cols, code_of, example_row, field_value
from geo.io.importer.options import ImportOptions, Progress
from geo.io.importer.report import ImportReport
from geo.io.read import Chunk, Source


def ensure_region(conn: Connection, opts: ImportOptions, report: ImportReport) -> None:
    """Check the region code and create the region when it does not exist yet."""
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


def region_extent(conn: Connection, region: str) -> tuple[Any, str] | None:
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

@dataclass
class ImportContext:
    """What the layer importers share: options, source, CRS plan, report, fields."""

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


def chunk_geoms(ctx: ImportContext, chunk: Chunk) -> tuple[np.ndarray, list[str | None]]:
    """Geometries of a chunk in EPSG:4490 and a refusal reason per row (None = fine)."""
    n = len(chunk.attrs)
    reasons = list(chunk.geom_errors)
    ok, why = plausibility(ctx.plan, chunk.geoms)
    bad = [i for i in range(n) if not ok[i]]
    with_geom = sum(1 for g in chunk.geoms if g is not None)
    if not ctx.layer_checked and with_geom and len(bad) * 2 > with_geom:
        i = bad[0]
        raise InvalidInput(
            f"整个图层被拒绝 (layer refused): {len(bad)}/{with_geom} 行的坐标不可能是 "
            f"{ctx.plan.label} / rows cannot be in {ctx.plan.label}: {why[i]}. "
            f"示例行 example row {chunk.start + i + 1}: "
            f"{example_row(chunk.attrs, i, chunk.geoms[i])}",
            example=example_row(chunk.attrs, i, chunk.geoms[i]),
        )
    geoms = chunk.geoms.copy()
    for i in bad:
        reasons[i] = why[i]
        geoms[i] = None
    try:
        out = ctx.plan.to_4490(geoms)
    except Exception as exc:  # noqa: BLE001 - pyproj errors vary
        raise InvalidInput(f"坐标转换失败 / coordinate transformation failed: {exc}") from exc
    present = ~shapely.is_missing(out)
    finite = np.ones(n, dtype=bool)
    if present.any():
        finite[present] = np.isfinite(shapely.bounds(out[present])).all(axis=1)
    for i in np.flatnonzero(~finite).tolist():
        out[i] = None
        reasons[i] = (f"坐标无法从 {ctx.plan.label} 转换 / coordinates cannot be transformed "
                          f"from {ctx.plan.label}")
    if ctx.extent is not None:
        extent, what = ctx.extent
        has = ~shapely.is_missing(out)
        if has.any():
            inside = np.ones(n, dtype=bool)
            shapely.prepare(extent)  # once: each row's test against the prepared extent
            inside[has] = shapely.intersects(extent, out[has])
            outside = np.flatnonzero(has & ~inside).tolist()
            if not ctx.layer_checked and len(outside) * 2 > int(has.sum()) and outside:
                i = outside[0]
                hint = _swap_hint(ctx, chunk.geoms[i], extent)
                raise InvalidInput(
                    f"整个图层被拒绝 (layer refused): {len(outside)}/{int(has.sum())} 行在区域 "
                    f"{ctx.opts.region} 之外 ({what}) / rows lie outside region {ctx.opts.region} "
                    f"({what}) when read as {ctx.plan.label}.{hint} 示例行 example row "
                    f"{chunk.start + i + 1}: {example_row(chunk.attrs, i, chunk.geoms[i])}",
                    example=example_row(chunk.attrs, i, chunk.geoms[i]),
                )
            for i in outside:
                out[i] = None
                reasons[i] = (f"位于区域 {ctx.opts.region} 之外 ({what}) / outside region "
                              f"{ctx.opts.region} ({what})")
    if with_geom:
        ctx.layer_checked = True
    return out, reasons


def _swap_hint(ctx: ImportContext, raw: Any, extent: Any) -> str:
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

def iter_chunks(ctx: ImportContext, progress: Progress | None) -> Iterator[tuple[Chunk, np.ndarray,
                                                                       list[str | None]]]:
    """The file's chunks with their EPSG:4490 geometries and refusal reasons (progress reported)."""
    done = 0
    for chunk in ctx.src.chunks():
        if ctx.layer == "workers":
            geoms = np.full(len(chunk.attrs), None, dtype=object)
            reasons: list[str | None] = [None] * len(chunk.attrs)
        else:
            geoms, reasons = chunk_geoms(ctx, chunk)
        yield chunk, geoms, reasons
        done += len(chunk.attrs)
        ctx.report.rows = done
        if progress:
            progress(done, ctx.src.total)


def polygon_rows(ctx: ImportContext, progress: Progress | None
                 ) -> Iterator[tuple[Cols, int, int, str, Any]]:
    """The one row prelude of polygon layers (cells, admin units, compounds).

    Each row needs a code and a usable polygon: rows without a code, with a refused
    geometry (CRS, region) or a polygon the gate cannot use are refused; repaired polygons
    are counted and listed (the first ``MAX_LISTED``, like refusals).

    Yields
    ------
    tuple
        ``(columns, index in chunk, row number in file, code, valid MultiPolygon)``.
    """
    report = ctx.report
    for chunk, geoms, reasons in iter_chunks(ctx, progress):
        a = Cols(chunk.attrs)
        for i in range(len(a)):
            row = chunk.start + i + 1
            code = code_of(field_value(a, ctx.fields["code"], i))
            if code is None:
                report.refuse(row, None, "没有编码 / no code", kind="no code")
                continue
            if reasons[i]:
                report.refuse(row, code, str(reasons[i]), example_row(a, i, chunk.geoms[i]))
                continue
            g, repair, refusal = clean_polygon(geoms[i], ctx.opts.strict)
            if refusal:
                report.refuse(row, code, refusal, example_row(a, i, chunk.geoms[i]))
                continue
            if repair:
                report.repair(row, code, repair)
            yield a, i, row, code, g
