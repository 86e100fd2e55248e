"""Batch "which cell": POST /cells/at (JSON, CSV, multipart), the CLI, caps, cache refresh."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.crs.china import wgs84_to_gcj02
from tests.conftest import make_settings


def _sample_points(engine: Engine) -> list[tuple[float, float]]:
    """Interior points, shared vertices, points 3 m inside an edge, outside points."""
    with engine.connect() as conn:
        interior = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(c.geom) p FROM grid_cell c "
            "JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
            "WHERE c.kind = 'basic' ORDER BY c.code LIMIT 40) s")).all()
        vertices = conn.execute(text("""
            SELECT ST_X(d.geom), ST_Y(d.geom), ST_X(ST_PointOnSurface(a.geom)),
                   ST_Y(ST_PointOnSurface(a.geom))
            FROM grid_cell a JOIN grid_cell b ON a.code < b.code AND a.geom && b.geom
             AND a.boundary_set_id = b.boundary_set_id
             AND a.kind = 'basic' AND b.kind = 'basic'
            JOIN boundary_set s ON s.id = a.boundary_set_id AND s.is_active
            CROSS JOIN LATERAL ST_DumpPoints(a.geom) d
            WHERE ST_Covers(b.geom, d.geom)
            LIMIT 30""")).all()
    pts = [(float(x), float(y)) for x, y in interior]
    for vx, vy, ix, iy in vertices:
        pts.append((float(vx), float(vy)))
        f = 0.00003 / math.hypot(ix - vx, iy - vy)  # ~3 m towards the interior
        pts.append((vx + (ix - vx) * f, vy + (iy - vy) * f))
    pts += [(116.39, 39.91), (110.0, 38.0)]
    return pts


def test_batch_agrees_with_postgis(client: Any, demo_engine: Engine) -> None:
    """The in-process index answers what the SQL lookup (geo.lookup.postgis.cell_at) answers."""
    from geo.errors import NotFound
    from geo.lookup.postgis import cell_at

    pts = _sample_points(demo_engine)
    r = client.post("/cells/at", json={"points": [list(p) for p in pts]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(pts)
    assert body["near_boundary"] > 0
    with demo_engine.connect() as conn:
        for (x, y), res in zip(pts, body["results"], strict=True):
            try:
                hit = cell_at(conn, x, y, "141123", 10.0, with_geometry=False)
            except NotFound:
                assert res["cell_code"] is None
                continue
            assert res["cell_code"] == hit.code, (x, y)
            assert res["near_boundary"] == hit.near_boundary, (x, y)
            assert res["candidates"] == hit.candidates, (x, y)


@pytest.mark.parametrize("tolerance_m", [10.0, 30.0])
def test_batch_near_edges_agrees_with_postgis(demo_engine: Engine, tolerance_m: float) -> None:
    """1,500 points scattered a few metres around cell edges (where the index's exact path
    works: covering cell, core test, metres to every neighbour): the batch answers what the
    SQL lookup answers, point by point."""
    from geo.errors import NotFound
    from geo.lookup.batch import cells_at_many
    from geo.lookup.index import cell_index
    from geo.lookup.postgis import cell_at

    rng = np.random.default_rng(11)
    with demo_engine.connect() as conn:
        index = cell_index(conn, "141123")
        edges = shapely.get_coordinates(shapely.boundary(index.polys[::7]))
        pick = edges[rng.integers(0, len(edges), 1500)]
        sd = tolerance_m / 111_000  # about the tolerance, in degrees
        lon = pick[:, 0] + rng.normal(0, sd, len(pick))
        lat = pick[:, 1] + rng.normal(0, sd, len(pick))
        res = cells_at_many(conn, lon, lat, "141123", tolerance_m)
        assert 0.2 < res.near_count() / len(res) < 0.95  # the test is about edges
        for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            try:
                hit = cell_at(conn, x, y, "141123", tolerance_m, with_geometry=False)
            except NotFound:
                assert res.cell_code[i] is None, (x, y)
                continue
            assert (res.cell_code[i], res.near_boundary[i], res.candidates[i]) == (
                hit.code, hit.near_boundary, hit.candidates), (x, y)


def test_fast_single_lookup_equals_postgis(demo_url: str, demo_engine: Engine) -> None:
    """GET /cells/at's indexed path gives the same CellHit as the SQL path, field by field."""
    from geo.errors import NotFound
    from geo.lookup.postgis import cell_at
    from geo.lookup.single_async import cell_at_fast

    engine = create_engine(demo_url)
    checked = 0
    with demo_engine.connect() as conn:
        for x, y in _sample_points(demo_engine):
            try:
                slow = cell_at(conn, x, y, "141123", 10.0)
            except NotFound as exc:
                with pytest.raises(NotFound) as fast_exc:
                    cell_at_fast(engine, x, y, "141123", 10.0)
                assert fast_exc.value.message == exc.message
                continue
            fast = cell_at_fast(engine, x, y, "141123", 10.0)
            assert fast.distance_to_edge_m == pytest.approx(slow.distance_to_edge_m, abs=0.02)
            fast.distance_to_edge_m = slow.distance_to_edge_m
            assert fast == slow, (x, y)
            checked += 1
    engine.dispose()
    assert checked > 50


def test_batch_objects_crs_and_bad_rows(client: Any) -> None:
    glon, glat = map(float, wgs84_to_gcj02(111.13, 38.46))
    base = client.get("/cells/at", params={"lon": 111.13, "lat": 38.46}).json()["properties"]
    r = client.post("/cells/at", json={"crs": "GCJ02", "points": [
        {"id": "a", "lon": glon, "lat": glat}, {"id": "b", "lon": "x", "lat": 1},
        {"id": "c", "lon": 38.46, "lat": 111.13}, {"id": "d"}]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["id"] for x in res] == ["a", "b", "c", "d"]
    assert res[0]["cell_code"] == base["code"] and res[0]["error"] is None
    assert "non-numeric" in res[1]["error"]
    assert "swapped" in res[2]["error"]
    assert res[3]["error"] and res[3]["cell_code"] is None


def test_batch_csv_body_and_upload_keep_columns(client: Any) -> None:
    data = "名称,x,y,备注\n甲,111.13,38.46,ok\n乙,abc,38.4,bad\n丙,,,empty\n".encode()
    r = client.post("/cells/at", content=data, headers={"content-type": "text/csv"},
                    params={"lon_field": "x", "lat_field": "y"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["名称", "x", "y", "备注", "cell_code", "near_boundary",
                             "candidates", "error"]
    assert rows[0]["cell_code"] and rows[0]["near_boundary"] == "false" and not rows[0]["error"]
    assert rows[1]["cell_code"] == "" and "abc" in rows[1]["error"]
    assert rows[2]["error"]
    up = client.post("/cells/at", files={"file": ("p.csv", data.decode().encode("gb18030"))},
                     data={"lon_field": "x", "lat_field": "y"})
    assert up.status_code == 200, up.text
    assert "甲" in up.content.decode("utf-8-sig")


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"json": {"points": [[111.13, 38.46]], "crs": "MARS"}}, 422, "MARS"),
        ({"json": {"pts": []}}, 422, "points"),
        ({"json": {"points": [[111.13, 38.46]], "at": "soon"}}, 422, "at"),
        ({"json": {"points": [[111.13, 38.46]], "region": "999999"}}, 404, "999999"),
        ({"json": {"points": [[111.13, 38.46]], "tolerance_m": -1}}, 422, "tolerance_m"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422,
         "JSON"),
        ({"content": b"a,b\n1,2\n", "headers": {"content-type": "text/csv"}}, 422, "lon"),
        ({"files": {"other": ("p.csv", b"lon,lat\n")}}, 422, "file"),
    ],
)
def test_batch_bad_inputs(client: Any, kwargs: dict[str, Any], status: int, needle: str) -> None:
    r = client.post("/cells/at", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_batch_size_cap(demo_url: str) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(make_settings(demo_url, max_batch_points=10))) as c:
        r = c.post("/cells/at", json={"points": [[111.13, 38.46]] * 11})
        assert r.status_code == 413
        assert "10" in r.json()["detail"] and "11" in r.json()["detail"]
        csv_body = "lon,lat\n" + "111.13,38.46\n" * 11
        r2 = c.post("/cells/at", content=csv_body.encode(), headers={"content-type": "text/csv"})
        assert r2.status_code == 413
        assert c.post("/cells/at", json={"points": [[111.13, 38.46]] * 10}).status_code == 200


def test_cli_lookup_cells(tmp_path: Path, demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", demo_url)
    src = tmp_path / "in.csv"
    src.write_text("id,经度,纬度,note\n1,111.13,38.46,a\n2,,38.4,b\n3,116.39,39.91,c\n",
                   encoding="utf-8")
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["lookup", "cells", str(src), "--lon-field", "经度",
                                    "--lat-field", "纬度", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["cell_code"] and rows[0]["candidates"].split(";")[0] == rows[0]["cell_code"]
    assert rows[1]["error"] and rows[1]["cell_code"] == ""
    assert rows[2]["cell_code"] == "" and rows[2]["error"] == ""
    bad = CliRunner().invoke(main, ["lookup", "cells", str(src), "--lon-field", "lon",
                                    "--lat-field", "纬度", "-o", str(out)])
    assert bad.exit_code != 0 and "lon" in bad.output
    bad_crs = CliRunner().invoke(main, ["lookup", "cells", str(src), "--lon-field", "经度",
                                        "--lat-field", "纬度", "--crs", "MARS", "-o", str(out)])
    assert bad_crs.exit_code != 0 and "MARS" in bad_crs.output
    at = CliRunner().invoke(main, ["lookup", "cells", str(src), "--lon-field", "经度",
                                   "--lat-field", "纬度", "--at", "2019-01-01", "-o", str(out)])
    assert at.exit_code != 0 and "boundary set" in at.output


def test_index_follows_the_active_set(fresh_demo_url: str) -> None:
    """Switching the active boundary set changes the batch answers at once."""
    from geo.lookup.batch import cells_at_many

    engine = create_engine(fresh_demo_url)
    with engine.begin() as conn:
        before = cells_at_many(conn, np.array([111.13]), np.array([38.46]), "141123")
        old = before.cell_code[0]
        assert old is not None
        new_set = conn.execute(text(
            "INSERT INTO boundary_set (region_code, name, valid_from, is_active, synthetic) "
            "VALUES ('141123', 'test-redraw', '2026-11-01', false, true) RETURNING id")).scalar()
        conn.execute(text(
            "INSERT INTO grid_cell (region_code, boundary_set_id, code, name, kind, parent_code, "
            "township_code, geom, synthetic) SELECT region_code, :s, "
            "CASE WHEN code = :old THEN :renamed ELSE code END, name, kind, parent_code, "
            "township_code, geom, true FROM grid_cell WHERE boundary_set_id = :prev"),
            {"s": new_set, "old": old, "renamed": old[:-3] + "999", "prev": before.boundary_set_id})
        conn.execute(text("UPDATE boundary_set SET is_active = false WHERE region_code = "
                          "'141123'"))
        conn.execute(text("UPDATE boundary_set SET is_active = true WHERE id = :s"),
                      {"s": new_set})
        after = cells_at_many(conn, np.array([111.13]), np.array([38.46]), "141123")
    engine.dispose()
    assert after.boundary_set_id == new_set
    assert after.cell_code[0] == old[:-3] + "999"


def test_hand_written_json_equals_json_dumps() -> None:
    """The row-by-row encoder of POST /cells/at writes the same document as json.dumps."""
    import json

    from api.routes.cells_batch import _encode
    from geo.lookup.batch import BatchResult, result_rows

    res = BatchResult(["141123100001001", None, None], [True, False, None],
                      [["141123100001001", '14"x'], [], []], [None, None, "坐标缺失 \\ bad"], 7)
    ids: list[Any] = ["a", 2, {"k": None}]
    head = {"boundary_set_id": 7, "count": 3, "tolerance_m": 10.0}
    expected = {**head, "results": [dict(r, id=i) for r, i in zip(result_rows(res), ids,
                                                                   strict=True)]}
    assert json.loads(_encode(head, res, ids)) == expected
    assert json.loads(_encode(head, res, None)) == {**head, "results": result_rows(res)}


def test_concurrent_single_and_batch_lookups_agree(demo_url: str, demo_engine: Engine) -> None:
    """Batches in threads and single lookups at once (the server does both): same answers.

    GEOS prepared geometries are not thread-safe; the single path uses its own unprepared
    copies and batches are serialised per index. A race here used to be able to crash.
    """
    from concurrent.futures import ThreadPoolExecutor

    from geo.lookup.batch import cells_at_many
    from geo.lookup.single_async import cell_at_fast

    pts = [p for p in _sample_points(demo_engine) if 110 < p[0] < 112 and p[1] < 39.0][:60]
    lon = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    engine = create_engine(demo_url)
    with engine.connect() as conn:
        expected = cells_at_many(conn, lon, lat, "141123").cell_code

    def batch(_: int) -> list[str | None]:
        with engine.connect() as conn:
            return cells_at_many(conn, lon, lat, "141123").cell_code

    def singles(_: int) -> list[str | None]:
        out: list[str | None] = []
        for x, y in pts:
            try:
                out.append(cell_at_fast(engine, x, y, "141123", with_geometry=False).code)
            except Exception:  # noqa: BLE001 - NotFound for points in no cell
                out.append(None)
        return out

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batch if k % 2 else singles, k) for k in range(12)]
        results = [f.result() for f in futures]
    engine.dispose()
    assert all(r == expected for r in results)


def test_concurrent_async_lookups_equal_postgis(demo_url: str, demo_engine: Engine) -> None:
    """GET /cells/at's path (index + round trips shared by concurrent lookups through asyncpg)
    answers every point as geo.lookup.postgis.cell_at does, errors included, and does share them."""
    import asyncio

    import asyncpg
    from sqlalchemy import make_url

    from geo.errors import NotFound
    from geo.lookup.postgis import cell_at
    from geo.lookup.single_async import cell_at_fast_async, round_trips

    pts = _sample_points(demo_engine)
    expected: list[Any] = []
    with demo_engine.connect() as conn:
        for x, y in pts:
            try:
                expected.append(cell_at(conn, x, y, "141123", 10.0))
            except NotFound as exc:
                expected.append(exc.message)
    engine = create_engine(demo_url)
    dsn = make_url(demo_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> tuple[list[Any], int]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        try:
            await cell_at_fast_async(pool, engine, pts[0][0], pts[0][1], "141123")  # index
            got = await asyncio.gather(
                *(cell_at_fast_async(pool, engine, x, y, "141123", 10.0) for x, y in pts * 2),
                return_exceptions=True)
            return list(got), round_trips(pool).largest_batch
        finally:
            await pool.close()

    # In a thread of its own: the session's Playwright browser (sync API) keeps an event loop
    # running in the main thread once a browser test has run, and asyncio.run refuses that.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        got, largest = pool.submit(asyncio.run, run()).result()
    engine.dispose()
    assert largest > 1  # lookups did share a round trip
    for (x, y), want, fast in zip(pts * 2, expected * 2, got, strict=True):
        if isinstance(want, str):
            assert isinstance(fast, NotFound) and fast.message == want, (x, y)
            continue
        assert not isinstance(fast, BaseException), (x, y, fast)
        assert fast.distance_to_edge_m == pytest.approx(want.distance_to_edge_m, abs=0.02)
        fast.distance_to_edge_m = want.distance_to_edge_m
        assert fast == want, (x, y)
        assert fast.geometry_json is None or json.loads(fast.geometry_json) == want.geometry


def test_http_single_answer_equals_postgis(client: Any, demo_engine: Engine) -> None:
    """The Feature GET /cells/at writes by hand holds the SQL lookup's answer, field by field."""
    from geo.errors import NotFound
    from geo.lookup.postgis import cell_at

    checked = 0
    with demo_engine.connect() as conn:
        for x, y in _sample_points(demo_engine)[:60]:
            r = client.get("/cells/at", params={"lon": x, "lat": y})
            try:
                want = cell_at(conn, x, y, "141123", 10.0)
            except NotFound as exc:
                assert r.status_code == 404 and r.json()["detail"] == exc.message
                continue
            assert r.status_code == 200, r.text
            f = r.json()
            p = f["properties"]
            assert f["id"] == p["code"] == want.code
            assert f["geometry"] == want.geometry
            assert p["candidates"] == want.candidates and p["covering"] == want.covering
            assert p["dedicated"] == want.dedicated
            assert p["near_boundary"]["near"] == want.near_boundary
            assert p["village_or_community"] == want.parent and p["township"] == want.township
            assert (p["worker"] or {}).get("code") == (want.worker or {}).get("code")
            assert p["boundary_set"]["id"] == want.boundary_set_id
            checked += 1
    assert checked > 30


def test_batch_encoders_equal_json_dumps_on_real_results(demo_engine: Engine) -> None:
    """Both JSON layouts of POST /cells/at, written from cells_at_many's arrays (rows deep in a
    cell repeated per cell), equal json.dumps of the same values: points near edges, outside
    every cell, unusable rows, with and without ids."""
    import json

    from api.routes.cells_batch import _encode, _encode_columns, columns_document
    from geo.lookup.batch import cells_at_many, result_rows

    pts = _sample_points(demo_engine)
    lon = np.array([p[0] for p in pts] + [np.nan])
    lat = np.array([p[1] for p in pts] + [38.4])
    errors: list[str | None] = [None] * len(pts) + ["坐标缺失 / missing"]
    with demo_engine.connect() as conn:
        res = cells_at_many(conn, lon, lat, "141123", 10.0, None, errors)
    assert res.simple.any() and (~res.simple).any() and res.near_count() > 0
    head = {"boundary_set_id": res.boundary_set_id, "count": len(res)}
    ids: list[Any] = [f"p{i}" if i % 3 else i for i in range(len(res))]
    rows = result_rows(res)
    assert json.loads(_encode(head, res, None)) == {**head, "results": rows}
    assert json.loads(_encode(head, res, ids)) == {
        **head, "results": [dict(r, id=i) for r, i in zip(rows, ids, strict=True)]}
    for with_ids in (None, ids):
        assert json.loads(_encode_columns(head, res, with_ids)) == {
            **head, **columns_document(res, with_ids)}


def test_batch_columns_format_over_http(client: Any) -> None:
    pts = [[111.13, 38.46], [116.39, 39.91], ["x", 1]]
    rows = client.post("/cells/at", json={"points": pts}).json()
    cols = client.post("/cells/at?format=columns", json={"points": pts})
    assert cols.status_code == 200, cols.text
    body = cols.json()
    assert body["count"] == rows["count"] == 3 and body["found"] == 1
    for field in ("cell_code", "near_boundary", "candidates", "error"):
        assert body[field] == [r[field] for r in rows["results"]]
    bad = client.post("/cells/at?format=xml", json={"points": pts})
    assert bad.status_code == 422 and "format" in bad.text


def test_deep_buckets_change_no_answer(demo_engine: Engine) -> None:
    """Points answered from the fine buckets deep inside cells (no geometry) get exactly the
    answers of the geometric path, over random points across the county and its edges."""
    from geo.lookup.batch import cells_at_many
    from geo.lookup.index import cell_index

    rng = np.random.default_rng(3)
    with demo_engine.connect() as conn:
        index = cell_index(conn, "141123")
        minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(index.polys))
        lon = rng.uniform(minx - 0.01, maxx + 0.01, 20_000)
        lat = rng.uniform(miny - 0.01, maxy + 0.01, 20_000)
        with_deep = cells_at_many(conn, lon, lat, "141123")
        assert index.deep is not None
        deep_share = float((index.deep.owners(lon, lat) >= 0).mean())
        saved, index.deep = index.deep, None
        try:
            without = cells_at_many(conn, lon, lat, "141123")
        finally:
            index.deep = saved
    assert deep_share > 0.3
    assert with_deep.cell_code == without.cell_code
    assert with_deep.near_boundary == without.near_boundary
    assert with_deep.candidates == without.candidates
