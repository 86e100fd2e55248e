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
from geo.incidents.kpi import kpi, kpi_xlsx

router = APIRouter(tags=["incidents 事件"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/kpi", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="KPIs / 考核指标",
            responses=ok(schemas_incidents.Kpi) | {
                200: {"content": {"application/json": {}, XLSX: {}}}},
            response_model=None)
def get_kpi(conn: ConnDep, principal: PrincipalDep, as_of: AsOfDep, region: RegionDep,
            date_from: Annotated[dt.date, Query(alias="from")],
            date_to: Annotated[dt.date, Query(alias="to", description="exclusive")],
            group_by: Literal["township", "cell", "department", "worker", "category"]
            = "township",
            format: Literal["json", "xlsx"] = "json") -> Response:
    """结案率, 按期结案率, average handling time, rework and repeat-report rates."""
    result = kpi(conn, principal, region, date_from, date_to, group_by, as_of)
    if format == "xlsx":
        name = f"kpi_{group_by}_{date_from}_{date_to}.xlsx"
        return Response(kpi_xlsx(result), media_type=XLSX,
                        headers={"Content-Disposition": content_disposition(name)})
    return JSONResponse(result)
