"""Reports for officials: the monthly leadership report (网格化服务管理月报)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import (
    EXPENSIVE,
    LOGGED_IN,
    AsOfDep,
    ConnDep,
    PrincipalDep,
    RegionDep,
    region_was_asked,
)
from api.schemas import ok
from api.schemas import reports as schemas_reports
from api.uploads import content_disposition
from geo.periods import range_or_current_month
from geo.regions.scope import counties_in_scope
from reports.monthly import monthly_report, scope_report
from reports.render import html_to_pdf, monthly_html, monthly_xlsx

router = APIRouter(tags=["reports 报表"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The report page inlines its pictures and style: nothing else may load or run.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


@router.get("/reports/monthly", dependencies=[LOGGED_IN, EXPENSIVE],
            summary="Monthly leadership report / 网格化服务管理月报",
            responses=ok(schemas_reports.MonthlyReport) | {
                200: {"content": {"application/pdf": {}, XLSX: {}, "text/html": {}}},
                422: {"description": "month not YYYY-MM, or not begun yet"}},
            response_model=None)
def get_monthly_report(
    request: Request, conn: ConnDep, principal: PrincipalDep, region: RegionDep,
    as_of: AsOfDep,
    month: Annotated[str | None, Query(description="YYYY-MM, e.g. 2026-10; default: the "
                                       "current month in Asia/Shanghai (本月)",
                                       max_length=7)] = None,
    format: Literal["pdf", "xlsx", "html", "json"] = "pdf",
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    """The month's headline figures with 同比/环比, a 12-month trend chart, townships ranked,
    top categories, overdue cases with their owners, a map of the month's incidents with hot
    spots, camera coverage, property management against the targets and recommended camera
    sites. Every figure equals ``/kpi`` and the analyses for the same month and reader (scoped
    and masked the same way). ``format=json`` gives the figures themselves.

    A reader whose scope holds several counties (a prefecture or province) gets, without
    ``region``, the report of all of them: headline with 同比/环比, trend, counties ranked,
    top categories, overdue cases with their county and a map of the counties (each equal to
    ``/kpi?group_by=county``); with ``region`` the county's report and a table of the
    counties.

    Without ``month``: the current month in China Standard Time (Asia/Shanghai) at
    ``as_of``; ``period_used`` (JSON) and the header ``X-Wangge-Period`` say which month."""
    used = None
    if month is None:
        _first, _after, used = range_or_current_month(None, None, as_of)
        month = used["month"]
    several = principal.regions is not None and len(principal.regions) > 1
    counties = (counties_in_scope(conn, principal)
                if several and not region_was_asked(request) else [])
    if len(counties) > 1:
        report = scope_report(conn, principal, counties, month, as_of)
    else:
        report = monthly_report(conn, principal, region, month, as_of)
    name = f"网格化服务管理月报_{report['inputs']['region_code']}_{report['inputs']['month']}"
    if used is not None:
        report = {**report, "period_used": used}
    period_header = {"X-Wangge-Period": report["inputs"]["month"]}
    if format == "json":
        return JSONResponse(_plain(report), headers=period_header)
    if format == "xlsx":
        return Response(monthly_xlsx(report, lang), media_type=XLSX, headers={
            "Content-Disposition": content_disposition(f"{name}.xlsx"), **period_header})
    html = monthly_html(conn, principal, report, lang)
    if format == "html":
        return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_CSP,
                                           "Cache-Control": "private, no-store",
                                           **period_header})
    return Response(html_to_pdf(html), media_type="application/pdf", headers={
        "Content-Disposition": content_disposition(f"{name}.pdf"),
        "Cache-Control": "private, no-store", **period_header})


def _plain(report: dict[str, Any]) -> dict[str, Any]:
    """The report's figures as JSON (tables of the analyses as records, no geometry)."""
    out = dict(report)
    if report["cameras"] is None:  # the whole scope: no analysis of one county
        return out
    out["cameras"] = {**report["cameras"], "units": _rows(report["cameras"].get("units"))}
    out["property"] = {**report["property"],
                       "unmanaged": _rows(report["property"].get("unmanaged"))}
    out["sites"] = {**report["sites"], "rows": _rows(report["sites"].get("rows"))}
    out["hotspots"] = {"summary": report["hotspots"]["summary"]}
    return out


def _rows(df: Any) -> list[dict[str, Any]]:
    from geo.analysis.common import records

    if df is None:
        return []
    return records(df.drop(columns="geometry", errors="ignore"))
