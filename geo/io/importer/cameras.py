"""Import of cameras (GB/T 28181 id)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Connection, text

from geo.db.tables import vocab
from geo.errors import InvalidInput
from geo.io.geometry import as_point
from geo.io.importer.batch import ewkb_rows, spatial_batch
from geo.io.importer.fields import Cols, code_of, example_row, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, iter_chunks
from geo.io.importer.staging import copy_rows, deferred_constraints, merge, stage
from geo.io.parse import parse_bearing, parse_number

#: From this many staged cameras an import is a bulk load for the stored coverage
#: (:func:`geo.analysis.coverage.bulk_cameras`: the region's cells recomputed once, whatever
#: the camera table holds, since the refresh is the region's): through the triggers 10,000
#: cameras into an empty 20,000-cell region took 5.6 s, 30,000 15.2 s, 50,000 23.2 s, 100,000
#: 33 s (scripts/bench/import_layers.py, load 3-4.5); 50,000 of a region's 100,000 cameras
#: re-imported with other bearings 25.9 s.
BULK_CAMERAS = 10_000


def import_cameras(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import cameras: 20-digit GB/T 28181 ids, points, bearing, field of view and range."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "gb_id", "name", "bearing_deg", "fov_deg", "range_m", "status",
            "geom"]
    stg = stage(conn, "camera", cols)

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = code_of(field_value(a, f["code"], i))
                if code is None or not re.fullmatch(r"\d{20}", code):
                    report.refuse(row, code, "设备编码应为 20 位数字 (GB/T 28181) / the camera id "
                                             "must be 20 digits (GB/T 28181)", kind="bad gb_id")
                    continue
                if reasons[i] or geoms[i] is None:
                    report.refuse(row, code, str(reasons[i] or "没有坐标 / no coordinates"),
                                  example_row(a, i, chunk.geoms[i]))
                    continue
                pt, why = as_point(geoms[i])
                if pt is None:
                    report.refuse(row, code, str(why))
                    continue
                try:
                    bearing = parse_bearing(field_value(a, f["bearing"], i))
                    fov = parse_number(field_value(a, f["fov"], i)) or 90.0
                    rng = parse_number(field_value(a, f["range"], i)) or 50.0
                except ValueError as exc:
                    report.refuse(row, code, str(exc))
                    continue
                status = str(field_value(a, f["status"], i) or "online").strip().lower()
                status = {"在线": "online", "离线": "offline", "故障": "fault"}.get(status, status)
                if status not in vocab.CAMERA_STATUS.codes or not (0 < fov <= 360) or not (
                        0 < rng <= 5000):
                    report.refuse(row, code, f"状态/视场角/距离无效 / invalid status {status!r}, "
                                             f"fov {fov} or range {rng} "
                                             "(fov 0-360, range 0-5000 m)")
                    continue
                yield (opts.region, code, field_value(a, f["name"], i), bearing, fov, rng, status,
                       pt, row)

    staged = copy_rows(conn, stg, cols + ["_rn"], ewkb_rows(rows(), cols.index("geom")))
    foreign = conn.execute(text(
        "SELECT s.gb_id, c.region_code FROM stg_camera s JOIN camera c ON c.gb_id = s.gb_id "
        "WHERE c.region_code <> s.region_code LIMIT 5")).all()
    if foreign:
        raise InvalidInput(
            f"摄像头编码已属于其他区域 / camera ids already belong to another region: "
            f"{[tuple(r) for r in foreign]}")
    # a bulk load (a county's or a province's whole inventory, from BULK_CAMERAS rows): the
    # stored coverage recomputed once for the region's cells when any camera was written,
    # after the indexes and foreign keys are made again once (staging.is_bulk); otherwise by
    # the coverage's statement triggers on the new and changed rows
    bulk = staged >= BULK_CAMERAS
    if bulk:
        # imported here, not at the top: the analyses load geopandas (see cells.py)
        from geo.analysis.coverage import bulk_cameras

        report.notes.append(
            "批量导入: 摄像头有变化时, 覆盖在导入结束时按区域一次重算, "
            "导入期间摄像头表的读取需等待 / bulk load: the stored camera coverage of the "
            "region's cells was recomputed once at the end when any camera changed; reads "
            "of the camera table waited for the import")
    with spatial_batch(conn), (bulk_cameras(conn, opts.region, lambda: report.new
                                            + report.updated) if bulk else nullcontext()):
        # indexes and foreign keys once only when the merge inserts alone (no staged camera
        # exists): an index made again after an UPDATE of the same transaction is unusable
        # until its end (pg_index.indcheckxmin), and the coverage's refresh then scanned the
        # whole camera table per cell (100,000 re-imported cameras: 350 s instead of 4 s)
        first = not conn.execute(text(
            f"SELECT EXISTS (SELECT 1 FROM {stg} s JOIN camera c ON c.gb_id = s.gb_id)")).scalar()
        with (deferred_constraints(conn, "camera", staged, report) if first
              else nullcontext()):
            merge(conn, "camera", stg, ["gb_id"], cols, None, report)
