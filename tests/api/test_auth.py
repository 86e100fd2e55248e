"""Users, login, lockout, session and API tokens, anonymous callers, the secret check, CLI."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.main import create_app
from api.settings import DEFAULT_SECRET, SECRET_FILE, Settings
from geo.auth.principal import Principal, mask_name, mask_phone, reporter_fields
from geo.auth.tokens import (
    TokenError,
    hash_api_token,
    issue_session_token,
    verify_session_token,
)
from geo.auth.users import add_user, create_api_token, reset_password, set_disabled
from geo.demo.users import DEMO_USERS
from geo.errors import InvalidInput
from tests.conftest import create_database, drop_database, make_settings

LONG_SECRET = "x" * 40


@pytest.fixture(scope="module")
def auth_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    url = create_database(admin_engine, template=demo_template)
    yield url
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def auth_engine(auth_url: str) -> Iterator[Engine]:
    engine = create_engine(auth_url)
    yield engine
    engine.dispose()


def client_for(url: str, **overrides: Any) -> TestClient:
    overrides.setdefault("rate_login_per_min", 0)
    overrides.setdefault("demo_open", False)
    return TestClient(create_app(make_settings(url, **overrides)))


def login(client: TestClient, username: str, password: str) -> Any:
    return client.post("/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_session_token_signature_and_expiry() -> None:
    token, exp = issue_session_token("k" * 32, 7, "u", 3, ttl_s=60, now=1000)
    claims = verify_session_token("k" * 32, token, now=1010)
    assert (claims.user_id, claims.username, claims.token_version, exp) == (7, "u", 3, 1060)
    with pytest.raises(TokenError, match="expired"):
        verify_session_token("k" * 32, token, now=1060)
    with pytest.raises(TokenError, match="signature"):
        verify_session_token("other" * 8, token, now=1010)
    head, body, sig = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    with pytest.raises(TokenError):
        verify_session_token("k" * 32, f"{head}.{forged}.{sig}", now=1010)


def test_masking_helpers() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_phone(None) is None
    worker = Principal("w", "worker", cell_codes=frozenset({"A"}))
    assert reporter_fields(worker, "张三", "13812341234", "A", None)["reporter_phone"] == (
        "138****1234")
    assert reporter_fields(worker, "张三", "13812341234", "B", None)["reporter_phone"] is None
    unmasked = Principal("w", "worker", cell_codes=frozenset({"A"}), unmask=True)
    assert reporter_fields(unmasked, "张三", "13812341234", "A", None)["personal"] == "full"
    assert reporter_fields(unmasked, "张三", "13812341234", "B", None)["personal"] == "withheld"
    planner = Principal("p", "planner", unmask=True)
    assert reporter_fields(planner, "张三", "13812341234", "A", "x")["reporter_name"] is None


def test_login_me_and_worker_scope(auth_url: str, auth_engine: Engine) -> None:
    with client_for(auth_url) as client:
        r = login(client, *DEMO_USERS["worker"][:2])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] > 0
        assert "wangge_token" in r.cookies
        assert r.headers["cache-control"] == "no-store"  # a token must not be cached
        me = client.get("/auth/me", headers=bearer(body["access_token"])).json()
        assert me["role"] == "worker" and me["authenticated"] is True
        with auth_engine.connect() as conn:
            cells = set(conn.execute(text(
                "SELECT a.cell_code FROM app_user u JOIN worker_assignment a ON "
                "a.worker_id = u.worker_id AND a.valid_to IS NULL WHERE u.username = "
                "'demo-worker'")).scalars())
        assert set(me["cell_codes"]) == cells and len(cells) == 1
        assert next(iter(cells)).startswith("141123100")  # a 蔚汾镇 cell
        # the cookie works on GET (browsers opening maps), on writes only with the CSRF token
        client.cookies.set("wangge_token", body["access_token"])
        assert client.get("/auth/me").json()["role"] == "worker"
        # a cookie write without X-CSRF-Token is refused (api/csrf.py, tests/api/test_csrf.py)
        assert client.post("/auth/tokens", json={"name": "x"}).status_code == 403
        client.cookies.clear()
        dept = login(client, *DEMO_USERS["department"][:2]).json()["user"]
        assert dept["department_code"] == "xiaofang"


def test_anonymous_is_viewer_unless_demo_open(auth_url: str) -> None:
    with client_for(auth_url) as client:
        me = client.get("/auth/me").json()
        assert (me["user"], me["role"], me["authenticated"]) == ("anonymous", "viewer", False)
        assert client.get("/incidents").status_code == 401
        r = client.get("/cells/at", params={"lon": 111.13, "lat": 38.46})
        assert r.status_code == 200
        worker = r.json()["properties"]["worker"]
        assert worker is None or "****" in worker["phone_masked"]
    with client_for(auth_url, demo_open=True) as client:
        assert client.get("/auth/me").json()["role"] == "command"
        r = client.get("/incidents", params={"limit": 5})
        assert r.status_code == 200
        assert r.json() and all("*" in (i["reporter_phone"] or "*") for i in r.json())
    # outside demo mode WANGGE_DEMO_OPEN is ignored
    with client_for(auth_url, demo_open=True, demo_mode=False,
                    secret_key=LONG_SECRET) as client:
        assert client.get("/auth/me").json()["role"] == "viewer"


def test_bad_tokens_get_401_not_anonymous(auth_url: str) -> None:
    with client_for(auth_url) as client:
        for headers in ({"Authorization": "Bearer nonsense"},
                        {"Authorization": "Basic dXNlcjpwdw=="},
                        {"Authorization": "Bearer wgk_unknown"}):
            r = client.get("/auth/me", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["detail"]
        other_secret, _ = issue_session_token("y" * 40, 1, "demo-admin", 1, 60)
        assert client.get("/auth/me", headers=bearer(other_secret)).status_code == 401


def _same_answer(a: Any, b: Any) -> None:
    """Two responses alike: status, body, and headers (but the date)."""
    assert (a.status_code, a.content) == (b.status_code, b.content)
    assert ({k: v for k, v in a.headers.items() if k != "date"}
            == {k: v for k, v in b.headers.items() if k != "date"})


def test_unknown_user_and_wrong_password_answer_alike(auth_url: str,
                                                      auth_engine: Engine) -> None:
    """Issue 15, finding 10: a wrong password for an existing user answered
    ``"failures":1,"locked":false``, an unknown user not (user enumeration)."""
    with auth_engine.begin() as conn:
        add_user(conn, "enum-me", "viewer", "141123", password="right-password")
    with client_for(auth_url) as client:
        known, unknown = login(client, "enum-me", "wrong"), login(client, "enum-mf", "wrong")
        assert known.status_code == 401 and "密码" in known.json()["detail"]
        assert set(known.json()) == {"status", "title", "detail"}
        _same_answer(known, unknown)
        form = {"password": "wrong", "next": "/maps/dispatch"}
        known = client.post("/login", data={**form, "username": "enum-me"})
        unknown = client.post("/login", data={**form, "username": "enum-mf"})
        assert known.status_code == 401 and "登录失败" in known.text
        _same_answer(known, client.post("/login", data={**form, "username": "enum-me"}))
        assert known.text.replace("enum-me", "X") == unknown.text.replace("enum-mf", "X")


def test_failures_throttle_the_client_not_the_account(auth_url: str,
                                                      auth_engine: Engine) -> None:
    """Issue 15, finding 10: anyone could lock an account by naming it. Failures now throttle
    the client address (per name, and per address), alike for unknown names."""
    with auth_engine.begin() as conn:
        add_user(conn, "lock-me", "viewer", "141123", password="right-password")
    app = create_app(make_settings(auth_url, rate_login_per_min=0, demo_open=False,
                                   login_max_failures=3, login_lockout_s=600))
    with TestClient(app, client=("10.9.8.7", 5000)) as attacker, \
            TestClient(app, client=("10.1.1.1", 5000)) as owner:
        for name in ("lock-me", "lock-mf"):  # an existing and an unknown name
            codes = [login(attacker, name, "wrong-password").status_code for _ in range(3)]
            assert codes == [401, 401, 401]
        known, unknown = (login(attacker, "lock-me", "right-password"),
                          login(attacker, "lock-mf", "right-password"))
        assert known.status_code == unknown.status_code == 429, known.text
        assert set(known.json()) == set(unknown.json())
        assert 1 <= int(known.headers["retry-after"]) <= 600
        assert int(known.json()["retry_after"]) == int(known.headers["retry-after"])
        assert "retry" in known.json()["detail"] and "过多" in known.json()["detail"]
        form = attacker.post("/login", data={"username": "lock-me", "password": "x"})
        assert form.status_code == 429 and form.headers["retry-after"]
        # the owner, from their own address, is not locked out
        r = login(owner, "lock-me", "right-password")
        assert r.status_code == 200, r.text
    with auth_engine.connect() as conn:
        actions = [a for (a,) in conn.execute(text(
            "SELECT action FROM audit_log WHERE username = 'lock-me' ORDER BY id"))]
        locked = conn.execute(text("SELECT failed_logins, locked_until FROM app_user "
                                   "WHERE username = 'lock-me'")).one()
    assert actions == ["login_failed"] * 3 + ["login_throttled"] * 2 + ["login"]
    assert tuple(locked) == (0, None)


def test_failures_over_many_names_throttle_the_address(auth_url: str) -> None:
    """Password spraying: one address trying many names is throttled too."""
    from geo.auth.users import ADDRESS_FAILURE_FACTOR

    app = create_app(make_settings(auth_url, rate_login_per_min=0, demo_open=False,
                                   login_max_failures=2, login_lockout_s=600))
    with TestClient(app, client=("10.5.5.5", 5000)) as sprayer, \
            TestClient(app, client=("10.5.5.6", 5000)) as neighbour:
        codes = [login(sprayer, f"spray-{i}", "pw").status_code
                 for i in range(2 * ADDRESS_FAILURE_FACTOR + 1)]
        assert codes == [401] * (2 * ADDRESS_FAILURE_FACTOR) + [429]
        assert login(sprayer, *DEMO_USERS["viewer"][:2]).status_code == 429
        assert login(neighbour, *DEMO_USERS["viewer"][:2]).status_code == 200


def test_disable_and_reset_end_sessions(auth_url: str, auth_engine: Engine) -> None:
    with auth_engine.begin() as conn:
        add_user(conn, "short-lived", "planner", "141123", password="password-1")
    with client_for(auth_url) as client:
        token = login(client, "short-lived", "password-1").json()["access_token"]
        assert client.get("/auth/me", headers=bearer(token)).json()["role"] == "planner"
        with auth_engine.begin() as conn:
            reset_password(conn, "short-lived", "password-2")
        assert client.get("/auth/me", headers=bearer(token)).status_code == 401
        token = login(client, "short-lived", "password-2").json()["access_token"]
        with auth_engine.begin() as conn:
            set_disabled(conn, "short-lived")
        assert client.get("/auth/me", headers=bearer(token)).status_code == 401
        assert login(client, "short-lived", "password-2").status_code == 401


def test_expired_session_token(auth_url: str, auth_engine: Engine) -> None:
    with auth_engine.connect() as conn:
        uid, ver = conn.execute(text("SELECT id, token_version FROM app_user "
                                     "WHERE username = 'demo-viewer'")).one()
    settings = make_settings(auth_url)
    token, _ = issue_session_token(settings.secret_key, uid, "demo-viewer", ver, 1,
                                   now=time.time() - 10)
    with client_for(auth_url) as client:
        r = client.get("/auth/me", headers=bearer(token))
        assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_api_tokens_create_use_list_revoke(auth_url: str) -> None:
    with client_for(auth_url) as client:
        session = login(client, *DEMO_USERS["command"][:2]).json()["access_token"]
        client.cookies.clear()
        r = client.post("/auth/tokens", json={"name": "hotline bridge", "days": 30},
                        headers=bearer(session))
        assert r.status_code == 201, r.text
        api_token, tid = r.json()["token"], r.json()["id"]
        assert api_token.startswith("wgk_")
        me = client.get("/auth/me", headers=bearer(api_token)).json()
        assert (me["user"], me["role"]) == ("demo-command", "command")
        # desktop GIS (QGIS "Basic" authentication): any user name, the API token as password
        basic = {"Authorization": "Basic " + base64.b64encode(
            f"qgis-user:{api_token}".encode()).decode()}
        me = client.get("/auth/me", headers=basic).json()
        assert (me["user"], me["role"]) == ("demo-command", "command")
        assert client.get("/incidents", params={"limit": 1}, headers=basic).status_code == 200
        password = {"Authorization": "Basic " + base64.b64encode(
            f"demo-command:{DEMO_USERS['command'][1]}".encode()).decode()}
        r = client.get("/auth/me", headers=password)
        assert r.status_code == 401 and "API" in r.json()["detail"]  # never a login password
        assert client.get("/auth/me", headers={"Authorization": "Basic %%%"}).status_code == 401
        listed = client.get("/auth/tokens", headers=bearer(session)).json()
        assert any(t["id"] == tid for t in listed)
        assert api_token not in str(listed)  # never the secret
        viewer = login(client, *DEMO_USERS["viewer"][:2]).json()["access_token"]
        client.cookies.clear()
        assert client.delete(f"/auth/tokens/{tid}", headers=bearer(viewer)).status_code == 404
        assert client.delete(f"/auth/tokens/{tid}", headers=bearer(session)).status_code == 200
        assert client.get("/auth/me", headers=bearer(api_token)).status_code == 401
        assert client.get("/auth/me", headers=basic).status_code == 401
        assert client.post("/auth/tokens", json={"name": "x"}).status_code == 401


def test_demo_users_only_in_demo_mode(auth_url: str) -> None:
    with client_for(auth_url, demo_mode=False, secret_key=LONG_SECRET) as client:
        r = login(client, *DEMO_USERS["admin"][:2])
        assert r.status_code == 401 and "demo" in r.json()["detail"]


def test_refuses_to_start_with_default_secret_outside_demo_mode(auth_url: str) -> None:
    with pytest.raises(RuntimeError, match="WANGGE_SECRET_KEY"):
        create_app(make_settings(auth_url, demo_mode=False, secret_key=DEFAULT_SECRET))
    with pytest.raises(RuntimeError, match="WANGGE_SECRET_KEY"):
        create_app(make_settings(auth_url, demo_mode=False, secret_key="short"))
    create_app(make_settings(auth_url, demo_mode=False, secret_key=LONG_SECRET))


def test_published_default_secret_never_signs(auth_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, finding 1: the demo signed admin tokens with the published default secret."""
    with pytest.raises(RuntimeError, match="WANGGE_SECRET_KEY"):  # demo mode too
        create_app(make_settings(auth_url, secret_key=DEFAULT_SECRET))
    monkeypatch.delenv("WANGGE_SECRET_KEY", raising=False)
    monkeypatch.setenv("WANGGE_DATA_DIR", str(tmp_path / "data"))
    first = Settings.from_env().secret_key
    assert len(first) >= 32 and first != DEFAULT_SECRET
    assert Settings.from_env().secret_key == first  # kept: every process signs alike
    secret_file = tmp_path / "data" / SECRET_FILE
    assert secret_file.stat().st_mode & 0o777 == 0o600
    forged, _ = issue_session_token(DEFAULT_SECRET, 1, "demo-admin", 0, 3600)
    with client_for(auth_url, secret_key=first, demo_open=False) as client:
        r = client.get("/incidents", params={"unmask": "true"},
                       headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
    secret_file.unlink()  # rotation: a new secret, old session tokens stop working
    assert Settings.from_env().secret_key != first


def test_cli_users(auth_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", auth_url)
    runner = CliRunner()
    r = runner.invoke(main, ["users", "add", "cli-dept", "--role", "department",
                             "--department", "gongan"])
    assert r.exit_code == 0, r.output
    password = r.output.split("password: ")[1].strip()
    r = runner.invoke(main, ["users", "add", "cli-dept", "--role", "viewer"])
    assert r.exit_code != 0 and "exists" in r.output
    r = runner.invoke(main, ["users", "add", "cli-w", "--role", "worker"])
    assert r.exit_code != 0 and "--worker" in r.output
    r = runner.invoke(main, ["users", "add", "cli-d", "--role", "department",
                             "--department", "nope"])
    assert r.exit_code != 0 and "unknown department" in r.output
    r = runner.invoke(main, ["users", "list"])
    assert "cli-dept" in r.output and "gongan" in r.output
    # the county (and a prefecture's scope) is shown: two counties' users look different
    assert [ln for ln in r.output.splitlines() if ln.startswith("cli-dept ")][0].split()[2] == (
        "141123")
    r = runner.invoke(main, ["users", "token", "cli-dept", "--name", "bridge"])
    assert r.exit_code == 0, r.output
    api_token = r.output.strip().splitlines()[-1]
    with client_for(auth_url) as client:
        assert login(client, "cli-dept", password).status_code == 200
        me = client.get("/auth/me", headers=bearer(api_token)).json()
        assert me["department_code"] == "gongan"
        assert runner.invoke(main, ["users", "disable", "cli-dept"]).exit_code == 0
        assert client.get("/auth/me", headers=bearer(api_token)).status_code == 401
        assert runner.invoke(main, ["users", "enable", "cli-dept"]).exit_code == 0
        r = runner.invoke(main, ["users", "reset", "cli-dept"])
        assert r.exit_code == 0
        new_pw = r.output.split("password: ")[1].strip()
        assert login(client, "cli-dept", password).status_code == 401
        assert login(client, "cli-dept", new_pw).status_code == 200
    r = runner.invoke(main, ["users", "demo-credentials"])
    assert "demo-worker" in r.output and DEMO_USERS["worker"][1] in r.output
    with create_engine(auth_url).connect() as conn:
        actions = {a for (a,) in conn.execute(text(
            "SELECT action FROM audit_log WHERE object_id = 'cli-dept'"))}
    assert {"user_add", "token_create", "user_disable", "user_enable", "user_reset"} <= actions


def test_role_headers_fixture(demo_url: str, role_headers: Any) -> None:
    """The conftest helper tests use to call endpoints as a role (on the shared demo DB)."""
    with client_for(demo_url) as client:
        for role in ("admin", "command", "department", "worker", "planner", "viewer"):
            assert client.get("/auth/me", headers=role_headers[role]).json()["role"] == role
        assert client.get("/incidents", headers=role_headers["command"]).status_code == 200
        assert client.get("/incidents", headers=role_headers["anonymous"]).status_code == 401


def test_phone_numbers_in_free_text_are_masked() -> None:
    from geo.auth.principal import mask_personal_text

    assert mask_personal_text("请联系13812341234或0358-6123456") == (
        "请联系138****1234或0358-****3456")
    # written forms of mobiles (review finding F3): +86, 86, dashes, spaces
    assert mask_personal_text("+8613712349876 / 86 137 1234 9876 / 137-1234-9876") == (
        "137****9876 / 137****9876 / 137****9876")
    assert mask_personal_text("142301 19900101 123X") == "142301********123X"
    assert mask_personal_text("2026-01-01 面积120.5") == "2026-01-01 面积120.5"
    assert mask_personal_text("编号 2138123412345") == "编号 2138123412345"  # not a mobile
    assert mask_personal_text(None) is None


@hyp_settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_tampered_token_is_refused(data: st.DataObject) -> None:
    token, _ = issue_session_token("s" * 32, 1, "demo-admin", 1, 3600)
    i = data.draw(st.integers(0, len(token) - 1))
    c = data.draw(st.sampled_from("ABCDEFabcdef0123456789-_."))
    assume(token[i] != c)
    with pytest.raises(TokenError):
        verify_session_token("s" * 32, token[:i] + c + token[i + 1:])


def test_openapi_declares_bearer(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_browser_login_page_and_redirect_back_to_the_map(auth_url: str) -> None:
    """A person opening a map without a login is sent to the form and back with a cookie."""
    username, password, _ = DEMO_USERS["command"]
    html = {"Accept": "text/html,application/xhtml+xml"}
    with client_for(auth_url) as c:
        r = c.get("/maps/dispatch?lang=en", headers=html, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=%2Fmaps%2Fdispatch%3Flang%3Den")
        # an API client (no text/html) still gets the 401 with its reason
        assert c.get("/maps/dispatch").status_code == 401
        page = c.get(r.headers["location"])
        assert page.status_code == 200 and 'name="password"' in page.text
        assert "Wangge log in" in page.text  # lang=en carried through
        assert "form-action 'self'" in page.headers["content-security-policy"]
        bad = c.post("/login", data={"username": username, "password": "wrong",
                                     "next": "/maps/dispatch"}, follow_redirects=False)
        assert bad.status_code == 401 and "登录失败" in bad.text
        assert "wangge_token" not in bad.cookies
        ok = c.post("/login", data={"username": username, "password": password,
                                    "next": "/maps/dispatch?lang=en"}, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/maps/dispatch?lang=en"
        assert ok.cookies.get("wangge_token")
        page = c.get("/maps/dispatch?lang=en", headers=html)
        assert page.status_code == 200 and "leaflet" in page.text.lower()
        c.cookies.clear()
        # never a redirect to another host
        evil = c.post("/login", data={"username": username, "password": password,
                                      "next": "//evil.example/x"}, follow_redirects=False)
        assert evil.headers["location"] == "/maps/dispatch"


def _mint(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/auth/tokens", json={"name": "t", **body}, headers=headers)


def test_password_reset_and_disable_revoke_api_tokens(auth_url: str,
                                                      auth_engine: Engine) -> None:
    """Issue 15, finding 9: API tokens survived a password reset and a disable-then-enable."""
    with auth_engine.begin() as conn:
        add_user(conn, "token-owner", "command", "141123", password="password-1")
    with client_for(auth_url) as client:
        session = login(client, "token-owner", "password-1").json()["access_token"]
        client.cookies.clear()
        api_token = _mint(client, bearer(session)).json()["token"]
        assert client.get("/auth/me", headers=bearer(api_token)).status_code == 200
        with auth_engine.begin() as conn:
            reset_password(conn, "token-owner", "password-2")
        r = client.get("/auth/me", headers=bearer(api_token))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]

        session = login(client, "token-owner", "password-2").json()["access_token"]
        client.cookies.clear()
        api_token = _mint(client, bearer(session)).json()["token"]
        with auth_engine.begin() as conn:
            set_disabled(conn, "token-owner", True)
            set_disabled(conn, "token-owner", False)
        assert client.get("/auth/me", headers=bearer(api_token)).status_code == 401
        with auth_engine.connect() as conn:
            live = conn.execute(text(
                "SELECT count(*) FROM api_token t JOIN app_user u ON u.id = t.user_id "
                "WHERE u.username = 'token-owner' AND t.revoked_at IS NULL")).scalar()
        assert live == 0
        # after enabling, the user logs in and mints a new one, which works
        session = login(client, "token-owner", "password-2").json()["access_token"]
        client.cookies.clear()
        fresh = _mint(client, bearer(session)).json()["token"]
        assert client.get("/auth/me", headers=bearer(fresh)).status_code == 200


def test_api_tokens_always_expire(auth_url: str, auth_engine: Engine) -> None:
    """Issue 15, finding 9: ``days: null`` meant a token that never expires."""
    from geo.auth.tokens import API_TOKEN_DEFAULT_DAYS, API_TOKEN_MAX_DAYS

    with client_for(auth_url) as client:
        session = login(client, *DEMO_USERS["command"][:2]).json()["access_token"]
        client.cookies.clear()
        for body in ({}, {"days": None}):
            r = _mint(client, bearer(session), **body)
            assert r.status_code == 201, r.text
            assert r.json()["days"] == API_TOKEN_DEFAULT_DAYS
            with auth_engine.connect() as conn:
                days = conn.execute(text(
                    "SELECT extract(epoch FROM expires_at - created_at) / 86400 FROM api_token "
                    "WHERE id = :i"), {"i": r.json()["id"]}).scalar()
            assert days is not None and round(float(days)) == API_TOKEN_DEFAULT_DAYS
        for bad in (0, -1, API_TOKEN_MAX_DAYS + 1, 3650):
            r = _mint(client, bearer(session), days=bad)
            assert r.status_code == 422, (bad, r.text)
        assert _mint(client, bearer(session), days=API_TOKEN_MAX_DAYS).status_code == 201
        spec = client.get("/openapi.json").json()
        days_doc = spec["components"]["schemas"]["TokenRequest"]["properties"]["days"]
        assert f"{API_TOKEN_DEFAULT_DAYS} days" in days_doc["description"]
        assert any(o.get("maximum") == API_TOKEN_MAX_DAYS
                   for o in days_doc.get("anyOf", [days_doc]))
    # the CLI and the library: the same default, the same limit
    with auth_engine.begin() as conn:
        _tid, _tok = create_api_token(conn, "demo-command", "cli", None)
        expires = conn.execute(text("SELECT expires_at FROM api_token WHERE id = :i"),
                               {"i": _tid}).scalar()
        assert expires is not None
        with pytest.raises(InvalidInput, match="days"):
            create_api_token(conn, "demo-command", "cli", 0)
        # a token stored without expiry by an earlier release ends after the maximum
        legacy = "wgk_legacy-token-without-expiry-000000000000000"
        conn.execute(text(
            "INSERT INTO api_token (region_code, user_id, name, token_hash, prefix, created_at) "
            "SELECT region_code, id, 'legacy', :h, 'wgk_legacy', now() - interval '400 days' "
            "FROM app_user WHERE username = 'demo-command'"), {"h": hash_api_token(legacy)})
    with client_for(auth_url) as client:
        assert client.get("/auth/me", headers=bearer(legacy)).status_code == 401


def test_only_a_login_session_mints_api_tokens(auth_url: str) -> None:
    """Issue 15, finding 9: an API token could mint more API tokens."""
    with client_for(auth_url) as client:
        session = login(client, *DEMO_USERS["worker"][:2]).json()["access_token"]
        client.cookies.clear()
        api_token = _mint(client, bearer(session)).json()["token"]
        basic = {"Authorization": "Basic " + base64.b64encode(
            f"any:{api_token}".encode()).decode()}
        for headers in (bearer(api_token), basic):
            r = _mint(client, headers)
            assert r.status_code == 403, r.text
            assert "登录会话" in r.json()["detail"] and "session" in r.json()["detail"]
        # the API token still reads, lists and revokes; the session still mints
        assert client.get("/auth/tokens", headers=bearer(api_token)).status_code == 200
        assert _mint(client, bearer(session)).status_code == 201
