"""Hostile and broken input: property-based tests (hypothesis) of CRS parsing, geometry
parsing and the /cells/at query parser. Nothing may escape but the documented errors, and the
HTTP API never answers 5xx."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import shapely
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.crs.names import UnknownCRSError, normalize_crs
from geo.crs.transforms import transform_geometry
from geo.errors import InvalidInput, TooLarge
from geo.io.geometry import parse_geometry

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- CRS parsing ------------------------------------------------------------------------

CRS_WORDS = ["EPSG", "epsg", ":", "::", "4490", "4326", "4546", "0", "-1", "999999", "urn",
             "ogc", "def", "crs", "GCJ", "-02", "BD", "09", "+proj=", "longlat", "utm",
             "+zone=", "50", " ", "http://www.opengis.net/def/crs/EPSG/0/", "CRS84", "WGS",
             "84", "CGCS", "2000", "\x00", "中国", "{", "}", "[", "]", '"', "PROJCS", "GEOGCS"]

crs_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.lists(st.sampled_from(CRS_WORDS), max_size=6).map("".join),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=crs_values)
@example(value="EPSG:0")
@example(value="epsg:99999999999999999999")
@example(value="+proj=longlat +datum=WGS84")
@example(value="urn:ogc:def:crs:EPSG::")
@example(value="\x00")
def test_normalize_crs_raises_only_unknown_crs(value: Any) -> None:
    try:
        out = normalize_crs(value)
    except UnknownCRSError as exc:
        assert "/" in str(exc)  # Chinese / English
        return
    assert out in ("GCJ02", "BD09") or (out.startswith("EPSG:") and out[5:].isdigit())
    assert normalize_crs(out) == out  # canonical names are fixed points


# --- geometry parsing -------------------------------------------------------------------

coord = st.one_of(
    st.floats(min_value=-200, max_value=200, allow_nan=False),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([111.13, 38.46, 0.0, 90.0, -180.0, 1e308]),
)
position = st.lists(coord, min_size=0, max_size=4)
ring = st.lists(position, min_size=0, max_size=7)
geojson_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["Point", "MultiPoint", "LineString", "Polygon", "MultiPolygon",
                              "GeometryCollection", "Feature", "polygon", ""]),
     "coordinates": st.one_of(position, ring, st.lists(ring, max_size=3),
                              st.lists(st.lists(ring, max_size=2), max_size=2))},
)
json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "coordinates", "geometry", "x"]), inner, max_size=3),
    max_leaves=20,
)


def _closed_ring(points: list[tuple[float, float]]) -> list[list[float]]:
    return [list(p) for p in points] + [list(points[0])] if points else []


xing_point = st.tuples(st.floats(110.5, 111.5), st.floats(38.0, 38.8))
random_polygons = st.lists(xing_point, min_size=0, max_size=9).map(
    lambda pts: {"type": "Polygon", "coordinates": [_closed_ring(pts)]}
)


def _assert_clean(obj: Any, crs: str = "EPSG:4490") -> None:
    try:
        parsed = parse_geometry(obj, crs=crs)
    except (InvalidInput, TooLarge) as exc:
        assert " / " in exc.message
        return
    g = parsed.geom
    assert not g.is_empty and g.is_valid
    minx, miny, maxx, maxy = g.bounds
    assert -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    assert all(math.isfinite(v) for v in g.bounds)


@FAST
@given(obj=st.one_of(geojson_like, json_values, random_polygons),
       crs=st.sampled_from(["EPSG:4490", "GCJ02", "BD09", "EPSG:4546"]))
def test_parse_geometry_returns_valid_or_refuses(obj: Any, crs: str) -> None:
    _assert_clean(obj, crs)


@FAST
@given(pts=st.lists(xing_point, min_size=3, max_size=9))
def test_random_polygons_are_repaired_to_valid_polygons(pts: list[tuple[float, float]]) -> None:
    poly = shapely.Polygon(pts)
    assume(poly.area > 1e-9)
    try:
        parsed = parse_geometry({"type": "Polygon", "coordinates": [_closed_ring(pts)]})
    except InvalidInput:
        return  # e.g. a polygon degenerate after repair
    assert parsed.geom.geom_type in ("Polygon", "MultiPolygon") and parsed.geom.is_valid
    assert parsed.repaired == (not poly.is_valid)


BOWTIE = {"type": "Polygon", "coordinates": [[[111.0, 38.0], [111.1, 38.1], [111.1, 38.0],
                                              [111.0, 38.1], [111.0, 38.0]]]}
THREE_POINT_RING = {"type": "Polygon", "coordinates": [[[111.0, 38.0], [111.1, 38.1],
                                                        [111.0, 38.0]]]}
SWAPPED = {"type": "Point", "coordinates": [38.46, 111.13]}


def test_real_world_broken_geometries() -> None:
    fixed = parse_geometry(BOWTIE)
    assert fixed.repaired and "Self-intersection" in fixed.notes[0]
    assert fixed.geom.geom_type == "MultiPolygon" and len(fixed.geom.geoms) == 2  # type: ignore[attr-defined]
    assert fixed.geom.area == pytest.approx(0.005, rel=1e-6)
    with pytest.raises(InvalidInput, match="4"):
        parse_geometry(THREE_POINT_RING)
    with pytest.raises(InvalidInput, match="swapped"):
        parse_geometry(SWAPPED)
    with pytest.raises(InvalidInput, match="Self-intersection"):
        parse_geometry(BOWTIE, repair=False)
    with pytest.raises(InvalidInput, match="not accepted"):
        parse_geometry(BOWTIE, allowed=["Point"])
    with pytest.raises(InvalidInput, match="NaN"):
        parse_geometry({"type": "Point", "coordinates": [float("nan"), 38.0]})


def test_repaired_geometries_are_valid_in_postgis(demo_engine: Engine) -> None:
    """What the parser lets through, PostGIS accepts as valid too (same GEOS rules)."""
    with demo_engine.connect() as conn:
        for obj in (BOWTIE, {"type": "Polygon", "coordinates": [[[111, 38], [111.2, 38],
                    [111.2, 38.2], [111.1, 38.0], [111, 38.2], [111, 38]]]}):
            g = parse_geometry(obj).geom
            ok = conn.execute(text("SELECT ST_IsValid(ST_GeomFromText(:w, 4490))"),
                              {"w": g.wkt}).scalar()
            assert ok is True


@FAST
@given(x=st.floats(allow_nan=True, allow_infinity=True),
       y=st.floats(allow_nan=True, allow_infinity=True),
       dst=st.sampled_from(["GCJ02", "BD09", "EPSG:4546", "EPSG:3857", "EPSG:4326"]))
def test_transform_geometry_never_crashes_on_odd_numbers(x: float, y: float, dst: str) -> None:
    out = transform_geometry(shapely.Point(x, y), "EPSG:4490", dst)
    assert out.geom_type == "Point"


# --- /cells/at query parsing -------------------------------------------------------------

num_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "111.13", "38.46", "1e999", "-0", "0x10", "１１１", "nan", "inf",
                     "111,13", "38.46;DROP TABLE grid_cell", "null", "[]", "%00"]),
    st.text(max_size=8),
)
query_params = st.fixed_dictionaries(
    {},
    optional={
        "lon": num_text, "lat": num_text,
        "crs": st.one_of(st.sampled_from(["EPSG:4490", "GCJ02", "BD09", "EPSG:4546", "4326",
                                          "EPSG:0", "EPSG:3857", "'", ""]), st.text(max_size=12)),
        "region": st.one_of(st.sampled_from(["141123", "000000", "'; --", ""]),
                            st.text(max_size=8)),
        "at": st.one_of(st.dates().map(str), st.sampled_from(["2026-02-30", "yesterday", ""]),
                        st.text(max_size=10)),
        "tolerance_m": num_text,
    },
)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(params=query_params)
@example(params={"lon": "111.13", "lat": "38.46", "crs": "EPSG:4546"})
@example(params={"lon": "500000", "lat": "4262998", "crs": "EPSG:4546"})
@example(params={"lon": "1e308", "lat": "1e308", "crs": "EPSG:3857"})
@example(params={"lon": "111.13", "lat": "38.46", "at": "0001-01-01"})
@example(params={"lon": "111.13", "lat": "38.46", "crs": "BD09", "region": "\x00"})
def test_cells_at_never_answers_5xx(client: Any, params: dict[str, str]) -> None:
    r = client.get("/cells/at", params=params)
    assert r.status_code in (200, 404, 422), (params, r.status_code, r.text[:300])
    body = r.json()
    if r.status_code != 200:
        assert "Traceback" not in r.text and body["detail"]


# --- issue 15: 5xx that must be 4xx ------------------------------------------------------

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
MISMATCHED_FILTERS = [
    ("incidents", "code > 5", "code"),                          # number vs text
    ("incidents", "reported_at > 'notadate'", "notadate"),      # a date that is not a date
    ("incidents", "reported_at = 5", "reported_at"),
    ("incidents", "reported_at BETWEEN 'a' AND 'b'", "'a'"),
    ("incidents", "status BETWEEN 1 AND 'x'", "status"),        # BETWEEN with mixed types
    ("incidents", "code IN (1, 'a', 2.5)", "code"),             # IN of mixed types
    ("incidents", "code = TRUE", "code"),
    ("incidents", "code + 1 > 2", "code"),                      # arithmetic on text
    ("incidents", "rework_count LIKE '5%'", "LIKE"),            # LIKE on a number
    ("incidents", "rework_count = 'x'", "rework_count"),
    ("incidents", "S_INTERSECTS(code, POINT(111.1 38.4))", "code"),  # spatial on text
    ("incidents", "BBOX(code, 1, 2, 3, 4)", "code"),
    ("incidents", "T_AFTER(code, TIMESTAMP('2020-01-01T00:00:00Z'))", "code"),
    ("incidents", "geometry = 5", "spatial"),
    ("cells", "households = 'many'", "households"),
    ("cells", "lower(households) = 'x'", "households"),
    ("cells", "S_INTERSECTS(geometry, POINT(1e10 1e10))", "geometry"),
    ("cells", "S_INTERSECTS(geometry, BBOX(3, 2, 1, 0))", "bbox"),
    ("cells", "households > 1e999", "finite"),
    ("cameras", "installed_at > 'yesterday'", "yesterday"),
]


@pytest.mark.parametrize(("collection", "cql", "named"), MISMATCHED_FILTERS)
def test_mismatched_filter_is_a_422_naming_it(client: Any, collection: str, cql: str,
                                              named: str) -> None:
    r = client.get(f"/ogc/collections/{collection}/items", params={"filter": cql, "limit": 1})
    assert r.status_code == 422, (cql, r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert " / " in detail and named in detail, detail


@pytest.mark.parametrize(("collection", "cql", "matched"), [
    ("incidents", "reported_at >= '2026-10-01' AND reported_at < '2026-10-02'", True),
    ("incidents", "reported_at > TIMESTAMP('2030-01-01T00:00:00Z')", False),
    ("cells", "households BETWEEN 0 AND 1e6 AND area_m2 > 0.5", True),
    ("cells", "code IN ('141123100003001', '0')", True),
    ("cameras", "installed_at < DATE('2100-01-01')", True),
])
def test_well_typed_filters_still_work(client: Any, collection: str, cql: str,
                                       matched: bool) -> None:
    """A quoted ISO date against a date property is read as that date (CST without a zone)."""
    r = client.get(f"/ogc/collections/{collection}/items", params={"filter": cql, "limit": 1})
    assert r.status_code == 200, r.text[:300]
    assert (r.json()["numberMatched"] > 0) == matched


@pytest.mark.parametrize(("cql", "limit"), [
    (" OR ".join(f"code = 'SJ{i}'" for i in range(1500)), "4000"),        # 1,500 ORs, long
    (" OR ".join(f"code='{i}'" for i in range(150)), "100"),              # too many terms
    ("code = 'a' AND " * 3 + "(" * 30 + "code = 'x'" + ")" * 30, None),   # parentheses only
    ("".join(f"(code = '{i}' {'OR' if i % 2 else 'AND'} " for i in range(25))
     + "code = 'x'" + ")" * 25, "20"),                                     # deep nesting
    ("rework_count" + " + 1" * 40 + " > 2", "20"),                         # deep arithmetic
    ("code IN (" + ",".join(f"'{i}'" for i in range(600)) + ")", "500"),  # long IN list
])
def test_filter_limits_are_a_clear_422(client: Any, cql: str, limit: str | None) -> None:
    r = client.get("/ogc/collections/incidents/items", params={"filter": cql, "limit": 1})
    if limit is None:  # redundant parentheses add no depth
        assert r.status_code == 200, r.text[:300]
        return
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert limit in r.json()["detail"] and " / " in r.json()["detail"]


@pytest.mark.parametrize(("path", "params", "says"), [
    ("/cells/at", {"lon": "111", "lat": "38", "crs": "EPSG:3857"}, "look like degrees"),
    ("/cells/at", {"lon": "111.13", "lat": "38.46", "crs": "EPSG:4547"}, "look like degrees"),
    ("/cells/at", {"lon": "1e10", "lat": "1e10", "crs": "EPSG:3857"}, "outside what"),
    ("/cells/at", {"lon": "1e10", "lat": "5", "crs": "EPSG:3857"}, "outside what"),
    ("/cells/at", {"lon": "1e10", "lat": "1e10", "crs": "EPSG:4547"}, "outside what"),
    ("/cells/at", {"lon": "nan", "lat": "4262998", "crs": "EPSG:4546"}, "number"),
    ("/spatial/cameras/within", {"lon": "1e10", "lat": "1e10", "crs": "EPSG:3857",
                                 "distance_m": "100"}, "outside what"),
    ("/spatial/cameras/nearest", {"lon": "111", "lat": "38", "crs": "EPSG:3857"},
     "look like degrees"),
    ("/ogc/collections/cells/items", {"bbox": "1e10,1e10,2e10,2e10",
                                      "bbox-crs": EPSG + "3857"}, "outside what"),
    ("/ogc/collections/cells/items", {"bbox": "-1e10,-1e10,1e10,1e10",
                                      "bbox-crs": EPSG + "3857"}, "outside what"),
    ("/ogc/collections/cells/items", {"bbox": "110,38,112,39", "bbox-crs": EPSG + "3857"},
     "look like degrees"),
    ("/ogc/collections/cells/items", {"filter": "S_INTERSECTS(geometry, POINT(1e10 1e10))",
                                      "filter-crs": EPSG + "3857"}, "outside what"),
    ("/export/cells", {"bbox": "1e10,1e10,2e10,2e10", "crs": "EPSG:3857"}, "outside what"),
    ("/export/cells", {"bbox": "1e10,1e10,2e10,2e10", "crs": "EPSG:4547"}, "outside what"),
    ("/export/cells", {"bbox": "0,0,0,0"}, "zero width"),
    ("/ogc/collections/cells/items", {"bbox": "111,38,111,39"}, "zero width"),
    ("/ogc/collections/cells/items", {"bbox": "1e10,1e10,2e10,2e10"}, "outside what"),
])
def test_metric_coordinates_out_of_reach_are_a_422(client: Any, path: str,
                                                   params: dict[str, str], says: str) -> None:
    """1e10 m or degrees given to a metric CRS: a 422 saying so (was 500, or 404 "not in any
    cell" where the README promises a 422 about units)."""
    r = client.get(path, params=params)
    assert r.status_code == 422, (path, params, r.status_code, r.text[:300])
    assert says in r.json()["detail"] and " / " in r.json()["detail"]


def test_posted_geometry_in_metres_out_of_reach_is_a_422(client: Any) -> None:
    for coords, says in (([1e10, 1e10], "outside what"), ([111.13, 38.46], "look like degrees")):
        r = client.post("/spatial/cells/intersects", json={
            "geometry": {"type": "Point", "coordinates": coords}, "crs": "EPSG:3857"})
        assert r.status_code == 422 and says in r.json()["detail"], r.text[:300]


def test_metric_coordinates_that_fit_still_work(client: Any) -> None:
    r = client.get("/cells/at", params={"lon": "12371000", "lat": "4640000",
                                        "crs": "EPSG:3857"})
    assert r.status_code in (200, 404), r.text[:300]
    r = client.get("/cells/at", params={"lon": "500000", "lat": "4262998", "crs": "EPSG:4546"})
    assert r.status_code == 200, r.text[:300]


def test_batch_lookup_names_each_unusable_metric_point(client: Any) -> None:
    r = client.post("/cells/at", json={"crs": "EPSG:3857", "points": [
        [1e10, 1e10], [111.13, 38.46], [12371000, 4640000]]})
    assert r.status_code == 200, r.text[:300]
    rows = r.json()["results"] if "results" in r.json() else r.json()["features"]
    text_rows = json.dumps(rows, ensure_ascii=False)
    assert "outside what EPSG:3857" in text_rows and "look like degrees" in text_rows


@pytest.mark.parametrize("path", ["/static/vendor/x%00y.js", "/static/%00",
                                  "/static/maps/wangge.css%00.js"])
def test_nul_byte_in_static_path_is_a_4xx(client: Any, path: str) -> None:
    r = client.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
