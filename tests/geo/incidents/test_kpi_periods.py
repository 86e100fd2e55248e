"""Calendar units of geo.periods (no database): months, ISO weeks and days, cut to a range;
the previous unit (环比), the same unit a year earlier (同比), today / this week / this month."""

from __future__ import annotations

import datetime as dt

import pytest

from geo import periods
from geo.errors import InvalidInput
from geo.localtime import CST

D = dt.date


def test_months_cut_to_the_range() -> None:
    got = periods.spans(D(2026, 10, 15), D(2026, 12, 10), "month")
    assert [(s.label, s.first, s.end, s.partial) for s in got] == [
        ("2026-10", D(2026, 10, 15), D(2026, 11, 1), True),
        ("2026-11", D(2026, 11, 1), D(2026, 12, 1), False),
        ("2026-12", D(2026, 12, 1), D(2026, 12, 10), True)]
    assert got[0].name_zh == "2026年10月"
    # the earlier units are cut the same way
    assert (got[0].previous().first, got[0].previous().end) == (D(2026, 9, 15), D(2026, 10, 1))
    before = got[2].year_earlier()
    assert before is not None and (before.first, before.end) == (D(2025, 12, 1), D(2025, 12, 10))


def test_iso_weeks() -> None:
    got = periods.spans(D(2026, 12, 30), D(2027, 1, 12), "week")
    assert [s.label for s in got] == ["2026-W53", "2027-W01", "2027-W02"]
    assert got[0].start == D(2026, 12, 28) and got[0].first == D(2026, 12, 30)
    assert got[1].name_zh == "2027年第1周"
    assert got[0].year_earlier() is None  # 2025 has 52 ISO weeks
    w1 = got[1].year_earlier()
    assert w1 is not None and w1.label == "2026-W01" and w1.start == D(2025, 12, 29)
    assert got[1].previous().label == "2026-W53"


def test_days_and_month_arithmetic() -> None:
    assert [s.label for s in periods.spans(D(2026, 2, 27), D(2026, 3, 2), "day")] == [
        "2026-02-27", "2026-02-28", "2026-03-01"]
    assert periods.add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert periods.add_months(D(2028, 2, 29), -12) == D(2027, 2, 28)
    assert periods.add_months(D(2026, 1, 15), -13) == D(2024, 12, 15)
    leap = periods.spans(D(2028, 2, 29), D(2028, 3, 1), "day")[0].year_earlier()
    assert leap is not None and (leap.first, leap.end) == (D(2027, 2, 28), D(2027, 3, 1))


def test_previous_range() -> None:
    assert periods.previous_range(D(2026, 9, 1), D(2026, 11, 1)) == (D(2026, 7, 1),
                                                                      D(2026, 9, 1))
    assert periods.previous_range(D(2026, 3, 1), D(2026, 4, 1)) == (D(2026, 2, 1),
                                                                    D(2026, 3, 1))
    assert periods.previous_range(D(2026, 10, 5), D(2026, 10, 12)) == (D(2026, 9, 28),
                                                                       D(2026, 10, 5))


def test_current_period() -> None:
    at = dt.datetime(2026, 11, 1, 0, 30, tzinfo=CST)  # Sunday, just after midnight
    assert periods.current_period("all", at) is None
    today = periods.current_period("today", at)
    week = periods.current_period("week", at)
    month = periods.current_period("month", at)
    assert today is not None and week is not None and month is not None
    assert (today.first_day, today.last_day) == (D(2026, 11, 1), D(2026, 11, 1))
    assert (week.first_day, week.last_day) == (D(2026, 10, 26), D(2026, 11, 1))
    assert (month.first_day, month.last_day) == (D(2026, 11, 1), D(2026, 11, 30))
    # an instant given in UTC is placed by its China Standard Time date
    utc = periods.current_period("today", dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC))
    assert utc is not None and utc.first_day == D(2026, 11, 1)


def test_unknown_units_are_refused_listing_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as exc:
        periods.check_unit("year")
    assert exc.value.detail["valid"] == ["month", "week", "day"]
    assert exc.value.message.startswith("未知时段")
    with pytest.raises(InvalidInput) as exc:
        periods.current_period("yesterday", dt.datetime(2026, 1, 1, tzinfo=CST))
    assert exc.value.detail["valid"] == ["all", "today", "week", "month"]
