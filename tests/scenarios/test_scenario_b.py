"""Scenario B of SCENARIOS.md, end to end through the API.

A 12345 hotline row "电动车在楼道充电" at "<compound> 3号楼" with no coordinates: Wangge
resolves the compound to its entrance, finds the cell, its worker on duty, the department
(消防), two cameras whose sectors see the entrance, and a grid worker's similar report 40 m
away the day before; the duty officer merges them. The case is registered and dispatched in
time; the handling clock skips the National Day holiday (2025-10-01..08); the worker's fix
fails verification and goes back for rework; on the board the case turns from overdue (red)
to closed (green).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from tests.conftest import make_settings


def prepare(url: str) -> dict[str, Any]:
    """The compound of the hotline row, with two cameras looking at its building 3."""
    engine = create_engine(url)
    with engine.begin() as conn:
        # the compound's building 3 in the (synthetic) address register: the hotline row
        # names it, and the matcher places the case there
        c = conn.execute(text(
            "SELECT c.id, c.name, ST_X(b.point) AS x, ST_Y(b.point) AS y FROM compound c "
            "JOIN building b ON b.region_code = c.region_code AND b.compound_code = c.code "
            "AND b.name = '3号楼' ORDER BY c.code LIMIT 1")).mappings().one()
        c = dict(c)
        # Two cameras looking at building 3: 20 m south facing north, 30 m east facing west.
        dlat = 20 / 111_000
        dlon = 30 / (111_000 * math.cos(math.radians(c["y"])))
        for gb, x, y, bearing in (("14112300001310900001", c["x"], c["y"] - dlat, 0.0),
                                  ("14112300001310900002", c["x"] + dlon, c["y"], 270.0)):
            conn.execute(text(
                "INSERT INTO camera (region_code, gb_id, name, bearing_deg, fov_deg, range_m, "
                "status, geom) VALUES ('141123', :gb, :n, :b, 60, 60, 'online', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"),
                {"gb": gb, "n": f"{c['name']}入口监控", "b": bearing, "x": x, "y": y})
        c["dlat40"] = 40 / 111_000
    engine.dispose()
    return c


@pytest.fixture()
def setting(fresh_demo_url: str) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    from api.main import create_app

    c = prepare(fresh_demo_url)
    with TestClient(create_app(make_settings(fresh_demo_url))) as client:
        yield client, c


def test_scenario_b_hotline_to_closed(setting: tuple[TestClient, dict[str, Any]]) -> None:
    walk(*setting)


def walk(api: TestClient, comp: dict[str, Any]) -> None:
    """The scenario through ``api`` (the duty officer), from :func:`prepare`'s compound; also
    run on a coordinator whose counties are on shards (tests/scenarios/test_shards.py)."""
    # Yesterday a grid worker reported the same hazard 40 m away (by coordinates).
    r = api.post("/incidents", json={
        "category": "ebike_charging", "channel": "patrol", "description": "飞线充电",
        "lon": comp["x"], "lat": comp["y"] + comp["dlat40"],
        "reported_at": "2025-09-29T15:00:00+08:00"})
    assert r.status_code == 201, r.text
    patrol = r.json()

    # The 12345 export row: no coordinates, a compound and a building.
    csv = ("工单编号,来电时间,问题类型,诉求内容,事发地点,来电人,联系电话\n"
           f"12345-0930-001,2025-09-30 15:00,电动自行车违规停放充电,电动车在楼道充电,"
           f"{comp['name']}3号楼,赵六,13700001234\n")
    r = api.post("/incidents/bulk", files={"file": ("12345.csv", csv.encode("utf-8"))},
                 data={"commit": "true"})
    assert r.status_code == 200 and r.json()["new"] == 1, r.text
    code = r.json()["cases"][0]["code"]
    inc = api.get(f"/incidents/{code}").json()
    rt = inc["routing"]
    assert inc["status"] == "reported" and inc["channel"] == "12345"
    assert inc["compound_id"] == comp["id"]
    assert (inc["lon"], inc["lat"]) == pytest.approx((comp["x"], comp["y"]))
    assert rt["place"]["source"] == "building" and "楼栋" in rt["place"]["reason"]
    assert rt["place"]["match"]["confidence"] >= 0.9
    assert inc["cell_code"] and rt["cell"]["code"] == inc["cell_code"]
    assert rt["worker"]["id"] is not None or "no worker" in rt["worker"]["reason"]
    assert inc["department_code"] == "xiaofang"
    cams = [c["gb_id"] for c in rt["cameras"]]
    ours = [c for c in cams if c.startswith("141123000013109")]
    assert ours == ["14112300001310900001", "14112300001310900002"]  # nearest first
    dists = [c["distance_m"] for c in rt["cameras"]]
    assert dists == sorted(dists)
    dup = next(d for d in rt["duplicates"] if d["id"] == patrol["id"])
    assert 35 < dup["distance_m"] < 45 and dup["hours_apart"] == pytest.approx(-24)

    # The duty officer merges them: one case, both reports and channels.
    r = api.post(f"/incidents/{inc['id']}/merge", json={"duplicate_ids": [patrol["id"]],
                                                        "note": "同一隐患"})
    assert r.status_code == 200 and r.json()["channels"] == ["12345", "patrol"]
    inc = r.json()

    def step(to: str, at: str, note: str | None = None) -> dict[str, Any]:
        nonlocal inc
        r = api.post(f"/incidents/{inc['id']}/transition",
                     json={"to": to, "at": at, "note": note or to},
                     headers={"If-Match": f'"{inc["version"]}"'})
        assert r.status_code == 200, r.text
        inc = r.json()
        return inc

    # Registered and dispatched within the limits (30 + 30 working minutes).
    step("registered", "2025-09-30T15:10:00+08:00")
    step("dispatched", "2025-09-30T15:20:00+08:00")
    moves = [e for e in inc["events"] if e["kind"] == "transition"]
    assert all("previous_step_late_by_min" not in e["data"] for e in moves)
    # Two working days to handle: the clock skips National Day 10-01..08.
    assert inc["due_at"] == "2025-10-10T15:20:00+08:00"

    def overdue_ids(as_of: str) -> set[int]:
        body = api.get("/incidents/overdue", params={"as_of": as_of}).json()
        return {i["id"] for i in body["items"]}

    assert inc["id"] not in overdue_ids("2025-10-08T17:00:00+08:00")  # still the holiday
    assert inc["id"] in overdue_ids("2025-10-11T09:00:00+08:00")  # red on the wall screen
    red = api.get(f"/incidents/{inc['id']}", params={"as_of": "2025-10-11T09:00:00+08:00"})
    assert red.json()["overdue"] is True
    board = api.get("/board", params={"as_of": "2025-10-11T09:00:00+08:00"}).json()
    assert board["overdue_total"] >= 1

    # The worker reports the fix (late, on Saturday 10-11, a make-up working day) ...
    step("in_progress", "2025-10-11T09:30:00+08:00")
    step("handled", "2025-10-11T10:00:00+08:00", "已清理楼道电动车")
    # ... verification fails: back for rework, a new handling clock from Sat 11:00.
    step("rework", "2025-10-11T11:00:00+08:00", "核查发现仍有飞线充电")
    assert inc["rework_count"] == 1 and inc["due_at"] == "2025-10-14T11:00:00+08:00"
    step("handled", "2025-10-13T10:00:00+08:00", "拆除飞线")
    step("verified", "2025-10-13T10:30:00+08:00")
    step("closed", "2025-10-13T11:00:00+08:00")
    assert inc["status"] == "closed" and inc["overdue"] is False  # green
    assert inc["id"] not in overdue_ids("2025-10-13T12:00:00+08:00")
    final = api.get(f"/incidents/{inc['id']}").json()
    assert [e["to_status"] for e in final["events"] if e["kind"] == "transition"] == [
        "registered", "dispatched", "in_progress", "handled", "rework", "handled",
        "verified", "closed"]
    assert {r["channel"] for r in final["reports"]} == {"12345", "patrol"}
    assert final["reporter_phone"] == "137****1234"  # masked by default, even for command
    unmasked = api.get(f"/incidents/{inc['id']}", params={"unmask": "true"}).json()
    assert unmasked["reporter_phone"] == "13700001234"  # the audited unmask shows it
