"""The authorisation matrix: every endpoint x every role x own/other scope, from app.routes.

An endpoint missing from ``api.access_policy.ENDPOINT_POLICY`` fails
``test_every_endpoint_is_classified``; every classified endpoint is called as each role (and
anonymously) on an object inside and outside the caller's scope, and the outcome must be the
one its policy promises. Every response body is searched for personal data the caller may
not see: raw reporter phones (any, unless ``?unmask=true`` within scope), raw grid-worker
phones, and (for workers and departments) codes of incidents outside their scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.access_policy import ENDPOINT_POLICY, POLICIES, iter_endpoints
from api.main import create_app
from geo.auth.principal import UNMASK_ROLES
from geo.auth.users import add_user, create_api_token
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings

ROLES = ("anonymous", "admin", "command", "department", "worker", "planner", "viewer")
SCOPES = ("own", "other")
PHONE_RE = re.compile(r"(?<!\d)1\d{10}(?!\d)")
INCIDENT_CODE_RE = re.compile(r"SJ\d{14}")


def app_endpoints() -> list[str]:
    """'METHOD /path' of every route of the app (HEAD folded into GET)."""
    app = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    out = sorted(set(iter_endpoints(list(app.routes))))
    assert "GET /incidents/{incident_id}" in out, out  # the walker sees included routers
    return out


ENDPOINTS = app_endpoints()


def test_every_endpoint_is_classified() -> None:
    missing = [e for e in ENDPOINTS if e not in ENDPOINT_POLICY]
    assert not missing, (
        "endpoints without an access policy (add them to api/access_policy.py "
        f"ENDPOINT_POLICY): {missing}"
    )
    assert set(ENDPOINT_POLICY.values()) <= set(POLICIES)
    stale = [e for e in ENDPOINT_POLICY if e not in ENDPOINTS]
    assert not stale, f"classified endpoints that no longer exist: {stale}"


@dataclass
class Env:
    """The demo facts and the client the matrix runs against."""

    client: Any
    engine: Engine
    headers: dict[str, dict[str, str]]
    worker_cells: frozenset[str]
    department: str
    own: dict[str, Any]  # incident in the worker's cell, routed to the department
    other: dict[str, Any]  # incident elsewhere, routed to another department
    own_point: tuple[float, float]
    other_point: tuple[float, float]
    incident_scope: dict[str, tuple[str | None, str | None]]  # phone -> (cell, department)
    code_scope: dict[str, tuple[str | None, str | None]]  # incident code -> (cell, dept)
    worker_phones: set[str]
    seen: list[str] = field(default_factory=list)
    # Scope oracle: cases at the own point, reported now, that a scoped role may not know of
    # (another department's; one reassigned to another cell); every write probe's fresh case
    # has them as duplicate candidates, so any answer naming related cases would name them.
    shadows: list[dict[str, Any]] = field(default_factory=list)
    probe_target: dict[str, Any] | None = None  # a fresh incident a probe created (writes)
    fresh: int = 0  # counter for the reporter phones of fresh incidents


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str) -> Iterator[Env]:
    from fastapi.testclient import TestClient

    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    settings = make_settings(url, rate_login_per_min=0, rate_expensive_per_min=0,
                             demo_open=False, demo_mode=True)
    with engine.begin() as conn:
        add_user(conn, "matrix-other", "viewer", "141123", password="matrix-other-pw")
        from geo.io.importer.profiles import save_profile

        save_profile(conn, "141123", "matrix", {"columns": {"类别": "category"}}, "matrix")
        cells = frozenset(conn.execute(text(
            "SELECT a.cell_code FROM app_user u JOIN worker_assignment a "
            "ON a.worker_id = u.worker_id AND a.valid_to IS NULL "
            "WHERE u.username = 'demo-worker'")).scalars())
        own = conn.execute(text(
            "SELECT id, code, cell_code, department_code, category_code, reporter_phone "
            "FROM incident WHERE cell_code = ANY(:c) "
            "AND department_code = 'xiaofang' AND reporter_phone IS NOT NULL ORDER BY id "
            "LIMIT 1"), {"c": sorted(cells)}).mappings().one()
        other = conn.execute(text(
            "SELECT id, code, cell_code, department_code, category_code, reporter_phone "
            "FROM incident WHERE NOT cell_code = ANY(:c) AND department_code <> 'xiaofang' "
            "AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1"),
            {"c": sorted(cells)}).mappings().one()

        def point(cell: str) -> tuple[float, float]:
            row = conn.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell "
                "WHERE code = :c AND kind = 'basic') s"), {"c": cell}).one()
            return float(row[0]), float(row[1])

        own_point, other_point = point(own["cell_code"]), point(other["cell_code"])
        rows = conn.execute(text(
            "SELECT code, reporter_phone, cell_code, department_code FROM incident")).all()
        worker_phones = {p for (p,) in conn.execute(text(
            "SELECT phone FROM grid_worker WHERE phone IS NOT NULL"))}
    with TestClient(create_app(settings)) as client:
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for role, (username, password, _) in DEMO_USERS.items():
            r = client.post("/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
            client.cookies.clear()
        shadows = []
        for dept, moved_to in ((other["department_code"], None), ("xiaofang", other["cell_code"])):
            r = client.post("/incidents", headers=headers["command"], json={
                "category": own["category_code"], "department": dept, "description": "shadow",
                **dict(zip(("lon", "lat"), own_point, strict=True))})
            assert r.status_code == 201, r.text
            shadow = {"id": r.json()["id"], "code": r.json()["code"],
                      "cell_code": moved_to or r.json()["cell_code"], "department_code": dept}
            if moved_to:
                with engine.begin() as conn:
                    conn.execute(text("UPDATE incident SET cell_code = :c WHERE id = :i"),
                                 {"c": moved_to, "i": shadow["id"]})
            shadows.append(shadow)
            rows.append((shadow["code"], None, shadow["cell_code"], dept))
        yield Env(
            client=client, engine=engine, headers=headers, worker_cells=cells,
            department="xiaofang", own=dict(own), other=dict(other), own_point=own_point,
            other_point=other_point,
            incident_scope={p: (c, d) for _, p, c, d in rows if p},
            code_scope={code: (c, d) for code, _, c, d in rows},
            worker_phones=worker_phones, shadows=shadows,
        )
    engine.dispose()
    drop_database(admin_engine, url)


def in_scope(env: Env, role: str, cell: str | None, dept: str | None) -> bool:
    if role in ("admin", "command"):
        return True
    if role == "worker":
        return cell in env.worker_cells
    if role == "department":
        return dept == env.department
    return False


# -- probes: how to call an endpoint for an object in / out of the caller's scope ----------

Request = tuple[str, str, dict[str, Any]]


def _token_id(env: Env, role: str, scope: str) -> int:
    owner = "matrix-other" if scope == "other" else DEMO_USERS.get(role, DEMO_USERS["viewer"])[0]
    with env.engine.begin() as conn:
        tid, _ = create_api_token(conn, owner, "matrix")
    return tid


def _login(env: Env, role: str, scope: str) -> Request:
    username, password, _ = DEMO_USERS.get(role, DEMO_USERS["viewer"])
    return "POST", "/auth/login", {"json": {"username": username, "password": password}}


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
Q3 = {"from": "2026-07-01", "to": "2026-09-30"}


def _fresh(env: Env, scope: str, *, located: bool = True,
           steps: tuple[str, ...] = ()) -> dict[str, Any]:
    """A new incident like ``env.own`` / ``env.other`` (same cell, department, category),
    reported by the command centre and moved through ``steps``; it becomes the probe's target.

    Writes change their case, so every write probe gets its own case: the shared ``own`` and
    ``other`` incidents stay as they are for the reads.
    """
    base = getattr(env, scope)
    env.fresh += 1
    phone = f"1390{env.fresh:07d}"
    body: dict[str, Any] = {"category": base["category_code"], "reporter_name": "矩阵",
                            "reporter_phone": phone, "department": base["department_code"],
                            "description": "authorisation matrix probe"}
    if located:
        body.update(zip(("lon", "lat"), getattr(env, f"{scope}_point"), strict=True))
    else:
        body["place"] = "无此地点-matrix"
    cmd = env.headers["command"]
    r = env.client.post("/incidents", json=body, headers=cmd)
    assert r.status_code == (201 if located else 422), r.text
    with env.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT id, code, cell_code, department_code, version FROM incident "
            "WHERE reporter_phone = :p"), {"p": phone}).mappings().one()
    if located:
        assert row["cell_code"] == base["cell_code"], (row, base)
    for step in steps:
        r = env.client.post(f"/incidents/{row['id']}/{step}", headers=cmd,
                            json={"to": step} if step in ("registered", "dispatched") else {})
        assert r.status_code == 200, r.text
    target = {**dict(row), "reporter_phone": phone}
    env.incident_scope[phone] = (base["cell_code"], base["department_code"])
    env.code_scope[row["code"]] = (base["cell_code"], base["department_code"])
    env.probe_target = target
    return target


def _write(path: str, body: dict[str, Any] | None = None, located: bool = True,
           steps: tuple[str, ...] = ()) -> Callable[[Env, str, str], Request]:
    def probe(env: Env, role: str, scope: str) -> Request:
        t = _fresh(env, scope, located=located, steps=steps)
        return "POST", path.format(id=t["id"]), {"json": body(env, scope, t)
                                                 if callable(body) else (body or {})}
    return probe


def _callback(env: Env, role: str, scope: str) -> Request:
    """回访 on a closed case (closed by the command centre first)."""
    t = _fresh(env, scope)
    for to in ("registered", "dispatched", "handled", "verified", "closed"):
        r = env.client.post(f"/incidents/{t['id']}/transition", json={"to": to},
                            headers=env.headers["command"])
        assert r.status_code == 200, r.text
    return "POST", f"/incidents/{t['id']}/callback", {"json": {"satisfaction": "satisfied"}}


def _transition(env: Env, role: str, scope: str) -> Request:
    t = _fresh(env, scope)
    for to in ("registered", "dispatched"):
        r = env.client.post(f"/incidents/{t['id']}/transition", json={"to": to},
                            headers=env.headers["command"])
        assert r.status_code == 200, r.text
    return "POST", f"/incidents/{t['id']}/transition", {"json": {"to": "in_progress"}}


def _merge(env: Env, role: str, scope: str) -> Request:
    dup = _fresh(env, scope)
    t = _fresh(env, scope)
    return "POST", f"/incidents/{t['id']}/merge", {"json": {"duplicate_ids": [dup["id"]]}}


def _resume(env: Env, role: str, scope: str) -> Request:
    t = _fresh(env, scope)
    r = env.client.post(f"/incidents/{t['id']}/pause", json={}, headers=env.headers["command"])
    assert r.status_code == 200, r.text
    return "POST", f"/incidents/{t['id']}/resume", {"json": {}}


def _decision(env: Env, role: str, scope: str) -> Request:
    t = _fresh(env, scope)
    with env.engine.begin() as conn:
        rid = conn.execute(text(
            "INSERT INTO incident_request (region_code, incident_id, kind, reason, "
            "requested_by) SELECT region_code, id, 'suspend', 'matrix', 'matrix' FROM incident "
            "WHERE id = :i RETURNING id"), {"i": t["id"]}).scalar_one()
    return ("POST", f"/incidents/{t['id']}/requests/{rid}/decision",
            {"json": {"approve": False}})


def _attachment(env: Env, role: str, scope: str) -> Request:
    t = _fresh(env, scope)
    r = env.client.post(f"/incidents/{t['id']}/attachments", headers=env.headers["command"],
                        files=[("files", ("m.png", PNG, "image/png"))])
    assert r.status_code == 201, r.text
    return "GET", f"/incidents/{t['id']}/attachments/{r.json()['attachments'][0]['id']}", {}


def _tile(env: Env, scope: str, layer: str, z: int = 14) -> str:
    import math

    lon, lat = getattr(env, f"{scope}_point")
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf"


def _near(env: Env, scope: str, **extra: Any) -> dict[str, Any]:
    lon, lat = getattr(env, f"{scope}_point")
    return {"params": {"lon": lon, "lat": lat, **extra}}


def _bbox(env: Env, scope: str, d: float = 0.01) -> str:
    lon, lat = getattr(env, f"{scope}_point")
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def _square(env: Env, scope: str) -> dict[str, Any]:
    x0, y0, x1, y1 = (float(v) for v in _bbox(env, scope).split(","))
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1],
                                                [x0, y0]]]}


def _get(path: str, **params: Any) -> Callable[[Env, str, str], Request]:
    return lambda env, role, scope: ("GET", path, {"params": dict(params)})


def _key_point(env: Env) -> dict[str, Any]:
    """A check-in body at the demo worker's first key point (standing on it)."""
    with env.engine.connect() as conn:
        kid, x, y = conn.execute(text(
            "SELECT k.id, ST_X(k.geom), ST_Y(k.geom) FROM key_point k WHERE k.cell_code = "
            "ANY(SELECT a.cell_code FROM worker_assignment a JOIN app_user u ON u.worker_id = "
            "a.worker_id WHERE u.username = 'demo-worker' AND a.valid_to IS NULL) "
            "ORDER BY k.id LIMIT 1")).one()
    return {"key_point_id": kid, "lon": x, "lat": y}


def _cams_csv() -> bytes:
    return (b"gb_id,lon,lat\n14112399991320000091,111.131,38.461\n")


def _hotline_csv(env: Env, scope: str) -> bytes:
    lon, lat = getattr(env, f"{scope}_point")
    cat = getattr(env, scope)["category_code"]
    return ("工单编号,来电时间,问题类型,诉求内容,事发地点,来电人,联系电话,经度,纬度\n"
            f"M001,2024-08-01 10:00,{cat},matrix,,,,{lon},{lat}\n").encode()


PROBES: dict[str, Callable[[Env, str, str], Request]] = {
    "GET /cells/at": lambda env, role, scope: (
        "GET", "/cells/at", {"params": dict(zip(("lon", "lat"),
                                                 getattr(env, f"{scope}_point"), strict=True))}),
    "GET /incidents": lambda env, role, scope: (
        "GET", "/incidents", {"params": {"cell": getattr(env, scope)["cell_code"],
                                         "limit": 1000}}),
    "POST /auth/login": _login,
    "POST /login": lambda env, role, scope: (
        "POST", "/login", {"data": {**dict(zip(("username", "password"),
                                               DEMO_USERS.get(role, DEMO_USERS["viewer"])[:2],
                                               strict=True)), "next": "/health"}}),
    "POST /auth/tokens": lambda env, role, scope: (
        "POST", "/auth/tokens", {"json": {"name": "matrix"}}),
    "DELETE /auth/tokens/{token_id}": lambda env, role, scope: (
        "DELETE", f"/auth/tokens/{_token_id(env, role, scope)}", {}),
    # public layers: the incident layers where a layer is a parameter (scoped and masked)
    "POST /cells/at": lambda env, role, scope: (
        "POST", "/cells/at", {"json": {"points": [list(getattr(env, f"{scope}_point"))]}}),
    "GET /ogc/collections/{collection_id}/items/{feature_id}": lambda env, role, scope: (
        "GET", f"/ogc/collections/cells/items/{getattr(env, scope)['cell_code']}", {}),
    "GET /ogc/collections/{collection_id}/items": lambda env, role, scope: (
        "GET", "/ogc/collections/incidents/items", {"params": {"bbox": _bbox(env, scope),
                                                               "limit": 1000}}),
    "GET /spatial/{layer}/within": lambda env, role, scope: (
        "GET", "/spatial/incidents/within", _near(env, scope, distance_m=500)),
    "GET /spatial/{layer}/nearest": lambda env, role, scope: (
        "GET", "/spatial/incidents/nearest", _near(env, scope, k=20)),
    "POST /spatial/{layer}/intersects": lambda env, role, scope: (
        "POST", "/spatial/incidents/intersects", {"json": {"geometry": _square(env, scope)}}),
    "GET /spatial/inside/{kind}/{code}": lambda env, role, scope: (
        "GET", f"/spatial/inside/cell/{getattr(env, scope)['cell_code']}", {}),
    "GET /tiles/overview/{z}/{x}/{y}.pbf": lambda env, role, scope: (
        "GET", _tile(env, scope, "overview"), {}),
    "GET /tiles/{layer}/{z}/{x}/{y}.pbf": lambda env, role, scope: (
        "GET", _tile(env, scope, "incidents"), {}),
    "GET /static/{path:path}": lambda env, role, scope: (
        "GET", "/static/wangge/wangge.js", {}),
    "GET /export/{layer}": lambda env, role, scope: (
        "GET", "/export/cells", {"params": {"format": "geojson"}}),
    "POST /admin/import/{layer}": lambda env, role, scope: (
        "POST", "/admin/import/cameras", {"files": {"file": ("cams.csv", _cams_csv())},
                                          "data": {"region": "141123",
                                                   "code_field": "gb_id"}}),
    "GET /analysis/camera-coverage": _get("/analysis/camera-coverage", **Q3),
    "GET /analysis/camera-sectors": _get("/analysis/camera-sectors", **Q3),
    "GET /analysis/camera-sites": _get("/analysis/camera-sites", **Q3),
    "GET /analysis/grid-health": _get("/analysis/grid-health", **Q3),
    "GET /analysis/hotspots": _get("/analysis/hotspots", **Q3),
    "GET /analysis/property-management": _get("/analysis/property-management", **Q3),
    "GET /kpi": lambda env, role, scope: (
        "GET", "/kpi", {"params": {"from": "2020-01-01", "to": "2030-01-01",
                                   "group_by": "worker"}}),
    "GET /reports/monthly": _get("/reports/monthly", month="2026-10", format="json"),
    "GET /incidents/overdue": lambda env, role, scope: (
        "GET", "/incidents/overdue", {"params": {"as_of": "2030-01-01T00:00:00+08:00",
                                                 "limit": 10000}}),
    "GET /me/incidents": lambda env, role, scope: (
        "GET", "/me/incidents", {"params": {"all_statuses": "true", "limit": 10000}}),
    "GET /maps/data/incidents": lambda env, role, scope: (
        "GET", "/maps/data/incidents", {"params": {"bbox": _bbox(env, scope)}}),
    "POST /incidents": lambda env, role, scope: (
        "POST", "/incidents", {"json": {
            "category": getattr(env, scope)["category_code"], "description": "matrix report",
            **dict(zip(("lon", "lat"), getattr(env, f"{scope}_point"), strict=True))}}),
    "POST /import/profiles/propose": lambda env, role, scope: (
        "POST", "/import/profiles/propose", {"files": {"file": ("hotline.csv",
                                                                _hotline_csv(env, scope))}}),
    "GET /import/profiles/{name}": lambda env, role, scope: (
        "GET", "/import/profiles/matrix", {}),
    "PUT /import/profiles/{name}": lambda env, role, scope: (
        "PUT", "/import/profiles/matrix", {"json": {"columns": {"类别": "category"}}}),
    "POST /incidents/bulk": lambda env, role, scope: (
        "POST", "/incidents/bulk", {"files": {"file": ("hotline.csv",
                                                       _hotline_csv(env, scope))},
                                    "data": {"commit": "false"}}),
    # writes: each on a fresh case of the scope (the probe's target)
    "POST /incidents/{incident_id}/transition": _transition,
    "POST /incidents/{incident_id}/notes": _write("/incidents/{id}/notes",
                                                  {"note": "matrix"}),
    "POST /incidents/{incident_id}/attachments": lambda env, role, scope: (
        "POST", f"/incidents/{_fresh(env, scope)['id']}/attachments",
        {"files": [("files", ("m.png", PNG, "image/png"))]}),
    "POST /incidents/{incident_id}/locate": _write(
        "/incidents/{id}/locate", lambda env, scope, t: dict(zip(
            ("lon", "lat"), getattr(env, f"{scope}_point"), strict=True)), located=False),
    "POST /incidents/{incident_id}/merge": _merge,
    "POST /incidents/{incident_id}/reassign": _write(
        "/incidents/{id}/reassign", lambda env, scope, t: {
            "department_code": env.other["department_code"] if scope == "own"
            else env.own["department_code"]}),
    "POST /incidents/{incident_id}/pause": _write("/incidents/{id}/pause", {}),
    "POST /incidents/{incident_id}/resume": _resume,
    "POST /incidents/{incident_id}/extend": _write("/incidents/{id}/extend", {"minutes": 30}),
    "GET /incidents/{incident_id}/attachments/{attachment_id}": _attachment,
    # patrols (issue 17): a one-point segment in the scope's cell; a check-in at a key point
    "POST /me/patrols": lambda env, role, scope: (
        "POST", "/me/patrols", {"json": {
            "client_id": f"matrix-{role}-{scope}", "started_at": _an_hour_ago(),
            "points": [{"t": _an_hour_ago(), **dict(zip(
                ("lon", "lat"), getattr(env, f"{scope}_point"), strict=True))}]}}),
    "POST /me/checkins": lambda env, role, scope: (
        "POST", "/me/checkins", {"json": _key_point(env)}),
    # live events (issue 18): a stream bounded to a moment, so the probe gets its answer
    "GET /events": _get("/events", max_s=0.2),
    "POST /incidents/{incident_id}/callback": _callback,
    "GET /incidents/nearby": lambda env, role, scope: (
        "GET", "/incidents/nearby", {"params": {
            "category": getattr(env, scope)["category_code"],
            **dict(zip(("lon", "lat"), getattr(env, f"{scope}_point"), strict=True))}}),
    "POST /incidents/{incident_id}/requests": _write(
        "/incidents/{id}/requests", {"kind": "suspend", "reason": "matrix"}),
    "POST /incidents/{incident_id}/requests/{request_id}/decision": _decision,
    "GET /open311/v2/requests.{fmt}": lambda env, role, scope: (
        "GET", "/open311/v2/requests.json", {"params": {
            "service_request_id": getattr(env, scope)["code"]}}),
    "PUT /incidents/categories/{code}/limits": lambda env, role, scope: (
        "PUT", f"/incidents/categories/{getattr(env, scope)['category_code']}/limits",
        {"json": {"normal": {"register": 30, "dispatch": 30, "handle": 2400, "verify": 120},
                  "urgent": {"register": 10, "dispatch": 10, "handle": 480, "verify": 60}}}),
    "POST /open311/v2/requests.{fmt}": lambda env, role, scope: (
        "POST", "/open311/v2/requests.json", {"data": {
            "service_code": getattr(env, scope)["category_code"], "description": "matrix",
            **dict(zip(("long", "lat"), getattr(env, f"{scope}_point"), strict=True))}}),
}
# Answers that are files: no incident code or phone in the body; "hidden" must be a 404.
FILE_ENDPOINTS = {"GET /incidents/{incident_id}/attachments/{attachment_id}"}
# Where the scope of a case cannot be "own" for a role: a case waiting for its location has
# no cell yet, so no worker's scope holds it (departments see it by their department).
EXPECTED_OVERRIDES = {("POST /incidents/{incident_id}/locate", "worker", "own"): "hidden",
                      # the incidents collection asks anonymous callers to log in (public
                      # collections stay open; the probe's collection is incidents)
                      **{("GET /ogc/collections/{collection_id}/items", "anonymous", s): "login"
                         for s in SCOPES},
                      **{("GET /ogc/collections/{collection_id}/items", "viewer", s): "denied"
                         for s in SCOPES}}
PATH_PARAMS: dict[str, Callable[[Env, str], str]] = {
    "incident_id": lambda env, scope: str(getattr(env, scope)["id"]),
    "code": lambda env, scope: str(getattr(env, scope)["cell_code"]),
    "collection_id": lambda env, scope: "incidents",
    "fmt": lambda env, scope: "json",
    "service_code": lambda env, scope: str(getattr(env, scope)["category_code"]),
    "service_request_id": lambda env, scope: str(getattr(env, scope)["code"]),
    "token_id": lambda env, scope: "SJ0",
}


def _an_hour_ago() -> str:
    """A patrol time inside the field-staff window (24 h back, 5 min ahead)."""
    import datetime as dt

    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()


def build_request(env: Env, endpoint: str, role: str, scope: str) -> Request:
    if endpoint in PROBES:
        return PROBES[endpoint](env, role, scope)
    method, path = endpoint.split(" ", 1)
    for name in re.findall(r"{(\w+)}", path):
        assert name in PATH_PARAMS, (
            f"{endpoint}: no probe for path parameter {{{name}}}; add one to PROBES or "
            "PATH_PARAMS in tests/api/test_authz_matrix.py")
        path = path.replace(f"{{{name}}}", PATH_PARAMS[name](env, scope))
    return method, path, {}


def expected(endpoint: str, role: str, scope: str) -> str:
    """ok (2xx), hidden (404 or 2xx without the object), denied (403), login (401)."""
    policy = ENDPOINT_POLICY[endpoint]
    has_object = "{" in endpoint or endpoint in ("GET /incidents",)
    if (endpoint, role, scope) in EXPECTED_OVERRIDES:
        return EXPECTED_OVERRIDES[(endpoint, role, scope)]
    if policy in ("public", "public_layer"):
        return "ok"
    if role == "anonymous":
        return "login"
    if policy == "aggregate":
        return "ok"
    if policy == "admin":
        return "ok" if role == "admin" else "denied"
    if policy == "authenticated":
        return "ok" if scope == "own" or role == "admin" or not has_object else "hidden"
    if policy == "command":
        return "ok" if role in ("admin", "command") else "denied"
    if policy == "patrol_self":  # a grid worker's own patrols (geo.patrols.access)
        return "ok" if role == "worker" else "denied"
    if policy == "patrol_aggregate":
        return "ok" if role in ("admin", "command", "planner", "worker") else "denied"
    if role in ("planner", "viewer"):  # incident policies from here on
        return "denied"
    if policy == "incident_request":  # the command centre acts directly, it does not ask
        if role in ("admin", "command"):
            return "denied"
        return "ok" if scope == "own" else "hidden"
    if policy == "scoped" or role in ("admin", "command"):
        return "ok"
    if policy == "report":
        return "ok" if scope == "own" else "denied"
    if policy in ("incidents", "incident_write"):
        return "ok" if scope == "own" else "hidden"
    if policy == "incident_command":
        return "denied" if scope == "own" else "hidden"
    raise AssertionError(f"unknown policy {policy}")


def check_no_leak(env: Env, role: str, body: str, unmasked: bool, what: str) -> None:
    """No raw phone the caller may not see; no out-of-scope incident code for scoped roles."""
    for phone in PHONE_RE.findall(body):
        if phone in env.worker_phones:
            raise AssertionError(f"{what}: raw grid-worker phone {phone} leaked to {role}")
        if phone in env.incident_scope:
            cell, dept = env.incident_scope[phone]
            ok = unmasked and role in UNMASK_ROLES and in_scope(env, role, cell, dept)
            assert ok, (f"{what}: reporter phone {phone} (cell {cell}, {dept}) leaked to {role}"
                        f"{' with unmask' if unmasked else ' without unmask'}")
    if role in ("worker", "department") and "/openapi.json" not in what:  # its examples
        for sh in env.shadows:
            if not in_scope(env, role, sh["cell_code"], sh["department_code"]):
                assert not re.search(rf'"id":\s*{sh["id"]}\b', body), (
                    f"{what}: related case id {sh['id']} outside {role}'s scope named")
        for code in set(INCIDENT_CODE_RE.findall(body)):
            if code in env.code_scope:
                cell, dept = env.code_scope[code]
                assert in_scope(env, role, cell, dept), (
                    f"{what}: incident {code} (cell {cell}, {dept}) outside {role}'s scope")


def call(env: Env, endpoint: str, role: str, scope: str, unmask: bool = False) -> tuple[
        Any, str]:
    env.probe_target = None
    method, path, kwargs = build_request(env, endpoint, role, scope)
    if unmask:
        kwargs.setdefault("params", {})["unmask"] = "true"
    env.client.cookies.clear()
    headers = env.headers[role]
    if endpoint == "POST /auth/logout" and role != "anonymous":
        # logging out ends the session: log in afresh so that later probes keep theirs
        username, password, _ = DEMO_USERS[role]
        login = env.client.post("/auth/login", json={"username": username, "password": password})
        env.client.cookies.clear()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    r = env.client.request(method, path, headers=headers, **kwargs)
    return r, f"{method} {path} {kwargs.get('params', '')} as {role} ({scope})"


def refresh_scope(env: Env) -> None:
    """Re-read the probe's case after the call: a write (reassign) may have moved it to
    another cell or department, and later probes judge leaks by where it is now."""
    t = env.probe_target
    if t is None:
        return
    with env.engine.connect() as conn:
        cell, dept = conn.execute(text(
            "SELECT cell_code, department_code FROM incident WHERE id = :i"),
            {"i": t["id"]}).one()
    env.incident_scope[t["reporter_phone"]] = (cell, dept)
    env.code_scope[t["code"]] = (cell, dept)


def assert_outcome(env: Env, r: Any, outcome: str, target: dict[str, Any] | None,
                   what: str, file_answer: bool = False) -> None:
    body = r.text
    assert "Traceback" not in body, what
    if outcome == "ok":
        assert 200 <= r.status_code < 300, f"{what}: expected 2xx, got {r.status_code} {body}"
        if target is not None:
            assert target["code"] in body, (
                f"{what}: the object {target['code']} is missing (for a list endpoint add a "
                "probe to PROBES that selects it, e.g. by cell or bbox)")
    elif outcome == "hidden" and file_answer:
        assert r.status_code == 404, f"{what}: expected 404, got {r.status_code}"
    elif outcome == "hidden":
        assert r.status_code == 404 or 200 <= r.status_code < 300, (
            f"{what}: expected 404 or an empty answer, got {r.status_code}")
        if target is not None:
            assert target["code"] not in body, f"{what}: out-of-scope {target['code']} shown"
            assert target["reporter_phone"] not in body, what
    elif outcome == "denied":
        assert r.status_code == 403, f"{what}: expected 403, got {r.status_code} {body}"
    elif outcome == "login":
        assert r.status_code == 401, f"{what}: expected 401, got {r.status_code} {body}"
        assert "bearer" in r.headers.get("www-authenticate", "").lower(), what


MATRIX = [(e, role, scope) for e in ENDPOINTS if e in ENDPOINT_POLICY
          for role in ROLES for scope in SCOPES]


@pytest.mark.parametrize(("endpoint", "role", "scope"), MATRIX,
                         ids=[f"{e}|{r}|{s}" for e, r, s in MATRIX])
def test_matrix(env: Env, endpoint: str, role: str, scope: str) -> None:
    outcome = expected(endpoint, role, scope)
    r, what = call(env, endpoint, role, scope)
    refresh_scope(env)
    policy = ENDPOINT_POLICY[endpoint]
    target = env.probe_target or (getattr(env, scope) if policy in (
        "incidents", "incident_write", "incident_command") else None)
    file_answer = endpoint in FILE_ENDPOINTS
    if file_answer:
        target = None
    assert_outcome(env, r, outcome, target, what, file_answer)
    check_no_leak(env, role, r.text if not file_answer else "", unmasked=False, what=what)
    if outcome == "ok" and target is not None and '"reporter_phone"' in r.text:
        # masked by default, for every role (answers that carry the case itself)
        assert target["reporter_phone"] not in r.text, what
        assert target["reporter_phone"][:3] + "****" + target["reporter_phone"][-4:] in r.text


PERSONAL = [(e, role, scope) for e in ENDPOINTS
            if ENDPOINT_POLICY.get(e) == "incidents" and e.startswith("GET ")
            and e not in FILE_ENDPOINTS
            for role in ROLES for scope in SCOPES]


@pytest.mark.parametrize(("endpoint", "role", "scope"), PERSONAL,
                         ids=[f"{e}|{r}|{s}|unmask" for e, r, s in PERSONAL])
def test_matrix_unmask(env: Env, endpoint: str, role: str, scope: str) -> None:
    outcome = expected(endpoint, role, scope)
    target = getattr(env, scope)
    with env.engine.connect() as conn:
        before = conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'read_personal'")).scalar()
    r, what = call(env, endpoint, role, scope, unmask=True)
    assert_outcome(env, r, outcome, target, what)
    check_no_leak(env, role, r.text, unmasked=True, what=what)
    with env.engine.connect() as conn:
        after = conn.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'read_personal'")).scalar()
    if outcome == "ok":
        assert target["reporter_phone"] in r.text, f"{what}: unmask gave no phone"
        assert after == (before or 0) + 1, f"{what}: unmasked read not audited"
    if role not in UNMASK_ROLES:
        assert after == before, f"{what}: refused unmask must not count as a read"


def test_the_shadow_cases_are_related_to_every_write_probe(env: Env) -> None:
    """Positive control of the scope oracle: the command centre reporting at the own point is
    shown both shadow cases as duplicate candidates, so a write answer that named related
    cases without the scope rule would name them to workers and departments too."""
    r = env.client.post("/incidents", headers=env.headers["command"], json={
        "category": env.own["category_code"], "department": env.department,
        **dict(zip(("lon", "lat"), env.own_point, strict=True))})
    assert r.status_code == 201, r.text
    named = {d["id"] for d in r.json()["routing"]["duplicates"]}
    assert {sh["id"] for sh in env.shadows} <= named, (named, env.shadows)
    for role in ("worker", "department"):
        out = [sh for sh in env.shadows
               if not in_scope(env, role, sh["cell_code"], sh["department_code"])]
        assert out, role  # each scoped role has a shadow it may not know of


@pytest.mark.parametrize("role", ["worker", "department"])
def test_scoped_role_never_sees_other_reporters(env: Env, role: str) -> None:
    """Page through every incident the role can list, unmasked: nothing out of scope."""
    seen = 0
    offset = 0
    while True:
        r = env.client.get("/incidents", headers=env.headers[role],
                           params={"limit": 1000, "offset": offset, "unmask": "true"})
        assert r.status_code == 200
        page = r.json()
        for p in page:
            assert in_scope(env, role, p["cell_code"], p["department_code"]), p["code"]
            assert not p["reporter_phone"] or "*" not in p["reporter_phone"]  # unmasked
        check_no_leak(env, role, r.text, unmasked=True, what=f"/incidents page {offset}")
        seen += len(page)
        offset += 1000
        if len(page) < 1000:
            break
    assert seen > 0
    with env.engine.connect() as conn:
        if role == "worker":
            n = conn.execute(text("SELECT count(*) FROM incident WHERE cell_code = ANY(:c)"),
                             {"c": sorted(env.worker_cells)}).scalar()
        else:
            n = conn.execute(text(
                "SELECT count(*) FROM incident WHERE department_code = 'xiaofang'")).scalar()
    assert seen == n  # the whole scope, nothing more
