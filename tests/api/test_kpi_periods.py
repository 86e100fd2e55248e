"""KPIs over time on the demo (issue 16, item 3): ``/kpi?group_by=month|week|day``, a grouping
split by period (``group_by=township&period=month``), 同比 (``yoy``) and 环比 (``pop``), the
board of today / this week / this month, and ``wangge incidents kpi``.

The demo's reports run from 2025-01-01 to 2026-10-30: October 2026 has a year-earlier month
(2025-10) and a previous one (2026-09); January 2025 has neither.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

AS_OF = "2026-11-01T08:00:00+08:00"
METRICS = ("reports", "repeat_reports", "cases", "due", "closed", "closed_on_time", "open",
           "open_overdue", "handled_once", "reworked", "closing_rate", "on_time_rate",
           "avg_handling_h", "rework_rate", "repeat_rate")
ADDITIVE = ("reports", "repeat_reports", "cases", "due", "closed", "closed_on_time", "open",
            "open_overdue", "handled_once", "reworked")
CHINESE_FIRST = re.compile(r"^[^/]*[\u4e00-\u9fff][^/]*/ .*[a-z]")


def get_kpi(client: Any, headers: dict[str, str] | None = None, **params: str) -> Any:
    r = client.get("/kpi", params={"as_of": AS_OF, **params}, headers=headers or {})
    assert r.status_code == 200, r.text
    return r.json()


def month_total(client: Any, first: str, after: str, **extra: str) -> dict[str, Any]:
    return get_kpi(client, **{"from": first, "to": after, **extra})["total"]  # type: ignore


def test_a_month_row_equals_the_months_own_kpi_and_its_days_add_up(client: Any) -> None:
    body = get_kpi(client, **{"from": "2026-01-01", "to": "2026-11-01", "group_by": "month"})
    assert body["group_by"] == "month" and body["period"] == "month"
    assert [g["period"] for g in body["groups"]] == [f"2026-{m:02d}" for m in range(1, 11)]
    october = body["groups"][-1]
    assert (october["key"], october["name"], october["from"], october["to"]) == (
        "2026-10", "2026年10月", "2026-10-01", "2026-11-01")
    assert october["partial"] is False and october["ongoing"] is False
    alone = month_total(client, "2026-10-01", "2026-11-01")
    assert alone["reports"] > 800
    for m in METRICS:
        assert october[m] == alone[m], m
    days = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01", "group_by": "day"})
    assert len(days["groups"]) == 31 and days["groups"][4]["period"] == "2026-10-05"
    for m in ADDITIVE:
        assert sum(d[m] for d in days["groups"]) == october[m], m
    assert days["total"]["reports"] == october["reports"]
    # the months add up to the range's total too
    for m in ADDITIVE:
        assert sum(g[m] for g in body["groups"]) == body["total"][m], m


def test_weeks_are_iso_weeks_cut_to_the_range(client: Any) -> None:
    body = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01", "group_by": "week"})
    weeks = body["groups"]
    assert [w["period"] for w in weeks] == ["2026-W40", "2026-W41", "2026-W42", "2026-W43",
                                            "2026-W44"]
    assert (weeks[0]["from"], weeks[0]["to"], weeks[0]["partial"]) == (
        "2026-10-01", "2026-10-05", True)  # W40 starts Monday 09-28, cut by from
    assert (weeks[1]["from"], weeks[1]["to"], weeks[1]["partial"]) == (
        "2026-10-05", "2026-10-12", False)
    assert weeks[1]["name"] == "2026年第41周"
    assert weeks[-1]["to"] == "2026-11-01" and weeks[-1]["partial"]
    assert sum(w["reports"] for w in weeks) == body["total"]["reports"]
    # 同比 of an ISO week: the week with the same number a year earlier
    assert weeks[1]["yoy"]["label"] == "2025-W41"
    assert (weeks[1]["yoy"]["from"], weeks[1]["yoy"]["to"]) == ("2025-10-06", "2025-10-13")
    assert weeks[1]["pop"]["label"] == "2026-W40"
    # a cut week compares with the same days of the earlier week
    assert (weeks[0]["pop"]["from"], weeks[0]["pop"]["to"]) == ("2026-09-24", "2026-09-28")
    wk = month_total(client, "2026-10-05", "2026-10-12")
    for m in METRICS:
        assert weeks[1][m] == wk[m], m


def test_yoy_and_pop_hold_the_earlier_periods_values_and_the_changes(client: Any) -> None:
    body = get_kpi(client, **{"from": "2026-09-01", "to": "2026-11-01", "group_by": "month"})
    october = body["groups"][1]
    last_year = month_total(client, "2025-10-01", "2025-11-01")
    september = month_total(client, "2026-09-01", "2026-10-01")
    for name, earlier, label in (("yoy", last_year, "2025-10"), ("pop", september, "2026-09")):
        cmp = october[name]
        assert cmp["label"] == label, name
        for m, value in cmp["base"].items():
            assert value == earlier[m], (name, m)
        assert cmp["change"]["reports"] == october["reports"] - earlier["reports"]
        assert cmp["change_pct"]["reports"] == pytest.approx(
            (october["reports"] - earlier["reports"]) / earlier["reports"] * 100, abs=0.01)
        # rates: the change in percentage points
        assert cmp["change_pp"]["closing_rate"] == pytest.approx(
            (october["closing_rate"] - earlier["closing_rate"]) * 100, abs=0.01)
        assert "closing_rate" not in cmp["change"] and "reports" not in cmp["change_pp"]
    # the whole range: a year earlier, and the two months before (whole months step by months)
    total = body["total"]
    assert (total["yoy"]["from"], total["yoy"]["to"]) == ("2025-09-01", "2025-11-01")
    assert (total["pop"]["from"], total["pop"]["to"]) == ("2026-07-01", "2026-09-01")
    assert total["pop"]["base"]["reports"] == month_total(client, "2026-07-01",
                                                          "2026-09-01")["reports"]
    labels = body["metrics_zh"]
    assert labels["yoy"] == "同比" and labels["pop"] == "环比"
    assert labels["change_pp"] == "增减(百分点)"


def test_no_comparison_without_earlier_data_and_the_reason_is_given(client: Any) -> None:
    body = get_kpi(client, **{"from": "2025-01-01", "to": "2025-03-01", "group_by": "month"})
    january, february = body["groups"]
    assert january["yoy"] is None and january["pop"] is None
    assert "2025-01-01" in january["yoy_reason"] and "2024-01-01" in january["yoy_reason"]
    assert CHINESE_FIRST.match(january["yoy_reason"]), january["yoy_reason"]
    assert january["pop_reason"].startswith("上一时段")
    assert february["yoy"] is None and february["pop"]["label"] == "2025-01"
    assert body["total"]["yoy"] is None and body["total"]["pop"] is None
    # a group with no reports in the earlier period: null, "no reports"
    by_town = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01",
                                 "group_by": "township", "period": "day"})
    empty = [g for g in by_town["groups"] if g["pop"] is None]
    assert empty and all("无上报" in g["pop_reason"] for g in empty)


def test_a_grouping_split_by_period(client: Any) -> None:
    body = get_kpi(client, **{"from": "2026-09-01", "to": "2026-11-01",
                              "group_by": "township", "period": "month"})
    assert body["group_by"] == "township" and body["period"] == "month"
    assert [p["period"] for p in body["periods"]] == ["2026-09", "2026-10"]
    rows = body["groups"]
    assert [r["period"] for r in rows] == sorted(r["period"] for r in rows)
    for p in body["periods"]:
        mine = [r for r in rows if r["period"] == p["period"]]
        for m in ADDITIVE:
            assert sum(r[m] for r in mine) == p[m], (p["period"], m)
    # a township's October row is that township's row of /kpi for October
    alone = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01",
                               "group_by": "township"})["groups"]
    october = {r["key"]: r for r in rows if r["period"] == "2026-10"}
    assert set(october) == {r["key"] for r in alone}
    for row in alone:
        for m in (*METRICS, "name"):
            assert october[row["key"]][m] == row[m], (row["key"], m)
    # ... and its 同比 is the same township's October 2025
    last_year = {r["key"]: r for r in get_kpi(client, **{
        "from": "2025-10-01", "to": "2025-11-01", "group_by": "township"})["groups"]}
    town = max(alone, key=lambda r: r["reports"])["key"]
    assert october[town]["yoy"]["base"]["reports"] == last_year[town]["reports"]
    assert october[town]["pop"]["label"] == "2026-09"


def test_plain_groupings_keep_their_shape_and_gain_comparisons(client: Any) -> None:
    body = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01",
                              "group_by": "category"})
    assert body["period"] is None and "periods" not in body
    row = body["groups"][0]
    assert "period" not in row and row["yoy"]["label"] == "2025-10"
    assert body["total"]["key"] == "TOTAL"


def test_kpi_by_period_stays_in_the_callers_scope(client: Any,
                                                  role_headers: dict[str, Any]) -> None:
    params = {"from": "2026-09-01", "to": "2026-11-01"}
    everyone = get_kpi(client, role_headers["command"], **params, group_by="month")
    worker = get_kpi(client, role_headers["worker"], **params, group_by="month")
    worker_plain = get_kpi(client, role_headers["worker"], **params, group_by="cell")
    assert 0 < worker["total"]["reports"] < everyone["total"]["reports"]
    assert worker["total"]["reports"] == worker_plain["total"]["reports"]
    oct_all = month_total(client, "2026-10-01", "2026-11-01")
    assert worker["groups"][1]["reports"] < oct_all["reports"]
    assert worker["groups"][1]["reports"] == get_kpi(
        client, role_headers["worker"], **{"from": "2026-10-01", "to": "2026-11-01"}
    )["total"]["reports"]
    # planners: aggregates of the whole region; workers' names as they may read them
    planner = get_kpi(client, role_headers["planner"], **params, group_by="worker",
                      period="month")
    plain = get_kpi(client, role_headers["planner"], **params, group_by="worker")
    assert planner["total"]["reports"] == everyone["total"]["reports"]
    assert {r["name"] for r in planner["groups"]} == {r["name"] for r in plain["groups"]}
    commander = get_kpi(client, role_headers["command"], **params, group_by="worker")
    assert {r["name"] for r in plain["groups"]} != {r["name"] for r in commander["groups"]}


@pytest.mark.parametrize(("params", "field", "says"), [
    ({"from": "2026-10-01", "to": "2026-10-01", "group_by": "month"}, "to", "after"),
    ({"from": "2026-11-01", "to": "2026-10-01"}, "to", "after"),
    ({"from": "2015-01-01", "to": "2026-01-01", "group_by": "day"}, "group_by",
     "group_by=month"),
    ({"from": "2015-01-01", "to": "2026-01-01", "group_by": "cell", "period": "week"},
     "period", "period=month"),
    ({"from": "2026-10-01", "to": "2026-11-01", "group_by": "township", "period": "year"},
     "period", "['month', 'week', 'day']"),
    ({"from": "2026-10-01", "to": "2026-11-01", "group_by": "month", "period": "day"},
     "period", "drop period"),
    ({"from": "2026-10-01", "to": "2026-11-01", "group_by": "quarter"}, "group_by",
     "'month', 'week', 'day'"),
    ({"from": "1800-01-01", "to": "2026-11-01", "group_by": "month"}, "from", "1900-2200"),
])
def test_nonsense_is_a_422_in_chinese_then_english(client: Any, params: dict[str, str],
                                                   field: str, says: str) -> None:
    r = client.get("/kpi", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field, body
    assert says in body["detail"], body["detail"]
    assert CHINESE_FIRST.match(body["detail"]), body["detail"]


def test_ten_years_by_month_is_fine(client: Any) -> None:
    body = get_kpi(client, **{"from": "2015-01-01", "to": "2026-11-01", "group_by": "month"})
    assert len(body["groups"]) == 12 * 11 + 10
    assert body["total"]["reports"] == sum(g["reports"] for g in body["groups"])


@pytest.mark.parametrize("params", [{"group_by": "month"}, {"group_by": "day"},
                                    {"group_by": "township", "period": "week"}])
def test_xlsx_still_answers_for_the_new_groupings(client: Any,
                                                  params: dict[str, str]) -> None:
    import openpyxl

    r = client.get("/kpi", params={"from": "2026-09-01", "to": "2026-11-01", "as_of": AS_OF,
                                   "format": "xlsx", **params})
    assert r.status_code == 200, r.text
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = get_kpi(client, **{"from": "2026-09-01", "to": "2026-11-01", **params})["groups"]
    assert ws.max_row > len(rows)  # every row written (the layout is the workbook's own)


def test_board_of_today_this_week_and_this_month(client: Any) -> None:
    at = "2026-10-30T20:00:00+08:00"
    old = client.get("/board", params={"as_of": at}).json()
    assert client.get("/board", params={"as_of": at, "period": "all"}).json() == old
    assert old["period"]["name"] == "all" and old["period"]["from"] is None
    assert sum(old["by_status"].values()) >= 20_000
    kpi_days = get_kpi(client, **{"from": "2026-10-01", "to": "2026-11-01",
                                  "group_by": "day"})["groups"]
    expect = {
        "today": ("2026-10-30", "2026-10-31", "2026-10-30",
                  kpi_days[29]["reports"]),
        "week": ("2026-10-26", "2026-11-02", "2026-W44",
                 sum(d["reports"] for d in kpi_days[25:])),
        "month": ("2026-10-01", "2026-11-01", "2026-10",
                  sum(d["reports"] for d in kpi_days)),
    }
    for period, (first, after, label, reports) in expect.items():
        b = client.get("/board", params={"as_of": at, "period": period}).json()
        p = b["period"]
        assert (p["from"], p["to"], p["label"]) == (first, after, label), period
        assert p["start"] == f"{first}T00:00:00+08:00" and p["end"] == f"{after}T00:00:00+08:00"
        assert sum(b["by_status"].values()) == reports > 0, period
        assert sum(c["n"] for c in b["by_category"]) == reports
        assert sum(t["n"] for t in b["by_township"]) == reports
        assert b["overdue_total"] <= b["open"]
        assert len(b["overdue"]) == min(b["overdue_total"], 50)
        for o in b["overdue"]:
            assert f"{first}T00:00:00+08:00" <= o["reported_at"] < f"{after}T00:00:00+08:00"
    r = client.get("/board", params={"period": "year"})
    assert r.status_code == 422 and r.json()["field"] == "period"
    assert "['all', 'today', 'week', 'month']" in r.json()["detail"]
    assert CHINESE_FIRST.match(r.json()["detail"])


def test_cli_kpi_has_the_same_options(demo_url: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl
    from click.testing import CliRunner

    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", demo_url)
    args = ["incidents", "kpi", "--from", "2026-09-01", "--to", "2026-11-01",
            "--as-of", AS_OF]
    res = CliRunner().invoke(main, [*args, "--group-by", "township", "--period", "month",
                                    "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert body["period"] == "month" and [p["period"] for p in body["periods"]] == [
        "2026-09", "2026-10"]
    res = CliRunner().invoke(main, [*args, "--group-by", "month"])
    assert res.exit_code == 0, res.output
    assert "2026-10" in res.output and "同比" in res.output and "环比" in res.output
    out = tmp_path / "kpi.xlsx"
    res = CliRunner().invoke(main, [*args, "--group-by", "week", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert openpyxl.load_workbook(out).worksheets[0].max_row > 5
    res = CliRunner().invoke(main, [*args, "--group-by", "month", "--period", "week"])
    assert res.exit_code != 0 and "drop period" in res.output
