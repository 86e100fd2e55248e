"""Import of incidents (region + code), streamed: millions of rows in bounded memory."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, text

from geo.db.tables import vocab
from geo.errors import InvalidInput
from geo.incidents.codes import is_intake_code, reserved_code_reason, unsafe_code_reason
from geo.incidents.intake import check_reported_at
from geo.incidents.routing import route_incidents
from geo.io.geometry import as_point
from geo.io.importer.fields import Cols, code_of, example_row, field_value
from geo.io.importer.options import Progress
from geo.io.importer.report import ImportReport
from geo.io.importer.rows import ImportContext, iter_chunks
from geo.io.importer.staging import copy_rows, ewkb, ewkb_many, merge, stage
from geo.io.parse import parse_time


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


def _refuse_live_cases(conn: Connection, stg: str, report: ImportReport) -> None:
    """Refuse (and unstage) rows naming a live case: one the intake made or the case flow
    worked on (it has case events). A history import writes no event, so it would move,
    re-date or re-word such a case with no trace in its history (review round 3, R8).
    Then the other rows with a code of the intake's own form (``_reserved``), which only
    Wangge's intake gives (review round 3, R9)."""
    for rn, code, inc_id in conn.execute(text(
            f"SELECT s._rn, s.code, i.id FROM {stg} s JOIN incident i ON i.region_code = "
            "s.region_code AND i.code = s.code WHERE EXISTS (SELECT 1 FROM incident_event e "
            "WHERE e.incident_id = i.id) ORDER BY s._rn")):
        report.refuse(
            int(rn), code,
            f"事件 {code} 是办理中的案件 (由上报受理产生或已有办理记录), 历史导入不改写它; "
            f"改派用 reassign, 其他变更走办理流程 / case {code} is a live case (made by the "
            "intake or worked on in the case flow: it has case events); a history import "
            f"does not rewrite it: move it with POST /incidents/{inc_id}/reassign, change it "
            "through the case flow", kind="live case")
    conn.execute(text(f"DELETE FROM {stg} s USING incident i WHERE i.region_code = "
                      "s.region_code AND i.code = s.code AND EXISTS (SELECT 1 FROM "
                      "incident_event e WHERE e.incident_id = i.id)"))
    for rn, code in conn.execute(text(f"SELECT _rn, code FROM {stg} WHERE _reserved "
                                      "ORDER BY _rn")):
        report.refuse(int(rn), code, reserved_code_reason(code), kind="reserved code")
    conn.execute(text(f"DELETE FROM {stg} WHERE _reserved"))


def import_incidents(conn: Connection, ctx: ImportContext, progress: Progress | None) -> None:
    """Import incidents streamed through staging; new ones routed to a cell with ``opts.route``."""
    opts, report, f = ctx.opts, ctx.report, ctx.fields
    if opts.channel not in vocab.CHANNEL.codes:
        raise InvalidInput(f"渠道应为 {vocab.CHANNEL.codes} 之一 / channel must be one of "
                           f"{vocab.CHANNEL.codes}",
                           field="channel")
    if opts.status not in vocab.INCIDENT_STATUS.codes:
        raise InvalidInput(f"状态应为 {vocab.INCIDENT_STATUS.codes} 之一 / status must be one of "
                           f"{vocab.INCIDENT_STATUS.codes}", field="status")
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
    stg = stage(conn, "incident", cols)
    # a code of the intake's own form: refused after staging (a live case says so first)
    conn.execute(text(f"ALTER TABLE {stg} ADD COLUMN _reserved boolean"))

    def rows() -> Iterator[tuple[Any, ...]]:
        for chunk, geoms, reasons in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            wkbs = ewkb_many(geoms)
            times = _fast_times(chunk.attrs[f["time"]], opts.time_format, ctx.tz)
            for i in range(len(a)):
                row = chunk.start + i + 1
                raw_code = code_of(field_value(a, f["code"], i))
                try:
                    when = times[i] or parse_time(field_value(a, f["time"], i), opts.time_format,
                                                  ctx.tz)
                except ValueError as exc:
                    report.refuse(row, raw_code, str(exc), example_row(a, i, chunk.geoms[i]),
                                  kind="bad date")
                    continue
                if when is None:
                    report.refuse(row, raw_code, "没有时间 / no date-time", kind="no date")
                    continue
                try:  # the intake's rule: not before 2000, not in the future (R8)
                    check_reported_at(when)
                except InvalidInput as exc:
                    report.refuse(row, raw_code, exc.message, kind="report time out of range")
                    continue
                why_code = unsafe_code_reason(raw_code) if raw_code is not None else None
                if why_code:  # a code names a folder of the attachment store (R10)
                    report.refuse(row, raw_code, why_code, kind="bad code")
                    continue
                if reasons[i] and chunk.geom_errors[i] is None:
                    report.refuse(row, raw_code, str(reasons[i]), example_row(a, i, chunk.geoms[i]))
                    continue
                pt, why = as_point(geoms[i])
                if why:
                    report.refuse(row, raw_code, why)
                    continue
                raw_cat = field_value(a, f["category"], i)
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
                desc = field_value(a, f["description"], i)
                if desc is None and raw_cat is not None and cat != key:
                    desc = str(raw_cat)
                yield (opts.region, code, cat, opts.channel,
                       opts.status if pt is not None else "needs_location", "normal", when,
                       desc, field_value(a, f["address"], i), field_value(a, f["reporter_name"], i),
                       field_value(a, f["reporter_phone"], i),
                       wkbs[i] if pt is not None and pt is geoms[i] else ewkb(pt), row,
                       raw_code is not None and is_intake_code(raw_code))

    copy_rows(conn, stg, cols + ["_rn", "_reserved"], rows())
    _refuse_live_cases(conn, stg, report)
    reset = ("boundary_set_id = NULL, cell_code = NULL, community_code = NULL, "
             "township_code = NULL, worker_id = NULL, version = t.version + 1, "
             "updated_at = now()")
    merge(conn, "incident", stg, ["code"], cols, opts.region, report, extra_set=reset,
           insert_only=("status",))
    if opts.route:
        route_incidents(conn, opts.region)
        report.routed = int(conn.execute(text(
            "SELECT count(*) FROM incident i JOIN stg_incident s ON s.region_code = "
            "i.region_code AND s.code = i.code WHERE i.cell_code IS NOT NULL")).scalar_one())
