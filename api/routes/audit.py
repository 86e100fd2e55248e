"""The audit log for administrators: ``GET /audit``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import EXPENSIVE, AdminDep, ConnDep
from api.schemas import auth as schemas_auth
from api.schemas import ok
from geo.auth.audit import MAX_AUDIT_PAGE, query_audit

router = APIRouter(tags=["audit 审计"], dependencies=[EXPENSIVE])


@router.get("/audit", summary="Audit log, newest first (admins) / 审计日志",
    responses=ok(schemas_auth.AuditPage),
    response_model=None)
def get_audit(
    conn: ConnDep,
    principal: AdminDep,
    user: Annotated[str | None, Query(description="Only this user name")] = None,
    action: Annotated[
        str | None,
        Query(description="Only this action (write, read_personal, login, login_failed, "
              "login_locked, token_create, token_revoke, user_add ...); 'login*' = prefix"),
    ] = None,
    from_: Annotated[dt.datetime | None, Query(alias="from", description="From (ISO 8601)")] = None,
    to: Annotated[dt.datetime | None, Query(description="Before (ISO 8601, exclusive)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Who did or read what, when, from where; filter by user, action and time."""
    return query_audit(conn, user, action, from_, to, principal.regions, limit, offset)
