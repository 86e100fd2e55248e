"""Open311 GeoReport v2 at /open311/v2 (issue 19, item 1), tried with a published client.

``georeport`` (PyPI, a GeoReport v2 client) lists the services, reads a service definition
and reads a request's status as the case moves through the case flow, in JSON and XML. It
sends no api_key on reads, so it authenticates the way ``requests`` does for any host: from a
``.netrc`` entry (Basic, the password an API token). It cannot post (it has no POST call, and
the other published Python clients, ``open311`` 1.1 and ``three`` 0.8, are Python 2 only), so
the post with a photo is made as the standard says: form fields with ``api_key`` and a
multipart ``media`` file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from geo.auth.users import create_api_token
from tests.conftest import (
    create_database,
    demo_worker_spot,
    drop_database,
    make_settings,
    serve_in_thread,
)

georeport = pytest.importorskip("georeport")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture(scope="module")
def server(admin_engine: Any, demo_template: str, tmp_path_factory: Any
           ) -> Iterator[dict[str, Any]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.begin() as conn:
        keys = {role: create_api_token(conn, user, "open311 test")[1]
                for role, user in (("command", "demo-command"), ("worker", "demo-worker"),
                                   ("planner", "demo-planner"))}
        cell, x, y = demo_worker_spot(conn)
        other = conn.execute(text(
            "SELECT code FROM incident WHERE cell_code <> :c ORDER BY id LIMIT 1"),
            {"c": cell}).scalar_one()
    settings = make_settings(url, demo_open=False,
                             data_dir=tmp_path_factory.mktemp("open311-data"))
    with serve_in_thread(settings) as base:
        yield {"base": base, "api": f"{base}/open311/v2", "keys": keys, "x": x, "y": y,
               "engine": engine, "other": other}
    engine.dispose()
    drop_database(admin_engine, url)


@pytest.fixture()
def netrc(server: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``requests`` (and so georeport) sends the command centre's API token as Basic."""
    rc = tmp_path / "netrc"
    rc.write_text(f"machine 127.0.0.1 login open311 password {server['keys']['command']}\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))


def _post(server: dict[str, Any], key: str | None, **fields: Any) -> requests.Response:
    data = {"service_code": "fire_lane_blocked", "lat": server["y"], "long": server["x"],
            "description": "楼道消防通道被杂物堵塞", "first_name": "丽", "last_name": "王",
            "phone": "13912345678", **fields}
    if key:
        data["api_key"] = key
    return requests.post(f"{server['api']}/requests.json", data=data, timeout=30, files={
        "media": ("doorway.png", PNG, "image/png")}, auth=None)


def test_published_client_lists_services_and_definitions(server: dict[str, Any]) -> None:
    client = georeport.GeoReport(server["api"], jurisdiction="141123")
    services = client.get_service_list()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["fire_lane_blocked"]["service_name"] == "占用消防通道"
    assert by_code["fire_lane_blocked"]["type"] == "realtime"
    definition = client.get_service_definition("fire_lane_blocked")
    assert definition["attributes"][0]["code"] == "urgency"
    xml = georeport.GeoReport(server["api"], jurisdiction="141123", output_format="xml")
    assert any(s["service_code"] == "fire_lane_blocked" for s in xml.get_service_list())


def test_post_with_photo_then_status_through_the_case_flow(server: dict[str, Any],
                                                          netrc: None) -> None:
    r = _post(server, server["keys"]["worker"])
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    client = georeport.GeoReport(server["api"], jurisdiction="141123")
    got = client.get_service_request(rid)
    assert got["status"] == "open" and got["status_notes"] == "已上报"
    assert got["agency_responsible"] == "消防救援大队" and got["service_code"] == \
        "fire_lane_blocked"
    assert got["media_url"] and got["reporter_phone"] == "139****5678"
    assert got["lat"] == pytest.approx(server["y"]) and got["long"] == pytest.approx(server["x"])
    bearer = {"Authorization": f"Bearer {server['keys']['command']}"}
    for step in ("registered", "dispatched", "in_progress", "handled", "verified", "closed"):
        moved = requests.post(f"{server['base']}/incidents/{rid}/transition",
                              json={"to": step}, headers=bearer, timeout=30)
        assert moved.status_code == 200, moved.text
        if step == "dispatched":
            assert client.get_service_request(rid)["status_notes"] == "已派遣"
    final = client.get_service_request(rid)
    assert final["status"] == "closed" and final["status_notes"] == "已结案"
    closed = client.get_service_requests(service_code="fire_lane_blocked", status="closed")
    assert rid in {s["service_request_id"] for s in closed}
    assert rid not in {s["service_request_id"] for s in client.get_service_requests(
        service_code="fire_lane_blocked", status="open")}
    xml = georeport.GeoReport(server["api"], jurisdiction="141123", output_format="xml")
    assert xml.get_service_request(rid)["status"] == "closed"


def test_scope_keys_and_errors(server: dict[str, Any]) -> None:
    api = server["api"]
    # no key: 401 in the standard's error format
    r = requests.get(f"{api}/requests.json", timeout=30)
    assert r.status_code == 401 and r.json()[0]["code"] == 401
    assert _post(server, None).status_code == 401
    # a planner's key may not post
    r = _post(server, server["keys"]["planner"])
    assert r.status_code == 403 and r.json()[0]["description"]
    # the worker's key does not read a case outside her cells
    r = requests.get(f"{api}/requests/{server['other']}.json",
                     params={"api_key": server["keys"]["worker"]}, timeout=30)
    assert r.status_code == 404
    r = requests.get(f"{api}/requests/{server['other']}.json",
                     params={"api_key": server["keys"]["command"]}, timeout=30)
    assert r.status_code == 200 and r.json()[0]["service_request_id"] == server["other"]
    # bad input: unknown service, no place, a span over 90 days, a format, a jurisdiction
    r = _post(server, server["keys"]["command"], service_code="没有这种")
    assert r.status_code == 422 and "fire_lane_blocked" in r.json()[0]["description"]
    r = requests.post(f"{api}/requests.json", data={
        "api_key": server["keys"]["command"], "service_code": "fire_lane_blocked"}, timeout=30)
    assert r.status_code == 422 and "address_string" in r.text
    # an address only: placed by the offline matcher, or received and left for the command
    # centre to place (201 either way: a 4xx would make the client post it again)
    for text_, placed in (("兴县蔚汾镇蔚汾路3号", True), ("兴县蔚汾镇", False)):
        r = requests.post(f"{api}/requests.json", data={
            "api_key": server["keys"]["command"], "service_code": "fire_lane_blocked",
            "address_string": text_}, timeout=30)
        assert r.status_code == 201, r.text
        got = r.json()[0]
        assert ("待指挥中心核实位置" in got["service_notice"]) is (not placed), got
    r = requests.get(f"{api}/requests.json", params={
        "api_key": server["keys"]["command"], "start_date": "2026-01-01T00:00:00Z",
        "end_date": "2026-10-01T00:00:00Z"}, timeout=30)
    assert r.status_code == 422 and "90" in r.text
    assert requests.get(f"{api}/services.csv", timeout=30).status_code == 404
    r = requests.get(f"{api}/services.xml", params={"jurisdiction_id": "999999"}, timeout=30)
    assert r.status_code == 404 and r.text.startswith("<?xml") and "<errors>" in r.text
    r = _post(server, server["keys"]["command"], lat="北纬", long="x")
    assert r.status_code == 422
