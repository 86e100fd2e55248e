"""patrols (巡查): tracks, key points and check-ins (issue 17)

``patrol`` (one walk of a grid worker, the line of its counted points and its figures),
``patrol_point`` (every point sent, ``flag`` when kept but not counted), ``key_point``
(compound gates, cameras, places; a radius and how often a week they are due) and
``patrol_checkin``. Tracks are personal location data (geo.patrols.access) and are purged
after the retention period (``wangge patrols purge``).

Revision ID: 0011
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGS = "('speed', 'jump')"
KINDS = "('compound_gate', 'camera', 'place')"


def _geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4490, spatial_index=False)


def upgrade() -> None:
    op.create_table(
        "patrol",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("region_code", sa.String(12), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("worker_id", sa.Integer,
                  sa.ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("track", _geom("LINESTRING")),
        sa.Column("length_m", sa.Float, nullable=False, server_default="0"),
        sa.Column("duration_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
        sa.Column("points_flagged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("synthetic", sa.Boolean, server_default="false"),
        sa.UniqueConstraint("worker_id", "client_id", name="uq_patrol_client"),
        sa.CheckConstraint("ended_at IS NULL OR ended_at >= started_at",
                           name="ck_patrol_period"),
    )
    op.create_index("ix_patrol_region_started", "patrol", ["region_code", "started_at"])
    op.create_index("ix_patrol_worker_started", "patrol", ["worker_id", "started_at"])
    op.create_index("ix_patrol_user", "patrol", ["user_id"])
    op.create_index("ix_patrol_track", "patrol", ["track"], postgresql_using="gist")

    op.create_table(
        "patrol_point",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("patrol_id", sa.BigInteger,
                  sa.ForeignKey("patrol.id", ondelete="CASCADE"), nullable=False),
        sa.Column("t", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", _geom("POINT"), nullable=False),
        sa.Column("accuracy_m", sa.Float),
        sa.Column("flag", sa.String(16)),
        sa.UniqueConstraint("patrol_id", "t", name="uq_patrol_point_t"),
        sa.CheckConstraint(f"flag IS NULL OR flag IN {FLAGS}", name="ck_patrol_point_flag"),
        sa.CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0",
                           name="ck_patrol_point_acc"),
    )
    op.create_index("ix_patrol_point_geom", "patrol_point", ["geom"], postgresql_using="gist")
    op.create_index("ix_patrol_point_t", "patrol_point", ["region_code", "t"])

    op.create_table(
        "key_point",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("region_code", sa.String(12), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(32)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("geom", _geom("POINT"), nullable=False),
        sa.Column("radius_m", sa.Float, nullable=False, server_default="50"),
        sa.Column("due_per_week", sa.Integer, nullable=False, server_default="1"),
        sa.Column("cell_code", sa.String(32)),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("synthetic", sa.Boolean, server_default="false"),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_key_point_kind"),
        sa.CheckConstraint("radius_m > 0 AND radius_m <= 1000", name="ck_key_point_radius"),
        sa.CheckConstraint("due_per_week >= 0 AND due_per_week <= 50", name="ck_key_point_due"),
    )
    op.create_index("ix_key_point_cell", "key_point", ["region_code", "cell_code"])
    op.create_index("ix_key_point_geom", "key_point", ["geom"], postgresql_using="gist")

    op.create_table(
        "patrol_checkin",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("key_point_id", sa.Integer,
                  sa.ForeignKey("key_point.id", ondelete="CASCADE"), nullable=False),
        sa.Column("worker_id", sa.Integer,
                  sa.ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("geom", _geom("POINT"), nullable=False),
        sa.Column("distance_m", sa.Float, nullable=False),
        sa.Column("synthetic", sa.Boolean, server_default="false"),
    )
    op.create_index("ix_patrol_checkin_key_point", "patrol_checkin", ["key_point_id", "at"])
    op.create_index("ix_patrol_checkin_worker", "patrol_checkin", ["worker_id", "at"])
    op.create_index("ix_patrol_checkin_region_at", "patrol_checkin", ["region_code", "at"])
    op.create_index("ix_patrol_checkin_geom", "patrol_checkin", ["geom"],
                    postgresql_using="gist")


def downgrade() -> None:
    for table in ("patrol_checkin", "key_point", "patrol_point", "patrol"):
        op.drop_table(table)
