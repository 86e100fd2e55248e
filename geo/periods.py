"""One period type and its resolution rules.

A :class:`Period` is a half-open interval ``[start, end)`` of aware datetimes in China Standard
Time plus the reference time ``as_of`` ("now" for the period: overdue is judged against it).
Inclusive local dates (``from``/``to`` of the API, the analyses' quarters) become a period with
:meth:`Period.from_dates`. The defaults:

- :func:`make_period` (the planners' analyses): both ends missing -> the last full quarter; one
  end missing -> 91 days from/to the other;
- :func:`resolve_period` (the live maps): without ``to`` the period ends with the day of the
  region's latest report (live data: today); without ``from`` it covers ``default_days`` (30;
  the coverage map asks for 92) before that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geo import localtime
from geo.errors import InvalidInput
from geo.localtime import CST, day_start


@dataclass(frozen=True)
class Period:
    """A half-open period ``[start, end)`` of report times and the reference time ``as_of``.

    Parameters
    ----------
    start : datetime.datetime
        First instant of the period (aware, CST).
    end : datetime.datetime
        First instant after the period (aware, CST, exclusive).
    as_of : datetime.datetime
        The reference time ("now" for the period), at most ``end``.
    """

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime

    @classmethod
    def from_dates(
        cls, first_day: dt.date, last_day: dt.date, as_of: dt.datetime | None = None
    ) -> Period:
        """The period of the local dates ``first_day`` .. ``last_day`` (both inclusive).

        Parameters
        ----------
        first_day, last_day : datetime.date
            First and last local (CST) day of the period.
        as_of : datetime.datetime, optional
            Reference time; defaults to the end of the period.

        Returns
        -------
        Period
            ``[first_day 00:00, last_day + 1 00:00)`` in CST.
        """
        end = day_start(last_day + dt.timedelta(days=1))
        return cls(start=day_start(first_day), end=end, as_of=end if as_of is None else as_of)

    @property
    def first_day(self) -> dt.date:
        """First local (CST) day of the period."""
        return self.start.astimezone(CST).date()

    @property
    def last_day(self) -> dt.date:
        """Last local (CST) day of the period (inclusive)."""
        return (self.end - dt.timedelta(microseconds=1)).astimezone(CST).date()

    def label(self) -> str:
        """``YYYY-MM-DD .. YYYY-MM-DD`` (end inclusive day)."""
        last = self.end - dt.timedelta(seconds=1)
        return f"{self.start:%Y-%m-%d} .. {last:%Y-%m-%d}"

    def as_dict(self) -> dict[str, str]:
        """JSON form: inclusive local dates ``{"from": ..., "to": ...}``."""
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}


def last_full_quarter(today: dt.date | None = None) -> Period:
    """The last calendar quarter that ended before ``today``.

    Parameters
    ----------
    today : datetime.date, optional
        Defaults to today's local (CST) date.

    Returns
    -------
    Period
        The quarter's days.
    """
    today = today or localtime.now().date()
    q_start_month = 3 * ((today.month - 1) // 3) + 1
    this_q = dt.date(today.year, q_start_month, 1)
    end = this_q - dt.timedelta(days=1)
    start = dt.date(end.year, 3 * ((end.month - 1) // 3) + 1, 1)
    return Period.from_dates(start, end)


def make_period(start: dt.date | None, end: dt.date | None) -> Period:
    """The analyses' period: validate it; missing ends default to the last full quarter.

    Parameters
    ----------
    start, end : datetime.date or None
        First and last day (inclusive). Both missing: the last full quarter; one missing: 91
        days from/to the other.

    Returns
    -------
    Period
        The period of those days.

    Raises
    ------
    InvalidInput
        When ``from`` is after ``to`` or the period exceeds 10 years.
    """
    if start is None and end is None:
        return last_full_quarter()
    for value, name in ((start, "from"), (end, "to")):
        if value is not None and not (1900 <= value.year <= 2200):
            raise InvalidInput(
                f"日期 {value} 超出 1900-2200 / date {value} is outside 1900-2200",
                field=name,
            )
    if start is None:
        assert end is not None
        start = end - dt.timedelta(days=91)
    if end is None:
        end = start + dt.timedelta(days=91)
    if start > end:
        raise InvalidInput(
            f"时段起点 {start} 晚于终点 {end} / period start {start} is after its end {end}; "
            "swap from and to",
            field="from",
        )
    if (end - start).days > 3660:
        raise InvalidInput("时段不能超过10年 / the period may not exceed 10 years", field="to")
    return Period.from_dates(start, end)


def latest_report(conn: Connection, region_code: str) -> dt.datetime | None:
    """The latest ``reported_at`` of a region's incidents (None when there are none).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        Database connection.
    region_code : str
        The region.

    Returns
    -------
    datetime.datetime or None
        The latest report time.
    """
    value = conn.execute(
        text("SELECT max(reported_at) FROM incident WHERE region_code = :r"), {"r": region_code}
    ).scalar()
    return value  # type: ignore[no-any-return]


def resolve_period(
    conn: Connection,
    region_code: str,
    start: dt.date | None,
    end: dt.date | None,
    default_days: int = 30,
    now: dt.datetime | None = None,
) -> Period:
    """The live maps' period: optional ``from``/``to`` dates (``to`` inclusive) resolved.

    Without ``to`` the period ends with the day of the region's latest report (live data:
    today); without ``from`` it covers the ``default_days`` before that. ``as_of`` is ``now``,
    or the end of the period when that is earlier.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        Database connection (for the latest report).
    region_code : str
        The region.
    start, end : datetime.date or None
        First and last day (inclusive).
    default_days : int
        Length of the default period in days.
    now : datetime.datetime, optional
        The current time (defaults to :func:`geo.localtime.now`).

    Returns
    -------
    Period
        The resolved period.

    Raises
    ------
    InvalidInput
        When ``from`` is after ``to`` or the period exceeds ten years.
    """
    now = now or localtime.now()
    if end is None:
        latest = latest_report(conn, region_code)
        last_day = localtime.local_date(min(latest, now) if latest else now)
    else:
        last_day = end
    first_day = start or (last_day - dt.timedelta(days=default_days - 1))
    if first_day > last_day:
        raise InvalidInput(
            f"起始日期 from={first_day} 晚于结束日期 to={last_day} / from={first_day} is after "
            f"to={last_day}: swap them", field="from",
        )
    if (last_day - first_day).days > 3660:
        raise InvalidInput(
            "时间段不能超过十年 / the period may not exceed ten years: narrow from/to",
            field="from",
        )
    period = Period.from_dates(first_day, last_day)
    return Period(start=period.start, end=period.end, as_of=min(now, period.end))
