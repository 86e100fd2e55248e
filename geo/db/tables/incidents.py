"""Tables of the dispatch package (migration 0004): holidays, attachments, deadline columns.

``holiday`` rows are exceptions to "Monday-Friday work" (``region_code = 'CN'`` nationwide).
``incident_attachment`` records photos stored under ``<data_dir>/attachments``. The incident
table gains ``final_due_at`` (deadline of the whole case), ``paused_at`` and ``deadline`` (the
current step's clock: step, limit, extensions, warnings, ``calendar_incomplete``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
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

from geo.db.tables.base import Base
from geo.db.tables.foundation import Incident


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
