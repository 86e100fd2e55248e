"""Import of residential compounds (region + code)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection

from geo.db.tables import vocab
from geo.io.importer.batch import ewkb_rows
from geo.io.importer.fields import code_of, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, polygon_rows
from geo.io.importer.staging import copy_rows, merge, stage
from geo.io.parse import parse_int

_MGMT = {"物业公司": "company", "物业服务企业": "company", "专业物业": "company",
         "社区托管": "community", "社会组织代管": "social_org", "业主自管": "owners",
         "业委会自管": "owners", "自管": "owners", "无": "none", "无物业": "none"}


def import_compounds(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import residential compounds (polygons, management mode, households)."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "address", "community_code", "households",
            "buildings", "built_year", "mgmt_mode", "company_name", "geom"]
    stg = stage(conn, "compound", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for a, i, row, code, g in polygon_rows(ctx, progress):
            mode = str(field_value(a, f["mgmt_mode"], i) or "none").strip()
            mode = _MGMT.get(mode, mode.lower())
            if mode not in vocab.MGMT_MODE.codes:
                report.refuse(row, code, f"物业管理方式无效 {mode!r} / mgmt_mode must be one "
                                         f"of {vocab.MGMT_MODE.codes}")
                continue
            try:
                nums = [parse_int(field_value(a, f[k], i))
                        for k in ("households", "buildings", "built_year")]
            except ValueError as exc:
                report.refuse(row, code, str(exc))
                continue
            yield (opts.region, code, str(field_value(a, f["name"], i) or code),
                   field_value(a, f["address"], i), code_of(field_value(a, f["parent"], i)),
                   *nums, mode,
                   field_value(a, f["company"], i), g, row)

    copy_rows(conn, stg, cols + ["_rn"], ewkb_rows(rows(), cols.index("geom")))
    merge(conn, "compound", stg, ["code"], cols, opts.region, report)
