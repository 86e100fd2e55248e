"""buildings, standard addresses and import mapping profiles (issue 19)

``building`` (楼栋: footprint or point, compound, address, floors, units, its answered point),
``std_address`` (标准地址: township / village-community / road / number / compound / building /
unit / room, each with a point) and ``import_profile`` (a source's saved mapping onto the
importer's options).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = "('room', 'building', 'compound', 'road', 'village', 'township')"


def _geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4490, spatial_index=False)


def upgrade() -> None:
    op.create_table(
        "building",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("region_code", sa.String(12), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("compound_code", sa.String(32)),
        sa.Column("address", sa.String(300)),
        sa.Column("floors", sa.Integer),
        sa.Column("units", sa.Integer),
        sa.Column("geom", _geom("GEOMETRY"), nullable=False),
        sa.Column("point", _geom("POINT"), nullable=False),
        sa.Column("source", sa.String(100)),
        sa.Column("synthetic", sa.Boolean, server_default="false"),
        sa.UniqueConstraint("region_code", "code", name="uq_building_code"),
        sa.CheckConstraint("floors IS NULL OR (floors >= 0 AND floors <= 200)",
                           name="ck_building_floors"),
        sa.CheckConstraint("units IS NULL OR (units >= 0 AND units <= 100)",
                           name="ck_building_units"),
    )
    op.create_index("ix_building_geom", "building", ["geom"], postgresql_using="gist")
    op.create_index("ix_building_point", "building", ["point"], postgresql_using="gist")
    op.create_index("ix_building_compound", "building", ["region_code", "compound_code"])

    op.create_table(
        "std_address",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("region_code", sa.String(12), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("township", sa.String(50)),
        sa.Column("community", sa.String(50)),
        sa.Column("road", sa.String(50)),
        sa.Column("number", sa.String(20)),
        sa.Column("compound", sa.String(100)),
        sa.Column("compound_code", sa.String(32)),
        sa.Column("building", sa.String(20)),
        sa.Column("building_code", sa.String(40)),
        sa.Column("unit", sa.String(20)),
        sa.Column("room", sa.String(20)),
        sa.Column("full_text", sa.String(300), nullable=False),
        sa.Column("level", sa.String(12), nullable=False),
        sa.Column("geom", _geom("POINT"), nullable=False),
        sa.Column("source", sa.String(100)),
        sa.Column("synthetic", sa.Boolean, server_default="false"),
        sa.UniqueConstraint("region_code", "code", name="uq_std_address_code"),
        sa.CheckConstraint(f"level IN {LEVELS}", name="ck_std_address_level"),
    )
    op.create_index("ix_std_address_geom", "std_address", ["geom"], postgresql_using="gist")
    op.create_index("ix_std_address_compound", "std_address", ["region_code", "compound_code"])

    op.create_table(
        "import_profile",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("region_code", sa.String(12), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False, server_default="incidents"),
        sa.Column("profile", JSONB, nullable=False),
        sa.Column("saved_by", sa.String(100)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.UniqueConstraint("region_code", "name", name="uq_import_profile_name"),
        sa.CheckConstraint("name ~ '^[A-Za-z0-9_.\\-]{1,64}$'", name="ck_import_profile_name"),
    )


def downgrade() -> None:
    for table in ("import_profile", "std_address", "building"):
        op.drop_table(table)
