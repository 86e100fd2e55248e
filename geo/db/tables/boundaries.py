"""Regions, administrative units, boundary sets ("generations") and grid cells.

Every geometry column is stored in CGCS2000 (EPSG:4490) and carries a GiST index. Every table
carries ``region_code`` (the 6-digit county code), the future distribution key when one server
is not enough (see docs/SCALING.md). Synthetic demo rows have ``synthetic = true``.

Relations::

    region (county) 1-n admin_unit (county -> township -> village/community)
    region 1-n boundary_set 1-n grid_cell (n-1 admin_unit by parent_code)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables import vocab
from geo.db.tables.base import SRID, Base, _in


class Region(Base):
    """A region (county) served by this installation; its code is the distribution key."""

    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(100))
    # Where the region's boundary came from; the boundary itself is the county admin_unit.
    source: Mapped[str | None] = mapped_column(Text)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AdminUnit(Base):
    """County, township (乡镇), village (行政村) or community (社区), GB/T 2260-style codes.

    Codes: county 6 digits, township 9 (county + 3), village/community 12 (township + 3).
    """

    __tablename__ = "admin_unit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(12), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(12))
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    source: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        UniqueConstraint("region_code", "code", name="uq_admin_unit_code"),
        CheckConstraint(_in("level", vocab.ADMIN_LEVEL.codes), name="ck_admin_unit_level"),
        Index("ix_admin_unit_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_unit_parent", "region_code", "parent_code"),
    )


class BoundarySet(Base):
    """A generation of grid-cell boundaries (MapIt's "generation").

    Exactly one set per region is active; new sets load inactive and are switched on after
    checks. Old sets stay for history: an incident is located in the set valid at its date.
    """

    __tablename__ = "boundary_set"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    valid_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # exclusive; NULL = open-ended
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    source: Mapped[str | None] = mapped_column(Text)
    checks: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        Index(
            "uq_boundary_set_one_active",
            "region_code",
            unique=True,
            postgresql_where=text("is_active"),
        ),
        UniqueConstraint("region_code", "name", name="uq_boundary_set_name"),
    )


class GridCell(Base):
    """A grid cell (网格): 15-digit code = county 6 + township 3 + village/community 3 + seq 3.

    ``kind`` is ``basic`` (basic cells of one village/community partition it) or ``dedicated``
    (专属网格: a school, hospital, market or park, lying over basic cells).
    """

    __tablename__ = "grid_cell"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    boundary_set_id: Mapped[int] = mapped_column(
        ForeignKey("boundary_set.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(12), nullable=False, server_default="basic")
    parent_code: Mapped[str | None] = mapped_column(String(12))  # village/community
    township_code: Mapped[str | None] = mapped_column(String(12))
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    attrs: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("boundary_set_id", "code", name="uq_grid_cell_set_code"),
        CheckConstraint(_in("kind", vocab.CELL_KIND.codes), name="ck_grid_cell_kind"),
        Index("ix_grid_cell_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_cell_region_code", "region_code", "code"),
        Index("ix_grid_cell_parent", "boundary_set_id", "parent_code"),
    )
