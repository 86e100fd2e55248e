"""Patrols over HTTP on a private demo database: a hand-computed track, bad input, who sees
raw tracks, purge, the demo's synthetic tracks, KPI columns (issue 17, items 2-4)."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import Engine, text

from geo.demo.users import DEMO_USERS
from tests.conftest import own_demo_client

CST = dt.timezone(dt.timedelta(hours=8))
# after the demo's tracks, within the 24 hours a worker's patrol times may lie back
# (geo.incidents.intake.field_time_window)
T0 = (dt.datetime.now(CST) - dt.timedelta(hours=20)).replace(second=0, microsecond=0)
WEEK_FROM = T0.date() - dt.timedelta(days=T0.weekday())
FWD = Transformer.from_crs("EPSG:4490", "EPSG:4546", always_xy=True)
INV = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)


@pytest.fixture(scope="module")
def env(admin_engine: Engine, demo_template: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as pair:
        yield pair


def login(client: Any, role: str) -> dict[str, str]:
    user, password, _ = DEMO_USERS[role]
    r = client.post("/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def points(xs: np.ndarray, ys: np.ndarray, t0: dt.datetime = T0,
           step_s: float = 10.0) -> list[dict[str, Any]]:
    lon, lat = INV.transform(xs, ys)
    return [{"t": (t0 + dt.timedelta(seconds=i * step_s)).isoformat(), "lon": float(a),
             "lat": float(b), "accuracy_m": 5.0} for i, (a, b) in
             enumerate(zip(lon, lat, strict=True))]


def send(client: Any, h: dict[str, str], pts: list[dict[str, Any]], cid: str | None = None,
         **extra: Any) -> Any:
    return client.post("/me/patrols", headers=h, json={
        "client_id": cid or str(uuid.uuid4()), "started_at": pts[0]["t"] if pts else
        T0.isoformat(), "points": pts, **extra})


def test_hand_computed_track_over_the_workers_cell(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    h = login(client, "worker")
    with e["engine"].connect() as conn:
        wkb = conn.execute(text(
            "SELECT ST_AsBinary(ST_Transform(g.geom, 4546)) FROM grid_cell g JOIN boundary_set "
            "b ON b.id = g.boundary_set_id AND b.is_active WHERE g.code = :c"),
            {"c": e["cell"]}).scalar_one()
    cell = shapely.from_wkb(bytes(wkb))
    # a straight track of L metres going east through the cell's inside, 50 m clear of edges
    inner = cell.buffer(-60)
    c = inner.representative_point()
    length = 0.0
    for length in (400.0, 200.0, 100.0, 50.0):
        line = shapely.LineString([(c.x - length / 2, c.y), (c.x + length / 2, c.y)])
        if inner.contains(line):
            break
    n = int(length / 12.5) + 1
    xs = c.x - length / 2 + np.arange(n) * 12.5
    r = send(client, h, points(xs, np.full(n, c.y)), ended_at=(
        T0 + dt.timedelta(seconds=(n - 1) * 10)).isoformat())
    assert r.status_code == 200, r.text
    body = r.json()
    # by hand: n-1 steps of 12.5 m every 10 s
    assert body["length_m"] == pytest.approx(length, abs=0.1)
    assert body["duration_s"] == (n - 1) * 10.0
    assert body["points_accepted"] == n and body["points_flagged"] == [] and body["ended"]
    # coverage by hand: a 100 m wide strip plus two half discs of 50 m (PostGIS draws a circle
    # as a 32-gon: 16 r^2 sin(2 pi / 32)), over the cell's area
    expected = (100 * length + 16 * 50 ** 2 * math.sin(2 * math.pi / 32)) / cell.area
    cmd = login(client, "command")
    r = client.get("/analysis/patrols", headers=cmd,
                   params={"from": WEEK_FROM.isoformat(),
                           "to": (WEEK_FROM + dt.timedelta(days=6)).isoformat()})
    assert r.status_code == 200, r.text
    rows = [i for i in r.json()["items"] if i["cell_code"] == e["cell"]]
    assert len(rows) == 1
    row = rows[0]
    iso = T0.isocalendar()
    assert row["week"] == f"{iso.year}-W{iso.week:02d}" and row["patrols"] == 1
    assert row["length_km"] == pytest.approx(length / 1000, abs=1e-4)
    assert row["duration_h"] == pytest.approx((n - 1) * 10 / 3600, abs=1e-3)
    assert row["covered_share"] == pytest.approx(expected, rel=2e-3)
    # the worker reads it back in GCJ-02: shifted some hundreds of metres from CGCS2000
    day = T0.date().isoformat()
    r1 = client.get("/me/patrols", headers=h, params={"from": day, "to": day})
    r2 = client.get("/me/patrols", headers=h, params={"from": day, "to": day,
                                                      "crs": "GCJ02"})
    a = r1.json()["items"][0]["track"]["coordinates"][0]
    b = r2.json()["items"][0]["track"]["coordinates"][0]
    assert r2.json()["crs"] == "GCJ02" and 0.002 < abs(a[0] - b[0]) < 0.01


def test_bad_input_is_a_clear_4xx_or_flagged(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    h = login(client, "worker")
    x0, y0 = FWD.transform(e["x"], e["y"])
    xs, ys = x0 + np.arange(6) * 10.0, np.full(6, y0)
    t1 = T0 + dt.timedelta(hours=2)
    pts = points(xs, ys, t1)
    # out of order
    bad = [pts[0], pts[2], pts[1]]
    r = send(client, h, bad)
    assert r.status_code == 422 and "points[2]" in r.text and "时间" in r.text
    # a point in another county (Taiyuan)
    far = [pts[0], {**pts[1], "lon": 112.55, "lat": 37.87}]
    r = send(client, h, far)
    assert r.status_code == 422 and "points[1]" in r.text and "141123" in r.text
    # speed and jump: kept, flagged, not counted
    fast = [dict(p) for p in pts]
    fast[2] = {**fast[2], "lon": fast[2]["lon"] + 0.01}  # ~870 m in 10 s
    fast[4] = {**fast[4], "lon": fast[4]["lon"] + 0.08}  # ~7 km
    cid = str(uuid.uuid4())
    r = send(client, h, fast, cid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["reason"] for f in body["points_flagged"]] == ["speed", "jump"]
    assert body["points_accepted"] == 6
    assert body["length_m"] == pytest.approx(50.0, abs=0.5)  # 0-1-3-5: 10 + 20 + 20 m
    # the same segment again (a resend without a key): nothing added
    r = send(client, h, fast, cid)
    assert r.status_code == 200
    assert r.json()["points_accepted"] == 0 and r.json()["points_duplicate"] == 6
    assert r.json()["length_m"] == body["length_m"]
    # a point earlier than what the patrol already holds, not a resend
    early = [{**pts[0], "t": (t1 - dt.timedelta(seconds=5)).isoformat()}]
    r = send(client, h, early, cid)
    assert r.status_code == 422 and "points[0]" in r.text
    with e["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM patrol_point pp JOIN patrol p "
                              "ON p.id = pp.patrol_id WHERE p.client_id = :c"),
                         {"c": cid}).scalar()
    assert n == 6


def test_checkins_within_the_radius(env: tuple[Any, dict[str, Any]]) -> None:
    client, _ = env
    h = login(client, "worker")
    r = client.get("/me/key-points", headers=h)
    assert r.status_code == 200 and r.json()["count"] > 0
    kp = r.json()["items"][0]
    r = client.post("/me/checkins", headers=h, json={"key_point_id": kp["id"],
                                                    "lon": kp["lon"], "lat": kp["lat"]})
    assert r.status_code == 201 and r.json()["distance_m"] < 1
    r = client.post("/me/checkins", headers=h, json={"key_point_id": kp["id"],
                                                    "lon": kp["lon"] + 0.005, "lat": kp["lat"]})
    assert r.status_code == 422 and "半径" in r.text
    r = client.get("/me/key-points", headers=h)
    again = next(i for i in r.json()["items"] if i["id"] == kp["id"])
    assert again["checkins_this_week"] == kp["checkins_this_week"] + 1


def test_who_sees_raw_tracks(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    period = {"from": "2026-10-26", "to": "2026-11-01"}
    r = client.get("/patrols", headers=login(client, "command"), params=period)
    assert r.status_code == 200 and r.json()["count"] > 0
    assert r.json()["items"][0]["track"]["type"] == "LineString"
    for role in ("planner", "department", "viewer", "worker"):
        r = client.get("/patrols", headers=login(client, role), params=period)
        assert r.status_code == 403, (role, r.text)
    r = client.get("/analysis/patrols", headers=login(client, "planner"), params=period)
    assert r.status_code == 200 and r.json()["count"] > 0
    assert "coordinates" not in r.text and "LineString" not in r.text
    assert all("*" in i["worker_name"] for i in r.json()["items"])
    for role in ("department", "viewer"):
        r = client.get("/analysis/patrols", headers=login(client, role), params=period)
        assert r.status_code == 403, role
        assert client.get("/me/patrols", headers=login(client, role)).status_code == 403
    # a second worker sees her own patrols, not the demo worker's
    from geo.auth.users import add_user

    with e["engine"].begin() as conn:
        other = conn.execute(text(
            "SELECT w.code FROM grid_worker w JOIN patrol p ON p.worker_id = w.id "
            "JOIN app_user u ON TRUE WHERE u.username = 'demo-worker' "
            "AND w.id <> u.worker_id ORDER BY w.code LIMIT 1")).scalar_one()
        add_user(conn, "w17-other", "worker", "141123", "other-worker-2026x", worker_code=other)
    r = client.post("/auth/login", json={"username": "w17-other",
                                         "password": "other-worker-2026x"})
    h2 = {"Authorization": f"Bearer {r.json()['access_token']}"}
    mine = client.get("/me/patrols", headers=login(client, "worker"), params=period).json()
    theirs = client.get("/me/patrols", headers=h2, params=period).json()
    assert mine["count"] > 0 and theirs["count"] > 0
    assert {i["worker"]["code"] for i in theirs["items"]} == {other}
    assert not {i["id"] for i in mine["items"]} & {i["id"] for i in theirs["items"]}
    own = client.get("/analysis/patrols", headers=h2, params=period).json()
    assert {i["worker_code"] for i in own["items"]} == {other}


def test_demo_tracks_are_synthetic_and_in_the_kpis(env: tuple[Any, dict[str, Any]]) -> None:
    client, e = env
    with e["engine"].connect() as conn:
        n, synth, kps, cis = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE synthetic), (SELECT count(*) FROM "
            "key_point WHERE synthetic), (SELECT count(*) FROM patrol_checkin WHERE synthetic) "
            "FROM patrol WHERE client_id LIKE 'demo-%'")).one()
    assert n >= 400 and synth == n and kps > 0 and cis > 0
    r = client.get("/kpi", headers=login(client, "command"), params={
        "from": "2026-10-01", "to": "2026-11-01", "group_by": "worker"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"]["patrol_km"] > 0 and body["total"]["patrols"] > 0
    assert body["metrics_zh"]["patrol_km"] == "巡查里程(公里)"
    assert "巡查" in body["definitions_zh"]


def test_purge(env: tuple[Any, dict[str, Any]]) -> None:
    from geo.patrols.retention import purge

    _, e = env
    now = dt.datetime(2026, 12, 5, tzinfo=CST)
    with e["engine"].begin() as conn:
        none = purge(conn, 3650, dry_run=True, now=now)
        assert none["patrols"] == 0
        dry = purge(conn, 40, dry_run=True, now=now)  # before 2026-10-26
        assert dry["patrols"] > 0 and dry["points"] > 0
        before = conn.execute(text("SELECT count(*) FROM patrol")).scalar()
        done = purge(conn, 40, now=now)
        assert done["patrols"] == dry["patrols"]
        left = conn.execute(text("SELECT count(*), min(started_at) FROM patrol")).one()
        assert left[0] == before - dry["patrols"] and left[1] >= now - dt.timedelta(days=40)
        conn.rollback()
