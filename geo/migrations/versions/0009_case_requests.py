"""workers' requests on a case, and idempotent writes (issue 17)

``incident_request``: a grid worker or department asks the command centre for an extension,
to return a case (退单) or to suspend it; the command centre approves or refuses.
``idempotency_key``: the first answer to a write sent with an ``Idempotency-Key`` header, so
that a phone's offline queue can resend without making a second case.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_request",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("incident_id", sa.BigInteger,
                  sa.ForeignKey("incident.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("minutes", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("decided_by", sa.String(100)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decision_note", sa.Text),
        sa.CheckConstraint("kind IN ('extension', 'return', 'suspend')",
                           name="ck_incident_request_kind"),
        sa.CheckConstraint("state IN ('pending', 'approved', 'refused')",
                           name="ck_incident_request_state"),
    )
    op.create_index("ix_incident_request_incident", "incident_request",
                    ["incident_id", "state"])
    op.create_table(
        "idempotency_key",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False, server_default=""),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="running"),
        sa.Column("status", sa.Integer),
        sa.Column("content_type", sa.String(100)),
        sa.Column("headers", JSONB),
        sa.Column("body", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.CheckConstraint("state IN ('running', 'done')", name="ck_idempotency_key_state"),
    )
    op.create_index("ix_idempotency_key_created", "idempotency_key", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_key")
    op.drop_table("incident_request")
