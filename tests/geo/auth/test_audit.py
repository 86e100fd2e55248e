"""The audit log: unmasked reads and writes recorded with who/what/where; append-only;
GET /audit for admins with filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from api.main import create_app
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str) -> Iterator[tuple[TestClient, Engine]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with TestClient(create_app(make_settings(url, rate_login_per_min=0,
                                             rate_expensive_per_min=0, demo_open=False))) as client:
        yield client, engine
    engine.dispose()
    drop_database(admin_engine, url)


def token(client: TestClient, role: str) -> dict[str, str]:
    username, password, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": username, "password": password},
                    headers={"User-Agent": "audit-test"})
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_unmasked_read_is_audited_before_data(env: tuple[TestClient, Engine]) -> None:
    client, engine = env
    worker = token(client, "worker")
    with engine.connect() as conn:
        iid, phone = conn.execute(text(
            "SELECT i.id, i.reporter_phone FROM incident i JOIN app_user u ON "
            "u.username = 'demo-worker' JOIN worker_assignment a ON a.worker_id = u.worker_id "
            "AND a.valid_to IS NULL AND a.cell_code = i.cell_code "
            "WHERE i.reporter_phone IS NOT NULL ORDER BY i.id LIMIT 1")).one()
    masked = client.get(f"/incidents/{iid}", headers=worker).json()
    assert masked["reporter_phone"] == phone[:3] + "****" + phone[-4:]
    r = client.get(f"/incidents/{iid}", params={"unmask": "true"},
                   headers={**worker, "User-Agent": "phone-app/1.0"})
    assert r.status_code == 200
    assert r.json()["reporter_phone"] == phone
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT username, role, action, method, path, query, client_ip, user_agent, "
            "region_code FROM audit_log WHERE action = 'read_personal' ORDER BY id DESC "
            "LIMIT 1")).mappings().one()
    assert dict(row) == {
        "username": "demo-worker", "role": "worker", "action": "read_personal",
        "method": "GET", "path": f"/incidents/{iid}", "query": "unmask=true",
        "client_ip": "testclient", "user_agent": "phone-app/1.0", "region_code": "141123"}
    with engine.connect() as conn:  # and, after the answer, which reporters were revealed
        items = conn.execute(text(
            "SELECT object_type, object_id, detail, status FROM audit_log "
            "WHERE action = 'read_personal_items' ORDER BY id DESC LIMIT 1")).one()
    assert tuple(items) == ("incident", str(iid), {"incident_ids": [iid]}, 200)
    # planners may not unmask: refused, and nothing recorded as read
    r = client.get("/incidents", params={"unmask": "true"}, headers=token(client, "planner"))
    assert r.status_code == 403


def test_writes_are_audited(env: tuple[TestClient, Engine]) -> None:
    client, engine = env
    cmd = token(client, "command")
    r = client.post("/auth/tokens", json={"name": "audited"}, headers=cmd)
    assert r.status_code == 201
    tid = r.json()["id"]
    assert client.delete(f"/auth/tokens/{tid}", headers=cmd).status_code == 200
    assert client.delete(f"/auth/tokens/{tid}", headers=cmd).status_code == 404
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT action, method, status, username, object_id FROM audit_log "
            "WHERE object_type = 'api_token' AND object_id = :t ORDER BY id"),
            {"t": str(tid)}).all()
        failed = conn.execute(text(
            "SELECT action, status FROM audit_log WHERE method = 'DELETE' AND path = :p "
            "AND status = 404"), {"p": f"/auth/tokens/{tid}"}).all()
    assert [tuple(r) for r in rows] == [
        ("token_create", "POST", 201, "demo-command", str(tid)),
        ("token_revoke", "DELETE", 200, "demo-command", str(tid)),
    ]
    assert [tuple(r) for r in failed] == [("write", 404)]  # refused writes are recorded too


def test_audit_log_is_append_only(env: tuple[TestClient, Engine]) -> None:
    _, engine = env
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (action, username) VALUES ('test', 'x')"))
    for sql in ("UPDATE audit_log SET username = 'y'", "DELETE FROM audit_log",
                "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE username = 'x'")
                            ).scalar() == 1


def test_get_audit_admin_only_and_filters(env: tuple[TestClient, Engine]) -> None:
    client, _ = env
    admin = token(client, "admin")
    for role in ("command", "department", "worker", "planner", "viewer"):
        assert client.get("/audit", headers=token(client, role)).status_code == 403
    assert client.get("/audit").status_code == 401
    r = client.get("/audit", headers=admin, params={"user": "demo-admin", "action": "login"})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    assert body["total"] >= 1
    assert all(i["username"] == "demo-admin" and i["action"] == "login" for i in body["items"])
    assert body["items"][0]["client_ip"] == "testclient"
    assert body["items"][0]["user_agent"] == "audit-test"
    logins = client.get("/audit", headers=admin, params={"action": "login*"}).json()
    assert {i["action"] for i in logins["items"]} <= {"login", "login_failed", "login_throttled"}
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert client.get("/audit", headers=admin, params={"from": future}).json()["total"] == 0
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    assert client.get("/audit", headers=admin, params={"to": past}).json()["total"] == 0
    r = client.get("/audit", headers=admin, params={"from": future, "to": past})
    assert r.status_code == 422
    assert client.get("/audit", headers=admin, params={"limit": 0}).status_code == 422
