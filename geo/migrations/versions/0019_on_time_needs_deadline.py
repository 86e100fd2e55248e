"""on time needs a deadline: a closed case without a final due time is no longer on time

``geo.incidents.rollup.ON_TIME_SQL`` counted a case with no ``final_due_at`` as closed on
time (a county filled without deadlines showed 100 % on time); it now requires one and the
KPIs count such cases as 无时限 (``no_deadline``). The rollup function is replaced (its body
is generated from the rule) and the rollups are rebuilt from ``incident``.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

from geo.incidents.rollup import CELL_TABLE, MONTH_TABLE, TABLE, backfill_sql, functions_sql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute(functions_sql())
    op.execute(backfill_sql())
    for table in (TABLE, MONTH_TABLE, CELL_TABLE):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    """Nothing to undo in the schema: the rule lives in geo.incidents.rollup."""
