"""Export (every format, CRS, filters, access contract) and the upload endpoint."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pyogrio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from api.deps import get_principal
from api.main import create_app
from geo.auth.principal import Principal
from geo.errors import Forbidden, InvalidInput
from geo.io.export import export_layer
from geo.io.importer import ImportOptions, run_import
from tests.conftest import make_settings


def _active_cells(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM grid_cell g JOIN boundary_set b ON b.id = g.boundary_set_id "
            "WHERE b.is_active AND b.region_code = '141123'")).scalar_one())


def test_export_geojson_in_gauss_kruger(client: TestClient, demo_engine: Engine) -> None:
    """Cells as GeoJSON, in EPSG:4546 metres when asked."""
    r = client.get("/export/cells", params={"format": "geojson", "crs": "EPSG:4546"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert len(doc["features"]) == _active_cells(demo_engine)
    x, y = doc["features"][0]["geometry"]["coordinates"][0][0][0][:2]
    assert 400_000 < x < 600_000 and 4_200_000 < y < 4_300_000


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "csv", "xlsx"])
def test_export_formats(client: TestClient, fmt: str, tmp_path: Path) -> None:
    """Each format opens with a standard reader and holds the rows."""
    r = client.get("/export/compounds", params={"format": fmt})
    assert r.status_code == 200, r.text
    n = int(r.headers["x-row-count"])
    assert n > 100
    if fmt == "gpkg":
        p = tmp_path / "c.gpkg"
        p.write_bytes(r.content)
        df = pyogrio.read_dataframe(p)
        assert len(df) == n and df.crs.to_epsg() == 4490
    elif fmt == "shp":
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            names = zf.namelist()
            zf.extractall(tmp_path)
        assert any(x.endswith(".prj") for x in names)
        df = pyogrio.read_dataframe(next(tmp_path.glob("*.shp")))
        assert len(df) == n and df.crs.to_epsg() == 4490
    elif fmt == "csv":
        df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig")
        assert len(df) == n and "wkt" in df.columns and df["name"].str.len().min() > 0
    else:
        wb = openpyxl.load_workbook(io.BytesIO(r.content))
        assert wb.active is not None and wb.active.max_row == n + 1


def test_export_where_bbox_and_errors(client: TestClient) -> None:
    """ECQL where and bbox filter; bad input is a clear 422."""
    r = client.get("/export/incidents", params={"format": "csv",
                                                "where": "status = 'closed' AND channel = '110'"})
    assert r.status_code == 200
    df = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str)
    assert len(df) > 10 and set(df["status"]) == {"closed"} and set(df["channel"]) == {"110"}
    assert {"lon", "lat"} <= set(df.columns)
    allr = client.get("/export/cameras", params={"format": "csv"})
    boxr = client.get("/export/cameras", params={"format": "csv",
                                                 "bbox": "111.10,38.44,111.16,38.48"})
    assert 0 < int(boxr.headers["x-row-count"]) < int(allr.headers["x-row-count"])
    bad = client.get("/export/cameras", params={"where": "nosuchcolumn = 1"})
    assert bad.status_code == 422 and "where" in bad.json()["detail"]
    assert client.get("/export/cameras", params={"format": "kmz"}).status_code == 422
    assert client.get("/export/cameras", params={"crs": "EPSG:99999"}).status_code == 422
    assert client.get("/export/nolayer").status_code == 422


def test_export_access_contract(demo_engine: Engine) -> None:
    """Workers get their cells' incidents with personal fields; planners never get them;
    viewers get public layers only."""
    with demo_engine.connect() as conn:
        cell = conn.execute(text(
            "SELECT cell_code FROM incident WHERE reporter_phone IS NOT NULL GROUP BY 1 "
            "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        worker = Principal(user="w", role="worker", cell_codes=frozenset({cell}))
        res = export_layer(conn, worker, "incidents", "csv", "141123")
        df = pd.read_csv(io.BytesIO(res.content), encoding="utf-8-sig", dtype=str)
        assert len(df) > 0 and set(df["cell_code"]) == {cell}
        assert df["reporter_phone"].dropna().str.contains(r"^\d{3}\*{4}\d{4}$").all()
        unmasked = Principal(user="w", role="worker", cell_codes=frozenset({cell}), unmask=True)
        res = export_layer(conn, unmasked, "incidents", "csv", "141123")
        df = pd.read_csv(io.BytesIO(res.content), encoding="utf-8-sig", dtype=str)
        assert df["reporter_phone"].dropna().str.contains(r"^\d{11}$").all()
        planner = Principal(user="p", role="planner")
        res = export_layer(conn, planner, "incidents", "csv", "141123")
        df = pd.read_csv(io.BytesIO(res.content), encoding="utf-8-sig", dtype=str)
        assert len(df) > 1000 and df["reporter_phone"].isna().all()
        assert df["reporter_name"].isna().all()
        # free text may name people: withheld from planners like the personal fields (issue 15)
        assert df["description"].isna().all() and df["location_text"].isna().all()
        res = export_layer(conn, planner, "workers", "csv", "141123")
        df = pd.read_csv(io.BytesIO(res.content), encoding="utf-8-sig", dtype=str)
        assert df["phone"].dropna().str.contains(r"\*\*\*\*").all()
        viewer = Principal(user="v", role="viewer")
        with pytest.raises(Forbidden):
            export_layer(conn, viewer, "incidents", "geojson", "141123")
        assert export_layer(conn, viewer, "cells", "geojson", "141123").rows > 0
        other = Principal(user="o", role="command", regions=frozenset({"999999"}))
        with pytest.raises(Forbidden):
            export_layer(conn, other, "cells", "geojson", "141123")


def test_export_gpkg_reimports_unchanged(fresh_demo_url: str, tmp_path: Path) -> None:
    """What Wangge exports it imports again without a change."""
    engine = create_engine(fresh_demo_url)
    admin = Principal(user="a", role="admin")
    with engine.connect() as conn:
        res = export_layer(conn, admin, "compounds", "gpkg", "141123")
    p = tmp_path / "compounds.gpkg"
    p.write_bytes(res.content)
    rep = run_import(engine, "compounds", p, ImportOptions(region="141123", commit=True))
    assert rep.committed and (rep.new, rep.updated) == (0, 0) and rep.unchanged == res.rows
    engine.dispose()


def _upload(c: TestClient, layer: str, path: Path, **form: Any) -> Any:
    with path.open("rb") as fh:
        return c.post(f"/admin/import/{layer}", files={"file": (path.name, fh)},
                      data={k: str(v).lower() if isinstance(v, bool) else v
                            for k, v in form.items()})


def test_upload_endpoint(fresh_demo_url: str, tmp_path: Path) -> None:
    """Dry run by default, commit=true writes, refused rows are a 422 with the report, and
    only admins / the command centre may import."""
    path = tmp_path / "cams.csv"
    pd.DataFrame({"gb_id": ["14112399991320000001", "14112399991320000002"],
                  "lon": [111.131, 111.132], "lat": [38.461, 38.462],
                  "bearing": ["NEB", "270"]}).to_csv(path, index=False)
    app = create_app(make_settings(fresh_demo_url))
    with TestClient(app) as c:
        dry = _upload(c, "cameras", path, region="141123", code_field="gb_id")
        assert dry.status_code == 200, dry.text
        body = dry.json()
        assert body["dry_run"] and body["new"] == 2 and not body["committed"]
        done = _upload(c, "cameras", path, region="141123", code_field="gb_id", commit=True)
        assert done.status_code == 200 and done.json()["committed"]
        again = _upload(c, "cameras", path, region="141123", code_field="gb_id", commit=True)
        assert again.json()["unchanged"] == 2
        bad = tmp_path / "bad.csv"
        pd.DataFrame({"gb_id": ["123", "14112399991320000003"], "lon": [111.13, 111.13],
                      "lat": [38.46, 38.46]}).to_csv(bad, index=False)
        refused = _upload(c, "cameras", bad, code_field="gb_id", commit=True)
        assert refused.status_code == 422 and refused.json()["refused_count"] == 1
        assert "20 digits" in refused.json()["refused"][0]["reason"]
        crs = _upload(c, "cameras", path, code_field="gb_id", crs="EPSG:0")
        assert crs.status_code == 422 and "crs" in crs.json()["detail"].lower()
        junk = tmp_path / "junk.geojson"
        junk.write_text("{not json")
        assert _upload(c, "cells", junk).status_code == 422
        app.dependency_overrides[get_principal] = lambda: Principal(user="p", role="planner",
                                                                 authenticated=True)
        assert _upload(c, "cameras", path, code_field="gb_id").status_code == 403
    with create_engine(fresh_demo_url).connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM camera WHERE gb_id LIKE '1411239999%'")
                         ).scalar_one()
    assert n == 2
    assert json.dumps(body)  # the report is plain JSON


def test_where_may_not_name_fields_the_caller_may_not_read_unmasked(demo_engine: Engine) -> None:
    """Issue 15, finding 3: a filter on a masked field is an oracle (row counts reveal the
    value, 40 requests for a phone); only callers reading the field unmasked may filter on it."""
    with demo_engine.connect() as conn:
        code, phone, cell = conn.execute(text(
            "SELECT code, reporter_phone, cell_code FROM incident "
            "WHERE reporter_phone IS NOT NULL ORDER BY id LIMIT 1")).one()
        probe = f"code = '{code}' AND reporter_phone LIKE '{phone[:4]}%'"
        worker = Principal(user="w", role="worker", cell_codes=frozenset({cell}))
        planner = Principal(user="p", role="planner")
        command = Principal(user="c", role="command")
        department = Principal(user="d", role="department", department_code="xiaofang")
        for who in (worker, planner, command):
            with pytest.raises(InvalidInput, match="reporter_phone"):
                export_layer(conn, who, "incidents", "csv", "141123", where=probe)
        with pytest.raises(InvalidInput, match="reporter_name"):
            export_layer(conn, planner, "incidents", "csv", "141123",
                         where="reporter_name LIKE '张%'")
        with pytest.raises(InvalidInput, match="description"):
            export_layer(conn, planner, "incidents", "csv", "141123",
                         where="description LIKE '%楼%'")
        for who in (planner, department, worker):
            with pytest.raises(InvalidInput, match="phone"):
                export_layer(conn, who, "workers", "csv", "141123", where="phone LIKE '13%'")
        # an audited ?unmask=true request of a role that may unmask: allowed, within its scope
        unmasked = Principal(user="w", role="worker", cell_codes=frozenset({cell}), unmask=True)
        res = export_layer(conn, unmasked, "incidents", "csv", "141123", where=probe)
        assert res.rows == 1
        # public fields stay filterable for everyone who may export the layer
        assert export_layer(conn, planner, "incidents", "csv", "141123",
                            where="status = 'closed'").rows > 0
        assert export_layer(conn, command, "workers", "csv", "141123",
                            where="phone LIKE '1%'").rows > 0


def test_download_names_cannot_inject_or_crash(client: Any) -> None:
    """Issue 15: ``?region=兴县`` gave a 500 (non-ASCII file name in a header) and a region with
    quotes could add Content-Disposition parameters; names are now RFC 5987 encoded."""
    for region in ("兴县", 'x"; filename=evil.exe'):
        r = client.get("/export/admin", params={"region": region, "format": "csv"})
        assert r.status_code < 500, r.text
        if r.status_code == 200:
            cd = r.headers["content-disposition"]
            assert cd.count("filename=") == 1 and "evil.exe\"" not in cd
            assert "filename*=UTF-8''" in cd


def test_xlsx_of_incidents_and_non_finite_bboxes(client: Any) -> None:
    """Review of 2026-12-04: XLSX of incidents was a 500 (Excel has no time zones) and a bbox
    with NaN a 500 on OGC items and silently ignored by export; both now answer properly."""
    r = client.get("/export/incidents", params={"format": "xlsx", "where": "status = 'closed'",
                                                "bbox": "111.10,38.44,111.16,38.48"})
    assert r.status_code == 200, r.text
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    header = [c.value for c in ws[1]]
    when = ws.cell(row=2, column=header.index("上报时间") + 1).value
    assert when is not None and getattr(when, "tzinfo", None) is None
    for bbox in ("nan,nan,nan,nan", "111,38,nan,39", "111,38,inf,39"):
        assert client.get("/export/cameras", params={"bbox": bbox}).status_code == 422
        for layer in ("cells", "incidents"):
            r = client.get(f"/ogc/collections/{layer}/items", params={"bbox": bbox})
            assert r.status_code == 422 and "bbox" in r.json()["detail"], r.text
