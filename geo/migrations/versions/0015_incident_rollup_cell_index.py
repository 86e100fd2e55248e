"""index of the incident rollup by cell (issue 20, target 3)

Per-cell reads of ``incident_rollup_day`` (the overview's per-cell counts, the dispatch map's)
look rows up by ``(region_code, cell_code)``, as ``ix_incident_cell`` does on ``incident``.
Numbered 0015 (reserved for issue 20) but applied after 0016, which was committed first.

Revision ID: 0015
Revises: 0016
"""

from collections.abc import Sequence

from alembic import op

from geo.incidents.rollup import TABLE

revision: str = "0015"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.execute(f"CREATE INDEX ix_{TABLE}_cell ON {TABLE} (region_code, cell_code)")


def downgrade() -> None:
    """Revert."""
    op.execute(f"DROP INDEX IF EXISTS ix_{TABLE}_cell")
