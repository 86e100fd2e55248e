"""The monthly report across counties (issue 21 item 2), on two counties (兴县 demo + 临县 added
by ``region add`` / ``demo load --region``).

The prefecture command centre's report (demo-prefecture, 吕梁市) carries one row per county in
scope, each equal to that county's own report headline (the same ``/kpi`` function), with a
total row, in JSON, HTML, PDF (read back with pdftotext) and XLSX (a 区县 sheet); a 兴县
reader's report is as before: no county table, nothing of 临县.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, two_county_fixture

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
    # a reader of several counties names the county the report is about (review round 8:
    # the default county's report was shown as if it were the prefecture's); 422 lists them
    unnamed = client.get("/reports/monthly", params={"month": MONTH}, headers=pref)
    assert unnamed.status_code == 422 and unnamed.json()["counties"] == [XING, LIN]
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
