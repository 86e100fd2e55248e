"""per-cell per-day incident rollup kept by triggers (issue 20, target 3)

``incident_rollup_day``: one row per CST report day and combination of the dimensions of
:data:`geo.incidents.rollup.DIMENSIONS` with the counts of :data:`geo.incidents.rollup.MEASURES`,
kept in the transaction of every change of ``incident`` by statement-level triggers with
transition tables (a bulk import pays one grouped upsert per statement), backfilled here. The
trigger SQL lives in :mod:`geo.incidents.rollup` next to its readers. Readable under row-level
security with the incidents' own policy (``wangge_incident_visible``).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

from geo.incidents.rollup import TABLE, backfill_sql, trigger_function_sql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute(f"""
CREATE TABLE {TABLE} (
    id bigserial PRIMARY KEY,
    region_code varchar(12) NOT NULL REFERENCES region(code),
    day date NOT NULL,
    boundary_set_id integer,
    township_code varchar(12),
    cell_code varchar(32),
    department_code varchar,
    worker_id integer,
    category_code varchar NOT NULL,
    channel varchar(12) NOT NULL,
    status varchar(16) NOT NULL,
    urgency varchar(8) NOT NULL,
    located boolean NOT NULL,
    n integer NOT NULL,
    on_time integer NOT NULL,
    handled integer NOT NULL,
    reworked integer NOT NULL,
    CONSTRAINT uq_{TABLE} UNIQUE NULLS NOT DISTINCT (region_code, boundary_set_id,
        township_code, cell_code, department_code, worker_id, category_code, channel, status,
        urgency, located, day)
);
CREATE INDEX ix_{TABLE}_region_day ON {TABLE} (region_code, day);
CREATE INDEX ix_{TABLE}_day ON {TABLE} (day);
ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {TABLE}_scope ON {TABLE} TO wangge_app
    USING (wangge_incident_visible(region_code, cell_code, department_code));
""")
    op.execute(trigger_function_sql())
    op.execute(backfill_sql(coarse=False))
    op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    """Revert."""
    for t in ("ins", "upd", "del", "trunc"):
        op.execute(f"DROP TRIGGER IF EXISTS trg_incident_rollup_{t} ON incident")
    op.execute("DROP FUNCTION IF EXISTS wangge_incident_rollup()")
    op.execute("DROP FUNCTION IF EXISTS wangge_incident_rollup_truncate()")
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
