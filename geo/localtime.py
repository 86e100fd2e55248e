"""China Standard Time: the one time-zone module of Wangge.

Every local date (report day, duty day, period bounds, working-time clocks) is a date in China
Standard Time. :data:`CST` is the fixed UTC+08:00 offset: the ``Asia/Shanghai`` zone has had no
daylight saving since 1991, so for the data Wangge holds the two agree, and the fixed offset keeps
timestamps, their ``isoformat()`` and pandas dtypes exactly as before. :data:`TZ_NAME` is the IANA
name for the places that need one (PostgreSQL ``AT TIME ZONE``, pandas ``tz_convert``, importer
defaults).
"""

from __future__ import annotations

import datetime as dt

from geo.errors import InvalidInput

TZ_NAME = "Asia/Shanghai"
CST = dt.timezone(dt.timedelta(hours=8))


def now() -> dt.datetime:
    """Now, as an aware datetime in China Standard Time.

    Returns
    -------
    datetime.datetime
        The current instant with tzinfo :data:`CST`.
    """
    return dt.datetime.now(CST)


# The dates a request may name (periods, as_of, datetime filters): wide enough for any record,
# narrow enough that a day after the last one still exists (9999-12-31 + 1 day overflows).
YEAR_MIN, YEAR_MAX = 1900, 2200


def check_year(value: dt.date | dt.datetime, field: str) -> None:
    """Refuse a date or time outside :data:`YEAR_MIN`..:data:`YEAR_MAX` (a 422 naming
    ``field``): the one date-range rule of every date parameter.

    Parameters
    ----------
    value : datetime.date or datetime.datetime
        The date or instant a caller gave.
    field : str
        The parameter's name, for the error.

    Raises
    ------
    InvalidInput
        When the year is outside the range.
    """
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise InvalidInput(f"日期 {value} 超出 {YEAR_MIN}-{YEAR_MAX} / date {value} is outside "
                           f"{YEAR_MIN}-{YEAR_MAX}", field=field)


def check_aware(t: dt.datetime) -> None:
    """Refuse a naive datetime (one without a time zone).

    Parameters
    ----------
    t : datetime.datetime
        The instant to check.

    Raises
    ------
    InvalidInput
        When ``t`` has no tzinfo.
    """
    if t.tzinfo is None:
        raise InvalidInput(
            f"时间缺少时区 / time without time zone: {t.isoformat()}; add +08:00"
        )


def local_date(t: dt.datetime) -> dt.date:
    """The China Standard Time date of an aware instant.

    Parameters
    ----------
    t : datetime.datetime
        An aware instant.

    Returns
    -------
    datetime.date
        Its date in CST.

    Raises
    ------
    InvalidInput
        When ``t`` is naive.
    """
    check_aware(t)
    return t.astimezone(CST).date()


def day_start(day: dt.date) -> dt.datetime:
    """The first instant (00:00 CST) of a local date.

    Parameters
    ----------
    day : datetime.date
        A local date.

    Returns
    -------
    datetime.datetime
        ``day`` 00:00 in CST.
    """
    return dt.datetime.combine(day, dt.time(0), CST)


def local_date_sql(expr: str) -> str:
    """SQL for the CST date of a ``timestamptz`` expression.

    Parameters
    ----------
    expr : str
        A SQL expression of type ``timestamptz`` (a column or ``now()``).

    Returns
    -------
    str
        ``(expr AT TIME ZONE 'Asia/Shanghai')::date``.
    """
    return f"({expr} AT TIME ZONE '{TZ_NAME}')::date"
