"""Incidents: departments, categories, incidents and their events; holidays, attachments.

Migration 0001 created the first four; migration 0004 added holidays, attachments and the
deadline columns.

``holiday`` rows are exceptions to "Monday-Friday work" (``region_code = 'CN'`` nationwide).
``incident_attachment`` records photos stored under ``<data_dir>/attachments``. The incident
table gains ``final_due_at`` (deadline of the whole case), ``paused_at`` and ``deadline`` (the
current step's clock: step, limit, extensions, warnings, ``calendar_incomplete``).
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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables import vocab
from geo.db.tables.base import SRID, Base, _in


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


class IncidentCategoryLimits(Base):
    """A county's own time limits for a category (migration 0020): the category table is shared
    by the counties of an installation, each county's admin sets her county's deadlines here
    (:func:`geo.incidents.reference.set_limits`); a county without a row follows the
    category's ``limits``."""

    __tablename__ = "incident_category_limits"
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code", ondelete="CASCADE"),
                                             primary_key=True)
    category_code: Mapped[str] = mapped_column(
        ForeignKey("incident_category.code", ondelete="CASCADE"), primary_key=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)


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
        CheckConstraint(_in("channel", vocab.CHANNEL.codes), name="ck_incident_channel"),
        CheckConstraint(_in("status", vocab.INCIDENT_STATUS.codes), name="ck_incident_status"),
        CheckConstraint(_in("urgency", vocab.URGENCY.codes), name="ck_incident_urgency"),
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


class Holiday(Base):
    """A statutory holiday or a make-up working day (调休上班)."""

    __tablename__ = "holiday"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, server_default="CN")
    day: Mapped[dt.date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # holiday | workday
    name: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (
        UniqueConstraint("region_code", "day", name="uq_holiday_day"),
        CheckConstraint("kind IN ('holiday', 'workday')", name="ck_holiday_kind"),
    )


class IncidentAttachment(Base):
    """A photo (or other file) stored with an incident, under ``<data_dir>/attachments``."""

    __tablename__ = "incident_attachment"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)  # relative to the attachment store
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    __table_args__ = (Index("ix_incident_attachment_incident", "incident_id"),)


# Columns migration 0004 adds to ``incident`` (declared here so the metadata matches).
setattr(Incident, "final_due_at", mapped_column(DateTime(timezone=True)))  # noqa: B010
setattr(Incident, "paused_at", mapped_column(DateTime(timezone=True)))  # noqa: B010
setattr(Incident, "deadline", mapped_column(JSONB))  # noqa: B010
Index("ix_incident_due", Incident.__table__.c.region_code, Incident.__table__.c.due_at)
Index("ix_incident_merged_into", Incident.__table__.c.merged_into_id)
Index("ix_incident_worker", Incident.__table__.c.worker_id)


class IncidentRequest(Base):
    """A grid worker's or department's request on a case (migration 0009): an extension, a
    return to the command centre (退单) or a suspension, decided by the command centre."""

    __tablename__ = "incident_request"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    minutes: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_in("kind", vocab.CASE_REQUEST.codes), name="ck_incident_request_kind"),
        CheckConstraint(_in("state", vocab.CASE_REQUEST_STATE.codes),
                        name="ck_incident_request_state"),
        Index("ix_incident_request_incident", "incident_id", "state"),
    )
