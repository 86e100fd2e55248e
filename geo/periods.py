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

Calendar units (:data:`UNITS`: the day, the ISO week from Monday, the calendar month, in CST)
and their arithmetic live here too: :func:`spans` cuts a range into units, :class:`Span` knows
its previous unit (环比) and the same unit a year earlier (同比), :func:`current_period` is
today / this week / this month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.errors import InvalidInput
from geo.localtime import CST, check_year, day_start


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
        check_year(first_day, "from")
        check_year(last_day, "to")
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
        if value is not None:
            check_year(value, name)  # the one date-range rule (geo.localtime)
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


def first_report(conn: Connection, region_code: str) -> dt.datetime | None:
    """The earliest ``reported_at`` of a region's incidents (None when there are none): where
    the region's data start (a comparison with an earlier period needs data there).

    Parameters
    ----------
    conn : sqlalchemy.Connection
        Database connection.
    region_code : str
        The region.

    Returns
    -------
    datetime.datetime or None
        The earliest report time.
    """
    value = conn.execute(
        text("SELECT min(reported_at) FROM incident WHERE region_code = :r"), {"r": region_code}
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
    for value, field in ((start, "from"), (end, "to")):
        if value is not None:  # before any arithmetic: 0001-01-01 - 29 days overflows
            localtime.check_year(value, field)
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


# Calendar units: the day, the ISO week (Monday .. Sunday, labelled by ISO year and week) and
# the calendar month, all in China Standard Time. The one place for week and month arithmetic:
# KPIs by period (geo.incidents.kpi) and the board's today / this week / this month
# (geo.incidents.views.board) use these.

UNITS = ("month", "week", "day")
UNITS_ZH = {"month": "月", "week": "周", "day": "日"}
#: The longest range a day or week grouping may cover (a month grouping has no limit).
TEN_YEARS_DAYS = 3660


def check_unit(unit: str, field: str = "period") -> str:
    """``unit`` if it is one of :data:`UNITS`; a 422 listing the valid ones otherwise.

    Parameters
    ----------
    unit : str
        ``month``, ``week`` or ``day``.
    field : str
        The parameter that carried it (named in the error).

    Returns
    -------
    str
        ``unit``.

    Raises
    ------
    InvalidInput
        When ``unit`` is not a calendar unit.
    """
    if unit not in UNITS:
        zh = ", ".join(f"{u} ({UNITS_ZH[u]})" for u in UNITS)
        raise InvalidInput(f"未知时段 {unit!r}, 可用: {zh} / unknown {field} {unit!r}; valid: "
                           f"{list(UNITS)}", field=field, valid=list(UNITS))
    return unit


def add_months(day: dt.date, n: int) -> dt.date:
    """``day`` moved by ``n`` calendar months (negative: earlier), clamped to the month's end.

    Parameters
    ----------
    day : datetime.date
        A date.
    n : int
        Months to add.

    Returns
    -------
    datetime.date
        The same day of the month ``n`` months later (01-31 + 1 month -> 02-28 or 02-29).
    """
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def unit_start(day: dt.date, unit: str) -> dt.date:
    """First day of the day / ISO week (Monday) / month holding ``day``."""
    if unit == "month":
        return day.replace(day=1)
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    return day


def unit_after(start: dt.date, unit: str, n: int = 1) -> dt.date:
    """``start`` moved by ``n`` units (months calendar-wise, weeks as 7 days)."""
    if unit == "month":
        return add_months(start, n)
    return start + dt.timedelta(days=(7 if unit == "week" else 1) * n)


def unit_label(start: dt.date, unit: str) -> str:
    """``2026-10`` (month), ``2026-W40`` (ISO week, by ISO year), ``2026-10-05`` (day)."""
    if unit == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return start.isoformat()


def unit_name_zh(start: dt.date, unit: str) -> str:
    """``2026年10月``, ``2026年第40周`` (ISO week), ``2026年10月5日``."""
    if unit == "month":
        return f"{start.year}年{start.month}月"
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}年第{week}周"
    return f"{start.year}年{start.month}月{start.day}日"


@dataclass(frozen=True)
class Span:
    """One day, ISO week or month, cut to a range: the days ``[first, end)``.

    Parameters
    ----------
    unit : str
        ``month``, ``week`` or ``day``.
    start : datetime.date
        First day of the whole unit (uncut).
    first : datetime.date
        First day inside the range.
    end : datetime.date
        First day after the part inside the range (exclusive).
    """

    unit: str
    start: dt.date
    first: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        """The unit's label (:func:`unit_label`)."""
        return unit_label(self.start, self.unit)

    @property
    def name_zh(self) -> str:
        """The unit's Chinese name (:func:`unit_name_zh`)."""
        return unit_name_zh(self.start, self.unit)

    @property
    def partial(self) -> bool:
        """True when the range cuts the unit (its first or last days are outside)."""
        return self.first != self.start or self.end != unit_after(self.start, self.unit)

    def previous(self) -> Span:
        """The unit before, cut the same way (环比: 2026-10-15 .. 10-31 -> 09-15 .. 09-30)."""
        return Span(self.unit, unit_after(self.start, self.unit, -1),
                    unit_after(self.first, self.unit, -1), unit_after(self.end, self.unit, -1))

    def year_earlier(self) -> Span | None:
        """The same unit one year earlier, cut the same way (同比), or None if there is none.

        Months and days: the same calendar month / day (02-29 -> 02-28); ISO weeks: the week
        with the same number in the previous ISO year (None for week 53 when that year has 52).
        """
        if self.unit != "week":
            return Span(self.unit, unit_start(add_months(self.start, -12), self.unit),
                        add_months(self.first, -12), add_months(self.end, -12))
        year, week, _ = self.start.isocalendar()
        try:
            start = dt.date.fromisocalendar(year - 1, week, 1)
        except ValueError:
            return None
        shift = start - self.start
        return Span(self.unit, start, self.first + shift, self.end + shift)


def spans(date_from: dt.date, date_to: dt.date, unit: str) -> list[Span]:
    """The units covering ``[date_from, date_to)``, the first and last cut to the range.

    Parameters
    ----------
    date_from, date_to : datetime.date
        The range (``date_to`` exclusive).
    unit : str
        ``month``, ``week`` or ``day``.

    Returns
    -------
    list of Span
        In time order; empty when the range is empty.
    """
    out = []
    start = unit_start(date_from, unit)
    while start < date_to:
        after = unit_after(start, unit)
        out.append(Span(unit, start, max(start, date_from), min(after, date_to)))
        start = after
    return out


def previous_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.date, dt.date]:
    """The range of the same length just before ``[date_from, date_to)`` (环比 of a range).

    Whole months (both ends on the 1st) step back by as many months (2026-10-01 .. 11-01 ->
    09-01 .. 10-01); any other range by as many days.
    """
    if date_from.day == 1 and date_to.day == 1:
        months = (date_to.year - date_from.year) * 12 + date_to.month - date_from.month
        return add_months(date_from, -months), date_from
    return date_from - (date_to - date_from), date_from


#: The board's periods: the current day, ISO week or month (CST) at ``as_of``; ``all``: no limit.
CURRENT = {"today": "day", "week": "week", "month": "month"}
CURRENT_ZH = {"all": "全部", "today": "今日", "week": "本周", "month": "本月"}


def current_period(name: str, at: dt.datetime, field: str = "period") -> Period | None:
    """The day / ISO week / month (CST) holding ``at``, as a :class:`Period`; None for ``all``.

    Parameters
    ----------
    name : str
        ``today``, ``week``, ``month`` or ``all``.
    at : datetime.datetime
        The reference time (aware); it becomes the period's ``as_of``.
    field : str
        The parameter that carried ``name`` (named in the error).

    Returns
    -------
    Period or None
        ``[first day 00:00, first day after 00:00)`` in CST; None for ``all``.

    Raises
    ------
    InvalidInput
        For any other name (the error lists the valid ones).
    """
    if name == "all":
        return None
    if name not in CURRENT:
        valid = ["all", *CURRENT]
        zh = ", ".join(f"{v} ({CURRENT_ZH[v]})" for v in valid)
        raise InvalidInput(f"未知时段 {name!r}, 可用: {zh} / unknown {field} {name!r}; valid: "
                           f"{valid}", field=field, valid=valid)
    unit = CURRENT[name]
    start = unit_start(localtime.local_date(at), unit)
    return Period(start=day_start(start), end=day_start(unit_after(start, unit)), as_of=at)


def range_or_current_month(date_from: dt.date | None, date_to: dt.date | None,
                           at: dt.datetime | None = None,
                           ) -> tuple[dt.date, dt.date, dict[str, Any]]:
    """``[from, to)`` of a request about reports (``/kpi``, ``/reports/monthly``), and what it
    says about the period it used: the range given, or without one the current calendar month
    in China Standard Time (Asia/Shanghai) at ``at`` (default now).

    Returns
    -------
    tuple
        First day, first day after (exclusive), and ``period_used``: ``{from, to (exclusive),
        month, default, zh, en}`` (``default``: no period was given).

    Raises
    ------
    InvalidInput
        One end given without the other (422 naming the missing one).
    """
    if (date_from is None) != (date_to is None):
        missing = "to" if date_to is None else "from"
        raise InvalidInput(f"缺少 {missing}: 请同时给出 from 和 to, 或都不给 (默认本月) / missing "
                           f"{missing}: give both from and to, or neither (the current month)",
                           field=missing)
    default = date_from is None
    if date_from is None or date_to is None:
        month = current_period("month", at or localtime.now())
        assert month is not None  # "month" is never "all"
        date_from, date_to = month.first_day, month.last_day + dt.timedelta(days=1)
    label = unit_label(date_from, "month") if (
        date_from.day == 1 and date_to == unit_after(date_from, "month")) else None
    shown = label or f"{date_from.isoformat()} .. {date_to - dt.timedelta(days=1)}"
    return date_from, date_to, {
        "from": date_from.isoformat(), "to": date_to.isoformat(), "month": label,
        "default": default, "time_zone": localtime.TZ_NAME,
        "zh": (f"未指定时段, 按本月 {shown} (北京时间)" if default else f"时段 {shown}"),
        "en": (f"no period given: the current month {shown} (Asia/Shanghai)" if default
               else f"period {shown}"),
    }
