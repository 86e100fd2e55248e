"""Review round 14 (issue 21), API findings, on two counties (兴县 demo + 临县).

F13: a ``?region=`` on the grid worker's own patrol routes (``/me/key-points``,
``/me/patrols``, ``POST /me/checkins``, ``POST /me/patrols``) was not checked: on one server
it was ignored (兴县's answer to ``region=141124`` or an unknown code), on a coordinator the
request went to the other county's shard and read "only an account linked to a grid worker
records patrols" (403). Now it is the answer every route gives: an unknown code is a 404
listing her counties, a county outside her scope the 403 naming it, her own county or an empty
``region=`` as before.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from tests.conftest import make_settings
from tests.served import bearer
from tests.two_counties import LIN, XING, two_county_fixture

two_counties = two_county_fixture()


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


CHECKIN = {"key_point_id": 1, "lon": 111.13, "lat": 38.46}
SEGMENT = {"client_id": "r14-f13-segment", "started_at": "2026-11-20T09:00:00+08:00",
           "points": []}


def _calls(region: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [("GET", f"/me/key-points?region={region}", None),
            ("GET", f"/me/patrols?region={region}", None),
            ("POST", f"/me/checkins?region={region}", CHECKIN),
            ("POST", f"/me/patrols?region={region}", SEGMENT)]


def test_a_wrong_region_on_my_patrol_routes_says_what_is_wrong(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    h = bearer(two_counties[1], "worker")  # a grid worker of 兴县
    for method, path, body in _calls(LIN):
        r = client.request(method, path, headers=h, json=body)
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert r.json()["region"] == LIN and "无权访问区域 141124" in r.json()["detail"], r.text
        assert "网格员" not in r.json()["detail"], r.text  # not "you are no grid worker"
    for method, path, body in _calls("999999"):
        r = client.request(method, path, headers=h, json=body)
        assert r.status_code == 404, (path, r.status_code, r.text[:300])
        assert "未知区域 999999" in r.json()["detail"] and r.json()["regions"] == [XING], r.text
    # her own county, or region= left empty: as without region
    for region in (XING, ""):
        r = client.get(f"/me/key-points?region={region}", headers=h)
        assert r.status_code == 200 and r.json()["count"] > 0, r.text[:300]
        assert r.json() == client.get("/me/key-points", headers=h).json()
        r = client.get(f"/me/patrols?region={region}", headers=h)
        assert r.status_code == 200 and r.json()["region_code"] == XING, r.text[:300]
