"""Tables of the planners' analyses (migration 0005).

``pm_target``: property-management targets of a region (share of compounds managed by a
date), editable with ``wangge analyse targets``. Without rows the seed's targets apply
(80 % by 2022-12-31, 90 % by 2023-12-31).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables.base import Base


class PmTarget(Base):
    """A property-management target: ``share`` (0..1) of compounds managed by ``due_date``."""

    __tablename__ = "pm_target"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code", ondelete="CASCADE"),
                                             nullable=False)
    due_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    share: Mapped[float] = mapped_column(Float, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (
        CheckConstraint("share > 0 AND share <= 1", name="ck_pm_target_share"),
        Index("uq_pm_target_region_date", "region_code", "due_date", unique=True),
    )
