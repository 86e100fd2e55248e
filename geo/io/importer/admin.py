"""Import of administrative units (region + code)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection

from geo.io.importer.fields import code_of, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, polygon_rows
from geo.io.importer.staging import copy_rows, ewkb, merge, stage
from geo.io.parse import parse_int

_LEVEL_BY_LEN = {6: "county", 9: "township", 12: "village"}


def import_admin(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import administrative units: level from the column, ``--level`` or the code length."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "level", "parent_code", "households", "population",
            "geom", "source"]
    stg = stage(conn, "admin_unit", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for a, i, row, code, g in polygon_rows(ctx, progress):
            level = str(field_value(a, f["level"], i) or opts.level or _LEVEL_BY_LEN.get(
                len(code), "")).strip().lower()
            level = {"县": "county", "区县": "county", "乡镇": "township", "镇": "township",
                     "乡": "township", "街道": "township", "村": "village",
                     "行政村": "village", "社区": "community"}.get(level, level)
            if level not in ("county", "township", "village", "community"):
                report.refuse(row, code, "无法确定级别，请用 --level 指定 / unknown level: "
                                         "give --level county|township|village|community")
                continue
            parent = code_of(field_value(a, f["parent"], i))
            if parent is None and level != "county":
                parent = {"township": code[:6], "village": code[:9],
                          "community": code[:9]}.get(level)
            try:
                hh = parse_int(field_value(a, f["households"], i))
                pop = parse_int(field_value(a, f["population"], i))
            except ValueError as exc:
                report.refuse(row, code, str(exc))
                continue
            yield (opts.region, code, str(field_value(a, f["name"], i) or code), level, parent,
                   hh, pop, ewkb(g), f"import {report.file}", row)

    copy_rows(conn, stg, cols + ["_rn"], rows())
    merge(conn, "admin_unit", stg, ["code"], cols, opts.region, report)
