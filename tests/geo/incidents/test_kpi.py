"""KPIs against a hand-computed fixture (March 2024, category 占用消防通道, one cell).

fire_lane_blocked, normal urgency: register 30 + dispatch 30 + handle 480 + verify 120 = 660
working minutes from the report (08:30-12:00, 13:30-18:00; March 2024 has no holiday).

=====  ===========================  =========================================  ============
case   reported                     fate                                        counted as
=====  ===========================  =========================================  ============
A      Mon 03-04 09:00              closed Mon 17:00 (final due Tue 12:00)      on time, 6.5 h
B      Mon 03-04 09:00              rework once, closed Wed 03-06 10:00         late, 17 h
C      Mon 03-04 09:00              dispatched 10:00, still open                overdue -> due
D      Fri 03-29 17:50              still reported (register due Mon 08:50)     open, in time
E      Mon 03-04 09:30              merged into A                               repeat report
F      Mon 03-04 09:00              rejected                                    not a case
G      Mon 03-11 09:00              closed 11:00                                on time, 2 h
=====  ===========================  =========================================  ============

as_of Mon 2024-04-01 08:45: reports 7, repeat 1 (1/7), cases 5 (A B C D G), closed 3,
closed on time 2, due = 3 closed + 1 overdue open (C) = 4 -> 结案率 3/4, 按期结案率 2/4,
average handling (6.5 + 17 + 2) / 3 = 8.5 working hours, rework 1 of 3 handled.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from geo.localtime import CST
from tests.conftest import create_database, drop_database, make_settings

BOSS = Principal(user="duty", role="command")


def t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=CST)


@pytest.fixture(scope="module")
def fixture_db(admin_engine: Engine, demo_template: str) -> Iterator[tuple[str, str]]:
    from geo.incidents.cases import merge, transition
    from geo.incidents.intake import Report, create_incident

    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.begin() as conn:
        cell, town, lon, lat = conn.execute(text(
            "SELECT code, township_code, ST_X(p), ST_Y(p) FROM (SELECT code, township_code, "
            "ST_PointOnSurface(geom) AS p FROM grid_cell WHERE kind = 'basic' "
            "AND parent_code LIKE '141123206%' ORDER BY code LIMIT 1) s")).one()

        def new(at: str, dx: float = 0.0) -> dict[str, Any]:
            return create_incident(conn, Report(
                category="fire_lane_blocked", channel="patrol", lon=lon + dx, lat=lat,
                reported_at=t(at)), BOSS, "141123")

        def walk(inc: dict[str, Any], *steps: tuple[str, str]) -> None:
            for to, at in steps:
                transition(conn, inc["id"], to, BOSS, at=t(at))

        a = new("2024-03-04T09:00")
        walk(a, ("registered", "2024-03-04T09:10"), ("dispatched", "2024-03-04T09:20"))
        e = new("2024-03-04T09:30", dx=0.0002)
        merge(conn, a["id"], [e["id"]], BOSS)
        walk(a, ("in_progress", "2024-03-04T10:00"), ("handled", "2024-03-04T15:00"),
             ("verified", "2024-03-04T16:00"), ("closed", "2024-03-04T17:00"))
        b = new("2024-03-04T09:00")
        walk(b, ("registered", "2024-03-04T09:10"), ("dispatched", "2024-03-04T09:20"),
             ("handled", "2024-03-04T15:00"), ("rework", "2024-03-04T16:00"),
             ("in_progress", "2024-03-05T09:00"), ("handled", "2024-03-05T17:00"),
             ("verified", "2024-03-06T09:00"), ("closed", "2024-03-06T10:00"))
        c = new("2024-03-04T09:00")
        walk(c, ("registered", "2024-03-04T09:05"), ("dispatched", "2024-03-04T10:00"))
        new("2024-03-29T17:50")  # D
        f = new("2024-03-04T09:00")
        walk(f, ("rejected", "2024-03-04T09:30"))
        g = new("2024-03-11T09:00")
        walk(g, ("registered", "2024-03-11T09:05"), ("dispatched", "2024-03-11T09:10"),
             ("handled", "2024-03-11T10:00"), ("verified", "2024-03-11T10:30"),
             ("closed", "2024-03-11T11:00"))
    engine.dispose()
    yield url, town
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def api(fixture_db: tuple[str, str]) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(make_settings(fixture_db[0]))) as c:
        yield c


PARAMS = {"from": "2024-03-01", "to": "2024-04-01", "as_of": "2024-04-01T08:45:00+08:00"}
EXPECTED = {"reports": 7, "repeat_reports": 1, "cases": 5, "closed": 3, "closed_on_time": 2,
            "due": 4, "closing_rate": 0.75, "on_time_rate": 0.5, "avg_handling_h": 8.5,
            "rework_rate": 0.3333, "repeat_rate": 0.1429, "open": 2, "open_overdue": 1}


@pytest.mark.parametrize("group_by", ["category", "township", "cell", "department", "worker"])
def test_kpi_matches_the_hand_computed_fixture(api: TestClient, group_by: str) -> None:
    r = api.get("/kpi", params={**PARAMS, "group_by": group_by})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["groups"]) == 1, body["groups"]
    g = body["groups"][0]
    for key, value in EXPECTED.items():
        assert g[key] == pytest.approx(value), key
        assert body["total"][key] == pytest.approx(value), key
    assert g["name"]  # named, not just coded
    if group_by == "category":
        assert g["key"] == "fire_lane_blocked" and g["name"] == "占用消防通道"
    if group_by == "department":
        assert g["key"] == "xiaofang"


def test_later_as_of_makes_d_due_too(api: TestClient) -> None:
    body = api.get("/kpi", params={**PARAMS, "as_of": "2024-04-01T09:00:00+08:00"}).json()
    assert body["total"]["due"] == 5 and body["total"]["closing_rate"] == pytest.approx(0.6)


def test_kpi_xlsx_export(api: TestClient) -> None:
    import openpyxl

    r = api.get("/kpi", params={**PARAMS, "group_by": "township", "format": "xlsx"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["考核指标", "说明"]
    ws = wb["考核指标"]
    header = [c.value for c in ws[1]]
    assert "结案率" in header and "按期结案率" in header and "乡镇" in header
    total = [c.value for c in ws[ws.max_row]]
    assert total[header.index("结案率")] == pytest.approx(0.75)  # recomputed, not summed
    assert ws.cell(2, header.index("结案率") + 1).number_format == "0.0%"
    assert not any("+08:00" in str(c.value) for row in wb["说明"].iter_rows() for c in row)


def test_kpi_bad_input(api: TestClient) -> None:
    assert api.get("/kpi", params={**PARAMS, "group_by": "planet"}).status_code == 422
    r = api.get("/kpi", params={"from": "2024-04-01", "to": "2024-03-01"})
    assert r.status_code == 422
