"""GET /cells/at: inside, shared edge, near an edge, outside, CRSs, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.crs.china import gcj02_to_bd09, wgs84_to_gcj02


def get(client: Any, **params: Any) -> Any:
    return client.get("/cells/at", params=params)


def test_county_seat_point_is_in_weifen(client: Any) -> None:
    r = get(client, lon=111.13, lat=38.46)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    f = r.json()
    assert f["type"] == "Feature"
    assert f["geometry"]["type"] == "MultiPolygon"
    p = f["properties"]
    assert p["township"]["name"] == "蔚汾镇"
    assert p["code"].startswith(p["village_or_community"]["code"])
    assert len(p["code"]) == 15
    assert p["worker"] is None or "****" in p["worker"]["phone_masked"]
    assert p["near_boundary"]["distance_to_edge_m"] > 0
    assert p["candidates"][0] == p["code"] or p["code"] in p["candidates"]


def _shared_vertex(engine: Engine) -> tuple[float, float, list[str]]:
    with engine.connect() as conn:
        row = conn.execute(text("""
            SELECT ST_X(d.geom), ST_Y(d.geom), a.code, b.code
            FROM grid_cell a JOIN grid_cell b ON a.code < b.code AND a.geom && b.geom
             AND a.parent_code = b.parent_code AND a.kind = 'basic' AND b.kind = 'basic'
            CROSS JOIN LATERAL ST_DumpPoints(a.geom) d
            WHERE a.parent_code LIKE '141123100%' AND ST_Covers(b.geom, d.geom)
            LIMIT 1""")).one()
    return float(row[0]), float(row[1]), sorted([row[2], row[3]])


def test_shared_edge_gets_one_deterministic_answer(client: Any, demo_engine: Engine) -> None:
    lon, lat, codes = _shared_vertex(demo_engine)
    answers = {get(client, lon=lon, lat=lat).json()["properties"]["code"] for _ in range(3)}
    assert answers == {codes[0]}  # the lowest code wins
    p = get(client, lon=lon, lat=lat).json()["properties"]
    assert set(codes) <= set(p["covering"])
    assert set(codes) <= set(p["candidates"])
    assert p["near_boundary"]["near"] is True
    assert p["near_boundary"]["distance_to_edge_m"] == pytest.approx(0, abs=0.01)


def test_near_an_edge_lists_the_neighbour(client: Any, demo_engine: Engine) -> None:
    lon, lat, codes = _shared_vertex(demo_engine)
    # step ~3 m into the first cell along the line to its interior point
    with demo_engine.connect() as conn:
        ilon, ilat = conn.execute(text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM grid_cell WHERE code = :c"), {"c": codes[1]}).one()
    import math

    d_deg = math.hypot(ilon - lon, ilat - lat)
    f = 0.00003 / d_deg
    plon, plat = lon + (ilon - lon) * f, lat + (ilat - lat) * f
    p = get(client, lon=plon, lat=plat, tolerance_m=10).json()["properties"]
    assert p["near_boundary"]["near"] is True
    assert 0 < p["near_boundary"]["distance_to_edge_m"] < 10
    assert len(p["candidates"]) >= 2
    far = get(client, lon=plon, lat=plat, tolerance_m=0).json()["properties"]
    assert far["near_boundary"]["near"] is False


def test_gcj02_and_bd09_inputs_give_the_same_cell(client: Any) -> None:
    base = get(client, lon=111.13, lat=38.46).json()["properties"]["code"]
    glon, glat = map(float, wgs84_to_gcj02(111.13, 38.46))
    assert get(client, lon=glon, lat=glat, crs="GCJ02").json()["properties"]["code"] == base
    blon, blat = map(float, gcj02_to_bd09(glon, glat))
    assert get(client, lon=blon, lat=blat, crs="BD09").json()["properties"]["code"] == base
    # the same GCJ-02 numbers read as CGCS2000 land ~500 m away: another cell
    other = get(client, lon=glon, lat=glat)
    assert other.status_code != 200 or other.json()["properties"]["code"] != base
    # answer geometry in the requested CRS: GCJ-02 is shifted east of CGCS2000
    g = get(client, lon=glon, lat=glat, crs="GCJ02").json()["geometry"]
    c = get(client, lon=111.13, lat=38.46).json()["geometry"]
    assert g["coordinates"][0][0][0][0] > c["coordinates"][0][0][0][0] + 0.003


def test_projected_crs_input(client: Any) -> None:
    from pyproj import Transformer

    x, y = Transformer.from_crs(4490, 4546, always_xy=True).transform(111.13, 38.46)
    r = get(client, lon=x, lat=y, crs="EPSG:4546")
    assert r.status_code == 200
    assert r.json()["properties"]["code"] == get(client, lon=111.13, lat=38.46).json()[
        "properties"]["code"]


def test_outside_every_cell_is_404_naming_the_region(client: Any) -> None:
    r = get(client, lon=116.39, lat=39.91)  # Beijing
    assert r.status_code == 404
    assert "141123" in r.json()["detail"] and "兴县" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 111.13, "lat": 111}, "lat"),
        ({"lon": 111.13}, "lat"),
        ({"lat": 38.46}, "lon"),
        ({"lon": 200, "lat": 38.46}, "lon"),
        ({"lon": "abc", "lat": 38.46}, "lon"),
        ({"lon": 111.13, "lat": 38.46, "crs": "EPSG:99999"}, "crs"),
        ({"lon": 111.13, "lat": 38.46, "crs": "MARS"}, "crs"),
        ({"lon": "nan", "lat": 38.46}, "lon"),
        ({"lon": 111.13, "lat": ""}, "lat"),
        ({"lon": 111.13, "lat": 38.46, "region": "14x123"}, "region"),
        ({"lon": 111.13, "lat": 38.46, "at": "2023-13-45"}, "at"),
        ({"lon": 111.13, "lat": 38.46, "tolerance_m": 5000}, "tolerance_m"),
        ({"lon": 111.13, "lat": 38.46, "tolerance_m": "far"}, "tolerance_m"),
    ],
)
def test_bad_input_is_422_naming_the_field(client: Any, params: dict[str, Any], field: str) -> None:
    r = get(client, **params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in (body.get("field") or "") or field in body["detail"]


def test_swapped_lat_lon_gets_a_hint(client: Any) -> None:
    r = get(client, lon=38.46, lat=111.13)
    assert r.status_code == 422
    assert "swapped" in r.json()["detail"]


def test_unknown_region_is_404(client: Any) -> None:
    r = get(client, lon=111.13, lat=38.46, region="999999")
    assert r.status_code == 404
    assert "999999" in r.json()["detail"]


def test_lookup_by_date_uses_the_set_valid_then(client: Any) -> None:
    assert get(client, lon=111.13, lat=38.46, at="2023-06-01").status_code == 200
    r = get(client, lon=111.13, lat=38.46, at="2019-01-01")
    assert r.status_code == 404
    assert "boundary set" in r.json()["detail"]


def test_documented_query_parameters(client: Any) -> None:
    """GET /cells/at parses its query itself: the OpenAPI document still lists every option."""
    params = client.get("/openapi.json").json()["paths"]["/cells/at"]["get"]["parameters"]
    by_name = {p["name"]: p for p in params}
    assert {"lon", "lat", "crs", "region", "at", "tolerance_m"} <= set(by_name)
    assert by_name["lon"]["required"] and by_name["lat"]["required"]
    assert by_name["tolerance_m"]["schema"]["maximum"] == 1000


def test_tolerance_and_region_options(client: Any) -> None:
    wide = get(client, lon=111.13, lat=38.46, tolerance_m=50, region="141123")
    assert wide.status_code == 200, wide.text
    props = wide.json()["properties"]
    assert props["near_boundary"]["tolerance_m"] == 50
    assert props["near_boundary"]["near"] is True  # 26 m from the edge (see above)
    assert len(props["candidates"]) >= 2


def test_scenario_a_worker_in_the_street(client: Any, demo_engine: Engine,
                                         role_headers: dict[str, dict[str, str]]) -> None:
    """SCENARIOS.md A: the worker's phone sends a GCJ-02 position; she sees the cell, that it
    is hers, the distance to the edge, and her cell's open incidents nearest first."""
    worker = role_headers["worker"]
    cells = client.get("/me/cell", headers=worker).json()["cells"]
    mine = cells[0]["code"]
    with demo_engine.connect() as conn:
        x, y, other_x, other_y = conn.execute(text("""
            SELECT ST_X(p), ST_Y(p), ST_X(q), ST_Y(q) FROM
              (SELECT ST_PointOnSurface(c.geom) p FROM grid_cell c JOIN boundary_set b
                 ON b.id = c.boundary_set_id AND b.is_active WHERE c.code = :c) a,
              (SELECT ST_PointOnSurface(c.geom) q FROM grid_cell c JOIN boundary_set b
                 ON b.id = c.boundary_set_id AND b.is_active
               WHERE c.code <> :c AND c.kind = 'basic' ORDER BY c.code LIMIT 1) o"""),
            {"c": mine}).one()
    gx, gy = map(float, wgs84_to_gcj02(x, y))  # the phone's map app (CGCS2000 ~ WGS 84 here)
    r = get_as(client, worker, lon=gx, lat=gy, crs="GCJ02")
    assert r.status_code == 200
    p = r.json()["properties"]
    assert p["code"] == mine and p["name"]
    assert p["caller"] == {"user": p["caller"]["user"], "role": "worker",
                           "assigned_to_you": True}
    assert p["near_boundary"]["distance_to_edge_m"] > 0
    assert p["worker"] is None or "****" in p["worker"]["phone_masked"]
    other = get_as(client, worker, lon=other_x, lat=other_y).json()["properties"]
    assert other["code"] != mine and other["caller"]["assigned_to_you"] is False
    assert "caller" not in get(client, lon=x, lat=y).json()["properties"]  # anonymous
    listed = client.get("/me/incidents", headers=worker,
                        params={"lon": gx, "lat": gy, "crs": "GCJ02"}).json()["items"]
    assert listed and {i["cell_code"] for i in listed} <= {c["code"] for c in cells}
    dist = [i["distance_m"] for i in listed]
    assert dist == sorted(dist) and dist[0] >= 0
    bad = client.get("/me/incidents", headers=worker, params={"lon": gx})
    assert bad.status_code == 422 and "lat" in bad.text


def get_as(client: Any, headers: dict[str, str], **params: Any) -> Any:
    return client.get("/cells/at", params=params, headers=headers)
