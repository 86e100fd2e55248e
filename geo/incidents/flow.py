"""The case flow as an explicit state machine (GB/T 30428-style), and its deadlines.

reported -> registered 立案 -> dispatched 派遣 -> in_progress 处置 -> handled -> verified 核查
-> closed 结案; a failed verification returns the case for rework 返工; a case may be rejected
(not our matter), cancelled or merged into another. ``needs_location`` is a report whose place
could not be resolved: it waits to be located (then ``reported``) or closed as rejected. A case
given back by its worker or department (退单, :mod:`geo.incidents.requests`) returns to
``registered`` to be dispatched again.

Each status opens a step whose time limit (minutes per category and urgency, in working time or
round the clock: :func:`step_clock`) starts when the status is entered: ``register``
(reported), ``dispatch`` (registered), ``handle`` (dispatched, and again on rework), ``verify``
(handled) and ``close`` (verified).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geo.db.tables.vocab import INCIDENT_STATUS
from geo.errors import Conflict
from geo.incidents.calendar import WorkCalendar, clock_of

TRANSITIONS: dict[str, frozenset[str]] = {
    "needs_location": frozenset({"reported", "rejected", "cancelled", "merged"}),
    "reported": frozenset({"registered", "rejected", "cancelled", "merged"}),
    "registered": frozenset({"dispatched", "rejected", "cancelled", "merged"}),
    # -> registered: given back to the command centre (退单) to be dispatched again
    "dispatched": frozenset({"in_progress", "handled", "registered", "cancelled", "merged"}),
    "in_progress": frozenset({"handled", "registered", "cancelled", "merged"}),
    "handled": frozenset({"verified", "rework"}),
    "rework": frozenset({"in_progress", "handled", "registered", "cancelled"}),
    "verified": frozenset({"closed"}),
    "closed": frozenset(),
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "merged": frozenset(),
}
# The status groupings: every other module imports these (sets, ordered tuples, SQL).
TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = frozenset(TRANSITIONS) - TERMINAL
# The steps a field worker or department takes only with a handling note (办结: what was done);
# the command centre's own steps keep the note optional (geo.incidents.cases.transition).
NOTE_REQUIRED = frozenset({"handled"})
MIN_NOTE = 2  # characters of a required handling note
# Void: no longer a case of its own (rejected, cancelled, merged into another): not demand for
# the analyses, not a duplicate candidate.
VOID = frozenset({"rejected", "cancelled", "merged"})
# Not (yet) a case for the KPIs: void, or a report still waiting for its place.
NOT_A_CASE = VOID | {"needs_location"}
OPEN_STATUSES = tuple(s for s in INCIDENT_STATUS.codes if s in OPEN)
CLOSED_STATUSES = tuple(s for s in INCIDENT_STATUS.codes if s in TERMINAL)
VOID_STATUSES = tuple(s for s in INCIDENT_STATUS.codes if s in VOID)
STATUS_ZH = INCIDENT_STATUS.labels("zh")
# The step whose clock a status starts (None: the clock keeps running / no clock).
STEP_OF_STATUS = {
    "needs_location": "register", "reported": "register", "registered": "dispatch",
    "dispatched": "handle", "rework": "handle", "handled": "verify", "verified": "close",
}
# Entering these statuses keeps the running step (in_progress continues "handle").
KEEPS_CLOCK = frozenset({"in_progress"})
STEPS = ("register", "dispatch", "handle", "verify")
DEFAULT_LIMITS = {"register": 30, "dispatch": 30, "handle": 2400, "verify": 120, "close": 30}
# Statuses only the command centre (or an admin) may set; workers and departments handle.
COMMAND_ONLY = frozenset({"registered", "dispatched", "verified", "closed", "rework",
                          "rejected", "cancelled", "merged", "reported"})


def status_in_sql(column: str, statuses: frozenset[str] | tuple[str, ...]) -> str:
    """SQL ``column IN ('a', 'b', ...)`` over a status grouping (codes in vocabulary order).

    Parameters
    ----------
    column : str
        The status column, e.g. ``"i.status"``.
    statuses : frozenset or tuple of str
        A grouping of this module (``OPEN``, ``TERMINAL``, ``VOID`` ...).

    Returns
    -------
    str
        The SQL condition (statuses are vocabulary codes, so quoting them is safe).
    """
    codes = ", ".join(f"'{s}'" for s in INCIDENT_STATUS.codes if s in statuses)
    return f"{column} IN ({codes})"


def open_status_sql(column: str = "status") -> str:
    """SQL condition: ``column`` is an open status (see :data:`OPEN`).

    Parameters
    ----------
    column : str
        The status column.

    Returns
    -------
    str
        ``column IN ('reported', ...)``.
    """
    return status_in_sql(column, OPEN)


def check_transition(current: str, target: str) -> None:
    """Raise Conflict (409) naming both states unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS:
        from geo.errors import InvalidInput

        raise InvalidInput(
            f"未知状态 {target} / unknown status {target}; valid: {sorted(TRANSITIONS)}",
            field="to", valid=sorted(TRANSITIONS),
        )
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        raise Conflict(
            f"不允许从 {STATUS_ZH.get(current, current)}({current}) 转为 "
            f"{STATUS_ZH.get(target, target)}({target}) / transition {current} -> {target} is "
            f"not allowed; from {current} the case may go to: {allowed or 'nothing (final)'}",
            current=current, target=target, allowed=allowed,
        )


# A step's clock: ``working`` (working time, the holiday calendar) or ``calendar`` (round the
# clock). Urgent cases run round the clock unless their category says otherwise (the domain
# brief: an urgent case is registered and dispatched within 10 minutes, a missing manhole cover
# handled within 2 hours, day or night); the others in working time.
CLOCKS = ("working", "calendar")
DEFAULT_CLOCK = {"urgent": "calendar", "normal": "working"}


def _limit_table(limits: dict[str, Any] | None, urgency: str) -> dict[str, Any]:
    return dict((limits or {}).get(urgency) or (limits or {}).get("normal") or {})


def step_limit(limits: dict[str, Any] | None, urgency: str, step: str) -> int:
    """Minutes allowed for ``step`` of a category at ``urgency`` (in the step's clock).

    A category's ``limits`` give per urgency each step's minutes, as a number or as
    ``{"minutes": 10, "clock": "calendar"}``, and optionally the urgency's ``clock``.
    """
    table = _limit_table(limits, urgency)
    value = table.get(step)
    if value is None and step == "close":
        value = table.get("dispatch")
    if isinstance(value, dict):
        value = value.get("minutes")
    return int(value if value is not None else DEFAULT_LIMITS[step])


def step_clock(limits: dict[str, Any] | None, urgency: str, step: str) -> str:
    """The clock ``step`` runs on: the step's own, else the urgency's, else
    :data:`DEFAULT_CLOCK`."""
    table = _limit_table(limits, urgency)
    value = table.get(step)
    if isinstance(value, dict) and value.get("clock") in CLOCKS:
        return str(value["clock"])
    if table.get("clock") in CLOCKS:
        return str(table["clock"])
    return DEFAULT_CLOCK.get(urgency, "working")


def final_clock(limits: dict[str, Any] | None, urgency: str) -> str:
    """The clock of the whole case's deadline: round the clock when every step is."""
    kinds = {step_clock(limits, urgency, s) for s in STEPS}
    return "calendar" if kinds == {"calendar"} else "working"


def final_due(cal: WorkCalendar, limits: dict[str, Any] | None, urgency: str,
              start: dt.datetime) -> dt.datetime:
    """Due time of the whole case: the four steps one after the other from ``start``, each
    on its own clock (working-time steps: the sum of their limits, as before)."""
    t = start
    for s in STEPS:
        t = clock_of(cal, step_clock(limits, urgency, s)).add_working_minutes(
            t, step_limit(limits, urgency, s))
    return t


def check_limits(limits: Any) -> dict[str, Any]:
    """A category's ``limits`` as an admin edits them: per urgency (一般/紧急) each step's
    minutes (a number, or ``{"minutes", "clock"}``) and optionally the urgency's ``clock``.

    Raises
    ------
    InvalidInput
        Naming the urgency, step or value that is wrong.
    """
    from geo.db.tables.vocab import URGENCY
    from geo.errors import InvalidInput

    if not isinstance(limits, dict) or not limits:
        raise InvalidInput("limits 须为 {紧急程度: {环节: 分钟}} / limits must be an object "
                           '{"normal": {"register": 30, ...}, "urgent": {...}}', field="limits")
    steps = (*STEPS, "close")
    for urgency, table in limits.items():
        if urgency not in URGENCY.codes or not isinstance(table, dict):
            raise InvalidInput(f"未知紧急程度 {urgency!r} / unknown urgency {urgency!r}; valid: "
                               f"{list(URGENCY.codes)}", field="limits")
        for key, value in table.items():
            if key == "clock":
                if value not in CLOCKS:
                    raise InvalidInput(f"clock 须为 {CLOCKS} / clock must be one of {CLOCKS}",
                                       field="limits")
                continue
            if key not in steps:
                raise InvalidInput(f"未知环节 {key!r} / unknown step {key!r}; valid: "
                                   f"{list(steps)}", field="limits")
            minutes = value.get("minutes") if isinstance(value, dict) else value
            clock = value.get("clock", "working") if isinstance(value, dict) else "working"
            if (not isinstance(minutes, int) or isinstance(minutes, bool)
                    or not 1 <= minutes <= 480 * 60 or clock not in CLOCKS):
                raise InvalidInput(
                    f"{urgency}.{key} 须为 1..28800 分钟 (可带 clock: working/calendar) / "
                    f"{urgency}.{key} must be 1..28800 minutes (optionally with clock "
                    "working or calendar)", field="limits")
    return limits


def start_clock(
    cal: WorkCalendar,
    limits: dict[str, Any] | None,
    urgency: str,
    step: str,
    start: dt.datetime,
    extension_min: int = 0,
) -> tuple[dt.datetime, dict[str, Any]]:
    """Due time of ``step`` started at ``start`` and the clock's description (JSON)."""
    limit = step_limit(limits, urgency, step)
    kind = step_clock(limits, urgency, step)
    due = clock_of(cal, kind).add_working_minutes(start, limit + extension_min)
    warnings = cal.take_warnings()
    clock = {
        "step": step, "started_at": start.isoformat(), "limit_min": limit,
        "clock": kind, "final_clock": final_clock(limits, urgency),
        "extension_min": extension_min, "due_at": due.isoformat(),
        "calendar_incomplete": bool(warnings), "warnings": warnings,
    }
    return due, clock
