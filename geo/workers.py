"""Grid workers on duty: who works a cell on a date (网格员在岗).

A worker is on duty in a cell over an assignment's ``[valid_from, valid_to)`` (``valid_to``
NULL: open). When assignments of one cell overlap, the latest ``valid_from`` wins. Written
once: :func:`on_duty_sql` (the predicate), :func:`on_duty_select` (the worker of one cell, for
a LATERAL join or a sub-select) and :func:`worker_on_duty` (Python).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo.boundaries.sets import valid_at_sql

WORKER_COLUMNS = "gw.id, gw.code, gw.name, gw.phone, a.valid_from"


def on_duty_sql(alias: str, day: str) -> str:
    """SQL predicate: worker_assignment ``alias`` is in force on the date expression ``day``.

    Parameters
    ----------
    alias
        The worker_assignment table's alias in the statement (e.g. ``"a"``).
    day
        A SQL date expression (a bind such as ``":d"`` or a column expression).

    Returns
    -------
    str
        ``valid_from <= day < valid_to`` (an open ``valid_to`` never ends): the validity rule
        of boundary sets, :func:`geo.boundaries.sets.valid_at_sql`.
    """
    return valid_at_sql(alias, day)


def on_duty_select(region: str, cell: str, day: str, columns: str = WORKER_COLUMNS) -> str:
    """SQL SELECT of the worker on duty in one cell (at most one row).

    Parameters
    ----------
    region, cell, day
        SQL expressions for the region code, the cell code and the date (binds such as
        ``":r"`` or columns of the outer statement such as ``"c.code"``).
    columns
        The columns to return, of ``a`` (worker_assignment) and ``gw`` (grid_worker).

    Returns
    -------
    str
        The statement, for ``LEFT JOIN LATERAL (...) w ON TRUE`` or on its own.
    """
    return (f"SELECT {columns} FROM worker_assignment a "
            f"JOIN grid_worker gw ON gw.region_code = a.region_code AND gw.id = a.worker_id "
            f"WHERE a.region_code = {region} AND a.cell_code = {cell} "
            f"AND {on_duty_sql('a', day)} ORDER BY a.valid_from DESC LIMIT 1")


_ON_DUTY = text(on_duty_select(":r", ":c", ":d"))


def worker_on_duty(
    conn: Connection, region_code: str, cell_code: str, on: dt.date
) -> dict[str, Any] | None:
    """The worker assigned to a cell on a date, or None when the cell is vacant.

    Parameters
    ----------
    conn
        Open connection.
    region_code, cell_code
        The cell.
    on
        The date.

    Returns
    -------
    dict or None
        id, code, name, phone and valid_from (on duty since) of the worker.
    """
    row = conn.execute(_ON_DUTY, {"r": region_code, "c": cell_code, "d": on}).mappings().first()
    return dict(row) if row else None
