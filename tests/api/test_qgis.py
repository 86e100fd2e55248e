"""QGIS itself reads the OGC API - Features service (the planners' desktop GIS).

QGIS 3.22 from Debian (python3-qgis, qgis-providers: installed by scripts/setup.sh for tests)
runs headless in its own process under the system Python, as a planner's QGIS would: its OAPIF
provider (Layer > Add Layer > Add WFS / OGC API - Features Layer) against the served app, with a
"Basic" authentication configuration holding an API token as password, as the README tells users.
Skips when QGIS is absent (a skip fails in CI).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import make_settings, serve_in_thread

SYSTEM_PYTHON = "/usr/bin/python3"
BBOX = (111.12, 38.45, 111.15, 38.47)
TOWNSHIP = "141123100"  # 蔚汾镇

QGIS_SCRIPT = r"""
import json, os, sys, tempfile
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QGIS_AUTH_DB_DIR_PATH"] = tempfile.mkdtemp()
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsFeatureRequest, QgsRectangle,
                       QgsVectorLayer)
app = QgsApplication([], False)
app.initQgis()
base, token, bbox = sys.argv[1], sys.argv[2], [float(v) for v in sys.argv[3].split(",")]
auth = QgsApplication.authManager()
assert auth.setMasterPassword("wangge-test", True)
cfg = QgsAuthMethodConfig()
cfg.setMethod("Basic")
cfg.setName("wangge")
cfg.setConfig("username", "qgis")
cfg.setConfig("password", token)
assert auth.storeAuthenticationConfig(cfg)[0]
township = sys.argv[4]
out = {}
for coll, authcfg in (("cells", None), ("incidents", cfg.id()), ("incidents_anon", None)):
    name = coll.split("_")[0]
    uri = f"url='{base}/ogc' typename='{name}'" + (f" authcfg='{authcfg}'" if authcfg else "")
    layer = QgsVectorLayer(uri, coll, "OAPIF")
    got = {"valid": layer.isValid(), "crs": layer.crs().authid(),
           "fields": [f.name() for f in layer.fields()]}
    if layer.isValid():
        got["count"] = len(list(layer.getFeatures()))
        part = list(layer.getFeatures(QgsFeatureRequest().setFilterRect(QgsRectangle(*bbox))))
        got["bbox"] = len(part)
        got["geometry_ok"] = all(f.hasGeometry() and not f.geometry().isEmpty() for f in part)
        got["first"] = part[0].attributes()[:3] if part else None
        if name == "incidents" and part:
            p = part[0].geometry().asPoint()
            got["point"] = [part[0]["code"], p.x(), p.y()]
        if name == "incidents":  # the planner's filter: one township
            layer.setSubsetString(f"township_code = '{township}'")
            got["township"] = len(list(layer.getFeatures()))
    out[coll] = got
print(json.dumps(out, ensure_ascii=False, default=str), flush=True)
os._exit(0)  # QGIS 3.22's teardown (exitQgis) crashes headless after OAPIF layers were used
"""


def _have_qgis() -> bool:
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def closed_server(demo_url: str) -> Iterator[str]:
    """The app with anonymous callers as viewers (not the demo's open command centre)."""
    with serve_in_thread(make_settings(demo_url, demo_open=False)) as url:
        yield url


def _count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_qgis_planner_loads_cells_and_a_townships_incidents(closed_server: str,
                                                            demo_engine: Engine) -> None:
    """Scenario F: a planner adds the service in QGIS, loads the cells and the incidents of
    one township with a filter, in the right place; never a reporter's name, phone or the
    free text."""
    if not _have_qgis():
        pytest.skip("QGIS (python3-qgis, qgis-providers) is not installed: scripts/setup.sh "
                    "installs it for tests")
    from geo.auth.users import create_api_token, revoke_api_token

    with demo_engine.begin() as conn:
        token_id, token = create_api_token(conn, "demo-planner", "qgis test")
    try:
        out = subprocess.run(
            [SYSTEM_PYTHON, "-c", QGIS_SCRIPT, closed_server, token, ",".join(map(str, BBOX)),
             TOWNSHIP],
            capture_output=True, text=True, timeout=600, check=False)
    finally:
        with demo_engine.begin() as conn:
            revoke_api_token(conn, token_id)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    envelope = "ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4490)"
    box = dict(zip(("x1", "y1", "x2", "y2"), BBOX, strict=True))
    active = ("FROM grid_cell c JOIN boundary_set b ON b.id = c.boundary_set_id AND b.is_active "
              "AND b.region_code = c.region_code")

    cells = got["cells"]  # public layer: no login needed
    assert cells["valid"] and cells["crs"] == "EPSG:4326"  # CRS84 by default
    assert {"code", "name", "kind"} <= set(cells["fields"])
    assert cells["count"] == _count(demo_engine, f"SELECT count(*) {active}")
    assert cells["bbox"] == _count(
        demo_engine, f"SELECT count(*) {active} WHERE ST_Intersects(c.geom, {envelope})", **box)
    assert cells["geometry_ok"] and str(cells["first"][1]).startswith("141123")

    incidents = got["incidents"]  # the planner's API token, as a Basic password
    assert incidents["valid"] and {"code", "status", "category_code", "township_code"} <= set(
        incidents["fields"])
    assert not {"reporter_name", "reporter_phone", "description", "location_text"} & set(
        incidents["fields"])
    assert incidents["count"] == _count(demo_engine, "SELECT count(*) FROM incident")
    assert incidents["bbox"] == _count(
        demo_engine, f"SELECT count(*) FROM incident WHERE ST_Intersects(geom, {envelope})",
        **box) > 0
    assert incidents["township"] == _count(
        demo_engine, "SELECT count(*) FROM incident WHERE township_code = :t", t=TOWNSHIP) > 0
    assert incidents["geometry_ok"]
    code, x, y = incidents["point"]  # in the right place: the stored CGCS2000 point
    with demo_engine.connect() as conn:
        sx, sy = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incident WHERE code = :c"),
                              {"c": code}).one()
    assert abs(x - sx) < 1e-7 and abs(y - sy) < 1e-7

    anonymous = got["incidents_anon"]  # no login: QGIS gets nothing of the incidents
    assert anonymous.get("count", 0) == 0 and not anonymous["fields"]
