"""CSRF protection of cookie-session writes (api/csrf.py): the phone app /m/ writes with its
login cookie only with X-CSRF-Token = cookie wangge_csrf and from this site; Bearer clients are
unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.csrf import CSRF_COOKIE, csrf_value
from api.main import create_app
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings

OWN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def csrf_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    url = create_database(admin_engine, template=demo_template)
    yield url
    drop_database(admin_engine, url)


@pytest.fixture()
def phone(csrf_url: str) -> Iterator[tuple[TestClient, str, str]]:
    """A browser logged in as the demo worker by the login form: (client, token, csrf)."""
    client = TestClient(create_app(make_settings(csrf_url, demo_open=False)))
    with client:
        username, password, _ = DEMO_USERS["worker"]
        r = client.post("/login", data={"username": username, "password": password,
                                        "next": "/m/"}, headers=OWN, follow_redirects=False)
        assert r.status_code == 303, r.text
        token, csrf = client.cookies.get("wangge_token"), client.cookies.get(CSRF_COOKIE)
        assert token and csrf
        yield client, token, csrf


def _case(client: TestClient) -> str:
    items = client.get("/me/incidents").json()["items"]  # the cookie works on GET
    assert items
    return str(items[0]["code"])


def _note(client: TestClient, code: str, headers: dict[str, str], text: str = "备注") -> Any:
    return client.post(f"/incidents/{code}/notes", json={"note": text}, headers=headers)


def test_csrf_cookie_is_bound_to_the_session(phone: tuple[TestClient, str, str]) -> None:
    client, token, csrf = phone
    secret = client.app.state.settings.secret_key  # type: ignore[attr-defined]
    assert csrf == csrf_value(secret, token)
    assert csrf != csrf_value(secret, token + "x") and csrf != csrf_value(secret + "x", token)
    set_cookie = [v for k, v in client.post(  # a second login: the cookie flags
        "/auth/login", json=dict(zip(("username", "password"), DEMO_USERS["worker"][:2],
                                     strict=False))).headers.multi_items()
                  if k == "set-cookie"]
    csrf_line = next(v for v in set_cookie if v.startswith(CSRF_COOKIE + "="))
    token_line = next(v for v in set_cookie if v.startswith("wangge_token="))
    assert "httponly" not in csrf_line.lower() and "samesite=strict" in csrf_line.lower()
    assert "httponly" in token_line.lower()


def test_cookie_write_needs_the_csrf_header(phone: tuple[TestClient, str, str]) -> None:
    client, token, csrf = phone
    code = _case(client)
    missing = _note(client, code, OWN)
    assert missing.status_code == 403, missing.text
    assert "X-CSRF-Token" in missing.json()["detail"]
    wrong = _note(client, code, {**OWN, "X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403, wrong.text
    other = _note(client, code, {**OWN, "X-CSRF-Token": csrf_value("another-secret", token)})
    assert other.status_code == 403
    right = _note(client, code, {**OWN, "X-CSRF-Token": csrf}, "手机端备注")
    assert right.status_code in (200, 201), right.text
    # a client sending no Origin/Sec-Fetch-Site (not a browser page) with the token also works
    assert _note(client, code, {"X-CSRF-Token": csrf}).status_code in (200, 201)
    # and the answer names the worker: the cookie made her the caller, not anonymous
    assert client.get(f"/incidents/{code}").json()["events"][-1]["actor"] == \
        DEMO_USERS["worker"][0]


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://testserver", "Sec-Fetch-Site": "same-site"},
])
def test_cross_origin_cookie_write_is_refused(phone: tuple[TestClient, str, str],
                                              headers: dict[str, str]) -> None:
    client, _, csrf = phone
    r = _note(client, _case(client), {**headers, "X-CSRF-Token": csrf})
    assert r.status_code == 403, r.text
    assert "跨站" in r.json()["detail"]


def test_bearer_clients_are_unchanged(phone: tuple[TestClient, str, str]) -> None:
    client, token, _ = phone
    code = _case(client)
    bearer = {"Authorization": f"Bearer {token}"}
    # no CSRF header, no Origin, even a foreign one: Bearer carries no ambient credential
    assert _note(client, code, bearer).status_code in (200, 201)
    assert _note(client, code, {**bearer, "Origin": "https://evil.example"}).status_code in (
        200, 201)
    client.cookies.clear()
    assert _note(client, code, bearer).status_code in (200, 201)
    assert _note(client, code, {}).status_code == 401  # no credential at all: as before


def test_logout_clears_the_csrf_cookie(phone: tuple[TestClient, str, str]) -> None:
    client, _, csrf = phone
    r = client.post("/logout", headers=OWN, follow_redirects=False)
    assert r.status_code == 303
    cleared = [v for k, v in r.headers.multi_items() if k == "set-cookie"]
    assert any(v.startswith(f"{CSRF_COOKIE}=") and "Max-Age=0" in v for v in cleared), cleared
    assert csrf  # it was set before
