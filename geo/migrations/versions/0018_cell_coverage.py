"""camera coverage stored per cell, recomputed for the cells a camera change touches (issue 20)

``cell_coverage`` holds per basic cell (``grid_cell.id``) the area, the area covered by the
union of the online sectors touching it and the camera counts, computed by the analysis' own
SQL (:data:`geo.analysis.coverage.PER_UNIT_SQL`) in the region's metric CRS, recorded in
``cell_coverage_region``. Statement-level triggers on ``camera`` (insert, update, delete: the
cells the old and new sectors and points touch) and on ``grid_cell`` (new or changed cells)
recompute them in the transaction of the change. Backfilled here per region.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from geo.analysis.coverage import (
    CELL_TABLE,
    REGION_TABLE,
    refresh_function_sql,
    store_region,
    triggers_sql,
)

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute(f"""
CREATE TABLE {REGION_TABLE} (
    region_code varchar(12) PRIMARY KEY REFERENCES region(code) ON DELETE CASCADE,
    srid integer NOT NULL
);
CREATE TABLE {CELL_TABLE} (
    cell_id integer PRIMARY KEY REFERENCES grid_cell(id) ON DELETE CASCADE,
    area_m2 double precision NOT NULL,
    covered_m2 double precision NOT NULL,
    cameras_online integer NOT NULL,
    cameras_not_online integer NOT NULL,
    cameras_no_bearing integer NOT NULL
);
""")
    op.execute(refresh_function_sql())
    op.execute(triggers_sql())
    conn = op.get_bind()
    for (region,) in conn.execute(text("SELECT DISTINCT region_code FROM grid_cell ORDER BY 1")
                                  ).all():
        store_region(conn, region)
    op.execute(f"ANALYZE {CELL_TABLE}")


def downgrade() -> None:
    """Revert."""
    for name, table in (("camera_coverage_ins", "camera"), ("camera_coverage_upd", "camera"),
                        ("camera_coverage_del", "camera"), ("grid_cell_coverage_ins", "grid_cell"),
                        ("grid_cell_coverage_upd", "grid_cell")):
        op.execute(f"DROP TRIGGER IF EXISTS trg_{name} ON {table}")
    for fn in ("wangge_camera_coverage()", "wangge_grid_cell_coverage()",
               "wangge_cell_coverage_refresh(integer[])"):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    op.execute(f"DROP TABLE IF EXISTS {CELL_TABLE}")
    op.execute(f"DROP TABLE IF EXISTS {REGION_TABLE}")
