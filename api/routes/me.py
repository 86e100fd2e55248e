"""The caller's own work (我的): a grid worker's cells and their incidents."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.deps import READ_INCIDENTS, ConnDep, PrincipalDep, RegionDep
from api.reveal import audit_revealed
from api.schemas import incidents as schemas_incidents
from api.schemas import ok
from geo.crs.names import normalize_crs
from geo.crs.validate import to_cgcs2000_point
from geo.errors import InvalidInput
from geo.incidents import views
from geo.incidents.flow import OPEN

router = APIRouter(tags=["incidents 事件"])


@router.get("/me/cell", dependencies=[READ_INCIDENTS],
            summary="My cells / 我的网格",
            responses=ok(schemas_incidents.MyCells), response_model=None)
def get_my_cell(conn: ConnDep, principal: PrincipalDep, region: RegionDep,
                crs: Annotated[str, Query(description="CRS of the cells' geometry: EPSG:4490, "
                                          "EPSG:4326, GCJ02, BD09")] = "EPSG:4490",
                ) -> dict[str, Any]:
    """The caller's cells (a grid worker's) with open and overdue counts."""
    return views.my_cells(conn, principal, region, crs=crs)


@router.get("/me/incidents", dependencies=[READ_INCIDENTS],
            summary="My cells' incidents / 我的事件", responses=ok(schemas_incidents.MyIncidents),
            response_model=None)
def get_my_incidents(request: Request, conn: ConnDep, principal: PrincipalDep,
                     region: RegionDep,
                     all_statuses: bool = False,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
                     lon: Annotated[float | None, Query(
                         description="Where you stand (with lat): nearest first, with "
                         "distance_m")] = None,
                     lat: Annotated[float | None, Query(description="See lon")] = None,
                     crs: Annotated[str, Query(description="CRS of lon/lat and of the "
                                               "answer's coordinates: EPSG:4490, EPSG:4326, "
                                               "GCJ02, BD09")] = "EPSG:4490",
                     routing: Annotated[bool, Query(
                         description="Add each case's routing and deadline details (large)")
                     ] = False,
                     ) -> dict[str, Any]:
    """Open incidents of the caller's cells (every status with ``all_statuses=true``); most
    urgent first, or nearest first from ``lon``/``lat`` (a phone's position, ``crs=GCJ02``).

    Coordinates are answered in ``crs`` (a phone map in GCJ-02 draws its cases where they
    are); each case is compact (no routing details unless ``routing=true``) and lists the
    actions the caller may take now (``allowed_actions``)."""
    if (lon is None) != (lat is None):
        raise InvalidInput("lon 与 lat 须同时给出 / give both lon and lat, or neither",
                           field="lat" if lat is None else "lon")
    near = None if lon is None or lat is None else to_cgcs2000_point(lon, lat, crs)
    statuses = None if all_statuses else sorted(OPEN)
    cells = sorted(principal.cell_codes) if principal.role == "worker" else None
    items = views.list_incidents(conn, principal, region, statuses,
                                 cells, limit=limit, near=near, compact=not routing,
                                 crs=crs)
    audit_revealed(request, principal, items)
    return {"user": principal.user, "crs": normalize_crs(crs), "count": len(items),
            "items": items}
