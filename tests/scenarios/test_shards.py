"""Counties on other servers (issue 21, items 3-4): a coordinator and two shards, three local
PostGIS clusters started by the test like the project's own.

The two-county database (兴县 demo + 临县) is the coordinator; ``wangge db shard add`` moves
临县 to a second cluster (兴县 then goes to a loopback shard ``local`` on the coordinator's
server), then 兴县 to a third cluster. The application then runs unchanged on the
coordinator: its answers equal those of the single server it came from, a county's query is
pruned to one shard with its spatial predicate sent there, a write lands on the county's
shard (and its shard's triggers roll it up), ``wangge db status`` / ``migrate`` cover every
shard, and a shard that stops gives 503 naming it for its county while the other county's
users keep working.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from api import localdb
from api.main import create_app
from geo.db import shards
from geo.demo.grid_county import PREFECTURE_USER
from geo.demo.users import DEMO_USERS
from tests.conftest import create_database, drop_database, make_settings
from tests.served import bearer_for
from tests.two_counties import LIN, XING, cell_point, two_county_template


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def single(admin_engine: Engine, demo_template: str) -> Iterator[tuple[str, Engine]]:
    """The two counties on one server: what the federation must answer the same as."""
    url = create_database(admin_engine, template=two_county_template(admin_engine,
                                                                     demo_template))
    engine = create_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(admin_engine, url)


@pytest.fixture(scope="module")
def fed(admin_engine: Engine, demo_template: str) -> Iterator[dict[str, Any]]:
    """The coordinator (a copy of the two-county database) with 临县 and 兴县 moved to two
    new clusters by ``wangge db shard add``."""
    from api.cli import main as cli
    from geo.db.engine import get_engine

    url = create_database(admin_engine, template=two_county_template(admin_engine,
                                                                     demo_template))
    # not under pytest's basetemp: another pytest session starting meanwhile makes
    # /tmp/pytest-of-root 0700 again, and the clusters' postgres user could not reach them
    base = Path(tempfile.mkdtemp(prefix="wangge-shards-"))
    ports = [_free_port(), _free_port()]
    env = {"WANGGE_DATABASE_URL": url}
    out = []
    try:
        for i, (port, code) in enumerate(zip(ports, (LIN, XING), strict=True)):
            localdb.start(base / f"c{i}", port)
            res = CliRunner().invoke(cli, ["db", "shard", "add", "--url",
                                           f"postgresql://postgres@127.0.0.1:{port}/wangge",
                                           "--regions", code], env=env)
            assert res.exit_code == 0, res.output
            out.append(res.output)
        engine = create_engine(url)
        yield {"url": url, "engine": engine, "base": base, "ports": ports, "added": out,
               "lin_url": f"postgresql+psycopg://postgres@127.0.0.1:{ports[0]}/wangge",
               "xing_url": f"postgresql+psycopg://postgres@127.0.0.1:{ports[1]}/wangge"}
        engine.dispose()
    finally:
        get_engine.cache_clear()
        for i in range(2):
            if (base / f"c{i}").exists():
                localdb.stop(base / f"c{i}")
        with admin_engine.connect() as conn:
            name = url.rsplit("/", 1)[1]
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_local" WITH (FORCE)'))
        drop_database(admin_engine, url)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def clients(fed: dict[str, Any], single: tuple[str, Engine]
            ) -> Iterator[tuple[TestClient, TestClient]]:
    with TestClient(create_app(make_settings(fed["url"], demo_open=False))) as c, \
            TestClient(create_app(make_settings(single[0], demo_open=False))) as s:
        yield c, s


def _auth(engine: Engine, role: str) -> dict[str, str]:
    user = PREFECTURE_USER[0] if role == "prefecture" else DEMO_USERS[role][0]
    return bearer_for(engine, user)


_VOLATILE = ("as_of", "generated_at", "updated_at", "late_min")  # made at "now"


def _same(body: Any) -> Any:
    """A JSON answer without the fields that say when it was made."""
    if isinstance(body, dict):
        return {k: _same(v) for k, v in body.items() if k not in _VOLATILE}
    if isinstance(body, list):
        return [_same(v) for v in body]
    return body


def test_shard_add_places_each_county_and_status_says_where(fed: dict[str, Any]) -> None:
    assert f"区县 {LIN} -> 分片 shard_{LIN}" in fed["added"][0]
    assert f"区县 {XING} -> 分片 local" in fed["added"][0]  # the first shard: the rest local
    assert f"区县 {XING} -> 分片 shard_{XING}" in fed["added"][1]
    from api.cli import main as cli

    res = CliRunner().invoke(cli, ["db", "status"], env={"WANGGE_DATABASE_URL": fed["url"]})
    assert res.exit_code == 0, res.output
    assert f"区县 {LIN}: 分片 shard_{LIN} (host=127.0.0.1 port={fed['ports'][0]}" in res.output
    assert f"区县 {XING}: 分片 shard_{XING} (host=127.0.0.1 port={fed['ports'][1]}" in res.output
    res = CliRunner().invoke(cli, ["db", "migrate"], env={"WANGGE_DATABASE_URL": fed["url"]})
    assert res.exit_code == 0, res.output
    assert f"分片 shard_{LIN} ({LIN}): schema at revision" in res.output
    assert f"分片 shard_{XING} ({XING}): schema at revision" in res.output
    assert "分片外部表的统计" in res.output
    # each shard holds its county only; the coordinator holds no county row itself
    for key, mine, other in (("lin_url", LIN, XING), ("xing_url", XING, LIN)):
        with create_engine(fed[key]).connect() as conn:
            counts = dict(conn.execute(text(
                "SELECT region_code, count(*) FROM incident GROUP BY 1")).all())
        assert counts.get(mine, 0) > 1000 and other not in counts
    with fed["engine"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ONLY incident")).scalar() == 0
        assert conn.execute(text("SELECT count(DISTINCT region_code) FROM incident")
                            ).scalar() == 2


def test_bad_shard_add_is_refused_plainly(fed: dict[str, Any]) -> None:
    from api.cli import main as cli

    env = {"WANGGE_DATABASE_URL": fed["url"]}
    for args, words in (
            (["--url", fed["lin_url"], "--regions", "999999"], "未知区县"),
            (["--url", fed["lin_url"], "--regions", "14112x"], "六位"),
            (["--url", "postgresql://postgres@127.0.0.1:1/none", "--regions", LIN,
              "--name", "nowhere"], "连不上分片数据库"),
            (["--url", fed["lin_url"], "--regions", LIN], "已有分片"),
            (["--url", fed["lin_url"], "--regions", XING, "--name", "other"], "不是空库")):
        res = CliRunner().invoke(cli, ["db", "shard", "add", *args], env=env)
        assert res.exit_code != 0 and words in res.output, res.output


@pytest.mark.parametrize("role,paths", [
    ("command", ["/incidents?limit=50", "/incidents/overdue?limit=20", "/board",
                 "/kpi?from=2026-01-01&to=2026-12-01",
                 "/ogc/collections/incidents/items?limit=20"]),
    ("prefecture", [f"/incidents?region={LIN}&limit=50", f"/board?region={LIN}",
                    "/kpi?group_by=county&from=2026-01-01&to=2026-12-01",
                    f"/incidents?region={XING}&limit=20&sort=-reported_at"]),
])
def test_the_coordinator_answers_as_the_single_server(
        clients: tuple[TestClient, TestClient], single: tuple[str, Engine], role: str,
        paths: list[str]) -> None:
    coord, alone = clients
    auth = _auth(single[1], role)
    for path in paths:
        a, b = coord.get(path, headers=auth), alone.get(path, headers=auth)
        assert a.status_code == b.status_code == 200, (path, a.text[:300])
        assert _same(a.json()) == _same(b.json()), path


# GET endpoints whose answer is a stream or says when/where it was made
_SKIP = ("/events", "/health", "/metrics", "/audit")


@pytest.mark.parametrize("role", sorted(DEMO_USERS))
def test_every_get_endpoint_answers_as_the_single_server(
        clients: tuple[TestClient, TestClient], single: tuple[str, Engine], role: str) -> None:
    """The county's users on every GET endpoint without path parameters (the app's own
    OpenAPI list, so a new endpoint is covered): the same status, and for JSON the same
    answer, on the coordinator (兴县 on its shard) as on the single server."""
    coord, alone = clients
    auth = _auth(single[1], role)
    spec = coord.get("/openapi.json").json()["paths"]
    lon, lat = cell_point(single[1], XING)
    with single[1].connect() as conn:
        case = conn.execute(text("SELECT id, code, cell_code FROM incident WHERE region_code "
                                 "= :r ORDER BY id LIMIT 1"), {"r": XING}).one()
    z, xy = 12, _tile_xy(lon, lat, 12).split("/")
    values = {"collection_id": ["incidents", "cells", "cameras", "compounds", "admin_units"],
              "layer": ["incidents", "cells", "cameras", "compounds"],
              "incident_id": [str(case.id), case.code], "code": [case.cell_code],
              "cell_code": [case.cell_code], "z": [str(z)], "x": [xy[0]], "y": [xy[1]]}
    paths = []
    for path, ops in spec.items():
        names = re.findall(r"{(\w+)}", path)
        if "get" not in ops or path.startswith(_SKIP) or any(n not in values for n in names):
            continue
        for combo in itertools.product(*(values[n] for n in names)):
            filled = path
            for n, v in zip(names, combo, strict=True):
                filled = filled.replace("{" + n + "}", v)
            paths.append(filled)
    assert len(paths) > 60
    differ = []
    for path in paths:
        a, b = coord.get(path, headers=auth), alone.get(path, headers=auth)
        same = a.status_code == b.status_code and a.status_code < 500
        if same and a.headers.get("content-type", "").startswith("application/json"):
            same = _same(a.json()) == _same(b.json())
        if not same:
            differ.append((path, a.status_code, b.status_code, _first_difference(a, b)))
    assert not differ, differ


def _first_difference(a: Any, b: Any) -> str:
    """Where two answers part: the first differing key (JSON) or the start of the text."""
    try:
        x, y = _same(a.json()), _same(b.json())
    except ValueError:
        return a.text[:200]
    path = ""
    while isinstance(x, dict | list) and type(x) is type(y):
        keys = (list(x) if isinstance(x, dict) else list(range(len(x))))
        other = (list(y) if isinstance(y, dict) else list(range(len(y))))
        if keys != other:
            return f"{path}: keys {keys[:20]} vs {other[:20]}"
        k = next((k for k in keys if x[k] != y[k]), None)
        if k is None:
            break
        path, x, y = f"{path}/{k}", x[k], y[k]
    return f"{path}: {str(x)[:150]} vs {str(y)[:150]}"


def test_cells_at_in_each_county(clients: tuple[TestClient, TestClient],
                                 single: tuple[str, Engine]) -> None:
    coord, alone = clients
    for region in (XING, LIN):
        lon, lat = cell_point(single[1], region)
        a = coord.get(f"/cells/at?lon={lon}&lat={lat}")
        b = alone.get(f"/cells/at?lon={lon}&lat={lat}")
        assert a.status_code == b.status_code == 200, a.text[:300]
        assert a.json()["id"].startswith(region) and _same(a.json()) == _same(b.json())


def test_a_county_query_prunes_to_its_shard_and_sends_the_predicate(
        fed: dict[str, Any]) -> None:
    with fed["engine"].connect() as conn:
        plan = "\n".join(conn.execute(text(
            "EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM incident WHERE region_code = "
            f"'{LIN}' AND ST_Intersects(geom, ST_MakeEnvelope(110.8, 37.8, 111.2, 38.2, 4490))"
        )).scalars())
    assert f"shard_{LIN}.incident" in plan and f"shard_{XING}" not in plan, plan
    assert "Remote SQL" in plan and "st_intersects" in plan.lower(), plan
    page = ("EXPLAIN (VERBOSE, COSTS OFF) SELECT code, ST_AsBinary(geom) FROM incident "
            f"WHERE region_code = '{LIN}' ORDER BY code LIMIT 100")
    with fed["engine"].connect() as conn:  # a page: sorted on the shard (statistics) ...
        plan = "\n".join(conn.execute(text(page)).scalars())
        assert "ORDER BY code ASC NULLS LAST" in plan, plan
        shards.route(conn, LIN)  # ... and cut there too when the request names its county
        plan = "\n".join(conn.execute(text(page)).scalars())
    assert "ORDER BY code ASC NULLS LAST LIMIT 100" in plan, plan


def test_a_read_of_one_county_runs_on_its_shard_whole(
        clients: tuple[TestClient, TestClient], fed: dict[str, Any],
        single: tuple[str, Engine]) -> None:
    """The lookup, OGC items and tiles of one county read its shard's own database
    (geo.db.shards.reader), not the coordinator's foreign tables: with those pointing
    nowhere they still answer, the same as the single server."""
    coord, alone = clients
    engine, shard = shards.reader(fed["engine"], XING)
    assert shard == f"shard_{XING}" and engine.url.port == fed["ports"][1]
    assert shards.reader(fed["engine"], "999999") == (fed["engine"], None)
    auth = _auth(single[1], "command")
    lon, lat = cell_point(single[1], XING)
    paths = [(f"/cells/at?lon={lon}&lat={lat}&region={XING}", {}),
             ("/ogc/collections/incidents/items?limit=50", auth),
             (f"/ogc/collections/cells/items?limit=5&region_code={XING}", auth),
             (f"/tiles/incidents/12/{_tile_xy(lon, lat, 12)}.pbf?region={XING}", auth)]
    tables = ("incident", "grid_cell", "boundary_set", "worker_assignment", "grid_worker")
    with fed["engine"].begin() as conn:
        for t in tables:
            conn.execute(text(f"ALTER FOREIGN TABLE shard_{XING}.{t} "
                              "OPTIONS (SET table_name 'no_such_table')"))
    try:
        for path, headers in paths:
            a, b = coord.get(path, headers=headers), alone.get(path, headers=headers)
            assert a.status_code == b.status_code == 200, (path, a.text[:300])
            if path.startswith("/tiles/"):  # the same features (their order may differ)
                got, want = (sorted(str(f["properties"]) for f in
                                    mapbox_vector_tile.decode(r.content)["incidents"]["features"])
                             for r in (a, b))
                assert got == want and len(got) > 10, path
            else:
                assert _same(a.json()) == _same(b.json()), path
    finally:
        with fed["engine"].begin() as conn:
            for t in tables:
                conn.execute(text(f"ALTER FOREIGN TABLE shard_{XING}.{t} "
                                  f"OPTIONS (SET table_name '{t}')"))


SEAT = (111.13, 38.46)  # 兴县's county seat, far from 临县


def test_another_countys_region_does_not_route_a_read(
        clients: tuple[TestClient, TestClient], single: tuple[str, Engine]) -> None:
    """A ``?region=`` outside the caller's counties on a read that takes none (tiles, OGC
    items): ignored, as on one server (review 14s, M1: it was sent to 临县's shard and
    answered empty)."""
    coord, alone = clients
    auth = _auth(single[1], "command")
    seat = _tile_xy(*SEAT, 12)
    for path in (f"/tiles/incidents/12/{seat}.pbf?region={LIN}",
                 f"/tiles/cells/12/{seat}.pbf?region={LIN}"):
        a, b = coord.get(path, headers=auth), alone.get(path, headers=auth)
        assert a.status_code == b.status_code == 200, (path, a.status_code, b.status_code)


def _tile_xy(lon: float, lat: float, z: int) -> str:
    import math

    n = 2**z
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return f"{int((lon + 180.0) / 360.0 * n)}/{int(y)}"


def test_a_write_lands_on_the_county_shard(clients: tuple[TestClient, TestClient],
                                           fed: dict[str, Any],
                                           single: tuple[str, Engine]) -> None:
    coord, _ = clients
    auth = _auth(single[1], "prefecture")
    lon, lat = cell_point(single[1], LIN)
    r = coord.post("/incidents", headers=auth, json={
        "category": "water", "lon": lon, "lat": lat,
        "description": "分片写入测试 / shard write test"})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    with create_engine(fed["lin_url"]).connect() as conn:
        row = conn.execute(text("SELECT region_code, cell_code FROM incident WHERE code = :c"),
                           {"c": code}).one()
        rolled = conn.execute(text(
            "SELECT coalesce(sum(n), 0) FROM incident_rollup_day WHERE region_code = :r"),
            {"r": LIN}).scalar()
        total = conn.execute(text("SELECT count(*) FROM incident WHERE region_code = :r"),
                             {"r": LIN}).scalar()
    assert row[0] == LIN and row[1]
    assert rolled == total  # the shard's own triggers rolled the new case up
    with create_engine(fed["xing_url"]).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident WHERE code = :c"),
                            {"c": code}).scalar() == 0
    got = coord.get(f"/incidents/{code}?region={LIN}", headers=auth)
    assert got.status_code == 200 and got.json()["region_code"] == LIN
    # its case flow through the coordinator (the outbox's upsert stays on the coordinator)
    case_id = got.json()["id"]
    for step in ("registered", "dispatched"):
        r = coord.post(f"/incidents/{case_id}/transition", headers=auth, json={"to": step})
        assert r.status_code == 200, (step, r.text[:300])
    with create_engine(fed["lin_url"]).connect() as conn:
        assert conn.execute(text("SELECT status FROM incident WHERE id = :i"),
                            {"i": case_id}).scalar() == "dispatched"


def test_a_workers_patrol_track_lands_on_her_shard(clients: tuple[TestClient, TestClient],
                                                   fed: dict[str, Any],
                                                   single: tuple[str, Engine]) -> None:
    """A grid worker's phone sends its track in segments through the coordinator: the first
    makes the patrol, a resend and a later segment widen it (was a 501: the upsert named a
    conflict target, which a parent with foreign partitions refuses)."""
    coord, _ = clients
    auth = _auth(single[1], "worker")
    lon, lat = cell_point(single[1], XING)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    t0 = start.isoformat()

    def seg(minute: int) -> list[dict[str, Any]]:
        return [{"t": (start + dt.timedelta(minutes=minute + i)).isoformat(),
                 "lon": lon + 0.0001 * i, "lat": lat, "accuracy_m": 5.0} for i in range(3)]

    for pts in (seg(0), seg(0), seg(5)):
        r = coord.post("/me/patrols", headers=auth, json={
            "client_id": "shard-patrol-1", "started_at": t0, "points": pts})
        assert r.status_code in (200, 201), r.text[:300]
    with create_engine(fed["xing_url"]).connect() as conn:
        rows = conn.execute(text(
            "SELECT p.region_code, count(pp.id) FROM patrol p JOIN patrol_point pp "
            "ON pp.patrol_id = p.id WHERE p.client_id = 'shard-patrol-1' GROUP BY 1")).all()
    assert rows == [(XING, 6)]


def test_a_shard_keeps_no_peoples_data_and_no_key_to_shared_tables(
        fed: dict[str, Any]) -> None:
    for key in ("lin_url", "xing_url"):
        with create_engine(fed[key]).connect() as conn:
            for table in ("app_user", "api_token", "audit_log", "idempotency_key"):
                assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
            keys = conn.execute(text(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                "(confrelid = 'app_user'::regclass OR conrelid = 'app_user'::regclass)")).scalar()
            assert keys == 0
            pinned = conn.execute(text(
                "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                "AND prorettype = 'trigger'::regtype AND proconfig IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = pg_proc.oid "
                "AND d.deptype = 'e')")).scalar()
            assert pinned == 0  # every trigger function finds its helpers from fdw sessions


def test_a_lost_shard_stops_its_county_only(clients: tuple[TestClient, TestClient],
                                            fed: dict[str, Any],
                                            single: tuple[str, Engine]) -> None:
    coord, _ = clients
    lin_dir = Path(fed["base"]) / "c0"
    xing_user = _auth(single[1], "command")
    before = coord.get("/incidents?limit=20", headers=xing_user)
    assert before.status_code == 200
    lin_point = cell_point(single[1], LIN)  # the outlines are known before the outage
    assert coord.get(f"/cells/at?lon={lin_point[0]}&lat={lin_point[1]}").status_code == 200
    assert localdb.stop(lin_dir) == "stopped"
    try:
        pref = _auth(single[1], "prefecture")
        r = coord.get(f"/incidents?region={LIN}&limit=5", headers=pref)
        assert r.status_code == 503, r.text
        assert f"shard_{LIN}" in r.json()["detail"] and "其他区县不受影响" in r.json()["detail"]
        for path in ("/incidents?limit=20", "/incidents/overdue?limit=5", "/board",
                     "/kpi?from=2026-01-01&to=2026-12-01", "/maps/dispatch",
                     "/reports/monthly?month=2026-11&format=json",
                     f"/incidents?region={XING}&limit=5"):
            got = coord.get(path, headers=xing_user)
            assert got.status_code == 200, (path, got.text[:300])
        lon, lat = cell_point(single[1], XING)
        r = coord.post("/incidents", headers=xing_user, json={  # 兴县 still takes reports
            "category": "water", "lon": lon, "lat": lat})
        assert r.status_code == 201, r.text[:300]
        # the public lookup, anonymous, in 兴县
        got = coord.get(f"/cells/at?lon={lon}&lat={lat}")
        assert got.status_code == 200 and got.json()["id"].startswith(XING), got.text[:300]
        lon, lat = cell_point(single[1], LIN)
        got = coord.get(f"/cells/at?lon={lon}&lat={lat}")
        assert got.status_code == 503 and f"shard_{LIN}" in got.text, got.text[:300]
        got = coord.get(f"/tiles/incidents/12/{_tile_xy(lon, lat, 12)}.pbf",
                        headers=pref)  # a tile in 临县, read at its shard
        assert got.status_code == 503 and f"shard_{LIN}" in got.text, got.text[:300]
        # ... while a tile or a bbox query inside 兴县 is read at 兴县's shard, by anyone
        seat = _tile_xy(*SEAT, 12)
        for headers in ({}, pref, xing_user):
            got = coord.get(f"/tiles/cells/12/{seat}.pbf", headers=headers)
            assert got.status_code == 200, got.text[:300]
        box = f"{SEAT[0] - 0.01},{SEAT[1] - 0.01},{SEAT[0] + 0.01},{SEAT[1] + 0.01}"
        got = coord.get(f"/ogc/collections/cells/items?bbox={box}&limit=5")
        assert got.status_code == 200 and got.json()["numberReturned"] > 0, got.text[:300]
        assert coord.get("/incidents?limit=20", headers=xing_user).json() == before.json()
        # a service started during the outage cannot read 临县's outline: a point outside
        # 兴县 is then "unknown county", not "in no cell of 兴县"; 兴县's points still answer
        from geo.regions import locate

        locate.forget(coord.app.state.engine)  # type: ignore[attr-defined]
        got = coord.get(f"/cells/at?lon={lin_point[0]}&lat={lin_point[1]}")
        assert got.status_code == 503 and "边界暂不可读" in got.text, got.text[:300]
        lon, lat = cell_point(single[1], XING)
        assert coord.get(f"/cells/at?lon={lon}&lat={lat}").status_code == 200
        # all shards or none: a migration would leave 临县 on another revision (review 14s, L6)
        from api.cli import main as cli

        res = CliRunner().invoke(cli, ["db", "migrate"], env={"WANGGE_DATABASE_URL": fed["url"]})
        assert res.exit_code == 1 and "未迁移任何库" in res.output, res.output[-500:]
        assert "Traceback" not in res.output and "schema at revision" not in res.output
    finally:
        localdb.start(lin_dir, fed["ports"][0])
    assert coord.get(f"/incidents?region={LIN}&limit=5", headers=pref).status_code == 200


def test_scenario_b_through_the_coordinator(fed: dict[str, Any]) -> None:
    """Scenario B of SCENARIOS.md (a 12345 row placed at a building, merged with a worker's
    report, dispatched, overdue over the National Day holiday, reworked, closed) with 兴县 on
    its shard: the same walk and assertions as on one server. Last: it adds cases to 兴县."""
    from tests.scenarios.test_scenario_b import prepare, walk

    comp = prepare(fed["url"])
    with TestClient(create_app(make_settings(fed["url"]))) as api:
        walk(api, comp)
