"""The Xing County demo: counts, hierarchy, partitions, synthetic marks."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.demo.generate import TOWNSHIPS


def scalar(engine: Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_counts(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        levels = dict(conn.execute(text(
            "SELECT level, count(*) FROM admin_unit GROUP BY level")).all())
        assert levels == {"county": 1, "township": 17, "village": 244, "community": 9}
        names = {r for (r,) in conn.execute(text(
            "SELECT name FROM admin_unit WHERE level = 'township'"))}
        assert names == {t[1] for t in TOWNSHIPS}
        comm = dict(conn.execute(text(
            "SELECT t.name, count(*) FROM admin_unit c JOIN admin_unit t ON t.code = c.parent_code"
            " WHERE c.level = 'community' GROUP BY t.name")).all())
        assert comm == {"蔚汾镇": 8, "蔡家崖乡": 1}
        assert 280 <= conn.execute(text("SELECT count(*) FROM compound")).scalar_one() <= 320
        assert conn.execute(text("SELECT count(*) FROM camera")).scalar_one() == 1500
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 20_000
        lo, hi = conn.execute(text(
            "SELECT min(reported_at AT TIME ZONE 'Asia/Shanghai')::date, "
            "max(reported_at AT TIME ZONE 'Asia/Shanghai')::date FROM incident")).one()
        assert str(lo) >= "2025-01-01" and str(hi) <= "2026-10-31"
        # every row but the county boundary is marked synthetic
        for table in ("grid_cell", "grid_worker", "compound", "camera", "incident"):
            assert conn.execute(text(
                f"SELECT count(*) FROM {table} WHERE NOT synthetic")).scalar() == 0, table
        assert conn.execute(text(
            "SELECT count(*) FROM admin_unit WHERE NOT synthetic")).scalar() == 1


def test_county_boundary_is_real_and_in_cgcs2000(demo_engine: Engine) -> None:
    area_km2 = scalar(demo_engine, "SELECT ST_Area(geom::geography) / 1e6 FROM admin_unit "
                                   "WHERE level = 'county'")
    assert 3140 < float(area_km2) < 3190  # type: ignore[arg-type]  # official 3,168 km^2


def test_codes_are_hierarchical(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        bad = conn.execute(text(
            "SELECT count(*) FROM grid_cell c WHERE length(c.code) <> 15 "
            "OR left(c.code, 12) <> c.parent_code OR left(c.code, 9) <> c.township_code "
            "OR left(c.code, 6) <> c.region_code")).scalar()
        assert bad == 0
        bad = conn.execute(text(
            "SELECT count(*) FROM admin_unit u WHERE level IN ('village', 'community') "
            "AND (length(code) <> 12 OR left(code, 9) <> parent_code)")).scalar()
        assert bad == 0


# Geometry is built in metres (EPSG:4546) and stored in degrees: a straight edge of a parent
# and the same edge split by a child's extra vertex differ by millimetres once projected.
# Containment and partitions are therefore checked to within 1e-7 degrees (about 1 cm).
EPS = "1e-7"


def test_every_cell_inside_its_parent(demo_engine: Engine) -> None:
    outside = scalar(demo_engine, f"""
        SELECT count(*) FROM grid_cell c JOIN admin_unit a ON a.code = c.parent_code
        WHERE NOT ST_Covers(ST_Buffer(a.geom, {EPS}), c.geom)""")
    assert outside == 0


def test_basic_cells_partition_every_village_and_community(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        overlaps = conn.execute(text(f"""
            SELECT count(*) FROM grid_cell a JOIN grid_cell b
              ON a.parent_code = b.parent_code AND a.code < b.code
             AND a.boundary_set_id = b.boundary_set_id AND a.geom && b.geom
            WHERE a.kind = 'basic' AND b.kind = 'basic'
              AND ST_Intersects(a.geom, ST_Buffer(b.geom, -{EPS}))""")).scalar()
        assert overlaps == 0
        gaps = conn.execute(text(f"""
            SELECT count(*) FROM admin_unit a
            JOIN (SELECT parent_code, ST_Union(geom) AS g FROM grid_cell
                  WHERE kind = 'basic' GROUP BY parent_code) c ON c.parent_code = a.code
            WHERE NOT ST_Covers(ST_Buffer(c.g, {EPS}), a.geom)""")).scalar()
        assert gaps == 0
        orphans = conn.execute(text("""
            SELECT count(*) FROM admin_unit a WHERE level IN ('village', 'community')
            AND NOT EXISTS (SELECT 1 FROM grid_cell c WHERE c.parent_code = a.code)""")).scalar()
        assert orphans == 0


def test_incidents_are_routed(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        unrouted = conn.execute(text(
            "SELECT count(*) FROM incident WHERE cell_code IS NULL OR department_code IS NULL"
        )).scalar()
        assert unrouted == 0
        wrong = conn.execute(text(
            "SELECT count(*) FROM incident i JOIN grid_cell c ON c.code = i.cell_code "
            "WHERE NOT ST_Covers(c.geom, i.geom)")).scalar()
        assert wrong == 0
