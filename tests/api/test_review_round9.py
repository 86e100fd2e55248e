"""Outside review, round 9 (helper-43), N-1: an admin listed and revoked the API tokens of
another county's users (``GET/DELETE /auth/tokens``). An admin's tokens page is her county's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from geo.auth.users import add_user
from geo.demo.users import DEMO_USERS
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, two_county_fixture

two_counties = two_county_fixture()


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with two_counties[1].begin() as conn:
        add_user(conn, "r9-lin-admin", "admin", LIN, password="r9-lin-admin-2026")
        add_user(conn, "r9-lin-cmd", "command", LIN, password="r9-lin-cmd-2026")
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


def _mint(client: TestClient, auth: dict[str, str], name: str) -> int:
    r = client.post("/auth/tokens", json={"name": name}, headers=auth)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_an_admin_manages_her_own_countys_tokens_only(client: TestClient,
                                                      two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    xing_admin = bearer_for(engine, DEMO_USERS["admin"][0])
    lin_admin = bearer_for(engine, "r9-lin-admin")
    lin_token = _mint(client, bearer_for(engine, "r9-lin-cmd"), "lin-bridge")
    xing_token = _mint(client, bearer_for(engine, DEMO_USERS["viewer"][0]), "xing-bridge")

    def listed(auth: dict[str, str]) -> set[int]:
        r = client.get("/auth/tokens", headers=auth)
        assert r.status_code == 200, r.text
        return {int(t["id"]) for t in r.json()}

    assert xing_token in listed(xing_admin) and lin_token not in listed(xing_admin)
    assert lin_token in listed(lin_admin) and xing_token not in listed(lin_admin)
    # another county's token: not found (not revealed), and still valid
    assert client.delete(f"/auth/tokens/{lin_token}", headers=xing_admin).status_code == 404
    assert client.delete(f"/auth/tokens/{xing_token}", headers=lin_admin).status_code == 404
    assert lin_token in listed(lin_admin) and xing_token in listed(xing_admin)
    revoked: Any = client.delete(f"/auth/tokens/{lin_token}", headers=lin_admin)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True


def test_another_countys_admin_cannot_change_the_category_limits(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """N-2: the category table belongs to 兴县 (its region_code); 临县's admin changed the
    deadlines of 兴县's cases through PUT /incidents/categories/{code}/limits."""
    engine = two_counties[1]
    with engine.connect() as conn:
        ebike = conn.execute(text("SELECT limits FROM incident_category "
                                  "WHERE code = 'ebike_charging'")).scalar_one()
    lin = client.put("/incidents/categories/ebike_charging/limits", json=ebike,
                     headers=bearer_for(engine, "r9-lin-admin"))
    assert lin.status_code == 403 and "141123" in lin.json()["detail"], lin.text[:300]
    xing = client.put("/incidents/categories/ebike_charging/limits", json=ebike,
                      headers=bearer_for(engine, DEMO_USERS["admin"][0]))
    assert xing.status_code == 200, xing.text[:300]


def test_a_prefecture_users_write_is_audited_under_the_county_it_touched(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """N-3: every audit row of a user of several counties was filed under the lowest code, so
    临县's admin never saw what the prefecture did in 临县."""
    from geo.demo.grid_county import PREFECTURE_USER

    engine = two_counties[1]
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(c.geom) p FROM grid_cell c "
            "JOIN boundary_set s ON s.id = c.boundary_set_id AND s.is_active "
            "WHERE c.region_code = :r AND c.kind = 'basic' ORDER BY c.code LIMIT 1) q"),
            {"r": LIN}).one()
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                    headers=bearer_for(engine, PREFECTURE_USER[0]))
    assert r.status_code == 201 and r.json()["region_code"] == LIN, r.text[:300]
    with engine.connect() as conn:
        region = conn.execute(text(
            "SELECT region_code FROM audit_log WHERE action = 'create_incident' "
            "AND object_id = :i"), {"i": str(r.json()["id"])}).scalar_one()
    assert region == LIN
