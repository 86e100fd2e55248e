"""The per-cell per-day rollup of incidents (``incident_rollup_day``) and the one decision
whether a count is read from it or computed on the fly from ``incident``.

One rollup row per local report day (China Standard Time: :func:`geo.localtime.local_date_sql`)
and combination of :data:`DIMENSIONS` (region, boundary set, township, cell, department,
worker, category, channel, status, urgency, located) with :data:`MEASURES`:

- ``n``: reports;
- ``on_time``: reports closed no later than their final due time (:data:`ON_TIME_SQL`;
  counted whatever the status: readers take the ``closed`` rows);
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
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Connection, text

from geo.auth.principal import Principal, incident_scope_sql
from geo.localtime import day_start, local_date, local_date_sql

TABLE = "incident_rollup_day"
#: The grouping columns of the rollup: each is a column of ``incident`` of the same name, but
#: ``located`` (``geom IS NOT NULL``) and ``day`` (the CST report date).
DIMENSIONS = ("region_code", "boundary_set_id", "township_code", "cell_code",
              "department_code", "worker_id", "category_code", "channel", "status",
              "urgency", "located")
MEASURES = ("n", "on_time", "handled", "reworked")
#: Closed no later than the case's final due time (``geo.incidents.kpi``: closed on time);
#: a report with no final due time is on time.
ON_TIME_SQL = "({a}closed_at IS NOT NULL AND ({a}final_due_at IS NULL OR {a}closed_at <= " \
              "{a}final_due_at))"
#: Handled at least once (kpi: handled_once): a handling time or a rework.
HANDLED_SQL = "({a}handled_at IS NOT NULL OR {a}rework_count > 0)"
#: Returned for rework at least once (kpi: reworked).
REWORKED_SQL = "({a}rework_count > 0)"

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
    anchor of the tests and benchmarks)."""
    if rollup and _day(start) and _day(end) and all(c in DIMENSIONS for c in columns):
        return "rollup"
    return "incident"


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
    if src == "rollup":
        table, day = f"{TABLE} r", "r.day"
        measures = ", ".join(f"sum(r.{m})::bigint AS {m}" for m in MEASURES)
        located = "r.located"
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
    if src == "rollup":
        if start is not None:
            conds.append("r.day >= :rc_d0")
            params["rc_d0"] = local_date(start)
        if end is not None:
            conds.append("r.day < :rc_d1")
            params["rc_d1"] = local_date(end)
    else:
        if start is not None:
            conds.append("r.reported_at >= :rc_t0")
            params["rc_t0"] = start
        if end is not None:
            conds.append("r.reported_at < :rc_t1")
            params["rc_t1"] = end
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


# --- the triggers (migration 0014 installs them; the SQL lives here, next to its readers) ---

def _delta_sql(sources: Sequence[tuple[str, int]]) -> str:
    """The statement adding the rows of the transition tables ``sources`` (name, sign) to the
    rollup; rows whose count drops to zero are removed."""
    day = local_date_sql("reported_at")
    keys = ", ".join(DIMENSIONS)
    dims = ", ".join(c if c != "located" else "(geom IS NOT NULL) AS located"
                     for c in DIMENSIONS)
    picks = " UNION ALL ".join(
        f"SELECT {dims}, {day} AS day, {sign} AS s, {flag_sql(ON_TIME_SQL)}::int AS t, "
        f"{flag_sql(HANDLED_SQL)}::int AS h, {flag_sql(REWORKED_SQL)}::int AS w FROM {name}"
        for name, sign in sources)
    return f"""
    WITH d AS (
        SELECT {keys}, day, sum(s) AS n, sum(s * t) AS on_time, sum(s * h) AS handled,
               sum(s * w) AS reworked
        FROM ({picks}) x
        GROUP BY {keys}, day
        HAVING sum(s) <> 0 OR sum(s * t) <> 0 OR sum(s * h) <> 0 OR sum(s * w) <> 0
        ORDER BY {keys}, day
    ), up AS (
        INSERT INTO {TABLE} AS r ({keys}, day, n, on_time, handled, reworked)
        SELECT {keys}, day, n, on_time, handled, reworked FROM d
        ON CONFLICT ON CONSTRAINT uq_{TABLE} DO UPDATE SET
            n = r.n + EXCLUDED.n, on_time = r.on_time + EXCLUDED.on_time,
            handled = r.handled + EXCLUDED.handled, reworked = r.reworked + EXCLUDED.reworked
        RETURNING r.id, r.n
    )
    SELECT array_agg(id) FILTER (WHERE n = 0) FROM up"""


def trigger_function_sql() -> str:
    """``wangge_incident_rollup()``: one statement per change of ``incident``, whatever the
    number of rows (a bulk import pays one grouped upsert, not one per row)."""
    branches = {
        "INSERT": _delta_sql([("new_rows", 1)]),
        "UPDATE": _delta_sql([("old_rows", -1), ("new_rows", 1)]),
        "DELETE": _delta_sql([("old_rows", -1)]),
    }
    body = "\n    ELS".join(
        f"IF TG_OP = '{op}' THEN\n        {sql.strip()} INTO zero;" for op, sql in
        branches.items())
    return f"""
CREATE OR REPLACE FUNCTION wangge_incident_rollup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    zero bigint[];
BEGIN
    {body}
    END IF;
    IF zero IS NOT NULL THEN
        DELETE FROM {TABLE} WHERE id = ANY(zero) AND n = 0;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION wangge_incident_rollup_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    TRUNCATE {TABLE};
    RETURN NULL;
END $$;
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


def backfill_sql() -> str:
    """Rebuild the rollup from ``incident`` (the migration's backfill; also a repair)."""
    return f"TRUNCATE {TABLE};\n" + _delta_sql([("incident", 1)]).replace(
        "SELECT array_agg(id) FILTER (WHERE n = 0) FROM up", "SELECT count(*) FROM up")
