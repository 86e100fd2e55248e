"""/analysis/* and `wangge analyse` on the demo county: shape, inputs, access, errors, files.

Scenario C (the housing bureau's monthly report, minus the maps) is walked in
``test_scenario_c_monthly_report``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from geo.auth.principal import Principal
from tests.conftest import make_settings

Q3 = {"from": "2026-07-01", "to": "2026-09-30"}
PERSONAL = ("reporter_name", "reporter_phone", "张三", "phone")


def _client_as(demo_url: str, principal: Principal) -> TestClient:
    from api.deps import get_principal
    from api.main import create_app

    app = create_app(make_settings(demo_url))
    app.dependency_overrides[get_principal] = lambda: principal
    return TestClient(app)


@pytest.fixture(scope="module")
def planner(demo_url: str) -> Iterator[TestClient]:
    with _client_as(demo_url, Principal(user="planner1", role="planner", authenticated=True)) as c:
        yield c


@pytest.fixture(scope="module")
def viewer(demo_url: str) -> Iterator[TestClient]:
    with _client_as(demo_url, Principal(user="viewer1", role="viewer", authenticated=True)) as c:
        yield c


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert {"analysis", "inputs", "summary", "tables"} <= set(body)
    for fc in body["tables"].values():  # FeatureCollections, or plain rows (geometry=false)
        assert isinstance(fc, list) or fc["type"] == "FeatureCollection"
    return body


def _no_personal(body: Any) -> None:
    text = json.dumps(body, ensure_ascii=False)
    assert "reporter_name" not in text and "reporter_phone" not in text


@pytest.mark.parametrize("unit", ["cell", "community", "township", "compound"])
def test_camera_coverage_every_unit(client: Any, unit: str) -> None:
    body = _ok(client.get("/analysis/camera-coverage", params={"unit": unit, **Q3}))
    assert body["inputs"]["unit"] == unit
    assert body["inputs"]["period"] == {"from": "2026-07-01", "to": "2026-09-30"}
    assert body["inputs"]["boundary_set"]["id"] >= 1
    units = body["tables"]["units"]["features"]
    assert units and all(0 <= f["properties"]["covered_pct"] <= 100 for f in units)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in units)
    s = body["summary"]
    assert s["cameras"] == 1500 and s["cameras_counted"] < 1500
    assert s["cameras_no_bearing_full_circle"] > 0
    assert 0 < s["incidents_uncovered"] < s["incidents"]
    if unit != "compound":  # all units of a kind partition the county: same covered area
        assert abs(s["covered_m2"] - 8.75e6) / 8.75e6 < 0.05
    _no_personal(body)


def test_coverage_totals_agree_between_unit_sets(client: Any) -> None:
    cov = {u: client.get("/analysis/camera-coverage",
                         params={"unit": u, "geometry": "false", **Q3}).json()["summary"]
           for u in ("cell", "township", "county")}
    a, b, c = (cov[u]["covered_m2"] for u in ("cell", "township", "county"))
    assert abs(a - c) / c < 1e-4 and abs(b - c) / c < 1e-4


def test_planner_gets_anonymous_points_and_viewer_only_counts(
        planner: TestClient, viewer: TestClient) -> None:
    p = _ok(planner.get("/analysis/camera-coverage", params=Q3))
    pts = p["tables"]["uncovered_incidents"]["features"]
    assert len(pts) == p["summary"]["incidents_uncovered"] > 0
    assert set(pts[0]["properties"]) == {"category_code", "reported_at", "unit_code"}
    _no_personal(p)
    v = _ok(viewer.get("/analysis/camera-coverage", params=Q3))
    assert v["tables"]["uncovered_incidents"]["features"] == []
    assert v["summary"]["incidents_uncovered"] == p["summary"]["incidents_uncovered"]
    g = _ok(planner.get("/analysis/grid-health", params={**Q3, "geometry": "false"}))
    names = [r["worker_name"] for r in g["tables"]["worker_load"]]
    assert names and all("*" in n for n in names)
    s = _ok(planner.get("/analysis/camera-sites", params={"k": 3, **Q3}))
    assert "code" not in s["tables"]["demand"]["features"][0]["properties"]
    _no_personal(s)


def test_property_management_endpoint(client: Any) -> None:
    body = _ok(client.get("/analysis/property-management",
                          params={"unit": "township", "as_of": "2026-10-31"}))
    u = body["tables"]["units"]["features"][0]["properties"]
    assert u["target_pct"] == 90.0 and u["compounds"] == 300
    assert body["summary"]["unmanaged_compounds"] == len(
        body["tables"]["unmanaged_compounds"]["features"]) > 0
    old = _ok(client.get("/analysis/property-management",
                         params={"unit": "county", "as_of": "2022-01-01"}))
    assert old["summary"]["managed_pct"] < body["summary"]["managed_pct"]
    custom = _ok(client.get("/analysis/property-management",
                            params={"unit": "county", "targets": "2024-12-31:95"}))
    assert custom["inputs"]["targets"] == [{"by": "2024-12-31", "share_pct": 95.0}]


def test_grid_health_endpoint(client: Any) -> None:
    body = _ok(client.get("/analysis/grid-health", params=Q3))
    s = body["summary"]
    assert s["gaps"] == 0 and s["overlaps"] == 0 and s["county_gaps"] == 0  # demo partitions
    assert s["vacant_cells"] == len(body["tables"]["vacant_cells"]["features"]) > 0
    assert 0 < s["incidents_per_worker"]["gini"] < 1
    assert body["inputs"]["sliver_m"] == 0.05


def test_hotspots_endpoint_cells_and_h3(client: Any) -> None:
    body = _ok(client.get("/analysis/hotspots", params={**Q3, "permutations": 99}))
    assert body["summary"]["hot_units"] > 0
    hot = [f for f in body["tables"]["units"]["features"] if f["properties"]["spot"] == "hot"]
    assert all(f["properties"]["gi_z"] > 0 for f in hot)
    # The county seat is the hot spot: the top hot cells are in 蔚汾镇 (township 100).
    assert all(c.startswith("141123100") for c in body["summary"]["top_hot"][:5])
    h = _ok(client.get("/analysis/hotspots", params={**Q3, "unit": "h3", "resolution": 7,
                                                     "category": "dispute",
                                                     "permutations": 0}))
    assert h["inputs"]["categories"] == ["dispute"]
    assert sum(f["properties"]["incidents"] for f in h["tables"]["units"]["features"]) == \
        h["summary"]["incidents"]


def test_camera_sites_endpoint_and_geojson_table(client: Any) -> None:
    r = client.get("/analysis/camera-sites", params={"k": 10, **Q3, "table": "sites"})
    assert r.status_code == 200 and r.headers["content-type"].startswith(
        "application/geo+json")
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and fc["inputs"]["k"] == 10
    feats = fc["features"]
    assert len(feats) == 10
    gains = [f["properties"]["gain_weight"] for f in feats]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert feats[-1]["properties"]["cumulative_weight"] == pytest.approx(sum(gains))
    assert fc["summary"]["newly_covered_weight"] == pytest.approx(sum(gains))
    assert all(f["geometry"]["type"] == "Polygon" for f in feats)


@pytest.mark.parametrize("path,params,field", [
    ("/analysis/camera-coverage", {"unit": "street"}, "unit"),
    ("/analysis/camera-coverage", {"from": "2026-09-01", "to": "2026-01-01"}, "from"),
    ("/analysis/camera-coverage", {"category": "nope"}, "category"),
    ("/analysis/camera-coverage", {"table": "nope"}, "table"),
    ("/analysis/property-management", {"targets": "2022:80"}, "targets"),
    ("/analysis/property-management", {"unit": "cell"}, "unit"),
    ("/analysis/hotspots", {"unit": "h3", "resolution": 14}, "resolution"),
    ("/analysis/camera-sites", {"k": 0}, "k"),
    ("/analysis/camera-sites", {"solver": "magic"}, "solver"),
    ("/analysis/grid-health", {"sliver_m": -1}, "sliver_m"),
])
def test_bad_input_is_a_clear_422(client: Any, path: str, params: dict[str, Any],
                                  field: str) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert field in json.dumps(body)
    assert "/" in body["detail"]  # Chinese / English


def test_unknown_unit_code_and_region_are_404(client: Any) -> None:
    r = client.get("/analysis/camera-sites", params={"within": "999"})
    assert r.status_code == 404 and "999" in r.json()["detail"]
    r = client.get("/analysis/property-management", params={"region": "000000"})
    assert r.status_code == 404


def test_scenario_c_monthly_report(planner: TestClient, tmp_path: Any) -> None:
    """The housing bureau's monthly report (SCENARIOS.md C), through the endpoints."""
    pm = _ok(planner.get("/analysis/property-management", params={"unit": "township"}))
    tw = pm["tables"]["units"]["features"][0]["properties"]
    assert tw["target_pct"] == 90.0 and "meets_target" in tw
    unmanaged = pm["tables"]["unmanaged_compounds"]["features"]
    assert unmanaged and all(f["properties"]["mgmt_mode"] == "none" for f in unmanaged)
    cov = _ok(planner.get("/analysis/camera-coverage", params={"unit": "compound"}))
    # default period = the last full quarter before today
    assert cov["inputs"]["period"]["from"] < cov["inputs"]["period"]["to"]
    assert cov["tables"]["blind_compounds"]["features"]
    assert cov["tables"]["cells_by_uncovered_incidents"]["features"]
    sites = _ok(planner.get("/analysis/camera-sites", params={"k": 10}))
    assert len(sites["tables"]["sites"]["features"]) == 10
    _no_personal(pm)
    _no_personal(cov)


def test_cli_writes_csv_xlsx_geojson_with_inputs(demo_url: str, tmp_path: Any,
                                                 monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", demo_url)
    runner = CliRunner()
    out = tmp_path / "unmanaged.xlsx"
    r = runner.invoke(main, ["analyse", "property", "--unit", "township", "-o", str(out)])
    assert r.exit_code == 0, r.output
    sheets = pd.read_excel(out, sheet_name=None, header=None)
    assert {"说明", "各单元物业覆盖", "无物业小区", "全部小区"} <= set(sheets)
    keys = set(sheets["说明"][0].dropna())
    assert {"输入: 统计日期", "输入: 统计单元", "结果: 物业覆盖率(按小区, %)"} <= keys
    csv = tmp_path / "cov.csv"
    r = runner.invoke(main, ["analyse", "camera-coverage", "--unit", "township", "--from",
                             "2026-07-01", "--to", "2026-09-30", "-o", str(csv)])
    assert r.exit_code == 0, r.output
    head = csv.read_text(encoding="utf-8-sig").splitlines()[:3]
    assert head[0].startswith("# analysis: camera-coverage") and "2026-07-01" in head[1]
    df = pd.read_csv(csv, comment="#", encoding="utf-8-sig")
    assert len(df) == 17 and "covered_pct" in df.columns
    gj = tmp_path / "sites.geojson"
    r = runner.invoke(main, ["analyse", "camera-sites", "-k", "3", "--candidates", "entrances",
                             "--from", "2026-07-01", "--to", "2026-09-30", "-o", str(gj)])
    assert r.exit_code == 0, r.output
    fc = json.loads(gj.read_text(encoding="utf-8"))
    assert fc["inputs"]["k"] == 3 and len(fc["features"]) == 3
    for cmd in (["grid-health", "--table", "worker_load"], ["hotspots", "--unit", "h3",
                                                            "--resolution", "6"]):
        r = runner.invoke(main, ["analyse", *cmd, "-o", str(tmp_path / "x.geojson")])
        assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["analyse", "property", "-o", str(tmp_path / "x.txt")])
    assert r.exit_code != 0 and "unsupported" in r.output


def test_targets_are_configured_per_region(fresh_demo_url: str, monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from api.cli import main

    monkeypatch.setenv("WANGGE_DATABASE_URL", fresh_demo_url)
    runner = CliRunner()
    r = runner.invoke(main, ["analyse", "targets"])
    assert r.exit_code == 0 and "seed default" in r.output and "90.0%" in r.output
    r = runner.invoke(main, ["analyse", "targets", "--set", "2026-06-30:95"])
    assert r.exit_code == 0 and "dry run" in r.output
    r = runner.invoke(main, ["analyse", "targets"])
    assert "seed default" in r.output                       # the dry run wrote nothing
    r = runner.invoke(main, ["analyse", "targets", "--set", "2026-06-30:95", "--commit"])
    assert r.exit_code == 0, r.output
    with _client_as(fresh_demo_url, Principal(user="p", role="planner")) as c:
        body = _ok(c.get("/analysis/property-management",
                         params={"unit": "county", "as_of": "2026-10-31"}))
        assert body["inputs"]["targets_source"] == "pm_target table"
        assert body["summary"]["binding_target"]["target_pct"] == 95.0
        u = body["tables"]["units"]["features"][0]["properties"]
        assert u["target_pct"] == 95.0 and not u["meets_target"]    # 91.67 % < 95 %
        over = _ok(c.get("/analysis/property-management",
                         params={"unit": "county", "targets": "2023-12-31:90"}))
        assert over["inputs"]["targets_source"] == "request"
    r = runner.invoke(main, ["analyse", "targets", "--set", "2026:95", "--commit"])
    assert r.exit_code != 0 and "DATE:PERCENT" in r.output
