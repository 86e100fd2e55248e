"""Tests for geo.crs: GCJ-02 / BD-09 (china), CGCS2000 transforms, CRS names, metres.

No database needed. Published reference pairs come from the test suites of two
widely used open-source implementations of the same public formulas:

* googollee/eviltransform, ``python/test.py`` and ``go/transform_test.go``
  (https://github.com/googollee/eviltransform): WGS84 -> GCJ-02 for Shanghai,
  Shenzhen and Beijing, given as (lat, lng) there and reordered to (lon, lat) here.
* wandergis/coordtransform, ``test/app.js`` (https://github.com/wandergis/coordtransform):
  the documented results for the input (116.404, 39.915) of wgs84togcj02,
  gcj02towgs84 (one-step approximate inverse), gcj02tobd09 and bd09togcj02
  (closed-form approximate inverse).

(eviltransform's BD-09 pairs, ``TESTS_bd``, are not used: they disagree with eviltransform's
own formula by 5-35 m, so they were evidently not produced by it.)
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from geo.crs.china import (
    bd09_to_gcj02,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    wgs84_to_gcj02,
)
from geo.crs.metres import metres_to_degrees
from geo.crs.names import BD09, WGS84, UnknownCRSError, is_geographic, normalize_crs
from geo.crs.transforms import from_cgcs2000, to_cgcs2000, transform_geometry, transform_xy
from tests.conftest import REPO_ROOT

GEOD = Geod(ellps="WGS84")
REPO = REPO_ROOT


def dist_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance in metres."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def pt(xy: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """One converted point (two 0-d float64 arrays) as a pair of floats."""
    x, y = xy
    assert x.shape == () and y.shape == () and x.dtype == y.dtype == np.float64
    return float(x), float(y)


def wgs84_to_bd09(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 -> BD-09, as the transforms module composes it."""
    return transform_xy(lon, lat, WGS84, BD09)


def bd09_to_wgs84(lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 -> WGS84, as the transforms module composes it."""
    return transform_xy(lon, lat, BD09, WGS84)


def max_dist_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> float:
    """Largest geodesic distance in metres between paired points."""
    return float(np.max(GEOD.inv(lon1, lat1, lon2, lat2)[2]))


# (wgs_lon, wgs_lat, gcj_lon, gcj_lat)
GCJ_REFERENCE = [
    # googollee/eviltransform python/test.py TESTS: shanghai, shenzhen, beijing
    pytest.param(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, id="shanghai"),
    pytest.param(113.912316, 22.543847, 113.9171764808363, 22.540796131694766, id="shenzhen"),
    pytest.param(116.377817, 39.911954, 116.38404722455657, 39.91334545536069, id="beijing"),
    # wandergis/coordtransform test/app.js: wgs84togcj02(116.404, 39.915)
    pytest.param(116.404, 39.915, 116.41024449916938, 39.91640428150164, id="wandergis"),
]


def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """Regular grid plus random points covering mainland China."""
    lon, lat = np.meshgrid(np.linspace(73.5, 135.0, 63), np.linspace(18.2, 53.5, 36))
    rng = np.random.default_rng(20240601)
    rlon = rng.uniform(73.5, 135.0, 5000)
    rlat = rng.uniform(18.2, 53.5, 5000)
    return np.concatenate([lon.ravel(), rlon]), np.concatenate([lat.ravel(), rlat])


# --------------------------------------------------------------------------- GCJ-02


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), GCJ_REFERENCE)
def test_wgs84_to_gcj02_matches_published(wlon: float, wlat: float, glon: float, glat: float):
    lon, lat = pt(wgs84_to_gcj02(wlon, wlat))
    assert dist_m(lon, lat, glon, glat) < 1.0
    # In fact the formula is the same, so agreement is to floating-point precision.
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), GCJ_REFERENCE)
def test_gcj02_to_wgs84_recovers_published_wgs(wlon: float, wlat: float, glon: float, glat: float):
    lon, lat = pt(gcj02_to_wgs84(glon, glat))
    # Exact inverse: back to the published WGS84 point within a centimetre.
    assert dist_m(lon, lat, wlon, wlat) < 0.01


def test_gcj02_to_wgs84_close_to_published_one_step_inverse():
    # wandergis/coordtransform test/app.js: gcj02towgs84(116.404, 39.915) with the crude
    # one-step inverse. Ours is the exact inverse, so agreement is only to ~0.1 m here.
    lon, lat = pt(gcj02_to_wgs84(116.404, 39.915))
    assert dist_m(lon, lat, 116.39775550083061, 39.91359571849836) < 1.0
    # ... and ours is the better one: the forward formula reproduces the input.
    flon, flat = pt(wgs84_to_gcj02(lon, lat))
    assert dist_m(flon, flat, 116.404, 39.915) < 1e-4
    clon, clat = pt(wgs84_to_gcj02(116.39775550083061, 39.91359571849836))
    assert dist_m(clon, clat, 116.404, 39.915) > 0.01


def test_gcj02_offset_is_a_few_hundred_metres():
    lon, lat = 111.0, 38.5  # Xing County, Shanxi
    glon, glat = pt(wgs84_to_gcj02(lon, lat))
    assert 100.0 < dist_m(lon, lat, glon, glat) < 1000.0


def test_gcj02_round_trip_below_1cm_across_china():
    lon, lat = china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert max_dist_m(lon, lat, wlon, wlat) < 0.01
    # and the other way round: treat the grid as GCJ-02 input
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    assert max_dist_m(lon, lat, glon, glat) < 0.01


def test_scalar_round_trip_below_1cm():
    for lon, lat in [(111.0, 38.5), (87.6, 43.8), (126.6, 45.75), (110.3, 20.0), (91.1, 29.65)]:
        wlon, wlat = pt(gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)))
        assert dist_m(lon, lat, wlon, wlat) < 0.01


def test_scalar_input_agrees_with_arrays():
    lon, lat = china_grid()
    lon, lat = lon[::97], lat[::97]
    funcs = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09,
             bd09_to_wgs84]
    for func in funcs:
        ax, ay = func(lon, lat)
        assert ax.dtype == np.float64 and ax.shape == lon.shape
        for i in range(lon.size):
            sx, sy = pt(func(float(lon[i]), float(lat[i])))  # 0-d float64 arrays
            assert sx == pytest.approx(ax[i], abs=1e-12)
            assert sy == pytest.approx(ay[i], abs=1e-12)


def test_array_functions_do_not_modify_input_and_accept_lists_and_2d():
    lon = np.array([[111.0, 112.0], [113.0, 114.0]])
    lat = np.array([[38.5, 38.0], [37.0, 36.0]])
    before = lon.copy(), lat.copy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon.shape == (2, 2)
    np.testing.assert_array_equal(lon, before[0])
    np.testing.assert_array_equal(lat, before[1])
    llon, llat = gcj02_to_wgs84(list(glon.ravel()), list(glat.ravel()))
    np.testing.assert_allclose(llon, lon.ravel(), atol=1e-9)
    np.testing.assert_allclose(llat, lat.ravel(), atol=1e-9)


def test_nan_propagates():
    lon, lat = gcj02_to_wgs84(np.array([np.nan, 111.0]), np.array([38.5, 38.5]))
    assert math.isnan(lon[0])
    assert not math.isnan(lon[1])


# --------------------------------------------------------------------------- out of China


OUTSIDE = [
    (-0.1276, 51.5072),  # London
    (-74.006, 40.7128),  # New York
    (139.6917, 35.6895),  # Tokyo (east of 137.8347)
    (37.6173, 55.7558),  # Moscow (west of 72.004)
    (151.2093, -33.8688),  # Sydney
    (100.0, 0.5),  # south of 0.8293
    (120.0, 56.0),  # north of 55.8271
]


@pytest.mark.parametrize(("lon", "lat"), OUTSIDE)
def test_out_of_china_is_identity(lon: float, lat: float):
    assert bool(out_of_china(lon, lat))
    assert pt(wgs84_to_gcj02(lon, lat)) == (lon, lat)
    assert pt(gcj02_to_wgs84(lon, lat)) == (lon, lat)


def test_out_of_china_identity_in_mixed_arrays():
    lon = np.array([p[0] for p in OUTSIDE] + [111.0])
    lat = np.array([p[1] for p in OUTSIDE] + [38.5])
    glon, glat = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(glon[:-1], lon[:-1])
    np.testing.assert_array_equal(glat[:-1], lat[:-1])
    assert glon[-1] != lon[-1]
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(wlon[:-1], lon[:-1])
    np.testing.assert_array_equal(wlat[:-1], lat[:-1])


def test_out_of_china_rectangle():
    assert not out_of_china(111.0, 38.5)
    assert not out_of_china(72.004, 0.8293)
    assert out_of_china(72.003, 30.0)
    np.testing.assert_array_equal(out_of_china([111.0, 72.003, np.nan], [38.5, 30.0, 38.5]),
                                  [False, True, True])


# --------------------------------------------------------------------------- BD-09


def test_gcj02_to_bd09_matches_published():
    # wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915)
    lon, lat = pt(gcj02_to_bd09(116.404, 39.915))
    assert lon == pytest.approx(116.41036949371029, abs=1e-9)
    assert lat == pytest.approx(39.92133699351021, abs=1e-9)


def test_bd09_to_gcj02_matches_published():
    # wandergis/coordtransform test/app.js: bd09togcj02(116.404, 39.915). That is the
    # closed-form approximate inverse; ours refines it, so they agree to ~5 cm.
    lon, lat = pt(bd09_to_gcj02(116.404, 39.915))
    assert dist_m(lon, lat, 116.39762729119315, 39.90865673957631) < 1.0


def test_bd09_round_trips_below_1cm():
    lon, lat = china_grid()
    blon, blat = gcj02_to_bd09(lon, lat)
    glon, glat = bd09_to_gcj02(blon, blat)
    assert max_dist_m(lon, lat, glon, glat) < 0.01
    blon, blat = wgs84_to_bd09(lon, lat)
    wlon, wlat = bd09_to_wgs84(blon, blat)
    assert max_dist_m(lon, lat, wlon, wlat) < 0.01
    # BD09 -> WGS84 -> BD09
    wlon, wlat = bd09_to_wgs84(lon, lat)
    blon, blat = wgs84_to_bd09(wlon, wlat)
    assert max_dist_m(lon, lat, blon, blat) < 0.01


def test_bd09_chain_equals_composition():
    lon, lat = 111.0, 38.5
    composed = pt(gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert pt(wgs84_to_bd09(lon, lat)) == pytest.approx(composed)
    composed = pt(gcj02_to_wgs84(*bd09_to_gcj02(lon, lat)))
    assert pt(bd09_to_wgs84(lon, lat)) == pytest.approx(composed)


# --------------------------------------------------------------------------- third-party


def test_cross_check_coordtransform_package_if_installed():
    """PyPI ``coordTransform`` (pkufool), same public formula: forward must agree exactly.

    That package uses a smaller out-of-China rectangle (lon 73.66..135.05, lat
    3.86..53.55), so only points inside it are compared.
    """
    ct = pytest.importorskip("coordTransform")
    lon, lat = china_grid()
    keep = (lon > 73.7) & (lon < 135.0) & (lat > 3.9) & (lat < 53.5)
    for x, y in zip(lon[keep][::50], lat[keep][::50], strict=True):
        ref = ct.wgs84_to_gcj02(float(x), float(y))
        ours = pt(wgs84_to_gcj02(float(x), float(y)))
        assert ours == pytest.approx(tuple(ref), abs=1e-9)
        ref_bd = ct.gcj02_to_bd09(float(x), float(y))
        assert pt(gcj02_to_bd09(float(x), float(y))) == pytest.approx(tuple(ref_bd), abs=1e-9)


def test_cross_check_eviltransform_package_if_installed():
    """PyPI ``eviltransform`` (uses a = 6378137 m, so ~1 cm apart); its exact inverse
    stops at 1e-6 degrees, hence the 0.3 m tolerance on the inverse."""
    et = pytest.importorskip("eviltransform")
    lon, lat = china_grid()
    for x, y in zip(lon[::50], lat[::50], strict=True):
        glat, glon = et.wgs2gcj(float(y), float(x))
        olon, olat = pt(wgs84_to_gcj02(float(x), float(y)))
        assert dist_m(olon, olat, glon, glat) < 0.05
        wlat, wlon = et.gcj2wgs_exact(float(y), float(x))
        olon, olat = pt(gcj02_to_wgs84(float(x), float(y)))
        assert dist_m(olon, olat, wlon, wlat) < 0.3


# --------------------------------------------------------------------------- CRS names


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EPSG:4490", "EPSG:4490"),
        ("4490", "EPSG:4490"),
        (4490, "EPSG:4490"),
        (np.int64(4490), "EPSG:4490"),
        ("epsg:4326", "EPSG:4326"),
        (" EPSG:4546 ", "EPSG:4546"),
        ("CGCS2000", "EPSG:4490"),
        ("cgcs2000", "EPSG:4490"),
        ("WGS84", "EPSG:4326"),
        ("WGS 84", "EPSG:4326"),
        ("GCJ02", "GCJ02"),
        ("GCJ-02", "GCJ02"),
        ("gcj02", "GCJ02"),
        ("BD09", "BD09"),
        ("BD-09", "BD09"),
        ("bd09", "BD09"),
        ("urn:ogc:def:crs:EPSG::4490", "EPSG:4490"),
        ("urn:ogc:def:crs:EPSG:9.9.1:4546", "EPSG:4546"),
        ("http://www.opengis.net/def/crs/EPSG/0/4490", "EPSG:4490"),
        ("https://www.opengis.net/def/crs/EPSG/0/3857", "EPSG:3857"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "EPSG:4326"),
        ("OGC:CRS84", "EPSG:4326"),
        ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
        (None, "EPSG:4490"),
    ],
)
def test_normalize_crs_accepts(value: object, expected: str):
    assert normalize_crs(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [
        "EPSG:999999",
        "999999",
        999999,
        0,
        -4490,
        True,
        "",
        "   ",
        "GCJ03",
        "not a crs",
        "urn:ogc:def:crs:EPSG::12345678",
        "http://www.opengis.net/def/crs/EPSG/0/99999999",
        4.49,
    ],
)
def test_normalize_crs_refuses(value: object):
    with pytest.raises(UnknownCRSError) as info:
        normalize_crs(value)  # type: ignore[arg-type]
    message = str(info.value)
    assert repr(value) in message
    assert "无法识别的坐标参考系" in message
    assert "Unknown coordinate reference system" in message
    assert message.index("无法识别") < message.index("Unknown")
    assert "EPSG:4490" in message and "GCJ02" in message and "BD09" in message
    assert isinstance(info.value, ValueError)


def test_is_geographic():
    assert is_geographic("EPSG:4490")
    assert is_geographic("4326")
    assert is_geographic("GCJ02")
    assert is_geographic("BD-09")
    assert not is_geographic("EPSG:4546")
    assert not is_geographic("EPSG:3857")


# --------------------------------------------------------------------------- CRS transforms


def test_epsg_4546_published_figure():
    # CGCS2000 / 3-degree Gauss-Kruger CM 111E: the central meridian maps to 500 000 m.
    x, y = from_cgcs2000(111.0, 38.5, "EPSG:4546")
    assert isinstance(x, np.ndarray) and x.dtype == np.float64
    assert float(x) == pytest.approx(500000.0, abs=0.005)
    assert float(y) == pytest.approx(4262998.63, abs=0.005)
    lon, lat = to_cgcs2000(500000.0, 4262998.63, 4546)
    assert float(lon) == pytest.approx(111.0, abs=1e-9)
    assert float(lat) == pytest.approx(38.5, abs=1e-7)


def test_projected_round_trip_arrays():
    lon = np.linspace(110.5, 111.5, 11)
    lat = np.linspace(38.0, 38.8, 11)
    x, y = from_cgcs2000(lon, lat, "urn:ogc:def:crs:EPSG::4546")
    assert x.shape == lon.shape
    blon, blat = to_cgcs2000(x, y, "EPSG:4546")
    np.testing.assert_allclose(blon, lon, atol=1e-9)
    np.testing.assert_allclose(blat, lat, atol=1e-9)


def test_to_cgcs2000_from_web_map_crs():
    lon, lat = 111.0, 38.5
    glon, glat = pt(wgs84_to_gcj02(lon, lat))
    x, y = to_cgcs2000(glon, glat, "GCJ-02")
    assert dist_m(float(x), float(y), lon, lat) < 0.01
    blon, blat = pt(wgs84_to_bd09(lon, lat))
    x, y = to_cgcs2000([blon], [blat], "BD09")
    assert x.shape == (1,)
    assert dist_m(float(x[0]), float(y[0]), lon, lat) < 0.01
    x, y = from_cgcs2000(lon, lat, "GCJ02")
    assert (float(x), float(y)) == pytest.approx((glon, glat), abs=1e-12)
    x, y = from_cgcs2000(lon, lat, "BD09")
    assert (float(x), float(y)) == pytest.approx((blon, blat), abs=1e-12)


def test_wgs84_is_cgcs2000():
    x, y = to_cgcs2000([111.0, 112.0], [38.5, 39.0], "WGS84")
    np.testing.assert_array_equal(x, [111.0, 112.0])
    np.testing.assert_array_equal(y, [38.5, 39.0])
    x, y = from_cgcs2000(111.0, 38.5, "http://www.opengis.net/def/crs/OGC/1.3/CRS84")
    assert (float(x), float(y)) == (111.0, 38.5)


def test_transform_xy_gcj02_to_projected():
    glon, glat = wgs84_to_gcj02(111.0, 38.5)
    x, y = transform_xy(glon, glat, "GCJ02", 4546)
    assert float(x) == pytest.approx(500000.0, abs=0.01)
    assert float(y) == pytest.approx(4262998.63, abs=0.01)
    # and a projected CRS straight to BD-09 and back
    bx, by = transform_xy(x, y, "EPSG:4546", "BD09")
    x2, y2 = transform_xy(bx, by, "BD09", "EPSG:4546")
    assert float(x2) == pytest.approx(float(x), abs=0.01)
    assert float(y2) == pytest.approx(float(y), abs=0.01)


def test_transform_geometry_gcj02_to_cgcs2000():
    ring = [(110.6, 38.1), (111.4, 38.1), (111.4, 38.7), (110.6, 38.7), (110.6, 38.1)]
    poly = Polygon(ring, holes=[[(110.9, 38.3), (111.0, 38.3), (111.0, 38.4), (110.9, 38.3)]])
    out = transform_geometry(poly, "GCJ02", "EPSG:4490")
    assert out.geom_type == "Polygon"
    assert len(out.interiors) == 1
    coords = np.asarray(out.exterior.coords)
    elon, elat = gcj02_to_wgs84(np.asarray(ring)[:, 0], np.asarray(ring)[:, 1])
    np.testing.assert_allclose(coords[:, 0], elon, atol=1e-12)
    np.testing.assert_allclose(coords[:, 1], elat, atol=1e-12)
    back = transform_geometry(out, 4490, "gcj-02")
    np.testing.assert_allclose(np.asarray(back.exterior.coords), ring, atol=1e-9)


def test_transform_geometry_projected_and_multipart():
    mp = MultiPolygon(
        [shapely.box(110.6, 38.1, 110.9, 38.4), shapely.box(111.0, 38.4, 111.3, 38.7)]
    )
    proj = transform_geometry(mp, "EPSG:4490", "EPSG:4546")
    assert proj.geom_type == "MultiPolygon"
    assert 1e9 < proj.area < 2e9  # two ~26 km x 33 km boxes
    back = transform_geometry(proj, "EPSG:4546", "CGCS2000")
    assert back.equals_exact(mp, tolerance=1e-8)


def test_transform_geometry_keeps_z_and_same_crs_shortcut():
    p = Point(111.0, 38.5, 1234.5)
    out = transform_geometry(p, "EPSG:4490", "EPSG:4546")
    assert out.has_z
    assert out.z == 1234.5
    assert out.x == pytest.approx(500000.0, abs=0.005)
    flat = transform_geometry(Point(111.0, 38.5), "WGS84", "BD09")
    assert not flat.has_z
    assert transform_geometry(p, "4490", "EPSG:4490") is p


def test_transform_geometry_array_of_geometries():
    geoms = np.array([Point(111.0, 38.5), Point(111.0, 38.5, 7.0), None], dtype=object)
    out = transform_geometry(geoms, "EPSG:4490", "EPSG:4546")
    assert not out[0].has_z and out[1].has_z and out[2] is None
    assert out[1].z == 7.0
    assert out[0].x == pytest.approx(500000.0, abs=0.005)


def test_transform_geometry_unknown_crs():
    with pytest.raises(UnknownCRSError):
        transform_geometry(Point(0, 0), "EPSG:4490", "mars")


# --------------------------------------------------------------------------- boundary file


def test_xing_county_boundary_file_if_present():
    path = REPO / "data" / "boundaries" / "xing_county_141123.geojson"
    if not path.exists():
        pytest.skip("boundary not generated yet (scripts/extract_boundary.py)")
    fc = json.loads(path.read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection"
    assert "4490" in fc["crs"]["properties"]["name"]
    (feature,) = fc["features"]
    props = feature["properties"]
    assert props["code"] == "141123" and props["name"] == "兴县" and props["crs"] == "EPSG:4490"
    geom = shape(feature["geometry"])
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    minx, miny, maxx, maxy = geom.bounds
    assert 110.5 < minx < 110.6 and 111.4 < maxx < 111.5
    assert 38.05 < miny < 38.15 and 38.7 < maxy < 38.8
    area_km2 = transform_geometry(geom, "EPSG:4490", "EPSG:4546").area / 1e6
    assert 3100 < area_km2 < 3230  # official figure: 3,168 km2


# --------------------------------------------------------------------------- metres


@pytest.mark.parametrize("lat", [0.0, 20.0, 38.46, 45.75, 53.5, -38.46, 88.0])
def test_metres_to_degrees_spans_at_least_the_distance(lat: float):
    span = metres_to_degrees(1000.0, lat)
    # every direction, at the latitude given and up to half a degree poleward of it
    for la in (lat, math.copysign(min(abs(lat) + 0.5, 89.0), lat or 1.0)):
        east = dist_m(111.0, la, 111.0 + span, la)
        north = dist_m(111.0, la - span / 2, 111.0, la + span / 2)
        assert east >= 1000.0 and north >= 1000.0, (la, east, north)
    # and not wildly more east-west at Chinese latitudes (5% margin plus the half-degree pad)
    if abs(lat) <= 54.0:
        assert dist_m(111.0, lat, 111.0 + span, lat) < 1000.0 * 1.15


def test_metres_to_degrees_keeps_the_old_search_margin():
    # the batch/single lookup margin before the one rule, bit for bit
    for m, lat in [(10.0, 38.46), (0.0, 0.0), (500.0, 53.5)]:
        old = m / (111_000.0 * math.cos(math.radians(min(lat + 0.5, 89.0)))) * 1.05 + 1e-9
        assert metres_to_degrees(m, lat) == old
    assert metres_to_degrees(10.0, -38.46) == metres_to_degrees(10.0, 38.46)


def _interpolate(grid: dict, lon: float, lat: float) -> tuple[float, float]:
    """What the phone app does with the grid (mobile/app.js toMap): bilinear, clamped."""
    fx = min(max((lon - grid["lon0"]) / grid["step"], 0), grid["nx"] - 1)
    fy = min(max((lat - grid["lat0"]) / grid["step"], 0), grid["ny"] - 1)
    i, j = min(int(fx), grid["nx"] - 2), min(int(fy), grid["ny"] - 2)
    tx, ty = fx - i, fy - j

    def at(t: list[list[float]]) -> float:
        return ((1 - tx) * (1 - ty) * t[j][i] + tx * (1 - ty) * t[j][i + 1]
                + (1 - tx) * ty * t[j + 1][i] + tx * ty * t[j + 1][i + 1])

    return lon + at(grid["dlon"]), lat + at(grid["dlat"])


def test_offset_grid_interpolates_the_formula() -> None:
    """The GCJ-02 offset grid a phone interpolates (instead of carrying the formula) places a
    GPS point within 0.1 m of the formula inside the area asked for and its margin, and
    within 25 m some 5 km beyond the margin (clamped)."""
    from geo.crs.transforms import offset_grid, transform_xy

    geod = Geod(ellps="WGS84")
    bounds = (111.11, 38.44, 111.16, 38.48)  # Xing County's seat
    crs = "GCJ02"
    grid = offset_grid(bounds, crs)
    assert grid is not None and grid["crs"] == crs and grid["nx"] * grid["ny"] < 400
    rng = np.random.default_rng(17)
    for far, limit in ((0.05, 0.1), (0.1, 25.0)):
        lons = rng.uniform(bounds[0] - far, bounds[2] + far, 300)
        lats = rng.uniform(bounds[1] - far, bounds[3] + far, 300)
        fx, fy = transform_xy(lons, lats, "EPSG:4326", crs)
        worst = 0.0
        for k in range(lons.size):
            x, y = _interpolate(grid, float(lons[k]), float(lats[k]))
            worst = max(worst, geod.inv(x, y, float(fx[k]), float(fy[k]))[2])
        assert worst < limit, (far, worst)
    # a wrong grid (the offset left out) is hundreds of metres off: the check has teeth
    assert geod.inv(bounds[0], bounds[1], *(float(v) for v in transform_xy(
        bounds[0], bounds[1], "EPSG:4326", crs)))[2] > 300


def test_offset_grid_only_for_offset_crs() -> None:
    from geo.crs.transforms import offset_grid

    assert offset_grid((111.1, 38.4, 111.2, 38.5), "EPSG:4326") is None
    assert offset_grid((111.1, 38.4, 111.2, 38.5), "EPSG:4490") is None
    assert offset_grid((111.1, 38.4, 111.2, 38.5), "BD09") is None
