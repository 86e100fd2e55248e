"""The app served on its own copy of the demo, with real logins: for browser tests that change
data (a phone's queue, a patrol sent today) and so must not share the demo database.

- :func:`own_app`: a database copied from the demo template and the app serving it (no open
  demo: every caller logs in), on a fixed local port; :func:`app_fixture` makes it a module
  fixture (``served = app_fixture(PORT, "name")`` yields (URL, engine));
- :func:`bearer`: the ``Authorization`` header of a demo user, for API calls beside the browser;
- :func:`log_in`: a browser page through the login form (``/login?next=``) to ``path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.auth.tokens import issue_session_token
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings, serve_in_thread


@contextmanager
def own_app(admin_engine: Engine, demo_template: str, data_dir: Path, port: int,
            host: str = "127.0.0.1") -> Iterator[tuple[str, Engine]]:
    """A copy of the demo served at ``http://host:port``; yields (URL, engine of the copy)."""
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    try:
        with serve_in_thread(make_settings(url, demo_open=False, data_dir=data_dir),
                             host, port) as served:
            yield served, engine
    finally:
        engine.dispose()
        drop_database(admin_engine, url)


def app_fixture(port: int, name: str, host: str = "127.0.0.1") -> Any:
    """A module-scoped fixture yielding (URL, engine) of :func:`own_app` on ``port``."""

    @pytest.fixture(scope="module")
    def served(admin_engine: Engine, demo_template: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
        with own_app(admin_engine, demo_template, tmp_path_factory.mktemp(name), port,
                     host) as app:
            yield app

    return served


def bearer(engine: Engine, role: str) -> dict[str, str]:
    """The Authorization header of the demo user of ``role`` (a session token)."""
    return bearer_for(engine, DEMO_USERS[role][0])


def bearer_for(engine: Engine, username: str) -> dict[str, str]:
    """The Authorization header of the user ``username`` (a session token)."""
    with engine.connect() as conn:
        uid, ver = conn.execute(text("SELECT id, token_version FROM app_user WHERE username = "
                                     ":u"), {"u": username}).one()
    token, _ = issue_session_token(make_settings("unused").secret_key, uid, username, ver, 3600)
    return {"Authorization": f"Bearer {token}"}


def log_in(page: Any, base: str, role: str, path: str,
           credentials: tuple[str, str] | None = None) -> None:
    """Open ``path`` through the login form as the demo user of ``role`` (or the user of
    ``credentials``: name, password)."""
    page.goto(f"{base}/login?next={quote(path, safe='/')}")
    username, password = credentials or DEMO_USERS[role][:2]
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(base + path.split("?")[0])), timeout=60_000)
