"""Patrols (巡查): a worker's tracks, the key points of the cells and check-ins at them.

A patrol is one walk of a grid worker, sent by her phone in segments under the phone's own
``client_id``. Every point is kept (``patrol_point``); a point the phone cannot have walked to
(over 150 km/h from the last counted point, or a jump over 5 km) carries ``flag`` and is not
counted. ``patrol.track`` is the line of the counted points and ``length_m`` / ``duration_s``
its figures (geo.patrols.tracks keeps them). Tracks are personal location data: who may see
them is geo.patrols.access. Rows older than the retention (default 180 days) are purged by
``wangge patrols purge`` (geo.patrols.retention).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
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


class Patrol(Base):
    """One patrol of a grid worker (``client_id``: the phone's id of it, unique per worker)."""

    __tablename__ = "patrol"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    client_id: Mapped[str] = mapped_column(String(100), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    track: Mapped[Any | None] = mapped_column(
        Geometry("LINESTRING", srid=SRID, spatial_index=False)
    )
    length_m: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    duration_s: Mapped[float] = mapped_column(Float, nullable=False, server_default="0")
    points: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    points_flagged: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        UniqueConstraint("worker_id", "client_id", name="uq_patrol_client"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ck_patrol_period"),
        Index("ix_patrol_region_started", "region_code", "started_at"),
        Index("ix_patrol_worker_started", "worker_id", "started_at"),
        Index("ix_patrol_user", "user_id"),
        Index("ix_patrol_track", "track", postgresql_using="gist"),
    )


class PatrolPoint(Base):
    """A point of a patrol's track; ``flag`` (speed, jump) when kept but not counted."""

    __tablename__ = "patrol_point"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    patrol_id: Mapped[int] = mapped_column(
        ForeignKey("patrol.id", ondelete="CASCADE"), nullable=False
    )
    t: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    flag: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (
        UniqueConstraint("patrol_id", "t", name="uq_patrol_point_t"),
        CheckConstraint("flag IS NULL OR " + _in("flag", vocab.PATROL_FLAG.codes),
                        name="ck_patrol_point_flag"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="ck_patrol_point_acc"),
        Index("ix_patrol_point_geom", "geom", postgresql_using="gist"),
        Index("ix_patrol_point_t", "region_code", "t"),
    )


class KeyPoint(Base):
    """A key point a worker checks in at (关键点位): a compound's gate, a camera, a place the
    command centre marks; due ``due_per_week`` times a week, within ``radius_m``."""

    __tablename__ = "key_point"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    ref: Mapped[str | None] = mapped_column(String(32))  # compound code, camera gb_id
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    radius_m: Mapped[float] = mapped_column(Float, nullable=False, server_default="50")
    due_per_week: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    cell_code: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        CheckConstraint(_in("kind", vocab.KEY_POINT_KIND.codes), name="ck_key_point_kind"),
        CheckConstraint("radius_m > 0 AND radius_m <= 1000", name="ck_key_point_radius"),
        CheckConstraint("due_per_week >= 0 AND due_per_week <= 50", name="ck_key_point_due"),
        Index("ix_key_point_cell", "region_code", "cell_code"),
        Index("ix_key_point_geom", "geom", postgresql_using="gist"),
    )


class PatrolCheckin(Base):
    """A check-in of a worker at a key point (关键点位签到), with where she stood."""

    __tablename__ = "patrol_checkin"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    key_point_id: Mapped[int] = mapped_column(
        ForeignKey("key_point.id", ondelete="CASCADE"), nullable=False
    )
    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    geom: Mapped[Any] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False), nullable=False
    )
    distance_m: Mapped[float] = mapped_column(Float, nullable=False)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    __table_args__ = (
        Index("ix_patrol_checkin_key_point", "key_point_id", "at"),
        Index("ix_patrol_checkin_worker", "worker_id", "at"),
        Index("ix_patrol_checkin_region_at", "region_code", "at"),
        Index("ix_patrol_checkin_geom", "geom", postgresql_using="gist"),
    )
