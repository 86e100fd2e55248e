"""Spatial questions: within, nearest, intersects, inside a unit, cell summary; bad inputs."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.crs.china import wgs84_to_gcj02

LON, LAT = 111.13, 38.46
SQUARE = {"type": "Polygon", "coordinates": [[[111.12, 38.45], [111.14, 38.45], [111.14, 38.47],
                                              [111.12, 38.47], [111.12, 38.45]]]}


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def test_within_distance_matches_geodesic_postgis(client: Any, demo_engine: Engine) -> None:
    r = client.get("/spatial/cameras/within", params={"lon": LON, "lat": LAT, "distance_m": 500})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    expected = rows(demo_engine, "SELECT gb_id FROM camera WHERE ST_DWithin(geom::geography, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490)::geography, 500)", x=LON, y=LAT)
    assert {f["id"] for f in feats} == {e[0] for e in expected}
    d = [f["properties"]["distance_m"] for f in feats]
    assert d == sorted(d) and 0 <= d[0] and d[-1] <= 500


def test_within_takes_the_point_crs(client: Any) -> None:
    glon, glat = map(float, wgs84_to_gcj02(LON, LAT))
    a = client.get("/spatial/compounds/within", params={"lon": LON, "lat": LAT,
                                                        "distance_m": 300}).json()
    b = client.get("/spatial/compounds/within", params={"lon": glon, "lat": glat,
                                                        "distance_m": 300, "crs": "GCJ02"}).json()
    assert [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]


def test_nearest_equals_brute_force_order(client: Any, demo_engine: Engine) -> None:
    for layer, table, key in (("cameras", "camera", "gb_id"), ("compounds", "compound", "code")):
        r = client.get(f"/spatial/{layer}/nearest", params={"lon": LON, "lat": LAT, "k": 7})
        assert r.status_code == 200
        got = [f["id"] for f in r.json()["features"]]
        brute = rows(demo_engine, f"SELECT {key} FROM {table} ORDER BY ST_Distance("
                     "geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4490)::geography), "
                     f"{key} LIMIT 7", x=LON, y=LAT)
        assert got == [b[0] for b in brute]
    cells = client.get("/spatial/cells/nearest", params={"lon": LON, "lat": LAT, "k": 3}).json()
    first = cells["features"][0]
    assert first["properties"]["distance_m"] == 0  # the covering cell
    covering = client.get("/cells/at", params={"lon": LON, "lat": LAT}).json()["properties"]
    dedicated = [d["code"] for d in covering["dedicated"]]
    assert first["id"] in covering["covering"] + dedicated


def test_intersects_posted_geometry(client: Any, demo_engine: Engine) -> None:
    r = client.post("/spatial/incidents/intersects", json={"geometry": SQUARE}, params={
        "limit": 5})
    assert r.status_code == 200
    n = rows(demo_engine, "SELECT count(*) FROM incident WHERE ST_Intersects(geom, "
             "ST_MakeEnvelope(111.12, 38.45, 111.14, 38.47, 4490))")[0][0]
    body = r.json()
    assert body["numberMatched"] == n > 0 and body["numberReturned"] == 5
    cells = client.post("/spatial/cells/intersects", json={"geometry": {
        "type": "Feature", "properties": {}, "geometry": SQUARE}}).json()
    assert cells["numberMatched"] >= 1


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"geometry": {"type": "Polygon", "coordinates": [[[111.12, 38.45], [111.14, 38.47],
                                                           [111.14, 38.45], [111.12, 38.47],
                                                           [111.12, 38.45]]]}},
         "Self-intersection"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[1, 2]]]}}, "GeoJSON"),
        ({"geometry": "POINT(1 2)"}, "GeoJSON"),
        ({"shape": SQUARE}, "geometry"),
        ({"geometry": SQUARE, "crs": "MARS"}, "MARS"),
    ],
)
def test_intersects_bad_geometry_is_422(client: Any, body: dict[str, Any], needle: str) -> None:
    r = client.post("/spatial/cells/intersects", json=body)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_inside_a_township_and_a_cell(client: Any, demo_engine: Engine) -> None:
    r = client.get("/spatial/inside/township/141123100", params={"limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert body["unit"]["name"] == "蔚汾镇"
    n_cells = rows(demo_engine, "SELECT count(*) FROM grid_cell c JOIN boundary_set b ON "
                   "b.id = c.boundary_set_id AND b.is_active WHERE c.kind = 'basic' AND "
                   "c.township_code = '141123100'")[0][0]
    # basic cells by attribute; dedicated cells lie over them and are counted spatially too
    assert body["layers"]["cells"]["numberMatched"] >= n_cells
    assert body["layers"]["cells"]["numberReturned"] == 2
    code = body["layers"]["cells"]["features"][0]["id"]
    cell = client.get(f"/spatial/inside/cell/{code}", params={"layers": "cameras,incidents"})
    assert cell.status_code == 200
    cams = rows(demo_engine, "SELECT count(*) FROM camera m, grid_cell c JOIN boundary_set b "
                "ON b.id = c.boundary_set_id AND b.is_active WHERE c.code = :c AND "
                "ST_Covers(c.geom, m.geom)", c=code)[0][0]
    assert cell.json()["layers"]["cameras"]["numberMatched"] == cams


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/spatial/inside/township/999999999", 404, "999999999"),
        ("/spatial/inside/planet/141123100", 422, "planet"),
        ("/spatial/inside/township/141123100?layers=roads", 404, "roads"),
        ("/spatial/roads/within?lon=111.13&lat=38.46&distance_m=10", 404, "roads"),
        ("/spatial/cameras/within?lon=111.13&lat=38.46&distance_m=0", 422, "distance_m"),
        ("/spatial/cameras/within?lon=111.13&lat=38.46&distance_m=90000", 422, "distance_m"),
        ("/spatial/cameras/within?lon=111.13&lat=138.46&distance_m=10", 422, "lat"),
        ("/spatial/cameras/within?lon=111.13&lat=38.46&distance_m=10&limit=99999", 413, "limit"),
        ("/spatial/cameras/nearest?lon=111.13&lat=38.46&k=0", 422, "k"),
        ("/spatial/cameras/nearest?lon=111.13&lat=38.46&k=5000", 413, "k"),
        ("/spatial/admin_units/nearest?lon=111.13&lat=38.46", 404, "admin_units"),
        ("/spatial/cameras/nearest?lon=111.13&lat=38.46&crs=MARS", 422, "MARS"),
        ("/cells/000/summary", 404, "000"),
    ],
)
def test_spatial_bad_inputs(client: Any, url: str, status: int, needle: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_cell_summary(client: Any, demo_engine: Engine) -> None:
    code = client.get("/cells/at", params={"lon": LON, "lat": LAT}).json()["properties"]["code"]
    r = client.get(f"/cells/{code}/summary")
    assert r.status_code == 200
    s = r.json()
    assert s["code"] == code and s["township"]["name"] == "蔚汾镇"
    if s["worker"] is not None:
        assert "****" in s["worker"]["phone_masked"]
    touching = rows(demo_engine, "SELECT n.code FROM grid_cell c JOIN grid_cell n ON "
                    "n.boundary_set_id = c.boundary_set_id AND n.id <> c.id AND n.kind = "
                    "'basic' AND ST_Intersects(n.geom, c.geom) JOIN boundary_set b ON b.id = "
                    "c.boundary_set_id AND b.is_active WHERE c.code = :c", c=code)
    neighbours = {n["code"] for n in s["neighbours"]}
    assert {t[0] for t in touching} <= neighbours and code not in neighbours
    assert any(n["shared_edge_m"] > 10 for n in s["neighbours"])
    open_n = rows(demo_engine, "SELECT count(*) FROM incident WHERE cell_code = :c AND status "
                  "NOT IN ('closed', 'cancelled', 'merged', 'rejected')", c=code)[0][0]
    assert s["open_incidents"]["count"] == open_n
    assert len(s["open_incidents"]["items"]) == min(open_n, 200)
    assert all("reporter_phone" not in i for i in s["open_incidents"]["items"])
    assert isinstance(s["compounds"], list) and isinstance(s["cameras"], list)


def test_openapi_documents_every_new_endpoint(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/spatial/{layer}/within", "/spatial/{layer}/nearest",
                 "/spatial/{layer}/intersects", "/spatial/inside/{kind}/{code}",
                 "/cells/{code}/summary", "/ogc/collections/{collection_id}/items",
                 "/tiles/{layer}/{z}/{x}/{y}.pbf"):
        assert path in paths, path
    post = paths["/cells/at"]["post"]
    assert {"application/json", "text/csv"} <= set(post["requestBody"]["content"])
    assert "get" in paths["/cells/at"]


def test_database_down_is_503_everywhere() -> None:
    """The app starts without its database; every new endpoint answers 503, never a trace."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings("postgresql+psycopg://postgres@127.0.0.1:1/none"))
    with TestClient(app) as c:
        for url in ("/cells/at?lon=111.13&lat=38.46", "/ogc/collections",
                    "/ogc/collections/incidents/items", "/spatial/cameras/nearest?lon=111.13&"
                    "lat=38.46", "/cells/141123100003001/summary", "/tiles/cells/8/206/97.pbf"):
            r = c.get(url)
            assert r.status_code == 503, (url, r.text)
        assert c.post("/cells/at", json={"points": [[111.13, 38.46]]}).status_code == 503
