"""The monthly leadership report (issue 16, item 4): its figures equal /kpi and the analyses
for the same month and reader, and every file it writes opens looking finished (the PDF is
rendered to PNG pages with pdftoppm and its fonts are embedded; the XLSX opens in openpyxl
with Chinese sheets and headers)."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.main import create_app
from tests.conftest import create_database, drop_database, make_settings

MONTH = "2026-10"
AS_OF = "2026-11-15T10:00:00+08:00"
KPI = {"from": "2026-10-01", "to": "2026-11-01", "as_of": AS_OF}
ANALYSIS_PERIOD = {"from": "2026-10-01", "to": "2026-10-31", "at": "2026-10-31"}


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        yield client, role_headers
    engine.dispose()
    drop_database(admin_engine, url)


def _report(client: TestClient, headers: dict[str, str], fmt: str = "json",
            **extra: str) -> Any:
    return client.get("/reports/monthly", params={"month": MONTH, "format": fmt,
                                                   "as_of": AS_OF, **extra}, headers=headers)


@pytest.mark.parametrize("role", ["command", "worker", "planner"])
def test_figures_equal_kpi_for_the_same_month_and_reader(
        env: tuple[TestClient, dict[str, dict[str, str]]], role: str) -> None:
    client, h = env
    r = _report(client, h[role])
    assert r.status_code == 200, r.text
    rep = r.json()
    kpi = client.get("/kpi", params={**KPI, "group_by": "township"}, headers=h[role]).json()
    metrics = ("reports", "cases", "due", "closed", "closed_on_time", "open_overdue",
               "closing_rate", "on_time_rate", "avg_handling_h", "repeat_rate")
    assert {k: rep["headline"][k] for k in metrics} == {k: kpi["total"][k] for k in metrics}
    assert rep["headline"]["reports"] > 0
    by_key = {g["key"]: g for g in kpi["groups"]}
    assert {g["key"] for g in rep["townships"]} == {k for k in by_key if k is not None}
    for g in rep["townships"]:
        assert {k: g[k] for k in metrics} == {k: by_key[g["key"]][k] for k in metrics}
    assert rep["trend"][-1]["month"] == MONTH
    assert rep["trend"][-1]["reports"] == kpi["total"]["reports"]
    sept = client.get("/kpi", params={"from": "2026-09-01", "to": "2026-10-01", "as_of": AS_OF},
                      headers=h[role]).json()["total"]
    assert rep["trend"][-2]["reports"] == sept["reports"]
    assert rep["mom"]["base"]["reports"] == sept["reports"]
    assert rep["mom"]["change"]["reports"] == kpi["total"]["reports"] - sept["reports"]
    assert rep["mom"] == kpi["total"]["pop"] and rep["yoy"] == kpi["total"]["yoy"]
    cats = client.get("/kpi", params={**KPI, "group_by": "category"}, headers=h[role]).json()
    cat_reports = {g["key"]: g["reports"] for g in cats["groups"]}
    for c in rep["categories"]:
        assert c["reports"] == cat_reports[c["key"]]


def test_analyses_equal_their_endpoints(env: tuple[TestClient, dict[str, dict[str, str]]]
                                        ) -> None:
    client, h = env
    rep = _report(client, h["command"]).json()
    cams = client.get("/analysis/camera-coverage", params={
        **ANALYSIS_PERIOD, "unit": "township", "geometry": "false"}, headers=h["command"]).json()
    assert rep["cameras"]["summary"] == cams["summary"]
    prop = client.get("/analysis/property-management", params={
        "as_of": "2026-10-31", "geometry": "false"}, headers=h["command"]).json()
    assert rep["property"]["summary"]["managed_pct"] == prop["summary"]["managed_pct"]
    assert rep["property"]["summary"]["no_unmanaged_urban"] == \
        prop["summary"]["no_unmanaged_urban"]
    assert len(rep["property"]["unmanaged"]) == prop["summary"]["unmanaged_compounds"]
    targets = {t["target_pct"] for t in prop["summary"]["targets"]}
    assert {80.0, 90.0} <= targets


def test_pdf_renders_with_embedded_chinese_fonts(
        env: tuple[TestClient, dict[str, dict[str, str]]], tmp_path: Path) -> None:
    client, h = env
    r = _report(client, h["command"], "pdf")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    assert r.content.startswith(b"%PDF")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(r.content)
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm missing: ./scripts/test.sh installs poppler-utils")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all("yes" in row[-5:-2] for row in rows), fonts  # emb column
    assert any("WenQuanYi" in line or "CJK" in line for line in fonts.splitlines()), fonts
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 4
    from PIL import Image

    for page in pages:
        with Image.open(page) as im:
            darkest = im.convert("L").getextrema()[0]
            assert isinstance(darkest, (int, float)) and darkest < 200, \
                f"{page.name} is blank"  # something is drawn
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("网格化服务管理月报", "本月概况", "环比", "同比", "各乡镇", "超期",
                  "视频监控覆盖", "城区无物业管理小区清零", "建议新增摄像头点位", "数据截至",
                  "演示数据"):
        assert words in text, words


def test_xlsx_and_html(env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, h = env
    r = _report(client, h["command"], "xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["概况", "趋势", "乡镇", "类别", "超期事件", "说明"]
    assert wb["乡镇"]["B1"].value == "乡镇" and wb["乡镇"].freeze_panes == "A2"
    overdue = wb["超期事件"]
    assert overdue["G1"].value == "上报时间" and overdue["G2"].is_date
    assert not any("+08:00" in str(c.value) for row in overdue.iter_rows() for c in row)
    en = openpyxl.load_workbook(io.BytesIO(_report(client, h["command"], "xlsx",
                                                   lang="en").content))
    assert en.sheetnames[0] == "Headline"
    page = _report(client, h["command"], "html")
    assert page.status_code == 200 and "default-src 'none'" in page.headers[
        "content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    assert page.text.count("data:image/png;base64,") >= 3


@pytest.mark.parametrize(("params", "status"), [
    ({"month": "2026-13"}, 422), ({"month": "10/2026"}, 422), ({"month": "2099-01"}, 422),
    ({"month": MONTH, "format": "doc"}, 422),
    # no month: the current month (issue 21, L-period: tests/api/test_review_round13_api.py)
])
def test_bad_input(env: tuple[TestClient, dict[str, dict[str, str]]], params: dict[str, str],
                   status: int) -> None:
    client, h = env
    r = client.get("/reports/monthly", params=params, headers=h["command"])
    assert r.status_code == status, r.text
    assert client.get("/reports/monthly", params={"month": MONTH}).status_code == 401


def test_worker_reads_only_her_scope(env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, h = env
    mine = _report(client, h["worker"]).json()
    county = _report(client, h["command"]).json()
    assert 0 < mine["headline"]["reports"] < county["headline"]["reports"]
    codes = {r["code"] for r in county["overdue"]["rows"]}
    listed = client.get("/incidents/overdue", params={"limit": 10_000},
                        headers=h["worker"]).json()
    own = {i["code"] for i in (listed["items"] if isinstance(listed, dict) else listed)}
    assert {r["code"] for r in mine["overdue"]["rows"]} <= own
    assert county["overdue"]["total"] >= len(codes)


def test_a_month_without_reports(env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, h = env
    for fmt in ("json", "pdf", "xlsx"):
        r = client.get("/reports/monthly", params={"month": "2026-11", "format": fmt,
                                                   "as_of": "2026-12-01T10:00:00+08:00"},
                       headers=h["command"])
        assert r.status_code == 200, (fmt, r.text[:300])
    assert r.headers["content-type"].startswith("application/vnd.openxml")


def _map_png(html: str) -> Any:
    """The county map of the report page (the first picture after the map heading)."""
    import base64
    import re

    from PIL import Image

    pics = re.findall(r'<img alt="六、本月事件分布与热点" src="data:image/png;base64,'
                      r'([^"]+)"', html)
    assert pics, "no map picture"
    return Image.open(io.BytesIO(base64.b64decode(pics[0]))).convert("RGB")


def test_planner_map_draws_the_months_incidents(
        env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    """A planner's report map shows the month's incidents (as anonymous points, the maps'
    rule), like the command centre's: dots in the incident colours, not an empty county."""
    import numpy as np

    from maps import styles as st

    client, h = env
    counts = {}
    for role in ("command", "planner"):
        page = _report(client, h[role], "html")
        assert page.status_code == 200
        px = np.asarray(_map_png(page.text), dtype=int)
        want = np.array([int(st.CLOSED[i:i + 2], 16) for i in (1, 3, 5)])
        counts[role] = int((np.abs(px - want).max(axis=2) <= 12).sum())
    assert counts["planner"] > 500, counts
    assert counts["planner"] >= 0.5 * counts["command"], counts


def test_a_list_empty_by_role_says_so(env: tuple[TestClient, dict[str, dict[str, str]]]
                                      ) -> None:
    """A planner's overdue list is empty because of the role, not because nothing is overdue:
    the JSON, the page and the workbook say so; the command centre's list is not hidden."""
    client, h = env
    planner = _report(client, h["planner"]).json()
    assert planner["headline"]["open_overdue"] > 0
    assert planner["overdue"]["hidden"] is True and planner["overdue"]["rows"] == []
    assert _report(client, h["command"]).json()["overdue"]["hidden"] is False
    page = _report(client, h["planner"], "html").text
    assert "按权限不显示明细" in page and "共 0 件" not in page
    assert "Not shown for your role" in _report(client, h["planner"], "html", lang="en").text
    wb = openpyxl.load_workbook(io.BytesIO(_report(client, h["planner"], "xlsx").content))
    assert "按权限不显示明细" in str(wb["超期事件"]["A2"].value)
    command = _report(client, h["command"], "html").text
    assert "按权限不显示明细" not in command and "列出超期最久的" in command


def test_headline_sheet_rates_as_percentages_and_changes_in_points(
        env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, h = env
    rep = _report(client, h["command"]).json()
    wb = openpyxl.load_workbook(io.BytesIO(_report(client, h["command"], "xlsx").content))
    ws = wb["概况"]
    head = [c.value for c in ws[1]]
    assert head[:4] == ["指标", "本月", "环比", "同比"] and "单位" in head[4]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    rate = rows["结案率"]
    assert rate[1].number_format == "0.0%" and rate[1].value == rep["headline"]["closing_rate"]
    assert rate[2].value == rep["mom"]["change_pp"]["closing_rate"] and rate[4].value == "百分点"
    count = rows["上报数"]
    assert count[1].number_format == "#,##0" and count[4].value == "件"
    assert count[2].value == rep["mom"]["change"]["reports"]


def test_reader_roles_and_targets_read_in_chinese(
        env: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    import re

    client, h = env
    page = _report(client, h["planner"], "html").text
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", " ", page, flags=re.S))
    assert "规划分析人员" in text and "(planner)" not in text and "synthetic" not in text
    # each target says how many units meet it, of how many, and of what
    assert re.search(r"已达标 \d+ / 共 \d+ 个村/社区", text), text
    assert "已达成" not in text and "已到期" not in text
