"""The per-process principal cache (api/auth_cache.py): kept principals are dropped at once in
every process by a logout, a disable or a reset, and never used while the listener is down.

Two app processes (uvicorn, each with its own cache and listener) share one database: a change
made through one, or by a third process (the CLI), is refused by the other on the next request.
An unannounced change (raw SQL, no :func:`geo.auth.changes.auth_changed`) shows that the second
request really came from the cache.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from api.main import create_app
from geo.auth.users import set_disabled
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, demo_worker_spot, drop_database, make_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 48


@pytest.fixture()
def db(admin_engine: Engine, demo_template: str) -> Iterator[tuple[str, Engine]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    try:
        yield url, engine
    finally:
        engine.dispose()
        drop_database(admin_engine, url)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def app_process(url: str) -> Iterator[str]:
    """The app served by uvicorn in a process of its own; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "WANGGE_DATABASE_URL": url, "WANGGE_SECRET_KEY": SECRET,
           "WANGGE_DEMO_OPEN": "0", "WANGGE_RATE_LOGIN_PER_MIN": "0",
           "WANGGE_RATE_EXPENSIVE_PER_MIN": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "uvicorn exited"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _wait_listening(http: httpx.Client, base: str, token: str) -> None:
    """Until the process keeps principals (its listener listens): the hot path answers a
    logged-in lookup only from a kept principal, and says so in no header, so ask /auth/me."""
    for _ in range(100):
        if http.get(f"{base}/auth/me", headers=_bearer(token)).status_code == 200:
            return
        time.sleep(0.05)


def _first_refusal(http: httpx.Client, url: str, params: dict[str, Any], token: str,
                   within_s: float) -> httpx.Response:
    """The first answer to ``url`` that is not a 200, asked until ``within_s`` has passed."""
    end = time.monotonic() + within_s
    while True:
        r = http.get(url, params=params, headers=_bearer(token))
        if r.status_code != 200 or time.monotonic() > end:
            return r
        time.sleep(0.02)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(http: httpx.Client, base: str, role: str) -> str:
    username, password, _ = DEMO_USERS[role]
    r = http.post(f"{base}/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _session_id(token: str) -> str:
    from geo.auth.tokens import verify_session_token

    return verify_session_token(SECRET, token).session_id


def test_two_processes_refuse_at_once(db: tuple[str, Engine]) -> None:
    """Warm both caches, change through one (or the CLI): the other refuses the next call."""
    url, engine = db
    with engine.connect() as conn:
        _cell, x, y = demo_worker_spot(conn)
    where = {"lon": x, "lat": y}
    with app_process(url) as a, app_process(url) as b, httpx.Client(timeout=30) as http:
        tokens = [_login(http, a, "worker") for _ in range(3)]
        for base in (a, b):
            _wait_listening(http, base, tokens[0])
        for token in tokens:
            for base in (a, b, a, b):  # the second of each is answered from the cache
                r = http.get(f"{base}/cells/at", params=where, headers=_bearer(token))
                assert r.status_code == 200, r.text
                assert r.json()["properties"]["caller"]["assigned_to_you"] is True
                assert http.get(f"{base}/auth/me", headers=_bearer(token)).status_code == 200

        # 1. unannounced (raw SQL, no auth_changed): both keep serving the kept principal,
        # which is what the cache is for and why every change must announce itself
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO auth_session_revoked (sid, user_id, expires_at) "
                              "SELECT :s, id, now() + interval '1 day' FROM app_user "
                              "WHERE username = 'demo-worker'"), {"s": _session_id(tokens[0])})
        for base in (a, b):
            assert http.get(f"{base}/cells/at", params=where,
                            headers=_bearer(tokens[0])).status_code == 200

        # 2. logout through A: B refuses the very next request (and A too)
        assert http.post(f"{a}/auth/logout", headers=_bearer(tokens[1])).status_code == 200
        r = _first_refusal(http, f"{b}/cells/at", where, tokens[1], within_s=3.0)
        assert r.status_code == 401, r.text
        assert http.get(f"{b}/auth/me", headers=_bearer(tokens[1])).status_code == 401
        assert http.get(f"{a}/auth/me", headers=_bearer(tokens[1])).status_code == 401

        # 3. the user disabled by a third process (what ``wangge users disable`` does): both
        # refuse the next request, the announced change also ending the unannounced one
        assert http.get(f"{b}/auth/me", headers=_bearer(tokens[2])).status_code == 200
        with engine.begin() as conn:
            set_disabled(conn, "demo-worker")
        for base in (b, a):
            # the notice crosses processes (PostgreSQL delivers it at commit): a request may
            # overtake it by the time the other process's event loop takes to read it, a few
            # milliseconds here; 3 s on a loaded CI machine (it once took over 1 s there)
            r = _first_refusal(http, f"{base}/cells/at", where, tokens[2], within_s=3.0)
            assert r.status_code == 401, r.text
            assert http.get(f"{base}/auth/me", headers=_bearer(tokens[0])).status_code == 401

        # 4. enabled again with a fresh login: kept again, a reset ends it everywhere
        with engine.begin() as conn:
            set_disabled(conn, "demo-worker", False)
        token = _login(http, b, "worker")
        for base in (a, b, a, b):
            assert http.get(f"{base}/auth/me", headers=_bearer(token)).status_code == 200
        assert http.post(f"{a}/auth/logout", params={"everywhere": "true"},
                         headers=_bearer(_login(http, a, "worker"))).status_code == 200
        assert http.get(f"{b}/cells/at", params=where,
                        headers=_bearer(token)).status_code == 401


def _until(check: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_dead_listener_serves_nothing_stale(db: tuple[str, Engine]) -> None:
    """The listener's connection ends: the cache is off and every request goes to the
    database, so a change nobody hears about is still seen; listening again, it keeps again."""
    url, engine = db
    settings = make_settings(url, demo_open=False, secret_key=SECRET)
    with TestClient(create_app(settings)) as client:
        cache = client.app.state.auth_cache  # type: ignore[attr-defined]
        _until(lambda: cache.live)
        token = _login_client(client, "command")
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
        hits = cache.hits
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
        assert cache.hits == hits + 1  # kept

        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": cache.listener_pid})
        _until(lambda: not cache.live)
        assert cache.get(token) is None
        # unannounced disable (raw SQL): only the database knows
        with engine.begin() as conn:
            conn.execute(text("UPDATE app_user SET disabled = true "
                              "WHERE username = 'demo-command'"))
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 401
        with engine.begin() as conn:
            conn.execute(text("UPDATE app_user SET disabled = false "
                              "WHERE username = 'demo-command'"))

        _until(lambda: cache.live)  # the listener reconnects and starts empty
        assert client.get("/auth/me", headers=_bearer(token)).status_code == 200
        hits = cache.hits
        assert client.get("/cells/at", params={"lon": 111.13, "lat": 38.46},
                          headers=_bearer(token)).status_code == 200
        assert cache.hits > hits


def _login_client(client: TestClient, role: str) -> str:
    username, password, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": username, "password": password})
    client.cookies.clear()
    return str(r.json()["access_token"])


def test_logged_in_lookup_takes_the_hot_path(db: tuple[str, Engine]) -> None:
    """A kept principal answers ``GET /cells/at`` without the router, with the route's body;
    a token not kept (first use) goes to the route, which keeps it."""
    url, engine = db
    with engine.connect() as conn:
        _cell, x, y = demo_worker_spot(conn)
    settings = make_settings(url, demo_open=False, secret_key=SECRET)
    with TestClient(create_app(settings)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        _until(lambda: state.auth_cache.live)
        token = _login_client(client, "worker")
        before = getattr(state, "hot_path_answers", 0)
        first = client.get("/cells/at", params={"lon": x, "lat": y}, headers=_bearer(token))
        assert getattr(state, "hot_path_answers", 0) == before  # resolved by the route
        second = client.get("/cells/at", params={"lon": x, "lat": y}, headers=_bearer(token))
        assert getattr(state, "hot_path_answers", 0) == before + 1
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert first.headers["content-type"] == second.headers["content-type"]
        assert second.json()["properties"]["caller"] == {
            "user": "demo-worker", "role": "worker", "assigned_to_you": True}
        # unmask and a malformed header still go to the route
        r = client.get("/cells/at", params={"lon": x, "lat": y},
                       headers={"Authorization": "Bearer"})
        assert r.status_code == 401
        assert getattr(state, "hot_path_answers", 0) == before + 1


def test_connection_lost_mid_transaction_stays_a_connection_error(admin_engine: Engine) -> None:
    """The cache's rollback listener on a connection the database dropped: the caller sees
    the OperationalError (api.errors answers 503), not the PendingRollbackError that reading
    ``conn.info`` of an invalidated connection raises (a 500 in CI's database-restart test)."""
    from sqlalchemy.exc import OperationalError

    import api.auth_cache  # noqa: F401  (registers the commit/rollback listeners)

    engine = create_engine(admin_engine.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(OperationalError), engine.begin() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            with admin_engine.connect() as killer:
                killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
