"""dispatch: holiday calendar, incident attachments, deadline columns

Revision ID: 0004
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holiday",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), server_default="CN", nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_holiday_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("region_code", "day", name="uq_holiday_day"),
    )
    op.create_table(
        "incident_attachment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incident.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_incident_attachment_incident", "incident_attachment", ["incident_id"])
    op.add_column("incident", sa.Column("final_due_at", sa.DateTime(timezone=True)))
    op.add_column("incident", sa.Column("paused_at", sa.DateTime(timezone=True)))
    op.add_column("incident", sa.Column("deadline", postgresql.JSONB()))
    op.create_index("ix_incident_due", "incident", ["region_code", "due_at"])
    # Foreign keys into incident / grid_worker: without these a reload of the demo (DELETE of
    # 20,000 incidents) scans the table once per row (minutes instead of a second).
    op.create_index("ix_incident_merged_into", "incident", ["merged_into_id"])
    op.create_index("ix_incident_worker", "incident", ["worker_id"])

    # Seed the calendar from the chinese-calendar package (2004-2026 in version 1.11).
    from geo.incidents.calendar import seed_rows

    holiday = sa.table(
        "holiday", sa.column("region_code", sa.String), sa.column("day", sa.Date),
        sa.column("kind", sa.String), sa.column("name", sa.String),
        sa.column("source", sa.String),
    )
    op.bulk_insert(
        holiday,
        [{**r, "region_code": "CN", "source": "chinese-calendar"} for r in seed_rows()],
    )


def downgrade() -> None:
    op.drop_index("ix_incident_worker", table_name="incident")
    op.drop_index("ix_incident_merged_into", table_name="incident")
    op.drop_index("ix_incident_due", table_name="incident")
    op.drop_column("incident", "deadline")
    op.drop_column("incident", "paused_at")
    op.drop_column("incident", "final_due_at")
    op.drop_index("ix_incident_attachment_incident", table_name="incident_attachment")
    op.drop_table("incident_attachment")
    op.drop_table("holiday")
