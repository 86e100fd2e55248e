"""Row-level security as a second line: with WANGGE_DB_RLS=1 a worker cannot read another
cell's incident even when the application's scoping check is removed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

import geo.incidents.cases
from api.main import create_app
from geo.auth.principal import Principal
from geo.auth.rls import set_db_scope
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings


@pytest.fixture(scope="module")
def rls(admin_engine: Engine, demo_template: str) -> Iterator[dict[str, Any]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.connect() as conn:
        cell = conn.execute(text(
            "SELECT a.cell_code FROM app_user u JOIN worker_assignment a ON a.worker_id = "
            "u.worker_id AND a.valid_to IS NULL WHERE u.username = 'demo-worker'")).scalar_one()
        own = conn.execute(text("SELECT min(id) FROM incident WHERE cell_code = :c"),
                           {"c": cell}).scalar_one()
        other = conn.execute(text(
            "SELECT min(id) FROM incident WHERE cell_code <> :c AND department_code <> "
            "'xiaofang' AND reporter_phone IS NOT NULL"), {"c": cell}).scalar_one()
    settings = make_settings(url, db_rls=True, rate_login_per_min=0, demo_open=False)
    with TestClient(create_app(settings)) as client:
        headers = {}
        for role, (username, password, _) in DEMO_USERS.items():
            r = client.post("/auth/login", json={"username": username, "password": password})
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            client.cookies.clear()
        yield {"client": client, "engine": engine, "cell": cell, "own": own, "other": other,
               "headers": headers}
    engine.dispose()
    drop_database(admin_engine, url)


def test_policy_in_sql(rls: dict[str, Any]) -> None:
    engine: Engine = rls["engine"]
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM incident")).scalar()
        mine = conn.execute(text("SELECT count(*) FROM incident WHERE cell_code = :c"),
                            {"c": rls["cell"]}).scalar()
        xiaofang = conn.execute(text(
            "SELECT count(*) FROM incident WHERE department_code = 'xiaofang'")).scalar()
    cases = [
        (Principal("w", "worker", cell_codes=frozenset({rls["cell"]})), mine),
        (Principal("d", "department", department_code="xiaofang"), xiaofang),
        (Principal("c", "command"), total),
        (Principal("c", "command", regions=frozenset({"999999"})), 0),
        (Principal("p", "planner"), total),  # aggregates: rows yes, personal fields no (app)
    ]
    for principal, expected in cases:
        with engine.begin() as conn:
            set_db_scope(conn, principal)
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == expected
    with engine.begin() as conn:  # the app role without a scope sees nothing
        conn.execute(text("SET LOCAL ROLE wangge_app"))
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar() == 0
    with pytest.raises(DBAPIError, match="row-level security"), engine.begin() as conn:
        set_db_scope(conn, Principal("w", "worker", cell_codes=frozenset({rls["cell"]})))
        conn.execute(text("UPDATE incident SET cell_code = 'elsewhere' WHERE cell_code = :c"),
                     {"c": rls["cell"]})
    with pytest.raises(DBAPIError, match="permission denied"), engine.begin() as conn:
        set_db_scope(conn, Principal("a", "admin"))
        conn.execute(text("UPDATE audit_log SET username = 'x'"))


def test_endpoints_work_under_rls(rls: dict[str, Any]) -> None:
    client, h = rls["client"], rls["headers"]
    assert client.get(f"/incidents/{rls['own']}", headers=h["worker"]).status_code == 200
    assert client.get(f"/incidents/{rls['other']}", headers=h["worker"]).status_code == 404
    assert client.get(f"/incidents/{rls['other']}", headers=h["command"]).status_code == 200
    assert client.get("/cells/at", params={"lon": 111.13, "lat": 38.46}).status_code == 200
    r = client.get("/incidents", headers=h["worker"], params={"limit": 1000})
    assert {i["cell_code"] for i in r.json()} == {rls["cell"]}


def test_rls_holds_when_the_application_check_is_removed(
    rls: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulate the bug the matrix test catches (no scope in SQL): RLS still hides it."""
    monkeypatch.setattr(geo.incidents.cases, "incident_scope_sql",
                        lambda principal, alias="incident": ("TRUE", {}))
    client, h = rls["client"], rls["headers"]
    r = client.get(f"/incidents/{rls['other']}", headers=h["worker"])
    assert r.status_code == 404
    r = client.get("/incidents", headers=h["worker"], params={"limit": 1000})
    assert {i["cell_code"] for i in r.json()} == {rls["cell"]}
    # the same bug without RLS leaks (the matrix test catches that one)
    settings = make_settings(str(rls["engine"].url.render_as_string(hide_password=False)),
                             db_rls=False)
    with TestClient(create_app(settings)) as plain:
        r = plain.get(f"/incidents/{rls['other']}", headers=h["worker"])
        assert r.status_code == 200
