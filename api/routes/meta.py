"""Service health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import ConnDep
from api.schemas import common as schemas_common
from api.schemas import ok

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness and database check", responses=ok(schemas_common.Health),
    response_model=None)
def health(conn: ConnDep) -> dict[str, Any]:
    """Answer 200 with the schema revision when the database answers (503 otherwise)."""
    rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"status": "ok", "schema_revision": rev}
