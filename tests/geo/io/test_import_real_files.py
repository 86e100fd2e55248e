"""Real-world files do not crash the importer (issue 19, item 4).

- A DataV-style GeoJSON (the common Chinese boundary source: features carry ``parent`` as an
  object, ``acroutes``/``center`` as arrays) imports: the object column is ignored with a note,
  arrays are read as text; a value too long for its column is refused naming the row and field
  (it was a psycopg traceback: ``value too long for type character varying(12)``).
- Coordinates in degree-minute-second text and with full-width digits are read.
- Property-based: random property values of every JSON type under the names each layer
  recognises give a report or a clear refusal (InvalidInput), never another exception.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine

from geo.errors import WanggeError
from geo.io.importer import ImportOptions, run_import
from geo.io.parse import parse_coordinate

EXAMPLES = int(os.environ.get("WANGGE_PROPERTY_EXAMPLES", "60"))
BUDGET = settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow,
                                         HealthCheck.function_scoped_fixture])
X, Y = 111.10, 38.44  # the county seat of the demo county


@pytest.fixture(scope="module")
def engine(demo_url: str) -> Iterator[Engine]:
    eng = create_engine(demo_url)  # dry runs only: nothing is written
    yield eng
    eng.dispose()


def _square(x: float, y: float, d: float = 0.02) -> dict[str, Any]:
    return {"type": "MultiPolygon",
            "coordinates": [[[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]]}


def _datav(path: Path) -> Path:
    feats = [{"type": "Feature", "properties": {
        "adcode": 141123900 + i, "name": f"测试{i}网格", "center": [X + 0.01, Y + 0.01],
        "centroid": [X + 0.01, Y + 0.01], "childrenNum": 0, "level": "district",
        "parent": {"adcode": 141100}, "subFeatureIndex": i,
        "acroutes": [100000, 140000, 141100]}, "geometry": _square(X + 0.03 * i, Y)}
        for i in range(2)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    return path


def test_datav_file_imports_with_notes(engine: Engine, tmp_path: Path) -> None:
    path = _datav(tmp_path / "xingxian_datav.json")
    rep = run_import(engine, "cells", path, ImportOptions(region="141123", code_field="adcode"))
    assert rep.error is None and rep.new == 2 and not rep.refused, rep.to_dict()
    notes = " ".join(rep.notes)
    assert "parent" in notes and "acroutes" in notes


def test_value_too_long_names_row_and_field(engine: Engine, tmp_path: Path) -> None:
    path = _datav(tmp_path / "datav.json")
    with pytest.raises(WanggeError) as err:
        run_import(engine, "cells", path, ImportOptions(region="141123", code_field="adcode",
                                                        parent_field="acroutes"))
    text = str(err.value)
    assert "parent_code" in text and "12" in text and "100000,140000,141100" in text


@pytest.mark.parametrize(("value", "degrees"), [
    ("111°08′12.3″E", 111.13675), ("东经111度8分12.3秒", 111.13675), ("111 8 12.3", 111.13675),
    ("38°27'N", 38.45), ("１１１.１３", 111.13), ("38°27′30\"S", -38.4583333), ("111.5", 111.5),
])
def test_coordinates_in_dms_and_full_width(value: str, degrees: float) -> None:
    assert parse_coordinate(value) == pytest.approx(degrees)


@pytest.mark.parametrize("value", ["abc", "111°61′", "N111°E", "1e400"])
def test_bad_coordinates_are_refused_plainly(value: str) -> None:
    with pytest.raises(ValueError):
        parse_coordinate(value)


def test_csv_with_dms_coordinates_imports(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cams.csv"
    path.write_text("编号,名称,经度,纬度\n14112300001320000901,县城东门,111°07′30″E,38°26′40″N\n"
                    "14112300001320000902,县城西门,１１１.１０,３８.４４\n", encoding="utf-8")
    rep = run_import(engine, "cameras", path, ImportOptions(region="141123"))
    assert rep.error is None and not rep.refused and rep.new == 2, rep.to_dict()


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8)
# the property names each layer recognises (code, name, parent, kind, counts, times ...)
NAMES = ["code", "name", "parent", "township", "kind", "level", "households", "population",
         "address", "buildings", "built_year", "mgmt_mode", "company", "bearing", "fov",
         "range", "status", "category", "time", "description", "phone", "cell", "编号", "名称",
         "compound", "floors", "units", "road", "number", "building", "unit", "room", "乡镇"]
LAYERS = ["cells", "admin", "compounds", "cameras", "incidents", "workers", "buildings",
          "addresses"]


@BUDGET
@given(layer=st.sampled_from(LAYERS),
       props=st.lists(st.dictionaries(st.sampled_from(NAMES), JSON_VALUE, min_size=1,
                                      max_size=8), min_size=1, max_size=3),
       point=st.booleans())
def test_any_property_values_give_a_report(engine: Engine, tmp_path_factory: Any, layer: str,
                                           props: list[dict[str, Any]], point: bool) -> None:
    feats = [{"type": "Feature", "properties": p,
              "geometry": {"type": "Point", "coordinates": [X + 0.001 * i, Y]} if point
              else _square(X + 0.03 * i, Y)} for i, p in enumerate(props)]
    path = tmp_path_factory.mktemp("prop") / "random.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False), encoding="utf-8")
    try:
        rep = run_import(engine, layer, path, ImportOptions(region="141123"))
    except WanggeError as exc:  # a clear refusal (no code column, bad value ...)
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert rep.to_dict() is not None


def test_gbk_shapefile_without_cpg_reads_chinese(engine: Engine, tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    names = ["蔚汾镇测试第一网格", "兴华家园测试网格"]
    frame = gpd.GeoDataFrame(
        {"name": names, "code": ["141123100001901", "141123100001902"]},
        geometry=[shapely.box(X, Y, X + 0.02, Y + 0.02), shapely.box(X + 0.02, Y, X + 0.04,
                                                                     Y + 0.02)],
        crs="EPSG:4490")
    path = tmp_path / "gbk.shp"
    frame.to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    rep = run_import(engine, "cells", path, ImportOptions(region="141123"))
    assert rep.error is None and rep.new == 2, rep.to_dict()
    assert any("GBK" in n for n in rep.notes)
    from geo.io.read import open_source

    src = open_source(path)
    try:
        got = [str(v) for chunk in src.chunks() for v in chunk.attrs["name"]]
    finally:
        src.close()
    assert got == names
