"""Boundary sets: which set is valid on a date, a set's state, finding and listing sets.

A boundary set is valid over ``[valid_from, valid_to)`` (``valid_to`` NULL: open). Its state
(:class:`SetState`):

- *pending*: imported by :mod:`geo.io.importer`, inactive with an empty validity period
  (``valid_to = valid_from``), so no lookup or routing by date ever uses it;
- *checked*: pending, and its checks (:mod:`geo.boundaries.checks`) passed;
- *active*: the set in use now (``is_active``, ``valid_to`` NULL), switched on by
  :mod:`geo.boundaries.activate`;
- *history*: closed by a later set; incidents of its dates still resolve in it.

"The set valid on a date" is written once: :func:`set_valid_at` (Python) and
:func:`valid_at_sql` (the predicate, for bigger statements), with :func:`valid_on` its
in-process twin for batches (a test holds the two to the same answers); "the active set" likewise:
:func:`active_set_id` and :func:`active_set_sql`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import Conflict, NotFound


class SetState(enum.StrEnum):
    """The state of a boundary set (see the module docstring)."""

    PENDING = "pending"
    CHECKED = "checked"
    ACTIVE = "active"
    HISTORY = "history"


def set_state(
    is_active: bool, valid_from: dt.date, valid_to: dt.date | None,
    checks_ok: bool | None = None,
) -> SetState:
    """The state of a boundary set from its columns.

    Parameters
    ----------
    is_active, valid_from, valid_to
        The set's columns.
    checks_ok
        Whether its checks passed (``checks->>'ok'``); None: unknown (not checked).

    Returns
    -------
    SetState
        ACTIVE, PENDING or CHECKED (empty validity period), else HISTORY.
    """
    if is_active:
        return SetState.ACTIVE
    if valid_to == valid_from:
        return SetState.CHECKED if checks_ok else SetState.PENDING
    return SetState.HISTORY


def valid_at_sql(alias: str, day: str) -> str:
    """SQL predicate: row ``alias`` (a boundary set) is valid on the date expression ``day``.

    The validity rule of every table with ``valid_from``/``valid_to`` columns (boundary sets,
    the worker assignments of :mod:`geo.workers`, compound management history).

    Parameters
    ----------
    alias
        The table's alias in the statement (e.g. ``"b"``).
    day
        A SQL date expression (a bind such as ``":d"`` or a column expression).

    Returns
    -------
    str
        ``valid_from <= day < valid_to`` (an open ``valid_to`` never ends). Pending sets
        (``valid_to = valid_from``) are never valid.
    """
    return (f"{alias}.valid_from <= {day} AND ({alias}.valid_to IS NULL "
            f"OR {day} < {alias}.valid_to)")


def valid_on(valid_from: dt.date, valid_to: dt.date | None, day: dt.date) -> bool:
    """The rule of :func:`valid_at_sql` in Python: ``valid_from <= day < valid_to`` (an open
    ``valid_to`` never ends; a pending set, ``valid_to = valid_from``, is never valid).

    For batches routed in process (:class:`geo.incidents.routing.Router`); the SQL
    predicate stays the rule of every statement.
    """
    return valid_from <= day and (valid_to is None or day < valid_to)


def active_set_sql(region: str) -> str:
    """SQL sub-select of the id of a region's active boundary set (at most one row).

    Parameters
    ----------
    region
        A SQL expression for the region code (a bind such as ``":r"`` or a column).

    Returns
    -------
    str
        The SELECT statement.
    """
    return f"SELECT id FROM boundary_set WHERE region_code = {region} AND is_active"


_ACTIVE = text("SELECT id, name FROM boundary_set WHERE region_code = :r AND is_active")
_ACTIVE_ID = text(active_set_sql(":r"))
_VALID_AT = text(
    "SELECT b.id, b.name FROM boundary_set b WHERE b.region_code = :r AND "
    + valid_at_sql("b", ":d") + " ORDER BY b.is_active DESC, b.valid_from DESC LIMIT 1"
)


def set_valid_at(conn: Connection, region_code: str, at: dt.date | None) -> tuple[int, str]:
    """The active boundary set (``at`` None) or the one valid on date ``at``.

    Parameters
    ----------
    conn
        Open connection.
    region_code
        The county.
    at
        The date; None: the set active now.

    Returns
    -------
    tuple
        The set's id and name.

    Raises
    ------
    NotFound
        The region has no such set.
    """
    if at is None:
        row = conn.execute(_ACTIVE, {"r": region_code}).first()
    else:
        row = conn.execute(_VALID_AT, {"r": region_code, "d": at}).first()
    if row is None:
        en = "no active boundary set" if at is None else f"no boundary set valid on {at}"
        raise NotFound(
            f"区域 {region_code} 没有{'生效' if at is None else '当日有效'}的网格边界集 / "
            f"region {region_code} has {en}",
            region=region_code,
        )
    return int(row[0]), str(row[1])


def active_set_id(conn: Connection, region_code: str) -> int | None:
    """The id of the region's active boundary set, None when it has none.

    Parameters
    ----------
    conn
        Open connection.
    region_code
        The county.

    Returns
    -------
    int or None
        The id.
    """
    value = conn.execute(_ACTIVE_ID, {"r": region_code}).scalar()
    return None if value is None else int(value)


def find_set(conn: Connection, region_code: str | None, ref: str) -> dict[str, Any]:
    """A boundary set by id or by name (within ``region_code`` when given).

    Parameters
    ----------
    conn
        Open connection.
    region_code
        The county, or None to search every region.
    ref
        The set's id or name.

    Returns
    -------
    dict
        id, region_code, name, valid_from, valid_to, is_active, checks.

    Raises
    ------
    NotFound
        No such set.
    Conflict
        Several regions have a set of that name (give the region).
    """
    params: dict[str, Any] = {"ref": ref, "r": region_code}
    cond = "(CAST(id AS text) = :ref OR name = :ref)"
    if region_code:
        cond += " AND region_code = :r"
    rows = conn.execute(
        text(f"SELECT id, region_code, name, valid_from, valid_to, is_active, checks "
             f"FROM boundary_set WHERE {cond} ORDER BY id"), params
    ).mappings().all()
    if not rows:
        raise NotFound(f"没有边界集 {ref!r} / no boundary set {ref!r}", region=region_code)
    if len(rows) > 1:
        raise Conflict(
            f"多个区域有名为 {ref!r} 的边界集，请用 --region 指定 / several regions have a "
            f"boundary set named {ref!r}: give --region", ids=[r["id"] for r in rows]
        )
    return dict(rows[0])


def list_sets(conn: Connection, region_code: str | None = None) -> list[dict[str, Any]]:
    """Every boundary set (of a region), newest first, with cell counts and state.

    Parameters
    ----------
    conn
        Open connection.
    region_code
        The county, or None for every region.

    Returns
    -------
    list of dict
        id, region_code, name, valid_from, valid_to, is_active, source, cells, checks_ok and
        ``state`` (a :class:`SetState` value).
    """
    rows = conn.execute(
        text("SELECT b.id, b.region_code, b.name, b.valid_from, b.valid_to, b.is_active, "
             "b.source, (SELECT count(*) FROM grid_cell g WHERE g.boundary_set_id = b.id) "
             "AS cells, (b.checks->>'ok')::boolean AS checks_ok FROM boundary_set b "
             "WHERE (CAST(:r AS text) IS NULL OR b.region_code = :r) "
             "ORDER BY b.region_code, b.valid_from DESC, b.id DESC"), {"r": region_code}
    ).mappings().all()
    out = []
    for r in rows:
        d = dict(r)
        d["state"] = set_state(d["is_active"], d["valid_from"], d["valid_to"],
                               d["checks_ok"]).value
        out.append(d)
    return out
