"""Outside review, round 10 (helper-46), the findings about two counties:

- F1: audit rows about 临县's cases (the prefecture's unmasked reads of a case, an export, a
  note) were filed under 兴县, the lowest of her counties; 临县's admin never saw them.
- F4: the prefecture merged a 兴县 case into a 临县 one, closing it into an object 兴县 cannot
  open and showing it to 临县.
- F6: 临县's admin listed and revoked the API tokens of prefecture users whose home county is
  临县 (they oversee 兴县 as well).
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
from tests.two_counties import LIN, XING, cell_point, two_county_fixture

two_counties = two_county_fixture()


@pytest.fixture(scope="module")
def client(two_counties: tuple[str, Engine]) -> Iterator[TestClient]:
    with two_counties[1].begin() as conn:
        add_user(conn, "r10-lin-admin", "admin", LIN, password="r10-lin-admin-2026")
        add_user(conn, "r10-pref-planner", "planner", LIN, password="r10-pref-planner-2026",
                 scope_code="141100")
    with TestClient(create_app(make_settings(two_counties[0], demo_open=False))) as c:
        yield c


def _case(client: TestClient, engine: Engine, region: str, auth: dict[str, str]) -> Any:
    lon, lat = cell_point(engine, region)
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat,
                                        "reporter_phone": "13812345678"}, headers=auth)
    assert r.status_code == 201 and r.json()["region_code"] == region, r.text[:300]
    return r.json()


def _audit(engine: Engine, after: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT action, region_code, object_id, path, detail FROM audit_log WHERE id > :a "
            "ORDER BY id"), {"a": after}))


def _last(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one())


def test_audit_rows_are_filed_under_the_county_of_the_cases_they_name(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    pref = bearer_for(engine, PREFECTURE_USER[0])
    lin, xing = _case(client, engine, LIN, pref), _case(client, engine, XING, pref)

    before = _last(engine)
    # the case's own read: filed under 临县 even when the caller names another county
    r = client.get(f"/incidents/{lin['id']}", params={"unmask": "true", "region": XING},
                   headers=pref)
    assert r.status_code == 200 and r.json()["reporter_phone"] == "13812345678", r.text[:300]
    rows = _audit(engine, before)
    assert rows and {row[1] for row in rows} == {LIN}, rows

    before = _last(engine)
    r = client.post(f"/incidents/{lin['code']}/notes", json={"note": "r10"}, headers=pref)
    assert r.status_code in (200, 201), r.text[:300]
    rows = _audit(engine, before)
    assert [(row[1], row[2]) for row in rows] == [(LIN, lin["code"])], rows

    # one read revealing cases of both counties: one row per county, each naming its own
    before = _last(engine)
    for region in (LIN, XING):
        r = client.get("/export/incidents", params={
            "format": "csv", "region": region, "unmask": "true",
            "where": f"code IN ('{lin['code']}', '{xing['code']}')"}, headers=pref)
        assert r.status_code == 200 and r.headers["X-Row-Count"] == "1", r.text[:300]
    items = [row for row in _audit(engine, before) if row[0] == "read_personal_items"]
    named = {row[1]: set(row[4].get("incident_ids") or row[4].get("incident_codes") or [])
             for row in items}
    assert set(named) == {LIN, XING}, items
    assert {str(x) for x in named[XING]} & {str(lin["id"]), lin["code"]} == set()
    assert {str(x) for x in named[LIN]} & {str(lin["id"]), lin["code"]}
    # 临县's admin sees the prefecture's reads of her case
    seen = client.get("/audit", params={"user": PREFECTURE_USER[0], "limit": 500},
                      headers=bearer_for(engine, "r10-lin-admin"))
    assert seen.status_code == 200, seen.text[:300]
    assert any(str(lin["id"]) in str(row) or lin["code"] in str(row)
               for row in seen.json()["items"]), seen.text[:500]


def test_cases_of_different_counties_are_not_merged(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    pref = bearer_for(engine, PREFECTURE_USER[0])
    lin, xing = _case(client, engine, LIN, pref), _case(client, engine, XING, pref)
    r = client.post(f"/incidents/{lin['id']}/merge", json={"duplicate_ids": [xing["id"]]},
                    headers=pref)
    assert r.status_code == 422 and "duplicate_ids" in r.text, r.text[:300]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status, merged_into_id FROM incident WHERE id = :i"),
                            {"i": xing["id"]}).one() == (xing["status"], None)
    twice = client.post(f"/incidents/{lin['id']}/merge",
                        json={"duplicate_ids": [xing["id"], xing["id"]]}, headers=pref)
    assert twice.status_code == 422, twice.text[:300]


def test_a_county_admin_does_not_manage_a_prefecture_users_tokens(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    engine = two_counties[1]
    made = client.post("/auth/tokens", json={"name": "r10-pref"},
                       headers=bearer_for(engine, "r10-pref-planner"))
    assert made.status_code == 201, made.text[:300]
    tid = int(made.json()["id"])
    lin_admin = bearer_for(engine, "r10-lin-admin")
    listed = client.get("/auth/tokens", headers=lin_admin)
    assert listed.status_code == 200 and tid not in {int(t["id"]) for t in listed.json()}
    assert client.delete(f"/auth/tokens/{tid}", headers=lin_admin).status_code == 404
    # nor does 兴县's admin; the prefecture user still manages her own
    xing_admin = bearer_for(engine, DEMO_USERS["admin"][0])
    assert client.delete(f"/auth/tokens/{tid}", headers=xing_admin).status_code == 404
    own = client.delete(f"/auth/tokens/{tid}", headers=bearer_for(engine, "r10-pref-planner"))
    assert own.status_code == 200, own.text[:300]
