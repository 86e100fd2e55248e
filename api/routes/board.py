"""The command-centre board (指挥中心看板)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import READ_INCIDENTS, AsOfDep, ConnDep, PrincipalDep, RegionDep
from api.schemas import incidents as schemas_incidents
from api.schemas import ok
from geo.incidents import views
from geo.periods import CURRENT

router = APIRouter(tags=["incidents 事件"])


@router.get("/board", dependencies=[READ_INCIDENTS],
            summary="Command-centre board / 指挥中心看板", responses=ok(schemas_incidents.Board),
            response_model=None)
def get_board(conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep, region: RegionDep,
              period: Annotated[str, Query(
                  description="all 全部 (default), today 今日, week 本周 (ISO, from Monday), "
                  "month 本月: the reports of the current day / week / month (CST) at as_of",
                  json_schema_extra={"enum": ["all", *CURRENT]})] = "all") -> dict[str, Any]:
    """Counts by status, category and township, and the overdue list.

    ``period=today|week|month`` restricts every count and the overdue list to the reports
    made in the current day, ISO week (Monday to Sunday) or calendar month in China Standard
    Time at ``as_of`` (default now); ``period`` in the answer states ``label`` (``2026-W44``),
    ``from`` and ``to`` (dates, ``to`` exclusive) and ``start`` / ``end`` (instants). The
    default ``all`` counts every report, as before.
    """
    return views.board(conn, principal, region, as_of, period=period)
