"""Working-time deadlines: China's holidays and make-up days, unknown years, the admin CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from geo.incidents.calendar import WorkCalendar, load_calendar, seed_rows
from geo.localtime import CST


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=CST)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    c = WorkCalendar()
    for r in seed_rows():
        day = r["day"]
        assert isinstance(day, dt.date)
        c.overrides[day] = r["kind"] == "workday"
        c.known_years.add(day.year)
    return c


def test_national_day_2025_is_skipped(cal: WorkCalendar) -> None:
    # Tue 30 Sep 15:20 + 960 working minutes (two days): 160 that afternoon, Oct 1-8 off,
    # Thu Oct 9 480, Fri Oct 10 08:30-12:00 210 + 13:30-15:20 110.
    assert cal.add_working_minutes(t("2025-09-30T15:20"), 960) == t("2025-10-10T15:20")
    # Weekends only would have said Thu Oct 2.
    plain = WorkCalendar(known_years={2025})
    assert plain.add_working_minutes(t("2025-09-30T15:20"), 960) == t("2025-10-02T15:20")
    assert cal.take_warnings() == []


def test_make_up_working_day_counts(cal: WorkCalendar) -> None:
    # Sat 27 Sep 2025 is off; Sun 28 Sep is a make-up working day (调休上班).
    assert not cal.is_workday(dt.date(2025, 9, 27))
    assert cal.is_workday(dt.date(2025, 9, 28))
    assert cal.add_working_minutes(t("2025-09-27T10:00"), 30) == t("2025-09-28T09:00")
    # ... and Sat 11 Oct 2025 too.
    assert cal.add_working_minutes(t("2025-10-10T17:50"), 20) == t("2025-10-11T08:40")


def test_working_hours_and_lunch_break(cal: WorkCalendar) -> None:
    assert cal.add_working_minutes(t("2025-09-30T11:50"), 20) == t("2025-09-30T13:40")
    assert cal.add_working_minutes(t("2025-09-30T07:00"), 0) == t("2025-09-30T08:30")
    assert cal.working_minutes_between(t("2025-09-30T09:00"), t("2025-10-09T09:00")) == \
        pytest.approx(450 + 30)
    assert cal.working_minutes_between(t("2025-10-09T09:00"), t("2025-09-30T09:00")) == \
        pytest.approx(-480)


def test_unknown_year_falls_back_to_weekends_with_a_warning(cal: WorkCalendar) -> None:
    due = cal.add_working_minutes(t("2026-12-31T17:00"), 120)
    # 60 on Thu 31 Dec, then Fri 1 Jan 2027 counted as a working day (nobody entered 2027).
    assert due == t("2027-01-01T09:30")
    warnings = cal.take_warnings()
    assert len(warnings) == 1 and "2027" in warnings[0] and "calendar_incomplete" in warnings[0]
    assert cal.take_warnings() == []


def test_naive_time_is_a_clear_error(cal: WorkCalendar) -> None:
    from geo.errors import InvalidInput

    with pytest.raises(InvalidInput, match="时区"):
        cal.add_working_minutes(dt.datetime(2025, 1, 2, 9), 10)


def test_holiday_table_seeded_and_extended_by_cli(empty_url: str, monkeypatch) -> None:
    from api.cli import main
    from geo.db.migrate import upgrade

    engine = create_engine(empty_url)
    upgrade(engine)
    with engine.connect() as conn:
        n, lo, hi = conn.execute(text(
            "SELECT count(*), min(day), max(day) FROM holiday")).one()
        assert n > 600 and lo.year == 2004 and hi.year == 2026
        cal = load_calendar(conn)
        assert cal.is_workday(dt.date(2025, 9, 28)) and not cal.is_workday(dt.date(2025, 10, 8))
        cal.add_working_minutes(t("2027-01-04T09:00"), 10)
        assert cal.take_warnings()
    monkeypatch.setenv("WANGGE_DATABASE_URL", empty_url)
    runner = CliRunner()
    res = runner.invoke(main, ["incidents", "holidays", "add", "2027-01-01", "--holiday",
                               "--name", "元旦"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["incidents", "holidays", "add", "2027-01-02", "--workday"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["incidents", "holidays", "add", "2027-13-01", "--workday"])
    assert res.exit_code != 0 and "2027-13-01" in res.output
    with engine.connect() as conn:
        cal = load_calendar(conn)
        assert not cal.is_workday(dt.date(2027, 1, 1))
        assert cal.is_workday(dt.date(2027, 1, 2))  # a Saturday entered as a workday
        assert cal.add_working_minutes(t("2026-12-31T17:00"), 120) == t("2027-01-02T09:30")
        assert cal.take_warnings() == []  # 2027 is entered now
    res = runner.invoke(main, ["incidents", "holidays", "list", "--year", "2027"])
    assert res.exit_code == 0 and "元旦" in res.output
    engine.dispose()
