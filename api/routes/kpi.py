"""KPIs (考核指标) as JSON or an Excel workbook."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from api.deps import EXPENSIVE, LOGGED_IN, AsOfDep, ConnDep, PrincipalDep, RegionDep
from api.schemas import incidents as schemas_incidents
from api.schemas import ok
from api.uploads import content_disposition
from geo.incidents.kpi import GROUP_BY, kpi, kpi_xlsx
from geo.periods import UNITS, range_or_current_month

router = APIRouter(tags=["incidents 事件"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/kpi", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="KPIs, by group or over time / 考核指标 (分组、按月/周/日, 同比环比)",
            responses=ok(schemas_incidents.Kpi) | {
                200: {"content": {"application/json": {}, XLSX: {}}}},
            response_model=None)
def get_kpi(conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep, region: RegionDep,
            date_from: Annotated[dt.date | None, Query(
                alias="from", description="first day (CST); default: with to, the current "
                "month in Asia/Shanghai (本月)")] = None,
            date_to: Annotated[dt.date | None, Query(
                alias="to", description="exclusive; default: the first day of next month")
            ] = None,
            group_by: Annotated[str, Query(
                description="a dimension (township 乡镇, cell 网格, department 部门, worker "
                "网格员, category 类别, county 区县: every county the caller may see) or a "
                "period (month 月, week ISO 周, day 日)",
                json_schema_extra={"enum": GROUP_BY})] = "township",
            period: Annotated[str | None, Query(
                description="split a dimension grouping by month, week or day (not with "
                "group_by=month|week|day)", json_schema_extra={"enum": list(UNITS)})] = None,
            format: Literal["json", "xlsx"] = "json",
            lang: Annotated[Literal["zh", "en"], Query(description="XLSX headers")] = "zh",
            ) -> Response:
    """结案率, 按期结案率, average handling time, rework and repeat-report rates of the reports
    made in ``[from, to)`` (China Standard Time), with 同比 and 环比.

    Three shapes, one parameter each:

    - ``group_by=township|cell|department|worker|category``: one row per group over the
      range (as before); ``group_by=county``: one row per county the caller may see (a
      prefecture or province user: every county below; ``region`` is not needed).
    - ``group_by=month|week|day``: one row per calendar month / ISO week / day of the range,
      empty ones included (a trend). ``key`` is the period's label (``2026-10``, ``2026-W40``,
      ``2026-10-05``), ``name`` its Chinese name; ``period``, ``from``, ``to`` (exclusive) say
      which days it covers; ``partial`` when ``from``/``to`` cut it, ``ongoing`` when it ends
      after ``as_of``. Day and week rows cover at most 10 years (use month beyond).
    - ``group_by=<dimension>&period=month|week|day``: one row per period and group (each with
      ``period``, ``from``, ``to``), ordered by period then group; ``periods`` holds each
      period's totals. ``period`` with ``group_by=month|week|day`` is refused (422).

    Every row, period total and ``total`` carries ``yoy`` (同比: the same period one year
    earlier) and ``pop`` (环比: the previous period of the same length), each ``{label, from,
    to, base, change, change_pct, change_pp}``: ``base`` the earlier values, ``change`` this
    minus earlier for counts and hours, ``change_pct`` that change in per cent, ``change_pp``
    the change of each rate in percentage points. Either is null when the earlier period has
    no reports or lies before the region's data, with ``yoy_reason`` / ``pop_reason``. A
    month row equals ``/kpi?from=<month start>&to=<next month start>``'s ``total``.
    ``metrics_zh`` labels every field in Chinese; ``definitions`` states the rules.
    ``format=xlsx``: the rows as a workbook.

    Without ``from`` and ``to`` the range is the current calendar month in China Standard
    Time (Asia/Shanghai) at ``as_of``; ``period_used`` says which range was used and whether
    it was that default.
    """
    date_from, date_to, used = range_or_current_month(date_from, date_to, as_of)
    result = {**kpi(conn, principal, region, date_from, date_to, group_by, as_of, period),
              "period_used": used}
    if format == "xlsx":
        name = f"kpi_{group_by}{f'_{period}' if period else ''}_{date_from}_{date_to}.xlsx"
        return Response(kpi_xlsx(result, lang), media_type=XLSX,
                        headers={"Content-Disposition": content_disposition(name)})
    return JSONResponse(result)
