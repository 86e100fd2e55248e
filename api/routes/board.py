"""The command-centre board (指挥中心看板)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import READ_INCIDENTS, AsOfDep, ConnDep, PrincipalDep, RegionDep
from api.schemas import incidents as schemas_incidents
from api.schemas import ok
from geo.incidents import views

router = APIRouter(tags=["incidents 事件"])


@router.get("/board", dependencies=[READ_INCIDENTS],
            summary="Command-centre board / 指挥中心看板", responses=ok(schemas_incidents.Board),
            response_model=None)
def get_board(conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep,
              region: RegionDep) -> dict[str, Any]:
    """Counts by status, category and township, and the overdue list."""
    return views.board(conn, principal, region, as_of)
