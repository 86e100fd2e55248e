"""Service health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import ConnDep

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness and database check")
def health(conn: ConnDep) -> dict[str, Any]:
    """Answer 200 with the schema revision when the database answers (503 otherwise)."""
    rev = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"status": "ok", "schema_revision": rev}
