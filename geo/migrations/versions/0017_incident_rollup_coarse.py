"""monthly and per-cell incident rollups, kept by the daily rollup's trigger (issue 20, target 3)

``incident_rollup_month`` (per county, status and CST report month) answers counts over whole
months (a province KPI reads ~10 rows per county and month instead of one row per report);
``incident_rollup_cell`` (per cell, all time: reports and open ones) answers the overview
tiles at low zoom. Both are written by ``wangge_incident_rollup()`` in the same statement as
the daily rollup (the transition tables are read once; the coarse groups are sums of the daily
groups), replaced here; backfilled from the daily rollup. Row-level security: the incidents'
policy on the columns each table has (the monthly one has no cell or department, so only
callers who see every incident of their regions read it; ``geo.incidents.rollup`` never sends
others there).

Revision ID: 0017
Revises: 0015
"""

from collections.abc import Sequence

from alembic import op

from geo.incidents.rollup import CELL_TABLE, MONTH_TABLE, coarse_backfill_sql, functions_sql

revision: str = "0017"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute(f"""
CREATE TABLE {MONTH_TABLE} (
    id bigserial PRIMARY KEY,
    region_code varchar(12) NOT NULL REFERENCES region(code),
    status varchar(16) NOT NULL,
    month date NOT NULL,
    n integer NOT NULL,
    on_time integer NOT NULL,
    handled integer NOT NULL,
    reworked integer NOT NULL,
    CONSTRAINT uq_{MONTH_TABLE} UNIQUE (region_code, status, month)
);
CREATE INDEX ix_{MONTH_TABLE}_month ON {MONTH_TABLE} (month);
ALTER TABLE {MONTH_TABLE} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {MONTH_TABLE}_scope ON {MONTH_TABLE} TO wangge_app
    USING (wangge_incident_visible(region_code, NULL, NULL));
CREATE TABLE {CELL_TABLE} (
    id bigserial PRIMARY KEY,
    region_code varchar(12) NOT NULL REFERENCES region(code),
    boundary_set_id integer,
    township_code varchar(12),
    cell_code varchar(32),
    n integer NOT NULL,
    open integer NOT NULL,
    CONSTRAINT uq_{CELL_TABLE} UNIQUE NULLS NOT DISTINCT (region_code, boundary_set_id,
        township_code, cell_code)
);
CREATE INDEX ix_{CELL_TABLE}_cell ON {CELL_TABLE} (region_code, cell_code) INCLUDE (n, open);
ALTER TABLE {CELL_TABLE} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {CELL_TABLE}_scope ON {CELL_TABLE} TO wangge_app
    USING (wangge_incident_visible(region_code, cell_code, NULL));
""")
    op.execute(functions_sql())
    op.execute(coarse_backfill_sql())
    op.execute(f"ANALYZE {MONTH_TABLE}")
    op.execute(f"ANALYZE {CELL_TABLE}")


def downgrade() -> None:
    """Revert (the function of 0014 back: the daily rollup only)."""
    op.execute(functions_sql(coarse=False))
    op.execute(f"DROP TABLE IF EXISTS {MONTH_TABLE}")
    op.execute(f"DROP TABLE IF EXISTS {CELL_TABLE}")
