"""The monthly report across counties (issue 21 item 2), on two counties (兴县 demo + 临县 added
by ``region add`` / ``demo load --region``).

The prefecture command centre's report (demo-prefecture, 吕梁市) carries one row per county in
scope, each equal to that county's own report headline (the same ``/kpi`` function), with a
total row, in JSON, HTML, PDF (read back with pdftotext) and XLSX (a 区县 sheet); a 兴县
reader's report is as before: no county table, nothing of 临县.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import REPO_ROOT, make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, lin_codes, two_county_fixture

two_counties = two_county_fixture()
MONTH = "2026-10"
AS_OF = "2026-11-05T12:00:00+08:00"
FIGURES = ("reports", "cases", "closed", "closing_rate", "on_time_rate", "open_overdue")


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


def _report(client: TestClient, auth: dict[str, str], fmt: str = "json", **extra: str) -> Any:
    r = client.get("/reports/monthly", params={"month": MONTH, "as_of": AS_OF, "format": fmt,
                                               **extra}, headers=auth)
    assert r.status_code == 200, r.text[:500]
    return r.json() if fmt == "json" else r


def test_the_prefecture_report_has_every_county(client: TestClient,
                                                two_counties: tuple[str, Engine]) -> None:
    pref = bearer_for(two_counties[1], PREFECTURE_USER[0])
    # with region=, the county's report and a table of the counties (without region: the
    # report of the whole scope, test_the_prefecture_report_covers_the_whole_scope)
    report = _report(client, pref, region=XING)
    rows = {g["key"]: g for g in report["counties"]["rows"]}
    assert set(rows) == {XING, LIN} and rows[LIN]["name"] == "临县"
    assert [c["code"] for c in report["inputs"]["counties"]] == [XING, LIN]
    assert rows[LIN]["reports"] > 0 and rows[XING]["reports"] > 0
    for code in (XING, LIN):  # each row is that county's own report headline
        alone = _report(client, pref, region=code)["headline"]
        assert {k: rows[code][k] for k in FIGURES} == {k: alone[k] for k in FIGURES}, code
    total = report["counties"]["total"]
    assert total["reports"] == sum(g["reports"] for g in rows.values())

    html = _report(client, pref, "html", region=XING).text
    assert "各区县本月对比" in html and "临县" in html and "合计" in html
    assert "<td>临县</td>" in html and "<td>合计</td>" in html

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(_report(client, pref, "xlsx", region=XING).content))
    assert "区县" in wb.sheetnames
    values = [[c.value for c in row] for row in wb["区县"].iter_rows()]
    names = [r[0] for r in values]
    assert "临县" in names and any(str(n).startswith("兴县") for n in names), names
    lin = values[names.index("临县")]
    assert lin[1] == rows[LIN]["reports"]

    if shutil.which("pdftotext"):
        pdf = _report(client, pref, "pdf", region=XING).content
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf,
                              capture_output=True, check=True).stdout.decode()
        assert "各区县本月对比" in text and "临县" in text, text[:2000]


@pytest.mark.parametrize("role", ["command", "planner"])
def test_a_county_readers_report_is_unchanged(client: TestClient,
                                              two_counties: tuple[str, Engine],
                                              role: str) -> None:
    auth = bearer_for(two_counties[1], DEMO_USERS[role][0])
    report = _report(client, auth)
    assert report["counties"] is None and report["inputs"]["counties"] is None
    html = _report(client, auth, "html").text
    assert "各区县本月对比" not in html and "临县" not in html

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(_report(client, auth, "xlsx").content))
    assert "区县" not in wb.sheetnames
    assert client.get("/reports/monthly", params={"month": MONTH, "region": LIN},
                      headers=auth).status_code == 403


def _kpi(client: TestClient, auth: dict[str, str], **params: str) -> Any:
    r = client.get("/kpi", params={"from": "2026-10-01", "to": "2026-11-01", "as_of": AS_OF,
                                   "group_by": "county", **params}, headers=auth)
    assert r.status_code == 200, r.text[:500]
    return r.json()


def test_the_prefecture_report_covers_the_whole_scope(client: TestClient,
                                                      two_counties: tuple[str, Engine],
                                                      browser: Any) -> None:
    """Without region, the prefecture's report is about both counties: every figure equals
    /kpi?group_by=county for the same month, as_of and reader; overdue cases name their
    county; the HTML has the counties ranked and a map of their outlines."""
    engine = two_counties[1]
    pref = bearer_for(engine, PREFECTURE_USER[0])
    report = _report(client, pref)
    inp = report["inputs"]
    assert inp["scope"] is True and inp["region_code"] == "141100"
    assert [c["code"] for c in inp["counties"]] == [XING, LIN]
    by_county = _kpi(client, pref)
    total = by_county["total"]
    assert {k: report["headline"][k] for k in FIGURES} == {k: total[k] for k in FIGURES}
    assert report["yoy"] == total["yoy"] and report["mom"] == total["pop"]
    assert report["mom"] is not None
    groups = {g["key"]: g for g in by_county["groups"]}
    rows = report["counties"]["rows"]
    assert {r["key"] for r in rows} == {XING, LIN}
    for r in rows:
        assert {k: r[k] for k in FIGURES} == {k: groups[r["key"]][k] for k in FIGURES}
    rates = [r["closing_rate"] or -1 for r in rows]
    assert rates == sorted(rates, reverse=True)  # ranked
    # the headline is the sum of the two counties' own reports, not one county's
    alone = {code: _report(client, pref, region=code) for code in (XING, LIN)}
    assert report["headline"]["reports"] == sum(a["headline"]["reports"]
                                                for a in alone.values())
    assert report["headline"]["reports"] > alone[XING]["headline"]["reports"]
    # the trend: /kpi?group_by=county&period=month, 12 months
    months = _kpi(client, pref, **{"from": "2025-11-01", "period": "month"})["periods"]
    assert [(m["month"], m["reports"], m["closing_rate"]) for m in report["trend"]] == [
        (p["key"], p["reports"], p["closing_rate"]) for p in months]
    assert len(report["trend"]) == 12
    # categories: each county's reports of the category add up
    for c in report["categories"]:
        assert c["reports"] == sum(c["by_county"].values())
    cat_total = sum(c["reports"] for c in report["categories"])
    assert cat_total <= total["reports"]
    # overdue cases of both counties, each naming its county
    od = report["overdue"]
    assert od["total"] == sum(a["overdue"]["total"] for a in alone.values())
    lin = lin_codes(engine)
    assert {r["county"][:2] for r in od["rows"]} <= {"兴县", "临县"} and od["rows"]
    for r in od["rows"]:
        assert r["county_code"] == (LIN if r["code"] in lin else XING), r

    html = _report(client, pref, "html").text
    assert "三、各区县 (按结案率排序)" in html and "三、各乡镇" not in html
    assert "<td>临县</td>" in html and "<td>兴县" in html
    assert html.count("<img") >= 2  # the trend and the counties' map
    # the scope's map section names no hot spots (they are analysed per county)
    assert "六、本月各区县事件分布" in html and "六、本月事件分布与热点" not in html
    shots = Path(os.environ.get("WANGGE_SHOTS", REPO_ROOT / "artifacts" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    page.set_content(html)
    assert page.locator("h2", has_text="各区县 (按结案率排序)").count() == 1
    page.screenshot(path=str(shots / "prefecture-report.png"), full_page=True)
    page.close()

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(_report(client, pref, "xlsx").content))
    assert "区县" in wb.sheetnames and "乡镇" not in wb.sheetnames
    names = [r[1] for r in wb["区县"].iter_rows(values_only=True)]
    assert "临县" in names and any(str(n).startswith("兴县") for n in names), names


def test_cli_report_of_a_prefecture(two_counties: tuple[str, Engine], tmp_path: Path) -> None:
    """``wangge report monthly --region 141100`` writes the report of every county below."""
    from click.testing import CliRunner

    from api.cli import main as cli

    out = tmp_path / "吕梁市.html"
    res = CliRunner().invoke(cli, ["report", "monthly", "--month", MONTH, "--region", "141100",
                                   "-o", str(out)],
                             env={"WANGGE_DATABASE_URL": two_counties[0]})
    assert res.exit_code == 0, res.output
    html = out.read_text(encoding="utf-8")
    assert "三、各区县 (按结案率排序)" in html and "<td>临县</td>" in html
    assert "<td>兴县" in html and "(141100)" in html
    res = CliRunner().invoke(cli, ["report", "monthly", "--month", MONTH, "--region", "999999",
                                   "-o", str(out)],
                             env={"WANGGE_DATABASE_URL": two_counties[0]})
    assert res.exit_code == 2 and "未知区域" in res.output
