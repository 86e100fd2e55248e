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
from tests.two_counties import LIN, cell_point, two_county_fixture

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


def test_each_countys_admin_sets_her_own_countys_category_limits(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """N-2: the category table is shared by the counties; 临县's admin changed the deadlines of
    兴县's cases through PUT /incidents/categories/{code}/limits. Each county's limits are now
    its own: 临县's change reaches 临县's new cases only, and no admin sets another county's."""
    from geo.incidents.reference import county_limits

    engine = two_counties[1]
    with engine.connect() as conn:
        xing_before = county_limits(conn, "141123", "water")["water"]
    lin_admin = bearer_for(engine, "r9-lin-admin")
    fast = {"normal": {"clock": "calendar", "register": 7, "dispatch": 30, "handle": 600,
                       "verify": 120},
            "urgent": {"clock": "calendar", "register": 3, "dispatch": 10, "handle": 120,
                       "verify": 60}}
    r = client.put("/incidents/categories/water/limits", json=fast, headers=lin_admin)
    assert r.status_code == 200 and r.json()["region_code"] == LIN, r.text[:300]
    with engine.connect() as conn:
        assert county_limits(conn, "141123", "water")["water"] == xing_before
        assert county_limits(conn, LIN, "water")["water"]["normal"]["register"] == 7
    # neither admin names the other's county
    assert client.put("/incidents/categories/water/limits", json=fast, params={"region": LIN},
                      headers=bearer_for(engine, DEMO_USERS["admin"][0])).status_code == 403
    assert client.put("/incidents/categories/water/limits", json=fast,
                      params={"region": "141123"}, headers=lin_admin).status_code == 403
    # a new case in each county runs on its county's register limit
    points = {region: cell_point(engine, region) for region in ("141123", LIN)}
    from geo.demo.grid_county import PREFECTURE_USER

    pref = bearer_for(engine, PREFECTURE_USER[0])
    due: dict[str, dict[str, Any]] = {}
    for region, (lon, lat) in points.items():
        made = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                           headers=pref)
        assert made.status_code == 201 and made.json()["region_code"] == region, made.text[:300]
        due[region] = made.json()["deadline"]
    assert due[LIN]["limit_min"] == 7, due[LIN]
    assert due["141123"]["limit_min"] == xing_before["normal"]["register"], due["141123"]


def test_a_prefecture_users_write_is_audited_under_the_county_it_touched(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """N-3: every audit row of a user of several counties was filed under the lowest code, so
    临县's admin never saw what the prefecture did in 临县."""
    from geo.demo.grid_county import PREFECTURE_USER

    engine = two_counties[1]
    lon, lat = cell_point(engine, LIN)
    r = client.post("/incidents", json={"category": "water", "lon": lon, "lat": lat},
                    headers=bearer_for(engine, PREFECTURE_USER[0]))
    assert r.status_code == 201 and r.json()["region_code"] == LIN, r.text[:300]
    with engine.connect() as conn:
        region = conn.execute(text(
            "SELECT region_code FROM audit_log WHERE action = 'create_incident' "
            "AND object_id = :i"), {"i": str(r.json()["id"])}).scalar_one()
    assert region == LIN


@pytest.mark.parametrize("asked", [LIN, "141123"])
def test_a_prefecture_users_unmasked_read_is_audited_under_the_county_asked(
        client: TestClient, two_counties: tuple[str, Engine], asked: str) -> None:
    """N-3 (reads): the ``read_personal`` record written before an unmasked read was filed
    under the lowest of a prefecture user's counties whatever county she read."""
    from geo.demo.grid_county import PREFECTURE_USER

    engine = two_counties[1]
    with engine.connect() as conn:
        before = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    r = client.get("/incidents", params={"region": asked, "unmask": "true", "limit": 1},
                   headers=bearer_for(engine, PREFECTURE_USER[0]))
    assert r.status_code == 200, r.text[:300]
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT region_code, detail FROM audit_log WHERE action = 'read_personal' "
            "AND id > :b"), {"b": before}).all()
    assert [row[0] for row in rows] == [asked]
    assert set(rows[0][1]["regions"]) >= {LIN, "141123"}


def test_a_point_in_another_county_is_answered_as_the_public_sees_it(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """N-5: ``GET /cells/at`` of a point in 临县 showed 兴县's command centre and admin the full
    name of 临县's grid worker (masked for the public); 临县's own command centre and the
    prefecture keep it, and a 兴县 point still shows 兴县's command centre the full name."""
    from geo.demo.grid_county import PREFECTURE_USER

    engine = two_counties[1]

    def point(region: str) -> tuple[float, float]:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(c.geom) p "
                "FROM grid_cell c JOIN boundary_set s ON s.id = c.boundary_set_id "
                "AND s.is_active JOIN worker_assignment a ON a.cell_code = c.code "
                "AND a.region_code = c.region_code AND a.valid_to IS NULL "
                "WHERE c.region_code = :r AND c.kind = 'basic' ORDER BY c.code LIMIT 1) q"),
                {"r": region}).one()
        return float(row[0]), float(row[1])

    def worker_name(who: str | None, region: str) -> str:
        lon, lat = point(region)
        auth = bearer_for(engine, who) if who else {}
        r = client.get("/cells/at", params={"lon": lon, "lat": lat}, headers=auth)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["properties"]["region"] == region
        return str(r.json()["properties"]["worker"]["name"])

    public = worker_name(None, LIN)
    assert "*" in public
    for who in (DEMO_USERS["command"][0], DEMO_USERS["admin"][0]):
        assert worker_name(who, LIN) == public
        assert "*" not in worker_name(who, "141123")
    full = worker_name("r9-lin-cmd", LIN)
    assert "*" not in full and worker_name(PREFECTURE_USER[0], LIN) == full


def test_a_report_over_the_county_line_is_kept_like_a_bulk_row(
        client: TestClient, two_counties: tuple[str, Engine]) -> None:
    """Info finding: a single report of a point just inside 临县 by 兴县's command centre was a
    403 while the same row of a bulk upload was kept as needs_location in 兴县. One rule now:
    within NEAR_REGION_M of the caller's county it is kept for her command centre to locate;
    deep inside the neighbour it is refused (422) and nothing is kept."""
    from geo.incidents.routing import NEAR_REGION_M

    engine = two_counties[1]
    with engine.connect() as conn:
        near, deep = conn.execute(text(
            "WITH x AS (SELECT ST_Union(geom) g FROM admin_unit WHERE region_code = '141123' "
            "AND level = 'county'), l AS (SELECT ST_Union(geom) g FROM admin_unit "
            "WHERE region_code = :lin AND level = 'county'), "
            "band AS (SELECT ST_Intersection(l.g, ST_SetSRID(ST_Difference("
            "ST_Buffer(x.g::geography, :m)::geometry, ST_Buffer(x.g::geography, 300)::geometry"
            "), 4490)) b, ST_Difference(l.g, ST_SetSRID("
            "ST_Buffer(x.g::geography, 3 * :m)::geometry, 4490)) d FROM x, l) "
            "SELECT ARRAY[ST_X(ST_PointOnSurface(b)), ST_Y(ST_PointOnSurface(b))], "
            "ARRAY[ST_X(ST_PointOnSurface(d)), ST_Y(ST_PointOnSurface(d))] FROM band"),
            {"lin": LIN, "m": NEAR_REGION_M / 2}).one()
        before = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    cmd = bearer_for(engine, DEMO_USERS["command"][0])
    kept = client.post("/incidents", json={"category": "water", "lon": near[0], "lat": near[1]},
                       headers=cmd)
    assert kept.status_code == 422, kept.text[:300]
    assert kept.json()["incident"]["status"] == "needs_location"
    assert kept.json()["incident"]["region_code"] == "141123"
    far = client.post("/incidents", json={"category": "water", "lon": deep[0], "lat": deep[1]},
                      headers=cmd)
    assert far.status_code == 422 and "incident" not in far.json(), far.text[:300]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == before + 1


@pytest.mark.parametrize("path", ["/export/cells", "/export/admin", "/kpi", "/incidents"])
@pytest.mark.parametrize("asked", ["兴县", "141199", "14112"])
def test_an_unknown_region_is_named_not_answered_empty(
        client: TestClient, two_counties: tuple[str, Engine], path: str, asked: str) -> None:
    """Review round 8, L7: ``/export/cells?region=兴县`` (a name, not a code) answered 200 with
    no rows, as if the county had no cells. An unknown region is a 404 listing the known ones,
    for the public and for a logged-in caller; a known county outside the scope stays 403."""
    engine = two_counties[1]
    cmd = bearer_for(engine, DEMO_USERS["command"][0])
    for auth in ({}, cmd):
        r = client.get(path, params={"region": asked}, headers=auth)
        if not auth and path in ("/kpi", "/incidents"):
            assert r.status_code in (401, 403, 404), r.text[:300]
            continue
        assert r.status_code == 404, (path, auth, r.status_code, r.text[:300])
        assert "141123" in r.text and "unknown region" in r.text
        # a county user is told her own counties only (review rounds 12-13, L-404, L2)
        assert (LIN in r.json()["regions"]) == (not auth), r.text
    assert client.get(path, params={"region": LIN}, headers=cmd).status_code == 403
