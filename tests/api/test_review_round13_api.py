"""Outside review, issue 21's low findings left open, API side (two counties: 兴县 and 临县):

- L3: a case code held by two counties answered 兴县's case to a caller who sees both;
- L-empty: ``?region=`` (empty) showed a prefecture user 兴县's county view;
- L-cell: a logged-in 兴县 user got 404 on a 临县 cell's summary the public sees;
- L-period: ``/kpi`` and ``/reports/monthly`` had no default period;
- L-groupby: ``/kpi?group_by=county`` said ``region_code: 141123`` for a prefecture caller;
- L-404: an unknown ``region`` listed every county of the installation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from geo.auth.users import add_user
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, two_county_fixture

two_counties = two_county_fixture()
LIN_COMMAND = "r13-lin-command"


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    url, engine = two_counties
    with engine.begin() as conn:
        add_user(conn, LIN_COMMAND, "command", LIN, password="r13-lin-command-2026")
    settings = make_settings(url, demo_open=False, rate_expensive_per_min=0)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def shared_code(two_counties: tuple[str, Engine]) -> dict[str, Any]:
    """A code both counties hold: a 临县 case renamed to a 兴县 case's code (as a history
    import of 临县 may bring it). Returns the code and each county's case id."""
    engine = two_counties[1]
    with engine.begin() as conn:
        xing_id, code = conn.execute(text(
            "SELECT id, code FROM incident WHERE region_code = :r ORDER BY id LIMIT 1"),
            {"r": XING}).one()
        lin_id = conn.execute(text(
            "SELECT id FROM incident WHERE region_code = :r ORDER BY id LIMIT 1"),
            {"r": LIN}).scalar_one()
        conn.execute(text("UPDATE incident SET code = :c WHERE id = :i"),
                     {"c": code, "i": lin_id})
    return {"code": str(code), XING: int(xing_id), LIN: int(lin_id)}


def _pref(engine: Engine) -> dict[str, str]:
    return bearer_for(engine, PREFECTURE_USER[0])


# ---- L3 -------------------------------------------------------------------------------------

def test_an_ambiguous_code_is_a_409_listing_the_counties(
        two_counties: tuple[str, Engine], client: TestClient,
        shared_code: dict[str, Any]) -> None:
    code = shared_code["code"]
    pref = _pref(two_counties[1])
    for path in (f"/incidents/{code}", f"/incidents/{code}/duplicates"):
        r = client.get(path, headers=pref)
        assert r.status_code == 409, (path, r.status_code, r.text[:300])
        body = r.text
        assert "?region=" in body and "兴县" in body and "临县" in body, body
        assert "exists in 2 counties" in body, body
        assert [c["code"] for c in r.json()["counties"]] == [XING, LIN], body
    # a write names the same refusal: no case of the wrong county moves
    r = client.post(f"/incidents/{code}/notes", json={"note": "两县同号的事件, 测试备注"},
                    headers=pref)
    assert r.status_code == 409, r.text[:300]


def test_region_picks_the_county_of_an_ambiguous_code(
        two_counties: tuple[str, Engine], client: TestClient,
        shared_code: dict[str, Any]) -> None:
    code = shared_code["code"]
    pref = _pref(two_counties[1])
    for region in (LIN, XING):
        for path in (f"/incidents/{code}", f"/incidents/{code}/duplicates"):
            r = client.get(path, params={"region": region}, headers=pref)
            assert r.status_code == 200, (path, r.text[:300])
            inc = r.json() if "duplicates" not in path else r.json()["incident"]
            assert inc["id"] == shared_code[region], (region, inc)


def test_a_county_caller_resolves_a_shared_code_in_her_county(
        two_counties: tuple[str, Engine], client: TestClient,
        shared_code: dict[str, Any]) -> None:
    engine = two_counties[1]
    code = shared_code["code"]
    for user, region in ((DEMO_USERS["command"][0], XING), (LIN_COMMAND, LIN)):
        r = client.get(f"/incidents/{code}", headers=bearer_for(engine, user))
        assert r.status_code == 200, (user, r.text[:300])
        assert r.json()["id"] == shared_code[region], (user, r.json()["region_code"])
    other = client.get(f"/incidents/{code}", params={"region": LIN},
                       headers=bearer_for(engine, DEMO_USERS["command"][0]))
    assert other.status_code == 403, other.text[:300]


# ---- L-empty --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/kpi?from=2026-01-01&to=2026-02-01",
                                  "/board", "/incidents"])
def test_an_empty_region_is_no_region(two_counties: tuple[str, Engine], client: TestClient,
                                      path: str) -> None:
    engine = two_counties[1]
    for headers in (_pref(engine), bearer_for(engine, LIN_COMMAND)):
        absent = client.get(path, headers=headers)
        empty = client.get(path + ("&" if "?" in path else "?") + "region=", headers=headers)
        assert empty.status_code == absent.status_code, (path, empty.text[:300],
                                                        absent.text[:300])
        if absent.status_code == 200:
            a, e = absent.json(), empty.json()
            if isinstance(a, dict):
                assert e.get("region_code") == a.get("region_code"), path
            else:
                assert {x["region_code"] for x in e} == {x["region_code"] for x in a}, path


def test_an_empty_region_gives_the_prefecture_its_whole_report(
        two_counties: tuple[str, Engine], client: TestClient) -> None:
    pref = _pref(two_counties[1])
    absent = client.get("/reports/monthly", params={"month": "2026-09", "format": "json"},
                        headers=pref)
    empty = client.get("/reports/monthly?month=2026-09&format=json&region=", headers=pref)
    assert absent.status_code == empty.status_code == 200, empty.text[:300]
    assert (empty.json()["inputs"]["region_code"]
            == absent.json()["inputs"]["region_code"]), empty.json()["inputs"]


# ---- L-cell ---------------------------------------------------------------------------------

def test_a_neighbour_countys_cell_summary_is_the_public_card(
        two_counties: tuple[str, Engine], client: TestClient) -> None:
    engine = two_counties[1]
    with engine.connect() as conn:
        cell = conn.execute(text(
            "SELECT c.code FROM grid_cell c JOIN boundary_set s ON s.id = c.boundary_set_id "
            "AND s.is_active WHERE c.region_code = :r AND c.kind = 'basic' ORDER BY c.code "
            "LIMIT 1"), {"r": LIN}).scalar_one()
    public = client.get(f"/cells/{cell}/summary")
    assert public.status_code == 200, public.text[:300]
    for user in (DEMO_USERS["command"][0], DEMO_USERS["worker"][0]):
        r = client.get(f"/cells/{cell}/summary", headers=bearer_for(engine, user))
        assert r.status_code == 200, (user, r.text[:300])
        assert r.json() == public.json(), user
    own = client.get(f"/cells/{cell}/summary", headers=bearer_for(engine, LIN_COMMAND))
    assert own.status_code == 200 and own.json()["code"] == cell, own.text[:300]


# ---- L-period -------------------------------------------------------------------------------

def test_kpi_and_the_monthly_report_default_to_the_current_month(
        two_counties: tuple[str, Engine], client: TestClient) -> None:
    engine = two_counties[1]
    xing = bearer_for(engine, DEMO_USERS["command"][0])
    as_of = "2026-12-06T01:30:00+08:00"  # 2026-12-05 17:30 UTC: December in Shanghai
    r = client.get("/kpi", params={"as_of": as_of}, headers=xing)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert (body["from"], body["to"]) == ("2026-12-01", "2027-01-01"), body["from"]
    used = body["period_used"]
    assert used["default"] is True and used["month"] == "2026-12", used
    assert "本月" in used["zh"] and "Asia/Shanghai" in used["en"], used
    given = client.get("/kpi", params={"from": "2026-12-01", "to": "2027-01-01",
                                       "as_of": as_of}, headers=xing).json()
    assert given["total"] == body["total"] and given["period_used"]["default"] is False
    half = client.get("/kpi", params={"from": "2026-12-01"}, headers=xing)
    assert half.status_code == 422 and "to" in half.json()["detail"], half.text[:300]
    rep = client.get("/reports/monthly", params={"as_of": as_of, "format": "json"},
                     headers=xing)
    assert rep.status_code == 200, rep.text[:300]
    assert rep.json()["inputs"]["month"] == "2026-12", rep.json()["inputs"]
    assert rep.json()["period_used"]["default"] is True
    assert rep.headers["X-Wangge-Period"] == "2026-12"


# ---- L-groupby ------------------------------------------------------------------------------

def test_kpi_by_county_names_the_scope(two_counties: tuple[str, Engine],
                                       client: TestClient) -> None:
    r = client.get("/kpi", params={"group_by": "county", "from": "2026-09-01",
                                   "to": "2026-10-01"}, headers=_pref(two_counties[1]))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["region_code"] == "141100", body["region_code"]
    assert [c["code"] for c in body["scope"]["counties"]] == [XING, LIN], body["scope"]
    assert {g["key"] for g in body["groups"]} == {XING, LIN}


# ---- L-404 ----------------------------------------------------------------------------------

def test_an_unknown_region_lists_the_callers_counties_only(
        two_counties: tuple[str, Engine], client: TestClient) -> None:
    engine = two_counties[1]
    for user, mine in ((DEMO_USERS["command"][0], [XING]), (LIN_COMMAND, [LIN]),
                       (PREFECTURE_USER[0], [XING, LIN])):
        r = client.get("/incidents", params={"region": "999999"},
                       headers=bearer_for(engine, user))
        assert r.status_code == 404, (user, r.text[:300])
        assert r.json()["regions"] == mine, (user, r.json())
        others = {XING, LIN} - set(mine)
        assert not any(c in r.json()["detail"] for c in others), (user, r.json()["detail"])


# ---- L-name ---------------------------------------------------------------------------------

def test_the_second_countys_demo_set_is_named_after_it(
        two_counties: tuple[str, Engine]) -> None:
    with two_counties[1].connect() as conn:
        sets = {r: (n, s) for r, n, s in conn.execute(text(
            "SELECT region_code, name, synthetic FROM boundary_set WHERE is_active"))}
    assert sets[LIN] == ("临县网格 2021 (演示, 合成数据)", True), sets
    assert sets[XING] == ("兴县网格 2021 (演示, 合成数据)", True), sets


def test_region_does_not_change_what_an_id_names(
        two_counties: tuple[str, Engine], client: TestClient,
        shared_code: dict[str, Any]) -> None:
    """An id is unique: ``?region=`` picks among codes only (review round 10 reads a 临县 case
    by id with ``region=141123`` and files the read under 临县)."""
    r = client.get(f"/incidents/{shared_code[LIN]}", params={"region": XING},
                   headers=_pref(two_counties[1]))
    assert r.status_code == 200 and r.json()["region_code"] == LIN, r.text[:300]


def test_the_dispatch_case_panel_asks_and_picks_like_the_api(
        two_counties: tuple[str, Engine], client: TestClient,
        shared_code: dict[str, Any]) -> None:
    code = shared_code["code"]
    pref = _pref(two_counties[1])
    r = client.get(f"/maps/dispatch/case/{code}", headers=pref)
    assert r.status_code == 409 and "?region=" in r.text, r.text[:300]
    for region in (LIN, XING):
        r = client.get(f"/maps/dispatch/case/{code}", params={"region": region}, headers=pref)
        assert r.status_code == 200, r.text[:300]
        # its actions name the picked case by id: a code held by two counties would be a 409
        assert f"data-path='/incidents/{shared_code[region]}/" in r.text, r.text[:600]
        other = XING if region == LIN else LIN
        assert f"data-path='/incidents/{shared_code[other]}/" not in r.text
