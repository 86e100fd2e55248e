"""Map pages over HTTP (no browser): status, headers, offline HTML, validation; map layers."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from geo.auth.principal import ANONYMOUS_COMMAND, Principal
from geo.crs.china import wgs84_to_gcj02
from geo.errors import InvalidInput
from geo.mapdata import analysis as cov
from geo.mapdata import incidents as gi
from geo.periods import Period
from maps import assets
from maps.cell import build_cell_map
from maps.frame import MapOptions, render_standalone, shift_xy

CELL = "141123100001001"
PAGES = [
    "/maps/dispatch",
    "/maps/dispatch?lang=en&from=2026-09-01&to=2026-10-30&refresh=60",
    f"/maps/cells/{CELL}",
    f"/maps/cells/{CELL}?lon=111.1362&lat=38.4614&crs=GCJ02",
    "/maps/coverage/cameras",
    "/maps/coverage/cameras?unit=township",
    "/maps/coverage/property",
    "/maps/coverage/property?unit=cell&lang=en",
]
CDN = re.compile(r"(src|href)=\"https?://")


@pytest.mark.parametrize("url", PAGES)
def test_map_page_is_offline_html_with_csp(client, url):  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp  # no basemap: no other host
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    assert not CDN.search(html), CDN.search(html)
    assert "/static/vendor/leaflet/dist/leaflet.js" in html
    assert "Wangge.legend(" in html and "L.control.layers" in html


def test_static_assets_served_and_contained(client):  # type: ignore[no-untyped-def]
    r = client.get("/static/vendor/leaflet/dist/leaflet.js")
    assert r.status_code == 200 and "Leaflet" in r.text[:2000]
    assert client.get("/static/wangge/wangge.js").status_code == 200
    for bad in ("/static/vendor/../../../etc/passwd", "/static/vendor/%2e%2e/%2e%2e/etc/passwd",
                "/static/wangge/../base.py", "/static/other/x.js"):
        assert client.get(bad).status_code == 404, bad


@pytest.mark.parametrize("url,field", [
    ("/maps/dispatch?basemap=google", "basemap"),
    ("/maps/dispatch?basemap=tianditu", "basemap"),  # no key configured
    ("/maps/dispatch?lang=fr", "lang"),
    ("/maps/dispatch?from=2026-10-10&to=2026-10-01", "from"),
    ("/maps/dispatch?refresh=-5", "refresh"),
    ("/maps/coverage/cameras?unit=province", "unit"),
    (f"/maps/cells/{CELL}?lon=38.46&lat=111.13", "lat"),
    (f"/maps/cells/{CELL}?lon=111.13", "lon"),
])
def test_bad_parameters_are_422(client, url, field):  # type: ignore[no-untyped-def]
    r = client.get(url)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in str(body) and "/" in body["detail"]  # Chinese / English


def test_unknown_cell_is_404(client):  # type: ignore[no-untyped-def]
    r = client.get("/maps/cells/141123999999999")
    assert r.status_code == 404 and "141123999999999" in r.json()["detail"]


def test_osm_basemap_csp_allows_only_its_tiles(client):  # type: ignore[no-untyped-def]
    r = client.get("/maps/dispatch?basemap=osm")
    assert r.status_code == 200
    assert "https://tile.openstreetmap.org" in r.headers["content-security-policy"]
    assert "tile.openstreetmap.org/{z}/{x}/{y}.png" in r.text


def test_amap_basemap_shifts_overlays_to_gcj02(demo_url):  # type: ignore[no-untyped-def]
    lon, lat = 111.13, 38.46
    x, y = shift_xy([lon], [lat], MapOptions(basemap="amap"))
    gx, gy = wgs84_to_gcj02(lon, lat)
    assert (float(x[0]), float(y[0])) == pytest.approx((float(gx), float(gy)), abs=1e-9)
    east_m = (float(x[0]) - lon) * 111_320 * np.cos(np.radians(lat))
    assert 400 < east_m < 700  # about 540 m east at Xing County
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        plain = render_standalone(build_cell_map(conn, ANONYMOUS_COMMAND, MapOptions(), CELL,
                                                 (lon, lat)))
        amap = render_standalone(build_cell_map(conn, ANONYMOUS_COMMAND,
                                                MapOptions(basemap="amap"), CELL, (lon, lat)))
    engine.dispose()
    here = re.compile(r"Wangge\.here\(\w+,\s*([\d.]+),\s*([\d.]+)")
    (plat, plon), (alat, alon) = here.search(plain).groups(), here.search(amap).groups()
    assert (float(plon), float(plat)) == pytest.approx((lon, lat), abs=1e-7)
    assert (float(alon), float(alat)) == pytest.approx((float(x[0]), float(y[0])), abs=1e-6)
    assert "webrd0{s}.is.autonavi.com" in amap


def test_standalone_export_has_no_external_reference(demo_url):  # type: ignore[no-untyped-def]
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        html = render_standalone(build_cell_map(conn, ANONYMOUS_COMMAND, MapOptions(), CELL))
    engine.dispose()
    assert "/static/" not in re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)
    assert not re.search(r"url\((['\"]?)(https?:|\.\./)", html)


def test_overdue_rule_and_scope(demo_url):  # type: ignore[no-untyped-def]
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        period = gi.resolve_period(conn, "141123", dt.date(2026, 10, 1), dt.date(2026, 10, 30))
        inc, total = gi.incidents(conn, ANONYMOUS_COMMAND, "141123", period, limit=100_000,
                                  overdue_days=3)
        n_sql = conn.execute(text(
            "SELECT count(*) FROM incident WHERE reported_at >= :a AND reported_at < :b "
            "AND geom IS NOT NULL AND status <> 'merged'"),
            {"a": period.start, "b": period.end}).scalar()
        assert total == n_sql == len(inc) > 0
        due = dict(conn.execute(text("SELECT code, due_at FROM incident")).all())
        assert any(due.values())  # dispatch gives every demo case a due_at
        for r in inc.itertuples():
            limit = due[r.code] or r.reported_at + dt.timedelta(days=3)
            expect = r.is_open and limit < period.as_of
            assert bool(r.overdue) == bool(expect), r.code
        assert not {"reporter_name", "reporter_phone"} & set(inc.columns)
        worker = Principal(user="w", role="worker", cell_codes=frozenset({CELL}))
        mine, _ = gi.incidents(conn, worker, "141123", period, limit=10_000)
        assert set(mine["cell_code"]) <= {CELL}
        planner = Principal(user="p", role="planner")
        assert gi.incidents(conn, planner, "141123", period)[1] == 0
        counts = gi.incident_counts_by_cell(conn, ANONYMOUS_COMMAND, "141123", period)
        assert sum(c["total"] for c in counts) == n_sql
        heat = gi.incident_heat(conn, ANONYMOUS_COMMAND, "141123", period)
        assert sum(h[2] for h in heat) == n_sql
        coarse = gi.incident_heat(conn, ANONYMOUS_COMMAND, "141123", period, max_points=100)
        assert len(coarse) < len(heat) and len(coarse) <= 300
        assert sum(h[2] for h in coarse) == n_sql
        with pytest.raises(InvalidInput):
            gi.resolve_period(conn, "141123", dt.date(2026, 10, 2), dt.date(2026, 10, 1))
    engine.dispose()


def test_coverage_figures(demo_url):  # type: ignore[no-untyped-def]
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        prop = cov.property_share(conn, "141123", "community")
        n = conn.execute(text("SELECT count(*), count(*) FILTER (WHERE mgmt_mode <> 'none') "
                              "FROM compound")).one()
        assert int(prop["compounds"].sum()) == n[0] and int(prop["managed"].sum()) == n[1]
        ok = prop["compounds"] > 0
        assert ((prop.loc[ok, "share"] >= 0) & (prop.loc[ok, "share"] <= 1)).all()
        assert prop.loc[~ok, "share"].isna().all()
        town = cov.property_share(conn, "141123", "township")
        assert int(town["compounds"].sum()) == n[0]
        cams = cov.camera_coverage(conn, "141123", "township")
        assert len(cams) == 17 and (cams["share"] >= 0).all() and (cams["share"] < 1).all()
        # the county seat (蔚汾镇) is the best covered township
        assert cams.sort_values("share").iloc[-1]["code"] == "141123100"
        with pytest.raises(InvalidInput):
            cov.check_unit("province")
    engine.dispose()


def test_assets_installed_and_resolved() -> None:
    assets.check_installed()
    for _, url in [*assets.FOLIUM_JS, *assets.FOLIUM_CSS, *assets.HEAT_JS, assets.WANGGE_JS,
                   *assets.VECTORGRID_JS]:
        assert assets.resolve(url) is not None, url


def test_incidents_in_view_endpoint(client):  # type: ignore[no-untyped-def]
    bbox = "111.10,38.44,111.16,38.48"
    r = client.get(f"/maps/data/incidents?bbox={bbox}&from=2026-10-01&to=2026-10-30")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["rows"] and d["total"] >= len(d["rows"])
    ci = {c: i for i, c in enumerate(d["cols"])}
    assert "lon0" not in ci  # no shift: drawn position == CGCS2000
    for row in d["rows"]:
        assert 111.10 <= row[ci["lon"]] <= 111.16 and 38.44 <= row[ci["lat"]] <= 38.48
        assert row[ci["reported"]] >= "2026-10-01"
        assert d["dicts"]["cls"][row[ci["cls"]]] in ("overdue", "open", "closed")
    # with AMap the bbox is in GCJ-02 and rows carry both positions
    gx, gy = wgs84_to_gcj02([111.10, 111.16], [38.44, 38.48])
    gx0, gx1, gy0, gy1 = float(gx[0]), float(gx[1]), float(gy[0]), float(gy[1])
    s = client.get(f"/maps/data/incidents?bbox={gx0},{gy0},{gx1},{gy1}&from=2026-10-01"
                   "&to=2026-10-30&basemap=amap").json()
    cs = {c: i for i, c in enumerate(s["cols"])}
    assert abs(len(s["rows"]) - len(d["rows"])) <= 0.05 * len(d["rows"])
    for row in s["rows"]:
        assert (row[cs["lon"]], row[cs["lat"]]) == pytest.approx(
            tuple(map(float, wgs84_to_gcj02(row[cs["lon0"]], row[cs["lat0"]]))), abs=2e-6)
    for bad in ("1,2,3", "111.2,38.4,111.1,38.5", "a,b,c,d"):
        assert client.get(f"/maps/data/incidents?bbox={bad}").status_code == 422, bad


@pytest.mark.parametrize("lang,labels", [("zh", "cva_w"), ("en", "eva_w")])
def test_tianditu_basemap_with_key(lang, labels):  # type: ignore[no-untyped-def]
    from maps.frame import csp_header, new_map, render_page

    opts = MapOptions(basemap="tianditu", tianditu_key="KEY123", lang=lang).validated()
    html = render_page(new_map(opts, (111.0, 38.3, 111.3, 38.6), "t"))
    assert "tianditu.gov.cn/vec_w/wmts" in html and f"/{labels}/wmts" in html
    assert "tk=KEY123" in html
    assert "https://*.tianditu.gov.cn" in csp_header(opts)


def test_missing_assets_answer_503_not_500(client, monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WANGGE_ASSETS_DIR", str(tmp_path))
    r = client.get(f"/maps/cells/{CELL}")
    assert r.status_code == 503 and "maps/assets.sh" in r.json()["detail"]


def test_cell_map_of_a_rural_cell_without_compounds(client, demo_engine):  # type: ignore[no-untyped-def]
    with demo_engine.connect() as conn:
        code = conn.execute(text(
            "SELECT c.code FROM grid_cell c WHERE c.kind = 'basic' AND c.parent_code NOT LIKE "
            "'141123100%' AND NOT EXISTS (SELECT 1 FROM compound p "
            "WHERE ST_Intersects(p.geom, c.geom)) ORDER BY c.code LIMIT 1")).scalar_one()
    r = client.get(f"/maps/cells/{code}")
    assert r.status_code == 200, r.text[:300]
    assert code in r.text


# --- hot spots, recommended camera sites, incident vector tiles (issue 7 follow-up) ---------

MVT = "application/vnd.mapbox-vector-tile"
# the coverage map's default period
Q3 = Period.from_dates(dt.date(2026, 7, 31), dt.date(2026, 10, 30))


def test_hotspot_layer_is_the_analysis_hot_cells(demo_engine):  # type: ignore[no-untyped-def]
    from geo.analysis.spots import hotspots

    with demo_engine.connect() as conn:
        spots, summary = cov.hotspot_layer(conn, ANONYMOUS_COMMAND, "141123", Q3)
        full = hotspots(conn, ANONYMOUS_COMMAND, "141123", Q3, permutations=199,
                        by_category=False)["tables"]["units"]
    assert len(spots) > 0 and (spots["gi_bin"] > 0).all() and (spots["spot"] != "cold").all()
    expect = full[full["gi_bin"] > 0].set_index("code")
    assert set(spots["code"]) == set(expect.index)
    got = spots.set_index("code")
    assert (got["incidents"] == expect.loc[got.index, "incidents"]).all()
    assert summary["permutations"] == 199 and summary["incidents"] > 0
    assert spots.crs.to_epsg() == 4490 and spots.geometry.is_valid.all()


def test_camera_site_layer_gains_and_no_incident_codes(demo_engine):  # type: ignore[no-untyped-def]
    with demo_engine.connect() as conn:
        sites, summary = cov.camera_site_layer(conn, ANONYMOUS_COMMAND, "141123", Q3, k=4,
                                               candidates="entrances")
        assert list(sites["rank"]) == [1, 2, 3, 4]
        assert int(sites["gain_incidents"].sum()) == summary["newly_covered_incidents"] > 0
        assert not {"code", "codes", "reporter_name", "reporter_phone"} & set(sites.columns)
        assert ((sites["gain_area_m2"] > 0)
                & (sites["gain_area_m2"] <= sites["sector_area_m2"] + 0.5)).all()
        # the sector of a 90 deg / 80 m camera is pi * 80^2 / 4 = 5,026.5 m^2
        assert sites["sector_area_m2"].to_numpy() == pytest.approx(np.pi * 80**2 / 4, rel=0.01)
        # site 1's gain, recomputed by PostGIS on the ellipsoid: sector minus online sectors
        first = sites.iloc[0]
        pg_gain = conn.execute(text("""
            SELECT ST_Area(ST_Difference(s.g, COALESCE((SELECT ST_Union(c.sector) FROM camera c
                    WHERE c.status = 'online' AND c.sector IS NOT NULL
                      AND ST_Intersects(c.sector, s.g)), ST_GeomFromText('POLYGON EMPTY', 4490)))
                   ::geography)
              FROM (SELECT ST_GeomFromText(:wkt, 4490) AS g) s"""),
            {"wkt": first.geometry.wkt}).scalar()
        assert first["gain_area_m2"] == pytest.approx(pg_gain, rel=0.01, abs=5)
        with pytest.raises(InvalidInput):
            cov.camera_site_layer(conn, ANONYMOUS_COMMAND, "141123", Q3, k=51)


def test_coverage_map_parameters(client):  # type: ignore[no-untyped-def]
    r = client.get("/maps/coverage/cameras?k=3&candidates=entrances")
    assert r.status_code == 200, r.text[:300]
    html = r.text
    # layer-control names are JSON-escaped by folium, the legend is not
    assert "Wangge.sites(" in html and json.dumps("建议新增摄像头点位 (前 3 个)") in html
    assert json.dumps("事件热点 (Gi*)") in html and "199 次置换" in html
    assert "建议点位 (3)" in html
    assert not re.search(r"SJ\d{14}", html.split("Wangge.sites(", 1)[1].split(");", 1)[0])
    en = client.get("/maps/coverage/cameras?k=0&hotspots=false&lang=en").text
    assert "Wangge.sites(" not in en and "Incident hot spots" not in en
    assert "Camera coverage" in en
    # a long period makes the lattice too large for the site search: the map falls back to
    # compound entrances and says so, instead of failing with a 413
    long = client.get("/maps/coverage/cameras?from=2025-01-01&to=2026-10-30&hotspots=false"
                      "&unit=township")
    assert long.status_code == 200, long.text[:300]
    assert "仅在小区出入口中选点" in long.text and "建议点位 (10)" in long.text
    # a period without incidents: no hot spot, no site, still a map (schemathesis found a 500)
    empty = client.get("/maps/coverage/cameras?to=2000-01-01")
    assert empty.status_code == 200, empty.text[:300]
    assert "建议点位 (0)" in empty.text and "热点 99 % (0)" in empty.text
    for bad in ("k=51", "k=-1", "candidates=roof", "hotspots=maybe"):
        assert client.get(f"/maps/coverage/cameras?{bad}").status_code == 422, bad


def test_dispatch_map_links_incident_tiles_of_its_period(client):  # type: ignore[no-untyped-def]
    html = client.get("/maps/dispatch?from=2026-10-01&to=2026-10-30").text
    assert "Leaflet.VectorGrid.bundled.min.js" in html and "Wangge.incidentLayer(" in html
    layer = html.split("Wangge.incidentLayer(", 1)[1]
    assert '"tiles":{' in layer and '"bbox"' not in layer.split(");", 1)[0]  # one layer
    m = re.search(r'"url":"(/tiles/incidents/\{z\}/\{x\}/\{y\}\.pbf\?datetime=[^"]+)"', html)
    assert m, "no tile URL"
    assert "2026-10-01T00%3A00%3A00%2B08%3A00%2F2026-10-30T23%3A59%3A59" in m.group(1)
    # AMap: overlays are shifted to GCJ-02, tiles cannot be: the bbox layer is used instead
    amap = client.get("/maps/dispatch?basemap=amap").text
    layer = amap.split("Wangge.incidentLayer(", 1)[1].split(");", 1)[0]
    assert '"tiles":{' not in layer and '"bbox":{"url":"/maps/data/incidents?' in layer
    # the live markers too: the page asks its event stream in GCJ-02
    assert '"events":"/events?crs=GCJ02"' in amap and '"events":"/events"' in html


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2.0 * n)
    return x, y


def test_incident_tiles_of_a_period(client, demo_engine):  # type: ignore[no-untyped-def]
    import mapbox_vector_tile

    z = 12
    x, y = _tile_xy(111.13, 38.46, z)
    interval = "2026-10-01T00:00:00+08:00/2026-10-30T23:59:59.999999+08:00"
    r = client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", params={"datetime": interval})
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    feats = mapbox_vector_tile.decode(r.content)["incidents"]["features"]
    with demo_engine.connect() as conn:
        n = conn.execute(text(
            "SELECT count(*) FROM incident WHERE ST_Intersects(ST_Transform(geom, 3857), "
            "ST_TileEnvelope(:z, :x, :y)) AND reported_at >= '2026-10-01T00:00:00+08:00' "
            "AND reported_at < '2026-10-31T00:00:00+08:00'"), {"z": z, "x": x, "y": y}).scalar()
    inside = [f for f in feats if all(0 <= c <= 4096 for c in f["geometry"]["coordinates"])]
    assert 0 < n <= len(feats) and abs(len(inside) - n) <= 0.02 * n + 2
    assert all("2026-10-01" <= f["properties"]["reported_at"][:10] <= "2026-10-30"
               for f in feats)
    assert all("due_at" in f["properties"] and "reporter_phone" not in f["properties"]
               for f in feats)
    everything = client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf")
    assert len(mapbox_vector_tile.decode(everything.content)["incidents"]["features"]) > len(
        feats)
    for bad in ("2026-13-01/..", "2026-10-30/2026-10-01"):
        assert client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf",
                          params={"datetime": bad}).status_code == 422, bad
    assert client.get(f"/tiles/cells/{z}/{x}/{y}.pbf",
                      params={"datetime": interval}).status_code == 422


def test_incident_tiles_pass_the_principal(demo_url):  # type: ignore[no-untyped-def]
    """The tiles the dispatch map loads are scoped to whoever asks (worker: her cell; planner:
    every incident as a point, no personal fields; viewer: none)."""
    from fastapi import Request
    from fastapi.testclient import TestClient

    from api.main import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(demo_url))
    roles = {"planner": Principal(user="p", role="planner"),
             "viewer": Principal(user="v", role="viewer"),
             "worker": Principal(user="w", role="worker", cell_codes=frozenset({CELL}))}

    @app.middleware("http")
    async def as_role(request: Request, call_next):  # type: ignore[no-untyped-def]
        role = request.headers.get("x-test-role")
        if role:
            request.state.principal = roles[role]
        return await call_next(request)

    import mapbox_vector_tile

    z = 12
    x, y = _tile_xy(111.13, 38.46, z)
    with TestClient(app) as c:
        command = c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf")
        planner = c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", headers={"x-test-role": "planner"})
        worker = c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", headers={"x-test-role": "worker"})
        viewer = c.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", headers={"x-test-role": "viewer"})
    all_cells = {f["properties"]["cell_code"] for f in mapbox_vector_tile.decode(
        command.content)["incidents"]["features"]}
    assert len(all_cells) > 1
    points = mapbox_vector_tile.decode(planner.content)["incidents"]["features"]
    assert len(points) == len(mapbox_vector_tile.decode(command.content)["incidents"]["features"])
    assert not {"reporter_name", "reporter_phone", "description"} & set(points[0]["properties"])
    assert viewer.status_code == 204
    mine = mapbox_vector_tile.decode(worker.content)["incidents"]["features"]
    assert mine and {f["properties"]["cell_code"] for f in mine} == {CELL}


def test_one_palette() -> None:
    """Every colour is defined once, in maps/styles.py: no literal colour elsewhere in maps/."""
    from pathlib import Path

    from maps import styles

    root = Path(styles.__file__).parent
    colour = re.compile(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b")
    for path in [*root.glob("*.py"), root / "static" / "wangge.js"]:
        if path.name != "styles.py":
            assert not colour.findall(path.read_text(encoding="utf-8")), path
    # red means overdue, and nothing else is drawn in it
    assert styles.INCIDENT_STYLES["overdue"]["fill"] == styles.COUNT_COLORS["overdue"]
    assert styles.MGMT_COLORS["none"] not in (styles.OVERDUE, styles.OVERDUE_LINE)


def test_json_in_pages_escapes_every_angle_bracket_and_ampersand() -> None:
    """Issue 15, finding 7: a description ``x <!--<script>`` stopped the maps rendering for
    everyone (only ``</`` was escaped). No ``<``, ``>`` or ``&`` may reach the inline script."""
    import json

    from maps.frame import _js_json

    value = {"desc": "x <!--<script> a&b </script> -->", "n": [1, 2.5, None]}
    text = _js_json(value)
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == value
