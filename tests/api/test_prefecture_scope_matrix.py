"""The scope matrix over several regions (issue 21 item 2): every way out x every county role,
on two counties (兴县 demo + 临县 added by ``region add`` / ``demo load --region``).

Generated, not listed: the ways out are every ``GET`` route of the app (``app.routes``, as in
tests/api/test_authz_matrix.py, whose probes build the requests: list, export, OGC items,
tiles, kpi, board, events, nearby, duplicates, maps, reports ...), each called for the 临县 case
(its id, cell, point and category) once as the probe has it and once with ``?region=141124``
(where the way out takes ``region``).

- Every role of 兴县 (admin, command, department, worker, planner, viewer) and the anonymous
  caller never get a 临县 case: no 临县 incident code in any answer (a 5xx fails too).
- The prefecture command centre (demo-prefecture, 吕梁市) sees both: with ``?region=141124``
  exactly the 临县 cases the 临县 command centre sees, with ``?region=141123`` exactly those the
  兴县 command centre sees, on every way out; and some ways out do show it cases of each.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api.main import create_app
from geo.auth.users import add_user
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.api.test_authz_matrix import ENDPOINTS, Env, build_request
from tests.conftest import make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, lin_codes, two_county_fixture

two_counties = two_county_fixture()
ROLES = ("anonymous", "admin", "command", "department", "worker", "planner", "viewer")
READS = [e for e in ENDPOINTS if e.startswith("GET ")]


def _region_params() -> set[str]:
    """The ways out that take ``?region=`` (the OpenAPI document's query parameters)."""
    app = create_app(make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    return {f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items()
            for method, op in ops.items()
            if any(p["in"] == "query" and p["name"] == "region"
                   for p in op.get("parameters", []))}


TAKES_REGION = _region_params()
CODE_RE = re.compile(r"SJ\d{14}")
LIN_COMMAND = "lin-command"


@pytest.fixture(scope="module")
def env(two_counties: tuple[str, Engine]) -> Iterator[tuple[Env, set[str]]]:
    url, engine = two_counties
    settings = make_settings(url, rate_login_per_min=0, rate_expensive_per_min=0,
                             demo_open=False, demo_mode=True)
    cols = "id, code, cell_code, department_code, category_code, reporter_phone"
    with engine.begin() as conn:
        add_user(conn, LIN_COMMAND, "command", LIN, password="lin-command-matrix-2026")
        cells = frozenset(conn.execute(text(
            "SELECT a.cell_code FROM app_user u JOIN worker_assignment a "
            "ON a.worker_id = u.worker_id AND a.valid_to IS NULL "
            "WHERE u.username = 'demo-worker'")).scalars())
        own = conn.execute(text(
            f"SELECT {cols} FROM incident WHERE cell_code = ANY(:c) AND department_code = "
            "'xiaofang' AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1"),
            {"c": sorted(cells)}).mappings().one()
        # an open 临县 case of the 临县 cell with the most open cases: lists, nearby and
        # duplicates have company
        other = conn.execute(text(
            f"SELECT {cols} FROM incident WHERE region_code = :r AND status NOT IN "
            "('closed', 'rejected', 'cancelled', 'merged') AND cell_code = (SELECT cell_code "
            "FROM incident WHERE region_code = :r AND status NOT IN ('closed', 'rejected', "
            "'cancelled', 'merged') GROUP BY 1 ORDER BY count(*) DESC, 1 "
            "LIMIT 1) ORDER BY id LIMIT 1"), {"r": LIN}).mappings().one()

        def point(cell: str) -> tuple[float, float]:
            row = conn.execute(text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid_cell "
                "WHERE code = :c AND kind = 'basic') s"), {"c": cell}).one()
            return float(row[0]), float(row[1])

        own_point, other_point = point(own["cell_code"]), point(other["cell_code"])
    headers = {"anonymous": {}, **{role: bearer_for(engine, user[0])
                                   for role, user in DEMO_USERS.items()},
               "prefecture": bearer_for(engine, PREFECTURE_USER[0]),
               "lin-command": bearer_for(engine, LIN_COMMAND)}
    with TestClient(create_app(settings)) as client:
        yield Env(client=client, engine=engine, headers=headers, worker_cells=cells,
                  department="xiaofang", own=dict(own), other=dict(other),
                  own_point=own_point, other_point=other_point, incident_scope={},
                  code_scope={}, worker_phones=set()), lin_codes(engine)


def _call(env: Env, endpoint: str, role: str, scope: str, region: str | None = None
          ) -> tuple[int, str]:
    """The probe's request for ``role`` about the ``scope`` case (own: 兴县, other: 临县),
    with ``?region=`` when given; (status, body as text)."""
    # a probe that needs a fresh case of its own (an attachment) has it reported by the
    # command centre of the case's county
    maker = dataclasses.replace(env, headers={**env.headers, "command": env.headers[
        LIN_COMMAND if scope == "other" else "command"]})
    method, path, kw = build_request(maker, endpoint, role if role in ROLES else "command",
                                     scope)
    env.fresh = maker.fresh
    if region is not None and endpoint in TAKES_REGION:
        kw = {**kw, "params": {**(kw.get("params") or {}), "region": region}}
    r = env.client.request(method, path, headers=env.headers[role], **kw)
    assert r.status_code < 500, (endpoint, role, region, r.status_code, r.text[:300])
    return r.status_code, r.text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", READS)
def test_no_way_out_shows_a_xing_user_anything_of_lin(
        env: tuple[Env, set[str]], endpoint: str, role: str) -> None:
    e, lin = env
    for region in (None, LIN):
        status, body = _call(e, endpoint, role, "other", region)
        leaked = set(CODE_RE.findall(body)) & lin
        assert not leaked and f"SJ{LIN}" not in body, (
            f"{endpoint} as the 兴县 {role} (region={region}, {status}) shows 临县 cases: "
            f"{sorted(leaked)[:5]}")


SEEN: dict[str, tuple[set[str], set[str]]] = {}


@pytest.mark.parametrize("endpoint", READS)
def test_the_prefecture_sees_what_each_county_sees(env: tuple[Env, set[str]],
                                                   endpoint: str) -> None:
    e, lin = env
    pref_lin = _call(e, endpoint, "prefecture", "other", LIN)
    county_lin = _call(e, endpoint, LIN_COMMAND, "other")
    pref_xing = _call(e, endpoint, "prefecture", "own", XING)
    county_xing = _call(e, endpoint, "command", "own")
    codes = [set(CODE_RE.findall(body)) for _status, body in
             (pref_lin, county_lin, pref_xing, county_xing)]
    assert (pref_lin[0], codes[0]) == (county_lin[0], codes[1]), (
        f"{endpoint}: the prefecture with region={LIN} and the 临县 command centre differ")
    assert (pref_xing[0], codes[2]) == (county_xing[0], codes[3]), (
        f"{endpoint}: the prefecture with region={XING} and the 兴县 command centre differ")
    SEEN[endpoint] = (codes[0] & lin, codes[2] - lin)


def test_the_prefecture_sees_both_counties() -> None:
    """Over every way out the prefecture saw cases of each county (the matrix above ran)."""
    assert set(SEEN) == set(READS), sorted(set(READS) - set(SEEN))[:5]
    with_lin = sorted(e for e, (lin, _x) in SEEN.items() if lin)
    with_xing = sorted(e for e, (_l, xing) in SEEN.items() if xing)
    for way in ("GET /incidents", "GET /incidents/{incident_id}",
                "GET /ogc/collections/{collection_id}/items"):
        assert way in with_lin and way in with_xing, (way, with_lin, with_xing)
    assert len(with_lin) >= 5, with_lin


