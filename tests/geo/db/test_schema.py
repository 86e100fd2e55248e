"""Schema and migrations on a real PostGIS: upgrade from empty, SRIDs, indexes, region_code."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from geo.db.migrate import current_revision, upgrade
from geo.db.tables import Base


def test_upgrade_from_empty_creates_every_table(empty_url: str) -> None:
    engine = create_engine(empty_url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # idempotent
    assert current_revision(engine) is not None
    with engine.connect() as conn:
        tables = {r for (r,) in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
        assert set(Base.metadata.tables) <= tables
        # every geometry column is SRID 4490 and GiST-indexed
        geoms = conn.execute(text(
            "SELECT f_table_name, f_geometry_column, srid FROM geometry_columns "
            "WHERE f_table_schema = 'public'")).all()
        assert len(geoms) >= 7
        for table, column, srid in geoms:
            assert srid == 4490, (table, column, srid)
            idx = conn.execute(text(
                "SELECT count(*) FROM pg_indexes WHERE tablename = :t "
                "AND indexdef ILIKE '%USING gist%' AND indexdef ILIKE :c"),
                {"t": table, "c": f"%({column})%"}).scalar()
            assert idx == 1, f"no GiST index on {table}.{column}"
        # region_code on every table of ours
        for table in Base.metadata.tables:
            cols = {r for (r,) in conn.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t"),
                {"t": table})}
            assert "region_code" in cols, table
    engine.dispose()


def test_only_one_active_boundary_set_per_region(empty_url: str) -> None:
    engine = create_engine(empty_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, region_code, name) VALUES ('1', '1', 'x')"))
        conn.execute(text("INSERT INTO boundary_set (region_code, name, valid_from, is_active) "
                          "VALUES ('1', 'a', '2020-01-01', true)"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO boundary_set (region_code, name, valid_from, is_active) "
                          "VALUES ('1', 'b', '2021-01-01', true)"))
    engine.dispose()


def test_camera_sector_follows_camera_changes(empty_url: str) -> None:
    engine = create_engine(empty_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (code, region_code, name) VALUES ('1', '1', 'x')"))
        conn.execute(text(
            "INSERT INTO camera (region_code, gb_id, bearing_deg, fov_deg, range_m, geom) VALUES "
            "('1', '14112300001310000001', 90, 90, 100, "
            "ST_GeomFromText('POINT(111.13 38.46)', 4490))"))
        area = conn.execute(text("SELECT ST_Area(sector::geography) FROM camera")).scalar()
        assert area == pytest.approx(3.141592653589793 * 100**2 / 4, rel=0.002)
        # the sector points east: its centroid lies east of the camera
        east = conn.execute(text("SELECT ST_X(ST_Centroid(sector)) > 111.13 FROM camera")).scalar()
        assert east
        conn.execute(text("UPDATE camera SET bearing_deg = NULL, range_m = 50"))
        area = conn.execute(text("SELECT ST_Area(sector::geography) FROM camera")).scalar()
        assert area == pytest.approx(3.141592653589793 * 50**2, rel=0.01)
        with pytest.raises(IntegrityError):
            with conn.begin_nested():
                conn.execute(text("UPDATE camera SET gb_id = '123'"))
    engine.dispose()
