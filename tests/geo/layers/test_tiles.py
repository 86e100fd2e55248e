"""Vector tiles: content type, content, empty tiles, access scope, bad z/x/y."""

from __future__ import annotations

import math
from typing import Any

import mapbox_vector_tile
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from tests.conftest import make_settings

MVT = "application/vnd.mapbox-vector-tile"


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def test_incident_tile_has_features_without_personal_fields(client: Any,
                                                             demo_engine: Engine) -> None:
    z = 14
    x, y = tile_xy(111.13, 38.46, z)
    r = client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf")
    assert r.status_code == 200
    assert r.headers["content-type"] == MVT
    layer = mapbox_vector_tile.decode(r.content)["incidents"]
    assert layer["extent"] == 4096
    feats = layer["features"]
    sql = text("SELECT count(*) FROM incident WHERE ST_Intersects(ST_Transform(geom, 3857), "
               "ST_TileEnvelope(:z, :x, :y, margin => :m))")
    with demo_engine.connect() as conn:
        n_tile = conn.execute(sql, {"z": z, "x": x, "y": y, "m": 0.0}).scalar()
        # the 64-px buffer, give or take a pixel of snapping to the tile grid
        n_buf = conn.execute(sql, {"z": z, "x": x, "y": y, "m": 65.0 / 4096}).scalar()
    assert 0 < n_tile <= len(feats) <= n_buf
    assert all("reporter_phone" not in f["properties"] for f in feats)
    assert all(f["geometry"]["type"] == "Point" for f in feats)
    # tile coordinates fall inside the tile extent plus its buffer, most inside the tile
    inside = 0
    for f in feats:
        px, py = f["geometry"]["coordinates"]
        assert -64 <= px <= 4160 and -64 <= py <= 4160
        inside += 0 <= px <= 4096 and 0 <= py <= 4096
    assert inside > len(feats) / 2


def test_cell_tile_at_county_scale(client: Any) -> None:
    z = 8
    x, y = tile_xy(111.0, 38.4, z)
    r = client.get(f"/tiles/cells/{z}/{x}/{y}.pbf")
    assert r.status_code == 200
    feats = mapbox_vector_tile.decode(r.content)["cells"]["features"]
    assert len(feats) > 100
    assert {"code", "name", "kind"} <= set(feats[0]["properties"])


def test_empty_tile_is_204(client: Any) -> None:
    r = client.get("/tiles/cells/6/0/0.pbf")
    assert r.status_code == 204
    assert r.content == b""


def test_tiles_scope_incidents_to_the_caller(demo_url: str, demo_engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from api.deps import get_principal
    from api.main import create_app

    with demo_engine.connect() as conn:
        cell = conn.execute(text("SELECT cell_code FROM incident WHERE cell_code LIKE "
                                 "'141123100%' GROUP BY cell_code ORDER BY count(*) DESC "
                                 "LIMIT 1")).scalar()
    app = create_app(make_settings(demo_url))
    app.dependency_overrides[get_principal] = lambda: Principal(
        user="w", role="worker", cell_codes=frozenset({cell}))
    z = 11
    x, y = tile_xy(111.13, 38.46, z)
    with TestClient(app) as c:
        r = c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf")
        assert r.status_code == 200
        feats = mapbox_vector_tile.decode(r.content)["incidents"]["features"]
        assert feats and {f["properties"]["cell_code"] for f in feats} == {cell}
    app.dependency_overrides[get_principal] = lambda: Principal(user="v", role="viewer")
    with TestClient(app) as c:
        assert c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf").status_code == 204
        assert c.get(f"/tiles/cells/{z}/{x}/{y}.pbf").status_code == 200


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/tiles/cells/23/0/0.pbf", 422, "23"),
        ("/tiles/cells/-1/0/0.pbf", 422, "-1"),
        ("/tiles/cells/2/4/0.pbf", 404, "2/4/0"),
        ("/tiles/cells/2/0/-1.pbf", 404, "2/0/-1"),
        ("/tiles/roads/2/0/0.pbf", 404, "roads"),
        ("/tiles/admin_units/2/0/0.pbf", 404, "admin_units"),
        ("/tiles/cells/a/0/0.pbf", 422, "z"),
    ],
)
def test_bad_tiles(client: Any, url: str, status: int, needle: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert needle in r.text
