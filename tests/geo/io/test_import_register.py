"""The address register (一标三实) imported like the other layers: buildings (footprints or
points, with their compound) and standard addresses (points with their parts); the offline
address matcher answers from what was imported; both export with Chinese headers."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from geo.addresses.match import match_address
from geo.auth.principal import Principal
from geo.io.export import export_layer
from geo.io.importer import ImportOptions, run_import


@pytest.fixture()
def demo_rw(fresh_demo_url: str) -> Any:
    engine = create_engine(fresh_demo_url)
    yield engine
    engine.dispose()


def _compound(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT code, name, ST_X(ST_PointOnSurface(geom)) AS x, "
            "ST_Y(ST_PointOnSurface(geom)) AS y FROM compound ORDER BY code LIMIT 1")
        ).mappings().one()
    return dict(row)


def test_buildings_imported_and_matched(demo_rw: Engine, tmp_path: Path) -> None:
    c = _compound(demo_rw)
    x, y = c["x"], c["y"]
    d = 0.0001
    feats = [
        {"type": "Feature", "properties": {"楼栋编码": "B-88", "名称": "88号楼", "小区": c["name"],
                                           "层数": 18, "单元数": 3},
         "geometry": shapely.geometry.mapping(shapely.box(x - d, y - d, x + d, y + d))},
        {"type": "Feature", "properties": {"楼栋编码": "B-89", "名称": "89号楼",
                                           "小区": c["code"], "层数": 6},
         "geometry": {"type": "Point", "coordinates": [x + 2 * d, y]}},
        {"type": "Feature", "properties": {"楼栋编码": "B-90", "名称": "90号楼", "层数": 300},
         "geometry": {"type": "Point", "coordinates": [x, y]}},
        {"type": "Feature", "properties": {"楼栋编码": "B-91", "名称": "91号楼"},
         "geometry": {"type": "LineString", "coordinates": [[x, y], [x + d, y]]}},
        {"type": "Feature", "properties": {"楼栋编码": "B-92", "小区": "不存在的小区"},
         "geometry": {"type": "Point", "coordinates": [x, y + d]}},
    ]
    path = tmp_path / "buildings.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    dry = run_import(demo_rw, "buildings", path, ImportOptions(region="141123"))
    assert dry.new == 3 and dry.refused_count == 2 and not dry.committed, dry.refused
    reasons = " ".join(r["reason"] for r in dry.refused)
    assert "floors" in reasons and "LineString" in reasons
    assert any("不存在的小区" in n for n in dry.notes)
    rep = run_import(demo_rw, "buildings", path, ImportOptions(region="141123", commit=True,
                                                               skip_refused=True))
    assert rep.committed and rep.new == 3
    with demo_rw.connect() as conn:
        rows = {r[0]: r[1:] for r in conn.execute(text(
            "SELECT code, compound_code, floors, units, synthetic, ST_GeometryType(geom) "
            "FROM building WHERE code LIKE 'B-%'"))}
        assert rows["B-88"] == (c["code"], 18, 3, False, "ST_Polygon")
        assert rows["B-89"][0] == c["code"] and rows["B-92"][0] is None
        m = match_address(conn, "141123", f"兴县{c['name']}88栋")
        assert m.level == "building" and m.confidence >= 0.9
        assert (m.lon, m.lat) == pytest.approx((x, y), abs=1e-6)
    again = run_import(demo_rw, "buildings", path, ImportOptions(region="141123", commit=True,
                                                                 skip_refused=True))
    assert (again.new, again.unchanged) == (0, 3)
    with demo_rw.connect() as conn:
        out = export_layer(conn, Principal(user="a", role="admin"), "buildings", "xlsx",
                           region_code="141123", where="code LIKE 'B-%'")
    sheet = openpyxl.load_workbook(io.BytesIO(out.content)).worksheets[0]
    assert "楼栋编码" in [c.value for c in sheet[1]] and out.rows == 3


def test_standard_addresses_imported_and_matched(demo_rw: Engine, tmp_path: Path) -> None:
    c = _compound(demo_rw)
    path = tmp_path / "addresses.csv"
    pd.DataFrame({
        "地址编码": ["SA1", "SA2", "SA3"],
        "乡镇": ["蔚汾镇", "蔚汾镇", None], "街路巷": [None, "测试大街", None],
        "门牌号": [None, "99", None], "小区": [c["name"], None, None],
        "楼栋号": ["7", None, None], "单元": ["2", None, None], "户室号": ["301", None, None],
        "经度": [c["x"], c["x"] + 0.001, c["x"]], "纬度": [c["y"], c["y"], c["y"]],
    }).to_csv(path, index=False)
    rep = run_import(demo_rw, "addresses", path, ImportOptions(region="141123", commit=True,
                                                               skip_refused=True))
    assert rep.committed and rep.new == 2 and rep.refused_count == 1, rep.to_dict()
    with demo_rw.connect() as conn:
        got = dict(conn.execute(text(
            "SELECT code, level FROM std_address WHERE code IN ('SA1', 'SA2')")).all())
        assert got == {"SA1": "room", "SA2": "road"}
        m = match_address(conn, "141123", f"{c['name']}7号楼2单元301室")
        assert m.level == "room" and (m.lon, m.lat) == pytest.approx((c["x"], c["y"]))
        m = match_address(conn, "141123", "兴县测试大街99号")
        assert m.level == "road" and m.lon == pytest.approx(c["x"] + 0.001)
