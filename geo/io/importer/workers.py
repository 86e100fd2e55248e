"""Import of grid workers (region + code), with optional assignment to a cell."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, text

from geo.auth.changes import auth_changed
from geo.io.importer.fields import Cols, code_of, field_value
from geo.io.importer.options import Progress
from geo.io.importer.rows import ImportContext, iter_chunks
from geo.io.importer.staging import copy_rows, merge, stage
from geo.io.parse import parse_date


def import_workers(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import grid workers; a worker named for a cell takes it over from ``valid_from``."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    cols = ["region_code", "code", "name", "phone"]
    stg = stage(conn, "grid_worker", cols)
    conn.execute(text("ALTER TABLE stg_grid_worker ADD COLUMN cell_code text, "
                      "ADD COLUMN valid_from date"))
    today = dt.date.today()

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, _g, _r in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            for i in range(len(a)):
                row = chunk.start + i + 1
                code = code_of(field_value(a, f["code"], i))
                name = field_value(a, f["name"], i)
                if code is None or name is None:
                    report.refuse(row, code, "没有编码或姓名 / no code or name", kind="no code")
                    continue
                try:
                    vf = parse_date(field_value(a, f["valid_from"], i), opts.time_format) or today
                except ValueError as exc:
                    report.refuse(row, code, str(exc), kind="bad date")
                    continue
                phone = field_value(a, f["phone"], i)
                if isinstance(phone, float):
                    phone = str(int(phone))
                yield (opts.region, code, str(name), phone, row,
                       code_of(field_value(a, f["cell"], i)), vf)

    copy_rows(conn, stg, cols + ["_rn", "cell_code", "valid_from"], rows())
    merge(conn, "grid_worker", stg, ["code"], cols, opts.region, report)
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
                   AND (a.cell_code = f.cell_code OR a.worker_id = f.worker_id) RETURNING a.id),
        -- begun the same day and handed on (back) that day: it never took effect
        undone AS (DELETE FROM worker_assignment a USING fresh f
                   WHERE a.region_code = :r AND a.valid_to IS NULL AND a.valid_from = f.valid_from
                   AND (a.cell_code = f.cell_code OR a.worker_id = f.worker_id) RETURNING a.id)
        INSERT INTO worker_assignment (region_code, worker_id, cell_code, valid_from, note)
        SELECT :r, worker_id, cell_code, valid_from, 'import' FROM fresh RETURNING id
    """), {"r": opts.region}).rowcount
    if n:
        report.notes.append(f"{n} worker assignments to cells started")
        auth_changed(conn)  # a hand-over: workers' cells (their principals' scope) changed
