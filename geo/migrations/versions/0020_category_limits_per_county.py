"""each county's own time limits for the shared categories

The category table is one per installation (its ``region_code`` the county that created it);
review round 9 found that 临县's admin changed 兴县's deadlines through it. A county's admin now
sets her county's limits in ``incident_category_limits`` (a county without a row follows the
category's own ``limits``): see :func:`geo.incidents.reference.set_limits`.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "incident_category_limits",
        sa.Column("region_code", sa.String(12),
                  sa.ForeignKey("region.code", ondelete="CASCADE"), primary_key=True),
        sa.Column("category_code", sa.String(32),
                  sa.ForeignKey("incident_category.code", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("limits", JSONB, nullable=False),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("incident_category_limits")
