"""Chinese first (issue 16): every workbook the API offers (``format=xlsx``) reads in Chinese:
sheet names, headers and the 说明 sheet carry no English word but proper terms (CGCS2000,
EPSG codes, Gi*, WKT, Excel, UTC) and API paths; the property-management target reads
已达标 / 未达标 / 未到期 from the one vocabulary (``TARGET_RESULT``)."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import pytest

from geo.db.tables.vocab import TARGET_RESULT, TARGET_STATE

PROPER = {"CGCS2000", "EPSG", "Gi*", "Getis-Ord", "WKT", "Excel", "UTC", "ISO", "GeoPackage",
          "Shapefile", "H3", "AAA", "GB"}
PATH = re.compile(r"\b(GET|POST)\s+/[\w/{}.?=&-]*|/[a-z][\w/{}.?=&-]*")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9*\-]+")
PERIOD = {"from": "2026-10-01", "to": "2026-10-31"}
WORKBOOKS = [
    ("/analysis/camera-coverage", PERIOD), ("/analysis/camera-sectors", {}),
    ("/analysis/property-management", {}), ("/analysis/grid-health", PERIOD),
    ("/analysis/hotspots", PERIOD), ("/analysis/camera-sites", {**PERIOD, "k": "3"}),
    ("/kpi", PERIOD), ("/incidents/overdue", {}), ("/export/incidents", {"limit": "50"}),
    ("/export/cells", {}), ("/export/compounds", {}), ("/export/cameras", {}),
    ("/reports/monthly", {"month": "2026-10"}),
]


def english(text: str) -> list[str]:
    """English words of ``text`` that are not a proper term, a code or an API path."""
    text = PATH.sub(" ", text)
    return [w for w in WORD.findall(text)
            if w not in PROPER and not re.fullmatch(r"EPSG:\d+|[A-Z]{2}\d+", w)]


def _book(client: Any, headers: dict[str, str], path: str, params: dict[str, str]
          ) -> openpyxl.Workbook:
    r = client.get(path, params={"format": "xlsx", **params}, headers=headers)
    assert r.status_code == 200, (path, r.text[:300])
    assert "spreadsheetml" in r.headers["content-type"], path
    return openpyxl.load_workbook(io.BytesIO(r.content))


@pytest.mark.parametrize(("path", "params"), WORKBOOKS, ids=[p for p, _ in WORKBOOKS])
def test_every_workbook_reads_in_chinese(client: Any, role_headers: dict[str, dict[str, str]],
                                         path: str, params: dict[str, str]) -> None:
    wb = _book(client, role_headers["command"], path, params)
    found = []
    for ws in wb.worksheets:
        found += [("sheet", ws.title, w) for w in english(ws.title)]
        rows = list(ws.iter_rows(values_only=True))
        if not rows:
            continue
        if ws.title == "说明":  # every cell: inputs, results, notes, column definitions
            for row in rows:
                for v in row:
                    if isinstance(v, str):
                        found += [("about", v[:80], w) for w in english(v)]
        else:
            for h in rows[0]:
                if isinstance(h, str):
                    found += [("header", h, w) for w in english(h)]
    assert not found, found


def test_property_targets_read_from_the_one_vocabulary(
        client: Any, role_headers: dict[str, dict[str, str]]) -> None:
    wb = _book(client, role_headers["command"], "/analysis/property-management", {})
    rows = list(wb["各单元物业覆盖"].iter_rows(values_only=True))
    head = list(rows[0])
    result = {r[head.index("目标完成情况")] for r in rows[1:]} - {None}
    state = {r[head.index("目标状态")] for r in rows[1:]} - {None}
    assert result and result <= set(TARGET_RESULT.labels().values()), result
    assert state and state <= set(TARGET_STATE.labels().values()), state
    about = [[v for v in r if v is not None] for r in wb["说明"].iter_rows(values_only=True)]
    results = [r[1] for r in about if len(r) == 2 and str(r[0]).endswith("/ 完成情况")]
    assert results and set(results) <= set(TARGET_RESULT.labels().values()), about
    # English on request
    en = _book(client, role_headers["command"], "/analysis/property-management",
               {"lang": "en"})
    sheet = en.worksheets[0]
    head_en = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "Target result" in head_en
    values = {r[head_en.index("Target result")] for r in sheet.iter_rows(min_row=2,
                                                                            values_only=True)}
    assert values - {None} <= set(TARGET_RESULT.labels("en").values())
