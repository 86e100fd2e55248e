"""Service health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import ConnDep
from api.schemas import common as schemas_common
from api.schemas import ok
from geo import localtime
from geo.incidents.calendar import missing_years, unknown_year_warning

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness and database check", responses=ok(schemas_common.Health),
    response_model=None)
def health(conn: ConnDep) -> dict[str, Any]:
    """Answer 200 with the schema revision when the database answers (503 otherwise)."""
    rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    out: dict[str, Any] = {"status": "ok", "schema_revision": rev}
    missing = missing_years(conn, localtime.local_date(localtime.now()))
    if missing:  # deadlines into these years count weekends only: say so where ops look
        out["warnings"] = [unknown_year_warning(y) for y in missing]
    return out
