"""The per-cell per-day rollup of incidents (``incident_rollup_day``) and the one decision
whether a count is read from it or computed on the fly from ``incident``.

One rollup row per local report day (China Standard Time: :func:`geo.localtime.local_date_sql`)
and combination of :data:`DIMENSIONS` (region, boundary set, township, cell, department,
worker, category, channel, status, urgency, located) with :data:`MEASURES`:

- ``n``: reports;
- ``on_time``: reports closed no later than their final due time (:data:`ON_TIME_SQL`;
  counted whatever the status: readers take the ``closed`` rows; none without a final due
  time, migration 0019);
- ``handled``: reports handled at least once (:data:`HANDLED_SQL`);
- ``reworked``: reports returned for rework at least once (:data:`REWORKED_SQL`).

It is kept by statement-level triggers on ``incident`` (migration 0014: insert, update, delete
with transition tables, truncate) in the transaction of the change, so it is never behind a
committed case. What depends on "now" (overdue, due at ``as_of``) or on the working-time
calendar (handling hours) is not in it: readers compute those on the fly over the few rows
that need them (open cases, closed cases' times).

:func:`source_for` is the one place that decides; :func:`counts` reads grouped counts from
either source with the same SQL shape and the caller's scope
(:func:`geo.auth.principal.incident_scope_sql`, which names only columns the rollup has).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.auth.principal import Principal, incident_scope_sql
from geo.incidents.flow import OPEN, open_status_sql
from geo.localtime import day_start, local_date, local_date_sql

TABLE = "incident_rollup_day"
#: Per county, status and CST report month (``month``: the month's first day): what a KPI over
#: whole months reads instead of 30 daily rows per cell (issue 20 target 3, migration 0017).
MONTH_TABLE = "incident_rollup_month"
MONTH_DIMENSIONS = ("region_code", "status")
#: Per cell, whatever the day: reports and open ones (``open``: :func:`geo.incidents.flow.
#: open_status_sql`), for the overview tiles at low zoom (migration 0017).
CELL_TABLE = "incident_rollup_cell"
CELL_DIMENSIONS = ("region_code", "boundary_set_id", "township_code", "cell_code")
CELL_MEASURES = ("n", "open")
#: The grouping columns of the rollup: each is a column of ``incident`` of the same name, but
#: ``located`` (``geom IS NOT NULL``) and ``day`` (the CST report date).
DIMENSIONS = ("region_code", "boundary_set_id", "township_code", "cell_code",
              "department_code", "worker_id", "category_code", "channel", "status",
              "urgency", "located")
MEASURES = ("n", "on_time", "handled", "reworked")
#: Closed no later than the case's final due time (``geo.incidents.kpi``: closed on time);
#: a report with no final due time is never on time: it is counted as :data:`NO_DEADLINE_SQL`.
ON_TIME_SQL = "({a}closed_at IS NOT NULL AND {a}final_due_at IS NOT NULL AND " \
              "{a}closed_at <= {a}final_due_at)"
#: Without a deadline (无时限: no final due time; ``geo.incidents.kpi``: no_deadline, left out
#: of the on-time closing rate's denominator).
NO_DEADLINE_SQL = "({a}final_due_at IS NULL)"
#: Handled at least once (kpi: handled_once): a handling time or a rework.
HANDLED_SQL = "({a}handled_at IS NOT NULL OR {a}rework_count > 0)"
#: Returned for rework at least once (kpi: reworked).
REWORKED_SQL = "({a}rework_count > 0)"
#: The columns of ``incident`` the rules above read: a row written without any of them (their
#: defaults: no time, no rework) counts 0 in ``on_time``, ``handled`` and ``reworked``
#: (:class:`DayGroups` counts only such rows).
FLAG_COLUMNS = ("closed_at", "final_due_at", "handled_at", "rework_count")

Source = Literal["rollup", "incident"]


def flag_sql(rule: str, alias: str = "") -> str:
    """One of the rules above on ``incident`` (``alias``: ``"i"`` for ``i.closed_at``)."""
    return rule.format(a=f"{alias}." if alias else "")


def _day(t: dt.datetime | None) -> bool:
    """``t`` is None or a CST midnight (a bound the rollup's days can express)."""
    return t is None or day_start(local_date(t)) == t


def source_for(*, start: dt.datetime | None = None, end: dt.datetime | None = None,
               columns: Sequence[str] = (), rollup: bool = True) -> Source:
    """Where a count is read from: the rollup when every filtered or grouped column is one of
    its :data:`DIMENSIONS` and the time bounds (report time, ``[start, end)``) are whole CST
    days; else ``incident`` (on the fly). ``rollup=False`` forces the on-the-fly query (the
    anchor of the tests and benchmarks).

    Which rollup table answers is decided here too, by :func:`months_for` (whole months of a
    count by :data:`MONTH_DIMENSIONS` from :data:`MONTH_TABLE`) and :func:`cell_counts_sql`
    (all-time per-cell counts from :data:`CELL_TABLE`)."""
    if rollup and _day(start) and _day(end) and all(c in DIMENSIONS for c in columns):
        return "rollup"
    return "incident"


def months_for(d0: dt.date | None, d1: dt.date | None, columns: Sequence[str]
               ) -> tuple[dt.date | None, dt.date | None] | None:
    """The whole months ``[m0, m1)`` (None: unbounded) of the days ``[d0, d1)`` that
    :data:`MONTH_TABLE` answers for a count over ``columns`` (the ragged days before ``m0`` and
    from ``m1`` come from the daily table); None when no whole month is in the range or a
    column is not one of :data:`MONTH_DIMENSIONS`."""
    if not all(c in MONTH_DIMENSIONS for c in columns):
        return None
    m0 = None if d0 is None else d0 if d0.day == 1 else (
        d0.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    m1 = None if d1 is None else d1.replace(day=1)
    if m0 is not None and m1 is not None and m0 >= m1:
        return None
    return m0, m1


def _scope_columns(principal: Principal | None) -> list[str]:
    """The rollup columns :func:`incident_scope_sql` names for ``principal``."""
    if principal is None or principal.sees_all_incidents():
        return ["region_code"]
    return ["region_code", "cell_code", "department_code"]


def _bounds(src: Source, start: dt.datetime | None, end: dt.datetime | None,
            params: dict[str, Any], p: str) -> list[str]:
    """The conditions of ``[start, end)`` on ``r`` (days of the rollup or report times of
    ``incident``), their parameters added to ``params`` (names prefixed ``p``)."""
    col, conv = ("r.day", local_date) if src == "rollup" else ("r.reported_at", lambda t: t)
    conds = []
    for name, t, op in (("0", start, ">="), ("1", end, "<")):
        if t is not None:
            conds.append(f"{col} {op} :{p}{name}")
            params[f"{p}{name}"] = conv(t)
    return conds


def cell_counts_sql(*, start: dt.datetime | None = None, end: dt.datetime | None = None,
                    rollup: bool = True, level: str = "cell_code",
                    regions: Sequence[str] | str | None = None) -> tuple[str, dict[str, Any]]:
    """A SELECT of ``region_code, <level>, n, open`` (reports in ``[start, end)`` and open ones
    per cell, or per township with ``level="township_code"``, among ``regions`` (None: all; a
    string: a SQL query of region codes, e.g. of a CTE of the caller's statement);
    an aggregate without scope, as the overview maps show every caller) for the overview
    tiles: from :data:`CELL_TABLE` when the period is all time, from the daily rollup for other
    whole days, else from ``incident``. Bind parameters are returned."""
    if level not in ("cell_code", "township_code"):
        raise ValueError(f"level must be cell_code or township_code, not {level!r}")
    opened = open_status_sql("r.status")
    conds: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if isinstance(regions, str):
        conds.append(f"r.region_code IN ({regions})")
    elif regions is not None:
        conds.append("r.region_code = ANY(:cc_regions)")
        params["cc_regions"] = list(regions)
    if source_for(start=start, end=end, columns=[level], rollup=rollup) == "rollup":
        if start is None and end is None:
            return (f"SELECT r.region_code, r.{level}, sum(r.n)::bigint AS n, "
                    f"sum(r.open)::bigint AS open FROM {CELL_TABLE} r "
                    f"WHERE {' AND '.join(conds)} GROUP BY 1, 2 HAVING sum(r.n) > 0", params)
        conds += _bounds("rollup", start, end, params, "cc_d")
        return (f"SELECT r.region_code, r.{level}, sum(r.n)::bigint AS n, coalesce(sum(r.n) "
                f"FILTER (WHERE {opened}), 0)::bigint AS open FROM {TABLE} r "
                f"WHERE {' AND '.join(conds)} GROUP BY 1, 2 HAVING sum(r.n) > 0", params)
    conds += _bounds("incident", start, end, params, "cc_t")
    return (f"SELECT r.region_code, r.{level}, count(*) AS n, count(*) FILTER (WHERE {opened})"
            f" AS open FROM incident r WHERE {' AND '.join(conds)} GROUP BY 1, 2", params)


def counts(conn: Connection, principal: Principal | None, by: Sequence[str], *,
           regions: Sequence[str] | None = None, start: dt.datetime | None = None,
           end: dt.datetime | None = None, where: dict[str, Sequence[Any]] | None = None,
           source: Source | None = None, with_day: bool = False) -> list[dict[str, Any]]:
    """Counts (:data:`MEASURES`) of the reports made in ``[start, end)`` grouped by ``by``
    (dimension names; ``with_day`` adds ``day``, the CST report date), among ``regions`` (None:
    every region), restricted to ``where`` (dimension -> allowed values; ``None`` among them
    matches NULL) and to the caller's scope (``principal`` None: no scope, for scripts).

    ``source`` None: :func:`source_for` decides; both sources answer the same rows (tested).
    """
    where = where or {}
    src = source or source_for(start=start, end=end, columns=[*by, *where])
    months = None
    if src == "rollup":
        table, day = f"{TABLE} r", "r.day"
        measures = ", ".join(f"sum(r.{m})::bigint AS {m}" for m in MEASURES)
        located = "r.located"
        if not with_day:
            months = months_for(None if start is None else local_date(start),
                                None if end is None else local_date(end),
                                [*by, *where, *_scope_columns(principal)])
    else:
        table, day = "incident r", local_date_sql("r.reported_at")
        measures = (f"count(*) AS n, count(*) FILTER (WHERE {flag_sql(ON_TIME_SQL, 'r')}) AS "
                    f"on_time, count(*) FILTER (WHERE {flag_sql(HANDLED_SQL, 'r')}) AS handled,"
                    f" count(*) FILTER (WHERE {flag_sql(REWORKED_SQL, 'r')}) AS reworked")
        located = "(r.geom IS NOT NULL)"
    cond, params = incident_scope_sql(principal, "r") if principal is not None else ("TRUE", {})
    conds = [cond]
    if regions is not None:
        conds.append("r.region_code = ANY(:rc_regions)")
        params["rc_regions"] = list(regions)
    if months is not None:  # whole months from the monthly table, the ragged days daily
        table = _month_pieces(months, start, end, params)
    else:
        conds += _bounds(src, start, end, params, "rc_d" if src == "rollup" else "rc_t")
    for n, (col, values) in enumerate(where.items()):
        expr = located if col == "located" else f"r.{col}"
        vals = [v for v in values if v is not None]
        alt = [f"{expr} = ANY(:rc_w{n})"] if vals else []
        if len(vals) < len(values):
            alt.append(f"{expr} IS NULL")
        conds.append(f"({' OR '.join(alt) or 'FALSE'})")
        params[f"rc_w{n}"] = vals
    cols = [located + " AS located" if c == "located" else f"r.{c}" for c in by]
    if with_day:
        cols.append(f"{day} AS day")
    group = f"GROUP BY {', '.join(str(k + 1) for k in range(len(cols)))}" if cols else ""
    sql = f"SELECT {', '.join([*cols, measures])} FROM {table} WHERE {' AND '.join(conds)} {group}"
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    return [r for r in rows if r["n"]]


def _month_pieces(months: tuple[dt.date | None, dt.date | None], start: dt.datetime | None,
                  end: dt.datetime | None, params: dict[str, Any]) -> str:
    """The FROM of :func:`counts` over ``[start, end)`` with the whole ``months`` read from
    :data:`MONTH_TABLE` and the days around them from :data:`TABLE` (as ``r``)."""
    m0, m1 = months
    cols = ", ".join([*MONTH_DIMENSIONS, *MEASURES])
    ragged = []
    if start is not None and m0 is not None and local_date(start) < m0:
        ragged.append("(day >= :rc_d0 AND day < :rc_m0)")
        params["rc_d0"] = local_date(start)
    if end is not None and m1 is not None and m1 < local_date(end):
        ragged.append("(day >= :rc_m1 AND day < :rc_d1)")
        params["rc_d1"] = local_date(end)
    in_months = ["TRUE"]
    if m0 is not None:
        in_months.append("month >= :rc_m0")
        params["rc_m0"] = m0
    if m1 is not None:
        in_months.append("month < :rc_m1")
        params["rc_m1"] = m1
    days = "".join(f" UNION ALL SELECT {cols} FROM {TABLE} WHERE {r}" for r in ragged)
    return (f"(SELECT {cols} FROM {MONTH_TABLE} WHERE {' AND '.join(in_months)}{days}) r")


# --- the triggers (migration 0014 installs them; the SQL lives here, next to its readers) ---

def _upsert(table: str, keys: Sequence[str], measures: Sequence[str], rows: str) -> str:
    """A data-modifying CTE body adding ``rows`` (``keys`` and ``measures``) to ``table``,
    returning the ids and counts of the rows it touched."""
    cols = ", ".join([*keys, *measures])
    adds = ", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in measures)
    return (f"INSERT INTO {table} AS r ({cols}) SELECT {cols} FROM {rows} "
            f"ON CONFLICT ON CONSTRAINT uq_{table} DO UPDATE SET {adds} RETURNING r.id, r.n")


def _coarse_sql(d: str) -> tuple[str, str]:
    """The monthly and per-cell groups (CTE bodies) of the daily groups ``d``."""
    nonzero = " OR ".join(f"sum({m}) <> 0" for m in MEASURES)
    mkeys = ", ".join(MONTH_DIMENSIONS)
    month = (f"SELECT {mkeys}, date_trunc('month', day)::date AS month, "
             + ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
             + f" FROM {d} GROUP BY {mkeys}, 3 HAVING {nonzero} ORDER BY {mkeys}, 3")
    ckeys = ", ".join(CELL_DIMENSIONS)
    cell = (f"SELECT {ckeys}, sum(n) AS n, coalesce(sum(n) FILTER (WHERE "
            f"{open_status_sql('status')}), 0) AS open FROM {d} GROUP BY {ckeys} "
            f"HAVING sum(n) <> 0 OR sum(n) FILTER (WHERE {open_status_sql('status')}) <> 0 "
            f"ORDER BY {ckeys}")
    return month, cell


def _groups_sql(sources: Sequence[tuple[str, int]], order: bool = True) -> str:
    """The daily groups (:data:`DIMENSIONS`, ``day``, :data:`MEASURES`) of the rows of
    ``sources`` (name, sign), sorted by their key with ``order`` (the upsert's index order)."""
    day = local_date_sql("reported_at")
    keys = ", ".join(DIMENSIONS)
    dims = ", ".join(c if c != "located" else "(geom IS NOT NULL) AS located"
                     for c in DIMENSIONS)
    picks = " UNION ALL ".join(
        f"SELECT {dims}, {day} AS day, {sign} AS s, {flag_sql(ON_TIME_SQL)}::int AS t, "
        f"{flag_sql(HANDLED_SQL)}::int AS h, {flag_sql(REWORKED_SQL)}::int AS w FROM {name}"
        for name, sign in sources)
    return f"""SELECT {keys}, day, sum(s) AS n, sum(s * t) AS on_time, sum(s * h) AS handled,
               sum(s * w) AS reworked
        FROM ({picks}) x
        GROUP BY {keys}, day
        HAVING sum(s) <> 0 OR sum(s * t) <> 0 OR sum(s * h) <> 0 OR sum(s * w) <> 0""" + (
        f"\n        ORDER BY {keys}, day" if order else "")


def _delta_sql(sources: Sequence[tuple[str, int]], coarse: bool = True) -> str:
    """The statement adding the rows of the transition tables ``sources`` (name, sign) to the
    rollups (daily and, with ``coarse``, monthly and per cell: one statement, the transition
    tables read once, the coarse groups summed from the daily ones); it answers the ids of the
    rows whose count dropped to zero in each, which are removed."""
    month, cell = _coarse_sql("d")
    tail = f"""), m AS ({month}), upm AS (
        {_upsert(MONTH_TABLE, [*MONTH_DIMENSIONS, "month"], MEASURES, "m")}
    ), c AS ({cell}), upc AS (
        {_upsert(CELL_TABLE, CELL_DIMENSIONS, CELL_MEASURES, "c")}
    )
    SELECT (SELECT array_agg(id) FILTER (WHERE n = 0) FROM up),
           (SELECT array_agg(id) FILTER (WHERE n = 0) FROM upm),
           (SELECT array_agg(id) FILTER (WHERE n = 0) FROM upc)""" if coarse else """)
    SELECT array_agg(id) FILTER (WHERE n = 0) FROM up"""
    return f"""
    WITH d AS MATERIALIZED (
        {_groups_sql(sources)}
    ), up AS (
        {_upsert(TABLE, [*DIMENSIONS, "day"], MEASURES, "d")}
    {tail}"""


def bulk_insert_sql(source: str) -> list[str]:
    """The bulk path of a history import (issue 20): the statements adding the rollups of the
    rows of ``source`` (a table or a subquery with its alias; ``:bulk_region`` the region they
    are all of) while the insert trigger is off (:func:`bulk_load`). The daily groups are new
    rows of :data:`TABLE`: a plain INSERT, no sort, no conflict check (:func:`bulk_load`
    rebuilds the unique key after it, which fails on a row counted twice); the few monthly and
    per-cell groups of the region are then summed from its daily rows and upserted as the
    trigger does."""
    cols = ", ".join([*DIMENSIONS, "day", *MEASURES])
    month, cell = _coarse_sql(f"(SELECT * FROM {TABLE} WHERE region_code = :bulk_region) d")
    return [
        f"INSERT INTO {TABLE} ({cols}) {_groups_sql([(source, 1)], order=False)}",
        _upsert(MONTH_TABLE, [*MONTH_DIMENSIONS, "month"], MEASURES, f"({month}) m"),
        _upsert(CELL_TABLE, CELL_DIMENSIONS, CELL_MEASURES, f"({cell}) c"),
    ]


class DayGroups:
    """The daily groups (:data:`DIMENSIONS`, ``day``: the rows of :data:`TABLE`) of the rows a
    region's first bulk load COPYs into ``incident``, counted in process as its chunks go by,
    so that :func:`bulk_load` COPYs them, sorted by the table's unique key, instead of
    grouping the region's rows again in SQL (issue 20: the grouped INSERT and the key's sort
    were 7-12 s of a 1,000,000-row load). The grouping is :func:`_groups_sql`'s: ``located``
    is a geometry given, ``day`` the CST report date (:func:`geo.localtime.local_date`, which
    the caller has for routing), ``n`` the rows, and ``on_time``, ``handled``, ``reworked`` 0,
    as the rows carry none of :data:`FLAG_COLUMNS` (a frame that does makes it give up).
    ``tests/geo/io/test_import_bulk.py`` checks the result against the on-the-fly counts.

    Memory: 16 bytes per group and per row of at most :data:`PENDING` rows not yet merged; a
    load of more than :data:`MAX_GROUPS` groups gives up (``usable`` False) and
    :func:`bulk_load` groups in SQL as before."""

    MAX_GROUPS = 4_000_000
    PENDING = 1_000_000
    _DAY_BITS = 20  # days since 1970-01-01 (the intake takes no report before 2000)
    _KEYS = tuple(c for c in DIMENSIONS if c != "located")

    def __init__(self) -> None:
        self.usable = True
        self._combos: dict[tuple[Any, ...], int] = {}
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._keys = np.empty(0, dtype=np.int64)
        self._counts = np.empty(0, dtype=np.int64)

    def stop(self) -> None:
        """Give up (the SQL groups the rows instead); the memory is freed."""
        self.usable = False
        self._combos, self._pending = {}, []
        self._keys = self._counts = np.empty(0, dtype=np.int64)

    def add(self, frame: Mapping[str, Sequence[Any]], days: Sequence[dt.date]) -> None:
        """Count the rows of ``frame`` (columns of ``incident``: :data:`DIMENSIONS` but
        ``located``, and ``geom``) reported on the CST ``days``."""
        n = len(days)
        if not self.usable or not n:
            return
        if any(c in frame for c in FLAG_COLUMNS):
            self.stop()
            return
        at, distinct = pd.factorize(np.asarray(days, dtype=object))  # a few hundred dates
        day = np.asarray(distinct.tolist(), dtype="datetime64[D]").astype(np.int64)[at]
        if at.min() < 0 or day.min() < 0 or day.max() >= 1 << self._DAY_BITS:
            self.stop()
            return
        # the combination of the dimensions of each row, numbered within the chunk
        geom = np.asarray(frame["geom"], dtype=object)
        located = geom != None  # noqa: E711 - element-wise
        combo = located.astype(np.int64)
        size = 2
        for c in self._KEYS:
            values = frame[c]
            if values.count(values[0]) == n:  # one value (the region, the channel ...)
                continue
            codes, uniques = pd.factorize(np.asarray(values, dtype=object))
            card = len(uniques) + 1  # None is -1
            if size * card >= 1 << 62:
                _, combo = np.unique(combo, return_inverse=True)
                size = int(combo.max()) + 1
            combo = combo * card + (codes.astype(np.int64) + 1)
            size *= card
        _, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
        rows = first.tolist()
        combos = self._combos
        ids = np.fromiter((combos.setdefault(t, len(combos)) for t in zip(
            *([values[i] for i in rows] for values in (frame[c] for c in self._KEYS)),
            located[first].tolist(), strict=True)), dtype=np.int64, count=len(rows))
        self._pending.append((ids[inverse.ravel()] << self._DAY_BITS) | day)
        self._pending_rows += n
        if self._pending_rows >= self.PENDING:
            self._merge()

    def _merge(self) -> None:
        keys = np.concatenate([self._keys, *self._pending])
        counts = np.concatenate([self._counts, *(np.ones(len(p), dtype=np.int64)
                                                 for p in self._pending)])
        self._pending, self._pending_rows = [], 0
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        self._keys, self._counts = keys[starts], np.add.reduceat(counts, starts)
        if len(self._keys) > self.MAX_GROUPS:
            self.stop()

    def frames(self, size: int = 50_000) -> Iterator[dict[str, list[Any]]]:
        """The groups as columns of :data:`TABLE` (:data:`DIMENSIONS`, ``day`` as ISO text,
        :data:`MEASURES`), ``size`` rows at a time, sorted by its unique key (NULLs last, text
        by code point: the order of the database's C.UTF-8 collation, so the key's build sorts
        sorted input; another order would only make that sort slower)."""
        self._merge()
        combos = list(self._combos)
        order = sorted(range(len(combos)), key=lambda g: tuple(
            (v is None, v) for v in combos[g]))
        rank = np.empty(len(combos), dtype=np.int64)
        rank[order] = np.arange(len(combos), dtype=np.int64)
        mask = (1 << self._DAY_BITS) - 1
        by_key = np.argsort((rank[self._keys >> self._DAY_BITS] << self._DAY_BITS)
                            | (self._keys & mask), kind="stable")
        values = []
        for j in range(len(DIMENSIONS)):
            v = np.empty(len(combos), dtype=object)
            v[:] = [combo[j] for combo in combos]
            values.append(v)
        for at in range(0, len(by_key), size):
            rows = by_key[at:at + size]
            keys, counts = self._keys[rows], self._counts[rows]
            gid = keys >> self._DAY_BITS
            out: dict[str, list[Any]] = {c: values[j][gid].tolist()
                                         for j, c in enumerate(DIMENSIONS)}
            out["day"] = np.datetime_as_string((keys & mask).astype("datetime64[D]"),
                                               unit="D").tolist()
            out["n"] = counts.tolist()
            for m in MEASURES[1:]:
                out[m] = [0] * len(rows)
            yield out

    def coarse(self) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
        """The rows of :data:`MONTH_TABLE` and :data:`CELL_TABLE` of the groups (as
        :func:`_coarse_sql` sums them from the daily rows: months by their first day, ``open``
        the reports of an open status, :data:`geo.incidents.flow.OPEN`), as columns."""
        self._merge()
        combos = list(self._combos)
        col = {c: j for j, c in enumerate(DIMENSIONS)}
        mask = (1 << self._DAY_BITS) - 1
        gid = self._keys >> self._DAY_BITS
        month = (self._keys & mask).astype("datetime64[D]").astype("datetime64[M]")
        pairs, at = np.unique((gid << self._DAY_BITS) | month.astype(np.int64),
                              return_inverse=True)
        sums = np.bincount(at.ravel(), weights=self._counts).astype(np.int64)
        months: dict[tuple[Any, ...], int] = {}
        for pair, n in zip(pairs.tolist(), sums.tolist(), strict=True):
            k = (*(combos[pair >> self._DAY_BITS][col[c]] for c in MONTH_DIMENSIONS),
                 pair & mask)
            months[k] = months.get(k, 0) + n
        per_combo = np.bincount(gid, weights=self._counts, minlength=len(combos))
        cells: dict[tuple[Any, ...], list[int]] = {}
        for g, n in enumerate(per_combo.astype(np.int64).tolist()):
            if n:
                acc = cells.setdefault(tuple(combos[g][col[c]] for c in CELL_DIMENSIONS),
                                       [0, 0])
                acc[0] += n
                acc[1] += n if combos[g][col["status"]] in OPEN else 0
        month_cols: dict[str, list[Any]] = {c: [k[j] for k in months] for j, c in
                                            enumerate(MONTH_DIMENSIONS)}
        month_cols["month"] = [str(np.datetime64(k[-1], "M").astype("datetime64[D]"))
                               for k in months]
        month_cols["n"] = list(months.values())
        for m in MEASURES[1:]:
            month_cols[m] = [0] * len(months)
        cell_cols: dict[str, list[Any]] = {c: [k[j] for k in cells] for j, c in
                                           enumerate(CELL_DIMENSIONS)}
        cell_cols["n"] = [v[0] for v in cells.values()]
        cell_cols["open"] = [v[1] for v in cells.values()]
        return month_cols, cell_cols


def region_is_empty(conn: Connection, region: str) -> bool:
    """The region has no incident and no rollup row (a first load: :func:`bulk_load`, and
    the importer's COPY straight into ``incident``)."""
    return bool(conn.execute(text(
        "SELECT NOT EXISTS (SELECT 1 FROM incident WHERE region_code = :r) AND NOT EXISTS "
        f"(SELECT 1 FROM {TABLE} WHERE region_code = :r) AND NOT EXISTS (SELECT 1 FROM "
        f"{MONTH_TABLE} WHERE region_code = :r) AND NOT EXISTS (SELECT 1 FROM {CELL_TABLE} "
        "WHERE region_code = :r)"), {"r": region}).scalar())


#: Writes frames (each columns: name -> values) into a table by COPY, answers the rows written
#: (the importer's :func:`geo.io.importer.staging.copy_frames`).
CopyColumns = Callable[[str, Iterator[dict[str, list[Any]]]], int]


@contextmanager
def bulk_load(conn: Connection, region: str, groups: DayGroups | None = None,
              copy: CopyColumns | None = None) -> Iterator[bool]:
    """Inserts into ``incident`` of a region that has no incident yet (a first load, years of
    history) with the rollups' insert trigger off: once the block has run, the rollups of the
    region's rows are added by grouped INSERTs (:func:`bulk_insert_sql`) instead of the
    trigger's upsert (its sort and its conflict check per daily row cost most of a large
    import's database time), the daily rollup's unique key dropped meanwhile and built again
    by one sort. Yields whether this is the case; a region with incidents, or whose rollups
    hold rows, runs the block with the trigger as always. Updates and deletes in the block
    keep their triggers. Everything is in the caller's transaction (a rollback restores the
    trigger and the key).

    ``groups``: the daily groups of the rows the block inserts, counted by the caller
    (:class:`DayGroups`); when usable they are written by ``copy`` instead of the grouped
    INSERT."""
    if not region_is_empty(conn, region):
        yield False
        return
    conn.execute(text(f"ALTER TABLE incident DISABLE TRIGGER {INSERT_TRIGGER}"))
    yield True
    conn.execute(text(f"ALTER TABLE incident ENABLE TRIGGER {INSERT_TRIGGER}"))
    key = f"uq_{TABLE}"
    definition = conn.execute(text(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :k AND "
        f"conrelid = CAST('{TABLE}' AS regclass)"), {"k": key}).scalar_one()
    conn.execute(text(f"ALTER TABLE {TABLE} DROP CONSTRAINT {key}"))
    daily, *coarse = bulk_insert_sql(
        "(SELECT * FROM incident WHERE region_code = :bulk_region) i")
    if groups is not None and groups.usable and copy is not None:
        copy(TABLE, groups.frames())
        conn.execute(text(f"ALTER TABLE {TABLE} ADD CONSTRAINT {key} {definition}"))
        for table, columns in zip((MONTH_TABLE, CELL_TABLE), groups.coarse(), strict=True):
            copy(table, iter([columns]))
        return
    conn.execute(text(daily), {"bulk_region": region})
    conn.execute(text(f"ALTER TABLE {TABLE} ADD CONSTRAINT {key} {definition}"))
    for sql in coarse:
        conn.execute(text(sql), {"bulk_region": region})


def trigger_function_sql() -> str:
    """The functions and the triggers of migration 0014 (the daily rollup only)."""
    return functions_sql(coarse=False) + triggers_sql()


def functions_sql(coarse: bool = True) -> str:
    """``wangge_incident_rollup()``: one statement per change of ``incident``, whatever the
    number of rows (a bulk import pays one grouped upsert per rollup table, not one per row);
    migration 0017 replaces the function of 0014 with this one, which keeps the monthly and
    per-cell tables too."""
    branches = {
        "INSERT": _delta_sql([("new_rows", 1)], coarse),
        "UPDATE": _delta_sql([("old_rows", -1), ("new_rows", 1)], coarse),
        "DELETE": _delta_sql([("old_rows", -1)], coarse),
    }
    into = "zero, zero_m, zero_c" if coarse else "zero"
    tables = f"{TABLE}, {MONTH_TABLE}, {CELL_TABLE}" if coarse else TABLE
    body = "\n    ELS".join(
        f"IF TG_OP = '{op}' THEN\n        {sql.strip()} INTO {into};" for op, sql in
        branches.items())
    return f"""
CREATE OR REPLACE FUNCTION wangge_incident_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    zero bigint[];
    zero_m bigint[];
    zero_c bigint[];
BEGIN
    {body}
    END IF;
    IF zero IS NOT NULL THEN
        DELETE FROM {TABLE} WHERE id = ANY(zero) AND n = 0;
    END IF;
    IF zero_m IS NOT NULL THEN
        DELETE FROM {MONTH_TABLE} WHERE id = ANY(zero_m) AND n = 0;
    END IF;
    IF zero_c IS NOT NULL THEN
        DELETE FROM {CELL_TABLE} WHERE id = ANY(zero_c) AND n = 0;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION wangge_incident_rollup_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    TRUNCATE {tables};
    RETURN NULL;
END $$;
"""


#: The statement trigger adding inserted incidents to the rollups (:func:`bulk_load` turns it
#: off for a region's first load).
INSERT_TRIGGER = "trg_incident_rollup_ins"


def triggers_sql() -> str:
    """The triggers calling the functions of :func:`functions_sql` (migration 0014)."""
    return """
CREATE TRIGGER trg_incident_rollup_ins AFTER INSERT ON incident
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_incident_rollup();
CREATE TRIGGER trg_incident_rollup_upd AFTER UPDATE ON incident
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_incident_rollup();
CREATE TRIGGER trg_incident_rollup_del AFTER DELETE ON incident
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION wangge_incident_rollup();
CREATE TRIGGER trg_incident_rollup_trunc AFTER TRUNCATE ON incident
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_incident_rollup_truncate();
"""


def backfill_sql(coarse: bool = True) -> str:
    """Rebuild the rollups (the daily one only without ``coarse``: migration 0014) from
    ``incident`` (the migrations' backfill; also a repair)."""
    day = (f"TRUNCATE {TABLE};\n" + _delta_sql([("incident", 1)], coarse=False).replace(
        "SELECT array_agg(id) FILTER (WHERE n = 0) FROM up", "SELECT count(*) FROM up"))
    return day + (";\n" + coarse_backfill_sql() if coarse else "")


def coarse_backfill_sql() -> str:
    """Fill the monthly and per-cell rollups from the daily one (migration 0017)."""
    month, cell = _coarse_sql(TABLE)
    return (f"TRUNCATE {MONTH_TABLE}, {CELL_TABLE};\n"
            f"INSERT INTO {MONTH_TABLE} ({', '.join([*MONTH_DIMENSIONS, 'month', *MEASURES])})"
            f" {month};\nINSERT INTO {CELL_TABLE} "
            f"({', '.join([*CELL_DIMENSIONS, *CELL_MEASURES])}) {cell};\n")
