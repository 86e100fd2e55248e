"""The notifications outbox (issue 18): messages written with the case change that causes them.

A row is written in the same transaction as the case's ``incident_event`` (rules in
:mod:`geo.notify.rules`), or by the delivery worker's periodic scan for time-driven rules
(overdue, escalation), and delivered by ``wangge notify run`` (:mod:`geo.notify.deliver`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables.base import Base


class Outbox(Base):
    """One message to one receiver; ``message_id`` is stable across retries (receivers dedupe).

    ``state``: pending (due at ``next_at``), delivered, dead (after the last attempt), skipped
    (its channel is not configured). ``dedupe_key``: one row per case and time-driven rule.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), nullable=False, unique=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(32), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    recipient: Mapped[str] = mapped_column(String(100), nullable=False)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                 server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        Index("ix_outbox_due", "next_at", postgresql_where=text("state = 'pending'")),
        Index("ix_outbox_incident", "incident_id"),
    )
