"""Import of the address register (一标三实): buildings (楼栋) and standard addresses (标准地址).

Both feed the offline address matcher (:mod:`geo.addresses.match`, rebuilt when the register
changes). A building is a footprint or a point, with its compound (code or name), address,
floors and units; its answered point is the point itself or a point on the footprint. A
standard address is a point with its parts (township, village/community, road and number,
compound, building, unit, room); its level is the finest part given, and its full text is
the file's address column or the parts joined.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, text

from geo.addresses.normalize import normalize
from geo.io.importer.fields import Cols, code_of, example_row, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, iter_chunks
from geo.io.importer.staging import copy_rows, ewkb, merge, stage
from geo.io.parse import is_empty, parse_int


def _compounds(conn: Connection, region: str) -> tuple[set[str], dict[str, str]]:
    """The region's compound codes, and codes by normalised name (unique names only)."""
    codes: set[str] = set()
    by_name: dict[str, str | None] = {}
    for code, name in conn.execute(text(
            "SELECT code, name FROM compound WHERE region_code = :r"), {"r": region}):
        codes.add(str(code))
        key = normalize(str(name))
        by_name[key] = None if key in by_name else str(code)  # namesakes: no guess
    return codes, {k: v for k, v in by_name.items() if v is not None}


def _compound_of(raw: Any, codes: set[str], by_name: dict[str, str]) -> str | None:
    if is_empty(raw):
        return None
    s = str(raw).strip()
    return s if s in codes else by_name.get(normalize(s))


def _point_and_geom(g: Any) -> tuple[Any, Any, str | None]:
    """(geometry kept, its point, refusal): points and (multi)polygons only."""
    if g is None or g.is_empty:
        return None, None, "没有几何或坐标 / no geometry or coordinates"
    if g.geom_type == "Point":
        return g, g, None
    if g.geom_type in ("Polygon", "MultiPolygon"):
        if not g.is_valid:
            g = g.buffer(0)
            if g.is_empty:
                return None, None, "楼栋轮廓无效 / the footprint is not a valid polygon"
        return g, g.point_on_surface(), None
    return None, None, (f"几何类型 {g.geom_type} 不能用作楼栋或地址 (点或面) / a {g.geom_type} "
                        "cannot be a building or an address: give points or polygons")


def _text(a: Cols, col: str | None, i: int) -> str | None:
    v = field_value(a, col, i)
    return None if is_empty(v) else str(v).strip() or None


def _int_in(a: Cols, col: str | None, i: int, name: str, hi: int) -> int | None:
    v = parse_int(field_value(a, col, i))
    if v is not None and not 0 <= v <= hi:
        raise ValueError(f"{name} 应在 0-{hi} 之间 / {name} must be 0-{hi}, got {v}")
    return v


def import_buildings(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import buildings (points or footprints) with their compound, floors and units."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "compound_code", "address", "floors", "units",
            "geom", "point", "source"]
    codes, by_name = _compounds(conn, opts.region)
    stg = stage(conn, "building", cols)
    unknown: dict[str, int] = {}

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = code_of(field_value(a, f["code"], i))
                if code is None:
                    report.refuse(row, None, "没有编码 / no code", kind="no code")
                    continue
                if reasons[i]:
                    report.refuse(row, code, str(reasons[i]), example_row(a, i, chunk.geoms[i]))
                    continue
                g, pt, why = _point_and_geom(geoms[i])
                if why:
                    report.refuse(row, code, why, example_row(a, i, chunk.geoms[i]))
                    continue
                try:
                    floors = _int_in(a, f["floors"], i, "floors 层数", 200)
                    units = _int_in(a, f["units"], i, "units 单元数", 100)
                except ValueError as exc:
                    report.refuse(row, code, str(exc))
                    continue
                raw = field_value(a, f["compound"], i)
                comp = _compound_of(raw, codes, by_name)
                if comp is None and not is_empty(raw):
                    unknown[str(raw)] = unknown.get(str(raw), 0) + 1
                yield (opts.region, code, _text(a, f["name"], i) or code, comp,
                       _text(a, f["address"], i), floors, units, ewkb(g), ewkb(pt),
                       report.file[:100], row)

    copy_rows(conn, stg, cols + ["_rn"], rows())
    merge(conn, "building", stg, ["code"], cols, opts.region, report)
    if unknown:
        report.notes.append(f"{sum(unknown.values())} 栋所写的小区不在本县小区图层中 "
                            f"(按无小区导入): {dict(list(unknown.items())[:10])} / buildings "
                            "naming a compound "
                            "not in the compounds layer (imported without one)")


_LEVELS = (("room", "room"), ("unit", "building"), ("building", "building"),
           ("compound", "compound"), ("number", "road"), ("road", "road"),
           ("community_name", "village"), ("township_name", "township"))


def import_addresses(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import standard addresses (points with their parts; the level is the finest part)."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "township", "community", "road", "number", "compound",
            "compound_code", "building", "unit", "room", "full_text", "level", "geom",
            "source"]
    codes, by_name = _compounds(conn, opts.region)
    stg = stage(conn, "std_address", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                parts = {k: _text(a, f[k], i) for k in (
                    "township_name", "community_name", "road", "number", "compound",
                    "building", "unit", "room")}
                full = _text(a, f["address"], i) or "".join(
                    p for p in (parts["township_name"], parts["community_name"],
                                parts["road"], parts["number"] and parts["number"] + "号",
                                parts["compound"], parts["building"] and
                                parts["building"] + "号楼", parts["unit"] and
                                parts["unit"] + "单元", parts["room"] and parts["room"] + "室")
                    if p)
                code = code_of(field_value(a, f["code"], i)) or (
                    "A" + hashlib.sha1(full.encode()).hexdigest()[:20] if full else None)
                if not full or code is None:
                    report.refuse(row, code, "没有地址文字或地址各部分 / no address text or "
                                             "parts", kind="no address")
                    continue
                if reasons[i]:
                    report.refuse(row, code, str(reasons[i]), example_row(a, i, chunk.geoms[i]))
                    continue
                _g, pt, why = _point_and_geom(geoms[i])
                if why:
                    report.refuse(row, code, why, example_row(a, i, chunk.geoms[i]))
                    continue
                level = next((lv for k, lv in _LEVELS if parts[k]), None)
                if level is None:
                    report.refuse(row, code, "地址没有可用于匹配的部分 (乡镇/村社区/道路/小区/"
                                             "楼栋) / the address has no part to match on",
                                  kind="no parts")
                    continue
                yield (opts.region, code, parts["township_name"], parts["community_name"],
                       parts["road"], parts["number"], parts["compound"],
                       _compound_of(parts["compound"], codes, by_name), parts["building"],
                       parts["unit"], parts["room"], full[:300], level, ewkb(pt),
                       report.file[:100], row)

    copy_rows(conn, stg, cols + ["_rn"], rows())
    merge(conn, "std_address", stg, ["code"], cols, opts.region, report)
