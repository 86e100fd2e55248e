"""The camera coverage stored per cell (migration 0018, :mod:`geo.analysis.coverage`) equals
the on-the-fly computation after a camera is added, moved, switched off, deleted and after a
cameras import; only the cells a change touches are recomputed; a stored value off by a
square metre is seen (the comparison can fail). The stored coverage is computed where a
region's boundary is written (the demo loader, ``wangge region add`` + ``demo load
--region``), never by a read: a read of a region whose stored coverage is absent or in another
CRS answers on the fly and writes nothing (it passes inside a read-only transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import Engine

from geo.analysis.common import region_metric_srid
from geo.analysis.coverage import CELL_TABLE, REGION_TABLE, coverage_by_unit
from geo.boundaries.sets import set_valid_at
from tests.two_counties import LIN, two_county_fixture

REGION = "141123"

two_counties = two_county_fixture()


@pytest.fixture()
def engine(fresh_demo_url: str) -> Iterator[Engine]:
    """The demo, as loaded (its coverage stored by the loader)."""
    e = create_engine(fresh_demo_url)
    yield e
    e.dispose()


def rows(conn: Connection, stored: bool, region: str = REGION) -> list[dict[str, Any]]:
    set_id = set_valid_at(conn, region, None)[0]
    units = coverage_by_unit(conn, region, "cell", set_id, stored=stored)
    return units.drop(columns="geometry").to_dict("records")


def assert_equal(conn: Connection, region: str = REGION) -> float:
    """Stored = on the fly (every column as the analysis answers it); the covered area."""
    got, want = rows(conn, True, region), rows(conn, False, region)
    assert len(got) == len(want) > 100
    assert got == want
    return sum(r["covered_m2"] for r in got)


def stored_srid(conn: Connection, region: str) -> int | None:
    return conn.execute(text(f"SELECT srid FROM {REGION_TABLE} WHERE region_code = :r"),
                        {"r": region}).scalar()


def read_only(conn: Connection) -> None:
    """Make ``conn``'s (new) transaction read-only: any write in it fails."""
    conn.execute(text("SET TRANSACTION READ ONLY"))


def test_the_loaders_store_the_coverage_and_a_read_writes_nothing(
        engine: Engine, two_counties: tuple[str, Engine]) -> None:
    # the demo loader, and `wangge region add` + `wangge demo load --region` (临县), store it
    with engine.connect() as conn:
        read_only(conn)
        assert stored_srid(conn, REGION) == region_metric_srid(conn, REGION)
        assert 0 < assert_equal(conn)
    with two_counties[1].connect() as conn:
        read_only(conn)
        assert stored_srid(conn, LIN) == region_metric_srid(conn, LIN) != 0
        assert 0 < assert_equal(conn, LIN)
    # absent (a region the stored coverage never knew): answered on the fly, nothing written
    with engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {CELL_TABLE}"))
        conn.execute(text(f"DELETE FROM {REGION_TABLE}"))
    with engine.connect() as conn:
        read_only(conn)
        assert 0 < assert_equal(conn)
        assert stored_srid(conn, REGION) is None
        assert conn.execute(text(f"SELECT count(*) FROM {CELL_TABLE}")).scalar() == 0


def stamp(conn: Connection) -> dict[int, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in conn.execute(text(f"SELECT * FROM {CELL_TABLE}"))}


def test_stored_coverage_follows_camera_changes(engine: Engine) -> None:
    with engine.connect() as conn:
        covered = assert_equal(conn)
        assert covered > 0
        # the comparison can fail: a stored value off by one square metre
        conn.execute(text(f"UPDATE {CELL_TABLE} SET covered_m2 = covered_m2 + 1 WHERE cell_id "
                          f"= (SELECT min(cell_id) FROM {CELL_TABLE} WHERE covered_m2 > 0)"))
        with pytest.raises(AssertionError):
            assert_equal(conn)
        conn.rollback()

        # a new camera in an empty place: only the cells its sector and point touch change
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(g.geom) AS p FROM grid_cell g "
            "JOIN boundary_set s ON s.id = g.boundary_set_id AND s.is_active WHERE g.kind = "
            "'basic' AND NOT EXISTS (SELECT 1 FROM camera c WHERE ST_DWithin(c.geom, g.geom, "
            "0.01)) ORDER BY g.code LIMIT 1) x")).one()
        before = stamp(conn)
        conn.execute(text(
            "INSERT INTO camera (region_code, gb_id, bearing_deg, fov_deg, range_m, status, geom)"
            " VALUES (:r, '14112399991320009001', 90, 120, 300, 'online', "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"), {"r": REGION, "x": lon, "y": lat})
        after = stamp(conn)
        changed = {k for k in after if after[k] != before.get(k)}
        assert 0 < len(changed) <= 30  # of the county's hundreds of cells
        assert assert_equal(conn) > covered
        # moved, turned, switched off, back on, deleted
        conn.execute(text("UPDATE camera SET geom = ST_Translate(geom, 0.003, 0.001) "
                          "WHERE gb_id = '14112399991320009001'"))
        assert_equal(conn)
        conn.execute(text("UPDATE camera SET bearing_deg = 200, range_m = 800 "
                          "WHERE gb_id = '14112399991320009001'"))
        assert_equal(conn)
        conn.execute(text("UPDATE camera SET status = 'fault' "
                          "WHERE gb_id = '14112399991320009001'"))
        assert abs(assert_equal(conn) - covered) < 1e-3
        conn.execute(text("UPDATE camera SET status = 'online' "
                          "WHERE gb_id = '14112399991320009001'"))
        assert_equal(conn)
        conn.execute(text("DELETE FROM camera WHERE gb_id = '14112399991320009001'"))
        assert abs(assert_equal(conn) - covered) < 1e-3
        # many cameras in one statement (the existing ones switched off and on)
        conn.execute(text("UPDATE camera SET status = 'offline' WHERE region_code = :r AND "
                          "id % 3 = 0"), {"r": REGION})
        assert assert_equal(conn) < covered
        conn.commit()


def test_stored_coverage_follows_an_import_and_a_new_region_crs(engine: Engine,
                                                                 tmp_path: Path) -> None:
    from geo.io.importer import ImportOptions, run_import

    with engine.connect() as conn:
        covered = assert_equal(conn)
        lon, lat = conn.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM admin_unit "
            "WHERE region_code = :r AND level = 'county') x"), {"r": REGION}).one()
    path = tmp_path / "cams.csv"
    pd.DataFrame({"gb_id": [f"1411239999132000{k:04d}" for k in range(40)],
                  "lon": [lon + (k % 8) * 0.004 for k in range(40)],
                  "lat": [lat + (k // 8) * 0.004 for k in range(40)],
                  "bearing": [str((k * 45) % 360) for k in range(40)],
                  "range": ["200"] * 40}).to_csv(path, index=False)
    rep = run_import(engine, "cameras", path,
                     ImportOptions(region=REGION, commit=True, code_field="gb_id"))
    assert rep.committed and rep.new == 40, rep.summary_lines()
    with engine.connect() as conn:
        assert assert_equal(conn) > covered
    # a re-import with other bearings updates in one statement
    pd.read_csv(path, dtype=str).assign(bearing="10").to_csv(path, index=False)
    rep = run_import(engine, "cameras", path,
                     ImportOptions(region=REGION, commit=True, code_field="gb_id"))
    assert rep.committed and rep.updated == 40, rep.summary_lines()
    with engine.connect() as conn:
        assert_equal(conn)
        # stored in another CRS (or never): answered on the fly, the stored rows untouched
        conn.execute(text(f"UPDATE {REGION_TABLE} SET srid = 4547 WHERE region_code = :r"),
                     {"r": REGION})
        conn.execute(text(f"UPDATE {CELL_TABLE} SET covered_m2 = 0"))
        assert_equal(conn)
        assert stored_srid(conn, REGION) == 4547
        assert conn.execute(text(f"SELECT max(covered_m2) FROM {CELL_TABLE}")).scalar() == 0
        conn.execute(text(f"DELETE FROM {REGION_TABLE}"))
        conn.execute(text(f"DELETE FROM {CELL_TABLE}"))
        assert_equal(conn)
