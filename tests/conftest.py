"""Test fixtures on a real PostGIS (the project-local cluster or WANGGE_DATABASE_URL's server).

Databases:
- a template loaded once per session with migrations + the demo (never connected afterwards),
- ``demo_url``: a clone of it shared by read-only tests,
- ``fresh_demo_url``: a new clone per test, for tests that write,
- ``empty_url``: a new empty PostGIS database per test.
Without PostGIS, tests that need it skip locally and fail when WANGGE_REQUIRE_DB=1 (CI).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine

from api.settings import Settings
from geo.db.engine import normalize_url

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout: tests live in tests/<package>/
_PREFIX = f"wangge_t{os.getpid()}_"


def _server_url() -> str:
    url = os.environ.get("WANGGE_DATABASE_URL") or Settings.from_env().database_url
    return normalize_url(url)


def _admin_engine() -> Engine:
    url = make_url(_server_url()).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


def _url_for(dbname: str) -> str:
    return make_url(_server_url()).set(database=dbname).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def admin_engine() -> Iterator[Engine]:
    """AUTOCOMMIT engine on the server's ``postgres`` database (skip/fail without PostGIS)."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("WANGGE_REQUIRE_DB") == "1":
            pytest.fail(f"PostGIS required (WANGGE_REQUIRE_DB=1) but unreachable: {exc}")
        pytest.skip(f"PostGIS not reachable ({exc.__class__.__name__}); run ./scripts/test.sh")
    yield engine
    with engine.connect() as conn:
        for (name,) in conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": _PREFIX + "%"}
        ):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def create_database(admin: Engine, template: str | None = None) -> str:
    """Create a throwaway database (optionally from a template) and return its URL."""
    name = _PREFIX + uuid.uuid4().hex[:10]
    with admin.connect() as conn:
        if template:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    if not template:
        eng = create_engine(_url_for(name), isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        eng.dispose()
    return _url_for(name)


def drop_database(admin: Engine, url: str) -> None:
    """Drop a throwaway database and every engine connected to it."""
    from geo.db.engine import get_engine

    get_engine.cache_clear()
    name = make_url(url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def demo_template(admin_engine: Engine) -> str:
    """Name of a template database holding the migrated schema and the demo.

    With ``WANGGE_TEST_REUSE_TEMPLATE=1`` (a developer's machine, never CI) the template is
    kept between sessions under a name made of a hash of geo/ and data/boundaries/, and reused
    while neither changes: running a few tests no longer waits for the demo to load.
    """
    if os.environ.get("WANGGE_TEST_REUSE_TEMPLATE") == "1":
        return _kept_template(admin_engine)
    return _build_template(admin_engine)


def _build_template(admin_engine: Engine) -> str:
    from geo.db.migrate import upgrade
    from geo.demo.county import load_demo

    url = create_database(admin_engine)
    engine = create_engine(url)
    upgrade(engine)
    load_demo(engine)
    engine.dispose()
    name = make_url(url).database
    assert name is not None
    return name


def _kept_template(admin_engine: Engine) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted([*REPO_ROOT.glob("geo/**/*.py"), *REPO_ROOT.glob("data/boundaries/*")]):
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    kept = "wangge_kept_tpl_" + digest.hexdigest()[:12]
    with admin_engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": kept}).first():
            return kept
    return keep_template(admin_engine, _build_template(admin_engine), kept)


def keep_template(admin_engine: Engine, built: str, kept: str) -> str:
    """Rename the template ``built`` to ``kept``, dropping the older ones of its kind (the
    names sharing ``kept``'s prefix before the hash); ``built`` if another session won."""
    like = kept.rsplit("_", 1)[0] + "_%"
    with admin_engine.connect() as conn:
        for (old,) in conn.execute(text(
                "SELECT datname FROM pg_database WHERE datname LIKE :like"), {"like": like}):
            try:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{old}"'))
            except Exception:  # noqa: BLE001 - another session is copying it: leave it
                pass
        try:
            conn.execute(text(f'ALTER DATABASE "{built}" RENAME TO "{kept}"'))
        except Exception:  # noqa: BLE001 - built at the same time by another session
            return built
    return kept


@pytest.fixture(scope="session")
def demo_url(admin_engine: Engine, demo_template: str) -> str:
    """A demo database shared by read-only tests."""
    return create_database(admin_engine, template=demo_template)


@pytest.fixture(scope="session")
def demo_engine(demo_url: str) -> Iterator[Engine]:
    """Engine on the shared demo database."""
    engine = create_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def fresh_demo_url(admin_engine: Engine, demo_template: str) -> Iterator[str]:
    """A private demo database for one test that writes."""
    url = create_database(admin_engine, template=demo_template)
    yield url
    drop_database(admin_engine, url)


@pytest.fixture()
def empty_url(admin_engine: Engine) -> Iterator[str]:
    """A private empty PostGIS database for one test."""
    url = create_database(admin_engine)
    yield url
    drop_database(admin_engine, url)


def demo_worker_spot(conn: Any) -> tuple[str, float, float]:
    """The demo worker's cell (``demo-worker``) and a point inside it (lon, lat)."""
    from geo.demo.users import pick_demo_worker

    _, cell = pick_demo_worker(conn, "141123")
    x, y = conn.execute(text(
        "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid_cell "
        "c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active WHERE c.code = :c"),
        {"c": cell}).one()
    return cell, float(x), float(y)


def make_settings(url: str, **overrides: object) -> Settings:
    """Settings pointing at ``url`` (nothing read from the environment but defaults).

    Rate limits are off unless a test sets them: the session's requests all come from one
    client address and would share one bucket.

    ``demo_open`` is on unless a test sets it: the feature tests (dispatch, maps, analyses,
    OGC ...) call as the anonymous command centre of the open demo. Who may see what is
    tested with ``demo_open=False`` and real logins by tests/api/test_auth.py,
    tests/api/test_authz_matrix.py (every endpoint x every role), test_audit.py, test_rls.py and
    test_hardening.py.
    """
    base = Settings.from_env()
    fields = {**base.__dict__, "database_url": url, "rate_login_per_min": 0,
              "rate_expensive_per_min": 0, "demo_open": True, **overrides}
    return Settings(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def client(demo_url: str) -> Iterator[object]:
    """TestClient of the app on the shared demo database."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(make_settings(demo_url))) as c:
        yield c


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI (WANGGE_CI=1) a skipped test is a failure: it would hide a missing install."""
    if os.environ.get("WANGGE_CI") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        if reporter:
            reporter.write_line(f"CI: {skipped} test(s) skipped; skips fail in CI", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def role_headers(demo_engine: Engine) -> dict[str, dict[str, str]]:
    """``Authorization`` headers of the demo user of each role (``admin``, ``command``,
    ``department``, ``worker``, ``planner``, ``viewer``) for requests through ``client``;
    ``{}`` under ``anonymous``. Signed directly (no login round trip)."""
    from geo.auth.tokens import issue_session_token
    from geo.demo.users import DEMO_USERS

    secret = make_settings("unused").secret_key
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    with demo_engine.connect() as conn:
        for role, (username, _pw, _name) in DEMO_USERS.items():
            uid, ver = conn.execute(
                text("SELECT id, token_version FROM app_user WHERE username = :u"),
                {"u": username},
            ).one()
            token, _ = issue_session_token(secret, uid, username, ver, 24 * 3600)
            out[role] = {"Authorization": f"Bearer {token}"}
    return out


@contextmanager
def own_demo_client(admin_engine: Engine, demo_template: str,
                    **overrides: object) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A demo database of the caller's own (copied from the template) and a TestClient of the
    app on it with logins required (``demo_open`` off unless ``overrides`` say otherwise).

    Yields ``(client, env)``; ``env`` holds ``engine``, ``settings``, the demo worker's
    ``cell`` and a point ``x``, ``y`` inside it. For a test module whose writes must not
    reach the shared demo database.
    """
    from fastapi.testclient import TestClient

    from api.main import create_app

    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.connect() as conn:
        cell, x, y = demo_worker_spot(conn)
    settings = make_settings(url, **{"demo_open": False, **overrides})
    try:
        with TestClient(create_app(settings)) as client:
            yield client, {"cell": cell, "x": x, "y": y, "engine": engine,
                           "settings": settings}
    finally:
        engine.dispose()
        drop_database(admin_engine, url)


@contextmanager
def serve_in_thread(settings: Settings, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """The app for ``settings`` served by uvicorn in a thread of this process; yields its URL
    (``port`` 0: a free port chosen by the system).

    For real HTTP clients written in Python (OWSLib, Playwright). A client that holds the GIL
    while it waits (GDAL) must run in a subprocess instead.
    """
    import uvicorn

    from api.main import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


CHROMIUM = os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (the Debian package) driven by Playwright (a skip fails in CI)."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run WITH_BROWSER=1 scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
        yield b
        b.close()
