"""Issue 15 (low, audit gaps): every way out that can reveal personal fields names what an
unmasked read revealed; a new case's record names it; a query sent as POST is no write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from api.main import create_app
from tests.conftest import create_database, drop_database, make_settings


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, Engine, dict[str, str], dict[str, Any]]]:
    url = create_database(admin_engine, template=demo_template)
    engine = create_engine(url)
    with engine.connect() as conn:
        inc = dict(conn.execute(text(
            "SELECT id, code, ST_X(geom) AS x, ST_Y(geom) AS y FROM incident "
            "WHERE reporter_phone IS NOT NULL AND geom IS NOT NULL ORDER BY id LIMIT 1"))
            .mappings().one())
    with TestClient(create_app(make_settings(url, demo_open=False))) as client:
        yield client, engine, role_headers["command"], inc
    engine.dispose()
    drop_database(admin_engine, url)


def _last(engine: Engine, path: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT action, object_type, object_id, detail FROM audit_log WHERE path = :p "
            "AND action <> 'read_personal' ORDER BY id DESC LIMIT 1"), {"p": path}).mappings()
        found = row.first()
    return dict(found) if found else None


def test_unmasked_reads_name_what_they_revealed(
    env: tuple[TestClient, Engine, dict[str, str], dict[str, Any]],
) -> None:
    client, engine, command, inc = env
    box = f"{inc['x'] - 1e-6},{inc['y'] - 1e-6},{inc['x'] + 1e-6},{inc['y'] + 1e-6}"
    probes = (
        ("/ogc/collections/incidents/items", {"bbox": box}),
        (f"/ogc/collections/incidents/items/{inc['code']}", {}),
        ("/export/incidents", {"bbox": box, "format": "csv"}),
        ("/spatial/incidents/within", {"lon": inc["x"], "lat": inc["y"], "distance_m": 1}),
    )
    for path, params in probes:
        r = client.get(path, params={**params, "unmask": "true"}, headers=command)
        assert r.status_code == 200, (path, r.text[:300])
        rec = _last(engine, path)
        assert rec is not None and rec["action"] == "read_personal_items", (path, rec)
        named = next(iter(rec["detail"].values()))
        assert inc["id"] in named or inc["code"] in named, (path, rec)
        # a masked read of the same reveals nothing and records nothing more
        client.get(path, params=params, headers=command)
        assert _last(engine, path) == rec


def test_a_new_case_is_named_and_a_posted_query_is_no_write(
    env: tuple[TestClient, Engine, dict[str, str], dict[str, Any]],
) -> None:
    client, engine, command, inc = env
    r = client.post("/incidents", headers=command, json={
        "category": "fire_lane_blocked", "lon": inc["x"], "lat": inc["y"]})
    assert r.status_code == 201, r.text
    rec = _last(engine, "/incidents")
    assert rec is not None and rec["object_id"] == str(r.json()["id"])
    assert rec["object_type"] == "incident"
    x, y = inc["x"], inc["y"]
    ring = [[x - .001, y - .001], [x + .001, y - .001], [x + .001, y + .001],
            [x - .001, y + .001], [x - .001, y - .001]]
    r = client.post("/spatial/cells/intersects", headers=command,
                    json={"geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 200, r.text
    assert _last(engine, "/spatial/cells/intersects") is None


def test_refusals_are_audited(
    env: tuple[TestClient, Engine, dict[str, str], dict[str, Any]],
    role_headers: dict[str, dict[str, str]],
) -> None:
    client, engine, _, _ = env
    worker = role_headers["worker"]
    probes = (("/export/incidents", {"where": "reporter_phone LIKE '138%'", "format": "csv"}),
              ("/ogc/collections/incidents/items", {"sortby": "reporter_phone"}),
              ("/ogc/collections/incidents/items", {"filter": "reporter_name = '张三'"}))
    for path, params in probes:
        r = client.get(path, params=params, headers=worker)
        assert r.status_code == 422, r.text
        rec = _last(engine, path)
        assert rec is not None and rec["action"] == "refused", (path, rec)
        assert rec["detail"]["refused_fields"], rec
    r = client.get("/incidents", params={"unmask": "true"}, headers=role_headers["planner"])
    assert r.status_code == 403
    rec = _last(engine, "/incidents")
    assert rec is not None and rec["action"] == "refused" and rec["detail"]["status"] == 403
