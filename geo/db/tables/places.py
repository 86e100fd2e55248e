"""Residential compounds (with their property-management history) and cameras."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables import vocab
from geo.db.tables.base import SRID, Base, _in


class Compound(Base):
    """A residential compound (住宅小区) and its property management (物业)."""

    __tablename__ = "compound"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str | None] = mapped_column(String(300))
    community_code: Mapped[str | None] = mapped_column(String(12))
    households: Mapped[int | None] = mapped_column(Integer)
    buildings: Mapped[int | None] = mapped_column(Integer)
    built_year: Mapped[int | None] = mapped_column(Integer)
    mgmt_mode: Mapped[str] = mapped_column(String(16), nullable=False, server_default="none")
    company_name: Mapped[str | None] = mapped_column(String(200))
    company_credit: Mapped[str | None] = mapped_column(String(16))
    owners_committee: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default="none"
    )
    complaint_phone: Mapped[str | None] = mapped_column(String(32))
    complaint_phone_posted: Mapped[bool | None] = mapped_column(Boolean)
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False
    )
    entrance: Mapped[Any | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("region_code", "code", name="uq_compound_code"),
        CheckConstraint(_in("mgmt_mode", vocab.MGMT_MODE.codes), name="ck_compound_mgmt_mode"),
        CheckConstraint(_in("owners_committee", vocab.OWNERS_COMMITTEE.codes),
                        name="ck_compound_oc"),
        Index("ix_compound_geom", "geom", postgresql_using="gist"),
        Index("ix_compound_entrance", "entrance", postgresql_using="gist"),
        Index("ix_compound_name", "region_code", "name"),
    )


class CompoundMgmtHistory(Base):
    """Property-management mode of a compound over [valid_from, valid_to)."""

    __tablename__ = "compound_mgmt_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    compound_id: Mapped[int] = mapped_column(
        ForeignKey("compound.id", ondelete="CASCADE"), nullable=False
    )
    mgmt_mode: Mapped[str] = mapped_column(String(16), nullable=False)
    company_name: Mapped[str | None] = mapped_column(String(200))
    owners_committee: Mapped[str | None] = mapped_column(String(16))
    valid_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    __table_args__ = (
        CheckConstraint(_in("mgmt_mode", vocab.MGMT_MODE.codes), name="ck_cmh_mgmt_mode"),
        Index("ix_cmh_compound", "compound_id", "valid_from"),
    )


class Camera(Base):
    """A public video camera (雪亮工程). ``sector`` is its field of view, kept by a trigger.

    ``gb_id`` is the 20-digit GB/T 28181 id: 8 centre/area + 2 trade + 3 type + 1 network +
    6 serial. ``bearing_deg`` is clockwise from north; NULL means unknown (treated as a full
    circle of ``range_m`` and flagged).
    """

    __tablename__ = "camera"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    gb_id: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float, nullable=False, server_default="90")
    range_m: Mapped[float] = mapped_column(Float, nullable=False, server_default="50")
    status: Mapped[str] = mapped_column(String(12), nullable=False, server_default="online")
    project: Mapped[str | None] = mapped_column(String(50))
    installed_at: Mapped[dt.date | None] = mapped_column(Date)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    sector: Mapped[Any | None] = mapped_column(
        Geometry("POLYGON", srid=SRID, spatial_index=False)
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("gb_id", name="uq_camera_gb_id"),
        CheckConstraint("gb_id ~ '^[0-9]{20}$'", name="ck_camera_gb_id"),
        CheckConstraint(_in("status", vocab.CAMERA_STATUS.codes), name="ck_camera_status"),
        CheckConstraint(
            "bearing_deg IS NULL OR (bearing_deg >= 0 AND bearing_deg < 360)",
            name="ck_camera_bearing",
        ),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="ck_camera_fov"),
        CheckConstraint("range_m > 0 AND range_m <= 5000", name="ck_camera_range"),
        Index("ix_camera_geom", "geom", postgresql_using="gist"),
        Index("ix_camera_sector", "sector", postgresql_using="gist"),
    )
