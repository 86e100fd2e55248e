"""Findings F13 and F16 of the outside review of issue 15, each reproduced as reported.

F13: logout left the session token valid until it expired; the browser login form accepted a
post from another site (login CSRF). F16: a department reported backdated cases in any cell,
overdue on arrival and charged to that cell's grid worker; a worker labelled her own report a
12345 hotline call and charged it to any department.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo import localtime
from geo.auth.tokens import issue_session_token
from geo.demo.users import DEMO_USERS
from tests.conftest import own_demo_client


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        yield client, {**s, "h": role_headers}


def _fresh_session(s: dict[str, Any], role: str) -> dict[str, str]:
    """A session of its own for ``role`` (logging out must not end the shared fixtures')."""
    username = DEMO_USERS[role][0]
    with s["engine"].connect() as conn:
        uid, ver = conn.execute(text("SELECT id, token_version FROM app_user WHERE username = :u"),
                                {"u": username}).one()
    token, _ = issue_session_token(s["settings"].secret_key, uid, username, ver, 3600)
    return {"Authorization": f"Bearer {token}"}


# ------------------------------------------------------------------------------------ F13

def test_f13_logout_ends_the_session_at_once(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    mine, other = _fresh_session(s, "department"), _fresh_session(s, "department")
    assert client.get("/auth/me", headers=mine).status_code == 200
    r = client.post("/auth/logout", headers=mine)
    assert r.status_code == 200 and r.json()["logged_out"] is True, r.text
    gone = client.get("/auth/me", headers=mine)
    assert gone.status_code == 401 and "logged out" in gone.text
    # the same user's other session goes on
    assert client.get("/auth/me", headers=other).json()["user"] == DEMO_USERS["department"][0]


def test_f13_logout_everywhere(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    phone, desk = _fresh_session(s, "planner"), _fresh_session(s, "planner")
    r = client.post("/auth/logout", params={"everywhere": "true"}, headers=desk)
    assert r.status_code == 200 and r.json()["everywhere"] is True
    assert client.get("/auth/me", headers=phone).status_code == 401
    assert client.get("/auth/me", headers=desk).status_code == 401


def test_f13_browser_logout_ends_the_cookie_session(env: tuple[TestClient, dict[str, Any]]
                                                    ) -> None:
    client, s = env
    token = _fresh_session(s, "viewer")["Authorization"].split()[1]
    with TestClient(client.app) as browser:
        browser.cookies.set("wangge_token", token)
        assert browser.get("/auth/me").json()["user"] == DEMO_USERS["viewer"][0]
        r = browser.post("/logout", headers={"Origin": "http://testserver",
                                             "Sec-Fetch-Site": "same-origin"},
                         follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 401


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_f13_login_form_from_another_site_is_refused(
        env: tuple[TestClient, dict[str, Any]], headers: dict[str, str]) -> None:
    client, _ = env
    username, password, _ = DEMO_USERS["worker"]
    r = client.post("/login", data={"username": username, "password": password},
                    headers=headers, follow_redirects=False)
    assert r.status_code == 403, r.status_code
    assert "set-cookie" not in r.headers
    assert "another site" in r.text


def test_f13_login_form_from_its_own_page_works(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, _ = env
    username, password, _ = DEMO_USERS["worker"]
    r = client.post("/login", data={"username": username, "password": password,
                                    "next": "/maps/cell"},
                    headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "wangge_token=" in r.headers["set-cookie"]


# ------------------------------------------------------------------------------------ F16

def _report(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/incidents", headers=headers,
                       json={"category": "ebike_charging", "description": "F16", **body})


def test_f16_department_report_is_not_charged_to_the_cells_worker(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    back = (localtime.now() - dt.timedelta(hours=23, minutes=55)).isoformat()
    r = _report(client, s["h"]["department"], lon=s["x"], lat=s["y"], reported_at=back,
                urgency="urgent")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["overdue"] is False, case.get("due_at")
    assert dt.datetime.fromisoformat(case["due_at"]) > localtime.now()
    with s["engine"].connect() as conn:
        worker_id = conn.execute(text("SELECT worker_id FROM incident WHERE id = :i"),
                                 {"i": case["id"]}).scalar_one()
    assert worker_id is None
    assert case["routing"]["worker"]["charged"] is False


def test_f16_backdated_field_report_runs_from_entry(env: tuple[TestClient, dict[str, Any]]
                                                    ) -> None:
    client, s = env
    back = localtime.now() - dt.timedelta(hours=23, minutes=55)
    r = _report(client, s["h"]["worker"], lon=s["x"], lat=s["y"], reported_at=back.isoformat(),
                urgency="urgent")
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["overdue"] is False
    assert abs(dt.datetime.fromisoformat(case["reported_at"]) - back) < dt.timedelta(seconds=1)
    assert case["channel"] == "patrol"  # a worker's own report, unless she says photo/camera
    # the command centre's backdated entry still runs from the report (a late hotline log)
    r = _report(client, s["h"]["command"], lon=s["x"], lat=s["y"],
                reported_at=(localtime.now() - dt.timedelta(days=20)).isoformat(),
                urgency="urgent")
    assert r.status_code == 201 and r.json()["overdue"] is True
    assert r.json()["channel"] == "12345"


@pytest.mark.parametrize("role", ["worker", "department"])
@pytest.mark.parametrize("channel", ["12345", "110", "petition", "热线"])
def test_f16_field_staff_cannot_claim_a_desk_channel(
        env: tuple[TestClient, dict[str, Any]], role: str, channel: str) -> None:
    client, s = env
    r = _report(client, s["h"][role], lon=s["x"], lat=s["y"], channel=channel)
    if channel == "热线" and r.status_code == 422:  # not an alias of 12345: unknown channel
        return
    assert r.status_code == 403, r.text
    assert r.json()["field"] == "channel"


def test_f16_worker_cannot_route_to_another_department(env: tuple[TestClient, dict[str, Any]]
                                                       ) -> None:
    client, s = env
    r = _report(client, s["h"]["worker"], lon=s["x"], lat=s["y"], department="gongan")
    assert r.status_code == 403 and r.json()["field"] == "department", r.text
    r = _report(client, s["h"]["command"], lon=s["x"], lat=s["y"], department="gongan")
    assert r.status_code == 201 and r.json()["department_code"] == "gongan"


def test_f16_field_photo_channel_allowed(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    r = _report(client, s["h"]["worker"], lon=s["x"], lat=s["y"], channel="photo")
    assert r.status_code == 201 and r.json()["channel"] == "photo"


# ------------------------------------------------------------------- newcomer walk, N2

def test_n2_unknown_status_is_a_422_naming_the_valid_ones(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    r = client.get("/incidents", params={"status": "overdue"}, headers=s["h"]["command"])
    assert r.status_code == 422 and "open" in r.json()["valid"] and "dispatched" in r.text
    opened = client.get("/incidents", params={"status": "open", "limit": 50},
                        headers=s["h"]["command"])
    assert opened.status_code == 200 and opened.json()
    assert all(i["status"] not in ("closed", "rejected", "cancelled") for i in opened.json())


# ------------------------------------------------------------- review round 3 (R1-R3)

def test_r1_only_the_command_centre_locates(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    r = client.post("/incidents", headers=s["h"]["command"], json={
        "category": "fire_lane_blocked", "description": "R1", "place": "不存在的地方R1",
        "reported_at": (localtime.now() - dt.timedelta(days=3)).isoformat()})
    assert r.status_code == 422, r.text
    iid = r.json()["incident"]["id"] if "incident" in r.json() else r.json()["id"]
    assert client.get(f"/incidents/{iid}", headers=s["h"]["department"]).status_code == 200
    for role in ("department", "worker"):
        r = client.post(f"/incidents/{iid}/locate", headers=s["h"][role],
                        json={"lon": s["x"], "lat": s["y"]})
        assert r.status_code in (403, 404), (role, r.text)
    r = client.post(f"/incidents/{iid}/locate", headers=s["h"]["command"],
                    json={"lon": s["x"], "lat": s["y"]})
    assert r.status_code == 200 and r.json()["status"] == "reported", r.text


@pytest.mark.parametrize(("path", "params"), [
    ("/ogc/collections/incidents/items", {"datetime": "9999-12-31"}),
    ("/ogc/collections/incidents/items", {"datetime": "../9999-12-31"}),
    ("/ogc/collections/incidents/items", {"datetime": "0001-01-01/2026-01-01"}),
    ("/tiles/incidents/14/13249/6293.pbf", {"datetime": "9999-12-31"}),
    ("/maps/dispatch", {"from": "9999-12-30", "to": "9999-12-31"}),
    ("/maps/data/incidents", {"bbox": "111.1,38.44,111.14,38.46", "from": "9999-12-30",
                              "to": "9999-12-31"}),
    ("/maps/coverage/cameras", {"from": "9999-12-30", "to": "9999-12-31", "k": "0",
                                "hotspots": "false"}),
])
def test_r2_last_representable_day_is_a_422(env: tuple[TestClient, dict[str, Any]], path: str,
                                             params: dict[str, str]) -> None:
    client, s = env
    r = client.get(path, params=params, headers=s["h"]["command"])
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert "1900-2200" in r.text


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("members", [
    {"/".join(["a" * 200] * 30) + "/x.shp": b"x"},
    {("b" * 300) + ".shp": b"x"},
    {f"d/{i}.txt": b"" for i in range(10_001)},
])
def test_r3_hostile_zip_members_are_a_422(env: tuple[TestClient, dict[str, Any]],
                                          members: dict[str, bytes]) -> None:
    client, s = env
    r = client.post("/admin/import/cameras", headers=s["h"]["admin"],
                    files={"file": ("layer.zip", _zip(members), "application/zip")})
    assert r.status_code == 422, (r.status_code, r.text[:300])


def test_r4_unmasked_overdue_is_audited_and_maps_never_unmask(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    r = client.get("/incidents/overdue", params={"unmask": "true", "limit": 500},
                   headers=s["h"]["command"])
    assert r.status_code == 200 and r.json()["items"]
    with s["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                              "'read_personal_items' AND path = '/incidents/overdue'")).scalar()
    assert n >= 1
    phone = "13912345678"
    made = _report(client, s["h"]["worker"], lon=s["x"], lat=s["y"],
                   description=f"楼道 电话{phone}")
    assert made.status_code == 201
    page = client.get("/maps/data/incidents", params={
        "bbox": f"{s['x'] - 0.01},{s['y'] - 0.01},{s['x'] + 0.01},{s['y'] + 0.01}",
        "unmask": "true"}, headers=s["h"]["worker"])
    assert page.status_code == 200 and phone not in page.text


def test_r5_numbers_written_otherwise_are_masked() -> None:
    from geo.auth.principal import mask_personal_text

    text_in = ("139.1234.5678 | 139—1234—5678 | 139–1234–5678 | (0358)6012345 | "
               "+86 (139) 1234-5678 | 142301 1990 0101 1234 | 142301900101123 | "
               "0358 601 2345 | 0351 1234 5678")
    out = mask_personal_text(text_in)
    assert out is not None
    for raw in ("1234.5678", "1234—5678", "1234–5678", "6012345", "(139) 1234", "1990 0101",
                "601 2345", "1234 5678"):
        assert raw not in out, (raw, out)
    # codes stay readable: grid cells (15 digits), communities, case numbers
    kept = ("2026-10-01 14:30 坐标 111.1234567, 38.4567890 订单 20261203000123 网格 "
            "141123100001001 改派到 141123203200001 社区 141123100001 事件 SJ20261205N0020004")
    assert mask_personal_text(kept) == kept


def test_r6_export_where_has_the_filter_limits(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    long = "code LIKE '" + "%_" * 3000 + "'"
    r = client.get("/export/incidents", params={"format": "csv", "where": long},
                   headers=s["h"]["command"])
    assert r.status_code == 422 and "4000" in r.text
    r = client.get("/export/incidents", params={"format": "csv",
                                                "where": "status = 'closed'\n"},
                   headers=s["h"]["command"])
    assert r.status_code == 200, r.text[:200]


def test_r13_demand_table_lists_only_the_callers_cases(
        env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    params = {"table": "demand", "k": "2", "from": "2026-07-01", "to": "2026-10-31",
              "geometry": "false"}
    mine = client.get("/analysis/camera-sites", params=params, headers=s["h"]["worker"])
    county = client.get("/analysis/camera-sites", params=params, headers=s["h"]["command"])
    assert mine.status_code == 200 and county.status_code == 200, mine.text[:300]

    def rows(r: Any) -> list[dict[str, Any]]:
        body = r.json()
        table = body.get("tables", {}).get("demand", body.get("rows", body))
        return table.get("features", table) if isinstance(table, dict) else table

    assert 0 < len(rows(mine)) < len(rows(county))
    assert all((f.get("properties", f)).get("code") for f in rows(mine))


@pytest.mark.parametrize(("path", "body"), [
    ("/incidents", '{"category":"water","lon":0,"lat":0,"description":"\\ud800"}'),
    ("/spatial/incidents/intersects",
     '{"geometry":{"type":"Point","coordinates":[111.12,38.45]},"crs":"\\ud800"}'),
])
def test_r14_lone_surrogate_is_a_422(env: tuple[TestClient, dict[str, Any]], path: str,
                                     body: str) -> None:
    client, s = env
    if path == "/incidents":
        body = body.replace('"lon":0,"lat":0', f'"lon":{s["x"]},"lat":{s["y"]}')
    r = client.post(path, content=body.encode(), headers={
        **s["h"]["worker"], "content-type": "application/json"})
    assert r.status_code == 422, (r.status_code, r.text[:300])


@pytest.mark.parametrize("params", [
    {"bbox": "111,38,112,39", "bbox-crs": "EPSG:4546"},
    {"filter": "S_INTERSECTS(geometry,POLYGON((111 38,112 38,112 39,111 39,111 38)))",
     "filter-crs": "EPSG:4546"},
])
def test_r12_degrees_to_a_northing_first_metric_crs_are_a_422(
        env: tuple[TestClient, dict[str, Any]], params: dict[str, str]) -> None:
    client, s = env
    r = client.get("/ogc/collections/incidents/items", params=params,
                   headers=s["h"]["command"])
    assert r.status_code == 422 and "degrees" in r.text, (r.status_code, r.text[:300])


def test_r11_hotspot_work_is_bounded_over_http(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    for params in ({"permutations": "9999"},
                   {"unit": "h3", "resolution": "9", "permutations": "999"}):
        r = client.get("/analysis/hotspots", params=params, headers=s["h"]["worker"])
        assert r.status_code == 422, (params, r.text[:200])
