"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2): Wangge's categories as
*services*, its cases as *service requests*.

The mapping, in one place (the routes in :mod:`api.routes.open311` only format it):

- a service is an incident category: ``service_code`` = category code, ``service_name`` = its
  Chinese name, ``group`` = its category group, ``type`` = ``realtime`` (a request is a case at
  once), one attribute ``urgency`` (一般 / 紧急);
- a service request is a case: ``service_request_id`` = the case code, ``status`` = ``open``
  or ``closed`` (:data:`geo.incidents.flow.TERMINAL`), ``status_notes`` = the Chinese status,
  ``agency_responsible`` = the department's name, ``expected_datetime`` = the case's final
  due time, ``lat``/``long`` = its point (CGCS2000, which Open311's WGS84 equals to the
  centimetre), ``media_url`` = its first photo (a login is needed to fetch it);
- who sees which request and which fields is the case's own rule: the rows come through
  :func:`geo.auth.principal.incident_scope_sql`, the fields through
  :func:`geo.incidents.cases.incident_json` (masked, withheld for roles without free text).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, text

from geo import localtime
from geo.auth.principal import Principal, incident_scope_sql
from geo.db.tables.vocab import URGENCY
from geo.errors import InvalidInput
from geo.incidents.cases import CASE_COLUMNS, incident_json
from geo.incidents.flow import TERMINAL, status_in_sql
from geo.incidents.routing import categories

# GeoReport v2: a search spans at most 90 days and defaults to the last 90.
MAX_SPAN = dt.timedelta(days=90)
MAX_REQUESTS = 1000


def services(conn: Connection) -> list[dict[str, Any]]:
    """Every category as an Open311 service."""
    return [{"service_code": c["code"], "service_name": c["name"],
             "description": f"{c['name']} / {c['name_en'] or c['code']}",
             "metadata": True, "type": "realtime", "keywords": c["name_en"] or "",
             "group": c["group"] or ""} for c in categories(conn).values()]


def service_definition(conn: Connection, service_code: str) -> dict[str, Any] | None:
    """The service's attributes (None for an unknown service code)."""
    if service_code not in categories(conn):
        return None
    return {"service_code": service_code, "attributes": [{
        "variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "紧急程度 / urgency", "order": 1,
        "description": "紧急程度 (默认一般) / urgency (default normal)",
        "values": [{"key": k, "name": URGENCY.label(k)} for k in URGENCY.codes]}]}


def request_json(conn: Connection, row: dict[str, Any], principal: Principal,
                 now: dt.datetime) -> dict[str, Any]:
    """One case as an Open311 service request, as the caller may see it."""
    inc = incident_json(conn, row, principal, now, compact=True)
    photo = conn.execute(text(
        "SELECT id FROM incident_attachment WHERE incident_id = :i ORDER BY id LIMIT 1"),
        {"i": row["id"]}).scalar()
    return {
        "service_request_id": inc["code"],
        "status": "closed" if inc["status"] in TERMINAL else "open",
        "status_notes": inc["status_zh"],
        "service_name": inc.get("category_name"), "service_code": inc["category"],
        "description": inc.get("description"),
        "agency_responsible": inc.get("department_name"),
        "service_notice": None,
        "requested_datetime": inc["reported_at"],
        "updated_datetime": _iso(row.get("updated_at")),
        "expected_datetime": inc.get("final_due_at"),
        "address": inc.get("location_text"), "address_id": None, "zipcode": None,
        "lat": inc["lat"], "long": inc["lon"],
        "media_url": (f"/incidents/{inc['code']}/attachments/{photo}" if photo else None),
        # beyond GeoReport v2: where it belongs and the reporter as the caller may see them
        "cell_code": inc["cell_code"], "department_code": inc["department_code"],
        "reporter_name": inc.get("reporter_name"), "reporter_phone": inc.get("reporter_phone"),
    }


def find_requests(
    conn: Connection, principal: Principal, region_code: str | None,
    ids: list[str] | None = None, service_codes: list[str] | None = None,
    start: dt.datetime | None = None, end: dt.datetime | None = None,
    status: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Service requests in the caller's scope: by id (overrides the other filters, as the
    standard says), else by service code, status (``open``/``closed``) and a report-time span
    of at most 90 days (default: the 90 days before ``end`` or now). Newest first."""
    now = localtime.now()
    cond, params = incident_scope_sql(principal, "i")
    where = [cond]
    if region_code:
        where.append("i.region_code = :region")
        params["region"] = region_code
    if ids:
        where.append("i.code = ANY(:ids)")
        params["ids"] = ids[:MAX_REQUESTS]
    else:
        for value, field in ((start, "start_date"), (end, "end_date")):
            if value is not None:  # before any arithmetic (review round 8: 0001-01-01)
                localtime.check_year(value, field)
        end = end or now
        start = start or end - MAX_SPAN
        if start >= end:
            raise InvalidInput("start_date 须早于 end_date / start_date must be before end_date",
                               field="start_date")
        if end - start > MAX_SPAN:
            raise InvalidInput("查询时间跨度最多 90 天 / a search may span at most 90 days "
                               "(GeoReport v2)", field="start_date")
        where.append("i.reported_at >= :start AND i.reported_at < :end")
        params.update(start=start, end=end)
        if service_codes:
            where.append("i.category_code = ANY(:codes)")
            params["codes"] = service_codes
        wanted = set(status or [])
        unknown = wanted - {"open", "closed"}
        if unknown:
            raise InvalidInput(f"status 只能为 open 或 closed / status must be open or closed, "
                               f"got {sorted(unknown)}", field="status")
        if wanted == {"open"}:
            where.append(f"NOT {status_in_sql('i.status', TERMINAL)}")
        elif wanted == {"closed"}:
            where.append(status_in_sql("i.status", TERMINAL))
    params["lim"] = MAX_REQUESTS
    rows = conn.execute(text(
        f"SELECT {CASE_COLUMNS} FROM incident i WHERE {' AND '.join(where)} "
        "ORDER BY i.reported_at DESC, i.id DESC LIMIT :lim"), params).mappings().all()
    return [request_json(conn, dict(r), principal, now) for r in rows]


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(localtime.CST).isoformat() if t is not None else None
