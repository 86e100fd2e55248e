"""OGC API - Features under /ogc: happy paths, paging, filters, CRSs, access, bad inputs, OWSLib."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.auth.principal import Principal
from geo.crs.china import wgs84_to_gcj02
from tests.conftest import make_settings, serve_in_thread

GEOJSON = "application/geo+json"
COLLECTIONS = {"cells", "admin_units", "compounds", "cameras", "camera_sectors", "incidents"}


def items(client: Any, cid: str, **params: Any) -> Any:
    return client.get(f"/ogc/collections/{cid}/items", params=params)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_landing_conformance_collections(client: Any) -> None:
    r = client.get("/ogc")
    assert r.status_code == 200
    rels = {link["rel"] for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    cols = client.get("/ogc/collections").json()["collections"]
    assert {c["id"] for c in cols} == COLLECTIONS
    inc = client.get("/ogc/collections/incidents").json()
    assert inc["itemType"] == "feature"
    lo, hi = inc["extent"]["temporal"]["interval"][0]
    assert lo < hi
    minx, miny, maxx, maxy = inc["extent"]["spatial"]["bbox"][0]
    assert 110.5 < minx < maxx < 111.5 and 38.0 < miny < maxy < 38.8


def test_cells_are_the_active_set(client: Any, demo_engine: Engine) -> None:
    r = items(client, "cells", limit=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(GEOJSON)
    body = r.json()
    n = scalar(demo_engine, "SELECT count(*) FROM grid_cell c JOIN boundary_set b ON "
               "b.id = c.boundary_set_id AND b.is_active")
    assert body["numberMatched"] == n
    assert body["numberReturned"] == 5
    f = body["features"][0]
    assert f["geometry"]["type"] == "MultiPolygon" and len(f["id"]) == 15
    one = client.get(f"/ogc/collections/cells/items/{f['id']}")
    assert one.status_code == 200 and one.json()["properties"]["code"] == f["id"]


def test_paging_links_cover_every_feature_once(client: Any) -> None:
    seen: list[str] = []
    url: str | None = "/ogc/collections/cameras/items?limit=400&properties=gb_id"
    matched = None
    prevs = 0
    while url:
        body = client.get(url).json()
        matched = body["numberMatched"]
        seen += [f["id"] for f in body["features"]]
        links = {link["rel"]: link["href"] for link in body["links"]}
        prevs += "prev" in links
        url = links.get("next")
    assert matched == len(seen) == len(set(seen)) == 1500
    assert prevs == 3  # every page but the first has a prev link


def test_bbox_datetime_filter_sortby_properties(client: Any, demo_engine: Engine) -> None:
    bbox = (111.10, 38.44, 111.16, 38.48)
    r = items(client, "incidents", bbox=",".join(map(str, bbox)), limit=200,
              datetime="2025-06-01/2025-06-30", filter="status = 'closed' AND urgency <> 'x'",
              sortby="-reported_at", properties="code,status,reported_at")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = scalar(
        demo_engine,
        "SELECT count(*) FROM incident WHERE ST_Intersects(geom, ST_MakeEnvelope(:a,:b,:c,:d,"
        "4490)) AND reported_at >= :s AND reported_at <= :e AND status = 'closed'",
        a=bbox[0], b=bbox[1], c=bbox[2], d=bbox[3],
        s=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
        e=dt.datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=dt.UTC),
    )
    assert body["numberMatched"] == expected > 0
    feats = body["features"]
    assert all(set(f["properties"]) == {"code", "status", "reported_at"} for f in feats)
    assert all(f["properties"]["status"] == "closed" for f in feats)
    times = [f["properties"]["reported_at"] for f in feats]
    assert times == sorted(times, reverse=True)
    for f in feats:
        x, y = f["geometry"]["coordinates"]
        assert bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


def test_cql2_spatial_filter_matches_postgis(client: Any, demo_engine: Engine) -> None:
    poly = "POLYGON((111.12 38.45, 111.14 38.45, 111.14 38.47, 111.12 38.47, 111.12 38.45))"
    r = items(client, "incidents", filter=f"S_INTERSECTS(geom, {poly}) AND channel IN "
              "('12345', '110')", limit=1)
    assert r.status_code == 200, r.text
    expected = scalar(demo_engine, "SELECT count(*) FROM incident WHERE ST_Intersects(geom, "
                      "ST_GeomFromText(:w, 4490)) AND channel IN ('12345', '110')", w=poly)
    assert r.json()["numberMatched"] == expected > 0
    # a GCJ-02 literal (filter-crs) selects the same rows once shifted back
    ring = [(111.12, 38.45), (111.14, 38.45), (111.14, 38.47), (111.12, 38.47), (111.12, 38.45)]
    gcj = ", ".join("{} {}".format(*map(float, wgs84_to_gcj02(x, y))) for x, y in ring)
    r2 = items(client, "incidents", filter=f"S_INTERSECTS(geom, POLYGON(({gcj}))) AND channel "
               "IN ('12345', '110')", **{"filter-crs": "GCJ02"}, limit=1)
    assert r2.status_code == 200, r2.text
    assert abs(r2.json()["numberMatched"] - expected) <= 2  # edges are not straight in GCJ-02
    # BBOX(), LIKE, BETWEEN and NOT on other collections
    r3 = items(client, "compounds", filter="S_INTERSECTS(geom, BBOX(111.0, 38.4, 111.2, 38.5)) "
               "AND name LIKE '%花园%' AND NOT (households BETWEEN 0 AND 10)", limit=1)
    assert r3.status_code == 200, r3.text
    assert r3.json()["numberMatched"] > 0


def test_output_crs(client: Any) -> None:
    fid = items(client, "cameras", limit=1).json()["features"][0]["id"]
    base = client.get(f"/ogc/collections/cameras/items/{fid}")
    assert base.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    lon, lat = base.json()["geometry"]["coordinates"]
    uri = client.get(f"/ogc/collections/cameras/items/{fid}",
                     params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
    assert uri.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    assert uri.json()["geometry"]["coordinates"] == pytest.approx([lat, lon])  # lat first
    wgs = client.get(f"/ogc/collections/cameras/items/{fid}", params={"crs": "EPSG:4326"})
    assert wgs.json()["geometry"]["coordinates"] == pytest.approx([lat, lon])
    gcj = client.get(f"/ogc/collections/cameras/items/{fid}", params={"crs": "GCJ02"})
    assert gcj.headers["content-crs"] == "<GCJ02>"
    gx, gy = wgs84_to_gcj02(lon, lat)
    assert gcj.json()["geometry"]["coordinates"] == pytest.approx([float(gx), float(gy)])
    bd = items(client, "cameras", limit=1, crs="BD09").json()["features"][0]
    assert bd["geometry"]["coordinates"][0] > lon + 0.005  # BD-09 lies further east still
    gk = client.get(f"/ogc/collections/cameras/items/{fid}", params={"crs": "EPSG:4546"})
    north, east = gk.json()["geometry"]["coordinates"]  # EPSG:4546 axes: northing, easting
    assert 4_200_000 < north < 4_300_000 and 400_000 < east < 600_000


def test_bbox_crs_axis_order_and_gcj02(client: Any) -> None:
    box = (111.10, 38.44, 111.16, 38.48)
    base = items(client, "cameras", bbox=",".join(map(str, box)), limit=1).json()
    n = base["numberMatched"]
    assert n > 0
    # EPSG:4490 by URI: latitude first, as the CRS defines its axes
    latlon = f"{box[1]},{box[0]},{box[3]},{box[2]}"
    r = items(client, "cameras", bbox=latlon, limit=1,
              **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
    assert r.status_code == 200 and r.json()["numberMatched"] == n
    # the same box given in GCJ-02 (as read off a phone map) finds nearly the same cameras
    gx, gy = wgs84_to_gcj02([box[0], box[2]], [box[1], box[3]])
    gx1, gx2, gy1, gy2 = float(gx[0]), float(gx[1]), float(gy[0]), float(gy[1])
    g = items(client, "cameras", bbox=f"{gx1},{gy1},{gx2},{gy2}", limit=1,
              **{"bbox-crs": "GCJ02"}).json()["numberMatched"]
    assert abs(g - n) <= max(2, n // 50)


def test_camera_sectors_are_polygons(client: Any) -> None:
    body = items(client, "camera_sectors", limit=3).json()
    assert body["numberReturned"] == 3
    assert all(f["geometry"]["type"] == "Polygon" for f in body["features"])


@pytest.mark.parametrize(
    ("url", "status", "needle"),
    [
        ("/ogc/collections/nope", 404, "nope"),
        ("/ogc/collections/nope/items", 404, "nope"),
        ("/ogc/collections/cells/items/000", 404, "000"),
        ("/ogc/collections/cells/items?properties=code,foo", 422, "foo"),
        ("/ogc/collections/cells/items?sortby=-bar", 422, "bar"),
        ("/ogc/collections/cells/items?filter=baz%3D1", 422, "baz"),
        ("/ogc/collections/cells/items?filter=code%3D%3D", 422, "CQL2"),
        ("/ogc/collections/cells/items?filter-lang=cql2-json&filter=code%3D'1'", 422, "cql2-json"),
        ("/ogc/collections/cells/items?crs=EPSG:99999", 422, "EPSG:99999"),
        ("/ogc/collections/cells/items?bbox-crs=MARS&bbox=1,2,3,4", 422, "MARS"),
        ("/ogc/collections/cells/items?bbox=1,2,3", 422, "bbox"),
        ("/ogc/collections/cells/items?bbox=a,b,c,d", 422, "bbox"),
        ("/ogc/collections/cells/items?bbox=3,2,1,4", 422, "bbox"),
        ("/ogc/collections/cells/items?datetime=2025-01-01", 422, "datetime"),
        ("/ogc/collections/incidents/items?datetime=yesterday", 422, "yesterday"),
        ("/ogc/collections/incidents/items?datetime=2025-02-01/2025-01-01", 422, "datetime"),
        ("/ogc/collections/cells/items?limit=0", 422, "limit"),
        ("/ogc/collections/cells/items?limit=20000", 413, "10000"),
        ("/ogc/collections/cells/items?offset=-1", 422, "offset"),
        ("/ogc/collections/cells/items?filter=S_INTERSECTS(geom,POLYGON((0 0,1 1,1 0,0 1,0 0)))",
         422, "Self-intersection"),
    ],
)
def test_bad_requests_name_the_problem(client: Any, url: str, status: int, needle: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def _app_as(demo_url: str, principal: Principal) -> Any:
    from fastapi.testclient import TestClient

    from api.deps import get_principal
    from api.main import create_app

    app = create_app(make_settings(demo_url))
    app.dependency_overrides[get_principal] = lambda: principal
    return TestClient(app)


def test_incidents_obey_the_access_contract(demo_url: str, demo_engine: Engine) -> None:
    cell = scalar(demo_engine, "SELECT cell_code FROM incident WHERE cell_code IS NOT NULL "
                  "GROUP BY cell_code ORDER BY count(*) DESC LIMIT 1")
    worker = Principal(user="w", role="worker", cell_codes=frozenset({cell}))
    with _app_as(demo_url, worker) as c:
        body = items(c, "incidents", limit=100).json()
        n = scalar(demo_engine, "SELECT count(*) FROM incident WHERE cell_code = :c", c=cell)
        assert body["numberMatched"] == n > 0
        assert {f["properties"]["cell_code"] for f in body["features"]} == {cell}
        other = scalar(demo_engine, "SELECT code FROM incident WHERE cell_code <> :c LIMIT 1",
                       c=cell)
        assert c.get(f"/ogc/collections/incidents/items/{other}").status_code == 404
        # filtering on personal fields would leak them: only all-seeing roles may
        assert items(c, "incidents", filter="reporter_phone LIKE '138%'").status_code == 422
    # planners: every incident of their region as a point, no personal fields, no free text
    planner = Principal(user="p", role="planner", regions=frozenset({"141123"}))
    with _app_as(demo_url, planner) as c:
        body = items(c, "incidents", limit=5, filter="township_code = '141123100'").json()
        assert body["numberMatched"] == scalar(
            demo_engine, "SELECT count(*) FROM incident WHERE township_code = '141123100'") > 0
        props = body["features"][0]["properties"]
        assert body["features"][0]["geometry"]["type"] == "Point"
        assert {"category_code", "status", "reported_at", "cell_code"} <= set(props)
        assert not {"reporter_name", "reporter_phone", "description", "location_text"} & set(
            props)
        q = c.get("/ogc/collections/incidents/queryables").json()["properties"]
        assert "reporter_phone" not in q and "description" not in q and "status" in q
        for bad in ({"properties": "reporter_name"}, {"properties": "description"},
                    {"filter": "description LIKE '%张%'"}, {"sortby": "location_text"}):
            assert items(c, "incidents", **bad).status_code == 422, bad
    viewer = Principal(user="v", role="viewer", regions=frozenset({"141123"}),
                       authenticated=True)
    with _app_as(demo_url, viewer) as c:  # a refusal, not an empty collection
        r = items(c, "incidents", limit=5)
        assert r.status_code == 403 and "viewer" in r.json()["detail"]
        assert items(c, "cells", limit=1).json()["numberMatched"] > 0  # public layers stay
    # no login at all: a 401 saying how to log in, not an empty collection
    anonymous = Principal(user="anonymous", role="viewer", regions=frozenset({"141123"}))
    with _app_as(demo_url, anonymous) as c:
        r = items(c, "incidents", limit=5)
        assert r.status_code == 401 and "/auth/login" in r.json()["detail"]
        assert items(c, "cells", limit=1).json()["numberMatched"] > 0
    command = Principal(user="c", role="command", unmask=True)  # an audited ?unmask=true
    with _app_as(demo_url, command) as c:
        f = items(c, "incidents", limit=1, filter="reporter_phone IS NOT NULL").json()
        assert "****" not in (f["features"][0]["properties"]["reporter_phone"] or "")


def test_queryables_as_query_parameters(demo_url: str, demo_engine: Engine) -> None:
    """?status=closed&township_code=... filters like the CQL2 equalities (Part 3,
    queryables-query-parameters); an unknown parameter or a personal field is a 422; the
    queryables list the codes of coded properties with their names."""
    command = Principal(user="c", role="command", authenticated=True)
    planner = Principal(user="p", role="planner", regions=frozenset({"141123"}),
                        authenticated=True)
    with _app_as(demo_url, command) as c:
        n = scalar(demo_engine, "SELECT count(*) FROM incident WHERE status = 'closed' AND "
                   "township_code = '141123100'")
        body = items(c, "incidents", limit=3, status="closed", township_code="141123100").json()
        assert body["numberMatched"] == n > 0
        assert {f["properties"]["status"] for f in body["features"]} == {"closed"}
        both = items(c, "incidents", limit=1, status="closed",
                     filter="township_code = '141123100'").json()
        assert both["numberMatched"] == n
        assert items(c, "incidents", limit=1, rework_count="0").status_code == 200
        bad = items(c, "incidents", limit=1, township="蔚汾镇")
        assert bad.status_code == 422 and "township_code" in bad.json()["detail"]
        assert items(c, "incidents", limit=1, rework_count="x").status_code == 422
        assert items(c, "incidents", limit=1, status="it's").json()["numberMatched"] == 0
        q = c.get("/ogc/collections/incidents/queryables").json()["properties"]
        assert "closed" in q["status"]["enum"] and "closed = 已结案" in q["status"]["description"]
    with _app_as(demo_url, planner) as c:  # withheld from planners: as if no such field
        r = items(c, "incidents", limit=1, reporter_phone="13800001234")
        assert r.status_code == 422 and "unknown query parameter" in r.json()["detail"]
        assert "reporter_phone" not in r.json()["detail"].split("queryables of")[1]
    with _app_as(demo_url, command) as c:  # masked for the command centre without unmask
        r = items(c, "incidents", limit=1, reporter_phone="13800001234")
        assert r.status_code == 422 and "personal field" in r.json()["detail"]


# -- OWSLib against a real HTTP server ---------------------------------------------------


@pytest.fixture(scope="module")
def server_url(demo_url: str) -> Iterator[str]:
    """The app served by uvicorn in a thread (OWSLib speaks real HTTP)."""
    with serve_in_thread(make_settings(demo_url)) as url:
        yield url + "/ogc"


def test_owslib_lists_collections_and_pages_incidents(server_url: str,
                                                      demo_engine: Engine) -> None:
    from owslib.ogcapi.features import Features

    w = Features(server_url)
    assert set(w.feature_collections()) == COLLECTIONS
    assert "conf/core" in " ".join(w.conformance()["conformsTo"])
    bbox = [111.10, 38.44, 111.16, 38.48]
    cql = "status = 'closed' AND category_code <> 'nothing'"
    expected = scalar(demo_engine, "SELECT count(*) FROM incident WHERE ST_Intersects(geom, "
                      "ST_MakeEnvelope(111.10, 38.44, 111.16, 38.48, 4490)) "
                      "AND status = 'closed'")
    seen: list[str] = []
    offset = 0
    while True:
        page = w.collection_items("incidents", bbox=bbox, filter=cql, limit=1000, offset=offset)
        assert page["numberMatched"] == expected
        seen += [f["id"] for f in page["features"]]
        if not any(link["rel"] == "next" for link in page["links"]):
            break
        offset += 1000
    assert len(seen) == len(set(seen)) == expected > 1000
    one = w.collection_item("cells", w.collection_items("cells", limit=1)["features"][0]["id"])
    assert one["type"] == "Feature"


def test_gdal_ogr_oapif_driver_reads_the_service(server_url: str, demo_engine: Engine) -> None:
    """A second real client: GDAL/OGR's OGC API - Features driver (what ogr2ogr and many desktop
    tools use), through pyogrio, in its own process (GDAL holds the GIL the server thread of
    this process needs): every active cell, paged by the driver, and a bbox."""
    script = f"""
import json, pyogrio
src = "OAPIF:{server_url}"
assert "OAPIF" in pyogrio.list_drivers(), "pyogrio's GDAL has no OAPIF driver"
layers = sorted(name for name, _ in pyogrio.list_layers(src))
cells = pyogrio.read_dataframe(src, layer="cells")
part = pyogrio.read_dataframe(src, layer="cells", bbox=(111.10, 38.44, 111.16, 38.48))
print(json.dumps({{"layers": layers, "n": len(cells), "valid": bool(cells.geometry.is_valid.all()),
                  "has_code": "code" in cells.columns, "crs": str(cells.crs),
                  "part": len(part)}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    n = scalar(demo_engine, "SELECT count(*) FROM grid_cell c JOIN boundary_set b "
               "ON b.id = c.boundary_set_id AND b.is_active")
    assert set(got["layers"]) == COLLECTIONS
    assert got["n"] == n and got["valid"] and got["has_code"] and got["crs"] != "None"
    assert 0 < got["part"] < n
