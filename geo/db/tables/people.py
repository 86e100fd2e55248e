"""Grid workers (网格员) and their assignments to cells (``valid_from``/``valid_to``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables.base import Base


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
