"""logout ends the session: auth_session_revoked (review finding F13)

A session token is signed, not stored; ``POST /auth/logout`` records the token's random
session id here so that the token stops working at once instead of living on until it
expires. Rows are removed once the token would have expired anyway.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_session_revoked",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False, server_default=""),
        sa.Column("user_id", sa.Integer,
                  sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auth_session_revoked_expires", "auth_session_revoked", ["expires_at"])


def downgrade() -> None:
    op.drop_table("auth_session_revoked")
