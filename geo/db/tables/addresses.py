"""The building and standard-address register (楼栋, 标准地址) and saved import mapping profiles.

``building``: a building of a compound (or standing alone), its footprint polygon or a point,
``point`` the one point answered for it (the footprint's centroid, or a point on it).
``std_address``: a standard address (一标三实's 标准地址): township / village-community / road /
number / compound / building / unit / room, each with its point; ``level`` is the finest part it
names. The address matcher (geo.addresses) reads both with the compounds and admin units.
``import_profile``: a named mapping of a source's files (12345 exports ...) onto the importer's
options (columns, time format, category map, channel, default department).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables import vocab
from geo.db.tables.base import SRID, Base, _in

REGISTER_LEVELS = tuple(c for c in vocab.ADDRESS_LEVEL.codes if c != "none")


class Building(Base):
    """A building (楼栋): footprint or point, compound, address, floors, units."""

    __tablename__ = "building"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)  # 3号楼
    compound_code: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    floors: Mapped[int | None] = mapped_column(Integer)
    units: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[Any] = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False),
                                      nullable=False)
    point: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False),
                                       nullable=False)
    source: Mapped[str | None] = mapped_column(String(100))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("region_code", "code", name="uq_building_code"),
        CheckConstraint("floors IS NULL OR (floors >= 0 AND floors <= 200)",
                        name="ck_building_floors"),
        CheckConstraint("units IS NULL OR (units >= 0 AND units <= 100)",
                        name="ck_building_units"),
        Index("ix_building_geom", "geom", postgresql_using="gist"),
        Index("ix_building_point", "point", postgresql_using="gist"),
        Index("ix_building_compound", "region_code", "compound_code"),
    )


class StdAddress(Base):
    """A standard address (标准地址) and its point."""

    __tablename__ = "std_address"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    township: Mapped[str | None] = mapped_column(String(50))
    community: Mapped[str | None] = mapped_column(String(50))  # village or community
    road: Mapped[str | None] = mapped_column(String(50))
    number: Mapped[str | None] = mapped_column(String(20))  # 门牌号
    compound: Mapped[str | None] = mapped_column(String(100))
    compound_code: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(20))
    building_code: Mapped[str | None] = mapped_column(String(40))
    unit: Mapped[str | None] = mapped_column(String(20))
    room: Mapped[str | None] = mapped_column(String(20))
    full_text: Mapped[str] = mapped_column(String(300), nullable=False)
    level: Mapped[str] = mapped_column(String(12), nullable=False)
    geom: Mapped[Any] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False),
                                      nullable=False)
    source: Mapped[str | None] = mapped_column(String(100))
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("region_code", "code", name="uq_std_address_code"),
        CheckConstraint(_in("level", REGISTER_LEVELS), name="ck_std_address_level"),
        Index("ix_std_address_geom", "geom", postgresql_using="gist"),
        Index("ix_std_address_compound", "region_code", "compound_code"),
    )


class ImportProfile(Base):
    """A saved mapping profile of one source's files (``wangge import profile``)."""

    __tablename__ = "import_profile"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    layer: Mapped[str] = mapped_column(String(16), nullable=False, server_default="incidents")
    profile: Mapped[dict[str, Any]] = mapped_column(nullable=False)
    saved_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        UniqueConstraint("region_code", "name", name="uq_import_profile_name"),
        CheckConstraint("name ~ '^[A-Za-z0-9_.\\-]{1,64}$'", name="ck_import_profile_name"),
    )
