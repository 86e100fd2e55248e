"""Staging with COPY and the set-based merge (upsert counting new/updated/unchanged)."""

from __future__ import annotations

import csv
import io
import itertools
import queue
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, text

from geo.errors import InvalidInput
from geo.io.importer.report import ImportReport
from geo.io.text import NOT_TEXT


def copy_rows(conn: Connection, table: str, cols: list[str], rows: Iterator[tuple[Any, ...]]
               ) -> int:
    """COPY rows into ``table`` (a staging table); the number of rows.

    Every value is checked against its column first (:func:`value_checks`): a value too long
    or out of range is an InvalidInput naming the row and the field, never a database error
    half-way through the COPY.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    checks = [*value_checks(table, cols), *((i, _storable) for i in range(len(cols)))]
    rn_at = cols.index("_rn") if "_rn" in cols else None
    n = 0
    with raw.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            for i, check in checks:
                reason = check(r[i])
                if reason:
                    where = f"第 {r[rn_at] + 1} 行" if rn_at is not None else f"第 {n + 1} 条"
                    where_en = (f"row {r[rn_at] + 1}" if rn_at is not None
                                else f"record {n + 1}")
                    raise InvalidInput(
                        f"{where}字段 {cols[i]} 的值 {str(r[i])[:60]!r} {reason[0]} / {where_en}: "
                        f"the value of {cols[i]} {reason[1]}; fix the file or map another "
                        "column to this field", field=cols[i])
            cp.write_row(r)
            n += 1
    return n


def copy_frames(conn: Connection, table: str, frames: Iterator[dict[str, list[Any]]],
                not_copied: Sequence[str] = ()) -> int:
    """COPY frames (each a mapping of column name -> the chunk's values, columns named as in
    ``table``, ``_rn`` the file's row) into ``table`` as CSV: the bulk path of large imports.
    The columns ``not_copied`` (``_rn`` of a table that has none) name rows in the checks'
    messages only.

    The values are held to the same limits as :func:`copy_rows` (:func:`value_checks`),
    checked per column at once; the first value over a limit is an InvalidInput naming the
    row and the field. Values are text (times as ISO 8601 text with their offset), numbers or
    None (NULL). Each frame's columns go to the ``csv`` module's writer as lists (None and ''
    are empty fields).
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    first = next(frames, None)
    if first is None:
        return 0
    names = list(first)
    copied = [c for c in names if c not in not_copied]
    n = 0
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    limits = column_limits(table, names)
    cur = raw.cursor()
    with cur.copy(f"COPY {table} ({', '.join(copied)}) FROM STDIN WITH (FORMAT csv)",
                  writer=_QueuedWriter(cur)) as cp:
        for frame in itertools.chain([first], frames):
            _check_columns(names, [frame[c] for c in names], limits)
            columns = [frame[c] for c in copied]
            fields = [_csv_fields(col) for col in columns]
            if all(f is not None for f in fields):
                cp.write("\n".join(map(",".join, zip(*fields, strict=True))) + "\n")
            else:  # a value of another type: the csv module writes it
                buf.seek(0)
                buf.truncate()
                writer.writerows(zip(*columns, strict=True))
                cp.write(buf.getvalue())
            n += len(columns[0])
    return n


class _QueuedWriter(QueuedLibpqWriter):
    """psycopg's writer that sends COPY data from a thread (the next chunk's rows are made
    while the server reads this one's) with at most :data:`COPY_QUEUE` pieces of 128 KiB
    waiting (psycopg's default, 1,024 pieces, would let 128 MiB wait in memory)."""

    def __init__(self, cursor: Any) -> None:
        super().__init__(cursor)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=COPY_QUEUE)  # type: ignore[assignment]


COPY_QUEUE = 64

_CSV_SPECIAL = (",", '"', "\n", "\r")


def _csv_quote(v: str) -> str:
    """One text field as the ``csv`` module writes it (quoted when it holds a delimiter, a
    quote or a line break; quotes doubled)."""
    if any(ch in v for ch in _CSV_SPECIAL):
        return '"' + v.replace('"', '""') + '"'
    return v


def _csv_fields(col: list[Any]) -> list[str] | None:
    """A column's CSV fields, the text the ``csv`` module writes for each value (None and ''
    empty), worked out once per distinct value or once per column; None when a value is
    neither text, an integer, a boolean nor None (the caller lets the ``csv`` module write
    the chunk)."""
    distinct = set(col)
    if len(distinct) * 4 <= len(col):  # few distinct values: each written once
        texts: dict[Any, str] = {}
        for v in distinct:
            if v is None:
                texts[v] = ""
            elif isinstance(v, str):
                texts[v] = _csv_quote(v)
            elif isinstance(v, bool | int | np.integer):
                texts[v] = str(v)
            else:
                return None
        return [texts[v] for v in col]
    kinds = {type(v) for v in distinct}
    if kinds <= {str, type(None)}:
        present = [v for v in col if v is not None] if None in distinct else col
        if any(ch in "\x00".join(present) for ch in _CSV_SPECIAL):
            return [_csv_quote(v) if v is not None else "" for v in col]
        return [v if v is not None else "" for v in col] if None in distinct else list(col)
    if kinds <= {int, type(None)}:
        return [str(v) if v is not None else "" for v in col]
    return None


def _check_columns(names: list[str], columns: list[list[Any]],
                   limits: dict[int, tuple[str, int]]) -> None:
    """:func:`value_checks`' limits and :func:`_storable`, a column at a time: each distinct
    value is checked once (most columns hold few; the text of a column is searched at once
    for what PostgreSQL cannot store), the first row over a limit is named."""
    rn = columns[names.index("_rn")] if "_rn" in names else None
    checks: list[tuple[int, Check]] = [
        (i, _length_check(bound) if kind == "length" else _int_check(bound))
        for i, (kind, bound) in limits.items()]
    for i, col in enumerate(columns):
        if NOT_TEXT.search(_joined_text(col)):
            checks.append((i, _storable))
    for i, check in checks:
        col = columns[i]
        distinct = set(col)
        distinct.discard(None)
        if not any(check(v) for v in distinct):
            continue
        k = next(j for j, v in enumerate(col) if v is not None and check(v))
        reason = check(col[k])
        assert reason is not None
        where = f"第 {rn[k] + 1} 行" if rn is not None else f"第 {k + 1} 条"
        where_en = f"row {rn[k] + 1}" if rn is not None else f"record {k + 1}"
        raise InvalidInput(
            f"{where}字段 {names[i]} 的值 {str(col[k])[:60]!r} {reason[0]} / {where_en}: "
            f"the value of {names[i]} {reason[1]}; fix the file or map another column to this "
            "field", field=names[i])


Check = Callable[[Any], "tuple[str, str] | None"]
_INT_RANGE = {"SMALLINT": 2**15, "INTEGER": 2**31, "BIGINT": 2**63}


def column_limits(table: str, cols: list[str]) -> dict[int, tuple[str, int]]:
    """For each column of ``table`` (``stg_<t>`` means ``t``) with a limit, by position:
    ``("length", n)`` for text of at most n characters, ``("range", b)`` for integers in
    [-b, b)."""
    from geo.db.tables import Base

    meta = Base.metadata.tables.get(table.removeprefix("stg_"))
    if meta is None:
        return {}
    out: dict[int, tuple[str, int]] = {}
    for i, name in enumerate(cols):
        column = meta.columns.get(name)
        if column is None:
            continue
        length = getattr(column.type, "length", None)
        kind = type(column.type).__name__.upper()
        if length and kind in ("STRING", "VARCHAR"):
            out[i] = ("length", int(length))
        elif kind in _INT_RANGE:
            out[i] = ("range", _INT_RANGE[kind])
    return out


def value_checks(table: str, cols: list[str]) -> list[tuple[int, Check]]:
    """For each column of ``table`` with a limit (:func:`column_limits`), its check: None for
    a value that fits, else the reason (zh, en)."""
    return [(i, _length_check(b) if kind == "length" else _int_check(b))
            for i, (kind, b) in column_limits(table, cols).items()]


def _length_check(length: int) -> Check:
    def check(v: Any) -> tuple[str, str] | None:
        if v is None or len(str(v)) <= length:
            return None
        return (f"超过 {length} 个字符", f"is longer than {length} characters")
    return check


def _joined_text(col: list[Any]) -> str:
    """The texts of a column joined (one search for :data:`NOT_TEXT` over them all), at C
    speed."""
    try:
        return "".join(col)
    except TypeError:  # None, numbers (which hold neither a NUL nor a surrogate)
        return "".join([v for v in col if isinstance(v, str)])


def _storable(v: Any) -> tuple[str, str] | None:
    """Text PostgreSQL can store (no NUL byte, no lone UTF-16 surrogate: ``NOT_TEXT``)."""
    if isinstance(v, str) and NOT_TEXT.search(v):
        return ("含有 NUL 字符 (\\x00) 或无效的 Unicode 字符, 数据库无法保存; 请从文件中删除",
                "holds a NUL byte (\\x00) or an invalid Unicode character (a lone surrogate), "
                "which the database cannot store: remove it from the file")
    return None


def _int_check(bound: int) -> Check:
    def check(v: Any) -> tuple[str, str] | None:
        if v is None or not isinstance(v, int | np.integer) or -bound <= int(v) < bound:
            return None
        return (f"超出整数范围 ±{bound}", f"is outside the integer range ±{bound}")
    return check


def stage(conn: Connection, table: str, cols: list[str]) -> str:
    """Create the temporary staging table ``stg_<table>`` (dropped at commit) with a row number."""
    stg = f"stg_{table}"
    conn.execute(text(f"DROP TABLE IF EXISTS {stg}"))
    conn.execute(text(f"CREATE TEMP TABLE {stg} ON COMMIT DROP AS SELECT {', '.join(cols)} "
                      f"FROM {table} WITH NO DATA"))
    conn.execute(text(f"ALTER TABLE {stg} ADD COLUMN _rn bigint"))
    return stg


def merge(conn: Connection, table: str, stg: str, keys: list[str], cols: list[str],
           region: str | None, report: ImportReport, extra_set: str = "",
           insert_only: tuple[str, ...] = ()) -> None:
    """Upsert staging rows into ``table`` by ``keys``; count new/updated/unchanged.

    ``insert_only`` columns are written for new rows only (an incident's status belongs to
    its case flow once it exists).
    """
    key_eq = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    conn.execute(text(f"ANALYZE {stg}"))  # the planner knows the staged rows (a sample)
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


BULK_ROWS = 100_000
#: ``work_mem`` of a bulk load's statements (the rollup trigger's sort of the inserted rows,
#: the anti-join's hash): one session's, for the length of the import's merge.
BULK_WORK_MEM = "256MB"


def is_bulk(conn: Connection, table: str, staged: int) -> bool:
    """``staged`` rows for ``table`` are a bulk load (:func:`deferred_constraints`' rule): at
    least :data:`BULK_ROWS` and at least as many as ``table`` holds (its planner estimate)."""
    estimate = conn.execute(text("SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                                 "WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar()
    return staged >= BULK_ROWS and staged >= int(estimate or 0)


@contextmanager
def deferred_constraints(conn: Connection, table: str, staged: int, report: ImportReport,
                         also: Sequence[str] = ()) -> Iterator[bool]:
    """Index and foreign-key work once per import instead of once per row, for bulk loads.

    When ``staged`` rows are a bulk load (:func:`is_bulk`: at least :data:`BULK_ROWS` and at
    least as many as ``table`` holds: an initial load, a county's years of history), the
    secondary indexes (not the primary key or unique keys, which the merge and the rollup's
    upsert use) and the foreign keys of ``table`` and of the tables ``also`` (written by
    ``table``'s triggers in the same statements: the incident rollup, one row per cell, day
    and category at most) are dropped
    inside the import's transaction and made again at the end: one sorted index build and
    one set-based check of each foreign key instead of a tree insert and a lookup per row.
    The statements of the load run without JIT (compiling them cost more than it saved) and
    with :data:`BULK_WORK_MEM` for their sorts and hashes. Readers of these tables wait for
    the import's commit meanwhile (the report says so); a refused import rolls everything
    back, the dropped definitions included. Smaller imports change nothing. Yields whether
    this is a bulk load.
    """
    if not is_bulk(conn, table, staged):
        yield False
        return
    indexes: list[tuple[str, str]] = []
    fkeys: list[tuple[str, str, str]] = []
    for t in (table, *also):
        indexes += [(str(n), str(d)) for n, d in conn.execute(text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = CAST(:t AS regclass) AND NOT i.indisprimary "
            "AND NOT i.indisunique"), {"t": t})]
        fkeys += [(t, str(n), str(d)) for n, d in conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f'"), {"t": t})]
    # the merge's anti-join must not be a nested loop over a table whose statistics say it is
    # empty (a first load, after a TRUNCATE): each staged row would scan the pages inserted
    # so far (quadratic; seen at 1,000,000 rows)
    conn.execute(text("SET LOCAL enable_nestloop = off"))
    conn.execute(text("SET LOCAL jit = off"))
    conn.execute(text(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'"))
    # each index is built by one sort in memory
    conn.execute(text(f"SET LOCAL maintenance_work_mem = '{BULK_WORK_MEM}'"))
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    for t, name, _ in fkeys:
        conn.execute(text(f'ALTER TABLE {t} DROP CONSTRAINT "{name}"'))
    yield True
    for _, definition in indexes:
        conn.execute(text(definition))
    for t, name, definition in fkeys:
        conn.execute(text(f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}'))
    for setting in ("enable_nestloop", "jit", "work_mem", "maintenance_work_mem"):
        conn.execute(text(f"RESET {setting}"))
    tables = ", ".join((table, *also))
    report.notes.append(
        f"批量导入: {tables} 的 {len(indexes)} 个索引与 {len(fkeys)} 个外键在导入结束时一次重建, "
        "导入期间这些表的读取需等待 / bulk load: the "
        f"{len(indexes)} secondary indexes and {len(fkeys)} foreign keys of {tables} were "
        "rebuilt once at the end; reads of these tables waited for the import")


def ewkb_many(geoms: np.ndarray) -> list[str | None]:
    """Hex EWKB (SRID 4490) of an object array of geometries, None kept (vectorised)."""
    arr = np.asarray(geoms, dtype=object)
    return [None if w is None else str(w) for w in
            shapely.to_wkb(shapely.set_srid(arr, 4490), hex=True, include_srid=True).tolist()]


_POINT_EWKB = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"),
                        ("y", "<f8")])


def ewkb_points(lon: np.ndarray, lat: np.ndarray) -> list[str]:
    """Hex EWKB (SRID 4490) of 2-D points from coordinate arrays, built at once: the bytes
    :func:`ewkb_many` gives for the same points, without a shapely object per point."""
    rec = np.empty(len(lon), dtype=_POINT_EWKB)
    rec["order"] = 1  # little endian
    rec["type"] = 0x20000001  # point, with SRID
    rec["srid"] = 4490
    rec["x"] = lon
    rec["y"] = lat
    width = 2 * _POINT_EWKB.itemsize
    hexed = rec.tobytes().hex().upper()
    return [hexed[i:i + width] for i in range(0, len(hexed), width)]


def ewkb(g: Any) -> str | None:
    """Hex EWKB (SRID 4490) of one geometry, None kept."""
    if g is None:
        return None
    return str(shapely.to_wkb(shapely.set_srid(g, 4490), hex=True, include_srid=True))
