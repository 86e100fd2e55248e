"""The command-centre board (指挥中心看板)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy import Connection

from api.deps import READ_INCIDENTS, AsOfDep, ConnDep, PrincipalDep, RegionDep
from api.schemas import incidents as schemas_incidents
from api.schemas import ok
from geo.auth.principal import Principal
from geo.incidents import views
from geo.periods import CURRENT
from geo.regions.scope import counties_in_scope

router = APIRouter(tags=["incidents 事件"])

COUNTY_OVERDUE_LIMIT = 10  # overdue cases listed per county in group_by=county


@router.get("/board", dependencies=[READ_INCIDENTS],
            summary="Command-centre board / 指挥中心看板",
            responses=ok(schemas_incidents.BoardAnswer),
            response_model=None)
def get_board(conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep, region: RegionDep,
              period: Annotated[str, Query(
                  description="all 全部 (default), today 今日, week 本周 (ISO, from Monday), "
                  "month 本月: the reports of the current day / week / month (CST) at as_of",
                  json_schema_extra={"enum": ["all", *CURRENT]})] = "all",
              group_by: Annotated[Literal["county"] | None, Query(
                  description="county 按区县: one row per county the caller may see (a "
                  "prefecture or province command centre: every county below), each the "
                  "county's own board; ``region`` is then ignored")] = None,
              ) -> dict[str, Any]:
    """Counts by status, category and township, and the overdue list.

    ``period=today|week|month`` restricts every count and the overdue list to the reports
    made in the current day, ISO week (Monday to Sunday) or calendar month in China Standard
    Time at ``as_of`` (default now); ``period`` in the answer states ``label`` (``2026-W44``),
    ``from`` and ``to`` (dates, ``to`` exclusive) and ``start`` / ``end`` (instants). The
    default ``all`` counts every report, as before.

    ``group_by=county``: ``counties`` (per county: reports, counts by status, open, overdue,
    by township and its first overdue cases) and their ``total``.
    """
    if group_by == "county":
        return board_by_county(conn, principal, as_of, period)
    return views.board(conn, principal, region, as_of, period=period)


def board_by_county(conn: Connection, principal: Principal, as_of: Any, period: str
                    ) -> dict[str, Any]:
    """One board row per county in the caller's scope, each from :func:`views.board`."""
    rows = []
    answer: dict[str, Any] = {}
    for code, name in counties_in_scope(conn, principal):
        answer = views.board(conn, principal, code, as_of, overdue_limit=COUNTY_OVERDUE_LIMIT,
                             period=period)
        rows.append({"region_code": code, "name": name,
                     "reports": sum(answer["by_status"].values()),
                     **{k: answer[k] for k in ("by_status", "open", "overdue_total",
                                               "by_township", "overdue")}})
    by_status: dict[str, int] = {}
    for row in rows:
        for status, n in row["by_status"].items():
            by_status[status] = by_status.get(status, 0) + n
    return {
        "group_by": "county", "as_of": answer.get("as_of"), "period": answer.get("period"),
        "counties": rows,
        "total": {"reports": sum(r["reports"] for r in rows), "by_status": by_status,
                  "open": sum(r["open"] for r in rows),
                  "overdue_total": sum(r["overdue_total"] for r in rows)},
    }
