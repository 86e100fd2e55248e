"""Tables of access control: application users, API tokens, the audit log.

``audit_log`` is append-only: a trigger (migration 0006) raises on UPDATE, DELETE and
TRUNCATE, whoever the database role is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.db.tables.base import Base, _in
from geo.db.tables.vocab import ROLE


class AppUser(Base):
    """A person or system using Wangge, with one role and the scope it is bound to.

    ``department_code`` binds a ``department`` user; ``worker_id`` links a ``worker`` user to
    a grid worker whose cells (through ``worker_assignment``, valid *now*) are the scope.
    ``token_version`` is bumped on disable / password reset and invalidates session tokens.
    """

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    # a prefecture (PPCC00) or province (PP0000) the user oversees: every county below it
    scope_code: Mapped[str | None] = mapped_column(String(12))
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="SET NULL")
    )
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    synthetic: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    __table_args__ = (
        CheckConstraint(_in("role", ROLE.codes), name="ck_app_user_role"),
        CheckConstraint(
            "role <> 'department' OR department_code IS NOT NULL", name="ck_app_user_dept"
        ),
        CheckConstraint("scope_code IS NULL OR scope_code ~ '^[0-9]{2}(0000|[0-9]{2}00)$'",
                        name="ck_app_user_scope_code"),
    )


class ApiToken(Base):
    """A long-lived API token of a user (for systems). Only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_api_token_user", "user_id"),)


class SessionRevoked(Base):
    """A login session ended by ``POST /auth/logout`` before its token expired: the token's
    random session id, kept until the token would have expired anyway."""

    __tablename__ = "auth_session_revoked"
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, server_default="")
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (Index("ix_auth_session_revoked_expires", "expires_at"),)


class AuditLog(Base):
    """One audited action: who (user, role), when, what (action, method, path, object), from
    where (client address), with which outcome (HTTP status). Append-only."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, server_default="")
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(100))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_user_at", "username", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )


class IdempotencyKey(Base):
    """A write sent with an ``Idempotency-Key`` header (migration 0009): the first answer,
    replayed to a resend of the same key by the same user (a phone's offline queue sending
    again after a lost answer). ``state`` is ``running`` until the answer is kept."""

    __tablename__ = "idempotency_key"
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, server_default="")
    method: Mapped[str] = mapped_column(String(8), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(8), nullable=False, server_default="running")
    status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    __table_args__ = (
        CheckConstraint("state IN ('running', 'done')", name="ck_idempotency_key_state"),
        Index("ix_idempotency_key_created", "created_at"),
    )
