"""The field-level matrix (issue 15): no parameter that filters, sorts, groups or selects fields
lets a caller learn a field she may not read unmasked.

Generated, not listed:

- the **ways in** are every query parameter of the OpenAPI document whose name is one of
  :data:`FIELD_PARAMS` (``where``, ``filter``, ``sortby``, ``properties``, ``group_by``,
  ``q`` ...), on every route that has one; a new endpoint with such a parameter is covered
  without editing this file;
- the **fields** are every personal and free-text field of every layer in the one policy
  (:data:`geo.auth.fields.PERSONAL`, :data:`geo.auth.fields.FREE_TEXT`); layer path parameters
  (``{collection_id}``, ``{layer}``) take each of those layers;
- the **callers** are every demo role, anonymous, with and without ``?unmask=true``; the
  fields each may not read unmasked come from :func:`geo.auth.fields.field_access` on a row in
  its own scope (its best case);
- the **databases**: the Xing County demo, and two counties (the demo plus 临县 added by
  ``region add`` / ``demo load --region``, tests/two_counties.py), where every case is asked
  about 临县 (``?region=141124`` where the route takes it, a box around a 临县 case, its id)
  by each 兴县 role and by the prefecture command centre (demo-prefecture, 吕梁市): the same
  field rules hold for the prefecture, and no answer to a 兴县 role names a 临县 case.

For each (route, parameter, caller, field) two requests are made: one whose condition matches
the rows that have the field (``field IS NOT NULL``; sort ascending; select it) and one that
matches none (``field IS NULL``; sort descending). Both must be refused (4xx), or answer the
same: status, ``X-Row-Count``, ``numberMatched``, rows and their order. A selected field comes
back only as the caller reads it anyway (masking it again changes nothing). A positive control
shows that the comparison does see a difference where the policy allows the filter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from geo.auth.fields import FREE_TEXT, PERSONAL, Access, field_access, mask_value
from geo.auth.principal import Principal
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import pick_demo_worker
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, lin_codes, two_county_fixture

ROLES = ("anonymous", "admin", "command", "department", "worker", "planner", "viewer")
# Query parameters that name fields, and how each is probed.
FIELD_PARAMS = {
    "where": "filter", "filter": "filter", "q": "filter",
    "sortby": "sort", "sort": "sort", "order_by": "sort",
    "properties": "select", "fields": "select", "select": "select",
    "group_by": "group",
}
LAYER_PATH_PARAMS = ("collection_id", "layer")
GUARDED = {layer: PERSONAL.get(layer, ()) + FREE_TEXT.get(layer, ())
           for layer in sorted(set(PERSONAL) | set(FREE_TEXT))}
VOLATILE = {"timeStamp", "links", "as_of", "generated_at"}
CODE_RE = re.compile(r"SJ\d{14}")


@dataclass(frozen=True)
class Probe:
    method: str
    path: str  # template
    param: str
    kind: str
    takes_region: bool = False  # the route has a ``region`` query parameter

    def __str__(self) -> str:
        return f"{self.method} {self.path}?{self.param}"


def _probes() -> list[Probe]:
    app = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    out = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            for name in sorted(query & set(FIELD_PARAMS)):
                out.append(Probe(method.upper(), path, name, FIELD_PARAMS[name],
                                 "region" in query))
    return sorted(out, key=str)


PROBES = _probes()


def test_the_matrix_finds_the_ways_in() -> None:
    """The generator sees the known ways in (a renamed parameter must not silently drop)."""
    names = {str(p) for p in PROBES}
    for known in ("GET /export/{layer}?where", "GET /ogc/collections/{collection_id}/items?filter",
                  "GET /ogc/collections/{collection_id}/items?sortby",
                  "GET /ogc/collections/{collection_id}/items?properties", "GET /kpi?group_by"):
        assert known in names, sorted(names)


def _not_full(role: str, unmask: bool, layer: str) -> list[str]:
    """Fields of ``layer`` the role may not read unmasked, even on a row of its own scope
    (the prefecture command centre holds the command role over several counties)."""
    role = {"anonymous": "viewer", "prefecture": "command"}.get(role, role)
    who = Principal(user="x", role=role, unmask=unmask,
                    cell_codes=frozenset({"OWN"}), department_code="OWN")
    return [f for f in GUARDED[layer]
            if field_access(who, layer, f, "OWN", "OWN") is not Access.FULL]


@dataclass
class Env:
    client: TestClient
    headers: dict[str, dict[str, str]]
    incident_id: int
    bbox: str
    extra: dict[str, str] = field(default_factory=dict)  # of every route that takes them
    lin: frozenset[str] = frozenset()  # 临县's incident codes (two counties)


@pytest.fixture(scope="module")
def env(demo_url: str, demo_engine: Engine, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[Env]:
    with demo_engine.connect() as conn:
        # A small box (keeps exports small) around an incident of the demo worker's cell and
        # the demo department (xiaofang) with a reporter: every scoped role has rows in it.
        _, cell = pick_demo_worker(conn, "141123")
        iid, x, y = conn.execute(text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM incident WHERE reporter_phone IS NOT NULL "
            "AND description IS NOT NULL AND cell_code = :c AND department_code = 'xiaofang' "
            "ORDER BY id LIMIT 1"), {"c": cell}).one()
    bbox = f"{x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}"
    with TestClient(create_app(make_settings(demo_url, demo_open=False))) as client:
        yield Env(client, role_headers, iid, bbox)


two_counties = two_county_fixture()


@pytest.fixture(scope="module")
def env2(two_counties: tuple[str, Engine], role_headers: dict[str, dict[str, str]]
         ) -> Iterator[Env]:
    """Every case asked about 临县 on the two-county database (the demo users' ids are the
    template's, so their tokens hold)."""
    url, engine = two_counties
    with engine.connect() as conn:
        # a small box around a 临县 case (its busiest cell): the prefecture has rows in it
        iid, x, y = conn.execute(text(
            "SELECT id, ST_X(geom), ST_Y(geom) FROM incident WHERE region_code = :r AND "
            "cell_code = (SELECT cell_code FROM incident WHERE region_code = :r GROUP BY 1 "
            "ORDER BY count(*) DESC, 1 LIMIT 1) ORDER BY id LIMIT 1"), {"r": LIN}).one()
    bbox = f"{x - 0.01},{y - 0.01},{x + 0.01},{y + 0.01}"
    headers = {**role_headers, "prefecture": bearer_for(engine, PREFECTURE_USER[0])}
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        yield Env(client, headers, iid, bbox, {"region": LIN}, frozenset(lin_codes(engine)))


def _fill(path: str, layer: str, env: Env) -> str:
    for name in LAYER_PATH_PARAMS:
        path = path.replace("{" + name + "}", layer)
    return path.replace("{feature_id}", str(env.incident_id))


def _values(kind: str, param: str, name: str) -> tuple[str, str]:
    if kind == "filter":
        return f"{name} IS NOT NULL", f"{name} IS NULL"
    if kind == "sort":
        return name, f"-{name}"
    return name, name  # select, group: one request is judged on its own


def _normal(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _normal(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_normal(v) for v in body]
    return body


def _signal(r: Any) -> tuple[Any, ...]:
    try:
        body = _normal(r.json())
    except ValueError:
        body = r.text
    return r.status_code, r.headers.get("x-row-count"), json.dumps(body, sort_keys=True,
                                                                    default=str)


def _selected_values(body: Any, name: str) -> Iterator[Any]:
    if isinstance(body, dict):
        for k, v in body.items():
            if k == name and not isinstance(v, dict | list):
                yield v
            else:
                yield from _selected_values(v, name)
    elif isinstance(body, list):
        for v in body:
            yield from _selected_values(v, name)


def _cases(roles: tuple[str, ...] = ROLES) -> list[tuple[Probe, str, bool, str, str]]:
    cases = []
    for probe in PROBES:
        layered = any("{" + n + "}" in probe.path for n in LAYER_PATH_PARAMS)
        for layer in (GUARDED if layered else ("incidents",)):
            for role in roles:
                for unmask in (False, True):
                    for name in _not_full(role, unmask, layer):
                        cases.append((probe, layer, unmask, role, name))
    return cases


CASES = _cases()
CASES_TWO = _cases((*ROLES, "prefecture"))
CASE_ARGS = ("probe", "layer", "unmask", "role", "name")


def _ids(cases: list[tuple[Probe, str, bool, str, str]]) -> list[str]:
    return [f"{p}|{ly}|{r}|{'unmask' if u else 'plain'}|{n}" for p, ly, u, r, n in cases]


@pytest.mark.parametrize(CASE_ARGS, CASES, ids=_ids(CASES))
def test_no_way_in_reveals_a_field_the_caller_may_not_read(
    env: Env, probe: Probe, layer: str, unmask: bool, role: str, name: str,
) -> None:
    _check(env, probe, layer, unmask, role, name)


@pytest.mark.parametrize(CASE_ARGS, CASES_TWO, ids=_ids(CASES_TWO))
def test_two_counties_no_way_in_reveals_a_field_or_the_other_county(
    env2: Env, probe: Probe, layer: str, unmask: bool, role: str, name: str,
) -> None:
    for r in _check(env2, probe, layer, unmask, role, name):
        if role != "prefecture":
            leaked = set(CODE_RE.findall(r.text)) & env2.lin
            assert not leaked, f"{probe} as the 兴县 {role} names 临县 cases {sorted(leaked)[:3]}"


def _check(env: Env, probe: Probe, layer: str, unmask: bool, role: str, name: str,
           ) -> list[Any]:
    """The two requests of a case, judged; the answers (for further checks)."""
    path = _fill(probe.path, layer, env)
    base: dict[str, str] = {"bbox": env.bbox, "limit": "50", "format": "csv"} \
        if path.startswith("/export/") else {"limit": "50"} if "/items" in path else {}
    if probe.takes_region:
        base.update(env.extra)
    if unmask:
        base["unmask"] = "true"
    match, none = _values(probe.kind, probe.param, name)
    hdrs = env.headers[role]
    call = env.client.get if probe.method == "GET" else env.client.post
    r1 = call(path, params={**base, probe.param: match}, headers=hdrs)
    assert r1.status_code < 500, (r1.status_code, r1.text[:300])
    if probe.kind in ("select", "group"):
        if r1.status_code >= 400:
            return [r1]
        assert probe.kind == "select", (
            f"{probe} grouped by {name} for {role}: {r1.status_code} {r1.text[:200]}")
        try:
            body = r1.json()
        except ValueError:
            pytest.fail(f"{probe}: selected {name} answered as {r1.headers.get('content-type')}")
        for v in _selected_values(body, name):
            assert v is None or mask_value(name, v) == v, (
                f"{probe} as {role} returned {name}={v!r}, which it may read only masked")
        return [r1]
    r2 = call(path, params={**base, probe.param: none}, headers=hdrs)
    assert r2.status_code < 500, (r2.status_code, r2.text[:300])
    if r1.status_code >= 400 and r2.status_code >= 400:
        return [r1, r2]
    assert _signal(r1) == _signal(r2), (
        f"{probe} as {role} ({'unmask' if unmask else 'plain'}): a condition on {name}, which "
        f"the caller may not read unmasked, changes the answer ({r1.status_code} vs "
        f"{r2.status_code}, rows {r1.headers.get('x-row-count')} vs "
        f"{r2.headers.get('x-row-count')})")
    return [r1, r2]


def test_the_comparison_sees_an_allowed_filter(env: Env) -> None:
    """Positive control: where the policy allows the filter (the command centre, unmasked),
    the same pairs of requests differ; so the matrix above can fail."""
    hdrs = env.headers["command"]
    seen = 0
    for probe in PROBES:
        if probe.kind not in ("filter", "sort"):
            continue
        path = _fill(probe.path, "incidents", env)
        base = ({"bbox": env.bbox, "limit": "50", "format": "csv"}
                if path.startswith("/export/") else {"limit": "50"})
        match, none = _values(probe.kind, probe.param, "reporter_phone")
        r1 = env.client.get(path, params={**base, "unmask": "true", probe.param: match},
                            headers=hdrs)
        r2 = env.client.get(path, params={**base, "unmask": "true", probe.param: none},
                            headers=hdrs)
        if r1.status_code == 200:
            assert _signal(r1) != _signal(r2), f"{probe}: no difference seen"
            seen += 1
    assert seen >= 3, seen


def test_two_counties_the_comparison_sees_the_other_county(env2: Env) -> None:
    """Positive control: the same requests about 临县 on a field every role may use
    (``status``) show the prefecture 临县 cases through the ways in (filters, sorts,
    selections) and no 兴县 role any; so the check above can fail."""
    seen = 0
    for probe in PROBES:
        if probe.kind == "group":
            continue
        path = _fill(probe.path, "incidents", env2)
        base = ({"bbox": env2.bbox, "limit": "50", "format": "csv"}
                if path.startswith("/export/") else {"limit": "50"})
        value = _values(probe.kind, probe.param, "status")[0]
        params = {**base, **(env2.extra if probe.takes_region else {}), probe.param: value}
        pref = env2.client.get(path, params=params, headers=env2.headers["prefecture"])
        for role in ROLES:
            xing = env2.client.get(path, params=params, headers=env2.headers[role])
            assert xing.status_code < 500, (probe, role, xing.text[:300])
            assert not set(CODE_RE.findall(xing.text)) & env2.lin, (probe, role)
        if pref.status_code == 200 and set(CODE_RE.findall(pref.text)) & env2.lin:
            seen += 1
    assert seen >= 3, seen
