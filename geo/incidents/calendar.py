"""China's working calendar: statutory holidays, make-up working days, working minutes.

The ``holiday`` table holds the exceptions to "Monday-Friday work": statutory holidays
(``kind = 'holiday'``) and make-up working days on weekends (``kind = 'workday'``). It is
seeded from the ``chinese-calendar`` package (2004-2026) by migration 0004 and extended by an
admin (``wangge incidents holidays add``) when the State Council publishes a new year's schedule.

A year with no row at all is *unknown*: it falls back to weekends-only, and every computation
that touched it reports ``calendar_incomplete`` with a warning (never an exception).

Working hours are 08:30-12:00 and 13:30-18:00 China Standard Time: 480 minutes a day, the
unit of the category limits (a "day" in ``geo.incidents.reference`` is 480 working minutes).

A step may also run round the clock (:class:`RoundTheClock`: urgent cases, a missing manhole
cover at night); :func:`clock_of` gives the one or the other by the step's clock
(:func:`geo.incidents.flow.step_clock`).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from geo.errors import InvalidInput
from geo.localtime import CST, check_aware

log = logging.getLogger("wangge.calendar")

# Working periods of a working day, minutes after midnight (local time).
WORK_PERIODS: tuple[tuple[int, int], ...] = ((8 * 60 + 30, 12 * 60), (13 * 60 + 30, 18 * 60))
DAY_MINUTES = sum(b - a for a, b in WORK_PERIODS)
# The extensions a field worker may ask for, in working minutes, as she thinks of them.
EXTENSION_CHOICES = (120, 240, DAY_MINUTES, 2 * DAY_MINUTES, 3 * DAY_MINUTES, 5 * DAY_MINUTES)
NATIONAL = "CN"  # region_code of nationwide rows
MAX_DAYS = 3660  # a deadline further than ten years away is a configuration error


@dataclass
class WorkCalendar:
    """Working-day rules: overrides by date and the set of years somebody entered."""

    overrides: dict[dt.date, bool] = field(default_factory=dict)  # True = working day
    known_years: set[int] = field(default_factory=set)
    touched_unknown: set[int] = field(default_factory=set)

    def is_workday(self, day: dt.date) -> bool:
        """True when ``day`` is a working day (weekends-only for years nobody entered)."""
        if day in self.overrides:
            return self.overrides[day]
        if day.year not in self.known_years:
            self.touched_unknown.add(day.year)
        return day.weekday() < 5

    def take_warnings(self) -> list[str]:
        """Warnings for unknown years touched since the last call (and forget them)."""
        years = sorted(self.touched_unknown)
        self.touched_unknown = set()
        return [unknown_year_warning(y) for y in years]

    def add_working_minutes(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The instant ``minutes`` working minutes after ``start`` (aware datetime, CST).

        Starting outside working hours counts from the next working period's start.
        """
        check_aware(start)
        if minutes < 0:
            raise InvalidInput(f"工作分钟数不能为负 / working minutes must be >= 0: {minutes}")
        local = start.astimezone(CST)
        day = local.date()
        minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
        left = float(minutes)
        for _ in range(MAX_DAYS):
            if self.is_workday(day):
                for a, b in WORK_PERIODS:
                    if minute >= b:
                        continue
                    begin = max(minute, a)
                    avail = b - begin
                    if left <= avail:
                        return _at(day, begin + left)
                    left -= avail
                    minute = b
            day += dt.timedelta(days=1)
            minute = 0.0
        raise InvalidInput(f"期限超过十年 / deadline more than ten years away ({minutes} min)")

    def working_minutes_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Working minutes in [a, b) (negative when b < a)."""
        check_aware(a)
        check_aware(b)
        if b < a:
            return -self.working_minutes_between(b, a)
        la, lb = a.astimezone(CST), b.astimezone(CST)
        total = 0.0
        day = la.date()
        for _ in range(MAX_DAYS + 1):
            if day > lb.date():
                break
            if self.is_workday(day):
                lo = _minute_of(la) if day == la.date() else 0.0
                hi = _minute_of(lb) if day == lb.date() else 24 * 60.0
                for p, q in WORK_PERIODS:
                    total += max(0.0, min(q, hi) - max(p, lo))
            day += dt.timedelta(days=1)
        return total


class RoundTheClock:
    """Calendar time: every minute counts, nights, weekends and holidays included. The same
    interface as :class:`WorkCalendar`, so a deadline is computed one way whatever its clock."""

    def add_working_minutes(self, start: dt.datetime, minutes: float) -> dt.datetime:
        """The instant ``minutes`` minutes after ``start``."""
        check_aware(start)
        if minutes < 0:
            raise InvalidInput(f"分钟数不能为负 / minutes must be >= 0: {minutes}")
        if minutes > MAX_DAYS * 24 * 60:
            raise InvalidInput(f"期限超过十年 / deadline more than ten years away ({minutes} min)")
        return start + dt.timedelta(minutes=minutes)

    def working_minutes_between(self, a: dt.datetime, b: dt.datetime) -> float:
        """Minutes from ``a`` to ``b`` (negative when b < a)."""
        check_aware(a)
        check_aware(b)
        return (b - a).total_seconds() / 60

    def take_warnings(self) -> list[str]:
        """None: calendar time needs no holiday schedule."""
        return []


Clock = WorkCalendar | RoundTheClock


def clock_of(cal: WorkCalendar, kind: str | None) -> Clock:
    """The clock a step runs on: ``calendar`` (round the clock) or working time (``cal``)."""
    return RoundTheClock() if kind == "calendar" else cal


def _minute_of(t: dt.datetime) -> float:
    return t.hour * 60 + t.minute + t.second / 60 + t.microsecond / 6e7


def _at(day: dt.date, minute: float) -> dt.datetime:
    base = dt.datetime(day.year, day.month, day.day, tzinfo=CST)
    return base + dt.timedelta(minutes=minute)


def unknown_year_warning(year: int) -> str:
    """The warning for a year that nobody entered in the holiday table."""
    return (
        f"{year} 年的法定节假日与调休安排尚未录入, 期限按仅周末休息计算, 可能不准确; 请管理员用 "
        f"`wangge incidents holidays add` 录入 / China's {year} holiday schedule is not in the "
        f"holiday table: deadlines count weekends only and may be wrong (calendar_incomplete); "
        f"an admin adds it with `wangge incidents holidays add DATE --holiday/--workday` or "
        f"`wangge incidents holidays load FILE.csv`"
    )


def load_calendar(conn: Connection, region_code: str | None = None) -> WorkCalendar:
    """Read the holiday table (national rows plus ``region_code``'s own) into a calendar."""
    rows = conn.execute(
        text("SELECT day, kind FROM holiday WHERE region_code = :n OR region_code = :r "
             "ORDER BY (region_code = :n) DESC"),
        {"n": NATIONAL, "r": region_code or NATIONAL},
    ).all()
    cal = WorkCalendar()
    for day, kind in rows:  # regional rows come last and win
        cal.overrides[day] = kind == "workday"
        cal.known_years.add(day.year)
    return cal


def seed_rows() -> list[dict[str, object]]:
    """Holiday-table rows from the ``chinese-calendar`` package (every year it knows)."""
    import chinese_calendar

    rows: list[dict[str, object]] = []
    for day, name in sorted(chinese_calendar.holidays.items()):
        rows.append({"day": day, "kind": "holiday", "name": str(name)})
    for day, name in sorted(chinese_calendar.workdays.items()):
        if day.weekday() >= 5:  # a make-up working day on a weekend
            rows.append({"day": day, "kind": "workday", "name": str(name)})
    return rows


def set_day(
    conn: Connection,
    day: dt.date,
    workday: bool,
    name: str | None = None,
    region_code: str = NATIONAL,
    source: str = "admin",
) -> dict[str, object]:
    """Enter (or change) one day: a statutory holiday or a make-up working day."""
    kind = "workday" if workday else "holiday"
    conn.execute(
        text("INSERT INTO holiday (region_code, day, kind, name, source) "
             "VALUES (:r, :d, :k, :n, :s) ON CONFLICT (region_code, day) DO UPDATE "
             "SET kind = EXCLUDED.kind, name = EXCLUDED.name, source = EXCLUDED.source"),
        {"r": region_code, "d": day, "k": kind, "n": name, "s": source},
    )
    return {"day": day.isoformat(), "kind": kind, "name": name, "region_code": region_code}


def list_days(conn: Connection, year: int | None = None) -> list[dict[str, object]]:
    """Rows of the holiday table, optionally one year."""
    sql = "SELECT region_code, day, kind, name, source FROM holiday"
    params: dict[str, object] = {}
    if year is not None:
        sql += " WHERE extract(year FROM day) = :y"
        params["y"] = year
    rows = conn.execute(text(sql + " ORDER BY day, region_code"), params).mappings().all()
    return [dict(r) for r in rows]


def missing_years(conn: Connection, today: dt.date) -> list[int]:
    """The years a deadline may reach soon whose national schedule nobody entered: this year,
    and from 1 November (when the State Council publishes it) the next one."""
    wanted = {today.year} | ({today.year + 1} if today.month >= 11 else set())
    have = {int(y) for (y,) in conn.execute(text(
        "SELECT DISTINCT extract(year FROM day)::int FROM holiday WHERE region_code = :n "
        "AND extract(year FROM day)::int = ANY(:ys)"), {"n": NATIONAL, "ys": sorted(wanted)})}
    return sorted(wanted - have)


def load_days(conn: Connection, text_csv: str, region_code: str = NATIONAL,
              source: str = "file") -> list[dict[str, object]]:
    """Enter a year's schedule from a CSV file (``date,kind,name``; kind ``holiday``/``假`` or
    ``workday``/``班``; a header line is optional), all rows or none.

    Raises
    ------
    InvalidInput
        Naming the line that is wrong (a date, a kind), before anything is written.
    """
    import csv
    import io

    kinds = {"holiday": False, "假": False, "休": False, "workday": True, "班": True}
    parsed: list[tuple[dt.date, bool, str | None]] = []
    for n, row in enumerate(csv.reader(io.StringIO(text_csv)), start=1):
        if not row or not "".join(row).strip():
            continue
        if n == 1 and row[0].strip().lower() in ("date", "day", "日期"):
            continue
        if len(row) < 2:
            raise InvalidInput(f"第 {n} 行应为 日期,类型[,名称] / line {n}: expected "
                               "date,kind[,name]", field="file")
        try:
            day = dt.date.fromisoformat(row[0].strip())
        except ValueError as exc:
            raise InvalidInput(f"第 {n} 行日期无法识别 {row[0]!r} (例 2027-01-01) / line {n}: "
                               f"date {row[0]!r} not understood (e.g. 2027-01-01)",
                               field="file") from exc
        kind = row[1].strip().lower()
        if kind not in kinds:
            raise InvalidInput(f"第 {n} 行类型应为 holiday/workday (假/班) / line {n}: kind must "
                               f"be holiday or workday, got {row[1]!r}", field="file")
        if kinds[kind] and day.weekday() < 5:
            raise InvalidInput(f"第 {n} 行: {day} 是工作日, 无需登记调休上班 / line {n}: {day} "
                               "is a weekday already; a make-up workday falls on a weekend",
                               field="file")
        parsed.append((day, kinds[kind], (row[2].strip() or None) if len(row) > 2 else None))
    if not parsed:
        raise InvalidInput("文件中没有日期 / the file holds no days", field="file")
    return [set_day(conn, day, work, name, region_code, source) for day, work, name in parsed]


def working_time_label(minutes: int | float) -> str:
    """Working minutes as a worker reads them: ``2 小时``, ``1 个工作日``, ``1 个工作日 4 小时``
    (a working day is :data:`DAY_MINUTES`, 8 hours)."""
    total = int(round(minutes))
    days, rest = divmod(total, DAY_MINUTES)
    hours, mins = divmod(rest, 60)
    parts = ([f"{days} 个工作日"] if days else []) + ([f"{hours} 小时"] if hours else []) + \
        ([f"{mins} 分钟"] if mins else [])
    return " ".join(parts) or "0 分钟"
