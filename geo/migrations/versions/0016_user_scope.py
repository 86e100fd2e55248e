"""app_user.scope_code: prefecture (市级) and province (省级) users see every county below

``scope_code`` is a prefecture (``PPCC00``) or province (``PP0000``) code; such a user sees
its own region and every region whose code starts with ``PPCC`` / ``PP``
(:mod:`geo.regions.codes`). NULL: its own region only (as before).

Revision ID: 0016
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("scope_code", sa.String(length=12), nullable=True))
    op.create_check_constraint(
        "ck_app_user_scope_code", "app_user",
        "scope_code IS NULL OR scope_code ~ '^[0-9]{2}(0000|[0-9]{2}00)$'")


def downgrade() -> None:
    op.drop_constraint("ck_app_user_scope_code", "app_user", type_="check")
    op.drop_column("app_user", "scope_code")
