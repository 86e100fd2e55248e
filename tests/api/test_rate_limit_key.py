"""The expensive-endpoint rate limit counts per caller, not per spelling of a header.

Issue 15, finding 11: the limiter keyed on the raw ``Authorization`` header, so ``bearer X``,
``BEARER X`` and ``Bearer  X`` each started a fresh bucket, and so did Basic with an API token
and every freshly minted API token. It now keys on the user a credential resolves to, and on
the client address for anonymous callers and credentials that resolve to nobody. Refusals by
the middleware (429, 413) are audited.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.main import create_app
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings

BUDGET = 3  # requests per minute on expensive routes
ROUTE = "/ogc/conformance"  # marked EXPENSIVE, public, cheap to answer


@pytest.fixture(scope="module")
def url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    db = create_database(admin_engine, template=demo_template)
    yield db
    drop_database(admin_engine, db)


@pytest.fixture(scope="module")
def engine(url: str) -> Iterator[Engine]:
    eng = create_engine(url)
    yield eng
    eng.dispose()


def app_for(url: str, **overrides: Any) -> Any:
    return create_app(make_settings(url, demo_open=False, rate_expensive_per_min=BUDGET,
                                    **overrides))


def session_token(client: TestClient, role: str) -> str:
    username, password, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return str(r.json()["access_token"])


def api_token(client: TestClient, session: str) -> str:
    r = client.post("/auth/tokens", json={"name": "rate"},
                    headers={"Authorization": f"Bearer {session}"})
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"qgis:{token}".encode()).decode()}


def codes(client: TestClient, headers: list[dict[str, str]]) -> list[int]:
    return [client.get(ROUTE, headers=h).status_code for h in headers]


def test_one_bucket_per_user_however_the_credential_is_spelled(url: str) -> None:
    app = app_for(url)
    with TestClient(app) as client:
        session = session_token(client, "command")
        keys = [api_token(client, session) for _ in range(2)]
        spellings = [
            {"Authorization": f"Bearer {session}"},
            {"Authorization": f"bearer {session}"},
            {"Authorization": f"BEARER {session}"},
            {"Authorization": f"Bearer  {session}"},
            {"Authorization": f"Bearer {keys[0]}"},
            basic(keys[0]),
            {"Authorization": f"Bearer {keys[1]}"},  # freshly minted
            basic(keys[1]),
        ]
        got = codes(client, spellings)
        assert got == [200] * BUDGET + [429] * (len(spellings) - BUDGET), got
        # and a fresh token minted now does not escape either
        assert codes(client, [{"Authorization": f"Bearer {api_token(client, session)}"}]) == [
            429]
        # another user has a bucket of their own; so does an anonymous caller
        planner = session_token(client, "planner")
        assert codes(client, [{"Authorization": f"Bearer {planner}"}]) == [200]
        assert codes(client, [{}]) == [200]


def test_anonymous_and_unresolvable_credentials_share_the_address(url: str) -> None:
    app = app_for(url)
    with TestClient(app, client=("10.0.0.1", 1000)) as client, \
            TestClient(app, client=("10.0.0.2", 1000)) as other:
        bogus = [{"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer wgk_unknown"},
                 {"Authorization": "bearer v1.x.y"}, {"Authorization": "Basic %%%"},
                 basic("wgk_nobody")]
        got = codes(client, [{}] * BUDGET + bogus)
        assert got == [200] * BUDGET + [429] * len(bogus), got
        # another address: its own bucket; a bogus credential there still gets its 401 from
        # a route that reads the caller
        r = other.get("/audit", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401, r.text


def test_refusals_are_audited_once_per_key_and_minute(url: str, engine: Engine) -> None:
    app = app_for(url, max_body_bytes=1000)
    with TestClient(app, client=("10.0.0.3", 1000)) as client:
        session = session_token(client, "worker")
        headers = [{"Authorization": f"Bearer {session}"}] * (BUDGET + 3)
        assert codes(client, headers)[-3:] == [429] * 3
        assert client.post("/auth/login", content=b"x" * 2000,
                           headers={"content-type": "application/json"}).status_code == 413
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT username, status, path, detail FROM audit_log WHERE action = 'refused' "
            "AND client_ip = '10.0.0.3' ORDER BY id")).mappings().all()
    by_status = {r["status"]: r for r in rows}
    assert [r["status"] for r in rows] == [429, 413], rows  # one 429 record for three
    assert by_status[429]["username"] == DEMO_USERS["worker"][0]
    assert by_status[429]["path"] == ROUTE
    assert by_status[429]["detail"]["reason"] == "rate limit: expensive"
    assert by_status[429]["detail"]["key"].startswith("user:")
    assert by_status[413]["detail"]["reason"] == "body too large"


def test_anonymous_calls_resolve_nothing(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limiter looks nothing up for a caller without credentials (the cheap path)."""
    import api.middleware.security as security

    def boom(*_: Any) -> None:
        raise AssertionError("credential look-up for an anonymous call")

    monkeypatch.setattr(security, "principal_for_token", boom)
    monkeypatch.setattr(security, "presented_token", boom)
    with TestClient(app_for(url)) as client:
        assert codes(client, [{}]) == [200]
        r = client.get("/cells/at", params={"lon": 111.13, "lat": 38.46})
        assert r.status_code == 200


def test_an_ended_session_charges_the_address_not_the_user(url: str) -> None:
    """Review round 3, R7: whoever kept a logged-out token must not spend its owner's bucket."""
    app = app_for(url)
    with TestClient(app, client=("10.0.0.3", 1000)) as client:
        old = session_token(client, "viewer")
        assert client.post("/auth/logout", headers={"Authorization": f"Bearer {old}"}
                           ).status_code == 200
        got = codes(client, [{"Authorization": f"Bearer {old}"}] * (BUDGET + 2))
        assert 429 in got, got  # the address's bucket ran out
    with TestClient(app, client=("10.0.0.4", 1000)) as elsewhere:
        fresh = session_token(elsewhere, "viewer")
        assert codes(elsewhere, [{"Authorization": f"Bearer {fresh}"}]) == [200]
