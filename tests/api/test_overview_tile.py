"""Issue 20 target 3: the overview tile over HTTP (``GET /tiles/overview/{z}/{x}/{y}.pbf``):
counts per township (zoom <= 8) or basic cell, from the rollups, equal to counting the
incidents; logged in only; a caller's counties only."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import pytest
from sqlalchemy import Engine, text

XING_SEAT = (111.127, 38.462)


def _xyz(z: int, lon: float, lat: float) -> tuple[int, int]:
    n = 2 ** z
    return (int((lon + 180.0) / 360.0 * n),
            int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n))


def _features(data: bytes) -> list[dict[str, Any]]:
    return mapbox_vector_tile.decode(data).get("incident_counts", {}).get("features", [])


@pytest.mark.parametrize(("z", "level", "column"), [(7, "township", "township_code"),
                                                    (11, "cell", "cell_code")])
def test_overview_counts_equal_the_incidents(client: Any, role_headers: dict[str, Any],
                                             demo_engine: Engine, z: int, level: str,
                                             column: str) -> None:
    x, y = _xyz(z, *XING_SEAT)
    r = client.get(f"/tiles/overview/{z}/{x}/{y}.pbf", headers=role_headers["planner"])
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert "private" in r.headers["cache-control"]
    feats = _features(r.content)
    assert feats
    got = {f["properties"]["code"]: (f["properties"]["n"], f["properties"]["open"])
           for f in feats}
    from geo.incidents.flow import open_status_sql

    with demo_engine.connect() as conn:
        want = {code: (int(n), int(o)) for code, n, o in conn.execute(text(
            f"SELECT {column}, count(*), count(*) FILTER (WHERE {open_status_sql()}) "
            "FROM incident "
            f"WHERE {column} = ANY(:codes) GROUP BY 1"),
            {"codes": list(got)}).all()}
    assert got == want, level


@pytest.fixture(scope="module")
def closed(demo_url: str) -> Iterator[Any]:
    """The app with the open demo off: an anonymous caller is the public."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.conftest import make_settings

    with TestClient(create_app(make_settings(demo_url, demo_open=False))) as c:
        yield c


def test_overview_tile_needs_a_login_and_a_valid_tile(closed: Any,
                                                      role_headers: dict[str, Any]) -> None:
    client = closed
    x, y = _xyz(7, *XING_SEAT)
    assert client.get(f"/tiles/overview/7/{x}/{y}.pbf").status_code == 401
    assert client.get(f"/tiles/overview/7/{x}/{y}.pbf",
                      headers=role_headers["viewer"]).status_code == 200
    assert client.get("/tiles/overview/7/999/0.pbf",
                      headers=role_headers["command"]).status_code == 404
    assert client.get("/tiles/overview/30/0/0.pbf",
                      headers=role_headers["command"]).status_code == 422
    empty = client.get("/tiles/overview/7/0/0.pbf", headers=role_headers["command"])
    assert empty.status_code == 204
