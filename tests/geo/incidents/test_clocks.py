"""Clocks per category and urgency (issue 18, item 5): urgent steps run round the clock, the
others in working time with the holiday calendar; each against hand-computed times."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geo.errors import InvalidInput
from geo.incidents.calendar import WorkCalendar
from geo.incidents.flow import check_limits, final_due, start_clock, step_clock
from geo.incidents.reference import CATEGORIES
from geo.localtime import CST
from tests.conftest import own_demo_client

LIMITS = {c[0]: c[7] for c in CATEGORIES}


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST)


def _national_day_2026() -> WorkCalendar:
    """A hand-made calendar: 1-7 October a holiday, Saturday 10 October a make-up workday."""
    cal = WorkCalendar(known_years={2026})
    for d in range(1, 8):
        cal.overrides[dt.date(2026, 10, d)] = False
    cal.overrides[dt.date(2026, 10, 10)] = True
    return cal


def test_urgent_manhole_cover_on_a_saturday_night() -> None:
    cal = _national_day_2026()
    lim = LIMITS["manhole_cover"]
    reported = _t("2026-11-28 21:00")  # a Saturday
    assert reported.weekday() == 5
    due, clock = start_clock(cal, lim, "urgent", "register", reported)
    assert due == _t("2026-11-28 21:10") and clock["clock"] == "calendar"  # not Monday 08:40
    due, _ = start_clock(cal, lim, "urgent", "dispatch", _t("2026-11-28 21:06"))
    assert due == _t("2026-11-28 21:16")
    due, _ = start_clock(cal, lim, "urgent", "handle", _t("2026-11-28 21:12"))
    assert due == _t("2026-11-28 23:12")  # handled within 2 hours, at night
    # the whole case: 10 + 10 + 120 + 60 minutes round the clock
    assert final_due(cal, lim, "urgent", reported) == _t("2026-11-29 00:20")


def test_ordinary_case_over_the_national_day_holiday() -> None:
    cal = _national_day_2026()
    lim = LIMITS["manhole_cover"]  # normal: register 30, dispatch 30, handle 120, verify 120
    assert step_clock(lim, "normal", "register") == "working"
    due, clock = start_clock(cal, lim, "normal", "register", _t("2026-09-30 17:50"))
    # 10 working minutes on 30 Sept, then 1-7 Oct off, Thursday 8 Oct 08:30 + 20
    assert due == _t("2026-10-08 08:50") and clock["clock"] == "working"
    due, _ = start_clock(cal, lim, "normal", "handle", _t("2026-10-09 17:00"))
    # 60 minutes on Friday 9 Oct, Saturday 10 Oct is a make-up workday: 08:30 + 60
    assert due == _t("2026-10-10 09:30")
    # final: 300 working minutes from 30 Sept 17:50 -> 10 that day, 290 on 8 Oct
    # (08:30-12:00 = 210, then 13:30 + 80 = 14:50)
    assert final_due(cal, lim, "normal", _t("2026-09-30 17:50")) == _t("2026-10-08 14:50")


def test_a_category_may_set_its_own_clock() -> None:
    lim = {"normal": {"register": {"minutes": 30, "clock": "calendar"}, "dispatch": 30},
           "urgent": {"clock": "working", "register": 10}}
    assert step_clock(lim, "normal", "register") == "calendar"
    assert step_clock(lim, "normal", "dispatch") == "working"
    assert step_clock(lim, "urgent", "register") == "working"
    for bad in ({}, {"sometimes": {}}, {"normal": {"lunch": 5}}, {"normal": {"register": 0}},
                {"normal": {"register": {"minutes": 5, "clock": "lunar"}}},
                {"urgent": {"clock": "fast"}}, {"normal": {"register": True}}):
        with pytest.raises(InvalidInput):
            check_limits(bad)


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        yield client, {**s, "h": role_headers}


def test_urgent_case_over_the_api_and_admin_limits(env: tuple[TestClient, dict[str, Any]]
                                                   ) -> None:
    client, s = env
    body = {"category": "manhole_cover", "urgency": "urgent", "channel": "12345",
            "lon": s["x"], "lat": s["y"], "description": "井盖缺失"}
    r = client.post("/incidents", json=body, headers=s["h"]["command"])
    assert r.status_code == 201, r.text
    inc = r.json()
    reported = dt.datetime.fromisoformat(inc["reported_at"])
    due = dt.datetime.fromisoformat(inc["due_at"])
    assert (due - reported) == dt.timedelta(minutes=10)  # whatever the hour or the day
    assert inc["deadline"]["clock"] == "calendar"
    # the handling step round the clock too, after dispatch
    for step in ("registered", "dispatched"):
        inc = client.post(f"/incidents/{inc['code']}/transition", json={"to": step},
                          headers=s["h"]["command"]).json()
    handle_due = dt.datetime.fromisoformat(inc["due_at"])
    dispatched = dt.datetime.fromisoformat(inc["dispatched_at"])
    assert handle_due - dispatched == dt.timedelta(minutes=120)
    # an admin changes the category's urgent register limit; a planner may not
    new = {"urgent": {"clock": "calendar", "register": 5, "dispatch": 10, "handle": 120,
                      "verify": 60},
           "normal": {"register": 30, "dispatch": 30, "handle": 120, "verify": 120}}
    assert client.put("/incidents/categories/manhole_cover/limits", json=new,
                      headers=s["h"]["planner"]).status_code == 403
    r = client.put("/incidents/categories/manhole_cover/limits", json=new,
                   headers=s["h"]["admin"])
    assert r.status_code == 200, r.text
    assert r.json()["steps"]["urgent"]["register"] == {"minutes": 5, "clock": "calendar"}
    bad = client.put("/incidents/categories/manhole_cover/limits",
                     json={"urgent": {"register": -1}}, headers=s["h"]["admin"])
    assert bad.status_code == 422
    inc = client.post("/incidents", json=body, headers=s["h"]["command"]).json()
    assert (dt.datetime.fromisoformat(inc["due_at"])
            - dt.datetime.fromisoformat(inc["reported_at"])) == dt.timedelta(minutes=5)


def test_holiday_file_and_the_missing_year_warning(env: tuple[TestClient, dict[str, Any]],
                                                   tmp_path: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from api.cli import main
    from geo.incidents.calendar import load_calendar, missing_years

    client, s = env
    december = dt.date(2026, 12, 5)
    with s["engine"].connect() as conn:
        assert 2027 in missing_years(conn, december)  # published in November, not entered
        assert missing_years(conn, dt.date(2026, 6, 1)) == []
    health = client.get("/health").json()
    with s["engine"].connect() as conn:
        expected = missing_years(conn, dt.date.today())
    assert bool(health.get("warnings")) == bool(expected)
    monkeypatch.setenv("WANGGE_DATABASE_URL", s["engine"].url.render_as_string(
        hide_password=False))
    bad = tmp_path / "bad.csv"
    bad.write_text("日期,类型,名称\n2027-01-01,holiday,元旦\n2027-13-01,holiday,错\n",
                   encoding="utf-8")
    out = CliRunner().invoke(main, ["incidents", "holidays", "load", str(bad)])
    assert out.exit_code != 0 and "第 3 行" in out.output
    with s["engine"].connect() as conn:
        assert 2027 in missing_years(conn, december)  # all or nothing
    good = tmp_path / "2027.csv"
    good.write_text("date,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节调休\n"
                    "2027-02-08,假,春节\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["incidents", "holidays", "load", str(good)])
    assert out.exit_code == 0 and "3 days" in out.output, out.output
    with s["engine"].connect() as conn:
        assert missing_years(conn, december) == []
        cal = load_calendar(conn)
    assert not cal.is_workday(dt.date(2027, 1, 1)) and cal.is_workday(dt.date(2027, 2, 6))
