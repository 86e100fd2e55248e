"""Issue 16 items 1, 2: every XLSX Wangge hands out opens looking finished.

Each workbook is opened with openpyxl: Chinese headers and sheet names (English with
``lang=en``), times typed as dates without any "+08:00", a frozen header row, a definitions
sheet 说明; masking as in the other formats for a worker and a planner; the overdue workbook
holds the rows of ``GET /incidents/overdue`` for the same caller; tables longer than a sheet
continue on numbered sheets, and an unreasonable total is refused (never a truncated file).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from geo.db.tables import vocab

CJK = re.compile(r"[\u4e00-\u9fff]")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def api(demo_url: str) -> Iterator[TestClient]:
    """The app on the shared demo, the open demo off: anonymous is a viewer, roles by token."""
    from api.main import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(demo_url, demo_open=False))) as c:
        yield c


def _book(r: Any) -> openpyxl.Workbook:
    assert r.status_code == 200, r.text[:400]
    assert r.headers["content-type"].startswith(XLSX)
    return openpyxl.load_workbook(io.BytesIO(r.content))


def _headers(ws: Any) -> list[str]:
    return [str(c.value) for c in ws[1]]


def _records(ws: Any) -> list[dict[str, Any]]:
    head = _headers(ws)
    return [dict(zip(head, row, strict=True))
            for row in ws.iter_rows(min_row=2, values_only=True) if row[0] != "合计"]


def _check_finished(wb: openpyxl.Workbook, lang: str = "zh",
                    date_headers: tuple[str, ...] = ()) -> None:
    """Headers and sheet names in the language, typed dates, no zone text, frozen header,
    auto filter and the definitions sheet."""
    about = "说明" if lang == "zh" else "About"
    assert wb.sheetnames[-1] == about, wb.sheetnames
    assert len(wb.sheetnames) >= 2
    for ws in wb.worksheets:
        if lang == "zh":
            assert CJK.search(ws.title), ws.title
        for row in ws.iter_rows():
            for c in row:
                if isinstance(c.value, str):
                    assert "+08:00" not in c.value and not re.search(
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d", c.value), (ws.title, c.coordinate, c.value)
        if ws.title == about:
            continue
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        for h in _headers(ws):
            if lang == "zh":
                assert CJK.search(h), (ws.title, h)
            else:
                assert not CJK.search(h), (ws.title, h)
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= 6
        head = _headers(ws)
        for name in date_headers:
            col = head.index(name) + 1
            values = [ws.cell(row=i, column=col) for i in range(2, min(ws.max_row, 200) + 1)]
            typed = [c for c in values if c.value is not None]
            assert typed and all(c.is_date for c in typed), (ws.title, name)
            assert all(getattr(c.value, "tzinfo", None) is None for c in typed)
    text = [str(v) for row in wb[about].iter_rows(values_only=True) for v in row if v]
    if lang == "zh":
        assert any("输入条件" in t for t in text) and any("字段说明" in t for t in text)
    else:
        assert "Inputs" in text and "Columns" in text


@pytest.mark.parametrize("layer,dates", [
    ("incidents", ("上报时间", "当前环节时限")), ("cameras", ("安装日期",)),
    ("compounds", ()), ("workers", ()), ("cells", ()), ("admin", ()),
])
def test_layer_exports_are_finished(api: TestClient, role_headers: dict[str, dict[str, str]],
                                    layer: str, dates: tuple[str, ...]) -> None:
    params = {"format": "xlsx"}
    if layer == "incidents":
        params["where"] = "reported_at >= '2026-09-01'"
    wb = _book(api.get(f"/export/{layer}", params=params, headers=role_headers["command"]))
    _check_finished(wb, date_headers=dates)
    ws = wb.worksheets[0]
    rows = _records(ws)
    assert rows
    if layer == "incidents":
        head = _headers(ws)
        for h in ("事件编号", "类别", "类别代码", "渠道", "状态", "紧急程度", "上报时间",
                  "所属网格", "乡镇", "主管部门", "是否超期", "派遣时间", "结案时间"):
            assert h in head, h
        statuses = set(vocab.INCIDENT_STATUS.labels("zh").values())
        channels = set(vocab.CHANNEL.labels("zh").values())
        assert {r["状态"] for r in rows} <= statuses
        assert {r["渠道"] for r in rows} <= channels
        assert all(CJK.search(r["类别"]) for r in rows)  # names, not codes
        assert all(CJK.search(r["主管部门"]) for r in rows if r["主管部门"])
        assert {r["是否超期"] for r in rows} <= {"是", "否"}
    if layer == "compounds":
        assert {r["物业管理方式"] for r in rows} <= set(vocab.MGMT_MODE.labels("zh").values())
        assert {r["业主委员会"] for r in rows} <= set(vocab.OWNERS_COMMITTEE.labels("zh").values())
    if layer == "cameras":
        assert {r["状态"] for r in rows} <= set(vocab.CAMERA_STATUS.labels("zh").values())


def test_english_on_request(api: TestClient, role_headers: dict[str, dict[str, str]]) -> None:
    r = api.get("/export/incidents", params={"format": "xlsx", "lang": "en",
                                             "where": "reported_at >= '2026-10-01'"},
                headers=role_headers["command"])
    wb = _book(r)
    _check_finished(wb, "en", ("Reported at",))
    assert wb.sheetnames == ["Incidents", "About"]
    rows = _records(wb.worksheets[0])
    assert {r["Status"] for r in rows} <= set(vocab.INCIDENT_STATUS.labels("en").values())


def test_due_columns_filter(api: TestClient, role_headers: dict[str, dict[str, str]]) -> None:
    """The export has due_at ... closed_at, so a where on them works (and CSV keeps keys)."""
    r = api.get("/export/incidents", params={
        "format": "csv", "where": "due_at < '2025-02-01' AND overdue = TRUE"},
        headers=role_headers["command"])
    assert r.status_code == 200, r.text[:300]
    df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str)
    assert {"due_at", "final_due_at", "overdue", "dispatched_at", "closed_at"} <= set(df.columns)
    assert "category_code" in df.columns and "类别" not in df.columns  # CSV is for systems
    assert len(df) > 0 and (df["due_at"] < "2025-02-01T23:59").all()


def _csv_by_code(api: TestClient, headers: dict[str, str], layer: str,
                 where: str | None = None) -> pd.DataFrame:
    params = {"format": "csv"} | ({"where": where} if where else {})
    r = api.get(f"/export/{layer}", params=params, headers=headers)
    assert r.status_code == 200, r.text[:300]
    return pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str,
                       keep_default_na=False).set_index("code")


@pytest.mark.parametrize("role", ["worker", "planner", "department"])
def test_masking_unchanged(api: TestClient, role_headers: dict[str, dict[str, str]],
                           role: str) -> None:
    """The XLSX holds the same rows and the same (masked) values as the CSV for the caller."""
    where = "reported_at >= '2026-06-01'"
    h = role_headers[role]
    csv = _csv_by_code(api, h, "incidents", where)
    rows = _records(_book(api.get("/export/incidents", params={
        "format": "xlsx", "where": where}, headers=h)).worksheets[0])
    assert sorted(r["事件编号"] for r in rows) == sorted(csv.index)
    for r in rows:
        src = csv.loc[r["事件编号"]]
        for key, head in (("reporter_name", "上报人"), ("reporter_phone", "联系电话"),
                          ("description", "事件描述"), ("location_text", "地点")):
            assert (r[head] or "") == (src[key] or ""), (role, key, r[head])
        if role == "planner":
            assert not any(r[h] for h in ("上报人", "联系电话", "事件描述", "地点"))
        phone = r["联系电话"]
        if phone:  # never in clear without ?unmask=true
            assert "*" in phone, phone
    workers = _records(_book(api.get("/export/workers", params={"format": "xlsx"},
                                     headers=h)).worksheets[0])
    assert workers and all("*" in (w["姓名"] or "*") for w in workers)
    assert all(not w["电话"] or "****" in w["电话"] for w in workers)


def test_viewer_still_refused(api: TestClient) -> None:
    assert api.get("/export/incidents", params={"format": "xlsx"}).status_code in (401, 403)
    assert api.get("/incidents/overdue", params={"format": "xlsx"}).status_code == 401


@pytest.mark.parametrize("role", ["command", "worker", "department"])
def test_overdue_workbook_equals_json(api: TestClient, role_headers: dict[str, dict[str, str]],
                                      role: str) -> None:
    h = role_headers[role]
    as_of = "2026-10-31T18:00:00+08:00"
    js = api.get("/incidents/overdue", params={"limit": 10_000, "as_of": as_of}, headers=h)
    assert js.status_code == 200, js.text[:300]
    items = js.json()["items"]
    wb = _book(api.get("/incidents/overdue", params={"format": "xlsx", "as_of": as_of},
                       headers=h))
    _check_finished(wb, date_headers=("上报时间", "当前环节时限") if items else ())
    assert wb.sheetnames == ["超期事件", "说明"]
    rows = _records(wb.worksheets[0])
    assert [r["事件编号"] for r in rows] == [i["code"] for i in items]
    for r, i in zip(rows, items, strict=True):
        assert r["状态"] == vocab.INCIDENT_STATUS.label(i["status"])
        assert r["类别代码"] == i["category"] and CJK.search(r["类别"])
        assert (r["地点"] or None) == (i["location_text"] or None)
        assert r["网格编码"] == i["cell_code"]
        assert r["超期工作小时"] is not None and r["超期工作小时"] >= 0
        assert r["超期自然小时"] >= r["超期工作小时"]
        if role != "command" and r["网格员"]:
            assert "*" in r["网格员"] and (not r["网格员电话"] or "****" in r["网格员电话"])
    if role == "command":
        assert rows and any(r["网格员"] and "*" not in r["网格员"] for r in rows)


ANALYSES = {
    "camera-coverage": {"from": "2026-07-01", "to": "2026-09-30", "unit": "township"},
    "camera-sectors": {},
    "property-management": {"unit": "township"},
    "grid-health": {"from": "2026-07-01", "to": "2026-09-30"},
    "hotspots": {"from": "2026-07-01", "to": "2026-09-30", "permutations": 99},
    "camera-sites": {"k": 3, "candidates": "entrances", "from": "2026-07-01",
                     "to": "2026-09-30"},
}


@pytest.mark.parametrize("name", list(ANALYSES))
def test_analysis_workbooks(api: TestClient, role_headers: dict[str, dict[str, str]],
                            name: str) -> None:
    """format=xlsx answers a workbook (was JSON): Chinese sheets, headers, labels; totals."""
    r = api.get(f"/analysis/{name}", params={**ANALYSES[name], "format": "xlsx"},
                headers=role_headers["planner"])
    wb = _book(r)
    _check_finished(wb)
    english_codes = {"preparing", "established", "company", "owners", "social_org", "online",
                     "offline", "fault", "hot", "cold", "entrance", "lattice", "due",
                     "upcoming", "township", "community", "basic", "dedicated", "urgent",
                     "normal", "True", "False"}
    for ws in wb.worksheets[:-1]:
        for row in ws.iter_rows(min_row=2, values_only=True):
            assert not english_codes & {v for v in row if isinstance(v, str)}, (ws.title, row)
    if name == "property-management":
        assert wb.sheetnames[:3] == ["各单元物业覆盖", "无物业小区", "全部小区"]
        ws = wb["各单元物业覆盖"]
        head = _headers(ws)
        last = [c.value for c in ws[ws.max_row]]
        assert last[0] == "合计"
        n, managed = last[head.index("小区数")], last[head.index("有物业管理的小区数")]
        pct = ws.cell(row=ws.max_row, column=head.index("物业覆盖率(按小区)") + 1)
        assert pct.number_format == "0.0%" and pct.value == pytest.approx(managed / n)
        body = _records(ws)
        assert n == sum(r["小区数"] for r in body)
        text = [str(v) for row in wb["说明"].iter_rows(values_only=True) for v in row if v]
        assert any("城区无物业小区清零" in t for t in text)


def test_analysis_english(api: TestClient, role_headers: dict[str, dict[str, str]]) -> None:
    r = api.get("/analysis/property-management", params={
        "unit": "township", "format": "xlsx", "lang": "en"}, headers=role_headers["planner"])
    wb = _book(r)
    _check_finished(wb, "en")
    assert wb.sheetnames[:2] == ["Coverage by unit", "Unmanaged compounds"]


def test_long_tables_split_and_huge_refused(api: TestClient, monkeypatch: pytest.MonkeyPatch,
                                            role_headers: dict[str, dict[str, str]]) -> None:
    import geo.io.workbook as wbmod

    monkeypatch.setattr(wbmod, "SHEET_MAX_ROWS", 601)  # 600 rows + header a sheet
    r = api.get("/export/cameras", params={"format": "xlsx"}, headers=role_headers["command"])
    n = int(r.headers["x-row-count"])
    wb = _book(r)
    parts = wb.sheetnames[:-1]
    assert parts == [f"摄像头({i})" for i in range(1, len(parts) + 1)] and len(parts) >= 2
    assert sum(wb[p].max_row - 1 for p in parts) == n
    codes = [row[0] for p in parts for row in wb[p].iter_rows(min_row=2, values_only=True)]
    assert len(set(codes)) == n
    monkeypatch.setattr(wbmod, "MAX_TOTAL_ROWS", 100)
    r = api.get("/export/cameras", params={"format": "xlsx"}, headers=role_headers["command"])
    assert r.status_code == 422 and "where" in r.text, r.text[:300]


def test_cli_export_xlsx(demo_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", demo_url)
    out = tmp_path / "incidents.xlsx"
    r = CliRunner().invoke(main, ["export", "incidents", "--format", "xlsx", "--where",
                                  "status = 'closed' AND reported_at >= '2026-10-01'",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    _check_finished(wb, date_headers=("上报时间", "结案时间"))
    assert {row["状态"] for row in _records(wb.worksheets[0])} == {"已结案"}
    out_en = tmp_path / "cells.xlsx"
    r = CliRunner().invoke(main, ["export", "cells", "--format", "xlsx", "--lang", "en",
                                  "-o", str(out_en)])
    assert r.exit_code == 0, r.output
    _check_finished(openpyxl.load_workbook(out_en), "en")
