"""Import: every format and CRS with small files written here, errors that leave nothing."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, Polygon, box
from sqlalchemy import Engine, create_engine, text

from geo.boundaries.activate import activate_set
from geo.crs.transforms import from_cgcs2000, transform_geometry
from geo.errors import InvalidInput
from geo.io.importer import ImportOptions, run_import
from geo.lookup.postgis import cell_at

SEAT = (111.13, 38.46)  # Xing County seat (demo region 141123)


@pytest.fixture()
def empty_engine(empty_url: str) -> Any:
    """A migrated, empty database."""
    from geo.db.migrate import upgrade

    engine = create_engine(empty_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def demo_rw(fresh_demo_url: str) -> Any:
    """A private demo database (writes allowed)."""
    engine = create_engine(fresh_demo_url)
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, int]:
    """Row counts of every table an import writes (to prove nothing was left behind)."""
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in (
            "region", "admin_unit", "boundary_set", "grid_cell", "compound", "camera",
            "incident", "grid_worker", "worker_assignment", "incident_category")}


def grid_2x2(x0: float, y0: float, step: float) -> list[tuple[str, Polygon]]:
    """Four square cells A1 A2 B1 B2 sharing edges."""
    out = []
    for i, row in enumerate("AB"):
        for j in range(2):
            out.append((f"{row}{j + 1}", box(x0 + j * step, y0 - (i + 1) * step,
                                             x0 + (j + 1) * step, y0 - i * step)))
    return out


# ---------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------


def test_bare_array_geojson_new_region_dry_run_commit_reimport(
        empty_engine: Engine, tmp_path: Path) -> None:
    """A foreign city's beats as a bare array of Features: new region, no parents."""
    feats = [{"type": "Feature", "properties": {"BEAT": code, "名称": f"Beat {code}"},
              "geometry": shapely.geometry.mapping(g)}
             for code, g in grid_2x2(-87.70, 41.80, 0.01)]
    path = tmp_path / "beats.json"
    path.write_text(json.dumps(feats))
    before = snapshot(empty_engine)
    opts = ImportOptions(region="CHX001", crs="EPSG:4326", code_field="BEAT", name_field="名称")
    dry = run_import(empty_engine, "cells", path, opts)
    assert dry.dry_run and not dry.committed
    assert (dry.new, dry.updated, dry.unchanged) == (4, 0, 0)
    assert dry.region_created and dry.checks is not None and dry.checks["ok"]
    assert "bare array" in dry.format
    assert snapshot(empty_engine) == before  # a dry run writes nothing, not even the region
    opts.commit = True
    rep = run_import(empty_engine, "cells", path, opts)
    assert rep.committed and rep.new == 4
    assert rep.boundary_set and rep.boundary_set["state"] == "pending"
    with empty_engine.begin() as conn:
        res = activate_set(conn, "CHX001", str(rep.boundary_set["id"]))
        assert res["previous"] is None
    with empty_engine.connect() as conn:
        hit = cell_at(conn, -87.695, 41.795, "CHX001", with_geometry=False)
        assert hit.code == "A1" and hit.name == "Beat A1"
    again = run_import(empty_engine, "cells", path, opts)
    assert again.committed and (again.new, again.updated, again.unchanged) == (0, 0, 4)
    assert snapshot(empty_engine)["boundary_set"] == 1  # re-import changed nothing


def test_geopackage_layer_admin_units(empty_engine: Engine, tmp_path: Path) -> None:
    """A GeoPackage with two layers needs --layer; admin units upsert by code."""
    county = box(110.9, 38.3, 111.3, 38.6)
    towns = gpd.GeoDataFrame(
        {"代码": ["999001100", "999001101"], "名称": ["东镇", "西镇"]},
        geometry=[box(111.1, 38.3, 111.3, 38.6), box(110.9, 38.3, 111.1, 38.6)],
        crs="EPSG:4490")
    path = tmp_path / "admin.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"代码": ["999001"], "名称": ["样例县"]},
                                             geometry=[county], crs="EPSG:4490"),
                            path, layer="county")
    pyogrio.write_dataframe(towns, path, layer="towns")
    opts = ImportOptions(region="999001", code_field="代码", name_field="名称", commit=True)
    with pytest.raises(InvalidInput, match="--layer"):
        run_import(empty_engine, "admin", path, opts)
    opts.layer = "county"
    assert run_import(empty_engine, "admin", path, opts).new == 1
    opts.layer = "towns"
    rep = run_import(empty_engine, "admin", path, opts)
    assert rep.committed and rep.new == 2 and rep.crs["source"] == "EPSG:4490"
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT code, level, parent_code FROM admin_unit "
                                 "ORDER BY code")).all()
    assert [tuple(r) for r in rows] == [("999001", "county", None),
                                        ("999001100", "township", "999001"),
                                        ("999001101", "township", "999001")]
    # a town outside the county boundary is refused with the reason
    far = gpd.GeoDataFrame({"代码": ["999001102", "999001103"], "名称": ["远镇", "近镇"]},
                           geometry=[box(116.0, 39.0, 116.1, 39.1), box(111.0, 38.4, 111.05,
                                                                        38.45)],
                           crs="EPSG:4490")
    far_path = tmp_path / "far.gpkg"
    pyogrio.write_dataframe(far, far_path, layer="towns")
    rep = run_import(empty_engine, "admin", far_path, ImportOptions(
        region="999001", code_field="代码", name_field="名称", commit=True))
    assert not rep.committed and rep.refused_count == 1 and "outside region" in (
        rep.refused[0]["reason"])
    assert rep.error and "--skip-refused" in rep.error


def test_shapefile_zip_gauss_kruger(demo_rw: Engine, tmp_path: Path) -> None:
    """Compounds as a zipped Shapefile in EPSG:4546 (CGCS2000 / Gauss-Kruger CM 111E)."""
    x0, y0 = (float(v) for v in from_cgcs2000(*SEAT, "EPSG:4546"))
    polys = [box(x0 + 10, y0 + 10, x0 + 90, y0 + 70), box(x0 + 200, y0, x0 + 260, y0 + 80)]
    # DBF field names hold 10 bytes: short Chinese names fit, long ones do not
    gdf = gpd.GeoDataFrame({"编码": ["XQT001", "XQT002"], "名称": ["测试花园", "样板小区"],
                            "户数": ["1,234", "86"], "mgmt_mode": ["物业公司", "社区托管"]},
                           geometry=polys, crs="EPSG:4546")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    pyogrio.write_dataframe(gdf, shp_dir / "compounds.shp", encoding="UTF-8")
    zpath = tmp_path / "compounds.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f"data/{f.name}")
    # the file declares EPSG:4546: a conflicting --crs is an error
    with pytest.raises(InvalidInput, match="conflicts with --crs"):
        run_import(demo_rw, "compounds", zpath, ImportOptions(region="141123", crs="GCJ02"))
    rep = run_import(demo_rw, "compounds", zpath, ImportOptions(region="141123", commit=True))
    assert rep.committed and rep.new == 2 and rep.crs["source"] == "EPSG:4546"
    with demo_rw.connect() as conn:
        row = conn.execute(text(
            "SELECT households, mgmt_mode, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
            "FROM compound WHERE code = 'XQT001'")).one()
    assert row[0] == 1234 and row[1] == "company"
    want = transform_geometry(Point(x0 + 50, y0 + 40), "EPSG:4546", "EPSG:4490")
    assert abs(row[2] - want.x) < 1e-6 and abs(row[3] - want.y) < 1e-6


def test_gcj02_csv_cameras_with_bearings(demo_rw: Engine, tmp_path: Path) -> None:
    """GCJ-02 points copied from a phone map; bearings as degrees or approach codes."""
    from geo.crs.china import wgs84_to_gcj02

    true_pts = [(SEAT[0] + 0.001 * k, SEAT[1] + 0.0005 * k) for k in range(4)]
    gcj = [tuple(map(float, wgs84_to_gcj02(x, y))) for x, y in true_pts]
    bearings = ["NB", "135°", "SEB", "西南"]
    df = pd.DataFrame({
        "设备编码": [f"1411239999132{k:07d}" for k in range(4)],
        "设备名称": [f"测试监控{k}" for k in range(4)],
        "经度": [f"{x:.8f}" for x, _ in gcj], "纬度": [f"{y:.8f}" for _, y in gcj],
        "方向": bearings})
    path = tmp_path / "cams.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    rep = run_import(demo_rw, "cameras", path, ImportOptions(
        region="141123", crs="GCJ02", code_field="设备编码", commit=True))
    assert rep.committed and rep.new == 4, rep.summary_lines()
    with demo_rw.connect() as conn:
        rows = conn.execute(text(
            "SELECT gb_id, bearing_deg, ST_X(geom), ST_Y(geom), sector IS NOT NULL FROM camera "
            "WHERE gb_id LIKE '1411239999132%' ORDER BY gb_id")).all()
    assert [r[1] for r in rows] == [0.0, 135.0, 135.0, 225.0]
    for r, (x, y) in zip(rows, true_pts, strict=True):
        assert abs(r[2] - x) < 1e-7 and abs(r[3] - y) < 1e-7  # < 1 cm
        assert r[4]
    again = run_import(demo_rw, "cameras", path, ImportOptions(
        region="141123", crs="GCJ02", code_field="设备编码", commit=True))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 4)


def test_xlsx_chinese_headers_incidents_routed(demo_rw: Engine, tmp_path: Path) -> None:
    """Incidents from a spreadsheet with Chinese headers, routed to the cell of their date."""
    df = pd.DataFrame({
        "事件编号": ["XL0001", "XL0002"], "事件类别": ["占用消防通道", "water"],
        "上报时间": ["2025年3月1日 08:30", "2025/03/02 17:05"],
        "经度": [SEAT[0], SEAT[0] + 0.002], "纬度": [SEAT[1], SEAT[1] - 0.001],
        "描述": ["楼道堆放杂物", "水管破裂"]})
    path = tmp_path / "incidents.xlsx"
    df.to_excel(path, index=False)
    rep = run_import(demo_rw, "incidents", path, ImportOptions(region="141123", commit=True))
    assert rep.committed and rep.new == 2 and rep.routed == 2, rep.summary_lines()
    with demo_rw.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, category_code, reported_at, cell_code, department_code FROM incident "
            "WHERE code LIKE 'XL%' ORDER BY code")).all()
        want = cell_at(conn, SEAT[0], SEAT[1], "141123", with_geometry=False).code
    assert rows[0][1] == "fire_lane_blocked" and rows[0][3] == want
    assert rows[0][2] == dt.datetime(2025, 3, 1, 0, 30, tzinfo=dt.UTC)
    assert rows[0][4] == "xiaofang"


def test_kml_points(demo_rw: Engine, tmp_path: Path) -> None:
    """KML placemarks (WGS84 by definition) as cameras."""
    gdf = gpd.GeoDataFrame({"Name": ["14112300001320000099"], "Description": ["KML 摄像头"]},
                           geometry=[Point(SEAT[0] + 0.003, SEAT[1])], crs="EPSG:4326")
    path = tmp_path / "cams.kml"
    pyogrio.write_dataframe(gdf, path, driver="KML")
    rep = run_import(demo_rw, "cameras", path, ImportOptions(
        region="141123", code_field="Name", commit=True))
    assert rep.committed and rep.new == 1 and rep.format == "kml", rep.summary_lines()


def test_wkt_csv_workers_and_numbers(demo_rw: Engine, tmp_path: Path) -> None:
    """Workers without geometry; a WKT column for compounds; thousands separators."""
    with demo_rw.connect() as conn:
        cell = conn.execute(text("SELECT code FROM grid_cell g JOIN boundary_set b ON b.id = "
                                 "g.boundary_set_id WHERE b.is_active ORDER BY code LIMIT 1")
                            ).scalar_one()
    wpath = tmp_path / "workers.csv"
    pd.DataFrame({"工号": ["WX001"], "姓名": ["测试员"], "手机": ["13800001111"],
                  "负责网格": [cell], "上岗日期": ["2026-01-05"]}).to_csv(wpath, index=False)
    rep = run_import(demo_rw, "workers", wpath, ImportOptions(region="141123", commit=True))
    assert rep.committed and rep.new == 1
    with demo_rw.connect() as conn:
        w = conn.execute(text("SELECT code FROM grid_worker g JOIN worker_assignment a ON "
                              "a.worker_id = g.id WHERE a.cell_code = :c AND a.valid_to IS NULL"),
                         {"c": cell}).scalars().all()
    assert w == ["WX001"]
    poly = box(SEAT[0], SEAT[1], SEAT[0] + 0.0008, SEAT[1] + 0.0006)
    cpath = tmp_path / "compounds.csv"
    pd.DataFrame({"code": ["XQW1"], "name": ["WKT小区"], "households": ["2,345"],
                  "wkt": [poly.wkt]}).to_csv(cpath, index=False)
    rep = run_import(demo_rw, "compounds", cpath, ImportOptions(region="141123", commit=True))
    assert rep.committed and rep.new == 1


def test_a_same_day_hand_back_leaves_each_cell_one_worker(demo_rw: Engine,
                                                           tmp_path: Path) -> None:
    """Review round 13, M2: two workers swap cells and swap back the same day; the second
    import must not leave both on one cell (the same-day assignments never took effect)."""
    with demo_rw.connect() as conn:
        pairs = conn.execute(text(
            "SELECT g.code, a.cell_code, g.name FROM worker_assignment a JOIN grid_worker g "
            "ON g.id = a.worker_id WHERE a.region_code = '141123' AND a.valid_to IS NULL "
            "ORDER BY a.cell_code LIMIT 2")).all()
    (w1, c1, n1), (w2, c2, n2) = pairs
    names = {w1: n1, w2: n2}

    def load(rows: list[tuple[str, str]], name: str) -> None:
        path = tmp_path / name
        pd.DataFrame({"工号": [w for w, _ in rows], "姓名": [names[w] for w, _ in rows],
                      "负责网格": [c for _, c in rows],
                      "上岗日期": ["2026-12-06"] * len(rows)}).to_csv(path, index=False)
        rep = run_import(demo_rw, "workers", path, ImportOptions(region="141123", commit=True))
        assert rep.committed, rep.summary_lines()

    load([(w1, c2), (w2, c1)], "swap.csv")
    load([(w1, c1), (w2, c2)], "back.csv")
    with demo_rw.connect() as conn:
        now = conn.execute(text(
            "SELECT a.cell_code, g.code FROM worker_assignment a JOIN grid_worker g ON "
            "g.id = a.worker_id WHERE a.region_code = '141123' AND a.cell_code IN (:a, :b) "
            "AND a.valid_from <= DATE '2026-12-06' AND (a.valid_to IS NULL "
            "OR DATE '2026-12-06' < a.valid_to) ORDER BY 1, 2"), {"a": c1, "b": c2}).all()
    assert [tuple(r) for r in now] == sorted([(c1, w1), (c2, w2)])


# ---------------------------------------------------------------------------------------
# Errors: a clear message and nothing left behind
# ---------------------------------------------------------------------------------------


def _cells_geojson(tmp_path: Path, feats: list[tuple[str, Any]], name: str = "c.geojson"
                   ) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": c}, "geometry": g} for c, g in feats]}))
    return path


def test_broken_rings_repaired_or_refused(empty_engine: Engine, tmp_path: Path) -> None:
    """A self-intersecting ring is repaired (listed); --strict refuses; a 3-point ring is
    refused; the commit fails whole and leaves nothing."""
    bowtie = {"type": "Polygon", "coordinates": [[[10, 10], [10.01, 10.01], [10.01, 10],
                                                 [10, 10.01], [10, 10]]]}
    square = shapely.geometry.mapping(box(10.02, 10, 10.03, 10.01))
    path = _cells_geojson(tmp_path, [("BOW", bowtie), ("SQ", square)])
    rep = run_import(empty_engine, "cells", path, ImportOptions(region="XX1", commit=True))
    assert rep.committed and rep.repaired_count == 1
    assert rep.repaired[0]["code"] == "BOW" and "Self-intersection" in rep.repaired[0]["reason"]
    strict = run_import(empty_engine, "cells", _cells_geojson(tmp_path, [
        ("BOW", bowtie), ("SQ2", square)], "s.geojson"),
        ImportOptions(region="XX1", strict=True, commit=True))
    assert not strict.committed and strict.refused_count == 1 and "--strict" in (
        strict.refused[0]["reason"])
    before = snapshot(empty_engine)
    tri = {"type": "Polygon", "coordinates": [[[10, 10], [10.01, 10.01], [10, 10]]]}
    bad = run_import(empty_engine, "cells", _cells_geojson(tmp_path, [
        ("TRI", tri), ("SQ3", square)], "t.geojson"), ImportOptions(region="XX1", commit=True))
    assert not bad.committed and bad.refused[0]["code"] == "TRI"
    assert "fewer than 4 points" in bad.refused[0]["reason"]
    assert snapshot(empty_engine) == before


def test_swapped_coordinates_refused_with_example(demo_rw: Engine, tmp_path: Path) -> None:
    """lat/lon swapped: the layer is refused with the reason and an example row."""
    before = snapshot(demo_rw)
    path = tmp_path / "swapped.csv"
    pd.DataFrame({"code": ["S1", "S2"], "category": ["water", "water"],
                  "time": ["2025-05-01 10:00", "2025-05-01 11:00"],
                  "lon": [38.46, 38.461], "lat": [111.13, 111.131]}).to_csv(path, index=False)
    with pytest.raises(InvalidInput) as err:
        run_import(demo_rw, "incidents", path, ImportOptions(region="141123", commit=True))
    msg = err.value.message
    assert "swapped" in msg and "example row 1" in msg and "111.13" in msg
    # Chicago-like swap where both values are valid degrees: caught by the region's extent
    path2 = tmp_path / "swapped2.csv"
    pd.DataFrame({"code": ["S3"], "category": ["water"], "time": ["2025-05-01 10:00"],
                  "lon": [SEAT[1]], "lat": [SEAT[0] - 90]}).to_csv(path2, index=False)
    with pytest.raises(InvalidInput, match="outside region 141123"):
        run_import(demo_rw, "incidents", path2, ImportOptions(region="141123", commit=True))
    assert snapshot(demo_rw) == before


def test_metres_read_as_degrees_and_unknown_crs(demo_rw: Engine, tmp_path: Path) -> None:
    """Gauss-Kruger metres claimed as degrees; an unknown CRS; both leave nothing."""
    before = snapshot(demo_rw)
    path = tmp_path / "gk.csv"
    pd.DataFrame({"code": ["G1"], "category": ["water"], "time": ["2025-05-01"],
                  "x": ["511,283.4"], "y": ["4,257,467.9"]}).to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="metres of a projected CRS"):
        run_import(demo_rw, "incidents", path, ImportOptions(region="141123", crs="EPSG:4490",
                                                            commit=True))
    with pytest.raises(InvalidInput, match="Unknown coordinate reference system"):
        run_import(demo_rw, "incidents", path, ImportOptions(region="141123", crs="EPSG:99999",
                                                            commit=True))
    rep = run_import(demo_rw, "incidents", path, ImportOptions(region="141123", crs="4546",
                                                              commit=True))
    assert rep.committed and rep.new == 1  # the same file with the right CRS goes in
    snap = snapshot(demo_rw)
    assert snap["incident"] == before["incident"] + 1


def test_bad_date_refused_nothing_written(demo_rw: Engine, tmp_path: Path) -> None:
    """A bad date: the row is refused with the expected format; the commit writes nothing."""
    before = snapshot(demo_rw)
    path = tmp_path / "dates.csv"
    pd.DataFrame({"code": ["D1", "D2"], "category": ["water", "gas"],
                  "time": ["2025-05-01 10:00", "31/02/2025"],
                  "lon": [SEAT[0], SEAT[0]], "lat": [SEAT[1], SEAT[1]]}).to_csv(path, index=False)
    rep = run_import(demo_rw, "incidents", path, ImportOptions(region="141123", commit=True))
    assert not rep.committed and rep.refused_count == 1
    assert rep.refused[0]["row"] == 2 and "--time-format" in rep.refused[0]["reason"]
    assert snapshot(demo_rw) == before
    # an unknown category is refused too, and --default-category takes it in
    rep = run_import(demo_rw, "incidents", path, ImportOptions(
        region="141123", time_format="%Y-%m-%d %H:%M", commit=True, skip_refused=True))
    assert rep.committed and rep.new == 1 and rep.refused_count == 1


def test_value_parsers() -> None:
    """Numbers, bearings and dates as people type them."""
    from zoneinfo import ZoneInfo

    from geo.io.parse import find_field, parse_bearing, parse_number, parse_time

    assert parse_number("1,234,567.5") == 1234567.5
    assert parse_number("１２３") == 123.0 and parse_number(" ") is None
    with pytest.raises(ValueError, match="not a number"):
        parse_number("12a")
    assert [parse_bearing(v) for v in ("NB", "SB", "EB", "WB", "NEB", "SEB", "SWB", "NWB")] == [
        0.0, 180.0, 90.0, 270.0, 45.0, 135.0, 225.0, 315.0]
    assert parse_bearing("SSW") == 202.5 and parse_bearing("-45") == 315.0
    assert parse_bearing("正北") == 0.0 and parse_bearing("Northbound") == 0.0
    with pytest.raises(ValueError, match="approach code"):
        parse_bearing("up")
    tz = ZoneInfo("Asia/Shanghai")
    assert parse_time("2025年3月1日 8:30", None, tz) == dt.datetime(2025, 3, 1, 8, 30, tzinfo=tz)
    assert parse_time("03/01/2025 08:30:00 PM", "%m/%d/%Y %I:%M:%S %p", tz).hour == 20
    with pytest.raises(ValueError, match="--time-format"):
        parse_time("31/02/2025", None, tz)
    assert find_field(["编号", "经度", "纬度"], "lon", None) == "经度"
    with pytest.raises(ValueError, match="columns are"):
        find_field(["a"], "lon", "lng")


def test_incidents_without_coordinates_placed_by_address(demo_rw: Engine, tmp_path: Path) -> None:
    """A hotline export with addresses and no coordinates: each row is placed by the offline
    address matcher (building, compound gate, road number), a weak match or another county's
    address stays ``needs_location``; the report counts the rows at each level."""
    with demo_rw.connect() as conn:
        b = conn.execute(text(
            "SELECT c.name, b.name AS b, ST_X(b.point) AS x, ST_Y(b.point) AS y "
            "FROM building b JOIN compound c ON c.code = b.compound_code "
            "ORDER BY b.code LIMIT 1")).mappings().one()
        g = conn.execute(text(
            "SELECT road, number, ST_X(geom) AS x, ST_Y(geom) AS y FROM std_address "
            "WHERE road IS NOT NULL ORDER BY code LIMIT 1")).mappings().one()
    path = tmp_path / "12345.csv"
    pd.DataFrame({
        "工单编号": ["AD001", "AD002", "AD003", "AD004"],
        "诉求类型": ["water"] * 4,
        "受理时间": ["2025-05-01 10:00"] * 4,
        "诉求地址": [f"山西省吕梁市兴县{b['name']}{b['b']}", f"{g['road']}{g['number']}号",
                     "兴县蔚汾镇", "北京市朝阳区建国路1号"],
    }).to_csv(path, index=False)
    rep = run_import(demo_rw, "incidents", path, ImportOptions(
        region="141123", code_field="工单编号", category_field="诉求类型",
        time_field="受理时间", address_field="诉求地址", commit=True))
    assert rep.committed and rep.new == 4, rep.summary_lines()
    assert rep.address_levels == {"building": 1, "compound": 1, "review": 1, "none": 1}
    assert any("placed by address" in line for line in rep.summary_lines())
    with demo_rw.connect() as conn:
        got = {c: (st, x, y) for c, st, x, y in conn.execute(text(
            "SELECT code, status, ST_X(geom), ST_Y(geom) FROM incident "
            "WHERE code LIKE 'AD00%'"))}
    assert got["AD001"][1:] == pytest.approx((b["x"], b["y"]))
    assert got["AD002"][1:] == pytest.approx((g["x"], g["y"]))
    assert got["AD003"][0] == got["AD004"][0] == "needs_location"


def test_unknown_category_labels_filed_as_unclassified(demo_rw: Engine, tmp_path: Path) -> None:
    """The staged import files a label matching no category as 待分类 for the command centre
    (like the hotline path), keeps the label as the description, and says so; a row with no
    category at all is refused."""
    path = tmp_path / "labels.csv"
    pd.DataFrame({"code": ["U1", "U2", "U3"], "category": ["water", "噪音扰民", None],
                  "time": ["2025-05-01 10:00"] * 3, "lon": [SEAT[0]] * 3,
                  "lat": [SEAT[1]] * 3}).to_csv(path, index=False)
    rep = run_import(demo_rw, "incidents", path, ImportOptions(region="141123", commit=True,
                                                               skip_refused=True))
    assert rep.committed and rep.new == 2 and rep.refused_count == 1
    assert rep.refused[0]["reason"].startswith("没有事件类别")
    assert any("待分类" in n and "噪音扰民" in n for n in rep.notes)
    with demo_rw.connect() as conn:
        got = dict(conn.execute(text(
            "SELECT code, category_code || '|' || coalesce(description, '') FROM incident "
            "WHERE code IN ('U1', 'U2')")).all())
    assert got == {"U1": "water|", "U2": "unclassified|噪音扰民"}
