"""planners' analyses: property-management targets (pm_target)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "pm_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint("share > 0 AND share <= 1", name="ck_pm_target_share"),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_pm_target_region_date", "pm_target", ["region_code", "due_date"],
                    unique=True)


def downgrade() -> None:
    """Revert."""
    op.drop_index("uq_pm_target_region_date", table_name="pm_target")
    op.drop_table("pm_target")
