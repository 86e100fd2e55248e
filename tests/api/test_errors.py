"""api/errors.py on real database failures: bad values -> 422, exhausted pool / dead server ->
503 with Retry-After, never a 500 or a trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.errors import install_error_handlers


@pytest.fixture()
def tiny_pool(demo_url: str) -> Iterator[Engine]:
    engine = create_engine(demo_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield engine
    engine.dispose()


def _app(engine: Engine, dead: Engine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/cast")
    def cast(value: str) -> dict[str, int]:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT CAST(:v AS integer)"), {"v": value}).scalar_one()
            return {"n": n}

    @app.get("/nul")
    def nul() -> dict[str, int]:
        with engine.connect() as conn:
            return {"n": conn.execute(text("SELECT length(:v)"), {"v": "a\x00b"}).scalar_one()}

    @app.get("/busy")
    def busy() -> dict[str, int]:
        with engine.connect(), engine.connect() as second:  # the pool holds only one
            return {"n": second.execute(text("SELECT 1")).scalar_one()}

    @app.get("/dead")
    def dead_server() -> dict[str, int]:
        with dead.connect() as conn:
            return {"n": conn.execute(text("SELECT 1")).scalar_one()}

    return app


def test_database_failures_map_to_4xx_or_503(tiny_pool: Engine) -> None:
    dead = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none",
                         connect_args={"connect_timeout": 2})
    client = TestClient(_app(tiny_pool, dead), raise_server_exceptions=False)
    assert client.get("/cast", params={"value": "12"}).json() == {"n": 12}
    for path, params in (("/cast", {"value": "twelve"}), ("/nul", {})):
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert "invalid parameter value" in r.json()["detail"]
    for path in ("/busy", "/dead"):
        r = client.get(path)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["retry-after"].isdigit() and "Traceback" not in r.text
    dead.dispose()
