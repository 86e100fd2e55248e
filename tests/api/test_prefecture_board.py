"""The prefecture command centre's board (issue 21 item 2): ``/board?group_by=county``.

On two counties (兴县 demo + 临县 added by ``region add`` / ``demo load --region``): the
prefecture user (吕梁市, demo-prefecture) gets one row per county in scope, each equal to that
county's own ``/board`` (the board's own function, no count of its own), with totals; a 兴县
user gets her county only; a bad ``group_by`` is a 422 naming the values.
"""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


@pytest.mark.parametrize("period", ["all", "today", "month"])
def test_board_by_county_for_the_prefecture(client: TestClient, two_counties: tuple[str, Engine],
                                            period: str) -> None:
    pref = bearer_for(two_counties[1], PREFECTURE_USER[0])
    r = client.get(f"/board?group_by=county&period={period}", headers=pref)
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {c["region_code"]: c for c in body["counties"]}
    assert set(rows) == {XING, LIN} and rows[LIN]["name"] == "临县"
    for code, row in rows.items():
        alone = client.get(f"/board?region={code}&period={period}", headers=pref).json()
        assert row["by_status"] == alone["by_status"], code
        assert (row["open"], row["overdue_total"]) == (alone["open"], alone["overdue_total"])
        assert row["reports"] == sum(alone["by_status"].values())
    if period == "all":
        assert rows[LIN]["reports"] >= 1400 and rows[XING]["reports"] >= 10_000
    for key in ("reports", "open", "overdue_total"):
        assert body["total"][key] == sum(row[key] for row in rows.values()), key


@pytest.mark.parametrize("role", ["command", "worker", "department", "admin"])
def test_a_county_user_gets_her_county_only(client: TestClient,
                                            two_counties: tuple[str, Engine], role: str) -> None:
    auth = bearer_for(two_counties[1], DEMO_USERS[role][0])
    r = client.get("/board?group_by=county", headers=auth)
    assert r.status_code == 200, r.text
    assert [c["region_code"] for c in r.json()["counties"]] == [XING]
    assert "SJ" + LIN not in r.text and "临县" not in r.text


def test_bad_group_by(client: TestClient, two_counties: tuple[str, Engine]) -> None:
    pref = bearer_for(two_counties[1], PREFECTURE_USER[0])
    r = client.get("/board?group_by=township", headers=pref)
    assert r.status_code == 422 and "group_by" in r.text and "county" in r.text
