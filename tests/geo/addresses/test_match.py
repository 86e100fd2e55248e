"""Address matcher on hand-written hard cases (an in-memory register, no database)."""

from __future__ import annotations

import pytest

from geo.addresses.match import AddressIndex, Place, Target
from geo.addresses.normalize import normalize


@pytest.fixture(scope="module")
def idx() -> AddressIndex:
    i = AddressIndex("141123")
    i.add(Place("township", "141123100", "蔚汾镇", 111.13, 38.46, township="141123100"))
    i.add(Place("community", "141123100001", "东关社区", 111.14, 38.46, township="141123100"))
    i.add(Place("compound", "XQ1", "兴华家园", 111.1400, 38.4600, "141123100", "141123100001", 1))
    i.add(Place("road", "滨河路", "滨河路", 111.135, 38.455))
    i.below[("XQ1", "3", "", "")] = Target(111.1402, 38.4603, 11, "兴华家园3号楼", "B3")
    i.below[("XQ1", "3", "2", "")] = Target(111.1403, 38.4603, 12, "兴华家园3号楼2单元")
    i.below[("XQ1", "3", "2", "301")] = Target(111.1403, 38.4604, 13, "兴华家园3号楼2单元301室")
    i.numbers[("滨河路", "15")] = (Target(111.1400, 38.4599, 10, "滨河路15号"), "XQ1")
    i.finish()
    return i


def test_normalize_variants() -> None:
    assert normalize("兴华家园三号楼二单元三〇一室") == "兴华家园3号楼2单元301室"
    assert normalize("兴华家园３栋") == "兴华家园3号楼"
    assert normalize("兴华家园3#楼2单元301") == "兴华家园3号楼2单元301室"
    assert normalize("兴华家园3-2-301") == "兴华家园3号楼2单元301室"


@pytest.mark.parametrize("text,level,point", [
    ("山西省吕梁市兴县蔚汾镇兴华家园3号楼2单元301室", "room", (111.1403, 38.4604)),
    ("兴华家园三号楼", "building", (111.1402, 38.4603)),
    ("兴华家园３幢２单元", "building", (111.1403, 38.4603)),
    ("兴县兴化家园3栋", "building", (111.1402, 38.4603)),  # typo 化/华
    ("滨河路15号", "compound", (111.1400, 38.4599)),  # the door of a compound
    ("兴华家园", "compound", (111.1400, 38.4600)),
    ("蔚汾镇东关社区", "village", (111.14, 38.46)),
])
def test_hard_cases(idx: AddressIndex, text: str, level: str,
                    point: tuple[float, float]) -> None:
    m = idx.match(text)
    assert m.level == level, (text, m)
    assert (m.lon, m.lat) == pytest.approx(point), (text, m)
    assert 0 < m.confidence <= 1


@pytest.mark.parametrize("text", ["山西省吕梁市临县城庄镇兴华家园3号楼", "离石区滨河路15号",
                                  "无此地点-matrix"])
def test_refused(idx: AddressIndex, text: str) -> None:
    m = idx.match(text)
    assert m.level == "none" and m.lon is None, m


def test_index_from_the_register(empty_url: str) -> None:
    """The index read from PostGIS (admin units, compounds, buildings, standard addresses)."""
    from sqlalchemy import create_engine, text

    from geo.addresses.match import match_address
    from geo.db.migrate import upgrade

    engine = create_engine(empty_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, region_code, name) VALUES "
                          "('141123', '141123', '兴县')"))
        conn.execute(text(
            "INSERT INTO admin_unit (region_code, code, name, level, parent_code, geom) VALUES "
            "('141123', '141123100', '蔚汾镇', 'township', '141123', ST_Multi(ST_MakeEnvelope("
            "111.10, 38.44, 111.16, 38.48, 4490)))"))
        conn.execute(text(
            "INSERT INTO compound (region_code, code, name, community_code, geom, entrance) "
            "VALUES ('141123', 'XQ1', '兴华家园', NULL, ST_Multi(ST_MakeEnvelope(111.139, "
            "38.459, 111.141, 38.461, 4490)), ST_SetSRID(ST_MakePoint(111.14, 38.459), 4490))"))
        conn.execute(text(
            "INSERT INTO building (region_code, code, name, compound_code, geom, point) VALUES "
            "('141123', 'B3', '3号楼', 'XQ1', ST_SetSRID(ST_MakePoint(111.1402, 38.4603), "
            "4490), ST_SetSRID(ST_MakePoint(111.1402, 38.4603), 4490))"))
        conn.execute(text(
            "INSERT INTO std_address (region_code, code, township, road, number, compound, "
            "compound_code, building, unit, room, full_text, level, geom) VALUES "
            "('141123', 'A1', '蔚汾镇', '滨河路', '15', '兴华家园', 'XQ1', '3', '2', '301', "
            "'蔚汾镇滨河路15号兴华家园3号楼2单元301室', 'room', "
            "ST_SetSRID(ST_MakePoint(111.1403, 38.4604), 4490))"))
        m = match_address(conn, "141123", "兴县兴华家园三号楼")
        assert m.level == "building" and (m.lon, m.lat) == pytest.approx((111.1402, 38.4603))
        m = match_address(conn, "141123", "兴华家园3-2-301")
        assert m.level == "room" and m.address_id is not None
        assert match_address(conn, "141123", "临县城庄镇").level == "none"
    engine.dispose()
