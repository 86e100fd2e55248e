"""PostGIS schema of Wangge (SQLAlchemy 2 + GeoAlchemy2).

Every geometry column is stored in CGCS2000 (EPSG:4490) and carries a GiST index. Every table
carries ``region_code`` (the 6-digit county code), the future distribution key when one server
is not enough (see docs/SCALING.md). Synthetic demo rows have ``synthetic = true``.

Layers and their relations::

    region (county) 1-n admin_unit (county -> township -> village/community)
    region 1-n boundary_set 1-n grid_cell (n-1 admin_unit by parent_code)
    grid_worker 1-n worker_assignment (cell_code, valid_from/valid_to)
    compound (+ compound_mgmt_history), camera, incident (+ incident_event)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
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

# The code lists and their labels live in geo.db.tables.vocab; these names are their codes.
ADMIN_LEVELS = vocab.ADMIN_LEVEL.codes
CELL_KINDS = vocab.CELL_KIND.codes
MGMT_MODES = vocab.MGMT_MODE.codes
OWNERS_COMMITTEE = vocab.OWNERS_COMMITTEE.codes
CAMERA_STATUSES = vocab.CAMERA_STATUS.codes
CHANNELS = vocab.CHANNEL.codes
INCIDENT_STATUSES = vocab.INCIDENT_STATUS.codes
URGENCIES = vocab.URGENCY.codes



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
        CheckConstraint(_in("level", ADMIN_LEVELS), name="ck_admin_unit_level"),
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
        CheckConstraint(_in("kind", CELL_KINDS), name="ck_grid_cell_kind"),
        Index("ix_grid_cell_geom", "geom", postgresql_using="gist"),
        Index("ix_grid_cell_region_code", "region_code", "code"),
        Index("ix_grid_cell_parent", "boundary_set_id", "parent_code"),
    )


class GridWorker(Base):
    """A grid worker (网格员). Name and phone are personal data."""

    __tablename__ = "grid_worker"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    role_note: Mapped[str | None] = mapped_column(String(200))  # e.g. 村两委干部
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (UniqueConstraint("region_code", "code", name="uq_grid_worker_code"),)


class WorkerAssignment(Base):
    """A worker on duty for a cell (by cell code) over [valid_from, valid_to)."""

    __tablename__ = "worker_assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=False
    )
    cell_code: Mapped[str] = mapped_column(String(32), nullable=False)
    valid_from: Mapped[dt.date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # exclusive; NULL = still on duty
    note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_worker_assignment_cell", "region_code", "cell_code", "valid_from"),
        Index("ix_worker_assignment_worker", "worker_id"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="ck_assignment_period"),
    )


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
        CheckConstraint(_in("mgmt_mode", MGMT_MODES), name="ck_compound_mgmt_mode"),
        CheckConstraint(_in("owners_committee", OWNERS_COMMITTEE), name="ck_compound_oc"),
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
        CheckConstraint(_in("mgmt_mode", MGMT_MODES), name="ck_cmh_mgmt_mode"),
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
        CheckConstraint(_in("status", CAMERA_STATUSES), name="ck_camera_status"),
        CheckConstraint(
            "bearing_deg IS NULL OR (bearing_deg >= 0 AND bearing_deg < 360)",
            name="ck_camera_bearing",
        ),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="ck_camera_fov"),
        CheckConstraint("range_m > 0 AND range_m <= 5000", name="ck_camera_range"),
        Index("ix_camera_geom", "geom", postgresql_using="gist"),
        Index("ix_camera_sector", "sector", postgresql_using="gist"),
    )


class Department(Base):
    """A responsible department (住建局, 公安, 消防 ...)."""

    __tablename__ = "department"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(100))


class IncidentCategory(Base):
    """An incident category, its department and its duplicate/deadline parameters."""

    __tablename__ = "incident_category"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str | None] = mapped_column(String(100))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    group: Mapped[str | None] = mapped_column(String(32))  # related categories share a group
    dup_radius_m: Mapped[float] = mapped_column(Float, nullable=False, server_default="250")
    dup_window_h: Mapped[float] = mapped_column(Float, nullable=False, server_default="72")
    # Time limits per step in working minutes, per urgency: {"normal": {...}, "urgent": {...}}
    limits: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class Incident(Base):
    """An incident (事件) reported through a channel; routed to a cell, worker, department.

    ``reporter_name`` / ``reporter_phone`` are personal data. ``geom`` is NULL while the case
    "needs location". ``version`` guards concurrent updates (If-Match).
    """

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    category_code: Mapped[str] = mapped_column(
        ForeignKey("incident_category.code"), nullable=False
    )
    channel: Mapped[str] = mapped_column(String(12), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="reported")
    urgency: Mapped[str] = mapped_column(String(8), nullable=False, server_default="normal")
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(String(300))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    geom: Mapped[Any | None] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    # Routing (filled on intake, each decision explained in ``routing``)
    boundary_set_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_set.id"))
    cell_code: Mapped[str | None] = mapped_column(String(32))
    community_code: Mapped[str | None] = mapped_column(String(12))
    township_code: Mapped[str | None] = mapped_column(String(12))
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id"))
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Case flow
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rework_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("region_code", "code", name="uq_incident_code"),
        CheckConstraint(_in("channel", CHANNELS), name="ck_incident_channel"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="ck_incident_status"),
        CheckConstraint(_in("urgency", URGENCIES), name="ck_incident_urgency"),
        Index("ix_incident_geom", "geom", postgresql_using="gist"),
        Index("ix_incident_reported", "region_code", "reported_at"),
        Index("ix_incident_cell", "region_code", "cell_code"),
        Index("ix_incident_status", "region_code", "status"),
    )


class IncidentEvent(Base):
    """An audited step of an incident's case flow (who, when, from/to status, note)."""

    __tablename__ = "incident_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # transition, note, ...
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = (Index("ix_incident_event_incident", "incident_id", "at"),)
