"""notifications outbox and live events (issue 18)

``outbox``: one message per receiver, written in the case change's transaction
(geo.notify.rules) and delivered by ``wangge notify run`` (geo.notify.deliver). Live events
need no table: ``pg_notify('wangge_events', <incident_event.id>)`` at commit.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("message_id", sa.String(36), nullable=False, unique=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("incident_id", sa.BigInteger,
                  sa.ForeignKey("incident.id", ondelete="CASCADE")),
        sa.Column("event_id", sa.BigInteger),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(100), nullable=False),
        sa.Column("dedupe_key", sa.String(200), unique=True),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_due", "outbox", ["next_at"],
                    postgresql_where=sa.text("state = 'pending'"))
    op.create_index("ix_outbox_incident", "outbox", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_incident", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
