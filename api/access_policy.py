"""Who may call what: the classification of every endpoint, checked by the matrix test.

``tests/api/test_authz_matrix.py`` walks ``app.routes`` and fails for any endpoint missing here,
then calls each endpoint as every role (and anonymously) on an object in and out of the
caller's scope and checks the outcome this table promises. When a new router lands, add one
line per endpoint: ``"METHOD /path": "<policy>"`` (and, if its path has parameters the test
does not know, a probe in the test).

Policies (expected outcome per role; "own" = inside the caller's cells / department):

- ``public``: everyone, anonymous included; never personal data (cell lookup, health, docs).
- ``authenticated``: any logged-in user, acting on their own objects (an admin on anyone's);
  anonymous -> 401.
- ``admin``: admins only; other roles -> 403, anonymous -> 401.
- ``incidents``: incident details with personal data. admin/command: all; worker: own cells;
  department: own department; others' objects -> 404 (not revealed) or an empty page;
  planner/viewer -> 403; anonymous -> 401. Personal fields masked unless ``?unmask=true``
  (audited).
- ``incident_write``: like ``incidents`` for writes (worker/department only in scope).
- ``aggregate``: counts and geometries without personal fields, any logged-in role
  (planners' KPIs, analysis, maps of counts); anonymous -> 401.
- ``public_layer``: public layers (cells, admin units, compounds, cameras) for everyone,
  never personal fields.
- ``incident_command``: case-flow steps only the command centre takes (reassign, merge, pause,
  resume, extend): admin/command; worker/department 403 on their own cases, 404 on others'
  (not revealed); planner/viewer 403; anonymous 401.
- ``incident_request``: a grid worker's or department's request to the command centre on a
  case of theirs (extension, return, suspension): worker/department on their own cases; 404
  on others' (not revealed); admin/command 403 (they act directly); planner/viewer 403;
  anonymous 401.
- ``scoped``: lists, boards, maps and reports of the incident roles (admin, command,
  department, worker), each limited to the caller's scope (``incident_scope_sql``);
  planner/viewer 403; anonymous 401.
- ``command``: admins and the command centre only (data import, hotline files); others 403,
  anonymous 401.
- ``patrol_self``: a grid worker's own patrols, key points and check-ins (``/me/...``): the
  worker role only (an account linked to a grid worker); every other role 403; anonymous 401.
- ``patrol_aggregate``: patrol figures without tracks or positions: admin, command, planner
  (worker names masked) and a worker for herself; department/viewer 403; anonymous 401.
- ``report``: a new case: the command centre anywhere; a grid worker in her own cells and a
  department for its own department (403 naming where the case belongs, and to report it to
  the command centre, otherwise); planner/viewer 403; anonymous 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

POLICIES = ("public", "public_layer", "authenticated", "admin", "incidents", "incident_write",
            "aggregate", "incident_command", "incident_request", "scoped", "command", "report",
            "patrol_self", "patrol_aggregate")

ENDPOINT_POLICY: dict[str, str] = {
    # foundation
    "GET /": "public",  # the landing page: links only, no data
    "GET /favicon.ico": "public",  # the site's icon (a browser asks for it on every page)
    "GET /health": "public",
    "GET /cells/at": "public_layer",
    # OpenAPI and docs
    "GET /openapi.json": "public",
    "GET /docs": "public",
    "GET /docs/oauth2-redirect": "public",
    # auth (issue 8)
    "POST /auth/login": "public",
    "POST /auth/logout": "public",
    "POST /logout": "public",
    "GET /login": "public",
    "POST /login": "public",
    "GET /auth/me": "public",
    "POST /auth/tokens": "authenticated",
    "GET /auth/tokens": "authenticated",
    "DELETE /auth/tokens/{token_id}": "authenticated",
    "GET /audit": "admin",
    # public layers (issues 2, 3): no personal field for any role; incident layers of OGC and
    # /spatial are scoped and masked by geo.layers.registry (empty for viewers)
    "POST /cells/at": "public_layer",
    "GET /cells/{code}/summary": "public_layer",
    "GET /ogc": "public_layer",
    "GET /ogc/": "public_layer",
    "GET /ogc/conformance": "public_layer",
    "GET /ogc/collections": "public_layer",
    "GET /ogc/collections/{collection_id}": "public_layer",
    "GET /ogc/collections/{collection_id}/queryables": "public_layer",
    "GET /ogc/collections/{collection_id}/items": "public_layer",
    "GET /ogc/collections/{collection_id}/items/{feature_id}": "public_layer",
    "GET /spatial/{layer}/within": "public_layer",
    "GET /spatial/{layer}/nearest": "public_layer",
    "POST /spatial/{layer}/intersects": "public_layer",
    "GET /spatial/inside/{kind}/{code}": "public_layer",
    "GET /tiles/overview/{z}/{x}/{y}.pbf": "aggregate",
    "GET /tiles/{layer}/{z}/{x}/{y}.pbf": "public_layer",
    "GET /static/{path:path}": "public",
    # the grid worker's web app (issue 17): the shell only, no data (it reads /me/...)
    "GET /m/": "public",
    "GET /m/sw.js": "public",
    "GET /m/app.js": "public",
    "GET /m/app.css": "public",
    "GET /m/manifest.webmanifest": "public",
    "GET /m/icon-192.png": "public",
    "GET /m/icon-512.png": "public",
    # import / export (issue 4): import admin/command; export of public layers for everyone,
    # incidents/workers refused to viewers and scoped/masked for the others (geo.io.export)
    "POST /admin/import/{layer}": "command",
    "POST /import/profiles/propose": "command",
    "GET /import/profiles": "command",
    "GET /import/profiles/{name}": "command",
    "PUT /import/profiles/{name}": "command",
    "GET /export/{layer}": "public_layer",
    # analysis (issue 6): every logged-in role; geo.analysis.common.incident_detail_level
    # gives planners anonymous points and viewers counts, never reporter fields
    "GET /analysis/camera-coverage": "aggregate",
    "GET /analysis/camera-sectors": "aggregate",
    "GET /analysis/camera-sites": "aggregate",
    "GET /analysis/grid-health": "aggregate",
    "GET /analysis/hotspots": "aggregate",
    "GET /analysis/property-management": "aggregate",
    # incidents and the case flow (issue 5)
    "GET /incidents": "incidents",
    "GET /incidents/{incident_id}": "incidents",
    "GET /incidents/{incident_id}/attachments/{attachment_id}": "incidents",
    "GET /incidents/overdue": "scoped",
    "POST /incidents": "report",
    "POST /incidents/bulk": "command",
    "POST /incidents/{incident_id}/transition": "incident_write",
    "POST /incidents/{incident_id}/notes": "incident_write",
    "POST /incidents/{incident_id}/attachments": "incident_write",
    "POST /incidents/{incident_id}/locate": "incident_command",
    "POST /incidents/{incident_id}/merge": "incident_command",
    "POST /incidents/{incident_id}/reassign": "incident_command",
    "POST /incidents/{incident_id}/pause": "incident_command",
    "POST /incidents/{incident_id}/resume": "incident_command",
    "POST /incidents/{incident_id}/extend": "incident_command",
    "POST /incidents/{incident_id}/requests": "incident_request",
    "POST /incidents/{incident_id}/requests/{request_id}/decision": "incident_command",
    "GET /incidents/categories": "scoped",
    "PUT /incidents/categories/{code}/limits": "admin",
    "GET /incidents/nearby": "scoped",
    "GET /incidents/{incident_id}/duplicates": "incidents",
    # live events and the callback (issue 18): the stream is scoped like GET /incidents
    "GET /events": "scoped",
    "POST /incidents/{incident_id}/callback": "incident_command",
    # Open311 GeoReport v2 (issue 19): services are public, requests are cases
    "GET /open311/v2/services.{fmt}": "public",
    "GET /open311/v2/services/{service_code}.{fmt}": "public",
    "GET /open311/v2/tokens/{token_id}.{fmt}": "public",
    "GET /open311/v2/requests.{fmt}": "scoped",
    "GET /open311/v2/requests/{service_request_id}.{fmt}": "incidents",
    "POST /open311/v2/requests.{fmt}": "report",
    "GET /me/cell": "scoped",
    "GET /me/incidents": "scoped",
    "GET /board": "scoped",
    # KPIs: planners get aggregates of the region, the incident roles of their scope
    "GET /kpi": "aggregate",
    "GET /reports/monthly": "aggregate",
    # maps (issue 7): the dispatch / cell maps and the incidents in view show single incidents
    # (scoped); the coverage maps are aggregates for planners
    "GET /maps/dispatch": "scoped",
    # the side panel of one case (issue 18): the case itself, in scope or 404
    "GET /maps/dispatch/case/{incident_id}": "incidents",
    "GET /maps/dispatch/figures": "scoped",
    "GET /maps/cells/{code}": "scoped",
    "GET /maps/data/incidents": "scoped",
    "GET /maps/coverage/cameras": "aggregate",
    "GET /maps/coverage/property": "aggregate",
    # patrols (issue 17): tracks are personal location data (geo.patrols.access)
    "POST /me/patrols": "patrol_self",
    "GET /me/patrols": "patrol_self",
    "GET /me/key-points": "patrol_self",
    "POST /me/checkins": "patrol_self",
    "GET /patrols": "command",
    "GET /analysis/patrols": "patrol_aggregate",
    "GET /maps/coverage/patrols": "patrol_aggregate",  # the same figures as a map, no track
}


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(full path, route)`` for every route, inside included routers and mounts.

    FastAPI >= 0.16x keeps included routers as ``_IncludedRouter`` nodes; a mount without
    sub-routes (static files) is yielded itself.
    """
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI's included router node
            context = getattr(route, "include_context", None)
            yield from walk_routes(list(original.routes), prefix + getattr(context, "prefix", ""))
            continue
        path = prefix + getattr(route, "path", "")
        sub = None if getattr(route, "methods", None) else getattr(route, "routes", None)
        if sub and hasattr(route, "app"):  # a Mount with routes
            yield from walk_routes(list(sub), path)
        else:
            yield path, route


def iter_endpoints(routes: list[Any], prefix: str = "") -> Iterator[str]:
    """Yield ``"METHOD /path"`` for every route (``"MOUNT /path"`` for mounted apps).

    HEAD is folded into GET.
    """
    for path, route in walk_routes(routes, prefix):
        methods = getattr(route, "methods", None)
        if methods:
            for method in sorted(methods):
                if method != "HEAD":
                    yield f"{method} {path}"
        elif hasattr(route, "app") and hasattr(route, "path"):  # Mount
            yield f"MOUNT {path}"


def policy_of(request: Any) -> str | None:
    """The policy (:data:`ENDPOINT_POLICY`) of the endpoint a request was routed to; None
    before routing or for an endpoint missing from the table."""
    route = request.scope.get("route")
    if route is None:
        return None
    app = request.app
    table = getattr(app.state, "route_policies", None)
    if table is None:
        table = {}
        for path, r in walk_routes(list(app.routes)):
            for method in getattr(r, "methods", None) or ():
                table.setdefault(id(r), ENDPOINT_POLICY.get(f"{method} {path}"))
        app.state.route_policies = table
    return table.get(id(route))
