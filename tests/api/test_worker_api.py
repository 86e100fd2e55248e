"""The API a grid worker's phone stands on (issue 17): categories, allowed actions, answers in
the CRS asked for, compact lists, requests to the command centre (extension, return,
suspension), possible duplicates before reporting, and idempotent writes for an offline queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo.crs.china import wgs84_to_gcj02
from tests.conftest import own_demo_client

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        yield client, {**s, "h": role_headers}


def _report(client: TestClient, s: dict[str, Any], role: str = "worker",
            category: str = "fire_lane_blocked", **extra: Any) -> dict[str, Any]:
    body = {"category": category, "lon": s["x"], "lat": s["y"], "description": "消防通道堵塞",
            **extra}
    r = client.post("/incidents", json=body, headers=s["h"][role])
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _move(client: TestClient, s: dict[str, Any], inc: dict[str, Any], *steps: str
          ) -> dict[str, Any]:
    for step in steps:
        r = client.post(f"/incidents/{inc['code']}/transition", json={"to": step},
                        headers=s["h"]["command"])
        assert r.status_code == 200, r.text
        inc = r.json()
    return inc


def _actions(inc: dict[str, Any]) -> set[str]:
    return {a["action"] for a in inc["allowed_actions"]}


def test_categories_chinese_names_most_used_first(env: tuple[TestClient, dict[str, Any]]
                                                  ) -> None:
    client, s = env
    r = client.get("/incidents/categories", headers=s["h"]["worker"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["name"] and i["code"] for i in items)
    assert any(i["department_name"] for i in items)
    rare = items[-1]["code"]  # the least used category goes first once she reports it
    _report(client, s, category=rare)
    again = client.get("/incidents/categories", headers=s["h"]["worker"]).json()["items"]
    assert again[0]["code"] == rare and again[0]["used_by_me"] >= 1
    assert client.get("/incidents/categories").status_code == 401


def test_my_incidents_answer_in_the_crs_asked_compact(env: tuple[TestClient, dict[str, Any]]
                                                      ) -> None:
    client, s = env
    _report(client, s)
    gx, gy = (float(v) for v in wgs84_to_gcj02(s["x"], s["y"]))
    plain = client.get("/me/incidents", params={"lon": s["x"], "lat": s["y"]},
                       headers=s["h"]["worker"]).json()
    gcj = client.get("/me/incidents", params={"lon": gx, "lat": gy, "crs": "GCJ02"},
                     headers=s["h"]["worker"]).json()
    assert gcj["crs"] == "GCJ02" and plain["crs"] == "EPSG:4490"
    first_plain, first_gcj = plain["items"][0], gcj["items"][0]
    assert first_plain["code"] == first_gcj["code"]
    want = wgs84_to_gcj02(first_plain["lon"], first_plain["lat"])
    assert first_gcj["lon"] == pytest.approx(float(want[0]), abs=1e-6)
    assert first_gcj["lat"] == pytest.approx(float(want[1]), abs=1e-6)
    assert abs(first_gcj["lon"] - first_plain["lon"]) > 1e-3  # really moved (~600 m)
    assert first_gcj["distance_m"] == pytest.approx(first_plain["distance_m"], abs=2)
    # compact: no routing blob unless asked
    assert "routing" not in first_plain and "deadline" not in first_plain
    full = client.get("/me/incidents", params={"routing": "true", "limit": 1},
                      headers=s["h"]["worker"]).json()["items"][0]
    assert "routing" in full
    one = client.get(f"/incidents/{first_plain['code']}", params={"crs": "GCJ02"},
                     headers=s["h"]["worker"]).json()
    assert one["lon"] == pytest.approx(first_gcj["lon"]) and one["crs"] == "GCJ02"
    cell = client.get("/me/cell", params={"crs": "GCJ02"}, headers=s["h"]["worker"]).json()
    ring = cell["cells"][0]["geometry"]["coordinates"][0]
    ring = ring[0] if isinstance(ring[0][0], list) else ring
    plain_cell = client.get("/me/cell", headers=s["h"]["worker"]).json()
    plain_ring = plain_cell["cells"][0]["geometry"]["coordinates"][0]
    plain_ring = plain_ring[0] if isinstance(plain_ring[0][0], list) else plain_ring
    assert ring[0][0] == pytest.approx(float(wgs84_to_gcj02(*plain_ring[0])[0]), abs=1e-6)
    bad = client.get("/me/incidents", params={"crs": "EPSG:99999"}, headers=s["h"]["worker"])
    assert bad.status_code in (400, 422)


def test_allowed_actions_follow_role_and_status(env: tuple[TestClient, dict[str, Any]]
                                               ) -> None:
    client, s = env
    inc = _report(client, s)
    assert "registered" not in _actions(inc) and "note" in _actions(inc)
    cmd = client.get(f"/incidents/{inc['code']}", headers=s["h"]["command"]).json()
    assert {"registered", "rejected", "reassign", "pause"} <= _actions(cmd)
    inc = _move(client, s, inc, "registered", "dispatched")
    mine = client.get(f"/incidents/{inc['code']}", headers=s["h"]["worker"]).json()
    acts = _actions(mine)
    assert {"in_progress", "handled", "note", "photo", "request_extension",
            "request_return", "request_suspend"} <= acts
    assert not acts & {"registered", "dispatched", "closed", "reassign", "decide"}
    by_name = {a["action"]: a for a in mine["allowed_actions"]}
    assert by_name["in_progress"]["label"] == "签收处置"
    # each listed action works as listed
    act = by_name["in_progress"]
    r = client.request(act["method"], act["path"], json=act["body"], headers=s["h"]["worker"])
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    # a step she may not take says so in Chinese, with the status name and the way to ask
    r = client.post(f"/incidents/{inc['code']}/transition", json={"to": "registered"},
                    headers=s["h"]["worker"])
    assert r.status_code == 403 and "已立案" in r.text and "requests" in r.text
    listed = client.get("/me/incidents", headers=s["h"]["worker"]).json()["items"]
    assert all("allowed_actions" in i for i in listed)


def test_return_request_goes_back_to_registered(env: tuple[TestClient, dict[str, Any]]
                                                ) -> None:
    client, s = env
    inc = _move(client, s, _report(client, s), "registered", "dispatched")
    registered_at = inc["registered_at"]
    url = f"/incidents/{inc['code']}/requests"
    assert client.post(url, json={"kind": "return", "reason": " "},
                       headers=s["h"]["worker"]).status_code == 422
    assert client.post(url, json={"kind": "refund", "reason": "x"},
                       headers=s["h"]["worker"]).status_code == 422
    r = client.post(url, json={"kind": "return", "reason": "不属于本网格, 在隔壁小区"},
                    headers=s["h"]["worker"])
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["kind_label"] == "退回指挥中心" and req["state"] == "pending"
    again = client.post(url, json={"kind": "return", "reason": "再次"}, headers=s["h"]["worker"])
    assert again.status_code == 409
    mine = client.get(f"/incidents/{inc['code']}", headers=s["h"]["worker"]).json()
    assert "request_return" not in _actions(mine)
    assert [p["kind"] for p in mine["pending_requests"]] == ["return"]
    decision = f"{url}/{req['id']}/decision"
    assert client.post(decision, json={"approve": True},
                       headers=s["h"]["worker"]).status_code == 403
    cmd = client.get(f"/incidents/{inc['code']}", headers=s["h"]["command"]).json()
    assert "decide" in _actions(cmd)
    r = client.post(decision, json={"approve": True, "note": "改派"}, headers=s["h"]["command"])
    assert r.status_code == 200, r.text
    back = r.json()
    assert back["status"] == "registered" and back["registered_at"] == registered_at
    assert back["pending_requests"] == []
    assert {"decision", "transition"} <= {e["kind"] for e in back["events"]}
    assert client.post(decision, json={"approve": True},
                       headers=s["h"]["command"]).status_code == 409
    # the command centre dispatches it again
    assert _move(client, s, back, "dispatched")["status"] == "dispatched"


def test_extension_and_suspension_requests(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    inc = _move(client, s, _report(client, s), "registered", "dispatched")
    url = f"/incidents/{inc['code']}/requests"
    assert client.post(url, json={"kind": "extension", "reason": "等配件"},
                       headers=s["h"]["worker"]).status_code == 422  # minutes missing
    ext = client.post(url, json={"kind": "extension", "reason": "等配件", "minutes": 120},
                      headers=s["h"]["worker"]).json()
    sus = client.post(url, json={"kind": "suspend", "reason": "等居民回家"},
                      headers=s["h"]["worker"]).json()
    r = client.post(f"{url}/{ext['id']}/decision", json={"approve": True},
                    headers=s["h"]["command"])
    assert r.status_code == 200, r.text
    assert r.json()["due_at"] > inc["due_at"]
    assert r.json()["deadline"]["extension_min"] == 120
    r = client.post(f"{url}/{sus['id']}/decision", json={"approve": False, "note": "请尽快处置"},
                    headers=s["h"]["command"])
    assert r.status_code == 200 and r.json()["paused"] is False
    with s["engine"].connect() as conn:
        states = dict(conn.execute(text(
            "SELECT kind, state FROM incident_request WHERE incident_id = :i"),
            {"i": inc["id"]}).all())
    assert states == {"extension": "approved", "suspend": "refused"}
    # the command centre acts directly, it does not ask
    assert client.post(url, json={"kind": "suspend", "reason": "x"},
                       headers=s["h"]["command"]).status_code == 403
    assert client.post(url, json={"kind": "suspend", "reason": "x"},
                       headers=s["h"]["planner"]).status_code in (403, 404)


def test_photo_under_file_or_files(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    inc = _report(client, s)
    url = f"/incidents/{inc['code']}/attachments"
    for field in ("file", "files"):
        r = client.post(url, files=[(field, ("a.png", PNG, "image/png"))],
                        headers=s["h"]["worker"])
        assert r.status_code == 201, r.text
    r = client.post(url, data={"note": "no photo"}, headers=s["h"]["worker"])
    assert r.status_code == 422 and "files" in r.text


def test_nearby_shows_duplicates_in_scope_only(env: tuple[TestClient, dict[str, Any]]
                                               ) -> None:
    client, s = env
    inc = _report(client, s, category="fire_lane_blocked")
    r = client.get("/incidents/nearby", params={"lon": s["x"], "lat": s["y"],
                                                "category": "fire_lane_blocked"},
                   headers=s["h"]["worker"])
    assert r.status_code == 200, r.text
    found = r.json()["items"]
    assert inc["code"] in {d["code"] for d in found}
    assert all(d["category_name"] and d["status_zh"] for d in found)
    # a department that does not handle fire lanes sees none of them
    dept = client.get("/incidents/nearby", params={"lon": s["x"], "lat": s["y"],
                                                   "category": "fire_lane_blocked"},
                      headers=s["h"]["department"]).json()["items"]
    with s["engine"].connect() as conn:
        depts = {d for (d,) in conn.execute(text(
            "SELECT department_code FROM incident WHERE code = ANY(:c)"),
            {"c": [d["code"] for d in dept]})}
    assert depts <= {"xiaofang"}
    bad = client.get("/incidents/nearby", params={"lon": s["x"], "lat": s["y"],
                                                  "category": "没有这种"},
                     headers=s["h"]["worker"])
    assert bad.status_code == 422


def test_idempotency_key_makes_one_case(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    key = str(uuid.uuid4())
    body = {"category": "fire_lane_blocked", "lon": s["x"], "lat": s["y"],
            "description": "离线上报"}
    hdr = {**s["h"]["worker"], "Idempotency-Key": key}
    first = client.post("/incidents", json=body, headers=hdr)
    second = client.post("/incidents", json=body, headers=hdr)
    assert first.status_code == second.status_code == 201
    assert first.json()["code"] == second.json()["code"]
    assert second.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    with s["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incident WHERE description = '离线上报'")
                         ).scalar_one()
    assert n == 1
    # the same key elsewhere is a client bug
    r = client.post(f"/incidents/{first.json()['code']}/notes", json={"note": "x"}, headers=hdr)
    assert r.status_code == 422 and "Idempotency-Key" in r.text
    # malformed key
    r = client.post("/incidents", json=body, headers={**s["h"]["worker"],
                                                      "Idempotency-Key": "short"})
    assert r.status_code == 422
    # another user's key space is their own: the command centre's request runs
    other = client.post("/incidents", json=body, headers={**s["h"]["command"],
                                                          "Idempotency-Key": key})
    assert other.status_code == 201 and other.json()["code"] != first.json()["code"]
    # a 4xx is kept (the same bad request stays bad), and replayed
    k2 = {**s["h"]["worker"], "Idempotency-Key": str(uuid.uuid4())}
    bad1 = client.post("/incidents", json={**body, "category": "nope"}, headers=k2)
    bad2 = client.post("/incidents", json={**body, "category": "nope"}, headers=k2)
    assert bad1.status_code == bad2.status_code == 422
    assert bad2.headers.get("idempotent-replayed") == "true"
    # an answer without login is never kept: after logging in the key runs
    k3 = str(uuid.uuid4())
    assert client.post("/incidents", json=body,
                       headers={"Idempotency-Key": k3}).status_code == 401
    ok = client.post("/incidents", json=body, headers={**s["h"]["worker"],
                                                       "Idempotency-Key": k3})
    assert ok.status_code == 201 and "idempotent-replayed" not in ok.headers


def test_duplicates_both_ways(env: tuple[TestClient, dict[str, Any]]) -> None:
    """Issue 19, item 5: the earlier case lists the later report too, and any case can be
    searched for possible duplicates (in scope)."""
    client, s = env
    hotline = _report(client, s, role="command", category="ebike_charging", channel="12345",
                      lon=s["x"] + 0.0002)
    later = _report(client, s, category="ebike_charging")
    assert hotline["code"] in {d["code"] for d in later["routing"]["duplicates"]}
    earlier = client.get(f"/incidents/{hotline['code']}", headers=s["h"]["command"]).json()
    back = [d for d in earlier["routing"]["duplicates"] if d["code"] == later["code"]]
    assert back and back[0]["later_report"] is True and back[0]["hours_apart"] >= 0
    assert earlier["version"] == hotline["version"]  # nobody's open form goes stale
    found = client.get(f"/incidents/{hotline['code']}/duplicates", headers=s["h"]["command"])
    assert found.status_code == 200, found.text
    codes = {d["code"] for d in found.json()["items"]}
    assert later["code"] in codes and hotline["code"] not in codes
    mine = client.get(f"/incidents/{later['code']}/duplicates", headers=s["h"]["worker"])
    assert hotline["code"] in {d["code"] for d in mine.json()["items"]}
    assert client.get(f"/incidents/{hotline['code']}/duplicates",
                      headers=s["h"]["planner"]).status_code == 403
