"""Import of incidents (region + code), streamed: millions of rows in bounded memory."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from psycopg.errors import UniqueViolation
from shapely.geometry import Point
from sqlalchemy import Connection, text

from geo.addresses.match import index_for
from geo.db.tables import vocab
from geo.errors import InvalidInput
from geo.incidents.codes import is_intake_code, reserved_code_reason, unsafe_code_reason
from geo.incidents.intake import check_reported_at, reported_at_bounds, too_long
from geo.incidents.reference import ensure_unclassified
from geo.incidents.rollup import TABLE as ROLLUP_TABLE
from geo.incidents.rollup import DayGroups, bulk_load, region_is_empty
from geo.incidents.routing import Router
from geo.io.geometry import as_point
from geo.io.importer import staging
from geo.io.importer.fields import Cols, code_of, column_values, example_row, text_values
from geo.io.importer.options import Progress
from geo.io.importer.report import ImportReport
from geo.io.importer.rows import ImportContext, iter_chunks
from geo.io.importer.staging import (
    copy_frames,
    deferred_constraints,
    ewkb,
    ewkb_points,
    merge,
    stage,
)
from geo.io.parse import parse_time
from geo.io.text import any_refused, text_refusal
from geo.localtime import CST, local_date
from geo.lookup.batch import no_gc

FIRST_LOAD_NOTE = (
    "区域首次批量导入: 汇总表 (按日、按月、按网格) 在导入结束时一次写入 / first bulk load of the "
    "region: its rollups (daily, monthly, per cell) were added once, at the end")
ROUTED = ("boundary_set_id", "cell_code", "community_code", "township_code", "worker_id")


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


def _fast_times(col: pd.Series, fmt: str | None, tz: ZoneInfo
                ) -> tuple[pd.Series, npt.NDArray[np.bool_]]:
    """Vectorised parse of a chunk's times: the aware times and where they are usable (the
    other rows need :func:`parse_time`)."""
    try:
        ts = pd.to_datetime(col, format=fmt or "ISO8601", errors="coerce")
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        year = ts.dt.year
        good = (ts.notna() & (year >= 1900) & (year <= 2100)).to_numpy(dtype=bool)
    except (ValueError, TypeError, AttributeError):
        return pd.Series(pd.NaT, index=col.index), np.zeros(len(col), dtype=bool)
    return ts, good


def _iso_texts(ts: pd.Series) -> list[str]:
    """Aware times as ISO 8601 text in UTC (what COPY reads into ``timestamptz``), at once."""
    utc = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return [f"{t}+00:00" for t in np.datetime_as_string(utc, unit="us").tolist()]


def _cst_days(ts: pd.Series) -> list[dt.date]:
    """:func:`geo.localtime.local_date` of aware times (their date in China Standard Time),
    at once."""
    local = ts.dt.tz_convert(CST).dt.tz_localize(None).to_numpy(dtype="datetime64[D]")
    return list(local.tolist())


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


def _each_without_gc(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each made with the cyclic garbage collector paused (:func:`no_gc`): a chunk
    makes 50,000 points, lists and dicts, and a collection pass every few hundred of them
    scanned every live object (shapely's points took 3-4 times as long). The collector runs
    again between chunks, so what a chunk leaves in reference cycles (pandas) is still freed
    and the memory stays that of the chunks in flight."""
    while True:
        with no_gc():
            item = next(items, _END)
        if item is _END:
            return
        yield item


_END = object()


class _Staged(Exception):
    """A first load meets a row it cannot COPY straight into ``incident`` (a code repeated in
    the file, a code of the intake's own form): the import goes through staging instead."""


def _first_load(conn: Connection, ctx: ImportContext, frames: Iterator[dict[str, list[Any]]],
                labels_note: Callable[[], None]) -> None:
    """A region's first load (no incidents, no rollups: :func:`region_is_empty`): its rows
    COPY straight into ``incident``, without staging, ``INSERT ... SELECT`` and the merge's
    checks against existing rows (there are none: no live case, nothing to update). Rows the
    staged path would treat otherwise raise :class:`_Staged`: a code of the intake's own form
    (refused there after every other refusal) and a code repeated in the file (the unique
    key refuses the second; staging keeps the last). Whether this is a bulk load
    (:func:`deferred_constraints`, :func:`bulk_load`) is judged on the first
    :data:`~geo.io.importer.staging.BULK_ROWS` rows, read before the COPY opens (two chunks
    held at most). A repeated code found by the key rolls the COPY back to its savepoint: the
    staged path then reads the file again (the ids the COPY drew from the sequence are a gap,
    as after any rolled-back insert)."""
    report = ctx.report
    routed = 0
    groups = DayGroups()  # the daily rollup's rows, counted as the chunks go by

    def rows() -> Iterator[dict[str, list[Any]]]:
        nonlocal routed
        for out in frames:
            if any(out.pop("_reserved")):
                raise _Staged
            groups.add(out, out.pop("_day"))
            routed += len(out["cell_code"]) - out["cell_code"].count(None)
            yield out

    it = rows()
    head: list[dict[str, list[Any]]] = []
    n = 0
    for frame in it:
        head.append(frame)
        n += len(frame["_rn"])
        if n >= staging.BULK_ROWS:
            break
    try:
        with deferred_constraints(conn, "incident", n, report, also=(ROLLUP_TABLE,)) as bulk:
            if not bulk:
                groups.stop()
            with bulk_load(conn, ctx.opts.region, groups, lambda table, columns: copy_frames(
                    conn, table, columns)) if bulk else nullcontext(False) as first:
                report.new += copy_frames(conn, "incident", itertools.chain(head, it),
                                          not_copied=("_rn",))
                labels_note()
            if first:
                report.notes.append(FIRST_LOAD_NOTE)
    except UniqueViolation as exc:
        if exc.diag.constraint_name != "uq_incident_code":
            raise
        raise _Staged from exc
    if ctx.opts.route:
        report.routed = routed


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
            "geom", "department_code", *ROUTED]
    departments = {str(c): d for c, d in conn.execute(
        text("SELECT code, department_code FROM incident_category"))}
    # a label matching no category: filed as 待分类 for the command centre, like the hotline
    # path (geo.io.importer.cases), never refused; the category exists before the COPY opens
    unclassified = None if opts.default_category else ensure_unclassified(conn, opts.region)
    labels: dict[str, int] = {}
    router = Router.load(conn, opts.region) if opts.route else None  # before the COPY opens
    # rows with an address and no coordinates: the offline address matcher, its index built
    # once for the whole file (also before the COPY opens)
    addresses = index_for(conn, opts.region) if f["address"] else None
    # what is the same on every row (the checked region, channel, urgency) and the columns no
    # field of the file feeds are the staging table's defaults, not text in the COPY
    same = {"region_code": opts.region, "channel": opts.channel, "urgency": "normal"}
    unfed = {"location_text": "address", "reporter_name": "reporter_name",
             "reporter_phone": "reporter_phone"}
    left_out = [*same, *(c for c, role in unfed.items() if f[role] is None)]

    def category_of(raw: Any) -> tuple[str | None, str]:
        """The category code a label maps to (--category-map, a category's code or name, the
        default category; None: none) and the label's key."""
        key = str(raw).strip().lower() if raw is not None else ""
        return cmap.get(key) or cats.get(key) or opts.default_category, key

    def frames() -> Iterator[dict[str, list[Any]]]:
        """Each chunk's kept rows as columns of the staging table, routed in process.

        The rows every check surely passes (a usable time in range, a safe code, a 2-D
        point, a known category) are handled a column at a time; the others one by one as
        they always were, with their refusals and repairs."""
        for chunk, geoms, reasons in iter_chunks(ctx, progress):
            a = Cols(chunk.attrs)
            n = len(a)
            ts, good = _fast_times(chunk.attrs[f["time"]], opts.time_format, ctx.tz)
            codes_in, cats_in = column_values(a, f["code"]), column_values(a, f["category"])
            descs_in, places = text_values(a, f["description"]), text_values(a, f["address"])
            names = text_values(a, f["reporter_name"])
            phones = column_values(a, f["reporter_phone"])
            times_in = column_values(a, f["time"])
            earliest, latest = reported_at_bounds()
            raw_codes = [code_of(v) for v in codes_in]
            resolved = {raw: category_of(raw) for raw in set(cats_in)}
            # which rows take the column-at-a-time path (none when the column did not parse
            # as one: mixed offsets, say)
            fast = good.copy()
            if fast.any():
                fast &= (ts >= earliest).to_numpy(dtype=bool) & (
                    ts <= latest).to_numpy(dtype=bool)
            fast &= (shapely.get_type_id(geoms) == 0) & ~shapely.has_z(geoms) & ~shapely.is_empty(
                geoms)
            fast &= np.fromiter((r is None for r in reasons), dtype=bool, count=n)
            fast &= np.fromiter((c is not None and unsafe_code_reason(c) is None
                                 for c in raw_codes), dtype=bool, count=n)
            fast &= np.fromiter((resolved[c][0] is not None for c in cats_in), dtype=bool,
                                count=n)
            # texts longer than the intake takes (a 5,000,000-character description) or holding
            # a control character it refuses (a NUL byte: geo.io.text): those rows are
            # refused one by one below (review round 12, L2; review 14)
            texts = (("description", descs_in), ("place", places), ("reporter_name", names),
                     ("reporter_phone", phones))
            for name, col in texts:
                longest = max(map(str, (v for v in col if v is not None)), key=len, default=None)
                if too_long(name, longest):  # one look at the column's longest text
                    fast &= np.fromiter((too_long(name, v) is None for v in col), dtype=bool,
                                        count=n)
                if any_refused(col):  # one search of the column for control characters
                    fast &= np.fromiter((text_refusal(v, name) is None for v in col),
                                        dtype=bool, count=n)
            quick = np.flatnonzero(fast)
            qi = quick.tolist()
            codes = [str(raw_codes[i]) for i in qi]
            cat_codes = [str(resolved[cats_in[i]][0]) for i in qi]
            descs = [descs_in[i] for i in qi]
            for j, i in enumerate(qi):
                raw_cat = cats_in[i]
                if descs[j] is None and raw_cat is not None and cat_codes[j] != resolved[
                        raw_cat][1]:
                    descs[j] = str(raw_cat)  # the file's label, mapped to a code, is kept
            quick_ts = ts.iloc[quick]
            whens: list[str] = _iso_texts(quick_ts) if len(quick) else []
            days: list[dt.date | None] = list(_cst_days(quick_ts)) if len(quick) else []
            pts = geoms[quick]
            lon_q, lat_q = shapely.get_x(pts), shapely.get_y(pts)
            keep = list(qi)
            wkbs: list[str | None] = list(ewkb_points(lon_q, lat_q))
            lons, lats = [lon_q], [lat_q]
            slow_lon: list[float] = []
            slow_lat: list[float] = []
            for i in np.flatnonzero(~fast).tolist():
                row = chunk.start + i + 1
                raw_code = raw_codes[i]
                when = ts.iloc[i].to_pydatetime() if good[i] else None
                if when is None:
                    try:
                        when = parse_time(times_in[i], opts.time_format, ctx.tz)
                    except ValueError as exc:
                        report.refuse(row, raw_code, str(exc), example_row(a, i, chunk.geoms[i]),
                                      kind="bad date")
                        continue
                if when is None:
                    report.refuse(row, raw_code, "没有时间 / no date-time", kind="no date")
                    continue
                if not earliest <= when <= latest:  # else surely fine (reported_at_bounds)
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
                why = next((w for name, col in texts for w in [too_long(name, col[i])] if w),
                           None)
                if why:
                    report.refuse(row, raw_code, why, kind="too long")
                    continue
                why = next((w for name, col in texts for w in [text_refusal(col[i], name)]
                            if w), None)
                if why:
                    report.refuse(row, raw_code, why, kind="control character")
                    continue
                if pt is None and addresses is not None and places[i]:
                    m = addresses.match(str(places[i]))
                    level = m.level if m.placed else ("review" if m.level != "none" else "none")
                    report.address_levels[level] = report.address_levels.get(level, 0) + 1
                    if m.placed and m.lon is not None and m.lat is not None:
                        pt = Point(m.lon, m.lat)
                raw_cat = cats_in[i]
                cat, key = resolved[raw_cat]
                if cat is None and key and unclassified is not None:
                    cat = unclassified
                    labels[str(raw_cat).strip()] = labels.get(str(raw_cat).strip(), 0) + 1
                if cat is None and not key:
                    report.refuse(row, raw_code, "没有事件类别 / no category", kind="no category")
                    continue
                if cat is None:
                    report.refuse(row, raw_code, f"未知事件类别 {raw_cat!r}；用 --category-map 或 "
                                                 f"--default-category / unknown category "
                                                 f"{raw_cat!r}: give --category-map "
                                                 "'VALUE=code' or --default-category",
                                  kind="unknown category")
                    continue
                desc = descs_in[i]
                if desc is None and raw_cat is not None and cat != key:
                    desc = str(raw_cat)  # the file's label, mapped to a code, is kept
                keep.append(i)
                whens.append(when.astimezone(dt.UTC).isoformat())
                days.append(local_date(when))
                codes.append(raw_code or "IMP" + hashlib.sha1(
                    "|".join(str(v) for v in a.row(i)).encode()).hexdigest()[:20])
                cat_codes.append(cat)
                descs.append(desc)
                wkbs.append(ewkb(pt))
                slow_lon.append(pt.x if pt is not None else math.nan)
                slow_lat.append(pt.y if pt is not None else math.nan)
            if not keep:
                continue
            k = len(keep)
            lon = np.concatenate([*lons, np.asarray(slow_lon, dtype=np.float64)])
            lat = np.concatenate([*lats, np.asarray(slow_lat, dtype=np.float64)])
            has_pt = np.isfinite(lon)
            report.no_location += int(k - has_pt.sum())
            out: dict[str, list[Any]] = {
                "region_code": [opts.region] * k, "code": codes, "category_code": cat_codes,
                "channel": [opts.channel] * k,
                "status": [opts.status] * k if has_pt.all() else
                np.where(has_pt, opts.status, "needs_location").tolist(),
                "urgency": ["normal"] * k, "reported_at": whens,
                "description": descs,
                "location_text": [places[i] for i in keep],
                "reporter_name": [names[i] for i in keep],
                "reporter_phone": [phones[i] for i in keep],
                "geom": wkbs,
                "department_code": [departments.get(c) for c in cat_codes],
                "_rn": [chunk.start + i + 1 for i in keep],
                "_reserved": [is_intake_code(c) for c in codes],
                "_day": days,  # CST report dates (the router's and the daily rollup's)
            }
            if router is not None:
                routed = router.route(lon, lat, days)
                for c in ROUTED:
                    out[c] = getattr(routed, c).tolist()
            else:
                for c in ROUTED:
                    out[c] = [None] * k
            yield out

    def labels_note() -> None:
        if labels:
            report.notes.append(
                f"{sum(labels.values())} 行的类别未对应任何事件类别, 记为「待分类」由指挥中心分类 "
                f"(可用 --category-map 对应): {dict(sorted(labels.items())[:20])} / rows whose "
                "category matches none were filed as unclassified for the command centre (map "
                "them with --category-map or a profile)")

    if region_is_empty(conn, opts.region):
        before = copy.deepcopy(report)
        try:
            with conn.begin_nested():
                _first_load(conn, ctx, _each_without_gc(frames()), labels_note)
            return
        except _Staged:  # the staged path, from the start of the file
            report.__dict__.update(before.__dict__)
            labels.clear()
    stg = stage(conn, "incident", cols)
    # a code of the intake's own form: refused after staging (a live case says so first)
    conn.execute(text(f"ALTER TABLE {stg} ADD COLUMN _reserved boolean"))
    for c, v in same.items():
        conn.execute(text(f"ALTER TABLE {stg} ALTER COLUMN {c} SET DEFAULT "
                          f"'{v.replace(chr(39), chr(39) * 2)}'"))

    def staged_frames() -> Iterator[dict[str, list[Any]]]:
        for out in _each_without_gc(frames()):
            for c in [*left_out, "_day"]:
                del out[c]
            yield out

    staged = copy_frames(conn, stg, staged_frames())
    labels_note()
    # the planner knows the staged rows before joining them (without it, the live-case join
    # of a large file ran as a nested loop: 1.6 s of a 200,000-row import)
    conn.execute(text(f"ANALYZE {stg}"))
    _refuse_live_cases(conn, stg, report)
    # routed before staging: each row is written once, with its cell, worker and department
    # (an update keeps the department a dispatcher may have set; the status is the case flow's)
    with deferred_constraints(conn, "incident", staged, report, also=(ROLLUP_TABLE,)) as bulk:
        with bulk_load(conn, opts.region) if bulk else nullcontext(False) as first:
            merge(conn, "incident", stg, ["code"], cols, opts.region, report,
                  extra_set="version = t.version + 1, updated_at = now()",
                  insert_only=("status", "department_code"))
        if first:
            report.notes.append(FIRST_LOAD_NOTE)
    if opts.route:
        report.routed = int(conn.execute(text(
            f"SELECT count(cell_code) FROM {stg}")).scalar_one())
