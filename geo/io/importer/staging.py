"""Staging with COPY and the set-based merge (upsert counting new/updated/unchanged)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from geo.errors import InvalidInput
from geo.io.importer.report import ImportReport


def copy_rows(conn: Connection, table: str, cols: list[str], rows: Iterator[tuple[Any, ...]]
               ) -> int:
    """COPY rows into ``table`` (a staging table); the number of rows.

    Every value is checked against its column first (:func:`value_checks`): a value too long
    or out of range is an InvalidInput naming the row and the field, never a database error
    half-way through the COPY.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    checks = value_checks(table, cols)
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


def copy_frames(conn: Connection, table: str, frames: Iterator[pd.DataFrame]) -> int:
    """COPY data frames (columns named as in ``table``, ``_rn`` the file's row) into ``table``
    as CSV: the bulk path of large imports.

    The values are held to the same limits as :func:`copy_rows` (:func:`value_checks`),
    checked per column at once; the first value over a limit is an InvalidInput naming the
    row and the field. Values are text, numbers, aware datetimes or None (NULL). Each frame's
    columns go to the ``csv`` module's writer as lists (half the time of
    ``DataFrame.to_csv`` on object columns; the same text: None and '' are empty fields).
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    first = next(frames, None)
    if first is None:
        return 0
    cols = ", ".join(str(c) for c in first.columns)
    n = 0
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    with raw.cursor().copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
        for df in itertools.chain([first], frames):
            _check_frame(table, df)
            buf.seek(0)
            buf.truncate()
            writer.writerows(zip(*(df[c].tolist() for c in df.columns), strict=True))
            cp.write(buf.getvalue())
            n += len(df)
    return n


def _check_frame(table: str, df: pd.DataFrame) -> None:
    """:func:`value_checks`' limits, a column at a time (lengths and ranges vectorised)."""
    cols = [str(c) for c in df.columns]
    meta_limits = column_limits(table, cols)
    for i, (kind, bound) in meta_limits.items():
        col = df.iloc[:, i]
        if kind == "length":
            over = col.astype("string").str.len() > bound
        else:
            num = pd.to_numeric(col, errors="coerce")
            over = (num < -bound) | (num >= bound)
        flags = over.fillna(False).to_numpy(dtype=bool)
        if not flags.any():
            continue
        k = int(np.flatnonzero(flags)[0])
        reason = (_length_check(bound) if kind == "length" else _int_check(bound))(col.iloc[k])
        assert reason is not None
        where = f"第 {df['_rn'].iloc[k] + 1} 行" if "_rn" in df else f"第 {k + 1} 条"
        where_en = f"row {df['_rn'].iloc[k] + 1}" if "_rn" in df else f"record {k + 1}"
        raise InvalidInput(
            f"{where}字段 {cols[i]} 的值 {str(col.iloc[k])[:60]!r} {reason[0]} / {where_en}: "
            f"the value of {cols[i]} {reason[1]}; fix the file or map another column to this "
            "field", field=cols[i])


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


@contextmanager
def deferred_constraints(conn: Connection, table: str, staged: int, report: ImportReport,
                         also: Sequence[str] = ()) -> Iterator[None]:
    """Index and foreign-key work once per import instead of once per row, for bulk loads.

    When ``staged`` rows are at least :data:`BULK_ROWS` and at least as many as ``table``
    holds (an initial load, a county's years of history), the secondary indexes (not the
    primary key or unique keys, which the merge and the rollup's upsert use) and the foreign
    keys of ``table`` and of the tables ``also`` (written by ``table``'s triggers in the same
    statements: the incident rollup, one row per cell, day and category at most) are dropped
    inside the import's transaction and made again at the end: one sorted index build and
    one set-based check of each foreign key instead of a tree insert and a lookup per row.
    The statements of the load run without JIT (compiling them cost more than it saved) and
    with :data:`BULK_WORK_MEM` for their sorts and hashes. Readers of these tables wait for
    the import's commit meanwhile (the report says so); a refused import rolls everything
    back, the dropped definitions included. Smaller imports change nothing.
    """
    estimate = conn.execute(text("SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                                 "WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar()
    if staged < BULK_ROWS or staged < int(estimate or 0):
        yield
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
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    for t, name, _ in fkeys:
        conn.execute(text(f'ALTER TABLE {t} DROP CONSTRAINT "{name}"'))
    yield
    for _, definition in indexes:
        conn.execute(text(definition))
    for t, name, definition in fkeys:
        conn.execute(text(f'ALTER TABLE {t} ADD CONSTRAINT "{name}" {definition}'))
    for setting in ("enable_nestloop", "jit", "work_mem"):
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


def ewkb(g: Any) -> str | None:
    """Hex EWKB (SRID 4490) of one geometry, None kept."""
    if g is None:
        return None
    return str(shapely.to_wkb(shapely.set_srid(g, 4490), hex=True, include_srid=True))
