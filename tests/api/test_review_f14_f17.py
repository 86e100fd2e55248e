"""Findings F14, F15 and F17 of the outside review, each reproduced as it was reported.

F14: a CRS that cannot hold a 2-D position (geocentric, vertical, compound, 3-D) was accepted
for output and gave silently wrong coordinates. F15: CQL2 temporal predicates in the standard
function form (``T_AFTER(reported_at, TIMESTAMP(...))``) were refused. F17: ``/static/vendor/``
served whole npm packages, their demo/example/spec HTML pages included.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from pyproj import CRS

from api.middleware import security
from geo.crs.names import UnknownCRSError, UnsupportedCRSError, normalize_crs
from geo.io.importer.crs_plan import plan_crs
from maps import assets

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
ITEMS = "/ogc/collections/{}/items"

# --- F14: only 2-D horizontal CRSs -----------------------------------------------------------

NOT_HORIZONTAL = {
    "EPSG:4978": "geocentric",  # WGS 84 X, Y, Z
    "EPSG:4479": "geocentric",  # CGCS2000 X, Y, Z
    "EPSG:5773": "vertical",  # EGM96 height
    "EPSG:9518": "compound",  # WGS 84 + EGM2008 height
    "EPSG:4979": "3-D",  # WGS 84 3-D
    "EPSG:4480": "3-D",  # CGCS2000 3-D
}


@pytest.mark.parametrize("name", sorted(NOT_HORIZONTAL))
def test_f14_the_one_crs_rule_refuses_what_holds_no_2d_position(name: str) -> None:
    code = name.split(":")[1]
    for form in (name, int(code), f"urn:ogc:def:crs:EPSG::{code}", EPSG + code):
        with pytest.raises(UnsupportedCRSError) as err:
            normalize_crs(form)
        msg = str(err.value)
        assert isinstance(err.value, UnknownCRSError)  # every caller's existing except holds
        assert NOT_HORIZONTAL[name] in msg and "二维" in msg and " / " in msg, msg
        assert "EPSG:4490" in msg and "EPSG:4326" in msg and "Gauss-Kruger" in msg, msg


@pytest.mark.parametrize("name", ["EPSG:4490", "EPSG:4326", "EPSG:4546", "EPSG:4513",
                                  "EPSG:3857", "EPSG:32649", "CGCS2000", "OGC:CRS84", "GCJ02",
                                  "BD09"])
def test_f14_2d_geographic_and_projected_crss_stay_accepted(name: str) -> None:
    assert normalize_crs(name)


def test_f14_a_file_declaring_a_3d_crs_is_read_in_its_horizontal_part() -> None:
    assert plan_crs(CRS.from_epsg(4979), None).name == "EPSG:4326"
    assert plan_crs(CRS.from_epsg(4480), None).name == "EPSG:4490"


@pytest.mark.parametrize(("url", "params", "field"), [
    (ITEMS.format("cameras"), {"limit": 1, "crs": "EPSG:4978"}, "crs"),
    (ITEMS.format("cameras"), {"limit": 1, "crs": EPSG + "5773"}, "crs"),
    (ITEMS.format("cameras"), {"limit": 1, "crs": EPSG + "9518"}, "crs"),
    (ITEMS.format("cameras"), {"limit": 1, "bbox": "111.0,38.3,111.3,38.6",
                               "bbox-crs": EPSG + "4978"}, "bbox-crs"),
    (ITEMS.format("cells"), {"limit": 1, "filter-crs": EPSG + "5773",
                             "filter": "S_INTERSECTS(geometry, POINT(111.13 38.46))"},
     "filter-crs"),
    ("/export/cameras", {"format": "csv", "crs": "EPSG:5773"}, "crs"),
    ("/export/cameras", {"format": "geojson", "crs": "EPSG:4978"}, "crs"),
    ("/cells/at", {"lon": 111.13, "lat": 38.46, "crs": "EPSG:4978"}, "crs"),
    ("/cells/at", {"lon": 111.13, "lat": 38.46, "crs": "EPSG:5773"}, "crs"),
])
def test_f14_every_way_in_refuses_a_crs_without_2d_positions(
        client: Any, url: str, params: dict[str, Any], field: str) -> None:
    r = client.get(url, params=params)
    assert r.status_code == 422, (url, params, r.status_code, r.text[:300])
    body = r.json()
    detail = body["detail"]
    assert "二维" in detail and "2-D" in detail and "EPSG:4490" in detail, detail
    assert field in str(body), body


@pytest.mark.parametrize(("url", "params"), [
    (ITEMS.format("cameras"), {"limit": 1, "crs": EPSG + "4546"}),
    (ITEMS.format("cameras"), {"limit": 1, "crs": "EPSG:3857"}),
    ("/export/cameras", {"format": "csv", "crs": "EPSG:4546"}),
])
def test_f14_projected_output_still_works(client: Any, url: str, params: dict[str, Any]
                                          ) -> None:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text[:300]


# --- F15: CQL2 temporal predicates in the standard function form ------------------------------

AFTER = "TIMESTAMP('2026-10-01T00:00:00Z')"
DURING = "INTERVAL('2026-09-01T00:00:00Z','2026-10-01T00:00:00Z')"
SAME = [  # (standard function form, pygeofilter's infix form)
    (f"T_AFTER(reported_at, {AFTER})", f"reported_at T_AFTER {AFTER}"),
    (f"t_before(reported_at, {AFTER})", f"reported_at T_BEFORE {AFTER}"),
    (f"T_DURING(reported_at, {DURING})", f"reported_at T_DURING {DURING}"),
    (f"T_AFTER(reported_at, {AFTER}) AND status = 'closed'",
     f"reported_at T_AFTER {AFTER} AND status = 'closed'"),
    (f"NOT T_BEFORE(reported_at, {AFTER}) AND S_INTERSECTS(geometry, "
     "POLYGON((110 38, 112 38, 112 39, 110 39, 110 38)))",
     f"reported_at >= {AFTER} AND S_INTERSECTS(geometry, BBOX(110, 38, 112, 39))"),
]


def _matched(client: Any, cql: str) -> int:
    r = client.get(ITEMS.format("incidents"), params={"filter": cql, "limit": 1,
                                                      "filter-lang": "cql2-text"})
    assert r.status_code == 200, (cql, r.text[:400])
    return int(r.json()["numberMatched"])


@pytest.mark.parametrize(("function_form", "infix_form"), SAME)
def test_f15_function_form_matches_as_the_infix_form(client: Any, function_form: str,
                                                     infix_form: str) -> None:
    n = _matched(client, function_form)
    assert n == _matched(client, infix_form)
    assert 0 < n < 20_000, n  # the demo has incidents on both sides of these instants


@pytest.mark.parametrize(("open_form", "bounded_form"), [
    ("T_DURING(reported_at, INTERVAL('..','2026-10-01T00:00:00Z'))",
     "reported_at <= TIMESTAMP('2026-10-01T00:00:00Z')"),
    ("T_DURING(reported_at, INTERVAL('2026-10-01T00:00:00Z','..'))",
     "reported_at >= TIMESTAMP('2026-10-01T00:00:00Z')"),
    ("T_INTERSECTS(reported_at, INTERVAL('..','..')) AND status = 'closed'",
     "status = 'closed'"),
])
def test_an_open_interval_end_is_no_bound(client: Any, open_form: str,
                                          bounded_form: str) -> None:
    """CQL2 writes an open end '..' (review: a parse error before)."""
    n = _matched(client, open_form)
    assert n == _matched(client, bounded_form) and 0 < n < 20_000, n


def test_f15_the_reported_filter_matches_the_reported_count(client: Any) -> None:
    # the review: infix T_AFTER 2026-10-01 -> 914 matched; the standard form now answers alike
    assert _matched(client, f"T_AFTER(reported_at, {AFTER})") == _matched(
        client, "reported_at > '2026-10-01T08:00:00+08:00'")


@pytest.mark.parametrize(("cql", "named"), [
    (f"T_AFTER(code, {AFTER})", "code"),  # a temporal predicate on text
    ("T_AFTER(reported_at, 5)", "reported_at"),  # an instant compared with a number
    (f"T_MEETS(reported_at, {AFTER})", "MEETS"),  # an operator Wangge does not read
    (" OR ".join(["T_AFTER(reported_at,DATE('2026-10-01'))"] * 70 + ["status='x'"] * 31),
     "100"),  # term limit
    ("".join(f"T_AFTER(reported_at, {AFTER}) {'AND' if i % 2 else 'OR'} (" for i in range(25))
     + f"T_AFTER(reported_at, {AFTER})" + ")" * 25, "20"),  # depth limit
    (f"T_AFTER(reported_at, {AFTER}) AND " + "x" * 4000, "4000"),  # length limit
])
def test_f15_function_form_keeps_the_limits_and_type_checks(client: Any, cql: str,
                                                            named: str) -> None:
    r = client.get(ITEMS.format("incidents"), params={"filter": cql, "limit": 1})
    assert r.status_code == 422, (cql[:200], r.status_code, r.text[:300])
    assert named in r.json()["detail"], r.text[:400]


def _export_rows(client: Any, where: str) -> int:
    r = client.get("/export/incidents", params={"format": "csv", "where": where})
    assert r.status_code == 200, (where, r.text[:400])
    return len(list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))))


def test_f15_export_where_reads_the_function_form_too(client: Any) -> None:
    n = _export_rows(client, f"T_AFTER(reported_at, {AFTER})")
    assert n == _export_rows(client, "reported_at > '2026-10-01T08:00:00+08:00'")
    assert n == _export_rows(client, "reported_at AFTER 2026-10-01T00:00:00Z")  # ECQL form
    assert n == _matched(client, f"T_AFTER(reported_at, {AFTER})")
    during = _export_rows(client, f"T_DURING(reported_at, {DURING})")
    assert during == _matched(client, f"T_DURING(reported_at, {DURING})") > 0
    r = client.get("/export/incidents", params={"format": "csv",
                                                 "where": f"T_AFTER(code, {AFTER})"})
    assert r.status_code == 422 and "code" in r.json()["detail"], r.text[:300]


# --- F17: /static/vendor serves what the pages load, nothing else -----------------------------

VENDOR_PAGES = [
    "leaflet.heat/demo/index.html",
    "leaflet.markercluster/example/geojson.html",
    "leaflet.markercluster/spec/index.html",
    "leaflet.vectorgrid/docs/vectorgrid-api-docs.html",
    "point-geometry/coverage/lcov-report/index.html",
    "swagger-ui-dist/index.html",
    "leaflet/README.md",
]


@pytest.mark.parametrize("rel", VENDOR_PAGES)
def test_f17_vendor_html_and_other_files_are_not_served(client: Any, rel: str) -> None:
    assert (assets.assets_dir() / rel).is_file(), f"{rel} not installed: the test proves nothing"
    r = client.get(f"/static/vendor/{rel}")
    assert r.status_code == 404, (rel, r.status_code, r.headers.get("content-type"))


@pytest.mark.parametrize("url", [
    assets.LEAFLET_JS[1], assets.LEAFLET_CSS[1], assets.HEAT_JS[0][1],
    assets.MARKERCLUSTER_JS[0][1], assets.VECTORGRID_JS[0][1], assets.SWAGGER_JS,
    assets.SWAGGER_CSS, assets.SWAGGER_FAVICON, assets.WANGGE_JS[1],
    "/static/vendor/leaflet/dist/images/marker-icon.png",
    "/static/vendor/leaflet/dist/leaflet.js.map",
    "/static/vendor/@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2",
    "/static/vendor/bootstrap3/dist/fonts/glyphicons-halflings-regular.woff",
])
def test_f17_what_the_maps_and_docs_load_is_still_served(client: Any, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:200])


def test_f17_default_csp_runs_no_inline_script(client: Any) -> None:
    script_src = re.search(r"script-src ([^;]*)", security.CSP)
    assert script_src and "'unsafe-inline'" not in script_src.group(1), security.CSP
    # an SVG (a document that can hold script) gets the default CSP
    r = client.get("/static/vendor/bootstrap3/dist/fonts/glyphicons-halflings-regular.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["content-security-policy"] == security.CSP
    # the pages with inline scripts allow exactly theirs, by hash
    for page in ("/maps/dispatch", "/docs", "/login"):
        r = client.get(page)
        assert r.status_code == 200, (page, r.text[:200])
        assert "'unsafe-inline'" not in re.search(
            r"script-src ([^;]*)|$", r.headers["content-security-policy"]).group(0), page
